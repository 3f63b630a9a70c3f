"""JupyterLab end to end: open each chapter untrusted and see its stored figures and exercises; run
all cells, drop a segment, see the diagram change.

One JupyterLab server and one page serve every chapter: each test opens its chapter from the file
browser and closes it (kernel shut down) at the end, as a reader going through the book would.  The
server has a data directory of its own, so no notebook is trusted there (a reader who downloads a
chapter opens it untrusted), whatever `jupyter trust` signed elsewhere.
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
BOOK = TOP / "book"
TOC = yaml.safe_load((TOP / "_toc.yml").read_text())["parts"]
CHAPTERS = [c["file"].split("/")[-1] for c in TOC[0]["chapters"]]
NOTEBOOKS = [name for part in TOC for c in part["chapters"]                 # every notebook page, appendix too
             if (BOOK / f"{(name := c['file'].split('/')[-1])}.ipynb").exists()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    for nb in BOOK.glob("*.ipynb"):                              # Run All must not touch the book
        shutil.copy(nb, work / nb.name)
    conf = tmp_path_factory.mktemp("jupyter-config")
    (conf / "labconfig").mkdir()
    (conf / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    settings = tmp_path_factory.mktemp("lab-settings")          # the settings ./run.sh lab gives JupyterLab
    shutil.copy(TOP / "tools" / "jupyterlab-overrides.json", settings / "overrides.json")
    port = free_port()
    data = tmp_path_factory.mktemp("jupyter-data")             # its own notebook signatures: none trusted
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(conf), JUPYTER_DATA_DIR=str(data))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
           "--ServerApp.disable_check_xsrf=True", f"--LabApp.app_settings_dir={settings}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"JupyterLab did not start (exit code {proc.poll()})") from None
            time.sleep(0.1)
    with urllib.request.urlopen(url + "/lab/api/settings/@jupyterlab/notebook-extension:tracker") as r:
        served = json.load(r)["schema"]["properties"]["windowingMode"]
    assert served["default"] == "none", f"JupyterLab did not take tools/jupyterlab-overrides.json: {served}"
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def fresh_lab(page, lab):
    """JupyterLab in a fresh workspace, showing its file browser."""
    page.goto(lab + "/lab/workspaces/chapters?reset")
    page.locator(".jp-DirListing-content").wait_for(timeout=60_000)


@pytest.fixture(scope="module")
def lab_page(lab, browser):
    """One JupyterLab page for every chapter, as a reader uses it: each test opens its chapter from
    the file browser and closes it again (kernel shut down), so JupyterLab loads once, not per chapter."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    fresh_lab(page, lab)
    yield page, errors
    page.close()


def stop_kernels(lab):
    for session in json.load(urllib.request.urlopen(lab + "/api/sessions")):
        urllib.request.urlopen(urllib.request.Request(lab + f"/api/sessions/{session['id']}", method="DELETE"))


def panel_size(widget):
    return widget.evaluate("""e => ({width: e.getBoundingClientRect().width, scroll: e.scrollWidth,
        client: e.clientWidth, area: e.closest('.jp-OutputArea-output').getBoundingClientRect().width})""")


def wait_for_change(page, locator, before, after, tenths=300):
    """Until the kernel has redrawn `locator` (up to 30 s)."""
    for _ in range(tenths):
        if locator.inner_html() != before:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the panel did not redraw after {after}")


def open_chapter(page, lab, errors, notebook, chapter):
    """Open `chapter` from the file browser (after a chapter that failed: in a fresh workspace) and
    wait for its kernel."""
    if notebook.count() or page.locator(".jp-Dialog").count():    # left over by a failed chapter
        stop_kernels(lab)
        fresh_lab(page, lab)
    errors.clear()
    page.locator(".jp-DirListing-content").get_by_text(f"{chapter}.ipynb", exact=True).dblclick()
    notebook.locator(".jp-Notebook").wait_for(timeout=60_000)
    # With another notebook's kernel running, JupyterLab may ask which kernel to start: wait for
    # that dialog or for the kernel, whichever comes first (never a fixed wait for a dialog).
    select = page.locator(".jp-Dialog button:has-text('Select')")
    select.or_(page.locator(".jp-StatusBar-TextItem:has-text('Idle')")).first.wait_for(timeout=60_000)
    if select.count():
        select.first.click()
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)   # the kernel is up


def close_chapter(page, lab, notebook):
    page.click("li.lm-MenuBar-item:has-text('File')")              # close it, as a reader would
    page.click(".lm-Menu-item:has-text('Close and Shut Down Notebook')")
    page.locator(".jp-Dialog button.jp-mod-accept").click()       # "Shut down the notebook?"  Ok
    notebook.wait_for(state="detached")
    stop_kernels(lab)


SVG_IMG = re.compile(r'<img class="tcpsim-svg" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
DESC = re.compile(r"<desc id=[^>]*>([^<]*)</desc>")


def stored_figures(chapter):
    """Per code cell (by its index among all cells): how many pictures its stored outputs hold, and
    the first words of each picture's <desc> (text that must not show as text)."""
    nb = json.loads((BOOK / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    out = {}
    for i, cell in enumerate(nb["cells"]):
        svgs = []
        for o in cell.get("outputs", []):
            data = {k: "".join(v) if isinstance(v, list) else v for k, v in o.get("data", {}).items()}
            if "image/svg+xml" in data:
                svgs.append(data["image/svg+xml"])
            else:
                svgs += [base64.b64decode(b).decode() for b in SVG_IMG.findall(data.get("text/html", ""))]
        if svgs:
            out[i] = [DESC.search(svg).group(1)[:40] for svg in svgs]
    return out


CELL_REPORT = """c => [...c.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    text: o.innerText,
    pictures: [...o.querySelectorAll('img, svg')].filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 10 && r.height > 10 && (e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0));
    }).length}))"""


@pytest.mark.parametrize("chapter", NOTEBOOKS)
def test_a_chapter_opened_untrusted_shows_its_figures_and_exercises(lab, lab_page, outdir, chapter):
    """Before anything runs, in a notebook JupyterLab does not trust: every stored figure is a picture
    (not "<Ladder 826x592>", not the SVG's text), and the MyST exercises are exercises with their
    solutions folded (jupyterlab-myst), not code blocks with ":label:" lines."""
    cells_api = json.load(urllib.request.urlopen(lab + f"/api/contents/{chapter}.ipynb?content=1"))["content"]
    assert not any(c["metadata"].get("trusted") for c in cells_api["cells"] if c["cell_type"] == "code"), \
        "the chapter must be opened untrusted"
    page, errors = lab_page
    notebook = page.locator(".jp-NotebookPanel")
    open_chapter(page, lab, errors, notebook, chapter)
    figures = stored_figures(chapter)
    cells = notebook.locator(".jp-Cell")
    sources = [c["source"] for c in cells_api["cells"]]
    for _ in range(300):                                # JupyterLab adds the cells as it loads: up to 30 s
        if cells.count() == len(sources):
            break
        page.wait_for_timeout(100)
    assert cells.count() == len(sources)
    seen, panel_shot = 0, chapter == CHAPTERS[0]
    for i, source in enumerate(sources):
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()               # JupyterLab lays out far cells lazily
        if i in figures:
            for _ in range(50):                         # the data-URI images decode: up to 5 s
                report = cell.evaluate(CELL_REPORT)
                if sum(o["pictures"] for o in report) >= len(figures[i]):
                    break
                page.wait_for_timeout(100)
            assert sum(o["pictures"] for o in report) == len(figures[i]), (chapter, i, report)
            text = "\n".join(o["text"] for o in report)
            for words in figures[i]:
                assert words not in text, (chapter, i, "the figure's text shows instead of the figure")
            seen += len(figures[i])
            if panel_shot and "DropPanel" in source:          # the first panel's still figure
                cell.screenshot(path=str(outdir / "lab-untrusted-panel.png"))
                panel_shot = False
        for o in cell.evaluate(CELL_REPORT):
            assert not re.search(r"<svg|<\?xml|<Ladder|<Diagram|<PanelFigure|xmlns=", o["text"]), (chapter, i, o)
        if "```{exercise}" in source:
            exercise = cell.locator("aside.myst-exercise")
            exercise.first.wait_for(timeout=10_000)
            assert "Exercise" in exercise.first.inner_text()
            if chapter == CHAPTERS[0]:
                cell.screenshot(path=str(outdir / "lab-untrusted-exercise.png"))
        if "```{solution-start}" in source:
            solution = cell.locator("details.myst-exercise")
            solution.first.wait_for(timeout=10_000)
            assert solution.first.get_attribute("open") is None, "a solution is folded"
            body = solution.first.locator(".myst-exercise-body")
            assert body.count() == 0 or not body.first.is_visible()
            assert "Solution to" in solution.first.locator("summary").inner_text()
        if cells_api["cells"][i]["cell_type"] == "markdown":    # rendered by jupyterlab-myst, not its source
            rendered = cell.locator(".jp-InputArea > .myst")
            assert rendered.count() == 1 and not cell.locator(".jp-InputArea-editor").is_visible(), (chapter, i)
            shown = rendered.inner_text()
            assert not re.search(r"\{(exercise|solution[\w-]*|glossary|note|warning)\}|:label:|:class:", shown), \
                (chapter, i, shown[:300])
    assert seen == sum(map(len, figures.values()))
    if chapter == CHAPTERS[0]:
        page.screenshot(path=str(outdir / "lab-untrusted.png"))
    close_chapter(page, lab, notebook)
    assert not errors, errors


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_run_all_and_drop_a_segment(lab, lab_page, outdir, chapter):
    page, errors = lab_page
    notebook = page.locator(".jp-NotebookPanel")
    open_chapter(page, lab, errors, notebook, chapter)
    toggle_button = page.locator("button.widget-toggle-button")        # as a filter: relative to its panel
    toggle = notebook.locator(toggle_button).first
    for _ in range(3):
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")
        try:
            toggle.wait_for(state="attached", timeout=60_000)   # JupyterLab renders far cells lazily
            break
        except Exception:
            page.screenshot(path=str(outdir / f"lab-{chapter}-run-all-retry.png"))
    else:
        raise AssertionError(f"{chapter}: Run All did not produce the drop panel")
    panel = notebook.locator(".widget-vbox", has=toggle_button).first
    ladder = panel.locator(".widget-html-content", has=page.locator("svg")).first
    ladder.wait_for(state="attached")
    before = ladder.inner_html()
    # the live panel starts where its still figure above is: with the figure's drops
    assert "(lost)" in before and panel.locator("button.widget-toggle-button.mod-active").count() >= 1
    widget = notebook.locator(".tcpsim-widget", has=toggle_button).first
    sizes = [panel_size(widget)]
    handle = widget.locator(".noUi-handle").first          # the step slider, from the keyboard
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)   # Run All is done
    last = float(handle.get_attribute("aria-valuenow"))
    for key, step in (("Home", 0), ("ArrowRight", 1), ("ArrowRight", 2), ("ArrowRight", 3), ("End", last)):
        shown = ladder.inner_html()
        for _ in range(5):       # JupyterLab may take the focus back from the slider while it settles
            handle.focus()
            page.keyboard.press(key)
            if float(handle.get_attribute("aria-valuenow")) == step:
                break
        assert float(handle.get_attribute("aria-valuenow")) == step, (key, handle.get_attribute("aria-valuenow"))
        wait_for_change(page, ladder, shown, f"{key} (the slider at {step})")
        sizes.append(panel_size(widget))
    assert ladder.inner_html() == before, "the slider at its end shows the whole run again"
    panel.locator("button.widget-button:has-text('reset')").first.click()    # nothing dropped
    wait_for_change(page, ladder, before, "reset")
    before = ladder.inner_html()
    assert "(lost)" not in before and panel.locator("button.widget-toggle-button.mod-active").count() == 0
    toggle.scroll_into_view_if_needed()
    if chapter == CHAPTERS[0]:
        page.screenshot(path=str(outdir / "lab-before-drop.png"))
    toggle.click()
    for _ in range(300):                       # the kernel redraws it: up to 30 s
        if "(lost)" in ladder.inner_html():
            break
        page.wait_for_timeout(100)
    assert "(lost)" in ladder.inner_html() and ladder.inner_html() != before
    sizes.append(panel_size(widget))
    # the panel fills its output area and keeps that width at every step and after a drop (it used
    # to run 150-200 px past the column and change width under the slider); nothing inside overflows
    assert all(abs(size["width"] - sizes[0]["width"]) < 1 for size in sizes), sizes
    assert all(size["width"] <= size["area"] + 1 and size["scroll"] <= size["client"] + 1 for size in sizes), sizes
    assert sizes[0]["width"] >= 0.9 * sizes[0]["area"], sizes
    if chapter == CHAPTERS[0]:
        page.screenshot(path=str(outdir / "lab-after-drop.png"))
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)
    assert notebook.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    close_chapter(page, lab, notebook)
    assert not errors, errors


def test_the_lab_chapter_explains_an_uploaded_capture(lab, lab_page, outdir, tmp_path):
    """The lab chapter's upload box: choose a capture, see it explained in the kernel (the verdict, the
    three figures); choose a file that is not a capture, see the one-line error."""
    page, errors = lab_page
    notebook = page.locator(".jp-NotebookPanel")
    open_chapter(page, lab, errors, notebook, "lab")
    chooser = notebook.locator("button.widget-upload")       # its <input type=file> is not in the page
    for _ in range(3):
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")
        try:
            chooser.first.wait_for(state="attached", timeout=60_000)
            break
        except Exception:
            page.screenshot(path=str(outdir / "lab-upload-run-all-retry.png"))
    else:
        raise AssertionError("Run All did not produce the upload box")
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)
    box = notebook.locator(".widget-vbox", has=page.locator(".widget-upload")).first
    capture = tmp_path / "lost-fin.pcap"
    capture.write_bytes((TOP / "tests" / "data" / "captures" / "lost-fin.pcap").read_bytes())
    with page.expect_file_chooser() as choice:
        chooser.first.click()
    choice.value.set_files(str(capture))
    box.locator(".jp-OutputArea-output:has-text('Zeek conn_state SF')").first.wait_for(timeout=30_000)
    shown = box.locator(".jp-OutputArea-output").first
    assert "FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT" in shown.inner_text()
    assert shown.evaluate(CELL_REPORT.replace("c.querySelectorAll('.jp-OutputArea-output')", "[c]"))[0]["pictures"] == 3
    shown.scroll_into_view_if_needed()
    page.screenshot(path=str(outdir / "lab-upload.png"))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a capture")
    with page.expect_file_chooser() as choice:
        chooser.first.click()
    choice.value.set_files(str(notes))
    box.locator(".jp-OutputArea-output:has-text('error: not a pcap or pcapng capture')").first.wait_for(
        timeout=30_000)
    assert notebook.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    close_chapter(page, lab, notebook)
    assert not errors, errors
