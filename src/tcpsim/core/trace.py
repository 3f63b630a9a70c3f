"""The trace of a run: every segment on the wire and every state change.

Times are kept as integer microseconds and shown as seconds.  The JSON form
is the project's exchange format (documented in the README):

    {"format": 2, "scenario": name,
     "segments": [{"t", "src", "dst", "flags", "seq", "ack", "len", "dropped",
                   "sport", "dport", "arrive", "rtx", "note", "i"}, ...],
     "states":   {name: [{"t", "from", "to", "cause", "rule"}, ...]},
     "notices":  [{"t", "endpoint", "what", "detail"}, ...],
     "loops":    [{"t", "endpoint", "state", "cause"}, ...],
     "listener_of": {child name: listener name},
     "final":    {name: state}, "end": seconds}

Names (format 2): a host's connections are "server", "server#2", ...; a
listener is "server:80" and stays in LISTEN; the connections it creates
start from LISTEN (the RFC's view, §3.10.7.2: "The connection state should
be changed to SYN-RECEIVED"), and `listener_of` says whose child each one is.  In format 1
the listener had its first child's name.
"""


from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .records import NoticeKind
from .segment import MOD, Segment
from .states import State
from .table import Rule
from .text import text
from .units import fmt_t, secs, us

if TYPE_CHECKING:  # pragma: no cover
    from .scenario import Scenario

#: The version of the JSON trace (and of the scenario format, tcpsim.core.scenario).
FORMAT = 2


class _Ordered(Protocol):
    """A record of one endpoint, in the run's order (a state change, a loop)."""

    endpoint: str
    order: int


R = TypeVar("R", bound=_Ordered)


class SegmentRecord:
    """One transmission: the segment, when it left, when (if) it arrived."""

    __slots__ = ("i", "t", "seg", "dropped", "rtx", "arrive", "note", "order")

    def __init__(self, i: int, t: int, seg: Segment, dropped: bool, rtx: bool,
                 arrive: int | None, note: str, order: int = 0):
        self.i, self.t, self.seg, self.dropped, self.rtx = i, t, seg, dropped, rtx
        self.arrive, self.note, self.order = arrive, note, order

    def to_dict(self) -> dict[str, object]:
        s = self.seg
        return {"i": self.i, "t": secs(self.t), "src": s.src, "dst": s.dst, "flags": s.flags,
                "seq": s.seq, "ack": s.ack, "len": s.len, "dropped": self.dropped,
                "sport": s.sport, "dport": s.dport, "arrive": secs(self.arrive),
                "rtx": self.rtx, "note": self.note}

    def __repr__(self) -> str:
        return f"<#{self.i} t={fmt_t(self.t)} {self.seg.src}->{self.seg.dst} {self.seg.describe()}" \
               f"{' dropped' if self.dropped else ''}>"


class StateChange:
    __slots__ = ("t", "endpoint", "old", "new", "rule", "order")

    def __init__(self, t: int, endpoint: str, old: State, new: State, rule: Rule | None, order: int = 0):
        self.t, self.endpoint, self.old, self.new, self.rule = t, endpoint, old, new, rule
        self.order = order

    @property
    def cause(self) -> str:
        return self.rule.event.value if self.rule is not None else ""

    def to_dict(self) -> dict[str, object]:
        return {"t": secs(self.t), "from": self.old.value, "to": self.new.value, "cause": self.cause,
                "rule": self.rule.rfc if self.rule is not None else ""}

    def __repr__(self) -> str:
        return f"<{self.endpoint} {self.old.value}->{self.new.value} at {fmt_t(self.t)} ({self.cause})>"


class NoticeRecord:
    """What an application (or the listener's queues) was told, and when."""

    __slots__ = ("t", "endpoint", "what", "detail", "order")

    def __init__(self, t: int, endpoint: str, what: NoticeKind, detail: str, order: int):
        self.t, self.endpoint, self.what, self.detail, self.order = t, endpoint, what, detail, order

    def __iter__(self) -> Iterator[object]:
        """(t, endpoint, what, detail) with `what` a plain string: the tuple
        older scripts unpack (``for t, who, what, _ in trace.notices``)."""
        return iter((self.t, self.endpoint, self.what.value, self.detail))

    def to_dict(self) -> dict[str, object]:
        return {"t": secs(self.t), "endpoint": self.endpoint, "what": self.what.value, "detail": self.detail}

    def __repr__(self) -> str:
        return f"<{self.endpoint} told {self.what.value!r} at {fmt_t(self.t)}>"


class LoopRecord:
    """A table row that kept the state (a retransmission timeout, a re-ACK in TIME_WAIT, ...)."""

    __slots__ = ("t", "endpoint", "state", "rule", "order")

    def __init__(self, t: int, endpoint: str, state: State, rule: Rule, order: int):
        self.t, self.endpoint, self.state, self.rule, self.order = t, endpoint, state, rule, order

    def __iter__(self) -> Iterator[object]:
        """(t, endpoint, state, rule): the tuple older scripts unpack."""
        return iter((self.t, self.endpoint, self.state, self.rule))

    def to_dict(self) -> dict[str, object]:
        return {"t": secs(self.t), "endpoint": self.endpoint, "state": self.state.value,
                "cause": self.rule.event.value}

    def __repr__(self) -> str:
        return f"<{self.endpoint} stays {self.state.value} at {fmt_t(self.t)} ({self.rule.event.value})>"


class Trace:
    """The record of one run.  Built by `network.Simulation`."""

    def __init__(self, scenario: Scenario | None = None):
        self.scenario = scenario
        self.segments: list[SegmentRecord] = []
        self.changes: list[StateChange] = []
        self.loops: list[LoopRecord] = []       # rows that kept the state
        self.notices: list[NoticeRecord] = []
        #: child connection -> the listener that created it
        self.listener_of: dict[str, str] = {}
        self._ticks = 0
        self.final: dict[str, State] = {}
        self._base_cache: list[tuple[int | None, int | None]] = []
        self.isn: dict[str, int] = {}
        self.end = 0

    def tick(self) -> int:
        """A counter that orders everything recorded, within one instant too."""
        self._ticks += 1
        return self._ticks

    # -------------------------------------------------------------- queries
    def states(self, endpoint: str) -> list[State]:
        """The states `endpoint` passed through, in order, starting with its first
        (a listener's child from CLOSED, through its listener's LISTEN: `lineage`)."""
        path: list[State] = []
        for c in self.lineage(endpoint):
            if not path:
                path.append(c.old)
            path.append(c.new)
        return path

    def endpoints(self) -> list[str]:
        """The connections whose state changed, in order of their first change
        (listeners are not among them: see `listeners()`)."""
        seen: dict[str, None] = {}
        listeners = self.listeners()
        for c in self.changes:
            if c.endpoint not in listeners:
                seen.setdefault(c.endpoint, None)
        return list(seen)

    def listeners(self) -> list[str]:
        """The listeners of the run ("server:80"), in order of their listen()."""
        seen: dict[str, None] = {}
        for c in self.changes:
            if c.old is State.CLOSED and c.new is State.LISTEN:
                seen.setdefault(c.endpoint, None)
        for name in self.listener_of.values():
            seen.setdefault(name, None)
        return list(seen)

    def lineage(self, endpoint: str) -> list[StateChange]:
        """`endpoint`'s state changes as RFC 9293 Figure 5 draws one TCB: for a
        listener's child, the listener's changes up to the child's birth
        (CLOSED -> LISTEN), then the child's own."""
        return self._inherited(endpoint, self.changes)

    def loops_of(self, endpoint: str) -> list[LoopRecord]:
        """`endpoint`'s loops (rows that kept the state) with the same lineage: for a
        listener's child, the listener's loops before the child's birth (a SYN the full
        queue dropped happened to the one TCB the RFC draws, in LISTEN), then its own."""
        return self._inherited(endpoint, self.loops)

    def _inherited(self, endpoint: str, records: list[R]) -> list[R]:
        """`records` of `endpoint`, after those of its listener from before its birth
        (its first state change)."""
        mine = [r for r in records if r.endpoint == endpoint]
        parent = self.listener_of.get(endpoint)
        born = next((c.order for c in self.changes if c.endpoint == endpoint), None)
        if parent is None or born is None:
            return mine
        return [r for r in records if r.endpoint == parent and r.order < born] + mine

    @property
    def loop_order(self) -> list[int]:
        """The order of each loop (kept for older scripts: each `LoopRecord` has `.order`)."""
        return [x.order for x in self.loops]

    @property
    def notice_order(self) -> list[int]:
        """The order of each notice (kept for older scripts: each `NoticeRecord` has `.order`)."""
        return [n.order for n in self.notices]

    def notices_of(self, endpoint: str) -> list[str]:
        """What `endpoint` was told, in order, as plain words ("connected", "eof", ...)."""
        return [n.what.value for n in self.notices if n.endpoint == endpoint]

    def relative(self, rec: SegmentRecord) -> tuple[int, int | None]:
        """(seq, ack) of `rec` relative to the ISNs of its connection, as
        Wireshark shows them: each direction's base is the seq of the latest
        SYN sent that way on the same four-tuple (the host's first ISN if none
        was seen)."""
        base = self._bases()[rec.i - 1]
        s = rec.seg
        seq = (s.seq - base[0]) % MOD if base[0] is not None else s.seq
        ack = None if s.ack is None else ((s.ack - base[1]) % MOD if base[1] is not None else s.ack)
        return seq, ack

    def _bases(self) -> list[tuple[int | None, int | None]]:
        if len(self._base_cache) == len(self.segments):
            return self._base_cache
        syn: dict[tuple[str, int, str, int], int] = {}
        out: list[tuple[int | None, int | None]] = []
        for r in self.segments:
            s = r.seg
            fwd, back = (s.src, s.sport, s.dst, s.dport), (s.dst, s.dport, s.src, s.sport)
            if "S" in s.flags:
                syn[fwd] = s.seq
            out.append((syn.get(fwd, self.isn.get(s.src)), syn.get(back, self.isn.get(s.dst))))
        self._base_cache = out
        return out

    # ------------------------------------------------------------- exports
    def to_dict(self) -> dict[str, object]:
        states: dict[str, list[dict[str, object]]] = {}
        for c in self.changes:
            states.setdefault(c.endpoint, []).append(c.to_dict())
        return {
            "format": FORMAT,
            "scenario": getattr(self.scenario, "name", None),
            "segments": [r.to_dict() for r in self.segments],
            "states": states,
            "notices": [n.to_dict() for n in self.notices],
            "loops": [x.to_dict() for x in self.loops],
            "listener_of": dict(self.listener_of),
            "final": {k: v.value for k, v in self.final.items()},
            "end": secs(self.end),
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def rows(self, relative: bool = False, notices: bool = False) -> list[dict[str, Any]]:
        """One row per event, in the order things happened.
        Failed calls and listener drops are always shown; with `notices`, also
        what the applications were told (connected, accepted, eof, reset, ...)."""
        events: list[tuple[int, int, dict[str, Any]]] = []
        for r in self.segments:
            events.append((r.t, r.order, self._segment_row(r, relative)))
        for c in self.changes:
            events.append((c.t, c.order, _row(c.t, text("row.change", endpoint=c.endpoint, old=c.old.value,
                                                         new=c.new.value), c.cause)))
        for n in self.notices:
            what = n.what
            if what is NoticeKind.ERROR:
                events.append((n.t, n.order, _row(n.t, text("row.call_failed", endpoint=n.endpoint), n.detail)))
            elif what is NoticeKind.LISTENER:
                events.append((n.t, n.order, _row(n.t, text("row.listener", endpoint=n.endpoint), n.detail)))
            elif notices and what is not NoticeKind.DATA:
                events.append((n.t, n.order, _row(n.t, text("row.app_told", endpoint=n.endpoint), what.value)))
        events.sort(key=lambda e: (e[0], e[1]))
        return [e[2] for e in events]

    def _segment_row(self, r: SegmentRecord, relative: bool) -> dict[str, Any]:
        s = r.seg
        seq, ack = self.relative(r) if relative else (s.seq, s.ack)
        fate = text("note.dropped") if r.dropped else (text("note.not_delivered") if r.arrive is None else "")
        notes = ", ".join(x for x in (text("note.retransmission") if r.rtx else "", r.note, fate) if x)
        row = _row(r.t, text("row.segment", src=s.src, dst=s.dst), notes)
        row.update({"#": str(r.i), "flags": s.flags, "seq": str(seq), "ack": "" if ack is None else str(ack),
                    "len": str(s.len)})
        return row

    def table(self, relative: bool = False, states: bool = True, notices: bool = False,
              since: float | None = None, until: float | None = None,
              about: str | Iterable[str] | None = None) -> str:
        """A plain-text table of the run, one line per segment (and state change).

        relative: seq/ack from each connection's ISNs; states: include state
        changes; notices: include what the applications were told; since /
        until (seconds): only that stretch of the run; about: only lines that
        name one of these endpoints or hosts.  Columns are as wide as the lines
        kept need."""
        rows = self.rows(relative, notices)
        if not states:
            rows = [r for r in rows if r["#"]]
        if since is not None or until is not None:
            lo = -1 if since is None else us(since)
            hi = 1 << 62 if until is None else us(until)
            rows = [r for r in rows if lo <= r["t_us"] <= hi]
        if about:
            names = {about} if isinstance(about, str) else set(about)
            rows = [r for r in rows if _mentions(r["segment"], names)]
        head = {c: text(f"col.{key}") for c, key in COLUMNS}
        width = {c: max([len(head[c])] + [len(r[c]) for r in rows]) for c, _ in COLUMNS}

        def line(r: dict[str, Any]) -> str:
            return "  ".join((r[c].rjust(width[c]) if c in RIGHT else r[c].ljust(width[c]))
                             for c, _ in COLUMNS).rstrip()
        out = [line(head), line({c: "-" * width[c] for c, _ in COLUMNS})]
        out += [line(r) for r in rows]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        from html import escape
        head = "".join(f"<th>{escape(text('col.t_html' if key == 't' else f'col.{key}'))}</th>" for _, key in COLUMNS)
        body = []
        for r in self.rows():
            cls = ' class="tcpsim-change"' if not r["#"] else (
                ' class="tcpsim-dropped"' if text("note.dropped") in r["notes"] else "")
            body.append(f"<tr{cls}>" + "".join(f"<td>{escape(r[c])}</td>" for c, _ in COLUMNS) + "</tr>")
        return f'<table class="tcpsim-trace"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


#: The trace table's columns: (row key, text key).
COLUMNS = (("t", "t"), ("#", "i"), ("segment", "segment"), ("flags", "flags"), ("seq", "seq"), ("ack", "ack"),
           ("len", "len"), ("notes", "notes"))
RIGHT = frozenset({"t", "#", "seq", "ack", "len"})


def _row(t: int, what: str, notes: str) -> dict[str, Any]:
    """A row of `Trace.rows()` with the segment columns empty."""
    return {"t_us": t, "t": fmt_t(t), "#": "", "segment": what, "flags": "", "seq": "", "ack": "", "len": "",
            "notes": notes}


def _mentions(line: str, names: set[str]) -> bool:
    words = line.replace(":", " ").replace(">", " ").split()
    return any(w in names for w in words)


def trace_events(trace: Trace) -> list[SegmentRecord | StateChange]:
    """Every event of a run in time order: `SegmentRecord`s and `StateChange`s.

    The order is that of `Trace.rows()`: by time, and at equal times in the
    order they happened.  Step k of a run
    is "after the first k of these".
    """
    ev: list[tuple[int, int, SegmentRecord | StateChange]] = [(r.t, r.order, r) for r in trace.segments]
    ev += [(c.t, c.order, c) for c in trace.changes]
    ev.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in ev]
