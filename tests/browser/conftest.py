"""Browser tests: Debian's chromium driven by Playwright.

If chromium or Playwright is missing these tests fail (they never skip): the
README's test command installs both.

Every test in this directory is marked ``browser``, so ``./run.sh test -m "not
browser"`` is the fast loop without them.  Under pytest-xdist (``./run.sh test``
runs ``-n auto --dist loadscope``) each module, and each test class, runs in one
worker; ``shared_once`` makes an expensive artefact (the website) once per run
however many workers ask for it.
"""

import contextlib
import fcntl
import json
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "test-output"


@pytest.hookimpl(tryfirst=True)           # before -m deselects
def pytest_collection_modifyitems(config, items):
    browser = [it for it in items if HERE in Path(str(it.path)).parents]
    for it in browser:
        it.add_marker(pytest.mark.browser)
    # The browser files are the longest units of work: hand them out first
    # (the xdist scheduler keeps this order, see --no-loadscope-reorder).
    first = set(map(id, browser))
    items.sort(key=lambda it: id(it) not in first)


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


@pytest.fixture(scope="session")
def shared_once(request, tmp_path_factory):
    """shared_once(name, make) -> make(directory)'s result, computed once per test run.

    ``make`` gets an empty directory to fill and returns something JSON-able.
    Without xdist it simply runs; with xdist the first worker to ask runs it
    under a file lock in the run's shared temporary directory, the others wait
    for it and reuse its result (or its failure, re-raised).
    """
    base = tmp_path_factory.getbasetemp()
    xdist_worker = hasattr(request.config, "workerinput")
    root = base.parent if xdist_worker else base               # the parent is shared by this run's workers

    def get(name, make):
        work, result = root / name, root / f"{name}.json"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                done = json.loads(result.read_text())
                if "error" in done:
                    raise RuntimeError(f"{name} failed in another worker:\n{done['error']}")
                return done["value"]
            shutil.rmtree(work, ignore_errors=True)      # left by a worker that died while making it
            work.mkdir()
            try:
                value = make(work)
            except BaseException as e:
                result.write_text(json.dumps({"error": f"{type(e).__name__}: {e}"}))
                raise
            result.write_text(json.dumps({"value": value}))
            return value

    return get
