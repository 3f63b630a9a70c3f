"""The classroom bundle (tools/bundle.py, ./run.sh bundle) installs and runs with no network.

One test, end to end: make the bundle (building the website on the way, with the network for
pip download), unpack it, check its size and what it holds, then install it in a fresh virtual
environment exactly as its README-classroom.md says, with pip kept off every index, and run the
simulator, a chapter under nbval, jupyter-book and JupyterLab from that environment.  193-208 s
on the 2-core machine with other jobs sharing it (the website build ~30 s, pip download with pip's
cache warm and the archive ~50-80 s, the offline install ~60 s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[1]
NAME = "tcp-book-classroom"
#: measured: 156,687,948 bytes (156 wheels, 156.7 MB of them; the site 13.8 MB before gzip)
MEASURED = 156_690_000
#: what pip download adds to requirements.txt: the project and what builds it ([build-system] requires)
ADDED = {"tcpsim", "setuptools"}
#: dependencies the lock leaves out, which pip download resolves (none: wheel, which pip freeze hides,
#: and mypy's ast-serialize are pinned too)
UNPINNED: set[str] = set()
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_EXTRA_INDEX_URL": "",
           "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def normalise(name: str) -> str:
    """PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    pins = {}
    for line in (TOP / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalise(name)] = version
    return pins


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would let a child see the checkout, this venv, this pytest."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith(("PIP_", "PYTEST_"))}
    return {**env, **extra}


def sh(cmd, cwd, env, timeout=600) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                       shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str) else None)
    assert r.returncode == 0, f"{cmd}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_the_classroom_bundle_installs_and_runs_offline(tmp_path):
    archive = tmp_path / f"{NAME}.tar.gz"
    r = subprocess.run([sys.executable, str(TOP / "tools" / "bundle.py"), "--build", str(archive)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.startswith(f"wrote {archive}: ") and " MB" in r.stdout, r.stdout

    # Its size: within 30 % above what was measured, and not so small that a part went missing.
    size = archive.stat().st_size
    assert MEASURED * 0.6 < size < MEASURED * 1.3, f"{size:,} bytes"

    # One folder; sorted names, mtime 0, no owners; nothing built or installed from the checkout.
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert all(n.startswith(f"{NAME}/") and ".." not in n.split("/") for n in names)
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
        assert not [n for n in names if re.search(r"/(\.venv|_build|__pycache__|node_modules)/|\.egg-info/", n)]
        tar.extractall(tmp_path, filter="data")
    top = tmp_path / NAME

    # The website, whose pages are those of _toc.yml; the chapters' notebooks as in the checkout.
    toc = yaml.safe_load((TOP / "_toc.yml").read_text())
    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert (top / "site" / "index.html").is_file()
    for page in [toc["root"], *chapters]:
        assert (top / "site" / f"{page}.html").is_file(), page
    assert list((top / "site" / "_static" / "tcpsim").glob("panel-*.js")), "the panels' pre-computed runs"
    notebooks = [c for c in chapters if (TOP / f"{c}.ipynb").exists()]
    assert len(notebooks) >= 6
    for c in notebooks:
        assert (top / f"{c}.ipynb").read_bytes() == (TOP / f"{c}.ipynb").read_bytes(), c
    for name in ("README.md", "requirements.txt", "pyproject.toml", "src/tcpsim/__init__.py", "_toc.yml"):
        assert (top / name).read_bytes() == (TOP / name).read_bytes(), name

    # The wheelhouse: the pinned version of every line of requirements.txt, the project, setuptools.
    wheels = {}
    for w in (top / "wheelhouse").iterdir():
        m = WHEEL.match(w.name)
        assert m, w.name
        wheels[normalise(m["name"])] = m
    pins = pinned()
    assert {n: wheels[n]["version"] for n in pins if n in wheels} == pins
    project = tomllib.loads((TOP / "pyproject.toml").read_text())["project"]
    assert wheels["tcpsim"]["version"] == project["version"]
    assert set(wheels) == set(pins) | ADDED | (UNPINNED - set(pins))

    # README-classroom.md names what the wheels are for: this Python, this machine.
    readme = (top / "README-classroom.md").read_text()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = os.uname().machine
    assert f"CPython {py} on Linux" in readme and f"`{machine}`" in readme, readme
    for m in wheels.values():
        assert m["py"] in ("py3", "py2.py3") or m["py"] == f"cp{py.replace('.', '')}" or m["abi"] == "abi3", m[0]
        assert m["plat"] == "any" or all(p.endswith(machine) for p in m["plat"].split(".")), m[0]
    assert "site/index.html" in readme and "apt-get install graphviz" in readme

    # Install as the README says (its first shell block), with `python{py}` being this Python
    # and pip kept off every index: nothing can come from the network.
    install = re.search(r"```sh\n(.*?)```", readme, re.S)[1]
    assert f"python{py} -m venv .venv" in install and install.count("--no-index --find-links wheelhouse") == 2
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / f"python{py}").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (shims / f"python{py}").chmod(0o755)
    env = clean_env(**OFFLINE, PATH=f"{shims}{os.pathsep}{os.environ['PATH']}")
    sh(f"set -eu\n{install}", top, env)
    venv = top / ".venv" / "bin"

    # The simulator runs from the installed wheel: the handshake's three segments, both ends closed.
    out = sh([str(venv / "python"), "-c",
              "import json, tcpsim; t = tcpsim.run('connect-close');"
              "print(json.dumps({'file': tcpsim.__file__, 'trace': t.to_dict()}))"], tmp_path, env)
    got = json.loads(out)
    assert Path(got["file"]).is_relative_to(top / ".venv"), got["file"]
    segs = got["trace"]["segments"]
    assert [s["flags"] for s in segs[:3]] == ["S", "SA", "A"]
    assert segs[1]["ack"] == segs[0]["seq"] + 1 and segs[2]["ack"] == segs[1]["seq"] + 1
    assert got["trace"]["final"]["client"] == got["trace"]["final"]["server"] == "CLOSED"
    assert "ESTABLISHED" in [s["to"] for s in got["trace"]["states"]["client"]]
    assert "connect-close" in sh([str(venv / "python"), "-m", "tcpsim", "list"], tmp_path, env)

    # A chapter runs in that environment's kernel and gives exactly its stored outputs (nbval),
    # state diagrams (dot) and panels included; the tools of the README are there.
    assert "passed" in sh([str(venv / "python"), "-m", "pytest", "-q", "-n", "0", "book/intro.ipynb"], top, env)
    assert pins["jupyter-book"] in sh([str(venv / "jupyter-book"), "--version"], top, env)
    assert sh([str(venv / "jupyter"), "lab", "--version"], top, env).strip() == pins["jupyterlab"]

    # The editable install the README offers builds offline too (setuptools is in the wheelhouse).
    sh([str(venv / "pip"), "install", "-q", "--no-index", "--find-links", "wheelhouse", "--no-deps", "-e", "."],
       top, env)
    where = sh([str(venv / "python"), "-c", "import tcpsim; print(tcpsim.__file__)"], tmp_path, env).strip()
    assert Path(where) == top / "src" / "tcpsim" / "__init__.py"
