"""A pair of hosts wired back to back, stepped by hand.

`Net` keeps the segments in flight in a FIFO; a test sends, delivers one at
a time or all, drops what it likes and fires timers, then asserts states and
segments.  `reach(state)` returns a connection of host "a" driven into that
state through a real exchange with host "b".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tcpsim.core.host import Host
from tcpsim.core.profile import make_profile
from tcpsim.core.records import Transmit
from tcpsim.core.segment import Segment
from tcpsim.core.states import State

S = State


class Net:
    def __init__(self, profile: str = "rfc9293", **overrides):
        self.profile = make_profile(profile, overrides)
        self.a = Host("a", self.profile, isn=100)
        self.b = Host("b", self.profile, isn=300)
        self.hosts = {"a": self.a, "b": self.b}
        self.now = 0
        self.flight: list[Segment] = []
        self.log: list[tuple[Segment, bool]] = []

    def collect(self) -> list[tuple[Segment, bool]]:
        """Move every host's outbox into the flight; return what was just sent."""
        new = []
        for h in self.hosts.values():
            while (ev := h.next_event()) is not None:
                if isinstance(ev, Transmit):
                    new.append((ev.segment, ev.rtx))
        self.log += new
        self.flight += [s for s, _ in new]
        return new

    def deliver(self, n: int = 1, drop=None) -> None:
        for _ in range(n):
            self.collect()
            seg = self.flight.pop(0)
            if drop is None or not drop(seg):
                self.hosts[seg.dst].receive(seg, self.now)
        self.collect()

    def settle(self, drop=None, limit: int = 100) -> None:
        self.collect()
        while self.flight and limit:
            self.deliver(1, drop)
            limit -= 1

    def inject(self, host: str, seg: Segment) -> list[tuple[Segment, bool]]:
        """Hand `seg` to `host`; return the segments that host sent in reply."""
        self.collect()
        self.flight.clear()
        self.hosts[host].receive(seg, self.now)
        out = self.collect()
        self.flight.clear()
        return out

    def fire(self, conn) -> list[tuple[Segment, bool]]:
        """Advance the clock to conn's next timer and fire it."""
        self.collect()
        self.flight.clear()
        t = conn.next_timer()
        assert t is not None, f"{conn} has no timer running"
        self.now = max(self.now, t)
        conn.handle_timer(self.now)
        out = self.collect()
        self.flight.clear()
        return out

    def conn(self, host: str, n: int = 0):
        return list(self.hosts[host].conns.values())[n]


def seg_to(conn, flags: str, seq: int, ack: int | None = None, length: int = 0) -> Segment:
    """A segment from conn's peer to conn."""
    return Segment(src=conn.rhost, sport=conn.rport, dst=conn.host.name, dport=conn.lport,
                   flags=flags, seq=seq % (1 << 32), ack=None if ack is None else ack % (1 << 32), len=length)


def established(net: Net, backlog: int = 128, auto_accept: bool = True):
    net.b.listen(80, net.now, backlog=backlog, auto_accept=auto_accept)
    a = net.a.connect(40000, "b", 80, net.now)
    net.settle()
    return a, net.conn("b")


def reach(state: State, profile: str = "rfc9293", passive: bool = True, **over):
    """(net, conn): host a's connection in `state`, reached through a real exchange.
    Nothing is left in flight."""
    net, conn = _reach(state, profile, passive, **over)
    net.collect()
    net.flight.clear()
    assert conn.state is state, (conn, state)
    return net, conn


def _reach(state: State, profile: str, passive: bool, **over):
    net = Net(profile, **over)
    if state is S.SYN_SENT:
        return net, net.a.connect(40000, "b", 80, net.now)
    if state is S.SYN_RECEIVED:
        if passive:
            net.a.listen(80, net.now)
            net.b.connect(40000, "a", 80, net.now)
            net.deliver()                      # the SYN
            net.flight.clear()                 # lose the SYN,ACK
            return net, net.conn("a")
        a = net.a.connect(40000, "b", 80, net.now)
        net.b.connect(80, "a", 40000, net.now)
        net.collect()
        net.flight = [s for s in net.flight if s.dst == "a"]   # only b's SYN arrives
        net.deliver()
        net.flight.clear()
        return net, a
    a, b = established(net)
    if state is S.ESTABLISHED:
        return net, a
    if state is S.FIN_WAIT_1:
        a.close(net.now)
        net.collect()
        net.flight.clear()
        return net, a
    if state is S.FIN_WAIT_2:
        a.close(net.now)
        net.deliver()                          # FIN to b, b ACKs at once (rfc9293) ...
        if net.flight:
            net.deliver()
        else:                                  # ... or after its delayed-ACK timer (linux)
            net.fire(b)
            net.flight = [s for s, _ in net.log[-1:]]
            net.deliver()
        return net, a
    if state is S.CLOSE_WAIT:
        b.close(net.now)
        net.deliver()                          # b's FIN; a's ACK stays in flight, undelivered
        net.flight.clear()
        return net, a
    if state is S.LAST_ACK:
        b.close(net.now)
        net.deliver()
        net.flight.clear()
        a.close(net.now)
        net.collect()
        net.flight.clear()
        return net, a
    if state is S.CLOSING:
        a.close(net.now)
        b.close(net.now)
        net.collect()
        net.flight = [s for s in net.flight if s.dst == "a"]   # b's FIN reaches a; a's FIN is lost
        net.deliver()
        net.flight.clear()
        return net, a
    if state is S.TIME_WAIT:
        a.close(net.now)
        net.settle()
        b.close(net.now)
        net.settle()
        return net, a
    raise ValueError(state)


@contextmanager
def notices_told() -> Iterator[list[tuple[str, str]]]:
    """Every (host, kind) a host tells its application while the block runs, in order
    (Host.tell wrapped, and restored after)."""
    log: list[tuple[str, str]] = []
    real = Host.tell

    def tell(self, now, tcb, kind, detail=""):
        log.append((self.name, kind))
        return real(self, now, tcb, kind, detail)

    Host.tell = tell      # type: ignore[method-assign]
    try:
        yield log
    finally:
        Host.tell = real  # type: ignore[method-assign]
