"""Browser tests: Debian's chromium driven by Playwright.

If chromium or Playwright is missing these tests fail (they never skip): the
README's test command installs both.
"""

import shutil
from pathlib import Path

import pytest

OUT = Path(__file__).resolve().parents[2] / "test-output"


def chromium_path() -> str:
    for name in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if name and Path(name).exists():
            return name
    raise RuntimeError("Debian's chromium is not installed: run ./run.sh test (it installs it)")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def outdir():
    OUT.mkdir(exist_ok=True)
    return OUT
