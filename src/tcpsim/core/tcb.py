"""What every TCB shares: a name, a state, and `_fire`, the only place state changes.

An endpoint's code *classifies* what happens to it -- a user call, an arriving
segment, a timer -- into one `Event`, then calls `_fire(event, now, seg)`,
which looks the pair (state, event) up in its host's table (one per profile,
`table.table_for`), records the change (or the loop, for a row that keeps
the state) on the host's output queue, does what the row's `Send` says and
runs the entry actions of the new state.  A user call with no row raises
`IllegalCall`; a segment or a timer always has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import IllegalCall
from .records import Looped, StateChanged, Transmit
from .segment import Segment, seq_add
from .states import State
from .table import Event, Rule, Send

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

#: Rows that keep the state and are too ordinary to draw on a run's path.
QUIET = frozenset({Event.SEND, Event.RCV_DATA})


class Tcb:
    """A connection, a listener, or the TCB that does not exist (a closed port)."""

    __slots__ = ("host", "name", "state")

    def __init__(self, host: Host, name: str, state: State = State.CLOSED):
        self.host, self.name, self.state = host, name, state

    def _fire(self, event: Event, now: int, seg: Segment | None = None) -> Rule:
        """Apply the table row for (state, event): the only place state changes."""
        rule = self.host.table.get((self.state, event))
        if rule is None:
            raise AssertionError(f"{self.name}: no table row for {event.name} in {self.state.name}")
        old = self.state
        if rule.next is not old:
            self.state = rule.next
            self.host.emit(StateChanged(now, self.name, old, rule.next, rule))
        elif event not in QUIET:
            self.host.emit(Looped(now, self.name, old, rule))
        if rule.send is not Send.NOTHING:
            self._act(rule, now, seg)
        if rule.next is not old:
            self._entered(old, now)
        return rule

    def _call(self, event: Event, call: str, now: int, why: str = "") -> Rule:
        """A user call: illegal (IllegalCall naming call and state) unless the table has a row."""
        if (self.state, event) not in self.host.table:
            raise IllegalCall(call, self.state.value, self.name, why)
        return self._fire(event, now)

    def _entered(self, old: State, now: int) -> None:
        """Entry actions of the state just entered (none by default)."""

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        """Send what `rule.send` says (nothing by default)."""

    def _reset_reply(self, seg: Segment, lport: int) -> None:
        """An RST answering `seg` (RFC 9293 §3.10.7.1): if the ACK bit was on,
        <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
        if seg.ack is not None:
            out = Segment(src=self.host.name, sport=lport, dst=seg.src, dport=seg.sport,
                          flags="R", seq=seg.ack)
        else:
            out = Segment(src=self.host.name, sport=lport, dst=seg.src, dport=seg.sport,
                          flags="RA", seq=0, ack=seq_add(seg.seq, seg.seg_len))
        self.host.emit(Transmit(out, False))


class ClosedPort(Tcb):
    """The TCB that does not exist: a port with no connection and no listener."""

    __slots__ = ()

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        assert seg is not None, "a closed port only answers segments"
        self._reset_reply(seg, seg.dport)
