"""A socket in LISTEN, with Linux's SYN queue, accept queue, backlog and SYN cookies.

A SYN creates a child `Connection` (the RFC's LISTEN TCB going to
SYN_RECEIVED) which waits in the SYN queue until the final ACK arrives; it
then moves to the accept queue until the application calls accept().  Both
queues hold `backlog + 1` connections, as a 6.18 kernel showed
(src/tcpsim/data/linux/queues.json): inet_csk_reqsk_queue_is_full and
sk_acceptq_is_full both test `>` (the SYN queue's test was `>=` before Linux
6.13).  A SYN is dropped when either queue is full (without SYN cookies).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from .connection import Connection
from .errors import IllegalCall
from .records import NoticeKind, Opened, Transmit
from .segment import Segment, seq_add
from .states import State
from .table import Event, Rule, Send
from .tcb import Tcb
from .text import text
from .units import US

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

S = State
E = Event

#: Linux's SYN-cookie counter ticks every TCP_SYNCOOKIE_PERIOD, 60 s (include/net/tcp.h;
#: tcp_cookie_time); a cookie is valid while the counter has moved on by less than
#: MAX_SYNCOOKIE_AGE, 2 (check_tcp_syn_cookie) -- 60 to 120 s, as 6.18 showed
#: (src/tcpsim/data/linux/syncookie.json).
COOKIE_PERIOD = 60 * US
MAX_COOKIE_AGE = 2
#: TCP_SYNCOOKIE_VALID: cookies are taken only this long after the listener's last
#: overflow (tcp_synq_no_recent_overflow); tcp_synq_overflow moves the stamp at most once a second.
COOKIE_VALID = MAX_COOKIE_AGE * COOKIE_PERIOD


class Listener(Tcb):
    """A listening socket and its two queues."""

    __slots__ = ("lport", "backlog", "synq", "acceptq", "auto_accept", "last_overflow", "secret", "two_way")

    #: rows whose outcome the trace notes as a listener notice
    NOTED = frozenset({E.RCV_SYN_DROPPED, E.RCV_SYN_COOKIE, E.RCV_ACK_QUEUE_FULL})

    def __init__(self, host: Host, name: str, lport: int, backlog: int, auto_accept: bool,
                 two_way: bool = False):
        super().__init__(host, name)
        self.lport = lport
        self.backlog = min(backlog, host.profile.somaxconn)
        self.synq: dict[tuple[str, int], Connection] = {}
        self.acceptq: list[Connection] = []
        self.auto_accept = auto_accept
        #: when the SYN queue last overflowed (a cookie was sent), or None
        self.last_overflow: int | None = None
        self.secret = zlib.crc32(f"{host.name}:{lport}".encode())
        self.two_way = two_way     # the two-way-handshake what-if (not TCP)

    def __repr__(self) -> str:
        return f"<Listener {self.name} {self.state.value} syn={len(self.synq)} accept={len(self.acceptq)}>"

    # ----------------------------------------------------------------- user calls
    def listen(self, now: int) -> None:
        self._call(E.PASSIVE_OPEN, "listen", now)

    def close(self, now: int) -> None:
        self._call(E.CLOSE, "close", now)
        self._stop(now)

    def abort(self, now: int) -> None:
        self._call(E.ABORT, "abort", now)
        self._stop(now)

    def _stop(self, now: int) -> None:
        """Linux inet_csk_listen_stop: connections nobody accepted are reset."""
        self.host.listeners.pop(self.lport, None)
        for child in list(self.synq.values()) + self.acceptq:
            if child.state is not S.CLOSED:
                child.abort(now)
        self.synq.clear()
        self.acceptq.clear()

    def accept(self, now: int) -> Connection | None:
        """Take the oldest established connection off the accept queue."""
        if self.state is not S.LISTEN:
            raise IllegalCall("accept", self.state.value, self.name, text("why.not_listening"))
        if not self.acceptq:
            return None
        conn = self.acceptq.pop(0)
        conn.accepted = True
        self.host.tell(now, conn, NoticeKind.ACCEPTED)
        return conn

    # ------------------------------------------------------------------ queues
    def accept_full(self) -> bool:
        return len(self.acceptq) > self.backlog

    def synack_limit(self) -> int:
        """How many SYN-ACK timeouts a half-open connection may have.

        Linux (reqsk_timer_handler) prunes a clogged SYN queue: when it is more
        than half of max(8, backlog) full and fewer than half of its entries
        are "young" (never timed out), old entries get fewer retries, down to
        2 -- so a SYN flood's entries die after about 7 s, not 63 s
        (src/tcpsim/data/linux/prune.json)."""
        limit = self.host.profile.synack_retries
        qlen = len(self.synq)
        if self.host.profile.synq_pruning and 2 * qlen > max(8, self.backlog):
            young = 2 * sum(1 for c in self.synq.values() if c.recovery.retries == 0)
            while limit > 2 and qlen >= young:
                limit -= 1
                young <<= 1
        return limit

    def _established(self, child: Connection, now: int) -> None:
        self.synq.pop((child.rhost, child.rport), None)
        if self.state is not S.LISTEN:         # the listener closed meanwhile
            return
        self.acceptq.append(child)
        if self.auto_accept:
            self.accept(now)

    def _forget(self, child: Connection) -> None:
        self.synq.pop((child.rhost, child.rport), None)

    # ------------------------------------------------------------------ cookies
    def _cookie(self, seg: Segment, client_isn: int, count: int) -> int:
        """The ISN a cookie SYN,ACK carries: a keyed hash of the four-tuple, the
        client's ISN and the cookie counter, the counter in its top 8 bits (a
        stand-in for Linux's secure_tcp_syn_cookie)."""
        key = f"{seg.src}:{seg.sport}>{self.lport}:{client_isn}:{count}:{self.secret}".encode()
        return (zlib.crc32(key) ^ ((count & 0xFF) << 24)) & 0xFFFFFFFF

    def _overflowed(self, now: int) -> None:
        """Linux tcp_synq_overflow: remember the time (at most once a second)."""
        last = self.last_overflow
        if last is None or not last <= now <= last + US:
            self.last_overflow = now

    def _valid_cookie(self, seg: Segment, now: int) -> bool:
        """Linux cookie_v4_check: only after a recent overflow, and only for the
        client ISN recovered as SEG.SEQ - 1, made at most MAX_COOKIE_AGE - 1 counts ago."""
        assert seg.ack is not None
        if self.last_overflow is None or now - self.last_overflow > COOKIE_VALID:
            return False
        isn, client_isn, count = seq_add(seg.ack, -1), seq_add(seg.seq, -1), now // COOKIE_PERIOD
        return any(isn == self._cookie(seg, client_isn, count - age) for age in range(MAX_COOKIE_AGE))

    # ------------------------------------------------------------------ the table
    def _fire(self, event: Event, now: int, seg: Segment | None = None) -> Rule:
        rule = super()._fire(event, now, seg)
        if event in self.NOTED and seg is not None:   # what the queues did, for the trace
            self.host.tell(now, self, NoticeKind.LISTENER, f"{rule.label} ({seg.src}:{seg.sport})")
        return rule

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        assert seg is not None, "a listener only answers segments"
        if rule.send is Send.RST:
            self._reset_reply(seg, self.lport)
        elif rule.send is Send.SYN_ACK_COOKIE:        # no state kept
            out = Segment(src=self.host.name, sport=self.lport, dst=seg.src, dport=seg.sport,
                          flags="SA", seq=self._cookie(seg, seg.seq, now // COOKIE_PERIOD), ack=seq_add(seg.seq, 1))
            self.host.emit(Transmit(out, False))
        else:  # pragma: no cover - a row meant for a connection
            raise AssertionError(f"{self.name}: a listener cannot send {rule.send}")

    # ------------------------------------------------------------ segment input
    def receive(self, seg: Segment, now: int, isn: int | None = None) -> None:
        """A segment for the listening port with no connection of its own (RFC 9293 §3.10.7.2);
        `isn`: the ISN a new connection gets, when TIME_WAIT chose it."""
        if seg.rst:
            self._fire(E.RCV_RST, now, seg)
        elif seg.ack is not None:
            if not seg.syn and self._valid_cookie(seg, now):
                self._rebuild_from_cookie(seg, now)
            else:
                self._fire(E.RCV_ACK, now, seg)
        elif not seg.syn or (seg.fin and self.host.profile.linux_input):
            # Linux tcp_rcv_state_process, LISTEN: "if (th->fin) goto discard" for a SYN+FIN
            self._fire(E.RCV_UNACCEPTABLE, now, seg)
        else:
            self._syn(seg, now, isn)

    def _syn(self, seg: Segment, now: int, isn: int | None = None) -> None:
        if self.accept_full():
            self._fire(E.RCV_SYN_DROPPED, now, seg)
            return
        cookies = self.host.profile.syncookies
        if cookies == 2 or len(self.synq) > self.backlog:   # Linux >= 6.13: backlog + 1 half-open
            if cookies:
                self._overflowed(now)
                self._fire(E.RCV_SYN_COOKIE, now, seg)
            else:
                self._fire(E.RCV_SYN_DROPPED, now, seg)
            return
        child = self._child(seg, iss=self.host.next_isn() if isn is None else isn)
        child.irs = seg.seq
        child.rcv_nxt = seq_add(seg.seq, 1)
        child.ts_recent = seg.tsval
        self.synq[(seg.src, seg.sport)] = child
        child._fire(E.RCV_SYN_TWO_WAY if self.two_way else E.RCV_SYN, now, seg)

    def _rebuild_from_cookie(self, seg: Segment, now: int) -> None:
        """An ACK carrying a valid SYN cookie: the connection is rebuilt from it."""
        assert seg.ack is not None
        if self.accept_full():
            self._fire(E.RCV_ACK_QUEUE_FULL, now, seg)
            return
        child = self._child(seg, iss=seq_add(seg.ack, -1))
        child.irs = seq_add(seg.seq, -1)
        child.rcv_nxt = seg.seq
        child.snd_una = child.snd_nxt = seg.ack
        child._fire(E.RCV_ACK_COOKIE, now, seg)
        if seg.len or seg.fin:                    # the same segment's data and FIN
            child.receive(seg, now)

    def _child(self, seg: Segment, iss: int) -> Connection:
        child = Connection(self.host, self.host.new_name(), self.lport, seg.src, seg.sport, iss,
                           state=S.LISTEN, listener=self, two_way=self.two_way)
        self.host.conns[(self.lport, seg.src, seg.sport)] = child
        self.host.emit(Opened(child))
        return child
