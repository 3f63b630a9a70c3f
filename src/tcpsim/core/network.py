"""The network and the scheduler that runs a scenario.

A `Simulation` holds the hosts of a scenario and a heap of pending events
ordered by (time, kind, counter): the counter makes ties deterministic (as in
SimPy), so the same scenario always gives the same trace.  Loss, delay,
duplication and injection belong to the channel, not to the endpoints; random
loss draws from its own seeded `random.Random`, never the global one.

Events of equal time run in this order: timers, then deliveries, then user
calls, then injected segments, then a flood's next SYN.  (When a retransmission timer and a segment
that would make it unnecessary fall on the same instant, the timer fires
first, as a real kernel on loopback shows for a lost SYN-ACK.)
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from .connection import Connection
from .errors import CallFailed, IllegalCall, RunTooLong
from .host import Host
from .listener import Listener
from .records import Looped, NoticeKind, Opened, StateChanged, TimerMoved, Told, Transmit
from .scenario import Call, Endpoint, Scenario, load
from .segment import MOD, Segment
from .text import text
from .trace import LoopRecord, NoticeRecord, SegmentRecord, StateChange, Trace
from .units import US, secs, us

TIMER, DELIVER, CALL, INJECT, FLOOD = 0, 1, 2, 3, 4
#: The most events one run may take (a 100,000-SYN flood takes about a million).
MAX_EVENTS = 5_000_000


class Match:
    """Which segments a network rule applies to."""

    __slots__ = ("src", "dst", "flags", "has", "data", "seq", "ack", "nth", "seen", "action", "extra")

    def __init__(self, action: str, src: str | None = None, dst: str | None = None, flags: str | None = None,
                 has: str | None = None, data: bool | None = None, seq: int | None = None, ack: int | None = None,
                 nth: int | None = 1, extra: int = 0):
        self.action, self.src, self.dst, self.flags, self.has, self.data = action, src, dst, flags, has, data
        self.seq, self.ack = seq, ack
        self.nth = nth          # 1-based, or None for every matching segment
        self.extra = extra
        self.seen = 0

    def hit(self, seg: Segment) -> bool:
        if self.src is not None and seg.src != self.src:
            return False
        if self.dst is not None and seg.dst != self.dst:
            return False
        if self.flags is not None and seg.flags != self.flags:
            return False
        if self.has is not None and any(c not in seg.flags for c in self.has):
            return False
        if self.data is not None and (seg.len > 0) != self.data:
            return False
        if self.seq is not None and seg.seq != self.seq:
            return False
        if self.ack is not None and seg.ack != self.ack:
            return False
        self.seen += 1
        return self.nth is None or self.seen == self.nth


class Simulation:
    """Run a `scenario.Scenario` and record its `Trace`."""

    def __init__(self, scenario: Scenario, drop: Iterable[int] = ()):
        self.sc = scenario
        self.trace = Trace(scenario)
        #: (time, kind, counter, payload): payload is a Segment (DELIVER), a
        #: Connection (TIMER), (host, connection, Call) (CALL), an injected
        #: segment's dict (INJECT) or the flood's next index (FLOOD)
        self.heap: list[tuple[int, int, int, Any]] = []
        self.counter = 0
        self.hosts: dict[str, Host] = {}
        self.apps: dict[str, Endpoint] = {}
        self.latest: dict[str, Connection | Listener] = {}
        #: every connection of each host, in the order they were opened
        self.connections: dict[str, list[Connection]] = {}
        #: when each connection's timer entry on the heap is due (an entry
        #: whose time differs was moved or stopped, and is skipped)
        self.scheduled: dict[Connection, int] = {}
        self.drop_at = frozenset(scenario.drop) | frozenset(drop)
        self.rules = [Match(**r) for r in scenario.rules]
        rnd = scenario.random
        self.rng = random.Random(rnd["seed"]) if rnd else None
        self.loss = rnd.get("loss", 0.0) if rnd else 0.0
        self.dup = rnd.get("duplicate", 0.0) if rnd else 0.0
        self.jitter = us(rnd.get("jitter", 0.0)) if rnd else 0
        self.delay = us(scenario.delay)
        self.until = None if scenario.until is None else us(scenario.until)
        for ep in scenario.endpoints.values():
            host = Host(ep.name, scenario.profile, isn=ep.isn, isn_step=ep.isn_step)
            host.keepalive = ep.keepalive
            self.hosts[ep.name] = host
            self.connections[ep.name] = []
            self.apps[ep.name] = ep
            for call in ep.calls:
                if call.t is not None:
                    self._push(us(call.t), CALL, (ep.name, None, call))
        for inj in scenario.inject:
            self._push(us(inj["t"]), INJECT, inj)
        if scenario.flood:
            f = scenario.flood
            self._push(us(f["t"]), FLOOD, 0)
        self.now = 0

    def _push(self, t: int, kind: int, payload: Any) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (t, kind, self.counter, payload))

    # ------------------------------------------------------------------ running
    def run(self) -> Trace:
        heap = self.heap
        until = self.until
        pop = heapq.heappop
        budget = MAX_EVENTS
        while heap:
            budget -= 1
            if budget < 0:
                raise RunTooLong(f"the run took more than {MAX_EVENTS} events (at t={secs(self.now):g} s); "
                                 "give it an 'until' or ask for less")
            t, kind, _, payload = pop(heap)
            if until is not None and t > until:
                self.now = until
                break
            if kind == TIMER and self.scheduled.get(payload) != t:
                continue                          # a timer that was moved or stopped
            self.now = t
            if kind == DELIVER:
                host = self.hosts[payload.dst]
                host.receive(payload, t)
                self._drain(host)
            elif kind == TIMER:
                conn = payload
                del self.scheduled[conn]
                conn.handle_timer(t)
                self._drain(conn.host)
            elif kind == CALL:
                self._call(*payload)
            elif kind == INJECT:
                self._inject(payload)
            else:
                self._flood(payload)
        tr = self.trace
        tr.end = self.now
        for host in self.hosts.values():
            for conn in self.connections[host.name]:
                tr.final[conn.name] = conn.state
            for lst in host.listeners.values():
                tr.final[lst.name] = lst.state
            tr.isn[host.name] = host.isn
        return tr

    def _drain(self, host: Host) -> None:
        """Take a host's outputs, in order: segments onto the wire, changes,
        loops and notices into the trace; then the applications react and
        moved timers are put back on the heap."""
        tr = self.trace
        reactions: list[tuple[Connection | Listener, NoticeKind, int]] = []
        moved: list[Connection] = []
        # (The records' exact classes are compared: this loop runs once per output
        # of a run, and a SYN flood has hundreds of thousands.)
        for ev in host.take_events():
            cls = type(ev)
            if cls is Transmit:
                self._transmit(ev.segment, ev.rtx, self.now, "")           # type: ignore[union-attr]
            elif cls is TimerMoved:
                moved.append(ev.conn)                                      # type: ignore[union-attr]
            elif cls is StateChanged:
                assert isinstance(ev, StateChanged)
                tr.changes.append(StateChange(ev.t, ev.endpoint, ev.old, ev.new, ev.rule, tr.tick()))
            elif cls is Looped:
                assert isinstance(ev, Looped)
                tr.loops.append(LoopRecord(ev.t, ev.endpoint, ev.state, ev.rule, tr.tick()))
            elif cls is Told:
                assert isinstance(ev, Told)
                tr.notices.append(NoticeRecord(ev.t, ev.tcb.name, ev.kind, ev.detail, tr.tick()))
                if isinstance(ev.tcb, (Connection, Listener)):
                    reactions.append((ev.tcb, ev.kind, ev.t))
            else:
                assert isinstance(ev, Opened)
                if ev.conn.listener is not None:
                    tr.listener_of[ev.conn.name] = ev.conn.listener.name
                self.connections[host.name].append(ev.conn)
                self.latest[host.name] = ev.conn
        for tcb, kind, t in reactions:
            self._react(host.name, tcb, kind, t)
        for conn in moved:
            self._reschedule(conn)

    def _reschedule(self, conn: Connection) -> None:
        due = conn.next_timer()
        if due is None:
            self.scheduled.pop(conn, None)
        elif due != self.scheduled.get(conn):
            self.scheduled[conn] = due
            self._push(due, TIMER, conn)

    def _transmit(self, seg: Segment, rtx: bool, t: int, note: str) -> None:
        i = len(self.trace.segments) + 1
        dropped = False
        extra = 0
        dup = None
        for m in self.rules:                # every rule sees (and counts) every segment
            if m.hit(seg):
                if m.action == "drop":
                    dropped = True
                elif m.action == "delay":
                    extra += m.extra
                elif m.action == "duplicate":
                    dup = m.extra
        dropped = dropped or i in self.drop_at
        rng = self.rng
        if rng is not None and not dropped:
            if self.loss and rng.random() < self.loss:
                dropped = True
            else:
                if self.jitter:
                    extra += rng.randrange(self.jitter + 1)
                if self.dup and rng.random() < self.dup:
                    dup = rng.randrange(self.jitter + 1) if self.jitter else 0
        arrive = None
        if not dropped and seg.dst in self.hosts:
            arrive = t + self.delay + extra
            self._push(arrive, DELIVER, seg)
        elif not dropped:
            note = (note + ", " if note else "") + "no such host"
        tr = self.trace
        tr.segments.append(SegmentRecord(i, t, seg, dropped, rtx, arrive, note, tr.tick()))
        if dup is not None and arrive is not None:
            arrive2 = arrive + dup
            self._push(arrive2, DELIVER, seg)
            tr.segments.append(SegmentRecord(i + 1, t, seg, False, False, arrive2, "duplicate", tr.tick()))

    # --------------------------------------------------------------- the apps
    def _target(self, host_name: str, conn: Connection | Listener | None, call: Call) -> Connection | Listener:
        """What a call acts on: the connection a reaction belongs to, the one
        it names, the listener, or the host's latest connection."""
        if conn is not None:
            return conn
        t = secs(self.now)
        if call.conn is not None:
            for c in self.connections[host_name]:
                if c.name == call.conn:
                    return c
            raise CallFailed(call.name, host_name, text("fail.no_conn_named", host=host_name, conn=call.conn, t=t))
        host = self.hosts[host_name]
        if call.target == "listener":
            if not host.listeners:
                raise CallFailed(call.name, host_name, text("fail.no_listener", host=host_name, t=t))
            return next(iter(host.listeners.values()))
        latest = self.latest.get(host_name)
        if latest is None:
            if host.listeners:
                return next(iter(host.listeners.values()))
            raise CallFailed(call.name, host_name, text("fail.no_conn_yet", host=host_name, t=t))
        return latest

    def _call(self, host_name: str, conn: Connection | Listener | None, call: Call) -> None:
        host = self.hosts[host_name]
        t = self.now
        try:
            self._do_call(host, conn, call, t)
        except (IllegalCall, CallFailed) as e:
            # The application's call fails, as a socket call returns an error:
            # the run goes on and the trace says so.
            self.trace.notices.append(NoticeRecord(t, e.endpoint, NoticeKind.ERROR, str(e), self.trace.tick()))
        self._drain(host)

    def _do_call(self, host: Host, conn: Connection | Listener | None, call: Call, t: int) -> None:
        ep = self.apps[host.name]
        if call.name == "listen":
            host.listen(call.port or ep.port, t, backlog=ep.backlog, auto_accept=ep.accept,
                        two_way=self.sc.whatif.get("two_way_handshake", False))
        elif call.name == "connect":
            assert call.to is not None
            peer = self.apps.get(call.to)
            rport = call.port or (peer.port if peer is not None else 80)
            host.connect(call.sport or ep.port, call.to, rport, t, isn=call.isn)
        elif call.name == "accept":
            lst = next(iter(host.listeners.values()), None)
            if lst is None:
                raise CallFailed("accept", host.name, text("fail.no_listener", host=host.name, t=secs(t)))
            for _ in range(call.count):
                lst.accept(t)
        else:
            target = self._target(host.name, conn, call)
            if isinstance(target, Listener):
                if call.name not in ("close", "abort"):
                    raise CallFailed(call.name, host.name, text("fail.only_listener", host=host.name, t=secs(t)))
                (target.close if call.name == "close" else target.abort)(t)
            elif call.name == "send":
                target.send(call.bytes, t)
            elif call.name == "close":
                target.close(t)
            elif call.name == "shutdown":
                target.shutdown(t)
            elif call.name == "abort":
                target.abort(t)

    def _react(self, host_name: str, conn: Connection | Listener, what: str, t: int) -> None:
        ep = self.apps[host_name]
        for call in ep.reactions.get(what, ()):
            self._push(t + us(call.after), CALL, (host_name, conn, call))

    # ------------------------------------------------------------ injection
    def _inject(self, inj: dict[str, Any]) -> None:
        seg = Segment(src=inj["src"], sport=inj["sport"], dst=inj["dst"], dport=inj["dport"],
                      flags=inj["flags"], seq=inj["seq"], ack=inj.get("ack"), len=inj.get("len", 0))
        self._transmit(seg, False, self.now, inj.get("note") or "injected")

    def _flood(self, k: int) -> None:
        """One spoofed SYN of a SYN flood; schedules the next."""
        f = self.sc.flood
        assert f is not None
        src = f"{f['src']}{k // 60000 + 1}"
        seg = Segment(src=src, sport=1024 + k % 60000, dst=f["dst"], dport=f["dport"], flags="S",
                      seq=(k * 2654435761 + 12345) % MOD)
        self._transmit(seg, False, self.now, "flood")
        if k + 1 < f["count"]:
            self._push(us(f["t"]) + ((k + 1) * US) // f["rate"], FLOOD, k + 1)


def run(scenario: Scenario | dict[str, Any] | str, drop: Iterable[int] = (), until: float | None = None) -> Trace:
    """Run a scenario (a `Scenario`, a dict, or a built-in's name) and return its trace.

    drop: positions (from 1) of segments to lose as well; until: stop at this
    time (seconds) instead of the scenario's own end."""
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    if until is not None:
        scenario = replace(scenario, until=float(until))
    return Simulation(scenario, drop).run()
