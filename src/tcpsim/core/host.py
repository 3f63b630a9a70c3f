"""One machine's TCP: it demultiplexes segments and queues what its TCBs do.

Outputs
-------
Every TCB of a host appends typed records (`tcpsim.core.records`) to the
host's one queue, in the order things happen; `next_event()` hands them
out one at a time (None when the queue is empty).  The caller --
normally `network.Simulation` -- takes them after every input it gives the
host: a segment, a timer, a user call.

Naming: a host's first connection has the host's name, later ones
``name#2``, ``name#3``, ... (a listener's children, a client's next
incarnation); a listener is ``name:port`` (trace format 2; in format 1 it
shared the name of its first child).  ISNs are fixed by the scenario: the first connection gets
`isn`, later ones `isn + k * isn_step` (a stand-in for RFC 6528's clock).
"""

from __future__ import annotations

import zlib
from collections import deque

from .connection import Connection
from .errors import IllegalCall
from .listener import Listener
from .profile import Clock, Profile
from .records import NoticeKind, Opened, Output, Told
from .segment import MOD, Segment
from .states import State
from .table import Event, table_for
from .tcb import ClosedPort, Tcb
from .text import text


class Host:
    """One machine's TCP: connections by four-tuple, listeners by port."""

    def __init__(self, name: str, profile: Profile, isn: int | None = None, isn_step: int = 64000):
        self.name = name
        self.profile = profile
        self.clock = Clock(profile)
        #: this profile's transition table: (state, event) -> Rule
        self.table = table_for(profile.name)
        self.conns: dict[tuple[int, str, int], Connection] = {}
        self.listeners: dict[int, Listener] = {}
        self._events: deque[Output] = deque()
        self.isn = isn if isn is not None else zlib.crc32(name.encode())
        self.isn_step = isn_step
        self.count = 0
        #: SO_KEEPALIVE on every socket of this endpoint's application
        self.keepalive = False

    # ----------------------------------------------------------------- outputs
    def emit(self, record: Output) -> None:
        self._events.append(record)

    def tell(self, now: int, tcb: Tcb, kind: NoticeKind, detail: str = "") -> None:
        """Tell the application behind `tcb` something (a `Told` record)."""
        self._events.append(Told(now, tcb, kind, detail))

    def next_event(self) -> Output | None:
        """The oldest output not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def take_events(self) -> deque[Output]:
        """Every output not yet taken, oldest first (the queue starts afresh)."""
        events, self._events = self._events, deque()
        return events

    # ------------------------------------------------------------------ names
    def new_name(self) -> str:
        self.count += 1
        return self.name if self.count == 1 else f"{self.name}#{self.count}"

    def next_isn(self) -> int:
        """The ISN of the next connection: `isn + k * isn_step` for the k-th (from 0)."""
        return (self.isn + self.count * self.isn_step) % MOD

    # ------------------------------------------------------------- user calls
    def listen(self, port: int, now: int, backlog: int = 128, auto_accept: bool = True,
               two_way: bool = False) -> Listener:
        """listen() on `port`; `two_way` is the two-way-handshake what-if (not TCP)."""
        if port in self.listeners:
            raise IllegalCall("listen", "LISTEN", self.name, text("why.port_listening", port=port))
        lst = Listener(self, f"{self.name}:{port}", port, backlog, auto_accept, two_way)
        lst.listen(now)
        self.listeners[port] = lst
        return lst

    def connect(self, lport: int, rhost: str, rport: int, now: int, isn: int | None = None) -> Connection:
        key = (lport, rhost, rport)
        old = self.conns.get(key)
        if old is not None:
            raise IllegalCall("connect", old.state.value, old.name,
                              text("why.in_use", host=self.name, lport=lport, rhost=rhost, rport=rport))
        iss = self.next_isn() if isn is None else isn
        conn = Connection(self, self.new_name(), lport, rhost, rport, iss)
        self.conns[key] = conn
        self.emit(Opened(conn))
        conn._call(Event.ACTIVE_OPEN, "connect", now)
        return conn

    # ----------------------------------------------------------- segment input
    def receive(self, seg: Segment, now: int) -> None:
        conn = self.conns.get((seg.dport, seg.src, seg.sport))
        if conn is not None:
            conn.receive(seg, now)
            return
        lst = self.listeners.get(seg.dport)
        if lst is not None and lst.state is State.LISTEN:
            lst.receive(seg, now)
            return
        # No TCB at all: the CLOSED state of RFC 9293 §3.10.7.1.
        ClosedPort(self, self.name)._fire(Event.RCV_RST if seg.rst else Event.RCV_ANY, now, seg)

    def reopen(self, seg: Segment, now: int, isn: int) -> None:
        """A SYN that ended a TIME_WAIT goes to the listener, with the ISN TIME_WAIT chose."""
        lst = self.listeners[seg.dport]
        lst.receive(seg, now, isn=isn)

    def _forget(self, conn: Connection) -> None:
        key = (conn.lport, conn.rhost, conn.rport)
        if self.conns.get(key) is conn:
            del self.conns[key]
