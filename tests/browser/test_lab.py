"""JupyterLab end to end: open a chapter, run all cells, drop a segment, see the diagram change."""

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

BOOK = Path(__file__).resolve().parents[2] / "book"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(BOOK / "intro.ipynb", work / "intro.ipynb")      # Run All must not touch the book
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


def test_run_all_and_drop_a_segment(lab, browser, outdir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lab + "/lab/tree/intro.ipynb")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=60_000)   # the kernel is up
    toggle = page.locator("button.widget-toggle-button", has_text="server → client SYN,ACK")
    for _ in range(3):
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")
        try:
            toggle.wait_for(state="attached", timeout=30_000)   # JupyterLab renders far cells lazily
            break
        except Exception:
            page.screenshot(path=str(outdir / "lab-run-all-retry.png"))
    else:
        raise AssertionError("Run All did not produce the drop panel")
    toggle.scroll_into_view_if_needed()
    ladder = page.locator(".widget-html-content svg").first
    ladder.wait_for()
    before = ladder.inner_html()
    assert "(lost)" not in before
    page.screenshot(path=str(outdir / "lab-before-drop.png"))
    toggle.click()
    page.wait_for_function(
        "() => document.querySelector('.widget-html-content svg').innerHTML.includes('(lost)')", timeout=30_000)
    after = ladder.inner_html()
    assert after != before and "(rtx)" in after
    page.screenshot(path=str(outdir / "lab-after-drop.png"))
    assert not errors, errors
    page.close()
