"""JupyterLab end to end: open each chapter, run all cells, drop a segment, see the diagram change."""

import json
import os
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
CHAPTERS = [c["file"].split("/")[-1] for c in yaml.safe_load((TOP / "_toc.yml").read_text())["parts"][0]["chapters"]]


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
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(conf))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
           "--ServerApp.disable_check_xsrf=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/api", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("JupyterLab did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_run_all_and_drop_a_segment(lab, browser, outdir, chapter):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lab + f"/lab/workspaces/{chapter}/tree/{chapter}.ipynb?reset")   # a fresh workspace each time
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    try:    # with another notebook's kernel running, JupyterLab may ask which kernel to start
        page.locator(".jp-Dialog button:has-text('Select')").click(timeout=5_000)
    except Exception:
        pass
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)   # the kernel is up
    toggle = page.locator("button.widget-toggle-button").first
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
    panel = page.locator(".widget-vbox", has=toggle).first
    ladder = panel.locator(".widget-html-content", has=page.locator("svg")).first
    ladder.wait_for(state="attached")
    before = ladder.inner_html()
    assert "(lost)" not in before
    toggle.scroll_into_view_if_needed()
    if chapter == CHAPTERS[0]:
        page.screenshot(path=str(outdir / "lab-before-drop.png"))
    toggle.click()
    for _ in range(300):                       # the kernel redraws it: up to 30 s
        if "(lost)" in ladder.inner_html():
            break
        page.wait_for_timeout(100)
    assert "(lost)" in ladder.inner_html() and ladder.inner_html() != before
    if chapter == CHAPTERS[0]:
        page.screenshot(path=str(outdir / "lab-after-drop.png"))
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)
    assert page.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    assert not errors, errors
    page.close()
    for session in json.load(urllib.request.urlopen(lab + "/api/sessions")):   # stop its kernel
        urllib.request.urlopen(urllib.request.Request(lab + f"/api/sessions/{session['id']}", method="DELETE"))
