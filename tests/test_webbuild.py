"""The live simulator's build (tcpsim.book.webbuild): tcpsim under Pyodide gives the native bytes.

For every built-in scenario, Pyodide (CPython 3.14 in WebAssembly, run by Node from the pinned npm
package) computes the trace JSON, the state diagram's DOT text and SVG and the ladder's SVG from
the zip the site carries; they must equal this interpreter's byte for byte.  The state diagram's
SVG is laid out by Graphviz in WebAssembly on both sides (the site's layout); against Debian's
`dot` it may differ in layout numbers only: the same nodes, edges and words in the same order.
"""

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from tcpsim.book import web
from tcpsim.book.webbuild import WebBuildError, check_under_pyodide, pack_source, run_under_pyodide
from tcpsim.core.scenario import builtin_names
from tcpsim.render.state_diagram import _ENGINE, use_graphviz, wasm_graphviz

TOP = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyodide_results():
    return run_under_pyodide(TOP)


def test_every_built_in_scenario_gives_the_same_bytes_under_pyodide(pyodide_results):
    checked = check_under_pyodide(TOP, pyodide_results)
    assert checked["scenarios"] == len(builtin_names()) and checked["python"].startswith("3.14")


def test_pyodide_runs_the_packed_source_of_every_built_in(pyodide_results):
    assert sorted(pyodide_results["results"]) == sorted(builtin_names())
    assert pyodide_results["graphviz"] == "16.1.0"


WORDS = re.compile(r"<(?:text|title)[^>]*>([^<]*)<")


@pytest.mark.parametrize("name", builtin_names())
def test_against_debian_dot_the_state_diagram_differs_in_layout_numbers_only(pyodide_results, name):
    """The trace and the DOT text are the same bytes as this Python's (laid out by Debian's `dot` here),
    and the drawing holds the same words in the same order; only coordinates may move."""
    theirs = json.loads(pyodide_results["results"][name])
    ours = json.loads(web.fingerprint(name))          # this process draws with Debian's dot
    assert theirs["trace"] == ours["trace"] and theirs["dot"] == ours["dot"] and theirs["ladder"] == ours["ladder"]
    assert WORDS.findall(theirs["state"]) == WORDS.findall(ours["state"])
    tags = re.compile(r"<(\w+)")
    assert tags.findall(theirs["state"]) == tags.findall(ours["state"])      # the same elements, in order


def test_the_check_fails_when_the_page_would_draw_something_else():
    """A zip whose ladder draws another word than this Python's: the comparison names it."""
    src = zipfile.ZipFile(io.BytesIO(pack_source()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "tcpsim/render/text.py":
                data = data.replace(b'"lost"', b'"gone"', 1)
                assert b'"gone"' in data
            z.writestr(info, data)
    name = "lost-syn"
    changed = run_under_pyodide(TOP, source=out.getvalue(), names=[name])
    with pytest.raises(WebBuildError, match=r"scenario 'lost-syn': its ladder under Pyodide 3\.14\.\d+ differs"):
        check_under_pyodide(TOP, changed)
    theirs, ours = json.loads(changed["results"][name]), json.loads(web.fingerprint(name))
    assert theirs["trace"] == ours["trace"] and theirs["ladder"] != ours["ladder"]


def test_the_source_zip_is_the_same_bytes_every_time_and_holds_what_the_page_runs():
    a, b = pack_source(), pack_source()
    assert a == b
    names = zipfile.ZipFile(io.BytesIO(a)).namelist()
    for needed in ("tcpsim/book/web.py", "tcpsim/core/network.py", "tcpsim/render/ladder.py",
                   "tcpsim/core/scenarios/connect-close.json"):
        assert needed in names
    assert not [n for n in names if n.startswith("tcpsim/data/") or "__pycache__" in n or n.endswith((".js", ".css"))]
    assert len(a) < 250_000


def test_missing_npm_packages_are_a_clear_error(tmp_path):
    with pytest.raises(WebBuildError, match=r"run \./run\.sh setup, which runs npm ci in web/"):
        run_under_pyodide(tmp_path)


def test_the_page_side_answers_bad_input_with_a_message_not_a_traceback():
    assert json.loads(web.scenario("{not json")) == {
        "error": "not JSON: Expecting property name enclosed in double quotes at line 1, column 2", "where": ""}
    bad = json.loads(web.scenario(json.dumps({"endpoints": {"a": {"calls": [{"t": -1, "call": "listen"}]}}})))
    assert bad["where"] == "endpoints.a.calls[0].t" and bad["error"].startswith("endpoints.a.calls[0].t: ")
    assert "error" in json.loads(web.scenario(json.dumps([1, 2])))
    assert "error" in json.loads(web.panel(json.dumps({"scenario": "connect-close"}), "{}"))
    spec = json.dumps({"scenario": "connect-close", "knobs": [], "view": "figure", "relative": False,
                       "title": "t", "endpoints": None})
    assert json.loads(web.panel(spec, json.dumps({"drops": [99]})))["error"] == \
        "ValueError: no segment 99 to drop; choose from 1 to 6"


def test_captures_are_explained_under_pyodide_as_here():
    """The lab chapter's drop zone: dpkt (pure Python) and tcpsim.capture under Pyodide's CPython 3.14
    give the native explanation, state diagram included (both laid out by the WebAssembly Graphviz);
    a file that is no capture gets the same one-line error."""
    from tcpsim.book.webbuild import explain_under_pyodide, graphviz_module
    from tcpsim.capture import SAMPLES, sample

    data = [sample(name) for name in SAMPLES] + [b"not a capture at all"]
    got = explain_under_pyodide(TOP, data)
    before = _ENGINE
    use_graphviz(wasm_graphviz(str(graphviz_module(TOP))))
    try:
        for raw, theirs in zip(data, got["results"], strict=True):
            assert json.loads(theirs) == json.loads(web.capture(raw))
    finally:
        use_graphviz(before)
    assert json.loads(got["results"][-1])["error"].startswith("not a pcap or pcapng capture")
