"""The website's live simulator, made at build time (see `tcpsim.book.web` for what it answers).

`vendor` copies into the site what the page's module Web Worker loads, all of it
from the site's own folder: Pyodide's core from the npm package ``pyodide`` (the
WebAssembly CPython, its standard library as a zip, its lock file), Graphviz
compiled to WebAssembly from ``@hpcc-js/wasm-graphviz``, both pinned by
``web/package-lock.json`` and installed by ``./run.sh setup`` with ``npm ci``,
and tcpsim's own source packed as a zip (`pack_source`, the same bytes for the
same source).  `check_under_pyodide` runs that zip under the same Pyodide in
Node and compares, for every built-in scenario, the trace JSON, the DOT text,
the state diagram's SVG and the ladder's SVG with what this interpreter
computes, laid out by the same WebAssembly Graphviz: the build fails on the
first byte that differs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]           # src/tcpsim
STATIC = Path(__file__).parent / "static"
#: what the worker loads from Pyodide's npm package (nothing else of it is needed: tcpsim's core path
#: uses the standard library only, so no wheel and no micropip)
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
GRAPHVIZ_JS = Path("@hpcc-js") / "wasm-graphviz" / "dist" / "index.js"
#: the folder of the site the live simulator's files go to (below _static/)
LIVE = "tcpsim/live"


class WebBuildError(RuntimeError):
    """The live simulator could not be made (npm packages missing, node missing, a result differs)."""


def node_modules(top: Path) -> Path:
    """web/node_modules below the book's top, checked to hold what the page needs."""
    mods = top / "web" / "node_modules"
    missing = [str(p) for p in [mods / "pyodide" / f for f in PYODIDE_FILES] + [mods / GRAPHVIZ_JS] if not p.is_file()]
    if missing:
        raise WebBuildError(f"the live simulator's JavaScript is not installed ({missing[0]} is missing): "
                            "run ./run.sh setup, which runs npm ci in web/")
    return mods


def graphviz_module(top: Path) -> Path:
    return node_modules(top) / GRAPHVIZ_JS


def live_size(top: Path) -> int:
    """How many bytes a first live run downloads: the vendored files (tcpsim's zip is a rounding error)."""
    mods = node_modules(top)
    return sum((mods / "pyodide" / f).stat().st_size for f in PYODIDE_FILES) + (mods / GRAPHVIZ_JS).stat().st_size


def pack_source() -> bytes:
    """tcpsim's Python source and built-in scenarios as a zip (sorted names, a fixed date: the same
    bytes for the same source).  Left out: the kernel recordings and the Sphinx extension's static files,
    which the page does not run."""
    def keep(rel: Path) -> bool:
        if "__pycache__" in rel.parts or rel.parts[1:2] == ("data",):
            return False
        return rel.suffix == ".py" or (rel.suffix == ".json" and "scenarios" in rel.parts)
    return _zip(PACKAGE, keep)


def vendor(top: Path, static: Path) -> dict[str, int]:
    """Copy the live simulator's files into `static` (the site's _static); file -> its size."""
    mods = node_modules(top)
    target = static / LIVE
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name in PYODIDE_FILES:
        shutil.copyfile(mods / "pyodide" / name, target / name)
        sizes[name] = (target / name).stat().st_size
    shutil.copyfile(mods / GRAPHVIZ_JS, target / "graphviz.mjs")
    sizes["graphviz.mjs"] = (target / "graphviz.mjs").stat().st_size
    (target / "tcpsim.zip").write_bytes(pack_source())
    sizes["tcpsim.zip"] = (target / "tcpsim.zip").stat().st_size
    (target / "dpkt.zip").write_bytes(pack_dpkt())
    sizes["dpkt.zip"] = (target / "dpkt.zip").stat().st_size
    return sizes


def pack_dpkt() -> bytes:
    """dpkt (pure Python, BSD-3-Clause; the version requirements.txt pins) as a zip, for the lab chapter's
    captures explained in the page: the page has no package index, so it is vendored like tcpsim."""
    from importlib.util import find_spec

    spec = find_spec("dpkt")              # where it is installed (it is not imported here: tcpsim.capture uses it)
    if spec is None or not spec.origin:
        raise WebBuildError("dpkt is not installed (./run.sh setup installs requirements.txt)")
    return _zip(Path(spec.origin).parent, lambda rel: rel.suffix == ".py" and "__pycache__" not in rel.parts)


def _zip(package: Path, keep: Callable[[Path], bool]) -> bytes:
    """The files of `package` that `keep` takes (by their path below its parent), zipped the same way
    every time (sorted names, a fixed date, one mode)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(package.parent)
            if path.is_file() and keep(rel):
                info = zipfile.ZipInfo(rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, path.read_bytes())
    return buf.getvalue()


BOOT = """
import { loadPyodide } from %(pyodide)s;
import { Graphviz } from %(graphviz)s;
import { boot } from %(boot)s;
import { readFileSync } from "node:fs";
const sim = await boot({loadPyodide, Graphviz, indexURL: %(index)s,
                        source: async () => readFileSync(%(zip)s)});
const out = {python: sim.python, graphviz: sim.graphviz};
"""
FINGERPRINTS = """
const names = %(names)s || JSON.parse(sim.call("builtins_list"));
out.results = {};
for (const name of names) out.results[name] = sim.call("fingerprint", name);
process.stdout.write(JSON.stringify(out));
"""
CAPTURE = """
sim.py.unpackArchive(new Uint8Array(readFileSync(%(dpkt)s)), "zip", {extractDir: "/tcpsim-src"});
out.results = %(captures)s.map(path => sim.call("capture", new Uint8Array(readFileSync(path)), %(options)s));
process.stdout.write(JSON.stringify(out));
"""


def _under_pyodide(top: Path, body: str | Callable[[dict[str, str]], str], files: dict[str, bytes],
                   fields: dict[str, object]) -> dict[str, Any]:
    """Run `body` (JavaScript, after BOOT: `sim` is tcpsim under Pyodide, `out` what is printed) in Node;
    `files` are written to a temporary folder and their paths given to the script as fields."""
    mods = node_modules(top)
    node = shutil.which("node")
    if node is None:
        raise WebBuildError("Node.js is not installed (apt-get install nodejs): the build runs Pyodide with it")
    with tempfile.TemporaryDirectory(prefix="tcpsim-pyodide-") as tmp:
        paths = {}
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
            paths[name] = json.dumps(str(Path(tmp) / name))
        values = {"pyodide": _url(mods / "pyodide" / "pyodide.mjs"), "graphviz": _url(mods / GRAPHVIZ_JS),
                  "boot": _url(STATIC / "tcpsim-live-boot.mjs"), "index": json.dumps(str(mods / "pyodide") + os.sep),
                  **paths, **{k: json.dumps(v) for k, v in fields.items()}}
        script = (BOOT + (body(paths) if callable(body) else body)) % values
        p = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise WebBuildError(f"tcpsim under Pyodide (node) failed: {p.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(p.stdout)
    return result


def run_under_pyodide(top: Path, source: bytes | None = None, names: list[str] | None = None) -> dict[str, Any]:
    """Every built-in scenario's (or those `names`) `tcpsim.book.web.fingerprint`, computed by Pyodide
    under Node from the packed source (or `source`):
    {"python": version, "graphviz": version, "results": {name: fingerprint}}."""
    return _under_pyodide(top, FINGERPRINTS, {"zip": source if source is not None else pack_source()},
                          {"names": names})


def explain_under_pyodide(top: Path, captures: list[bytes], options: dict[str, object] | None = None
                          ) -> dict[str, Any]:
    """Captures explained by `tcpsim.book.web.capture` under Pyodide, with dpkt unpacked from its zip as
    the page does: {"python", "graphviz", "results": [JSON text, ...]}."""
    files = {"zip": pack_source(), "dpkt": pack_dpkt(), **{f"capture{i}": c for i, c in enumerate(captures)}}

    def body(paths: dict[str, str]) -> str:
        return CAPTURE.replace("%(captures)s", "[" + ",".join(paths[f"capture{i}"] for i in range(len(captures))) + "]")
    return _under_pyodide(top, body, files, {"options": json.dumps(options or {})})


def _url(path: Path) -> str:
    """A file's URL, quoted as a JavaScript string."""
    return json.dumps(path.resolve().as_uri())


def check_under_pyodide(top: Path, got: dict[str, Any] | None = None) -> dict[str, object]:
    """Fail (WebBuildError) unless every built-in scenario gives the same bytes under Pyodide as here,
    both laid out by the WebAssembly Graphviz; returns what ran (versions, number of scenarios).
    `got`: what `run_under_pyodide` gave, if it ran already."""
    from ..render.state_diagram import _ENGINE, use_graphviz, wasm_graphviz
    from .web import fingerprint

    got = got if got is not None else run_under_pyodide(top)
    results = got["results"]
    assert isinstance(results, dict)
    before = _ENGINE
    use_graphviz(wasm_graphviz(str(graphviz_module(top))))
    try:
        for name, theirs in sorted(results.items()):
            ours = json.loads(fingerprint(name))
            theirs = json.loads(theirs)
            for part in ("trace", "dot", "state", "ladder"):
                if ours[part] != theirs[part]:
                    raise WebBuildError(f"built-in scenario {name!r}: its {part} under Pyodide "
                                        f"{got['python']} differs from this Python's")
    finally:
        use_graphviz(before)
    return {"python": got["python"], "graphviz": got["graphviz"], "scenarios": len(results)}
