"""The package's layers: core <- render <- book, core <- render <- capture (beside the book),
and core needs only the standard library;
the RFC oracle and the kernel data stand alone (they import nothing of the simulator).

The live web page runs `tcpsim.core` and `tcpsim.render` under Pyodide, which
has the standard library and nothing else, so these rules are checked on the
source itself (every import statement, at any depth) and on a fresh
interpreter (what ``import tcpsim.core`` really loads).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tcpsim"
STDLIB = sys.stdlib_module_names

#: layer -> the tcpsim layers it may import (besides itself and the standard library)
ALLOWED = {"core": set(), "render": {"core"}, "book": {"core", "render", "oracle", "data", "capture"},
           "oracle": set(), "data": set(), "capture": {"core", "render"}}
#: packages outside the standard library a layer may import (lazily, inside a function)
#: (docutils: the book's Sphinx extension, tcpsim.book.sphinx, works on Sphinx's document trees)
#: (dpkt: the capture explainer reads pcap and pcapng with it, tcpsim.capture.reader)
THIRD_PARTY = {"core": set(), "render": set(), "book": {"ipywidgets", "IPython", "docutils"},
               "oracle": set(), "data": set(), "capture": {"dpkt"}}


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def modules(layer: str):
    yield from sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    bad = []
    for path in modules(layer):
        rel = path.relative_to(SRC.parent).with_suffix("")
        package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts[:-1])
        for line, name in imports_of(path, package):
            top = name.split(".")[0]
            if top == "tcpsim":
                parts = name.split(".")
                other = parts[1] if len(parts) > 1 else ""
                if other != layer and other not in ALLOWED[layer]:
                    bad.append(f"{path.name}:{line} imports {name}")
            elif top not in STDLIB and top != "__future__" and top not in THIRD_PARTY[layer]:
                bad.append(f"{path.name}:{line} imports {name} (not in the standard library)")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The scan above is not vacuous: a core module importing a renderer is caught."""
    f = tmp_path / "x.py"
    f.write_text("from ..render import ladder\nimport yaml\n")
    names = [n for _, n in imports_of(f, "tcpsim.core")]
    assert names == ["tcpsim.render", "yaml"]


def loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_importing_the_core_loads_neither_renderers_nor_widgets():
    loaded = loaded_after("import tcpsim.core.network, tcpsim.core.scenario")
    assert "tcpsim.core.network" in loaded
    assert not [m for m in loaded if m.startswith(("tcpsim.render", "tcpsim.book"))]
    assert not [m for m in loaded if m.split(".")[0] in {"ipywidgets", "IPython", "yaml", "graphviz"}]


def test_the_public_api_is_lazy_and_complete():
    import tcpsim

    loaded = loaded_after("import tcpsim")
    assert not [m for m in loaded if m.startswith(("tcpsim.render", "tcpsim.book"))]
    for name in tcpsim.__all__:
        assert getattr(tcpsim, name) is not None, name
    assert tcpsim.run("connect-close").final["client"].value == "CLOSED"
    with pytest.raises(AttributeError):
        tcpsim.no_such_name  # noqa: B018


def test_old_import_paths_are_the_new_modules():
    import tcpsim.book.panels
    import tcpsim.core.network
    import tcpsim.diagram
    import tcpsim.network
    import tcpsim.render.state_diagram
    import tcpsim.widgets

    assert tcpsim.network is tcpsim.core.network
    assert tcpsim.diagram is tcpsim.render.state_diagram
    assert tcpsim.widgets is tcpsim.book.panels
    from tcpsim.errors import ScenarioError
    from tcpsim.scenario import load
    with pytest.raises(ScenarioError):
        load({"endpoints": {}})
