"""What an endpoint hands out: one ordered queue of typed records per host.

An endpoint never calls back into the simulation.  Everything it does that
someone else must act on -- a segment to put on the wire, a state change, a
table row that kept the state, something the application is told, a new
connection, a timer that moved -- becomes one record on its host's queue, in
the order it happened.  A caller takes them one at a time with
`Host.next_event()` (as h11 and aioquic hand out their events), or all at
once with `Host.take_events()` as the scheduler does, and never has to
re-interleave parallel lists.

Times are integer microseconds (`tcpsim.core.units`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .segment import Segment
from .states import State
from .table import Rule

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection
    from .tcb import Tcb


class NoticeKind(StrEnum):
    """What an application (or, for LISTENER, the trace's reader) is told.

    The values are the words of the JSON trace and of scenario triggers
    (``{"on": "eof", ...}``)."""

    CONNECTED = "connected"
    ACCEPTED = "accepted"
    DATA = "data"
    EOF = "eof"
    RESET = "reset"
    REFUSED = "refused"
    TIMED_OUT = "timed out"
    #: what a listener's queues did (a SYN dropped, a cookie sent)
    LISTENER = "listener"
    #: a user call that failed, as a socket call returns an error
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Transmit:
    """A segment to put on the wire; `rtx` marks a retransmission."""

    segment: Segment
    rtx: bool


@dataclass(frozen=True, slots=True)
class StateChanged:
    """A table row moved `endpoint` from `old` to `new`."""

    t: int
    endpoint: str
    old: State
    new: State
    rule: Rule


@dataclass(frozen=True, slots=True)
class Looped:
    """A table row that kept the state (a retransmission timeout, a re-ACK)."""

    t: int
    endpoint: str
    state: State
    rule: Rule


@dataclass(frozen=True, slots=True)
class Told:
    """The application behind `tcb` is told `kind` (with `detail`, e.g. a byte count)."""

    t: int
    tcb: Tcb
    kind: NoticeKind
    detail: str


@dataclass(frozen=True, slots=True)
class Opened:
    """A new connection exists (a connect(), or a listener's child)."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class TimerMoved:
    """One of `conn`'s timers was set or stopped: ask `conn.next_timer()` again."""

    conn: Connection


Output = Transmit | StateChanged | Looped | Told | Opened | TimerMoved
