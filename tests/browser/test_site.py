"""The website as a reader gets it: built, served on 127.0.0.1, opened in chromium.

The site is built once per test run (all xdist workers share it) exactly as `./run.sh build` builds it
(notebooks executed, warnings are errors).  Every page must load with no
console errors and no request leaving the site; every drop-a-packet panel
must work without a kernel.
"""

import functools
import http.server
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
LIMIT = 3 * 1024 * 1024          # bytes per chapter page with its assets
AXE = TOP / "tests" / "browser" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PLAYGROUND = "book/playground.html"
LIVE_BYTES = 16 * 1024 * 1024    # the live simulator's files (14.5 MB, tcpsim.book.webbuild.vendor)


def pages(part=None):
    """The site's pages from _toc.yml: all of them, or those of one part (0: the chapters)."""
    toc = yaml.safe_load((TOP / "_toc.yml").read_text())
    parts = toc.get("parts", [])
    if part is not None:
        return [c["file"] + ".html" for c in parts[part]["chapters"]]
    return [toc["root"] + ".html"] + [c["file"] + ".html" for p in parts for c in p["chapters"]]


def build_site(out: Path) -> str:
    jb = Path(sys.executable).parent / "jupyter-book"
    r = subprocess.run([str(jb), "build", str(TOP), "--path-output", str(out), "--builder", "html",
                        "-W", "-n", "--keep-going"], capture_output=True, text=True)
    assert r.returncode == 0 and "build succeeded" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    return str(out / "_build" / "html")


@pytest.fixture(scope="session")
def site(shared_once):
    return Path(shared_once("site", build_site))        # one build per run, whichever worker asks first


@pytest.fixture(scope="session")
def base(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1300, "height": 1600})
    log = {"requests": [], "errors": [], "bytes": 0, "failed": []}
    page.on("request", lambda r: log["requests"].append(r.url))
    page.on("console", lambda m: m.type == "error" and log["errors"].append(m.text))
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("requestfailed", lambda r: log["failed"].append(r.url))

    def sized(resp):
        try:
            log["bytes"] += len(resp.body())
        except Exception:
            pass
    page.on("response", sized)
    page.goto(url, wait_until="networkidle")
    return page, log


@pytest.mark.parametrize("name", pages())
def test_page_loads_offline_with_its_diagrams(browser, base, outdir, name):
    page, log = open_page(browser, base + name)
    outside = [u for u in log["requests"] if not u.startswith(base) and not u.startswith(("data:", "blob:"))]
    assert outside == [], f"requests leaving the site: {outside}"
    assert log["errors"] == [] and log["failed"] == [], (log["errors"], log["failed"])
    if name == PLAYGROUND:                # it runs the live simulator at once: its files are the page's
        assert log["bytes"] <= LIMIT + LIVE_BYTES, f"{name}: {log['bytes']} bytes"
        page.wait_for_function("document.getElementById('tcpsim-playground').dataset.runs >= 1", timeout=120_000)
    else:
        assert log["bytes"] <= LIMIT, f"{name}: {log['bytes']} bytes"
    if name == WHEN:                      # its ladders are drawn when a cell is opened (test below)
        assert page.locator(".tcpsim-when-cell").count() == 120
    elif name not in (pages()[0], "book/run.html", "book/licences.html", "book/glossary.html"):   # text only
        sizes = page.eval_on_selector_all("svg, img", """els => els.map(e => e.tagName === 'IMG'
            ? (e.src.includes('.svg') && e.complete && e.naturalWidth > 0 ? e.getBoundingClientRect().width : 0)
            : e.getBoundingClientRect().width)""")
        assert sum(1 for w in sizes if w > 100) >= 2, "a ladder and a state diagram at least, drawn"
        shot = page.screenshot(full_page=False)
        assert len(shot) > 30_000, "the screenshot looks blank"
    # axe-core (pinned by tests/browser/axe/package-lock.json, installed by ./run.sh), light then dark:
    # no serious or critical violation
    assert AXE.is_file(), "axe-core is missing: run ./run.sh test (it runs npm ci in tests/browser/axe)"
    page.add_script_tag(path=str(AXE))
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        # colours fade from one theme to the other (CSS transitions): measure the end, not a frame between
        page.evaluate("async () => { await new Promise(requestAnimationFrame); "
                      "await Promise.all(document.getAnimations().map(a => a.finished)); }")
        bad = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))""")
        assert bad == [], (theme, bad)
    page.evaluate("document.documentElement.dataset.theme = 'light'")
    if name in pages(part=0):
        # solutions and the runs that confirm them stay folded until opened (the run used to print
        # the answer under a closed "Click to show")
        sols = page.locator("div.solution")
        assert sols.count() >= 1, "every chapter has exercises with solutions"
        for k in range(sols.count()):
            sol = sols.nth(k)
            body = sol.locator("section, .cell_output, p:not(.admonition-title)")
            assert body.count() >= 1
            assert not any(body.nth(j).is_visible() for j in range(body.count())), f"solution {k} shows early"
            assert sol.locator(".cell_output").count() == 1, f"solution {k} holds its confirming run"
            sol.locator("button.toggle-button").click()
            sol.locator(".cell_output").wait_for(state="visible", timeout=5_000)
    page.close()


WHEN = "book/when.html"


@pytest.mark.parametrize("how", ["served", "file"])
def test_what_tcp_does_when_opens_a_cell_with_its_ladder(browser, base, site, how):
    """The appendix's table: a link opens its cell, which loads its ladder (from file:// too)."""
    url = base + WHEN if how == "served" else (Path(site) / WHEN).as_uri()
    page, log = open_page(browser, url)
    cell = page.locator("#when-established-rst")
    assert cell.get_attribute("open") is None
    page.click("a[href='#when-established-rst']")
    page.locator("#when-established-rst .tcpsim-when-svg svg").first.wait_for(timeout=15_000)
    assert cell.get_attribute("open") is not None
    assert "RFC 9293" in cell.inner_text() and "\u201c" in cell.inner_text()    # the clauses, quoted
    width = page.eval_on_selector("#when-established-rst .tcpsim-when-svg svg", "e => e.getBoundingClientRect().width")
    assert width > 200
    # a second cell uses the data already loaded; the linux profile's ladder appears where it differs
    page.click("a[href='#when-fin-wait-2-syn']")
    page.locator("#when-fin-wait-2-syn .tcpsim-when-svg svg").nth(1).wait_for(timeout=15_000)
    assert log["errors"] == [], log["errors"]
    page.close()


def panel_parts(box):
    return [box.locator(sel).inner_html() for sel in (".tcpsim-ladder", ".tcpsim-state", ".tcpsim-table")]


class TestPanels:
    """The drop-a-packet panels.  Under pytest-xdist (--dist loadscope) a class is a unit of
    work of its own: these run beside the module's other tests, on the same build of the site."""

    @pytest.mark.parametrize("name", pages(part=0))
    def test_every_panel_drops_and_resets_without_a_kernel(self, browser, base, outdir, name):
        page, log = open_page(browser, base + name)
        boxes = page.locator(".tcpsim-live")
        assert boxes.count() >= 1, "every chapter has a drop-a-packet panel"
        for k in range(boxes.count()):
            box = boxes.nth(k)
            box.locator(".tcpsim-drop").first.wait_for()
            buttons = box.locator(".tcpsim-drop")
            # one panel per place: the live panel stands where its still twin was, at the twin's
            # setting (the one the text describes), drawing exactly what the twin draws
            twin = page.locator(f'figure.tcpsim-panel[data-tcpsim-twin="{box.get_attribute("data-tcpsim-panel")}"]')
            assert twin.count() == 1 and twin.is_hidden() and box.is_visible()
            assert panel_parts(twin) == panel_parts(box)
            assert box.evaluate("(b, t) => t.closest('.cell').contains(b)", twin.element_handle())
            pressed = box.locator('.tcpsim-drop[aria-pressed="true"]').count()
            assert pressed == len(json.loads(twin.get_attribute("data-tcpsim-setting"))["drops"]) >= 1
            box.locator(".tcpsim-reset").click()            # from here on: nothing dropped
            ladder0, state0, table0 = panel_parts(box)
            if k == 0:
                box.scroll_into_view_if_needed()
                page.screenshot(path=str(outdir / f"site-{Path(name).stem}-before.png"))
            buttons.first.click()
            ladder1, state1, table1 = panel_parts(box)
            assert ladder1 != ladder0 and "(lost)" in ladder1 and "(lost)" not in ladder0
            assert table1 != table0 and "dropped" in table1
            if k == 0:
                box.scroll_into_view_if_needed()
                page.screenshot(path=str(outdir / f"site-{Path(name).stem}-after.png"))
            buttons.first.click()                       # undo
            changed_state = False
            for i in range(buttons.count()):
                buttons.nth(i).click()
                changed_state = changed_state or panel_parts(box)[1] != state0
                buttons.nth(i).click()
            assert changed_state, "some drop changes a state path"
            buttons.nth(0).click()
            buttons.nth(1).click()
            assert box.get_attribute("data-how") == "stored", "a pair of drops is pre-computed"
            box.locator(".tcpsim-reset").click()
            assert panel_parts(box) == [ladder0, state0, table0]
            knobs = box.locator(".tcpsim-knob input, .tcpsim-knob select")
            for j in range(knobs.count()):              # every what-if knob changes the run
                knob = knobs.nth(j)
                if knob.evaluate("e => e.tagName") == "SELECT":
                    options = knob.locator("option").all_inner_texts()
                    knob.select_option(next(o for o in options if o != knob.input_value()))
                elif knob.get_attribute("type") == "number":     # another of its pre-computed values
                    values = knob.evaluate("e => [...e.list.options].map(o => o.value)")
                    knob.fill(next(v for v in values if float(v) != float(knob.input_value())))
                    knob.dispatch_event("change")
                else:
                    knob.click()
                assert box.get_attribute("data-how") == "stored", "every pre-computed knob value is stored"
                assert panel_parts(box)[2] != table0, "a knob alone changes the run"
                box.locator(".tcpsim-reset").click()
                assert panel_parts(box) == [ladder0, state0, table0]
        assert log["errors"] == []
        page.close()

    def test_a_panel_without_its_data_says_so(self, browser, base):
        page = browser.new_page()
        page.route("**/_static/tcpsim/panel-*.js", lambda route: route.abort())
        page.goto(base + pages()[1], wait_until="networkidle")
        msg = page.locator(".tcpsim-error").first
        msg.wait_for()
        assert "missing" in msg.inner_text() and "rebuild the site" in msg.inner_text()
        page.close()


def test_search_download_dark_mode_and_print(browser, base):
    page, log = open_page(browser, base + "search.html?q=TIME_WAIT")
    page.wait_for_selector("#search-results li", timeout=20_000)
    assert page.locator("#search-results li").count() >= 2
    page.close()
    page, log = open_page(browser, base + pages()[1])
    nb = page.request.get(base + "_sources/" + pages()[1].replace(".html", ".ipynb"))
    assert nb.ok and '"cells"' in nb.text()
    page.evaluate("() => { localStorage.setItem('mode', 'dark'); }")
    page.reload(wait_until="networkidle")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    fills = page.eval_on_selector_all(".tcpsim-ladder svg > rect", "els => els.map(e => e.getAttribute('fill'))")
    assert fills and fills[0].lower() in ("#fff", "#ffffff", "white"), "diagrams keep their light ground in dark mode"
    pdf = page.pdf()
    assert len(pdf) > 50_000
    assert log["errors"] == []
    page.close()




@pytest.mark.parametrize("name", pages(part=0))
def test_without_javascript_each_panel_shows_once(browser, site, name):
    """No script: the still twin is the panel; the live panel's own copy of it stays hidden."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((Path(site) / name).as_uri(), wait_until="load")
    twins = page.locator("figure.tcpsim-panel[data-tcpsim-twin]")
    assert twins.count() >= 1
    for k in range(twins.count()):
        assert twins.nth(k).is_visible()
    boxes = page.locator(".tcpsim-live.tcpsim-twinned")
    assert boxes.count() == twins.count()
    for k in range(boxes.count()):
        assert boxes.nth(k).locator("figure.tcpsim-panel").is_hidden()
        assert "figure above" in boxes.nth(k).locator(".tcpsim-note").inner_text()
    context.close()


def clipped_in_print(page):
    """Elements whose content is wider than their box and cut off or scrolled, as printed."""
    return page.evaluate("""() => [...document.querySelectorAll('.bd-content *')].filter(e => {
        const cs = getComputedStyle(e);
        return e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1
            && ['auto', 'scroll', 'hidden', 'clip'].includes(cs.overflowX);
    }).map(e => e.tagName + '.' + String(e.className).slice(0, 40) + ' ' + e.scrollWidth + '>' + e.clientWidth)""")


@pytest.mark.parametrize("name", pages())
def test_print_gives_a_clean_chapter(browser, base, name):
    """Paper: the still twins with their trace tables open, no controls, nothing cut off at
    the right edge, and no blank page in the PDF."""
    from pypdf import PdfReader

    page, log = open_page(browser, base + name)
    page.emulate_media(media="print")
    assert clipped_in_print(page) == []
    assert page.locator(".tcpsim-controls:visible, .tcpsim-zoom-open:visible").count() == 0
    twins = page.locator("figure.tcpsim-panel[data-tcpsim-twin]")
    for k in range(twins.count()):
        assert twins.nth(k).is_visible() and twins.nth(k).locator("table.tcpsim-trace").is_visible()
    assert page.locator(".tcpsim-live:visible").count() == 0 or twins.count() == 0
    reader = PdfReader(io.BytesIO(page.pdf()))
    # a page of text has words; a page of drawing has no words (an SVG image prints as paths) but a
    # long content stream; an empty page has neither
    drawn = [(len((p.extract_text() or "").split()), len(p.get_contents().get_data()) if p.get_contents() else 0)
             for p in reader.pages]
    assert all(words >= 10 or ink > 2000 for words, ink in drawn), f"a blank page: {drawn}"
    assert log["errors"] == []
    page.close()


def test_search_works_from_file_urls_without_errors(browser, site):
    """A site opened from disk: search finds the pages, and the browser logs no refused
    fetch (the search page quoted each page found by fetching it, which file:// forbids)."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((Path(site) / "search.html").as_uri() + "?q=handshake", wait_until="load")
    page.wait_for_selector("#search-results li", timeout=20_000)
    page.wait_for_function("() => /found/.test(document.querySelector('#search-results').innerText)")
    titles = page.locator("#search-results li a").all_inner_texts()
    assert any("three-way handshake" in t for t in titles), titles
    assert errors == []
    page.close()


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_the_menu_and_the_page_contents_open(browser, base, width, height):
    """The header's ☰ and contents buttons did nothing (the theme wired a hidden twin)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "book/close.html", wait_until="networkidle")
    menu = [b for b in page.locator(".primary-toggle").all() if b.is_visible()]
    assert len(menu) == 1
    if width < 960:
        menu[0].click()
        dialog = page.locator("dialog#pst-primary-sidebar-modal[open]")
        dialog.wait_for(timeout=5_000)
        assert dialog.get_by_role("link", name="The listening server").is_visible()
        page.keyboard.press("Escape")
        page.wait_for_function("!document.querySelector('dialog#pst-primary-sidebar-modal[open]')")
        contents = [b for b in page.locator(".secondary-toggle").all() if b.is_visible()]
        assert len(contents) == 1
        contents[0].click()
        toc = page.locator("dialog#pst-secondary-sidebar-modal[open]")
        toc.wait_for(timeout=5_000)
        assert toc.get_by_role("link", name="Half-close: done sending, still receiving").count() == 1
    else:
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        menu[0].click()
        page.wait_for_function("!document.querySelector('#pst-primary-sidebar').offsetWidth")
        menu[0].click()
        sidebar.wait_for(state="visible", timeout=5_000)
        assert page.locator("header.bd-header").is_visible() is False    # no second, empty search bar
    assert errors == []
    page.close()


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_trace_tables_never_clip_their_notes(browser, base, width, height):
    """The notes column was cut off ("SYN que") where the prose says "the trace notes it"."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(base + "book/server.html", wait_until="networkidle")
    for d in page.locator(".tcpsim-live details").all():
        d.locator("summary").click()
        box = d.locator(".tcpsim-table")
        fits = box.evaluate("c => c.scrollWidth <= c.clientWidth + 1")
        scrolls = box.evaluate("c => getComputedStyle(c).overflowX === 'auto'")
        if width >= 960:
            assert fits, "on a desktop page the whole table fits"
        assert fits or scrolls
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.close()


CONTRAST = """e => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = null, n = e;
  while (n) { const c = rgb(getComputedStyle(n).backgroundColor); if (c.length < 4 || c[3] > 0) { bg = c; break; }
    n = n.parentElement; }
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(e).color), a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_dark_mode_panels_belong_to_the_page(browser, base):
    """The panel's caption had a contrast of 1.71:1 on a light box in the dark page."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page.goto(base + "book/intro.html", wait_until="networkidle")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    for sel in (".tcpsim-live .tcpsim-caption", ".tcpsim-live .tcpsim-hint", ".tcpsim-live summary"):
        el = page.locator(sel).first
        assert el.evaluate(CONTRAST) >= 4.5, sel
    box = page.locator(".tcpsim-live").first.evaluate(
        "e => getComputedStyle(e.closest('.text_html')).backgroundColor")
    assert box in ("rgba(0, 0, 0, 0)", "transparent"), box
    page.close()


@pytest.mark.parametrize("name", pages(part=0))
def test_on_a_phone_every_diagram_opens_large_enough_to_read(browser, base, name):
    """Diagram text was 4-6 px at 390 px width: each diagram now opens at its natural
    size (12 px text), from a tap or the keyboard."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + name, wait_until="networkidle")
    # the questions draw their ladders once their variants are unpacked, after the network is idle
    page.wait_for_function("[...document.querySelectorAll('.tcpsim-quiz')].every(q => q.tcpsim)")
    figs = page.locator(".tcpsim-ladder svg, .tcpsim-state svg, .cell_output img[src$='.svg']")
    assert figs.count() >= 2
    buttons = page.locator("button.tcpsim-zoom-open")
    assert buttons.count() == figs.count()
    for k in range(buttons.count()):
        assert (buttons.nth(k).get_attribute("aria-label") or "").startswith("Open larger"), k
    first = page.locator(".tcpsim-ladder button.tcpsim-zoom-open").first
    first.scroll_into_view_if_needed()
    first.focus()
    page.keyboard.press("Enter")
    page.locator("dialog.tcpsim-zoom[open]").wait_for(timeout=5_000)
    smallest = page.evaluate("""() => Math.min(...Array.from(document.querySelectorAll(
        'dialog.tcpsim-zoom svg text')).map(t => t.getBoundingClientRect().height).filter(h => h > 0))""")
    assert smallest >= 9, smallest
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('dialog.tcpsim-zoom[open]')")
    assert errors == []
    page.close()


def test_run_it_yourself_offers_the_books_own_source(site, browser, base):
    """No public repository is set (_config.yml: tcpsim_repository), so the site offers the
    source it was built from; the archive holds what the two commands need."""
    import tarfile

    page, log = open_page(browser, base + "book/run.html")
    link = page.get_by_role("link", name="tcpsim-book-source.tar.gz")
    href = link.get_attribute("href")
    assert "./run.sh serve" in page.inner_text("main") and "./run.sh lab" in page.inner_text("main")
    page.close()
    archive = (Path(site) / "book" / href).resolve()
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    for needed in ("README.md", "run.sh", "requirements.txt", "pyproject.toml", "src/tcpsim/__init__.py",
                   "src/tcpsim/data/linux/conformance.json", "book/intro.ipynb", "_toc.yml"):
        assert "tcp-book/" + needed in names, needed
    assert not [n for n in names if "/.venv/" in n or "/_build/" in n or "__pycache__" in n]


def test_every_file_the_site_carries_is_in_the_licences_page(site):
    """book/licences.md names each vendored file (or its folder) with its licence."""
    page = (TOP / "book" / "licences.md").read_text()
    static = Path(site) / "_static"
    names = set()
    for p in static.iterdir():
        if p.is_dir():
            names.add(p.name + "/")
        elif not p.name.endswith((".map",)):
            names.add(p.name)
    missing = []
    for n in sorted(names):
        stem = n.split(".")[0] if n.startswith("mystnb.") else None
        if n.startswith("tcpsim") or n in page or (stem and f"{stem}.*.css" in page) or n.rstrip("/") + "/" in page:
            continue
        missing.append(n)
    for sub in ("scripts", "styles"):
        for p in (static / sub).iterdir():
            named = f"{sub}/{p.name}" in page or f"{sub}/" in page
            if not p.name.endswith((".map", ".LICENSE.txt")) and not named:
                missing.append(f"{sub}/{p.name}")
    assert not missing, f"not in book/licences.md: {missing}"


def test_the_licences_page_names_the_pinned_versions():
    lines = (TOP / "requirements.txt").read_text().splitlines()
    pins = dict(line.lower().replace("_", "-").split("==") for line in lines if "==" in line and line[0] != "#")
    page = (TOP / "book" / "licences.md").read_text()
    for shown, pip in (("Sphinx", "sphinx"), ("pydata-sphinx-theme", "pydata-sphinx-theme"),
                       ("sphinx-book-theme", "sphinx-book-theme"), ("MyST-NB", "myst-nb"),
                       ("sphinx-exercise", "sphinx-exercise"), ("sphinx-togglebutton", "sphinx-togglebutton"),
                       ("sphinx-copybutton", "sphinx-copybutton"), ("sphinx-design", "sphinx-design"),
                       ("sphinx-thebe", "sphinx-thebe")):
        assert f"| {shown} | {pins[pip]} |" in page, (shown, pins[pip])
    # the live simulator's npm packages, at the versions web/package-lock.json pins
    lock = json.loads((TOP / "web" / "package-lock.json").read_text())["packages"]
    for shown, npm in (("Pyodide (npm package `pyodide`)", "pyodide"),
                       ("`@hpcc-js/wasm-graphviz` (npm), Graphviz 16.1.0 compiled to WebAssembly inside it",
                        "@hpcc-js/wasm-graphviz")):
        assert f"| {shown} | {lock['node_modules/' + npm]['version']} |" in page, (shown, npm)





def chapter_soup(site, name):
    from bs4 import BeautifulSoup

    return BeautifulSoup((Path(site) / name).read_text(encoding="utf-8"), "html.parser")


@pytest.mark.parametrize("name", pages(part=0) + ["book/appendix.html"])
def test_every_figure_is_numbered_captioned_and_named(site, name):
    """Each diagram and each panel is a numbered figure with a caption; a diagram drawn as an <img>
    is named by its own SVG's title and described by its desc (not by its file's hash name)."""
    import html as html_lib
    import re

    soup = chapter_soup(site, name)
    body = soup.select_one(".bd-content")
    images = body.select(".cell_output img")
    panels = [f for f in body.select("figure.tcpsim-panel[data-tcpsim-twin]")]
    assert images and (panels or name.endswith("appendix.html"))
    for fig in images + panels:
        outer = fig.find_parent("figure") if fig.name == "img" else fig.parent.find_parent("figure")
        assert outer is not None, f"not in a numbered figure: {fig.get('src', fig.get('data-tcpsim-twin'))}"
        number = outer.select_one("figcaption .caption-number")
        text = outer.select_one("figcaption .caption-text")
        assert number and re.fullmatch(r"Fig\. (\d+\.)?\d+ ", number.get_text()) and len(text.get_text()) > 20
    for img in images:
        svg = (Path(site) / name).parent.joinpath(img["src"]).resolve().read_text(encoding="utf-8")
        title = re.search(r"<title[^>]*>(.*?)</title>", svg, re.S).group(1)
        desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S).group(1)
        norm = lambda s: " ".join(html_lib.unescape(s).split())      # noqa: E731
        assert img["alt"] == norm(title) + ". " + norm(desc)


def test_figures_are_cross_referenced_between_chapters(site):
    """{numref} links a chapter to another chapter's figure, by its number."""
    soup = chapter_soup(site, "book/appendix.html")
    ref = soup.select_one('a[href="states.html#fig-states-figure"]')
    states = chapter_soup(site, "book/states.html")
    number = states.select_one("#fig-states-figure figcaption .caption-number").get_text().strip()
    assert ref is not None and ref.get_text() == number and number.startswith("Fig. 4.")
    assert soup.select_one('a[href="close.html"]') is not None, "the appendix links the close chapter"


def test_rfc_sections_link_to_the_rfc(site):
    """"RFC 9293 §3.4.1" links to that section of RFC 9293 (Initial Sequence Number Selection, as the
    handshake chapter cites it), a bare "§3.10.7.3" to RFC 9293's, and "RFC 5961 (§3" to RFC 5961's;
    no RFC number in a chapter's prose is left without its link."""
    soup = chapter_soup(site, "book/handshake.html")
    links = {a.get_text(): a["href"] for a in soup.select("a.tcpsim-rfc")}
    assert links["RFC 9293 §3.4.1"] == "https://www.rfc-editor.org/rfc/rfc9293.html#section-3.4.1"
    assert links["§3.10.7.3"] == "https://www.rfc-editor.org/rfc/rfc9293.html#section-3.10.7.3"
    assert links["RFC 6298 §2.1"] == "https://www.rfc-editor.org/rfc/rfc6298.html#section-2.1"
    states = {a.get_text(): a["href"] for a in chapter_soup(site, "book/states.html").select("a.tcpsim-rfc")}
    assert states["§3"] == "https://www.rfc-editor.org/rfc/rfc5961.html#section-3"
    for name in pages(part=0):
        prose = chapter_soup(site, name).select_one(".bd-content")
        for el in prose.select("pre, code, a, h1, h2, h3, h4, svg, .cell_output, script, style"):
            el.decompose()
        assert "RFC 9" not in prose.get_text(), f"an RFC not linked in {name}"


def test_the_glossary_is_a_glossary_that_the_chapters_link_to(site):
    """A real glossary (a definition list of terms, found by search) and every term of it linked
    from the chapters where they first use it."""
    soup = chapter_soup(site, "book/glossary.html")
    terms = {dt["id"] for dt in soup.select("dl.glossary dt[id]")}
    assert len(terms) >= 25 and {"term-TIME_WAIT", "term-ISN", "term-SYN-queue", "term-2MSL"} <= terms
    linked = set()
    for name in pages(part=0) + ["book/appendix.html"]:
        for a in chapter_soup(site, name).select('a[href^="glossary.html#term-"]'):
            linked.add(a["href"].split("#", 1)[1])
    assert len(linked) >= 20 and linked <= terms
    index = (Path(site) / "searchindex.js").read_text(encoding="utf-8")
    assert '"Glossary"' in index
