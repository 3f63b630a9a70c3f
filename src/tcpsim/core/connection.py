"""One connection's TCB: its sequence variables, what it sends, how it reads a segment.

Inputs carry the simulated time `now` (integer microseconds); nothing here
reads a clock.  User calls are `send`, `close`, `shutdown`, `abort`; an
arriving segment is `receive(seg, now)`; timers fire through
`handle_timer(now)` once `now` reaches `next_timer()`.  Outputs go to the
host's queue (`tcpsim.core.records`).

A segment is read in the order of RFC 9293 §3.10.7.4's checks -- sequence
number, RST, SYN, ACK, then the segment text and the FIN -- each step a
method below, each outcome one `Event` for `_fire`.  Loss recovery (the
retransmission queue, RTT and RTO) lives in `recovery.py`.

Invariants: SND.UNA <= SND.NXT; RCV.NXT only advances over bytes, SYNs and
FINs actually received in order; a connection in ESTABLISHED has had its SYN
acknowledged.  Out-of-order segments are not queued (RFC 9293 allows but does
not require it): they are dropped and answered with a duplicate ACK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import IllegalCall
from .records import NoticeKind, TimerMoved, Transmit
from .recovery import Recovery, Timers, retry_budget
from .segment import MOD, Segment, seq_add, seq_le, seq_lt
from .states import State
from .table import Event, Rule, Send
from .tcb import Tcb
from .text import text
from .units import US

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .listener import Listener

S = State
E = Event

#: States in which arriving data is delivered (RFC 9293 §3.10.7.4, seventh step).
RECEIVING = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})
#: States in which a retransmitted FIN (one we already acknowledged) is ACKed again.
PEER_FIN_SEEN = frozenset({S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
#: States in which an idle connection sends keepalive probes (Linux tcp_keepalive_timer:
#: not CLOSED, SYN_SENT or LISTEN; TIME_WAIT is a mini-socket without it; FIN_WAIT_1,
#: CLOSING and LAST_ACK have their FIN in flight, which is "alive without keepalive").
KEEPALIVE_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2})
#: Linux tcp_timewait_state_process: the new incarnation's ISN is tw_snd_nxt + 65535 + 2.
TW_ISN_STEP = 65537

#: TCP_TIMEOUT_MIN: two jiffies, 8 ms at CONFIG_HZ=250 (include/net/tcp.h).
TCP_TIMEOUT_MIN = 8_000
#: TCP_MSS_DEFAULT: Linux's first guess at the peer's segment size (tcp_initialize_rcv_mss).
RCV_MSS_DEFAULT = 536


class Connection(Tcb):
    """One TCB: the state of one connection and its sequence variables."""

    __slots__ = ("lport", "rhost", "rport", "iss", "irs", "snd_una", "snd_nxt", "rcv_nxt",
                 "listener", "orphaned", "fin_seq", "peer_fin", "unsent", "recovery", "timers",
                 "last_oow", "ack_due", "two_way", "ts_recent", "accepted", "close_pending",
                 "ato", "quick", "pingpong", "lrcvtime", "rcv_mss", "rcv_wup", "ack_sched", "pushed",
                 "keepalive", "last_rcv", "probes_out")

    def __init__(self, host: Host, name: str, lport: int, rhost: str, rport: int, iss: int,
                 state: State = S.CLOSED, listener: Listener | None = None, two_way: bool = False):
        super().__init__(host, name, state)
        self.lport, self.rhost, self.rport = lport, rhost, rport
        self.iss = iss
        self.snd_una = self.snd_nxt = iss
        self.irs = self.rcv_nxt = 0
        #: the listener whose child this is (a passive open), or None
        self.listener = listener
        self.orphaned = False      # close() rather than shutdown(): Linux "orphan" socket
        self.fin_seq: int | None = None
        self.peer_fin = False
        self.unsent = 0
        #: a close() waiting for ESTABLISHED, with data to send first (RFC 9293 §3.10.4)
        self.close_pending = False
        self.recovery = Recovery(host.clock, host.profile.rto_formula)
        self.timers = Timers(self._timer_moved)
        self.last_oow = -(1 << 62)
        self.ack_due = False
        self.two_way = two_way     # the two-way-handshake what-if (not TCP)
        self.accepted = False      # taken by the application's accept()
        self.ts_recent: int | None = None   # RFC 7323 TS.Recent: the peer's TSval to echo
        # Linux's delayed-ACK state (struct inet_connection_sock's icsk_ack):
        self.ato = 0               # the ACK timeout, µs; 0 until data arrives
        self.quick = 0             # ACKs left in quick-ACK mode
        self.pingpong = False      # interactive: hold ACKs to ride on our replies
        self.lrcvtime = 0          # when data last arrived
        self.rcv_mss = RCV_MSS_DEFAULT   # the guess at the peer's MSS (tcp_measure_rcv_mss)
        self.rcv_wup = 0           # RCV.NXT when we last sent an ACK
        self.ack_sched = False     # an ACK is owed; __tcp_ack_snd_check decides when
        self.pushed = 0            # small segments since the last ACK (ICSK_ACK_PUSHED, PUSHED2)
        # SO_KEEPALIVE (a listener's children inherit it, as sk_clone does):
        self.keepalive = host.keepalive
        self.last_rcv = 0          # when the peer last sent something acceptable (tcp_ack: rcv_tstamp)
        self.probes_out = 0        # keepalive probes not answered

    def __repr__(self) -> str:
        return f"<Connection {self.name} {self.state.value}>"

    def _timer_moved(self) -> None:
        self.host.emit(TimerMoved(self))

    # ----------------------------------------------------------------- user calls
    def send(self, nbytes: int, now: int) -> None:
        """Queue `nbytes` of data (RFC 9293 §3.10.2 SEND)."""
        if not (isinstance(nbytes, int) and nbytes > 0):
            raise ValueError(f"send: number of bytes must be a positive integer, got {nbytes!r}")
        if self.close_pending:
            raise IllegalCall("send", self.state.value, self.name, text("why.closing"))
        self._call(E.SEND, "send", now, text("why.closed" if self.state is S.CLOSED else "why.not_open"))
        self.unsent += nbytes
        self._flush(now)

    def close(self, now: int) -> None:
        """close(): no more data from us, and the application is gone (RFC 9293
        §3.10.4; Linux treats the socket as orphaned)."""
        self._close(now, "close")
        self.orphaned = True   # set once the call succeeded; FIN_WAIT_2 checks it later

    def shutdown(self, now: int) -> None:
        """shutdown(SHUT_WR): send FIN but keep receiving (a half-close)."""
        self._close(now, "shutdown")

    def _close(self, now: int, call: str) -> None:
        if self.close_pending:
            raise IllegalCall(call, self.state.value, self.name, text("why.closing"))
        if self.unsent and self.state is S.SYN_RECEIVED:
            self._call(E.CLOSE_QUEUED, call, now)
            self.close_pending = True
            return
        lost = self.unsent if self.state is S.SYN_SENT else 0
        self._call(E.CLOSE, call, now, text("why.closed" if self.state is S.CLOSED else "why.closing"))
        if lost:
            # RFC 9293 §3.10.4, SYN-SENT: "return 'error: closing' responses to any queued SENDs"
            self.unsent = 0
            self.host.tell(now, self, NoticeKind.ERROR, text("notice.closing_unsent", endpoint=self.name, n=lost))

    def abort(self, now: int) -> None:
        """ABORT (RFC 9293 §3.10.5), e.g. close() with SO_LINGER 0."""
        self._call(E.ABORT, "abort", now)

    # ------------------------------------------------------------------ sending
    def _emit(self, flags: str, seq: int, now: int, length: int = 0, rtx: bool = False) -> None:
        """Put one segment on the wire (it carries RCV.NXT when the ACK flag is on)."""
        ack = self.rcv_nxt if "A" in flags else None
        ts = self.host.profile.timestamps
        seg = Segment(src=self.host.name, sport=self.lport, dst=self.rhost, dport=self.rport,
                      flags=flags, seq=seq, ack=ack, len=length,
                      tsval=now if ts else None, tsecr=self.ts_recent if ts else None)
        self.host.emit(Transmit(seg, rtx))
        if ack is not None:
            self._ack_sent()

    def _ack_sent(self) -> None:
        """Any segment with an ACK settles what was owed (Linux tcp_event_ack_sent)."""
        if self.quick and (self.ack_due or self.ack_sched or self.timers.delack is not None):
            self.quick -= 1                       # tcp_dec_quickack_mode
            if not self.quick:
                self.ato = self.host.clock.ato_min
        self.ack_due = self.ack_sched = False
        self.pushed = 0
        self.rcv_wup = self.rcv_nxt
        if self.timers.delack is not None:
            self.timers.stop("delack")

    def _queue(self, flags: str, seq: int, length: int, now: int) -> None:
        """Send a segment that occupies sequence space and keep it for retransmission."""
        self._emit(flags, seq, now, length)
        self.recovery.track(flags, seq, length, now)
        if self.timers.rtx is None:
            self.timers.arm("rtx", now + self.recovery.rto)

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        """Send what the row says (`table.Send` names each way of sending)."""
        match rule.send:
            case Send.ACK:
                self.ack_due = True          # one ACK for data and FIN together, after the segment
            case Send.ACK_NOW:
                self._emit("A", self.snd_nxt, now)
            case Send.DUP_ACK:
                # Linux tcp_oow_rate_limited: pure ACKs and SYNs out of the
                # window are answered at most once per 500 ms; data is not.
                if seg is not None and seg.len and self.host.clock.delayed_ack:
                    self._enter_quickack()        # tcp_data_queue: a duplicate or out-of-window data
                if seg is None or (seg.seg_len and not seg.syn) or self._oow_ok(now):
                    self._emit("A", self.snd_nxt, now)
            case Send.DELAYED_ACK:
                if not self.host.clock.delayed_ack or self.two_way:
                    self.ack_due = True
                else:
                    if rule.event is E.RCV_DATA:
                        assert seg is not None, "data arrives in a segment"
                        self._data_received(seg, now)
                    else:                          # tcp_fin(): inet_csk_enter_pingpong_mode
                        self.pingpong = True
                    self.ack_sched = True          # decided once the segment is processed
            case Send.TW_ACK:
                assert seg is not None, "a timewait ACK answers a segment"
                if self.state is S.TIME_WAIT:
                    self.timers.arm("time_wait", now + self.host.clock.time_wait)
                if (seg.seg_len and not seg.syn) or self._oow_ok(now):
                    self._emit("A", self.snd_nxt, now)
            case Send.RESTART_2MSL:
                self.timers.arm("time_wait", now + self.host.clock.time_wait)
            case Send.ACK_RESTART_2MSL:
                # RFC 9293 §3.10.7.4: acknowledge it and restart the 2 MSL timeout.
                self.ack_due = True
                self.timers.arm("time_wait", now + self.host.clock.time_wait)
            case Send.SYN:
                self._queue("S", self.iss, 0, now)
                self.snd_nxt = seq_add(self.iss, 1)
            case Send.SYN_ACK:
                self._queue("SA", self.iss, 0, now)
                self.snd_nxt = seq_add(self.iss, 1)
            case Send.SYN_ACK_FOR_SYN:
                self._syn_becomes_syn_ack(now)
            case Send.SYN_ACK_AGAIN:
                self._syn_ack_again(now)
            case Send.FIN:
                self.fin_seq = self.snd_nxt
                self._queue("FA", self.snd_nxt, 0, now)
                self.snd_nxt = seq_add(self.snd_nxt, 1)
            case Send.RST:
                assert seg is not None, "an RST answers a segment"
                self._reset_reply(seg, self.lport)
            case Send.RST_ABORT:
                self._emit_rst(self.snd_nxt, now)
            case Send.KEEPALIVE:
                self._emit("A", seq_add(self.snd_una, -1), now)
                self.probes_out += 1
            case Send.RETRANSMIT:
                self._retransmit(now)
            case Send.DATA:
                pass  # _flush() sends it once the state is right
            case _:  # pragma: no cover - a row meant for a listener
                raise AssertionError(f"{self.name}: a connection cannot send {rule.send}")

    def _syn_becomes_syn_ack(self, now: int) -> None:
        """Simultaneous open (RFC 9293 Figure 7): our unacknowledged SYN is
        replaced by a SYN,ACK with the same ISN."""
        q = self.recovery.queue
        if q and q[0].flags == "S":
            q.clear()
            self.timers.stop("rtx")
            self._queue("SA", self.iss, 0, now)
        else:
            self._queue("SA", self.iss, 0, now)
            self.snd_nxt = seq_add(self.iss, 1)

    def _syn_ack_again(self, now: int) -> None:
        """Linux tcp_check_req: a retransmitted SYN gets the SYN,ACK again
        (rate-limited) and the SYN,ACK timer starts afresh."""
        if self._oow_ok(now):
            self._emit("SA", self.iss, now, rtx=True)
            head = self.recovery.queue[0]
            head.sent_at, head.retransmitted = now, True
            self.timers.arm("rtx", now + self.recovery.rto)

    def _emit_rst(self, seq: int, now: int) -> None:
        if self.host.profile.rst_ack_on_abort:
            self._emit("RA", seq, now)
        else:
            self.host.emit(Transmit(Segment(src=self.host.name, sport=self.lport, dst=self.rhost,
                                            dport=self.rport, flags="R", seq=seq), False))

    def _oow_ok(self, now: int) -> bool:
        """Linux tcp_oow_rate_limited: answer out-of-window segments at most once per 500 ms."""
        if now - self.last_oow < self.host.clock.ratelimit:
            return False
        self.last_oow = now
        return True

    # ------------------------------------------------------------ delayed ACK (Linux)
    def _incr_quickack(self) -> None:
        """tcp_incr_quickack: up to TCP_MAX_QUICKACKS ACKs at once, fewer for a small window."""
        n = self.host.profile.window // (2 * self.rcv_mss) or 2
        self.quick = max(self.quick, min(n, self.host.profile.quickacks))

    def _enter_quickack(self) -> None:
        """tcp_enter_quickack_mode: ACK the next segments at once, leave ping-pong."""
        self._incr_quickack()
        self.pingpong = False
        self.ato = self.host.clock.ato_min

    def _data_received(self, seg: Segment, now: int) -> None:
        """tcp_event_data_recv and tcp_measure_rcv_mss: the first data starts the
        delayed-ACK engine; later gaps between arrivals adapt the ato."""
        c = self.host.clock
        if not self.ato:
            self._incr_quickack()
            self.ato = c.ato_min
        else:
            gap = now - self.lrcvtime
            if gap <= c.ato_min // 2:
                self.ato = self.ato // 2 + c.ato_min // 2
            elif gap < self.ato:
                self.ato = min(self.ato // 2 + gap, self.recovery.rto)
            elif gap > self.recovery.rto:         # a long pause: ACK quickly again
                self._incr_quickack()
        self.lrcvtime = now
        if seg.len >= self.rcv_mss:
            self.rcv_mss = min(seg.len, self.host.profile.mss)
        else:                                      # a small segment: the sender pushed
            self.pushed = min(self.pushed + 1, 2)

    def _ack_check(self, now: int) -> None:
        """__tcp_ack_snd_check, then tcp_cleanup_rbuf (the simulated application
        reads at once): send the owed ACK now, or arm the delayed-ACK timer."""
        self.ack_sched = False
        if self.ack_due:
            return
        if ((self.rcv_nxt - self.rcv_wup) % MOD > self.rcv_mss     # more than one full segment
                or (self.quick and not self.pingpong)                # quick-ACK mode
                or (not self.orphaned and (self.pushed == 2 or (self.pushed and not self.pingpong)))):
            self.ack_due = True
            return
        c, ato = self.host.clock, self.ato
        if ato > c.ato_min:                         # tcp_send_delayed_ack
            bound = c.delack_max if self.pingpong or self.pushed else US // 2     # HZ/2
            if self.recovery.srtt is not None:
                bound = min(bound, max(self.recovery.srtt, c.ato_min))
            ato = min(ato, bound)
        # The timer wheel runs a timer in the tick after it expires (ato 0: the
        # next tick), so a delayed ACK leaves up to one tick after its ato.
        due = now + min(ato, c.delack_max) + c.delayed_ack
        pending = self.timers.delack
        if pending is not None:
            if pending <= now + ato // 4:          # about to fire anyway: ACK now
                self.ack_due = True
                return
            due = min(due, pending)
        self.timers.arm("delack", due)

    def _delack_timeout(self) -> None:
        """tcp_delack_timer_handler: a delayed ACK that found nothing to ride on."""
        if self.pingpong:
            self.pingpong = False
            self.ato = self.host.clock.ato_min
        else:
            self.ato = min(self.ato * 2, self.recovery.rto)

    def _flush(self, now: int) -> None:
        """Send queued data once the connection can carry it."""
        if self.unsent and self.state in (S.ESTABLISHED, S.CLOSE_WAIT):
            mss = self.host.profile.mss
            while self.unsent:
                n = min(mss, self.unsent)
                self.unsent -= n
                last = self.unsent == 0 and self.host.profile.push
                self._queue("PA" if last else "A", self.snd_nxt, n, now)
                self.snd_nxt = seq_add(self.snd_nxt, n)
            if self.ato and now - self.lrcvtime < self.ato:
                self.pingpong = True       # tcp_event_data_sent: a reply (tcp_pingpong_thresh 1)

    def _retransmit(self, now: int) -> None:
        """Go back N: resend everything unacknowledged (RFC 9293 §3.8.1)."""
        for entry in self.recovery.queue:
            flags = entry.flags
            if "S" not in flags and "A" not in flags:
                flags += "A"
            self._emit(flags, entry.seq, now, entry.data, rtx=True)
            entry.sent_at, entry.retransmitted = now, True

    # ------------------------------------------------------------ state entries
    def _entered(self, old: State, now: int) -> None:
        st = self.state
        if old is S.SYN_RECEIVED and self.listener is not None:
            self.listener._forget(self)           # out of the SYN queue, whatever comes next
        if st is S.ESTABLISHED:
            self.last_rcv = now
            if self.keepalive:
                self.timers.arm("keepalive", now + self.host.clock.keepalive_time)
            self.host.tell(now, self, NoticeKind.CONNECTED)
            if self.listener is not None:
                self.listener._established(self, now)
            self._flush(now)
            if self.close_pending:                  # a close queued in SYN_RECEIVED: now, after the data
                self.close_pending = False
                self._fire(E.CLOSE, now)
        elif st is S.CLOSED:
            self.timers.stop_all()
            self.recovery.queue.clear()
            self.host._forget(self)
        elif st is S.LISTEN:                       # RST in SYN_RECEIVED from a passive open
            self.timers.stop("rtx")
            self.host._forget(self)
        elif st is S.TIME_WAIT:
            self.recovery.queue.clear()
            self.timers.stop("rtx", "delack", "fin_wait_2", "keepalive")
            self.timers.arm("time_wait", now + self.host.clock.time_wait)
        elif st is S.FIN_WAIT_2:
            if self.orphaned and self.host.clock.fin_timeout is not None:
                self.timers.arm("fin_wait_2", now + self.host.clock.fin_timeout)

    # ------------------------------------------------------------------ timers
    def next_timer(self) -> int | None:
        """The earliest deadline of this connection's timers, or None."""
        return self.timers.next()

    def handle_timer(self, now: int) -> None:
        """Fire every timer whose deadline is `now` or earlier."""
        timers = self.timers
        if timers.expired("delack", now):
            self._delack_timeout()
            self._fire(E.TIMEOUT_DELACK, now)
        if timers.expired("rtx", now):
            self._retransmission_timeout(now)
        if timers.expired("fin_wait_2", now):
            self._fire(E.TIMEOUT_FIN_WAIT_2, now)
        if timers.expired("time_wait", now):
            self._fire(E.TIMEOUT_2MSL, now)
        if timers.expired("keepalive", now):
            self._keepalive_timeout(now)
        timers.moved()

    def _keepalive_timeout(self, now: int) -> None:
        """Linux tcp_keepalive_timer: probe an idle connection that has nothing in
        flight; give up after keepalive_probes unanswered probes."""
        c = self.host.clock
        if self.state not in KEEPALIVE_STATES:
            if self.state in (S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK):
                self.timers.arm("keepalive", now + c.keepalive_time)      # our FIN is in flight
            return
        if self.recovery.queue or self.unsent:                          # "alive without keepalive"
            self.timers.arm("keepalive", now + c.keepalive_time)
            return
        idle = now - self.last_rcv
        if idle < c.keepalive_time:
            self.timers.arm("keepalive", self.last_rcv + c.keepalive_time)
        elif self.probes_out >= self.host.profile.keepalive_probes:
            self._fire(E.TIMEOUT_KEEPALIVE_GIVE_UP, now)
            self.host.tell(now, self, NoticeKind.TIMED_OUT)
        else:
            self._fire(E.TIMEOUT_KEEPALIVE, now)
            self.timers.arm("keepalive", now + c.keepalive_intvl)

    def _retransmission_timeout(self, now: int) -> None:
        rec = self.recovery
        if self._out_of_retries(now):
            unseen = self.listener is not None and not self.accepted
            self._fire(E.TIMEOUT_GIVE_UP, now)
            if not unseen:            # a half-open child the application never saw
                self.host.tell(now, self, NoticeKind.TIMED_OUT)
            return
        # Linux tcp_retransmit_timer: the first tcp_syn_linear_timeouts SYN
        # retransmissions keep the RTO; after that it doubles.
        rec.back_off(keep_rto=self.state is S.SYN_SENT
                     and rec.retries + 1 <= self.host.profile.syn_linear_timeouts)
        self._fire(E.TIMEOUT_RTX, now)
        self.timers.rtx = now + rec.rto

    def _out_of_retries(self, now: int) -> bool:
        """Whether this expiry gives up instead of retransmitting.

        The RFC profile counts retransmissions.  Linux (retransmits_timed_out)
        turns the retry count into a time budget (`recovery.retry_budget`)
        and gives up at the first expiry past it, counted from the first
        transmission; a passive connection's SYN-ACK (a request socket) is
        counted, with the limit its listener sets (reqsk_timer_handler)."""
        p = self.host.profile
        rec = self.recovery
        if self.state is S.SYN_RECEIVED and self.listener is not None:
            return rec.retries >= self.listener.synack_limit()
        syn = self.state in (S.SYN_SENT, S.SYN_RECEIVED)
        limit = p.syn_retries if syn else (p.orphan_retries if self.orphaned else p.retries2)
        if not p.retry_budget_in_time:
            return rec.retries >= limit
        if rec.retries == 0 or not rec.queue:
            return False
        c = self.host.clock
        budget = retry_budget(limit, c.rto_initial if syn else c.rto_min, c.rto_max)
        return now - rec.first_sent() >= budget

    def _ack_advanced(self, ack: int, now: int, tsecr: int | None = None) -> None:
        """SND.UNA moves to `ack`: recovery drops what it covers and takes an
        RTT sample; the retransmission timer restarts if anything is left."""
        rec = self.recovery
        rec.acked(ack, now, tsecr)
        self.snd_una = ack
        if rec.queue:
            self.timers.arm("rtx", now + rec.rto)
        else:
            self.timers.stop("rtx")

    # ------------------------------------------------------------ segment input
    def receive(self, seg: Segment, now: int) -> None:
        """Process an arriving segment (RFC 9293 §3.10.7.3 and §3.10.7.4)."""
        if self.state is S.SYN_SENT:
            self._rcv_syn_sent(seg, now)
        else:
            self._rcv_sync(seg, now)
        if self.ack_sched and self.state is not S.CLOSED:
            self._ack_check(now)
        self.ack_sched = False
        if self.ack_due and self.state is not S.CLOSED:
            self._emit("A", self.snd_nxt, now)
        self.ack_due = False

    def _rcv_syn_sent(self, seg: Segment, now: int) -> None:
        """RFC 9293 §3.10.7.3: the ACK, the RST, then the SYN."""
        ack_ok = False
        if seg.ack is not None:
            if not (seq_lt(self.iss, seg.ack) and seq_le(seg.ack, self.snd_nxt)):
                self._fire(E.RCV_RST_IGNORED if seg.rst else E.RCV_BAD_ACK, now, seg)
                if self.host.profile.linux_input and not self.recovery.retries and self.state is S.SYN_SENT:
                    # tcp_rcv_synsent_state_process: "Previous FIN/ACK or RST/ACK might be ignored":
                    # the SYN goes again after TCP_TIMEOUT_MIN, not after the full RTO
                    self.timers.arm("rtx", now + TCP_TIMEOUT_MIN)
                return
            ack_ok = True
        if seg.rst:
            if ack_ok:
                self._fire(E.RCV_RST, now, seg)
                self.host.tell(now, self, NoticeKind.REFUSED)
            else:
                self._fire(E.RCV_RST_IGNORED, now, seg)
            return
        if not seg.syn:
            self._fire(E.RCV_UNACCEPTABLE, now, seg)
            return
        self.irs = seg.seq
        self.rcv_nxt = seq_add(seg.seq, 1)
        self.ts_recent = seg.tsval
        if seg.ack is not None:
            self.recovery.syn_rtx = self.recovery.head_retransmitted()
            self._ack_advanced(seg.ack, now, seg.tsecr)
            self._fire(E.RCV_SYN_ACK, now, seg)
        else:
            self._fire(E.RCV_SYN, now, seg)

    def _acceptable(self, seq: int, seglen: int) -> bool:
        """The four cases of RFC 9293 §3.10.7.4's acceptability test; Linux's
        tcp_sequence() instead: not beginning after RCV.NXT+RCV.WND, not ending
        before RCV.NXT (so both edges are one wider)."""
        wnd = self.host.profile.window
        rn = self.rcv_nxt
        if self.host.profile.linux_input and self.state is not S.TIME_WAIT:
            top, end = seq_add(rn, wnd), seq_add(seq, seglen)
            if self.state is S.SYN_RECEIVED and self.listener is not None:
                # a request sock: tcp_check_req -> tcp_in_window (a zero-length segment may sit at the right edge)
                return seq == rn or (seq_lt(rn, end) and seq_lt(seq, top)) or (seq == top and seglen == 0)
            return seq_le(rn, end) and seq_le(seq, top)
        if seglen == 0:
            return seq == rn if wnd == 0 else (seq_le(rn, seq) and seq_lt(seq, seq_add(rn, wnd)))
        if wnd == 0:
            return False
        end = seq_add(seq, seglen - 1)
        top = seq_add(rn, wnd)
        return (seq_le(rn, seq) and seq_lt(seq, top)) or (seq_le(rn, end) and seq_lt(end, top))

    def _rcv_sync(self, seg: Segment, now: int) -> None:
        """RFC 9293 §3.10.7.4 for SYN_RECEIVED and the synchronized states:
        each check in the RFC's order; the first that decides, ends."""
        if self.state is S.TIME_WAIT and self._new_incarnation(seg):
            # The old connection's SND.NXT + 65537 becomes the listener's ISN for the new one.
            isn = seq_add(self.snd_nxt, TW_ISN_STEP)
            self._fire(E.RCV_SYN_NEW_INCARNATION, now, seg)
            self.host.reopen(seg, now, isn)
            return
        profile = self.host.profile
        if profile.linux_input and profile.rfc5961 and (self.state is S.TIME_WAIT
                                                         or (self.state is S.FIN_WAIT_2 and self.orphaned)):
            self._rcv_timewait(seg, now)
            return
        seq, syn = seg.seq, seg.syn
        if (self.state is S.SYN_RECEIVED and self.listener is not None and profile.linux_input
                and seg.ack is not None and seg.ack != self.snd_nxt and not seg.rst):
            # tcp_check_req: after a pure retransmitted SYN, an ACK that is not ISS+1 goes to the
            # listener, which answers <SEQ=SEG.ACK><CTL=RST>; the request stays as it was
            self._fire(E.RCV_BAD_ACK, now, seg)
            return
        if syn and seq == self.irs:
            # In SYN_RECEIVED, the SYN,ACK of a simultaneous open (RFC 9293 Figure 7):
            # its SYN is the one we have, the rest is new.  Otherwise a bare
            # retransmission of the peer's SYN (or SYN,ACK), whose sequence number
            # we have already received; a SYN that carries a FIN or data goes
            # through the checks below like any segment.
            simultaneous = self.state is S.SYN_RECEIVED and self.listener is None
            request_sock = self.state is S.SYN_RECEIVED and self.listener is not None
            if request_sock and profile.linux_input:
                # tcp_check_req: flags (of RST, SYN, ACK) exactly SYN at the peer's ISN is a retransmitted
                # SYN, whatever FIN or data it carries; anything else meets tcp_in_window below
                if seg.ack is None and not seg.rst:
                    self._fire(E.RCV_SYN, now, seg)
                    return
            elif self._simultaneous_open_ack(seg):
                syn, seq = False, seq_add(seq, 1)
                if self.host.profile.linux_input:
                    self.ack_due = True          # its SYN is old news to tcp_data_queue: a duplicate ACK
            elif not (seg.fin or seg.len):
                linux_sim = simultaneous and self.host.profile.linux_input
                self._fire(E.RCV_SYN_SIMULTANEOUS if linux_sim else E.RCV_SYN, now, seg)
                return
        seglen = seg.len + (1 if syn else 0) + (1 if seg.fin else 0)
        request_sock = self.state is S.SYN_RECEIVED and self.listener is not None
        if self.host.profile.linux_input and seg.ack is None and not (seg.rst or syn) and not request_sock:
            # tcp_rcv_state_process / tcp_rcv_established: "if (!th->ack && !th->rst && !th->syn)" drop
            self._fire(E.RCV_NO_ACK, now, seg)
            return
        if not self._first_check(seg, seq, seglen, now):
            return
        if seg.tsval is not None and seq_le(seq, self.rcv_nxt):
            self.ts_recent = seg.tsval          # RFC 7323 §4.3, with Last.ACK.sent = RCV.NXT
        if seg.rst:
            self._second_check(seg, seq, now)
            return
        if syn:                                  # fourth check
            if not self.host.profile.rfc5961 and self.state is not S.SYN_RECEIVED:
                # RFC 793: "If the SYN is in the window it is an error, send a reset"
                st = self.state
                self._fire(E.RCV_SYN_793, now, seg)
                if st not in (S.CLOSING, S.LAST_ACK, S.TIME_WAIT):   # there the user has closed already
                    self.host.tell(now, self, NoticeKind.RESET)
                return
            passive = self.state is S.SYN_RECEIVED and self.listener is not None
            linux_sim = self.state is S.SYN_RECEIVED and not passive and self.host.profile.linux_input
            self._fire(E.RCV_SYN_PASSIVE if passive else E.RCV_SYN_SIMULTANEOUS if linux_sim else E.RCV_SYN, now, seg)
            return
        if seg.ack is None:                      # fifth check
            self._fire(E.RCV_NO_ACK, now, seg)
            return
        if not self._fifth_check(seg, now):
            return
        self.last_rcv, self.probes_out = now, 0          # tcp_ack: the peer is alive
        self._text_and_fin(seg, seq, now)

    def _rcv_timewait(self, seg: Segment, now: int) -> None:
        """Linux's timewait socket (tcp_timewait_state_process): TIME_WAIT, and
        FIN_WAIT_2 after close() (substate TCP_FIN_WAIT2).  SEG.ACK is never
        looked at; the window test is tcp_in_window()."""
        seq, rn = seg.seq, self.rcv_nxt
        end = seq_add(seq, seg.seg_len)
        if self.state is S.FIN_WAIT_2:
            top = seq_add(rn, self.host.profile.window)
            inside = seq == rn or (seq_lt(rn, end) and seq_lt(seq, top)) or (seq == top and seq == end)
            if not inside:
                self._fire(E.RCV_TW_OTHER, now, seg)
            elif seg.rst:
                self._fire(E.RCV_RST, now, seg)               # killed; the application closed: nobody told
            elif seg.syn and seq_le(rn, seq):
                self._fire(E.RCV_TW_SYN, now, seg)
            elif seg.ack is None or seq_le(end, rn) or end == seq:
                pass                                          # a duplicate: TCP_TW_SUCCESS, nothing sent
            elif not seg.fin or end != seq_add(rn, 1):
                self._fire(E.RCV_DATA_AFTER_CLOSE, now, seg)  # new data after close(): TCP_TW_RST
            else:                                             # the FIN: true TIME_WAIT
                self.peer_fin = True
                self.rcv_nxt = end
                self._fire(E.RCV_FIN, now, seg)
            return
        if seq == rn and (end == seq or seg.rst):
            if not seg.rst:
                self._fire(E.RCV_TW_BARE_ACK, now, seg)
            elif self.host.profile.rfc1337:
                self._fire(E.RCV_RST_RFC1337, now, seg)
            else:
                self._fire(E.RCV_RST, now, seg)               # TIME-WAIT assassination
        elif seg.rst:
            self._fire(E.RCV_RST_IGNORED, now, seg)
        elif seg.fin and end == rn:
            self._fire(E.RCV_FIN, now, seg)                   # the peer's FIN again: ACK, restart 2MSL
        elif seg.ack is None:
            self._fire(E.RCV_UNACCEPTABLE, now, seg)          # ACKed, TIME_WAIT not restarted
        else:
            self._fire(E.RCV_TW_OTHER, now, seg)

    def _new_incarnation(self, seg: Segment) -> bool:
        """Linux tcp_timewait_state_process: a bare SYN that PAWS does not reject, with a
        sequence number after RCV.NXT or a newer timestamp, and a listener to take it."""
        if (S.TIME_WAIT, E.RCV_SYN_NEW_INCARNATION) not in self.host.table:
            return False
        if not seg.syn or seg.ack is not None or seg.rst:
            return False
        recent = self.ts_recent
        if seg.tsval is not None and recent is not None and seg.tsval < recent:
            return False                                   # PAWS: an old duplicate
        newer = seg.tsval is not None and recent is not None and seg.tsval > recent
        if not (seq_lt(self.rcv_nxt, seg.seq) or newer):
            return False
        lst = self.host.listeners.get(self.lport)
        return lst is not None and lst.state is S.LISTEN

    def _simultaneous_open_ack(self, seg: Segment) -> bool:
        return (self.state is S.SYN_RECEIVED and seg.ack is not None and not seg.rst
                and seq_lt(self.snd_una, seg.ack) and seq_le(seg.ack, self.snd_nxt))

    def _first_check(self, seg: Segment, seq: int, seglen: int, now: int) -> bool:
        """First check, the sequence number: False if the segment was dealt with here."""
        if self._acceptable(seq, seglen):
            return True
        if (seg.rst and self.host.profile.linux_input and self.state in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK)
                and seq == seq_add(self.rcv_nxt, -1)):
            # tcp_reset_check: after the peer's FIN, an RST carrying the FIN's number is exact
            self._second_check(seg, self.rcv_nxt, now)
        elif seg.rst:
            self._fire(E.RCV_RST_IGNORED, now, seg)
        elif seg.fin and seq_add(seq, seglen) == self.rcv_nxt and self.state in PEER_FIN_SEEN:
            self._fire(E.RCV_FIN, now)          # a retransmitted FIN: ACK it again
        else:
            self._fire(E.RCV_UNACCEPTABLE, now, seg)
        return False

    def _second_check(self, seg: Segment, seq: int, now: int) -> None:
        """Second check, an RST in the window (RFC 9293 §3.10.7.4; RFC 5961 §3.2)."""
        st, profile = self.state, self.host.profile
        blind = not profile.rfc5961 and st is not S.SYN_RECEIVED     # RFC 793: any RST in the window
        if st is S.TIME_WAIT and profile.rfc1337 and (seq == self.rcv_nxt or blind):
            self._fire(E.RCV_RST_RFC1337, now, seg)
        elif seq != self.rcv_nxt and not blind:
            quiet = st is S.TIME_WAIT and not profile.time_wait_challenge_ack
            self._fire(E.RCV_RST_IGNORED if quiet else E.RCV_RST_IN_WINDOW, now, seg)
        else:
            passive = st is S.SYN_RECEIVED and self.listener is not None
            exact = seq == self.rcv_nxt
            self._fire(E.RCV_RST_PASSIVE if passive else E.RCV_RST if exact else E.RCV_RST_IN_WINDOW_793, now, seg)
            # In CLOSING, LAST_ACK and TIME_WAIT the user has closed already: "enter the
            # CLOSED state, delete the TCB, and return" (RFC 9293 §3.10.7.4), nobody is told;
            # in Linux nobody either after close() (an orphaned socket).
            linux = profile.linux_input
            if st not in (S.CLOSING, S.LAST_ACK, S.TIME_WAIT) and not passive and not (linux and self.orphaned):
                # RFC 9293: "connection refused" in an active SYN-RECEIVED; Linux's tcp_reset()
                # says ECONNREFUSED only in SYN_SENT
                refused = st is S.SYN_RECEIVED and not linux
                self.host.tell(now, self, NoticeKind.REFUSED if refused else NoticeKind.RESET)

    def _fifth_check(self, seg: Segment, now: int) -> bool:
        """Fifth check, the ACK field: False if the segment was dealt with here."""
        ack = seg.ack
        assert ack is not None
        if self.state is S.SYN_RECEIVED:
            # Linux's simultaneous open (a full socket): tcp_ack() takes SEG.ACK = SND.UNA as a
            # duplicate, acceptable, and tcp_rcv_state_process moves to ESTABLISHED
            dup_ok = self.listener is None and self.host.profile.linux_input and ack == self.snd_una
            if not (seq_lt(self.snd_una, ack) and seq_le(ack, self.snd_nxt)) and not dup_ok:
                self._fire(E.RCV_BAD_ACK, now, seg)
                return False
            lst = self.listener
            if lst is not None and lst.accept_full():
                overflow = self.host.profile.abort_on_overflow
                rule = self._fire(E.RCV_ACK_OVERFLOW if overflow else E.RCV_ACK_QUEUE_FULL, now, seg)
                self.host.tell(now, self, NoticeKind.LISTENER, rule.label)
                return False
            self.recovery.syn_rtx = self.recovery.head_retransmitted()
            self._ack_advanced(ack, now, seg.tsecr)
            self._fire(E.RCV_ACK, now, seg)
            return True
        if seq_lt(self.snd_nxt, ack):            # acks something not yet sent
            self._fire(E.RCV_ACK_UNSENT, now, seg)
            return False
        # MAX.SND.WND, the largest window the peer offered: every host of a run has the profile's.
        # RFC 793 (no RFC 5961) has no such check: an old ACK "can be ignored".
        if self.host.profile.rfc5961 and seq_lt(ack, seq_add(self.snd_una, -self.host.profile.window)):
            self._fire(E.RCV_ACK_TOO_OLD, now, seg)
            return False
        if seq_lt(self.snd_una, ack):
            self._ack_advanced(ack, now, seg.tsecr)
        return True

    def _fin_acked(self) -> bool:
        return self.fin_seq is not None and self.snd_una == seq_add(self.fin_seq, 1)

    def _text_and_fin(self, seg: Segment, seq: int, now: int) -> None:
        """The rest of the fifth check (our FIN acknowledged), then the
        seventh and eighth steps: the segment text and the FIN."""
        data = seg.len
        fin_acked = self._fin_acked()
        fin_here = seg.fin and seq == self.rcv_nxt
        if fin_acked:
            st = self.state
            if st is S.CLOSING and self.host.profile.linux_input:
                self._fire(E.RCV_ACK_OF_FIN, now, seg)     # tcp_time_wait(); "goto consume": nothing more
                return
            if (st is S.FIN_WAIT_1 and (not fin_here or self.host.profile.fin_wait_1_via_2)) or st is S.CLOSING:
                self._fire(E.RCV_ACK_OF_FIN, now, seg)
            elif st is S.LAST_ACK:
                self._fire(E.RCV_ACK_OF_FIN, now, seg)
                return
        st = self.state
        profile = self.host.profile
        if (profile.linux_input and profile.abort_on_data_after_close and self.orphaned
                and st in (S.FIN_WAIT_1, S.FIN_WAIT_2) and (data or seg.fin)
                and seq_lt(self.rcv_nxt, seq_add(seq, data))):
            # tcp_rcv_state_process, FIN_WAIT1/2 after close(): data (or a FIN) beyond RCV.NXT,
            # in order or not, resets ("RFC 1122 says we MUST send a reset"); nobody is told
            self._fire(E.RCV_DATA_AFTER_CLOSE, now, seg)
            return
        if (profile.linux_input and st in PEER_FIN_SEEN and st is not S.TIME_WAIT and seq_lt(seq, self.rcv_nxt)
                and seq_lt(self.rcv_nxt, seq_add(seq, data))):
            # tcp_rcv_state_process, CLOSE_WAIT/CLOSING/LAST_ACK: text reaching past the peer's
            # FIN (RCV_SHUTDOWN) resets the connection, as in FIN_WAIT after close()
            self._fire(E.RCV_DATA_AFTER_FIN, now, seg)
            if st is S.CLOSE_WAIT:
                self.host.tell(now, self, NoticeKind.RESET)
            return
        if (data or seg.fin) and seq != self.rcv_nxt:
            if seq_lt(seq, self.rcv_nxt):          # overlaps what we have: keep the new part
                data = max(data - (self.rcv_nxt - seq) % MOD, 0)
                fin_here = seg.fin and seq_le(self.rcv_nxt, seq_add(seq, seg.len))
                if not data and not fin_here:      # all of it seen before (Linux's window lets it in)
                    again = seg.fin and seq_add(seq, seg.len + 1) == self.rcv_nxt and st in PEER_FIN_SEEN
                    self._fire(E.RCV_FIN if again else E.RCV_UNACCEPTABLE, now, seg)
                    return
            elif st in RECEIVING:
                self._fire(E.RCV_OUT_OF_ORDER, now, seg)
                return
        # seventh step: segment text
        if data > 0 and st in RECEIVING:
            if self.orphaned and self.host.profile.abort_on_data_after_close and st is not S.ESTABLISHED:
                self._fire(E.RCV_DATA_AFTER_CLOSE, now, seg)
                self.host.tell(now, self, NoticeKind.RESET, text("notice.data_after_close"))
                return
            self.rcv_nxt = seq_add(self.rcv_nxt, data)
            self._fire(E.RCV_DATA, now, seg)
            if not self.orphaned:            # after close() nobody reads
                self.host.tell(now, self, NoticeKind.DATA, str(data))
        # eighth step: FIN
        if fin_here and self.peer_fin and self.host.profile.linux_input:
            return                           # tcp_rcv_state_process: nothing at RCV.NXT is taken any more
        if fin_here and self.peer_fin and not data and self.state is not S.CLOSING:
            # A FIN again at RCV.NXT, after the peer's FIN: "advance RCV.NXT over the
            # FIN, and send an acknowledgment for the FIN" and remain (RFC 9293 §3.10.7.4;
            # in CLOSING a segment that does not ack our FIN is ignored, fifth check).
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            self._fire(E.RCV_FIN, now)
            return
        if fin_here and not self.peer_fin:
            self.peer_fin = True
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            if st is S.FIN_WAIT_1 and fin_acked:       # RFC 9293: straight to TIME_WAIT
                self._fire(E.RCV_FIN_ACK_OF_FIN, now, seg)
            else:
                self._fire(E.RCV_FIN, now, seg)
            if not self.orphaned:            # after close() nobody reads the end of data
                self.host.tell(now, self, NoticeKind.EOF)
