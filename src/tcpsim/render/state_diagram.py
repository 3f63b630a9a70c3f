"""The TCP state diagram, drawn from the transition table.

Design
------
There is no hand-written DOT file.  `state_diagram` picks rows of
`tcpsim.table.RULES` (a *view*, for one profile's table), turns every
state-changing row into an edge labelled ``event / segment sent``
(`Rule.edge_label`) and lays the states out the way RFC 9293 Figure 5 does,
with fixed ranks:

    rank 0   CLOSED
    rank 1   LISTEN
    rank 2   SYN_RECEIVED        SYN_SENT
    rank 3            ESTABLISHED
    rank 4   FIN_WAIT_1                  CLOSE_WAIT
    rank 5   FIN_WAIT_2   CLOSING        LAST_ACK
    rank 6                TIME_WAIT
    rank 7                       CLOSED (drawn a second time)

CLOSED is drawn twice, as in most textbooks: connections are born at the top
one and die at the bottom one (an edge into CLOSED from ESTABLISHED or a
closing state goes to the bottom copy), so no edge has to climb the whole
figure.  Rows with the same pair of states share one edge with one label line
per row, which keeps the "all" view legible; `Diagram.edges` keeps the
structured list, so tests compare it with the table rather than parse DOT.

A run (`trace=`) is painted on top: for one endpoint or two (Okabe-Ito blue
and vermillion), the states visited are tinted, each transition taken is
drawn thick in the endpoint's colour with the endpoint's name and the
transition's number ("client: 2") under its label line, and the current state
gets a thick border and a "client is here" line -- so nothing depends on
colour alone.  Transitions the run takes that the view does not show are
added.  `step=k` paints the run as it stood after the first k events of
`trace_events(trace)` (segments and state changes in the order of
`Trace.rows()`), which is what a widget needs to animate it.

Building the DOT text is plain string work (tens of microseconds); rendering
is one `dot -Tsvg` subprocess per distinct DOT text (results are cached by
source), called directly because the `graphviz` package's ``pipe()`` adds
nothing we need.  The SVG is made deterministic and
accessible afterwards: graphviz's comments (which carry its version) are
removed, and a `<title>`, a `<desc>` (the plain-English description) and
``role="img"`` are added.  The figure is drawn on an explicit white
background so that it stays readable on a dark page (graphviz paints
``bgcolor`` as a rectangle; ``currentColor`` would not survive being loaded
through an ``<img>`` tag).

How the code is laid out
------------------------
`state_diagram` does three things in order: the view's edges (`view_rules`,
`_view_edges`), then `paint_run` -- which states and edges a trace visited up
to step k, recorded on the edges and in a `Painted` -- then `write_dot`, which
only writes what the first two decided.  Every word comes from `render.text`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TypeAlias

from ..core.states import State
from ..core.table import RULES, Rule
from ..core.trace import StateChange, Trace, trace_events
from .figure import DARK_GREY, DIM, EDGE_GREY, INK, OKABE_ITO, Figure, aria, esc, svg_uid, title_and_desc
from .text import t

S = State

#: Okabe-Ito colours for endpoints 1..4 (blue, vermillion, bluish green, reddish purple),
#: and light tints of them for the states an endpoint visited.
PALETTE = OKABE_ITO[:4]
TINTS = ("#D5E8F4", "#F8DDCC", "#CCEDE3", "#F4E1EC")
EDGE = EDGE_GREY       # edges of the view
FONT = "DejaVu Sans"

#: A view: one of `VIEWS`, or the states whose rows to draw.
View: TypeAlias = "str | Iterable[State]"
VIEWS = ("figure", "all", "handshake", "close")
HANDSHAKE_STATES = frozenset({S.CLOSED, S.LISTEN, S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED})
#: States from which a connection falls into the *bottom* CLOSED.
LATE_STATES = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT,
                         S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
CLOSE_STATES = LATE_STATES | {S.CLOSED}

TOP, BOTTOM = "CLOSED", "CLOSED_end"
#: node id -> (rank, order within the rank)
LAYOUT = {
    TOP: (0, 1),
    "LISTEN": (1, 1),
    "SYN_RECEIVED": (2, 0), "SYN_SENT": (2, 2),
    "ESTABLISHED": (3, 1),
    "FIN_WAIT_1": (4, 0), "CLOSE_WAIT": (4, 2),
    "FIN_WAIT_2": (5, 0), "CLOSING": (5, 1), "LAST_ACK": (5, 2),
    "TIME_WAIT": (6, 1),
    BOTTOM: (7, 2),
}


def node_id(state: State, came_from: State | None = None) -> str:
    """The node a state is drawn as: CLOSED entered from a late state is the bottom copy."""
    if state is S.CLOSED and came_from in LATE_STATES:
        return BOTTOM
    return state.value


def node_state(nid: str) -> State:
    return S.CLOSED if nid == BOTTOM else S(nid)


def _place(nid: str, default: tuple[int, int] = (9, 0)) -> tuple[int, int]:
    """(rank, order within the rank) of a node."""
    return LAYOUT.get(nid, default)


# ------------------------------------------------------------------ steps
def _changes_until(trace: Trace, step: int | None) -> list[StateChange]:
    if step is None:
        return list(trace.changes)
    return [e for e in trace_events(trace)[:max(step, 0)] if isinstance(e, StateChange)]


def _order_until(trace: Trace, step: int | None) -> int | None:
    """The order number of the step-th event (None: the whole run)."""
    if step is None:
        return None
    evs = trace_events(trace)[:max(step, 0)]
    return evs[-1].order if evs else -1


def describe_path(trace: Trace, endpoint: str, step: int | None = None) -> str:
    """One line: "client: CLOSED → SYN_SENT (connect) → ESTABLISHED (rcv SYN,ACK) → ..."."""
    upto = {id(c) for c in _changes_until(trace, step)}
    changes = [c for c in trace.lineage(endpoint) if id(c) in upto]
    if not changes:
        first = trace.lineage(endpoint)
        return t("path", endpoint=endpoint, path=first[0].old.value if first else t("unknown"))
    parts = [changes[0].old.value]
    for c in changes:
        parts.append(t("path.step", state=c.new.value, cause=c.cause) if c.cause else c.new.value)
    return t("path", endpoint=endpoint, path=t("path.arrow").join(parts))


# ------------------------------------------------------------------ views
#: which what-if rows to draw: True for all, False for none, or what-if names
WhatIf: TypeAlias = bool | str | Iterable[str]


def _whatifs(whatif: WhatIf) -> frozenset[str]:
    if whatif is True:
        return frozenset(r.whatif for r in RULES if r.whatif)
    if whatif is False:
        return frozenset()
    return frozenset((whatif,) if isinstance(whatif, str) else whatif)


def view_rules(view: View = "figure", whatif: WhatIf = False, profile: str = "linux") -> tuple[Rule, ...]:
    """The state-changing rows a view draws, from `profile`'s table.

    `view` is "figure" (RFC 9293 Figure 5), "all" (every state-changing
    row), "handshake", "close", or an iterable of `State`s (every
    state-changing row between two of them).  What-if rows only when asked
    for: `whatif=True` for all of them, or the name(s) of the what-ifs
    ("two_way_handshake", "no_rfc5961").
    """
    wanted = _whatifs(whatif)
    rows = [r for r in RULES if r.changes_state and r.holds_for(profile) and (not r.whatif or r.whatif in wanted)]
    if view == "figure":
        return tuple(r for r in rows if r.figure or r.whatif)
    if view == "all":
        return tuple(rows)
    if view == "handshake":
        keep = HANDSHAKE_STATES
    elif view == "close":
        keep = CLOSE_STATES
    elif isinstance(view, str):
        raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)} or a set of States")
    else:
        keep = frozenset(view)
    out = [r for r in rows if r.state in keep and r.next in keep]
    if view == "close":       # only the bottom CLOSED belongs to the closing chapter
        out = [r for r in out if r.state is not S.CLOSED]
    elif view == "handshake":  # ...and ESTABLISHED's ways out belong there too
        out = [r for r in out if r.state is not S.ESTABLISHED]
    return tuple(out)


# ------------------------------------------------------------------ model
#: What an edge draws: a table row, or the cause of a change no row made (a str).
EdgeRule: TypeAlias = "Rule | str"


@dataclass
class Edge:
    """One drawn edge: all rows from `tail` to `head` (node ids)."""

    tail: str
    head: str
    rules: list[EdgeRule] = field(default_factory=list)
    extra: bool = False                              # added because a run took it
    #: rule -> [(endpoint index, ordinal), ...]; ordinal 0 for a loop (a row that kept the state)
    taken: dict[EdgeRule, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.tail}->{self.head}"


@dataclass
class Painted:
    """A run as painted on the diagram (empty without a run)."""

    endpoints: list[str] = field(default_factory=list)              # in colour order
    path: dict[str, list[StateChange]] = field(default_factory=dict)  # endpoint -> changes painted
    current: dict[str, State] = field(default_factory=dict)         # endpoint -> state at the step shown
    visited: dict[str, list[int]] = field(default_factory=dict)     # node id -> endpoint indexes
    here: dict[str, list[int]] = field(default_factory=dict)        # node id -> endpoints whose current state it is


class Diagram(Figure):
    """A state diagram: DOT source plus lazily rendered (and cached) SVG/PNG."""

    formats = (".svg", ".png")

    def __init__(self, dot: str, edges: list[Edge], nodes: dict[str, State], view: View, endpoints: list[str],
                 path: dict[str, list[StateChange]], current: dict[str, State], title: str, desc: str):
        self.dot = dot
        self.edges = edges            # structured edge list (what the DOT draws)
        self.nodes = nodes            # node id -> State
        self.view = view
        self.endpoints = endpoints    # endpoints painted, in colour order
        self.path = path              # endpoint -> [StateChange, ...] painted
        self.current = current        # endpoint -> State at the step shown
        self.title = title
        self.desc = desc

    @property
    def rules(self) -> list[Rule]:
        """Every table row drawn, in edge order (without rule-less changes)."""
        return [r for e in self.edges for r in e.rules if isinstance(r, Rule)]

    def svg(self) -> str:
        return _render_svg(self.dot, self.title, self.desc)

    def png(self, dpi: int = 144) -> bytes:
        return _render(self.dot, "png", dpi)

    def _repr_fields(self) -> str:
        return f"view={self.view!r} edges={len(self.edges)} endpoints={self.endpoints}"


# ------------------------------------------------------------------ the diagram
def state_diagram(view: View = "figure", trace: Trace | None = None, endpoints: Iterable[str] | None = None,
                  step: int | None = None, *, whatif: WhatIf = False, title: str | None = None,
                  profile: str = "linux") -> Diagram:
    """The state diagram for `view`, with a run's path painted if `trace` is given.

    endpoints: names to paint (at most 4; default: the first two of the run).
    step: paint the run as of its first `step` events (`trace_events`).
    profile: whose table to draw ("linux", "rfc9293", ...; `Rule.holds_for`).
    """
    edges = _view_edges(view_rules(view, whatif, profile))
    nodes: dict[str, State] = {}
    for (a, b) in edges:
        nodes.setdefault(a, node_state(a))
        nodes.setdefault(b, node_state(b))
    if isinstance(view, str) and view in ("figure", "all"):
        for nid in LAYOUT:
            nodes.setdefault(nid, node_state(nid))
    run = paint_run(trace, endpoints, step, edges, nodes) if trace is not None else Painted()
    edge_list = sorted(edges.values(), key=lambda e: (_place(e.tail, (9, 9)), _place(e.head, (9, 9))))
    dot = write_dot(nodes, edge_list, run, painted=trace is not None)
    vname = view if isinstance(view, str) else t("sd.custom_view")
    eps = run.endpoints
    ttl = title or (t("sd.title.path", view=vname, endpoints=t("list.and").join(eps)) if eps else
                    t("sd.title", view=vname))
    desc = _describe(edge_list, nodes, trace, run, step)
    return Diagram(dot, edge_list, nodes, view, eps, run.path, run.current, ttl, desc)


def _view_edges(rules: Iterable[Rule]) -> dict[tuple[str, str], Edge]:
    """The view's edges: one per pair of nodes, with every row between them."""
    edges: dict[tuple[str, str], Edge] = {}
    for r in rules:
        key = (node_id(r.state), node_id(r.next, r.state))
        edges.setdefault(key, Edge(*key)).rules.append(r)
    return edges


def _describe(edges: list[Edge], nodes: dict[str, State], trace: Trace | None, run: Painted,
              step: int | None) -> str:
    states = len(set(nodes.values()))            # CLOSED may be drawn twice: count it once
    if len(nodes) > states:
        out = [t("sd.desc.twice", states=states, transitions=len(edges))]
    else:
        out = [t("sd.desc", states=states, transitions=len(edges))]
    if trace is not None:
        where = t("sd.at_end") if step is None else t("sd.after_step", step=step)
        for ep in run.endpoints:
            out.append(t("sd.desc.path", path=describe_path(trace, ep, step), where=where,
                         state=run.current[ep].value))
    return " ".join(out)


# ------------------------------------------------------------------ painting a run
def paint_run(trace: Trace, endpoints: Iterable[str] | None, step: int | None,
              edges: dict[tuple[str, str], Edge], nodes: dict[str, State]) -> Painted:
    """Mark what `trace` visited up to `step`: edges taken (added to `edges` if the
    view lacks them), nodes visited (added to `nodes`), where each endpoint is."""
    run = Painted(list(endpoints) if endpoints is not None else trace.endpoints()[:2])
    if len(run.endpoints) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} endpoints can be painted, got {len(run.endpoints)}")
    changes = _changes_until(trace, step)
    until = _order_until(trace, step)
    for k, ep in enumerate(run.endpoints):
        _paint_path(trace, k, ep, changes, run, edges, nodes)
        # rows that kept the state (a retransmission, a re-ACK in TIME_WAIT,
        # a SYN dropped by a full queue) are drawn as loops with a count
        lineage = trace.lineage(ep)
        for loop in trace.loops_of(ep):
            if until is not None and loop.order > until:
                continue
            # a loop in CLOSED after the connection ended (an RST answering a late FIN)
            # belongs to the bottom CLOSED, where the endpoint's path ended
            before = [c for c in lineage if c.order < loop.order]
            lid = node_id(loop.state, before[-1].old if before and before[-1].new is loop.state else None)
            _take(edges, lid, lid, loop.rule, (k, 0))
            nodes.setdefault(lid, loop.state)
    return run


def _paint_path(trace: Trace, k: int, ep: str, changes: list[StateChange], run: Painted,
                edges: dict[tuple[str, str], Edge], nodes: dict[str, State]) -> None:
    """Endpoint number `k`'s state changes, numbered 1, 2, ... along their edges."""
    upto = {id(c) for c in changes}
    everything = trace.lineage(ep)              # a listener's child starts at CLOSED -> LISTEN
    mine = [c for c in everything if id(c) in upto]
    if not everything:
        raise ValueError(f"no endpoint {ep!r} in the trace; it has {trace.endpoints()}")
    run.path[ep] = mine
    start = everything[0].old
    nid = node_id(start)
    nodes.setdefault(nid, start)
    run.visited.setdefault(nid, []).append(k)
    for n, c in enumerate(mine, 1):
        # a change out of CLOSED starts at the top copy, like the table's edges
        tail = nid if (node_state(nid) is c.old and c.old is not S.CLOSED) else node_id(c.old)
        head = node_id(c.new, c.old)
        _take(edges, tail, head, c.rule if c.rule is not None else (c.cause or t("unknown")), (k, n))
        nodes.setdefault(tail, c.old)
        nodes.setdefault(head, c.new)
        if k not in run.visited.setdefault(head, []):
            run.visited[head].append(k)
        nid = head
    run.current[ep] = node_state(nid)
    run.here.setdefault(nid, []).append(k)


def _take(edges: dict[tuple[str, str], Edge], tail: str, head: str, rule: EdgeRule, mark: tuple[int, int]) -> None:
    """Record that `rule` was taken along tail -> head (an edge added if the view lacks it)."""
    e = edges.get((tail, head))
    if e is None:
        e = edges[(tail, head)] = Edge(tail, head, extra=True)
    if rule not in e.rules:
        e.rules.append(rule)
    e.taken.setdefault(rule, []).append(mark)


# ------------------------------------------------------------------ writing the DOT
def _q(s: str) -> str:
    """A DOT string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dot(nodes: dict[str, State], edge_list: list[Edge], run: Painted, painted: bool) -> str:
    """The DOT text: graph defaults, the ranks, the nodes, the edges (in `edge_list` order)."""
    lines = [
        "digraph tcp_states {",
        f'graph [rankdir=TB, newrank=true, nodesep=0.35, ranksep=0.42, bgcolor="white", pad="0.25", '
        f'fontname={_q(FONT)}, splines=true, outputorder=edgesfirst];',
        f'node [shape=box, style="rounded,filled", fillcolor="white", color={_q(INK)}, fontcolor={_q(INK)}, '
        f'fontname={_q(FONT)}, fontsize=13, height=0.42, margin="0.14,0.05", penwidth=1.2];',
        f'edge [fontname={_q(FONT)}, fontsize=10, color={_q(DIM if painted else EDGE)}, '
        f'fontcolor={_q(DARK_GREY if painted else INK)}, arrowsize=0.7, penwidth=1.1];',
    ]
    lines += _rank_stmts(nodes, {(e.tail, e.head) for e in edge_list})
    for nid in sorted(nodes, key=_place):
        lines.append(_node_stmt(nid, run.visited.get(nid, []), run.here.get(nid, []), run.endpoints))
    for e in edge_list:
        if e.taken:
            lines.append(_edge_stmt(e, run.endpoints))
        else:   # the common case: a plain edge, the same in every frame of a widget
            lines.append(_plain_edge_stmt(e.tail, e.head, tuple(e.rules), e.extra))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _rank_stmts(nodes: dict[str, State], pairs: set[tuple[str, str]]) -> list[str]:
    """One rank=same group per row of the layout, ordered left to right by invisible
    edges, and a spine of invisible edges that keeps the ranks in order even when a
    view lacks a row."""
    out = []
    by_rank: dict[int, list[str]] = {}
    for nid in nodes:
        by_rank.setdefault(_place(nid)[0], []).append(nid)
    for rank in sorted(by_rank):
        row = sorted(by_rank[rank], key=lambda n: _place(n)[1])
        out.append("{rank=same; " + "; ".join(_q(n) for n in row) + ";}")
        for a, b in pairwise(row):
            if (a, b) not in pairs and (b, a) not in pairs:   # a real flat edge orders them already
                out.append(f"{_q(a)} -> {_q(b)} [style=invis, weight=3];")
    ranks = sorted(by_rank)
    for r0, r1 in pairwise(ranks):
        a = min(by_rank[r0], key=lambda n: abs(_place(n, (9, 1))[1] - 1))
        b = min(by_rank[r1], key=lambda n: abs(_place(n, (9, 1))[1] - 1))
        out.append(f"{_q(a)} -> {_q(b)} [style=invis, weight=2];")
    return out


def _node_stmt(nid: str, visited: list[int], here: list[int], eps: list[str]) -> str:
    name = node_state(nid).value
    attrs = []
    if visited:
        tints = [TINTS[k] for k in visited]
        if len(tints) == 1:
            attrs.append(f"fillcolor={_q(tints[0])}")
        else:
            attrs.append('style="filled,striped"')
            attrs.append(f"fillcolor={_q(':'.join(tints))}")
    if here:
        who = "".join(f'<BR/><FONT POINT-SIZE="10" COLOR="{PALETTE[k]}"><B>{esc(t("sd.here", endpoint=eps[k]))}'
                      f'</B></FONT>' for k in here)
        attrs.append(f"label=<<B>{esc(name)}</B>{who}>")
        attrs.append("penwidth=3.2")
    elif nid == BOTTOM:
        attrs.append(f"label={_q(name)}")
    return f"{_q(nid)} [{', '.join(attrs)}];" if attrs else f"{_q(nid)};"


def _rule_text(r: EdgeRule) -> str:
    return r.edge_label if isinstance(r, Rule) else str(r)


@lru_cache(maxsize=1024)
def _plain_edge_stmt(tail: str, head: str, rules: tuple[EdgeRule, ...], extra: bool) -> str:
    return _edge_stmt(Edge(tail, head, list(rules), extra), [])


def _edge_stmt(e: Edge, eps: list[str]) -> str:
    attrs = []
    # An edge that climbs, or runs right to left within a rank, is written the
    # other way round with dir=back: dot ranks and orders it like the others
    # (and avoids its flat-edge bugs), and the arrow still points the right way.
    flip = _place(e.head) < _place(e.tail)
    if flip:
        attrs.append("dir=back")
    if e.tail == e.head and _place(e.tail, (9, 1))[1] == 0:
        attrs.append('tailport="w", headport="w"')   # left column: loop on the free, outer side
    if e.taken:
        who = sorted({k for lst in e.taken.values() for k, _ in lst})
        attrs += [_taken_label(e, eps), f"color={_q(':'.join(PALETTE[k] for k in who))}",
                  f"fontcolor={_q(INK)}", "penwidth=2.6", "arrowsize=0.8"]
    else:
        attrs.append("label=" + _q("\n".join(_rule_text(r) for r in e.rules)))
    if e.extra:
        attrs.append("style=dashed" if not e.taken else 'style="bold"')
    attrs.append(f"id={_q('e:' + e.id)}")
    a, b = (e.head, e.tail) if flip else (e.tail, e.head)
    return f"{_q(a)} -> {_q(b)} [{', '.join(attrs)}];"


def _taken_label(e: Edge, eps: list[str]) -> str:
    """One line per row, a taken row in bold with a line of who took it: when
    ("client: 1, 3"), or for a loop how often ("client ×2")."""
    rows = []
    for r in e.rules:
        text = esc(_rule_text(r))
        if r not in e.taken:
            rows.append(text)
            continue
        rows.append(f"<B>{text}</B>")
        by_ep: dict[int, list[int]] = {}
        for k, n in e.taken[r]:
            by_ep.setdefault(k, []).append(n)
        tags = []
        for k, ns in sorted(by_ep.items()):
            if e.tail == e.head:
                tag = t("sd.loops", endpoint=eps[k], n=len(ns))
            else:
                tag = t("sd.taken", endpoint=eps[k], steps=t("list.sep").join(map(str, ns)))
            tags.append(f'<FONT COLOR="{PALETTE[k]}"><B>{esc(tag)}</B></FONT>')
        rows.append("  ".join(tags))
    return "label=<" + "<BR/>".join(rows) + ">"


# ------------------------------------------------------------------ rendering
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def dot_binary() -> str:
    exe = shutil.which("dot")
    if exe is None:  # pragma: no cover - depends on the machine
        raise RuntimeError("the Graphviz 'dot' program is not installed (apt-get install graphviz)")
    return exe


@lru_cache(maxsize=256)
def _render(dot: str, fmt: str, dpi: int = 0) -> bytes:
    args = [dot_binary(), f"-T{fmt}"]
    if dpi:
        args.append(f"-Gdpi={dpi}")
    p = subprocess.run(args, input=dot.encode("utf-8"), capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"dot failed: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout


#: What lays a DOT text out as SVG, when not Debian's `dot` (see `use_graphviz`).
_ENGINE: Callable[[str], str] | None = None


def use_graphviz(engine: Callable[[str], str] | None) -> None:
    """Lay the state diagrams out with `engine` (DOT text -> SVG text) instead of `dot`; None goes back
    to `dot`.  The website's live simulator gives Graphviz compiled to WebAssembly (under Pyodide there is
    no `dot` to run), and the website's build the same build run by Node (`wasm_graphviz`), so that a
    figure computed in the page and one computed at build time are laid out alike, to the byte."""
    global _ENGINE
    _ENGINE = engine
    _render_svg.cache_clear()


def wasm_graphviz(module: str) -> Callable[[str], str]:
    """An engine for `use_graphviz`: the Graphviz WebAssembly build at `module` (the path of the npm
    package @hpcc-js/wasm-graphviz's dist/index.js), run by one long-lived `node` process."""
    return _NodeGraphviz(module)


class _NodeGraphviz:
    """`node` runs the WebAssembly Graphviz; one JSON line in (the DOT text), one out (SVG or error)."""

    DRIVER = (
        'import { Graphviz } from %s; import * as readline from "node:readline";'
        "const g = await Graphviz.load();"
        "const rl = readline.createInterface({input: process.stdin, crlfDelay: Infinity});"
        "for await (const line of rl) { let out;"
        " try { out = {svg: g.dot(JSON.parse(line))}; } catch (e) { out = {error: String(e)}; }"
        " process.stdout.write(JSON.stringify(out) + '\\n'); }")

    def __init__(self, module: str):
        self.module = module
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("Node.js is not installed (apt-get install nodejs); it runs the WebAssembly Graphviz")
        if not os.path.isfile(self.module):
            raise RuntimeError(f"no WebAssembly Graphviz at {self.module} (./run.sh setup installs it with npm)")
        url = json.dumps(Path(self.module).resolve().as_uri())
        return subprocess.Popen([node, "--input-type=module", "-e", self.DRIVER % url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def __call__(self, dot: str) -> str:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(dot) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the WebAssembly Graphviz (node) stopped")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"Graphviz failed: {out['error']}")
        return str(out["svg"])


def _engine_from_environment() -> None:
    """TCPSIM_WASM_GRAPHVIZ, if set, names the WebAssembly Graphviz to lay diagrams out with (the website's
    build sets it, so that the notebooks it runs draw as the page's live simulator does)."""
    module = os.environ.get("TCPSIM_WASM_GRAPHVIZ")
    if module:
        use_graphviz(wasm_graphviz(module))


@lru_cache(maxsize=256)
def _render_svg(dot: str, title: str, desc: str) -> str:
    svg = _ENGINE(dot) if _ENGINE is not None else _render(dot, "svg").decode("utf-8")
    return tidy_svg(svg, title, desc)


def tidy_svg(svg: str, title: str, desc: str) -> str:
    """Make graphviz's SVG deterministic and accessible (see the module docstring)."""
    svg = _COMMENT.sub("", svg)
    uid = svg_uid("tcpsd-", title, desc)
    m = _SVG_OPEN.search(svg)
    if m is None:  # pragma: no cover
        raise RuntimeError("dot produced no <svg> element")
    head = m.group(0)[:-1] + f" {aria(uid)}>"
    extra = "".join("\n" + el for el in title_and_desc(uid, title, desc))
    return svg[:m.start()] + head + extra + svg[m.end():]


_engine_from_environment()
