"""What an observer on the wire can infer about one connection: a trace and each side's states.

The capture shows segments, not states.  Each side's state path is inferred
from two kinds of evidence, with the transitions of RFC 9293's table
(`tcpsim.core.table.RULES`, whose rows carry their RFC sections):

* what a side **sends** shows what its application did: a SYN is a
  connect() (CLOSED -> SYN_SENT), a first FIN a close() (ESTABLISHED ->
  FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK), an RST out of a connection an abort;
* what a side **receives** moves it as the RFC says (SYN_SENT + SYN-ACK ->
  ESTABLISHED, a FIN, the ACK of its FIN, an RST).  A segment is taken to
  arrive when the capture shows it, unless it is *evidently lost*: its sender
  retransmitted it and the other side had acknowledged nothing of it in
  between (nothing it sent before the copy covers the segment's end).  That
  is exactly a loss between the capture point and the receiver; a loss before
  the capture point is a segment the capture never shows.

What the observer cannot see is listed in `Observed.unseen`: LISTEN before
the first SYN (a SYN-ACK answering shows something listened), the moment a
state changed inside a host (a change is placed at the segment that shows
it), the end of TIME_WAIT after the capture stops, lost pure ACKs (they are
never retransmitted), and anything the application did that sent nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.segment import Segment, seq_add, seq_le
from ..core.states import State
from ..core.table import RULES, Rule
from ..core.trace import SegmentRecord, StateChange, Trace
from .reader import Packet
from .split import Summary, endpoint_text
from .text import t

S = State
NAMES = ("client", "server")
SYNC = {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT}


def _rule(old: State, event: str, new: State) -> Rule | None:
    for r in RULES:
        if r.state is old and r.next is new and r.event.value == event and not r.whatif:
            return r
    return None


@dataclass
class _Side:
    name: str
    state: State
    isn: int | None = None
    fin: int | None = None        # seq of its FIN
    got_fin: bool = False


@dataclass
class Observed:
    """One connection as the observer infers it."""

    summary: Summary
    trace: Trace
    t0: int                               # absolute time (µs since the epoch) of the trace's t = 0
    packets: list[Packet]
    lost: set[int] = field(default_factory=set)          # indices into `packets`
    rtx: set[int] = field(default_factory=set)
    unseen: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    listening: bool | None = None         # None: cannot tell


def _end(p: Packet) -> int:
    return seq_add(p.seq, p.len + ("S" in p.flags) + ("F" in p.flags))


def find_lost(packets: list[Packet], side_of: list[int]) -> tuple[set[int], set[int]]:
    """(evidently lost, retransmissions): indices of `packets` (see the module's docstring)."""
    lost: set[int] = set()
    rtx: set[int] = set()
    first: dict[tuple[int, int, bool, bool], int] = {}
    for j, p in enumerate(packets):
        if not (p.len or "S" in p.flags or "F" in p.flags) or "R" in p.flags:
            continue
        key = (side_of[j], p.seq, "S" in p.flags, "F" in p.flags)
        k = first.get(key)
        if k is None:
            first[key] = j
            continue
        rtx.add(j)
        prev = max(i for i in range(k, j) if side_of[i] == side_of[j] and packets[i].seq == p.seq
                   and ("S" in packets[i].flags) == ("S" in p.flags) and ("F" in packets[i].flags) == ("F" in p.flags))
        end = _end(packets[prev])
        acks = (packets[i].ack for i in range(prev + 1, j) if side_of[i] != side_of[j])
        if not any(a is not None and seq_le(end, a) for a in acks):
            lost.add(prev)
    return lost, rtx


class _Builder:
    def __init__(self, summary: Summary, packets: list[Packet]):
        self.trace = Trace()
        self.summary = summary
        self.packets = packets
        self.side_of = [summary.side(p) for p in packets]
        self.t0 = packets[0].t
        self.sides = [_Side("client", S.CLOSED), _Side("server", S.CLOSED)]
        self.listening: bool | None = None

    def change(self, side: _Side, new: State, event: str, t_us: int) -> None:
        if side.state is new:
            return
        rule = _rule(side.state, event, new)
        self.trace.changes.append(_Seen(t_us, side.name, side.state, new, rule, event, self.trace.tick()))
        side.state = new

    def send(self, me: _Side, p: Packet, tt: int) -> None:
        if "R" in p.flags:
            if me.state in SYNC or me.state in (S.SYN_SENT, S.SYN_RECEIVED):
                self.change(me, S.CLOSED, "abort", tt)
            return
        if "S" in p.flags and "A" not in p.flags and me.state is S.CLOSED:
            me.isn = p.seq
            self.change(me, S.SYN_SENT, "connect", tt)
        if "S" in p.flags:
            me.isn = p.seq
        if "F" in p.flags and me.fin is None:
            me.fin = seq_add(p.seq, p.len)
            self.change(me, S.LAST_ACK if me.state is S.CLOSE_WAIT else S.FIN_WAIT_1, "close", tt)

    def receive(self, you: _Side, me: _Side, p: Packet, tt: int) -> None:
        fl = p.flags
        if "R" in fl:
            if you.state is S.SYN_RECEIVED and self.listening:
                self.change(you, S.LISTEN, "rcv RST (passive open)", tt)
            elif you.state in SYNC or you.state in (S.SYN_SENT, S.SYN_RECEIVED):
                self.change(you, S.CLOSED, "rcv RST", tt)
            return
        if "S" in fl and "A" not in fl:
            if you.state is S.LISTEN:
                self.change(you, S.SYN_RECEIVED, "rcv SYN", tt)
            elif you.state is S.SYN_SENT:
                self.change(you, S.SYN_RECEIVED, "rcv SYN", tt)
        if p.ack is not None:
            if you.state is S.SYN_SENT and "S" in fl and you.isn is not None and p.ack == seq_add(you.isn, 1):
                self.change(you, S.ESTABLISHED, "rcv SYN,ACK", tt)
            elif you.state is S.SYN_RECEIVED and you.isn is not None and seq_le(seq_add(you.isn, 1), p.ack) \
                    and "S" not in fl:
                self.change(you, S.ESTABLISHED, "rcv ACK", tt)
            if you.fin is not None and seq_le(seq_add(you.fin, 1), p.ack):
                nxt = {S.FIN_WAIT_1: S.FIN_WAIT_2, S.CLOSING: S.TIME_WAIT, S.LAST_ACK: S.CLOSED}.get(you.state)
                if nxt is not None:
                    self.change(you, nxt, "rcv ACK of FIN", tt)
        if "F" in fl and not you.got_fin and you.state in SYNC | {S.SYN_RECEIVED}:
            you.got_fin = True
            if you.state is S.SYN_RECEIVED:
                self.change(you, S.ESTABLISHED, "rcv ACK", tt)
            nxt = {S.ESTABLISHED: S.CLOSE_WAIT, S.FIN_WAIT_1: S.CLOSING, S.FIN_WAIT_2: S.TIME_WAIT}.get(you.state)
            if nxt is not None:
                self.change(you, nxt, "rcv FIN", tt)

    def build(self) -> Observed:
        pk, side_of, tr = self.packets, self.side_of, self.trace
        lost, rtx = find_lost(pk, side_of)
        answers = [p.flags for p, s in zip(pk, side_of, strict=True) if s == 1]
        first_answer = answers[0] if answers else ""
        self.listening = True if "S" in first_answer and "A" in first_answer else \
            (False if "R" in first_answer and pk[0].flags == "S" else None)
        if self.listening:
            self.sides[1].state = S.LISTEN
        obs = Observed(self.summary, tr, self.t0, pk, lost, rtx, listening=self.listening)
        last = self.t0
        for j, p in enumerate(pk):
            if p.t < last:
                obs.notes.append(t("note.backwards", n=p.n))
            last = max(last, p.t)
            tt = last - self.t0
            me, you = self.sides[side_of[j]], self.sides[1 - side_of[j]]
            self.send(me, p, tt)
            seg = Segment(src=me.name, sport=p.sport, dst=you.name, dport=p.dport, flags=p.flags, seq=p.seq,
                          ack=p.ack, len=p.len)
            tr.segments.append(SegmentRecord(j + 1, tt, seg, j in lost, j in rtx, None if j in lost else tt, "",
                                             tr.tick()))
            if j not in lost:
                self.receive(you, me, p, tt)
        tr.end = last - self.t0
        tr.final = {s.name: s.state for s in self.sides}
        tr.isn = {s.name: s.isn for s in self.sides if s.isn is not None}
        self._unseen(obs)
        return obs

    def _unseen(self, obs: Observed) -> None:
        cl, sv = self.sides
        if obs.listening:
            obs.unseen.append(t("unseen.listen"))
        elif obs.listening is None:
            obs.unseen.append(t("unseen.no_answer"))
        else:
            obs.notes.append(t("note.refused"))
        if cl.isn is None:
            obs.unseen.append(t("unseen.no_syn"))
        obs.unseen.append(t("unseen.timing"))
        for s in self.sides:
            if s.state is S.TIME_WAIT:
                obs.unseen.append(t("unseen.time_wait", side=s.name))
        if self.summary.packets[1] == 0:
            obs.unseen.append(t("unseen.one_way", side="server"))
        elif self.summary.packets[0] == 0:
            obs.unseen.append(t("unseen.one_way", side="client"))
        obs.unseen.append(t("unseen.acks"))


class _Seen(StateChange):
    """A state change the observer inferred: its cause is the event, even where no table row has it."""

    __slots__ = ("event",)

    def __init__(self, t_us: int, endpoint: str, old: State, new: State, rule: Rule | None, event: str,
                 order: int):
        super().__init__(t_us, endpoint, old, new, rule, order)
        self.event = event

    @property
    def cause(self) -> str:
        return self.event


def observe(summary: Summary) -> Observed:
    """Infer `summary`'s trace and states (its segments must have been kept by `split`)."""
    assert summary.segments is not None
    return _Builder(summary, summary.segments).build()


def addresses(summary: Summary) -> dict[str, str]:
    o = summary.orig
    return {"client": endpoint_text(o[0], o[1]), "server": endpoint_text(o[2], o[3])}
