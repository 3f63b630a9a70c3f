"""What TCP does when...: every state meets every kind of segment, run and explained.

One cell per state x kind of arriving segment, in its main variant (the
segment carries exactly the sequence number the state expects, RCV.NXT, and
acknowledges everything sent, SND.NXT; in CLOSED and LISTEN, where nothing is
expected, any numbers).  Each cell is a real run: a scenario brings host A
into the state with an ordinary exchange with host B, and at 0.45 s a
segment with B's address and port arrives at A, as if B had sent it.  For
each cell the table gives

* what RFC 9293 §3.10.7 prescribes, with the clauses quoted
  (`tcpsim.oracle.rfc9293`, written from the RFC's text);
* what the simulator's two profiles did;
* what Linux 6.18 did with the same segment, recorded with a raw socket
  (``tcpsim/data/linux/conformance.json``; the matrix cell of the same name);
* the ladder of the run (on the website drawn at build time and loaded when a
  cell is opened; in JupyterLab by `WhenTable.widget()`).

The words are in `tcpsim.book.text` ("when.*").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from html import escape
from typing import Any

from ..core.network import run
from ..core.records import NoticeKind
from ..core.states import State
from ..core.trace import Trace
from ..oracle import rfc9293 as rfc
from ..render.ladder import host_of, ladder
from .text import html, t

DELAY = 0.05            # one way, as in the chapters
AT = 0.45               # when the segment leaves B
WINDOW = 0.099          # A's replies counted until the next reaction of B could arrive
TEXT_BYTES = 10         # the data-bearing kinds carry 10 bytes

#: The rows: name -> (RFC 9293 state, passive, the book's name).
STATES: dict[str, tuple[str, bool, str]] = {
    "CLOSED": ("CLOSED", True, "CLOSED"),
    "LISTEN": ("LISTEN", True, "LISTEN"),
    "SYN-SENT": ("SYN-SENT", False, "SYN_SENT"),
    "SYN-RECEIVED": ("SYN-RECEIVED", True, "SYN_RECEIVED"),
    "SYN-RECEIVED(active)": ("SYN-RECEIVED", False, "SYN_RECEIVED*"),
    "ESTABLISHED": ("ESTABLISHED", True, "ESTABLISHED"),
    "FIN-WAIT-1": ("FIN-WAIT-1", True, "FIN_WAIT_1"),
    "FIN-WAIT-2": ("FIN-WAIT-2", True, "FIN_WAIT_2"),
    "CLOSE-WAIT": ("CLOSE-WAIT", True, "CLOSE_WAIT"),
    "CLOSING": ("CLOSING", True, "CLOSING"),
    "LAST-ACK": ("LAST-ACK", True, "LAST_ACK"),
    "TIME-WAIT": ("TIME-WAIT", True, "TIME_WAIT"),
}
#: The columns: name -> (tcpsim flags, data bytes), as in the conformance matrix.
KINDS: dict[str, tuple[str, int]] = {
    "SYN": ("S", 0), "SYN-ACK": ("SA", 0), "ACK": ("A", 0), "FIN": ("F", 0), "FIN-ACK": ("FA", 0),
    "RST": ("R", 0), "RST-ACK": ("RA", 0), "SYN-FIN": ("SF", 0),
    "DATA-ACK": ("A", TEXT_BYTES), "DATA-FIN-ACK": ("FA", TEXT_BYTES),
}
PROFILES = ("rfc9293", "linux")
_LETTER = {"S": "SYN", "F": "FIN", "R": "RST", "A": "ACK", "P": "PSH"}
_RFC_STATE = {s: s.value.replace("_", "-") for s in State}
_TOLD = {NoticeKind.RESET: rfc.RESET, NoticeKind.REFUSED: rfc.REFUSED}


# --------------------------------------------------------------------------- the scenarios

def _drop(src: str, flags: str, nth: int | str = "all") -> dict[str, Any]:
    return {"action": "drop", "src": src, "flags": flags, "nth": nth}


def base_scenario(state: str, profile: str) -> dict[str, Any]:
    """A scenario in which host A is in `state` at 0.45 s (nothing injected yet)."""
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    a_port, b_port = 80, 40000
    if state == "SYN-SENT":                       # A connects; its SYNs are lost
        a_port, b_port = 40000, 80
        a = [{"t": 0, "call": "connect", "to": "B"}]
        rules = [_drop("A", "S")]
    elif state == "SYN-RECEIVED(active)":         # both connect at once; the SYN-ACKs are lost
        a_port, b_port = 40000, 80
        a = [{"t": 0, "call": "connect", "to": "B"}]
        b = [{"t": 0, "call": "connect", "to": "A", "port": 40000, "sport": 80}]
        rules = [_drop("A", "SA", 1), _drop("B", "SA", 1)]     # (a rule also sees the injected segment)
    elif state != "CLOSED":
        a = [{"t": 0, "call": "listen"}]
        if state != "LISTEN":
            b = [{"t": 0, "call": "connect", "to": "A"}]
        if state == "SYN-RECEIVED":               # B's ACK of the SYN-ACK is lost
            rules = [_drop("B", "A", 1)]
        elif state in ("FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT"):
            a.append({"t": 0.3, "call": "close"})
            if state == "FIN-WAIT-1":
                rules = [_drop("A", "FA")]
            if state == "TIME-WAIT":
                b.append({"on": "eof", "call": "close"})
        elif state in ("CLOSE-WAIT", "LAST-ACK"):
            b.append({"t": 0.3, "call": "close"})
            if state == "LAST-ACK":
                a.append({"on": "eof", "call": "close"})
                rules = [_drop("B", "A", 2)]      # B's last ACK (its first A was the handshake's)
        elif state == "CLOSING":
            a.append({"t": 0.3, "call": "close"})
            b.append({"t": 0.3, "call": "close"})
            rules = [_drop("B", "A", 2)]          # B's ACK of A's FIN
    return {"name": f"when-{state}", "profile": profile, "delay": DELAY, "until": AT + 0.4,
            "endpoints": {"A": {"port": a_port, "isn": 300, "calls": a},
                          "B": {"port": b_port, "isn": 100, "calls": b}},
            "network": {"rules": rules}}


@dataclass(frozen=True)
class Numbers:
    """A's variables when the segment arrives (absolute), and the ports of the segment."""

    iss: int
    irs: int
    snd_una: int
    snd_nxt: int
    rcv_nxt: int | None
    sport: int
    dport: int


def numbers(state: str, profile: str) -> Numbers:
    sc = base_scenario(state, profile)
    sc["until"] = AT + DELAY
    tr = run(sc)
    a_port, b_port = sc["endpoints"]["A"]["port"], sc["endpoints"]["B"]["port"]
    if state == "CLOSED":
        return Numbers(0, 0, 0, 0, None, 5000, 9)
    if state == "LISTEN":
        return Numbers(0, 0, 0, 0, None, 5000, a_port)
    arrive = sc["until"]
    sent = [r.seg for r in tr.segments if r.seg.src == "A"]
    got = [r.seg for r in tr.segments if r.seg.src == "B" and not r.dropped and r.arrive is not None
           and r.arrive <= arrive * 1_000_000]
    iss = next(s.seq for s in sent if "S" in s.flags)
    snd_nxt = max(s.seq + s.seg_len for s in sent)
    acks = [s.ack for s in got if s.ack is not None]
    snd_una = max(acks) if acks else iss
    syn = [s for s in got if "S" in s.flags]
    irs = syn[0].seq if syn else 0
    rcv_nxt = max((s.seq + s.seg_len for s in got), default=None) if syn else None
    return Numbers(iss, irs, snd_una, snd_nxt, rcv_nxt, b_port, a_port)


def cell_id(state: str, kind: str, n: Numbers) -> str:
    """The conformance matrix's name of the cell (tests/test_conformance.py)."""
    flags, _ = KINDS[kind]
    if state in ("CLOSED", "LISTEN"):
        seq, ack = "any:1000", "any:77777"
    elif state == "SYN-SENT":
        seq, ack = "any:0", "acceptable"
    else:
        seq, ack = "RCV.NXT", "acceptable" if n.snd_una != n.snd_nxt else "SND.UNA"
    return f"{state}|{kind}|seq={seq}" + (f"|ack={ack}" if "A" in flags else "")


def the_segment(state: str, kind: str, n: Numbers) -> tuple[int, int | None]:
    """SEG.SEQ and SEG.ACK of the cell's segment."""
    flags, _ = KINDS[kind]
    if state in ("CLOSED", "LISTEN"):
        seq, ack = 1000, 77777
    elif state == "SYN-SENT":
        seq, ack = 0, n.snd_nxt
    else:
        assert n.rcv_nxt is not None
        seq, ack = n.rcv_nxt, n.snd_nxt
    return seq, (ack if "A" in flags else None)


def cell_scenario(state: str, kind: str, profile: str) -> dict[str, Any]:
    n = numbers(state, profile)
    flags, text = KINDS[kind]
    seq, ack = the_segment(state, kind, n)
    sc = base_scenario(state, profile)
    sc["name"] = f"when-{state}-{kind}"
    inject: dict[str, Any] = {"t": AT, "src": "B", "sport": n.sport, "dst": "A", "dport": n.dport,
                              "flags": flags, "seq": seq, "len": text}
    if ack is not None:
        inject["ack"] = ack
    sc["network"]["inject"] = [inject]
    return sc


# --------------------------------------------------------------------------- one cell

@dataclass(frozen=True)
class Answer:
    """What a TCP did: its replies (<SEQ=..><ACK=..><CTL=..>, relative to ISS and IRS),
    its next state (RFC 9293's spelling) and what its user was told."""

    replies: tuple[str, ...]
    state: str
    told: str | None
    #: the simulator's table row that decided (its source and label), where known
    rule: str = ""
    #: False for an RFC outcome whose text does not say what is sent
    determined: bool = True

    def _ctls(self) -> list[str]:
        return [r.split("<CTL=")[1].split(">")[0] for r in self.replies]

    def short(self) -> str:
        ctl = "+".join(self._ctls()) or ("—" if self.determined else "?")
        told = t("when.short.told", what=self.told.split()[-1]) if self.told else ""
        return f"{ctl} → {self.state.replace('-', '_')}{told}"

    def same(self, other: Answer) -> bool:
        """The same replies, next state and notice; an undetermined reply matches any."""
        if not (self.determined and other.determined):
            return (self.state, self.told) == (other.state, other.told)
        return (self.replies, self.state, self.told) == (other.replies, other.state, other.told)

    def alike(self, other: Answer) -> bool:
        """The same kinds of reply, next state and notice (numbers aside: the kernel's
        connection in ESTABLISHED and CLOSE-WAIT had 100 bytes in flight)."""
        if not (self.determined and other.determined):
            return (self.state, self.told) == (other.state, other.told)
        return (self._ctls(), self.state, self.told) == (other._ctls(), other.state, other.told)

    def describe(self) -> str:
        told = t("when.told", what=self.told) if self.told else t("when.told.nothing")
        replies = (" ".join(self.replies) or t("when.nothing")) if self.determined else t("when.undetermined")
        return t("when.answer", replies=replies, state=self.state.replace("-", "_"), told=told)


def _reply(flags: str, seq: int | str, ack: int | None) -> str:
    ctl = ",".join(_LETTER[c] for c in flags if c != "P")
    return f"<SEQ={seq}>" + ("" if ack is None else f"<ACK={ack}>") + f"<CTL={ctl}>"


def _rel(x: int, base: int) -> int:
    return (x - base + (1 << 31)) % (1 << 32) - (1 << 31)


@dataclass(frozen=True)
class Cell:
    state: str
    kind: str
    numbers: Numbers
    segment: tuple[int, int | None]
    verdict: rfc.Verdict
    runs: dict[str, Trace]
    sim: dict[str, Answer]
    kernel: Answer | None

    @property
    def key(self) -> str:
        return f"{self.state}|{self.kind}"

    @property
    def anchor(self) -> str:
        return "when-" + "".join(c if c.isalnum() else "-" for c in self.key).lower()

    @property
    def id(self) -> str:
        return cell_id(self.state, self.kind, self.numbers)

    def rfc_answer(self) -> Answer:
        return self._rfc_answers()[0]

    def _rel_reply(self, ctl: str, seq: int | str, ack: int | None) -> str:
        n = self.numbers
        if self.state not in ("CLOSED", "LISTEN") and isinstance(seq, int):
            seq = _rel(seq, n.iss)
            if ack is not None and self.state != "SYN-SENT":
                ack = _rel(ack, n.irs)
        return f"<SEQ={seq}>" + ("" if ack is None else f"<ACK={ack}>") + f"<CTL={ctl}>"

    def rfc_agrees(self, profile: str = "rfc9293") -> bool:
        """Whether the simulator's `profile` did one of the things RFC 9293 allows."""
        return any(self.sim[profile].same(a) for a in self._rfc_answers())

    def _rfc_answers(self) -> list[Answer]:
        """Every outcome RFC 9293's text allows, the plainest first."""
        return [Answer((), o.state, o.told, determined=False) if o.replies is None else
                Answer(tuple(self._rel_reply(r.ctl, r.seq, r.ack) for r in o.replies), o.state, o.told)
                for o in self.verdict.outcomes]

    def clauses(self) -> tuple[rfc.Clause, ...]:
        return self.verdict.primary.clauses


def _answer(trace: Trace, state: str, n: Numbers) -> Answer:
    """A's reaction in `trace` to the segment that arrived at AT + DELAY."""
    arrive = round((AT + DELAY) * 1_000_000)
    until = arrive + round(WINDOW * 1_000_000)
    reps = []
    for r in trace.segments:
        s = r.seg
        if s.src != "A" or not arrive <= r.t <= until:
            continue
        seq: int | str = s.seq
        ack = s.ack
        if state in ("CLOSED", "LISTEN"):
            if "S" in s.flags:
                seq = "ISS"
        elif "R" in s.flags and s.seq == 0 and state != "SYN-SENT":
            seq = 0                               # the reset form for a segment without ACK
            if ack is not None:
                ack = _rel(ack, n.irs)
        else:
            seq = _rel(s.seq, n.iss)
            if ack is not None and state != "SYN-SENT":
                ack = _rel(ack, n.irs)
        reps.append(_reply(s.flags, seq, ack))
    mine = [c for c in trace.changes if host_of(c.endpoint) == "A" and c.t == arrive]
    if mine:
        last = mine[-1]
        st = _RFC_STATE[last.new]
        if last.old is State.SYN_RECEIVED and last.new is State.LISTEN:
            st = "LISTEN"
    else:
        st = state.split("(")[0]
    told = [_TOLD[nr.what] for nr in trace.notices
            if host_of(nr.endpoint) == "A" and nr.t == arrive and nr.what in _TOLD]
    rules = [c.rule for c in mine if c.rule is not None] + [x.rule for x in trace.loops
                                                             if host_of(x.endpoint) == "A" and x.t == arrive]
    rule = t("when.rule", label=rules[0].label, source=rules[0].rfc) if rules else ""
    return Answer(tuple(reps), st, told[0] if told else None, rule)


def _kernel(rec: dict[str, Any] | None) -> Answer | None:
    if rec is None:
        return None
    reps = tuple(_reply(r["flags"], r["seq"], r["ack"]) + (f" +{r['len']}" if r["len"] else "")
                 for r in rec["replies"])
    return Answer(reps, rec["state"], rec["told"])


def _oracle(state: str, kind: str, n: Numbers, seg: tuple[int, int | None]) -> rfc.Verdict:
    name, passive, _ = STATES[state]
    flags, text = KINDS[kind]
    s = rfc.Seg(frozenset(_LETTER[c] for c in flags), seg[0] % (1 << 32), seg[1], text)
    if state == "CLOSED":
        return rfc.segment_arrives(None, s)
    if state == "LISTEN":
        return rfc.segment_arrives(rfc.Tcb("LISTEN"), s)
    assert n.rcv_nxt is not None or state == "SYN-SENT"
    tcb = rfc.Tcb(name, iss=n.iss, irs=n.irs, snd_una=n.snd_una, snd_nxt=n.snd_nxt,
                  rcv_nxt=n.rcv_nxt or 0, passive=passive)
    return rfc.segment_arrives(tcb, s)


def make_cell(state: str, kind: str, kernel: dict[str, Any] | None = None) -> Cell:
    n = numbers(state, "rfc9293")
    seg = the_segment(state, kind, n)
    runs = {p: run(cell_scenario(state, kind, p)) for p in PROFILES}
    sim = {p: _answer(runs[p], state, numbers(state, p)) for p in PROFILES}
    rec = (kernel or {}).get("cells", {}).get(cell_id(state, kind, n))
    return Cell(state, kind, n, seg, _oracle(state, kind, n, seg), runs, sim, _kernel(rec))


# --------------------------------------------------------------------------- the table

class WhenTable:
    """Every state x kind of segment (`STATES` x `KINDS`), with the RFC's answer,
    the simulator's and (given the recording, `tcpsim.data.linux("conformance")`)
    the Linux kernel's."""

    def __init__(self, kernel: dict[str, Any] | None = None):
        self.kernel = kernel
        self.kernel_name = (kernel or {}).get("kernel", "")

    def __repr__(self) -> str:
        return f"<WhenTable {len(STATES)} states x {len(KINDS)} kinds of segment>"

    @cached_property
    def cells(self) -> dict[str, Cell]:
        return {f"{s}|{k}": make_cell(s, k, self.kernel) for s in STATES for k in KINDS}

    # ------------------------------------------------------------ numbers
    def counts(self) -> dict[str, int]:
        cells = self.cells.values()
        return {"cells": len(self.cells),
                "rfc9293 profile agrees with the RFC": sum(c.rfc_agrees("rfc9293") for c in cells),
                "linux profile agrees with the RFC": sum(c.rfc_agrees("linux") for c in cells),
                "recorded on Linux": sum(c.kernel is not None for c in cells),
                "Linux differs from the RFC": sum(c.kernel is not None and not any(
                    c.kernel.alike(a) for a in c._rfc_answers()) for c in cells),
                "linux profile agrees with Linux": sum(c.kernel is not None and c.sim["linux"].alike(c.kernel)
                                                       for c in cells)}

    # ------------------------------------------------------------ HTML
    def spec(self) -> dict[str, Any]:
        return {"when": 1, "kernel": self.kernel_name}

    def _cell_html(self, c: Cell) -> str:
        r = c.rfc_answer()
        alts = c._rfc_answers()[1:]
        also = "".join(f'<span class="tcpsim-when-also">{html("when.cell.also", short=a.short())}</span>'
                       for a in alts[:1])
        linux = c.kernel or c.sim["linux"]
        differs = not any(linux.alike(a) for a in c._rfc_answers())
        mark = (f'<span class="tcpsim-when-linux">{html("when.cell.linux", short=linux.short())}</span>'
                if differs else "")
        return (f'<td><a href="#{c.anchor}" data-cell="{escape(c.key)}">{escape(r.short())}</a>{also}{mark}</td>')

    def _details_html(self, c: Cell) -> str:
        flags, text = KINDS[c.kind]
        seq, ack = c.segment
        n = c.numbers
        rel_seq = seq if c.state in ("CLOSED", "LISTEN", "SYN-SENT") else _rel(seq, n.irs)
        rel_ack = None if ack is None else (ack if c.state in ("CLOSED", "LISTEN") else _rel(ack, n.iss))
        seg = _reply(flags, rel_seq, rel_ack) + (f" +{text}" if text else "")
        parts = [f'<details id="{c.anchor}" class="tcpsim-when-cell" data-cell="{escape(c.key)}">',
                 f'<summary>{html("when.summary", state=STATES[c.state][2], kind=c.kind)}</summary>',
                 f'<p>{html("when.segment", segment=seg)}</p>',
                 f'<p>{html("when.rfc", answer=c.rfc_answer().describe())}</p>']
        for alt in c._rfc_answers()[1:]:
            parts.append(f'<p>{html("when.rfc.also", answer=alt.describe())}</p>')
        quotes = [html("when.clause", section=cl.section, text=cl.text) for cl in c.clauses()]
        parts.append('<blockquote class="tcpsim-when-clauses">' + "".join(f"<p>{q}</p>" for q in quotes)
                     + "</blockquote>")
        for p in PROFILES:
            a = c.sim[p]
            if c.rfc_agrees(p):
                line = html("when.sim.agrees", profile=p, answer=a.describe(), rule=a.rule or "—")
            else:
                line = html("when.sim.differs", profile=p, answer=a.describe(), rule=a.rule or "—")
            parts.append(f"<p>{line}</p>")
        if c.kernel is not None:
            if c.kernel.alike(c.sim["linux"]):
                line = html("when.kernel.same", kernel=self.kernel_name, answer=c.kernel.describe(), id=c.id)
            else:
                line = html("when.kernel.other", kernel=self.kernel_name, answer=c.kernel.describe(), id=c.id)
            parts.append(f"<p>{line}</p>")
        parts.append(f'<div class="tcpsim-when-ladder" data-cell="{escape(c.key)}">'
                     f'<p class="tcpsim-note">{escape(t("when.ladder.note"))}</p></div></details>')
        return "".join(parts)

    def _repr_html_(self) -> str:
        spec = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        head = "".join(f'<th scope="col">{escape(k)}</th>' for k in KINDS)
        rows = []
        for s, (_, _, label) in STATES.items():
            cells = "".join(self._cell_html(self.cells[f"{s}|{k}"]) for k in KINDS)
            rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
        details = "".join(self._details_html(self.cells[f"{s}|{k}"]) for s in STATES for k in KINDS)
        return (f'<div class="tcpsim-when" data-tcpsim-when="1">'
                f'<script type="application/json" class="tcpsim-when-spec">{spec}</script>'
                f'<div class="tcpsim-when-scroll" tabindex="0" role="region" aria-label="{escape(t("when.caption"))}">'
                f'<table class="tcpsim-when-table"><caption>{escape(t("when.caption"))}</caption>'
                f'<thead><tr><th scope="col">{escape(t("when.corner"))}</th>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div>'
                f'<p class="tcpsim-when-legend">{escape(t("when.legend"))}</p>'
                f'<div class="tcpsim-when-cells">{details}</div></div>')

    # ------------------------------------------------------------ ladders
    def ladders(self) -> dict[str, list[str]]:
        """Per cell, the ladder of its run (the rfc9293 profile's; the linux profile's too where it differs)."""
        return {key: self.ladders_of(c) for key, c in self.cells.items()}

    def widget(self) -> Any:
        """Choose a state and a segment; see the answers and the ladder (ipywidgets, for JupyterLab)."""
        import ipywidgets as w  # type: ignore[import-untyped]

        state = w.Dropdown(options=[(v[2], k) for k, v in STATES.items()], value="ESTABLISHED",
                           description=t("when.widget.state"))
        kind = w.Dropdown(options=list(KINDS), value="RST", description=t("when.widget.kind"))
        out = w.HTML(layout=w.Layout(width="100%"))

        def show(_: Any = None) -> None:
            c = self.cells[f"{state.value}|{kind.value}"]
            body = self._details_html(c).replace("<details ", "<details open ")
            svgs = "".join(f'<div style="max-width:100%;overflow-x:auto">{s}</div>'
                           for s in self.ladders_of(c))
            out.value = body.replace(f'<p class="tcpsim-note">{escape(t("when.ladder.note"))}</p>', svgs)

        state.observe(show, "value")
        kind.observe(show, "value")
        show()
        from .live import live_box_class

        box = live_box_class()([w.HBox([state, kind]), out], layout=w.Layout(width="100%"))
        box.static = f'<p class="tcpsim-note">{escape(t("when.widget.static"))}</p>'
        return box

    def ladders_of(self, c: Cell) -> list[str]:
        svgs = [ladder(c.runs["rfc9293"], relative=True,
                       title=t("when.ladder.title", profile="rfc9293", cell=c.key)).svg()]
        if not c.sim["linux"].same(c.sim["rfc9293"]):
            svgs.append(ladder(c.runs["linux"], relative=True,
                               title=t("when.ladder.title", profile="linux", cell=c.key)).svg())
        return svgs
