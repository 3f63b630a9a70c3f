"""The diagrams are drawn from the table and the trace, and say what they show."""

import base64
import copy
import html
import re
import shutil
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from tcpsim import diagram
from tcpsim.diagram import describe_path, node_state, state_diagram, trace_events, view_rules
from tcpsim.ladder import describe, ladder
from tcpsim.network import run
from tcpsim.render.figure import Figure, inline_svgs, svg_img
from tcpsim.render.text import TEXT
from tcpsim.scenario import builtin
from tcpsim.states import State
from tcpsim.table import RULES
from tcpsim.trace import StateChange

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
SVG = "{http://www.w3.org/2000/svg}"
RENDER = Path(__file__).resolve().parent.parent / "src" / "tcpsim" / "render"


def scenario(drop=(), simultaneous=False):
    d = copy.deepcopy(builtin("connect-close"))
    if drop:
        d["network"] = {"drop": list(drop)}
    if simultaneous:
        d["endpoints"]["server"]["calls"] = [{"t": 0, "call": "listen"}, {"t": 2, "call": "close"}]
    return d


@pytest.fixture(scope="module")
def plain():
    return run(scenario())


@pytest.fixture(scope="module")
def lost_synack():
    return run(scenario(drop=[2]))


@pytest.fixture(scope="module")
def lost_last_ack():
    return run(scenario(drop=[6]))


# ------------------------------------------------------------------ state diagram: structure
def test_all_view_draws_exactly_the_state_changing_rows():
    d = state_diagram("all")
    expected = [r for r in RULES if r.changes_state and not r.whatif and r.holds_for("linux")]
    assert sorted(d.rules, key=RULES.index) == expected          # each row once, no row missing
    for e in d.edges:
        for r in e.rules:
            assert (r.state, r.next) == (node_state(e.tail), node_state(e.head))
            assert r.edge_label in d.dot
    # one DOT edge statement per drawn edge (the invisible layout edges aside)
    drawn = [ln for ln in d.dot.splitlines() if " -> " in ln and "style=invis" not in ln]
    assert len(drawn) == len(d.edges)


def test_whatif_rows_only_when_asked():
    whatif = {r for r in RULES if r.whatif and r.changes_state}
    assert whatif and not whatif & set(state_diagram("all").rules)
    assert whatif <= set(state_diagram("all", whatif=True).rules)


def test_figure_view_is_rfc_figure_5():
    assert set(state_diagram("figure").rules) == {r for r in RULES if r.figure and r.holds_for("linux")}
    # each profile's diagram draws its own rows: the ACK of a FIN is delayed only in Linux's
    for profile in ("linux", "rfc9293"):
        rows = [r for r in view_rules("figure", profile=profile)
                if (r.state, r.event) == (State.ESTABLISHED, r.event.RCV_FIN)]
        assert [r.profiles for r in rows] == [frozenset({profile})]


def test_each_profile_draws_its_own_table():
    for profile in ("linux", "rfc9293"):
        d = state_diagram("all", profile=profile)
        assert set(d.rules) == set(view_rules("all", profile=profile))
        assert all(r.holds_for(profile) for r in d.rules)
    assert set(state_diagram("all", profile="linux").rules) != set(state_diagram("all", profile="rfc9293").rules)


def test_chapter_views_keep_to_their_states():
    hs = state_diagram("handshake")
    assert {s for s in hs.nodes.values()} <= {State.CLOSED, State.LISTEN, State.SYN_SENT,
                                              State.SYN_RECEIVED, State.ESTABLISHED}
    close = state_diagram("close")
    assert State.LISTEN not in close.nodes.values()
    assert set(view_rules("close")) <= set(view_rules("all"))


def test_closed_is_drawn_twice_in_the_full_figure():
    d = state_diagram("figure")
    assert {"CLOSED", "CLOSED_end"} <= set(d.nodes)
    into_bottom = {r.state for e in d.edges if e.head == "CLOSED_end" for r in e.rules}
    assert into_bottom == {State.TIME_WAIT, State.LAST_ACK}


# ------------------------------------------------------------------ state diagram: a run's path
@pytest.mark.parametrize("fixture", ["plain", "lost_synack", "lost_last_ack"])
def test_path_is_the_traces_state_changes(fixture, request):
    tr = request.getfixturevalue(fixture)
    d = state_diagram("figure", tr)
    assert d.endpoints == tr.endpoints()[:2]
    for k, ep in enumerate(d.endpoints):
        mine = tr.lineage(ep)   # a listener's child: from the listener's CLOSED -> LISTEN
        assert d.path[ep] == mine
        # the edges marked as taken by this endpoint, in order, retrace its states
        taken = sorted(((n, node_state(e.tail), node_state(e.head), r)
                        for e in d.edges for r, who in e.taken.items() for (kk, n) in who if kk == k and n > 0),
                       key=lambda x: x[0])
        states = tr.states(ep)
        assert [(a, b) for (_, a, b, _) in taken] == list(pairwise(states))
        assert [r for (*_, r) in taken] == [c.rule for c in mine]
        assert d.current[ep] == states[-1] == tr.final[ep]


def test_taken_transition_outside_the_view_is_added(plain):
    d = state_diagram("handshake", plain)
    extra = {(node_state(e.tail), node_state(e.head)) for e in d.edges if e.extra}
    assert (State.ESTABLISHED, State.FIN_WAIT_1) in extra       # the client's close
    assert State.TIME_WAIT in d.nodes.values()


def test_step_by_step(plain):
    events = trace_events(plain)
    assert len(events) == len(plain.segments) + len(plain.changes)
    for k in range(len(events) + 1):
        d = state_diagram("figure", plain, step=k)
        for ep in d.endpoints:
            lineage = {id(c) for c in plain.lineage(ep)}
            done = [e for e in events[:k] if isinstance(e, StateChange) and id(e) in lineage]
            assert d.path[ep] == done
            assert d.current[ep] == (done[-1].new if done else plain.states(ep)[0])
    assert state_diagram("figure", plain, step=len(events)).dot == state_diagram("figure", plain).dot


def test_describe_path(plain):
    text = describe_path(plain, "client")
    assert text.startswith("client: CLOSED → SYN_SENT (connect) → ESTABLISHED (rcv SYN,ACK)")
    assert text.endswith("CLOSED (2MSL timeout)")
    assert describe_path(plain, "client", step=0) == "client: CLOSED"


@needs_dot
def test_state_diagram_svg_is_deterministic_and_accessible(lost_last_ack):
    d = state_diagram("figure", lost_last_ack)
    first = d.svg()
    diagram._render.cache_clear()
    diagram._render_svg.cache_clear()
    second = state_diagram("figure", run(scenario(drop=[6]))).svg()
    assert first == second
    assert "Generated by graphviz" not in first and "<!--" not in first
    root = ET.fromstring(first)
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    assert root[0].tag == SVG + "title" and "TCP state diagram" in root[0].text
    assert root[1].tag == SVG + "desc" and "client: CLOSED → SYN_SENT" in root[1].text
    assert d._repr_svg_() == first


@needs_dot
def test_state_diagram_save(tmp_path, plain):
    d = state_diagram("close", plain)
    assert d.save(tmp_path / "d.svg").read_text().count("<svg") == 1
    assert d.save(tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        d.save(tmp_path / "d.pdf")


# ------------------------------------------------------------------ ladder
def parse(svg: str):
    return ET.fromstring(svg)


def test_ladder_marks_loss_and_retransmission(lost_synack):
    svg = ladder(lost_synack).svg()
    root = parse(svg)
    groups = [g for g in root.iter(SVG + "g") if "seg" in (g.get("class") or "").split()]
    dropped = [g for g in groups if "dropped" in g.get("class").split()]
    rtx = [g for g in groups if "rtx" in g.get("class").split()]
    assert len(dropped) == 1 and len(rtx) >= 1
    line = dropped[0].find(SVG + "line")
    assert line.get("stroke-dasharray")                                   # dashed
    assert dropped[0].find(f"{SVG}path[@class='lost']") is not None       # the ✕
    assert "lost" in dropped[0].find(SVG + "title").text
    assert all(g.find(SVG + "line").get("stroke-dasharray") for g in rtx)
    assert "(rtx)" in svg
    assert ">lost<" in svg
    assert "RTO 1 s" in svg


def test_ladder_time_wait_bracket_and_restart(lost_last_ack):
    svg = ladder(lost_last_ack).svg()
    assert "TIME_WAIT 2MSL 60 s" in svg
    assert "2MSL restarts" in svg
    assert "≈ 60 s" in svg               # the minute of TIME_WAIT is a break, not 60 s of paper


def test_ladder_is_deterministic_and_accessible(lost_last_ack):
    a = ladder(lost_last_ack).svg()
    b = ladder(run(scenario(drop=[6]))).svg()
    assert a == b
    root = parse(a)
    assert root.get("role") == "img"
    assert root[0].tag == SVG + "title" and "Ladder diagram" in root[0].text
    assert root[1].tag == SVG + "desc" and "client → server" in root[1].text
    assert root[2].tag == SVG + "rect" and root[2].get("fill") == "#FFFFFF"   # own background


def test_ladder_relative_numbers(plain):
    rel = ladder(plain, relative=True).svg()
    assert "SYN seq=0<" in rel and "SYN,ACK seq=0 ack=1" in rel
    assert "SYN seq=100<" in ladder(plain).svg()


def test_ladder_steps(plain):
    n = len(trace_events(plain))
    assert ladder(plain, step=n).svg() == ladder(plain).svg()
    empty = parse(ladder(plain, step=0).svg())
    assert not [g for g in empty.iter(SVG + "g") if "seg" in (g.get("class") or "")]
    # the layout does not move between frames
    assert ladder(plain, step=3).height == ladder(plain).height


def test_ladder_simultaneous_close_and_more_hosts():
    tr = run(scenario(simultaneous=True))
    svg = ladder(tr).svg()
    assert svg.count(">CLOSING<") == 2 and svg.count(">TIME_WAIT<") == 2
    three = ladder(tr, hosts=["client", "server", "observer"])
    assert three.width > ladder(tr).width


def test_describe(lost_synack):
    lines = describe(lost_synack)
    assert lines[0].strip() == "at 0 s client: CLOSED → SYN_SENT (connect)"
    seg = [ln for ln in lines if ln[0].isdigit()]
    assert seg[0] == "1. at 0 s client → server: SYN seq=100, arrives at 0.05 s"
    assert seg[1] == "2. at 0.05 s server → client: SYN,ACK seq=300 ack=101 (lost)"
    assert "(rtx)" in seg[2]
    assert len(seg) == len(lost_synack.segments)
    assert describe(lost_synack, states=False) == seg


def test_rows_that_keep_the_state_are_drawn_as_counted_loops():
    """A lost SYN-ACK leaves both paths unchanged, but the diagram shows what
    happened meanwhile: loops with counts on the states where it happened."""
    plain = state_diagram("figure", run("connect-close"))
    lossy = state_diagram("figure", run("connect-close", drop=[2]))
    loops = {(node_state(e.tail), r.event.value, tuple(who)) for e in lossy.edges if e.tail == e.head
             for r, who in e.taken.items()}
    assert (State.SYN_SENT, "retransmission timeout", ((0, 0),)) in loops       # the client, once
    assert (State.SYN_RECEIVED, "retransmission timeout", ((1, 0),)) in loops   # the server, once
    assert (State.SYN_RECEIVED, "rcv SYN", ((1, 0),)) in loops                  # the repeated SYN
    assert not any(e.tail == e.head for e in plain.edges)
    assert "client ×1" in lossy.dot and plain.svg() != lossy.svg()


# ------------------------------------------------------------------ what both figures share
def test_both_figures_are_figures(tmp_path, plain):
    lad = ladder(plain)
    assert isinstance(lad, Figure) and lad._repr_svg_() == lad.svg()
    assert lad.save(tmp_path / "l.svg").read_text(encoding="utf-8") == lad.svg()
    with pytest.raises(ValueError, match=r"\.svg"):
        lad.save(tmp_path / "l.png")        # a ladder's PNG comes from a browser (tools/render_figures.py)
    assert repr(lad) == f"<Ladder {lad.width}x{lad.height}>"
    d = state_diagram("close", plain)
    assert isinstance(d, Figure)
    assert repr(d) == f"<Diagram view='close' edges={len(d.edges)} endpoints=['client', 'server']>"


IMG = re.compile(r'<img class="tcpsim-svg" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"'
                 r' style="max-width:100%;height:auto">')


@pytest.mark.parametrize("make", [lambda tr: ladder(tr), lambda tr: state_diagram("close", tr)],
                         ids=["ladder", "state diagram"])
def test_a_figure_is_stored_as_svg_and_as_an_img_an_untrusted_notebook_shows(plain, make):
    """JupyterLab shows image/svg+xml only in a trusted notebook; text/markdown with a data-URI
    <img> in any (tests/browser/test_lab.py sees it)."""
    from IPython.core.formatters import DisplayFormatter

    fig = make(plain)
    data, _ = DisplayFormatter().format(fig)
    assert sorted(data) == ["image/svg+xml", "text/markdown", "text/plain"]
    assert data["image/svg+xml"] == fig.svg() and data["text/plain"] == repr(fig)
    m = IMG.fullmatch(data["text/markdown"])
    assert m, data["text/markdown"][:200]
    assert base64.b64decode(m.group(1), validate=True).decode("utf-8") == fig.svg()     # the very same SVG
    assert html.unescape(m.group(2)) == f"{fig.title}: {fig.desc}"                        # what it shows, in words
    again, _ = DisplayFormatter().format(make(plain))                                      # a fresh render
    assert again == data


def test_svg_img_and_inline_svgs_undo_each_other(plain):
    svg = ladder(plain).svg()
    page = f"<div>{svg_img(svg)}</div><p>{svg_img(svg, 'width:1px')}</p>"
    assert "<svg" not in page and 'style="width:1px"' in page
    assert inline_svgs(page) == f"<div>{svg}</div><p>{svg}</p>"
    with pytest.raises(ValueError, match="title"):
        svg_img("<svg></svg>")


def test_every_word_of_a_figure_is_in_the_text_table():
    """Every key the renderers look up exists and every text is used, so a
    translation that replaces `TEXT` misses nothing."""
    source = "".join(p.read_text(encoding="utf-8") for p in sorted(RENDER.glob("*.py")) if p.name != "text.py")
    assert set(re.findall(r'\bt\("([\w.]+)"', source)) == set(TEXT)


def test_a_translation_plugs_in(monkeypatch, lost_synack):
    monkeypatch.setitem(TEXT, "mark.lost", "perdu")
    monkeypatch.setitem(TEXT, "sd.here", "{endpoint} est ici")
    assert ">perdu<" in ladder(lost_synack).svg()
    assert "client est ici" in state_diagram("figure", lost_synack).dot


def test_the_renderers_take_time_units_from_the_core():
    for p in RENDER.glob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "1_000_000" not in text and "1e6" not in text, p.name


def test_a_loop_after_the_end_is_drawn_on_the_bottom_closed():
    """lost-last-ack-no-time-wait: the client closed (no TIME_WAIT) and answers the
    retransmitted FIN with an RST from CLOSED; that CLOSED is the one its path ended in."""
    tr = run("lost-last-ack-no-time-wait")
    assert [(x.endpoint, x.state.value) for x in tr.loops if x.endpoint == "client"] == [("client", "CLOSED")]
    d = state_diagram("figure", tr, endpoints=["client", "server"])
    loops = {(e.tail, e.head) for e in d.edges if e.tail == e.head}
    assert ("CLOSED_end", "CLOSED_end") in loops and ("CLOSED", "CLOSED") not in loops


def test_a_ladder_of_some_hosts_describes_only_them():
    sc = {"endpoints": {"a": {"port": 40000, "calls": [{"t": 0, "call": "connect", "to": "s"}]},
                        "b": {"port": 40001, "calls": [{"t": 1, "call": "connect", "to": "s"}]},
                        "s": {"port": 80, "calls": [{"t": 0, "call": "listen"}]}}}
    lad = ladder(run(sc), hosts=["b", "s"])
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", lad.svg(), re.S).group(1)
    assert " b → s" in desc and " a → s" not in desc and "a: " not in desc
