"""Make the classroom bundle: one archive that a teacher's laptop can read and run with no internet.

    python tools/bundle.py [--site DIR | --build] [OUT]

It holds, under one folder ``tcp-book-classroom/``: the built website (``site/``, open
``site/index.html`` from disk), the book's source as the site's own source download has it
(``SOURCE`` in ``tcpsim.book.sphinx``: the notebooks in ``book/``, ``src/``, ``requirements.txt``,
...), a ``wheelhouse/`` with a wheel of every package pinned in ``requirements.txt``, of the
project itself and of what building the project needs (``[build-system] requires`` of
``pyproject.toml``, for an editable install), and ``README-classroom.md``, which says how to
install from the wheelhouse with ``pip install --no-index`` and for which Python and platform
the wheels are.  Making it needs the network (``pip download``); using it does not.

Standard library only (it runs pip as ``python -m pip`` with the interpreter that runs it, so
the wheels are for that interpreter's Python and platform).  The archive is deterministic where
the inputs are: sorted names, mtime 0, no owners, modes 644/755.  ``./run.sh bundle`` builds the
website into ``_build/html`` and runs this with ``--site _build/html``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "src"))
from tcpsim.book.sphinx import SKIP, SOURCE  # noqa: E402  (the project's own list, standard library only)

NAME = "tcp-book-classroom"
DEFAULT_OUT = Path("dist") / f"{NAME}.tar.gz"
README = "README-classroom.md"
#: not source even where it sits in a source folder: what `./run.sh test` installs (axe-core)
SKIP_HERE = (*SKIP, "node_modules")
#: a wheel's file name (PEP 427): name-version(-build)?-python-abi-platform.whl
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class Failure(Exception):
    """A one-line error for the user (exit status 2), optionally with the tool output that explains it."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


def say(msg: str) -> None:
    print(f"bundle: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], what: str, **kw) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-40:])
        raise Failure(f"{what} failed (exit status {r.returncode})", tail)


def source_files(top: Path) -> list[tuple[Path, str]]:
    """(file, its path relative to the top) for every file of SOURCE, as the site's source download has them."""
    files = []
    for name in SOURCE:
        base = top / name
        if not base.exists():
            raise Failure(f"{name} is missing from {top} (tcpsim.book.sphinx.SOURCE lists it)")
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            rel = path.relative_to(top)
            if not any(part.endswith(SKIP_HERE) for part in rel.parts):
                files.append((path, rel.as_posix()))
    return files


def build_site(into: Path) -> Path:
    jb = Path(sys.executable).parent / "jupyter-book"
    if not jb.exists():
        raise Failure(f"jupyter-book is not installed next to {sys.executable} (run ./run.sh setup)")
    say("building the website (jupyter-book build, warnings are errors)")
    run([str(jb), "build", str(TOP), "--path-output", str(into), "--builder", "html", "-W", "-n", "--keep-going"],
        "jupyter-book build")
    return into / "_build" / "html"


def make_wheelhouse(into: Path, source: list[tuple[Path, str]], work: Path) -> None:
    build_requires = tomllib.loads((TOP / "pyproject.toml").read_text())["build-system"]["requires"]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    say(f"downloading the wheels of requirements.txt and {', '.join(build_requires)}")
    run([*pip, "download", "--only-binary=:all:", "--progress-bar", "off", "-d", str(into),
         "-r", str(TOP / "requirements.txt"), *build_requires], "pip download")
    # The project's wheel, built from a copy of exactly the files the bundle ships (no build/ or
    # .egg-info left in the checkout), with fixed timestamps inside the wheel.
    tree = work / "tcp-book"
    for path, rel in source:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, tree / rel)
    say("building the project's wheel (pip wheel --no-deps)")
    run([*pip, "wheel", "--no-deps", "-w", str(into), str(tree)], "pip wheel of the project",
        env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"})


def glibc(tag: str) -> tuple[int, int] | None:
    """The oldest glibc a manylinux platform tag runs on (None for other tags)."""
    m = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    if m:
        return int(m[1]), int(m[2])
    return LEGACY_MANYLINUX.get(tag.split("_", 1)[0])


def target(wheels: list[str]) -> dict[str, str]:
    """What the wheelhouse was downloaded for: the Python that ran pip, and the platforms of its wheels."""
    needs: tuple[int, int] = (0, 0)
    machines, others = set(), set()
    for name in wheels:
        m = WHEEL.match(name)
        if m is None:
            raise Failure(f"pip wrote a file that is not a wheel: {name}")
        plats = m["plat"].split(".")
        if plats == ["any"]:
            continue
        versions = [v for v in map(glibc, plats) if v]
        if versions:
            needs = max(needs, min(versions))
            machines.update(p.split("_", 3)[3] if p.startswith("manylinux_") else p.split("_", 1)[1]
                            for p in plats if glibc(p))
        else:
            others.update(plats)
    if others:
        raise Failure(f"some wheels are not for manylinux Linux: {', '.join(sorted(others))}")
    machine = ", ".join(sorted(machines)) or platform.machine()
    impl = platform.python_implementation()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return {"python": f"{impl} {py}", "py": py, "machine": machine,
            "arch": {"x86_64": "x86-64", "aarch64": "ARM64"}.get(machine, machine),
            "glibc": f"{needs[0]}.{needs[1]}" if needs != (0, 0) else "any"}


def readme(tgt: dict[str, str], n_wheels: int, version: str) -> str:
    return f"""\
# TCP Connection Management, Live: the classroom bundle

Everything the book needs, for a room without internet: the website (`site/`),
the chapters as notebooks (`book/`), the simulator's source (`src/`, with the
tests and tools of the project; `README.md` describes it all) and a
`wheelhouse/` of {n_wheels} wheels: every package pinned in `requirements.txt`,
the simulator itself (`tcpsim` {version}) and setuptools for an editable install.

## Read the book

Open `site/index.html` in a web browser (a double-click does it). Every page,
the search and the drop-a-packet panels work from disk, with no network and
nothing installed.

## Run the chapters in JupyterLab

The wheels are for **{tgt["python"]} on Linux {tgt["arch"]}** (`{tgt["machine"]}`,
glibc {tgt["glibc"]} or newer): that is what pip downloaded them for. On such a
laptop, from this folder (the one this file is in), with no network:

```sh
python{tgt["py"]} -m venv .venv
.venv/bin/pip install --no-index --find-links wheelhouse -r requirements.txt
.venv/bin/pip install --no-index --find-links wheelhouse --no-deps tcpsim
```

Then start JupyterLab on the chapters, open one and choose **Run All Cells**:

```sh
.venv/bin/jupyter trust book/*.ipynb
.venv/bin/jupyter lab --notebook-dir book
```

(`trust` lets the chapters show their stored diagrams before anything runs.)
The simulator's command line works too: `.venv/bin/python -m tcpsim list`.
To change the simulator and see the chapters follow, install it editable
instead of the last install line:
`.venv/bin/pip install --no-index --find-links wheelhouse --no-deps -e .`

## Two system packages, installed while there is a network

- **Python {tgt["py"]} with venv**, that version exactly: the wheels fit no other.
  Debian 12's `python3` is 3.11 (its venv module is the package `python3-venv`:
  `sudo apt-get install python3-venv`); Ubuntu 22.04 and 24.04 ship 3.10 and 3.12.
- **Graphviz** (the `dot` program lays the state diagrams out; it is not a Python
  package, so it is not in the wheelhouse): `sudo apt-get install graphviz` on
  Debian and Ubuntu. Without it the website and the notebooks' stored figures
  still show, but a cell that draws a state diagram stops with "the Graphviz 'dot'
  program is not installed".
"""


def add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = tar.gettarinfo(str(path), arcname=arcname)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    info.mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
    with path.open("rb") as f:
        tar.addfile(info, f)


def add_bytes(tar: tarfile.TarFile, data: bytes, arcname: str) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(out: Path, entries: dict[str, Path | bytes]) -> None:
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(entries):
            what = entries[rel]
            arcname = f"{NAME}/{rel}"
            if isinstance(what, bytes):
                add_bytes(tar, what, arcname)
            else:
                add_file(tar, what, arcname)
    tmp.replace(out)


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="bundle.py", description="Make the classroom bundle: the built website, the notebooks, the source "
        "and a wheelhouse of every pinned package, in one archive that installs and runs offline.")
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, metavar="OUT",
                    help=f"the archive to write, ending in .tar.gz (default: {DEFAULT_OUT}, from the repository's top)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--site", type=Path, metavar="DIR",
                     help="the built website to include (default: _build/html; ./run.sh build makes it)")
    src.add_argument("--build", action="store_true",
                     help="build the website first, in a temporary folder, with jupyter-book (warnings are errors)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        out = args.out if args.out.is_absolute() or args.out != DEFAULT_OUT else TOP / args.out
        if not out.name.endswith(".tar.gz"):
            raise Failure(f"{args.out}: the archive's name must end in .tar.gz")
        if out.is_dir():
            raise Failure(f"{args.out} is a folder; give the archive's file name (ending in .tar.gz)")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(out.parent, os.W_OK):
            raise Failure(f"cannot write into {out.parent}")
        with tempfile.TemporaryDirectory(prefix="tcp-book-bundle-") as tmpdir:
            tmp = Path(tmpdir)
            if args.build:
                site = build_site(tmp / "site-build")
            else:
                site = args.site if args.site is not None else TOP / "_build" / "html"
                if not (site / "index.html").is_file():
                    raise Failure(f"no built website in {site} (no index.html; build it with ./run.sh build, "
                                  "or pass --build)")
            source = source_files(TOP)
            wheelhouse = tmp / "wheelhouse"
            make_wheelhouse(wheelhouse, source, tmp / "project")
            wheels = sorted(p.name for p in wheelhouse.iterdir())
            version = tomllib.loads((TOP / "pyproject.toml").read_text())["project"]["version"]
            entries: dict[str, Path | bytes] = {rel: path for path, rel in source}
            site_files = sorted(p for p in site.rglob("*") if p.is_file())
            entries.update({f"site/{p.relative_to(site).as_posix()}": p for p in site_files})
            entries.update({f"wheelhouse/{w}": wheelhouse / w for w in wheels})
            entries[README] = readme(target(wheels), len(wheels), version).encode("utf-8")
            say(f"writing {out}")
            write_archive(out, entries)
            wheel_bytes = sum((wheelhouse / w).stat().st_size for w in wheels)
            site_bytes = sum(p.stat().st_size for p in site_files)
    except Failure as e:
        if e.output:
            print(e.output, file=sys.stderr)
        print(f"bundle.py: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:                     # a full disk, a folder we may not write into, ...
        print(f"bundle.py: error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bundle.py: interrupted", file=sys.stderr)
        return 130
    print(f"wrote {out}: {mb(out.stat().st_size)}, {len(entries)} files in {NAME}/ "
          f"(site/ {len(site_files)} files, {mb(site_bytes)}; wheelhouse/ {len(wheels)} wheels, {mb(wheel_bytes)}; "
          f"source {len(source)} files; {README}) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
