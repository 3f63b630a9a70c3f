"""A sans-I/O TCP endpoint: connections, listeners and the host that holds them.

How it works
------------
Nothing here reads a clock, opens a socket or draws a random number.  Every
input carries the simulated time `now` (integer microseconds):

* user calls   -- `Host.connect`, `Host.listen`, `Connection.send`, `.close`,
  `.shutdown`, `.abort`, `Listener.accept`;
* a segment    -- `Host.receive(segment, now)`;
* a timer      -- `Connection.handle_timer(now)` once `now` reaches
  `Connection.next_timer()`.

Outputs pile up on the `Host`: `outbox` (segments to put on the wire, each
with a flag saying whether it is a retransmission), `changes` (state changes
with the table row that caused them), `loops` (rows that kept the state, such
as a retransmission timeout) and `notices` (what the application is
told: connected, refused, reset, timed out, end of data, ...).  The caller --
normally `network.Simulation` -- drains them after every input.

Every state change goes through `Tcb._fire`, which looks the pair (state,
event) up in `table.TABLE` and sends what the row says.  The code in this
module only *classifies* inputs into events, in the order RFC 9293 §3.10.7
checks a segment (sequence number, RST, SYN, ACK, data, FIN), and keeps the
sequence variables and timers.

Invariants: SND.UNA <= SND.NXT; RCV.NXT only advances over bytes, SYNs and
FINs actually received in order; a connection in ESTABLISHED has had its SYN
acknowledged.  Out-of-order segments are not queued (RFC 9293 allows but does
not require it): they are dropped and answered with a duplicate ACK.
"""

from __future__ import annotations

import zlib

from .errors import IllegalCall
from .profile import Profile
from .segment import MOD, Segment, seq_add, seq_le, seq_lt
from .states import State
from .table import TABLE, Event, Rule
from .units import US, us

S = State
E = Event


#: Rows that keep the state and are too ordinary to draw on a run's path.
QUIET = frozenset({E.SEND, E.RCV_DATA})


class Clock:
    """The profile's times converted once to integer microseconds."""

    __slots__ = ("rto_initial", "rto_min", "rto_max", "time_wait", "fin_timeout", "delayed_ack",
                 "ratelimit", "rto_fallback")

    def __init__(self, p: Profile):
        self.rto_initial = us(p.rto_initial)
        self.rto_min = us(p.rto_min)
        self.rto_max = us(p.rto_max)
        self.time_wait = us(p.time_wait)
        self.fin_timeout = None if p.fin_timeout is None else us(p.fin_timeout)
        self.delayed_ack = us(p.delayed_ack)
        self.ratelimit = us(p.invalid_ratelimit)
        self.rto_fallback = 3 * US  # RFC 6298 §5.7; Linux TCP_TIMEOUT_FALLBACK


class Tcb:
    """What a connection and a listener share: a name, a state and `_fire`."""

    __slots__ = ("host", "name", "state")

    def __init__(self, host: Host, name: str, state: State = S.CLOSED):
        self.host, self.name, self.state = host, name, state

    def _fire(self, event: Event, now: int, seg: Segment | None = None) -> Rule:
        """Apply the table row for (state, event): the only place state changes."""
        self.host.now = now
        rule = TABLE.get((self.state, event))
        if rule is None:
            raise AssertionError(f"{self.name}: no table row for {event.name} in {self.state.name}")
        old = self.state
        if rule.next is not old:
            self.state = rule.next
            self.host.changes.append((now, self.name, old, rule.next, rule))
        elif event not in QUIET:
            self.host.loops.append((now, self.name, old, rule))
        if rule.send:
            self._act(rule, now, seg)
        if rule.next is not old:
            self._entered(old, now)
        return rule

    def _call(self, event: Event, call: str, now: int, why: str = "") -> Rule:
        if (self.state, event) not in TABLE:
            raise IllegalCall(call, self.state.value, self.name, why)
        return self._fire(event, now)

    def _entered(self, old: State, now: int) -> None:  # pragma: no cover - overridden
        pass

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:  # pragma: no cover
        pass

    def _reset_reply(self, seg: Segment, lport: int) -> None:
        """An RST answering `seg` (RFC 9293 §3.10.7.1): if the ACK bit was on,
        <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
        if seg.ack is not None:
            out = Segment(src=self.host.name, sport=lport, dst=seg.src, dport=seg.sport,
                          flags="R", seq=seg.ack)
        else:
            out = Segment(src=self.host.name, sport=lport, dst=seg.src, dport=seg.sport,
                          flags="RA", seq=0, ack=seq_add(seg.seq, seg.seg_len))
        self.host.outbox.append((out, False))


class Connection(Tcb):
    """One TCB: the state of one connection and its sequence variables."""

    __slots__ = ("lport", "rhost", "rport", "iss", "irs", "snd_una", "snd_nxt", "rcv_nxt",
                 "from_listen", "listener", "orphaned", "fin_seq", "peer_fin", "rtxq", "unsent",
                 "rto", "srtt", "rttvar", "retries", "rtx_at", "delack_at", "tw_at", "fw2_at",
                 "last_oow", "ack_due", "scheduled", "two_way", "syn_rtx", "ts_recent", "accepted")

    def __init__(self, host: Host, name: str, lport: int, rhost: str, rport: int, iss: int,
                 state: State = S.CLOSED, listener: Listener | None = None):
        super().__init__(host, name, state)
        self.lport, self.rhost, self.rport = lport, rhost, rport
        self.iss = iss
        self.snd_una = self.snd_nxt = iss
        self.irs = self.rcv_nxt = 0
        self.from_listen = listener is not None
        self.listener = listener
        self.orphaned = False      # close() rather than shutdown(): Linux "orphan" socket
        self.fin_seq: int | None = None
        self.peer_fin = False
        self.rtxq: list[list] = []  # [seq, len, flags, last_sent_at, retransmitted, first_sent_at]
        self.unsent = 0
        self.rto = host.clock.rto_initial
        self.srtt: int | None = None
        self.rttvar = 0
        self.retries = 0
        self.rtx_at: int | None = None
        self.delack_at: int | None = None
        self.tw_at: int | None = None
        self.fw2_at: int | None = None
        self.last_oow = -(1 << 62)
        self.ack_due = False
        self.scheduled: int | None = None  # for the scheduler: when its timer entry is due
        self.two_way = False
        self.syn_rtx = False
        self.accepted = False      # taken by the application's accept()
        self.ts_recent: int | None = None   # RFC 7323 TS.Recent: the peer's TSval to echo

    def __repr__(self) -> str:
        return f"<Connection {self.name} {self.state.value}>"

    # ----------------------------------------------------------------- user calls
    def send(self, nbytes: int, now: int) -> None:
        """Queue `nbytes` of data (RFC 9293 §3.10.2 SEND)."""
        if not (isinstance(nbytes, int) and nbytes > 0):
            raise ValueError(f"send: number of bytes must be a positive integer, got {nbytes!r}")
        self._call(E.SEND, "send", now, "there is no connection any more (it ended, was reset or refused)"
                   if self.state is S.CLOSED else "the connection is closing or not open")
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
        why = ("there is no connection any more (it ended, was reset or refused)" if self.state is S.CLOSED
               else "the connection is already closing")
        self._call(E.CLOSE, call, now, why)

    def abort(self, now: int) -> None:
        """ABORT (RFC 9293 §3.10.5), e.g. close() with SO_LINGER 0."""
        self._call(E.ABORT, "abort", now)

    # ------------------------------------------------------------------ actions
    def _emit(self, flags: str, seq: int, length: int = 0, rtx: bool = False) -> None:
        ack = self.rcv_nxt if "A" in flags else None
        if self.host.profile.timestamps:
            seg = Segment(src=self.host.name, sport=self.lport, dst=self.rhost, dport=self.rport,
                          flags=flags, seq=seq, ack=ack, len=length, tsval=self.host.now, tsecr=self.ts_recent)
        else:
            seg = Segment(src=self.host.name, sport=self.lport, dst=self.rhost, dport=self.rport,
                          flags=flags, seq=seq, ack=ack, len=length)
        self.host.outbox.append((seg, rtx))
        if ack is not None:
            self.ack_due = False
            if self.delack_at is not None:
                self.delack_at = None
                self._timers_changed()

    def _queue(self, flags: str, seq: int, length: int, now: int) -> None:
        """Send a segment that occupies sequence space and keep it for retransmission."""
        self._emit(flags, seq, length)
        self.rtxq.append([seq, length + ("S" in flags) + ("F" in flags), flags, now, False, now])
        if self.rtx_at is None:
            self.rtx_at = now + self.rto
            self._timers_changed()

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        send = rule.send
        if send == "ACK":
            if (rule.event is E.RCV_FIN and rule.state is S.ESTABLISHED and self.host.clock.delayed_ack
                    and not self.two_way):
                # Linux tcp_fin(): enter "pingpong" mode, so the ACK waits for
                # the application's FIN to ride on (TCP_DELACK_MIN).
                self.delack_at = now + self.host.clock.delayed_ack
                self._timers_changed()
            elif rule.event in (E.RCV_DATA, E.RCV_FIN, E.RCV_SYN_ACK):
                self.ack_due = True          # one ACK for data and FIN together
            elif (rule.event is E.TIMEOUT_DELACK or seg is None
                  or (seg.seg_len and not seg.syn) or self._oow_ok(now)):
                # Linux tcp_oow_rate_limited: pure ACKs and SYNs out of the
                # window are answered at most once per 500 ms; data is not.
                self._emit("A", self.snd_nxt)
        elif send == "SYN":
            self._queue("S", self.iss, 0, now)
            self.snd_nxt = seq_add(self.iss, 1)
        elif send == "SYN,ACK":
            if rule.event is E.RCV_SYN and rule.state is S.SYN_RECEIVED:
                # Linux tcp_check_req: a retransmitted SYN gets the SYN,ACK
                # again (rate-limited) and the SYN,ACK timer starts afresh.
                if self._oow_ok(now):
                    self._emit("SA", self.iss, rtx=True)
                    self.rtxq[0][3], self.rtxq[0][4] = now, True
                    self.rtx_at = now + self.rto
                    self._timers_changed()
            elif self.rtxq and self.rtxq[0][2] == "S":   # simultaneous open: SYN becomes SYN,ACK
                self.rtxq.clear()
                self.rtx_at = None
                self._queue("SA", self.iss, 0, now)
            else:
                self._queue("SA", self.iss, 0, now)
                self.snd_nxt = seq_add(self.iss, 1)
        elif send == "FIN":
            self.fin_seq = self.snd_nxt
            self._queue("FA", self.snd_nxt, 0, now)
            self.snd_nxt = seq_add(self.snd_nxt, 1)
        elif send == "RST":
            if seg is None:                      # abort: <SEQ=SND.NXT><CTL=RST>
                self._emit_rst(self.snd_nxt)
            else:
                self._reset_reply(seg, self.lport)
        elif send == "retransmission":
            self._retransmit(now)
        elif send == "data":
            pass  # _flush() sends it once the state is right

    def _emit_rst(self, seq: int) -> None:
        if self.host.profile.rst_ack_on_abort:
            self._emit("RA", seq)
        else:
            self.host.outbox.append((Segment(src=self.host.name, sport=self.lport, dst=self.rhost,
                                             dport=self.rport, flags="R", seq=seq), False))

    def _oow_ok(self, now: int) -> bool:
        """Linux tcp_oow_rate_limited: answer out-of-window segments at most once per 500 ms."""
        if now - self.last_oow < self.host.clock.ratelimit:
            return False
        self.last_oow = now
        return True

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

    def _retransmit(self, now: int) -> None:
        """Go back N: resend everything unacknowledged (RFC 9293 §3.8.1)."""
        for entry in self.rtxq:
            seq, length, flags = entry[0], entry[1], entry[2]
            data = length - ("S" in flags) - ("F" in flags)
            if "S" not in flags:
                flags = flags if "A" in flags else flags + "A"
            self._emit(flags, seq, data, rtx=True)
            entry[3], entry[4] = now, True

    def _timers_changed(self) -> None:
        self.host.dirty.append(self)

    # ------------------------------------------------------------ state entries
    def _entered(self, old: State, now: int) -> None:
        st = self.state
        host = self.host
        if old is S.SYN_RECEIVED and self.listener is not None:
            self.listener._forget(self)           # out of the SYN queue, whatever comes next
        if st is S.ESTABLISHED:
            host.notices.append((now, self, "connected", ""))
            if self.listener is not None:
                self.listener._established(self, now)
            self._flush(now)
        elif st is S.CLOSED:
            self.rtx_at = self.delack_at = self.tw_at = self.fw2_at = None
            self.rtxq.clear()
            self._timers_changed()
            host._forget(self)
        elif st is S.LISTEN:                       # RST in SYN_RECEIVED from a passive open
            self.rtx_at = None
            self._timers_changed()
            host._forget(self)
        elif st is S.TIME_WAIT:
            self.rtx_at = self.delack_at = self.fw2_at = None
            self.rtxq.clear()
            self.tw_at = now + host.clock.time_wait
            self._timers_changed()
        elif st is S.FIN_WAIT_2:
            if self.orphaned and host.clock.fin_timeout is not None:
                self.fw2_at = now + host.clock.fin_timeout
                self._timers_changed()

    # ------------------------------------------------------------------ timers
    def next_timer(self) -> int | None:
        """The earliest deadline of this connection's timers, or None."""
        best = None
        for t in (self.rtx_at, self.delack_at, self.tw_at, self.fw2_at):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def handle_timer(self, now: int) -> None:
        """Fire every timer whose deadline is `now` or earlier."""
        if self.delack_at is not None and self.delack_at <= now:
            self.delack_at = None
            self._fire(E.TIMEOUT_DELACK, now)
        if self.rtx_at is not None and self.rtx_at <= now:
            self.rtx_at = None
            if self._out_of_retries(now):
                unseen = self.listener is not None and not self.accepted
                self._fire(E.TIMEOUT_GIVE_UP, now)
                if not unseen:            # a half-open child the application never saw
                    self.host.notices.append((now, self, "timed out", ""))
            else:
                self.retries += 1
                # Linux tcp_retransmit_timer: the first tcp_syn_linear_timeouts
                # SYN retransmissions keep the RTO; after that it doubles.
                if not (self.state is S.SYN_SENT and self.retries <= self.host.profile.syn_linear_timeouts):
                    self.rto = min(self.rto * 2, self.host.clock.rto_max)
                self._fire(E.TIMEOUT_RTX, now)
                self.rtx_at = now + self.rto
        if self.fw2_at is not None and self.fw2_at <= now:
            self.fw2_at = None
            self._fire(E.TIMEOUT_FIN_WAIT_2, now)
        if self.tw_at is not None and self.tw_at <= now:
            self.tw_at = None
            self._fire(E.TIMEOUT_2MSL, now)
        self._timers_changed()

    def _out_of_retries(self, now: int) -> bool:
        """Whether this expiry gives up instead of retransmitting.

        The RFC profile counts retransmissions.  Linux (retransmits_timed_out)
        turns the retry count into a time budget, as if the RTO had doubled
        from its base each time (tcp_model_timeout), and gives up at the first
        expiry past it, counted from the first transmission; a passive
        connection's SYN-ACK (a request socket) is counted
        (reqsk_timer_handler)."""
        p = self.host.profile
        syn = self.state is S.SYN_SENT or (self.state is S.SYN_RECEIVED and not self.from_listen)
        if self.state is S.SYN_RECEIVED and self.from_listen:
            return self.retries >= self.listener.synack_limit()
        limit = p.syn_retries if syn else (p.orphan_retries if self.orphaned else p.retries2)
        if not p.retry_budget_in_time:
            return self.retries >= limit
        if self.retries == 0 or not self.rtxq:
            return False
        c = self.host.clock
        base = c.rto_initial if syn else c.rto_min
        thresh = max(0, (c.rto_max // base).bit_length() - 1)        # ilog2(TCP_RTO_MAX / base)
        if limit <= thresh:
            budget = ((2 << limit) - 1) * base
        else:
            budget = ((2 << thresh) - 1) * base + (limit - thresh) * c.rto_max
        return now - self.rtxq[0][5] >= budget

    # ------------------------------------------------------------- RTT and RTO
    def _rtt_sample(self, r: int) -> None:
        """RFC 6298 §2 smoothing; the RTO formula is the profile's."""
        if self.srtt is None:
            self.srtt, self.rttvar = r, r // 2
        else:
            self.rttvar = (3 * self.rttvar + abs(self.srtt - r)) // 4
            self.srtt = (7 * self.srtt + r) // 8
        c = self.host.clock
        if self.host.profile.rto_formula == "linux":
            rto = self.srtt + max(4 * self.rttvar, c.rto_min)
        else:
            rto = max(c.rto_min, self.srtt + 4 * self.rttvar)
        self.rto = min(rto, c.rto_max)

    def _ack_advanced(self, ack: int, now: int, tsecr: int | None = None) -> None:
        """SND.UNA moves to `ack`: drop what it covers, take an RTT sample, re-arm the timer.

        With timestamps the sample is now - TSecr, the send time of the copy
        the peer last took its TSval from (RFC 7323 §4.1), which may be an
        earlier copy than the last one sent; without them, Karn's rule: no
        sample from a retransmitted segment."""
        sample = None if tsecr is None else now - tsecr
        q = self.rtxq
        while q and seq_le(seq_add(q[0][0], q[0][1]), ack):
            entry = q.pop(0)
            if sample is None and not entry[4] and tsecr is None:
                sample = now - entry[3]
        self.snd_una = ack
        self.retries = 0
        if sample is not None:
            self._rtt_sample(sample)
        elif self.srtt is None:
            self.rto = max(self.rto, self.host.clock.rto_fallback) if self.syn_rtx else self.host.clock.rto_initial
        self.rtx_at = now + self.rto if q else None
        self._timers_changed()

    # ------------------------------------------------------------ segment input
    def receive(self, seg: Segment, now: int) -> None:
        """Process an arriving segment (RFC 9293 §3.10.7.3 and §3.10.7.4)."""
        if self.state is S.SYN_SENT:
            self._rcv_syn_sent(seg, now)
        else:
            self._rcv_sync(seg, now)
        if self.ack_due and self.state is not S.CLOSED:
            self._emit("A", self.snd_nxt)
        self.ack_due = False

    def _rcv_syn_sent(self, seg: Segment, now: int) -> None:
        ack_ok = False
        if seg.ack is not None:
            if not (seq_lt(self.iss, seg.ack) and seq_le(seg.ack, self.snd_nxt)):
                self._fire(E.RCV_RST_IGNORED if seg.rst else E.RCV_BAD_ACK, now, seg)
                return
            ack_ok = True
        if seg.rst:
            if ack_ok:
                self._fire(E.RCV_RST, now, seg)
                self.host.notices.append((now, self, "refused", ""))
            else:
                self._fire(E.RCV_RST_IGNORED, now, seg)
            return
        if not seg.syn:
            self._fire(E.RCV_UNACCEPTABLE, now, seg)
            return
        self.irs = seg.seq
        self.rcv_nxt = seq_add(seg.seq, 1)
        self.ts_recent = seg.tsval
        if ack_ok:
            self.syn_rtx = self.rtxq[0][4] if self.rtxq else False
            self._ack_advanced(seg.ack, now, seg.tsecr)
            self._fire(E.RCV_SYN_ACK, now, seg)
        else:
            self._fire(E.RCV_SYN, now, seg)

    def _acceptable(self, seq: int, seglen: int) -> bool:
        """The four cases of RFC 9293 §3.10.7.4's acceptability test."""
        wnd = self.host.profile.window
        rn = self.rcv_nxt
        if seglen == 0:
            return seq == rn if wnd == 0 else (seq_le(rn, seq) and seq_lt(seq, seq_add(rn, wnd)))
        if wnd == 0:
            return False
        end = seq_add(seq, seglen - 1)
        top = seq_add(rn, wnd)
        return (seq_le(rn, seq) and seq_lt(seq, top)) or (seq_le(rn, end) and seq_lt(end, top))

    def _rcv_sync(self, seg: Segment, now: int) -> None:
        st = self.state
        seq = seg.seq
        syn = seg.syn
        if syn and seq == self.irs:
            # A retransmission of the peer's SYN (or SYN,ACK), whose sequence
            # number we have already received.
            if (st is S.SYN_RECEIVED and seg.ack is not None and not seg.rst
                    and seq_lt(self.snd_una, seg.ack) and seq_le(seg.ack, self.snd_nxt)):
                syn, seq = False, seq_add(seq, 1)   # simultaneous open (RFC 9293 Figure 7)
            else:
                self._fire(E.RCV_SYN, now, seg)
                return
        data = seg.len
        seglen = data + (1 if syn else 0) + (1 if seg.fin else 0)
        # first check: sequence number
        if not self._acceptable(seq, seglen):
            if seg.rst:
                self._fire(E.RCV_RST_IGNORED, now, seg)
            elif (seg.fin and seq_add(seq, seglen) == self.rcv_nxt
                  and st in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)):
                self._retransmitted_fin(now)
            else:
                self._fire(E.RCV_UNACCEPTABLE, now, seg)
            return
        if seg.tsval is not None and seq_le(seq, self.rcv_nxt):
            self.ts_recent = seg.tsval          # RFC 7323 §4.3, with Last.ACK.sent = RCV.NXT
        # second check: RST
        if seg.rst:
            if seq != self.rcv_nxt:
                quiet = st is S.TIME_WAIT and not self.host.profile.time_wait_challenge_ack
                self._fire(E.RCV_RST_IGNORED if quiet else E.RCV_RST_IN_WINDOW, now, seg)
            elif st is S.TIME_WAIT and self.host.profile.rfc1337:
                self._fire(E.RCV_RST_RFC1337, now, seg)
            else:
                notice = "refused" if st is S.SYN_RECEIVED else "reset"
                passive = st is S.SYN_RECEIVED and self.from_listen
                self._fire(E.RCV_RST_PASSIVE if passive else E.RCV_RST, now, seg)
                if st not in (S.TIME_WAIT,) and not passive:
                    self.host.notices.append((now, self, notice, ""))
            return
        # fourth check: SYN
        if syn:
            self._fire(E.RCV_SYN, now, seg)
            return
        # fifth check: ACK
        if seg.ack is None:
            self._fire(E.RCV_NO_ACK, now, seg)
            return
        ack = seg.ack
        if st is S.SYN_RECEIVED:
            if not (seq_lt(self.snd_una, ack) and seq_le(ack, self.snd_nxt)):
                self._fire(E.RCV_BAD_ACK, now, seg)
                return
            lst = self.listener
            if lst is not None and lst.accept_full():
                overflow = self.host.profile.abort_on_overflow
                rule = self._fire(E.RCV_ACK_OVERFLOW if overflow else E.RCV_ACK_QUEUE_FULL, now, seg)
                self.host.notices.append((now, self, "listener", rule.label))
                return
            self.syn_rtx = self.rtxq[0][4] if self.rtxq else False
            self._ack_advanced(ack, now, seg.tsecr)
            self._fire(E.RCV_ACK, now, seg)
            st = self.state
        else:
            if seq_lt(self.snd_nxt, ack):          # acks something not yet sent
                self._fire(E.RCV_ACK_UNSENT, now, seg)
                return
            if seq_lt(self.snd_una, ack):
                self._ack_advanced(ack, now, seg.tsecr)
        fin_acked = self.fin_seq is not None and self.snd_una == seq_add(self.fin_seq, 1)
        in_order = seq == self.rcv_nxt
        fin_here = seg.fin and in_order
        if fin_acked:
            if st is S.FIN_WAIT_1 and (not fin_here or self.host.profile.fin_wait_1_via_2):
                self._fire(E.RCV_ACK_OF_FIN, now, seg)
            elif st is S.CLOSING:
                self._fire(E.RCV_ACK_OF_FIN, now, seg)
            elif st is S.LAST_ACK:
                self._fire(E.RCV_ACK_OF_FIN, now, seg)
                return
            st = self.state
        if data or seg.fin:
            if not in_order:
                if seq_lt(seq, self.rcv_nxt):          # overlaps what we have: keep the new part
                    skip = (self.rcv_nxt - seq) % MOD
                    data -= skip
                    seq = self.rcv_nxt
                    fin_here = seg.fin
                    if data < 0:
                        data = 0
                elif st in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
                    self._fire(E.RCV_OUT_OF_ORDER, now, seg)
                    return
        # seventh step: segment text
        if data > 0 and st in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
            if self.orphaned and self.host.profile.abort_on_data_after_close and st is not S.ESTABLISHED:
                self._fire(E.RCV_DATA_AFTER_CLOSE, now, seg)
                self.host.notices.append((now, self, "reset", "data arrived after close()"))
                return
            self.rcv_nxt = seq_add(self.rcv_nxt, data)
            self._fire(E.RCV_DATA, now, seg)
            if not self.orphaned:            # after close() nobody reads
                self.host.notices.append((now, self, "data", str(data)))
        # eighth step: FIN
        if fin_here and not self.peer_fin:
            self.peer_fin = True
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            if st is S.FIN_WAIT_1 and fin_acked:       # RFC 9293: straight to TIME_WAIT
                self._fire(E.RCV_FIN_ACK_OF_FIN, now, seg)
            else:
                self._fire(E.RCV_FIN, now, seg)
            if not self.orphaned:            # after close() nobody reads the end of data
                self.host.notices.append((now, self, "eof", ""))

    def _retransmitted_fin(self, now: int) -> None:
        self._fire(E.RCV_FIN, now)
        if self.state is S.TIME_WAIT:
            # RFC 9293 §3.10.7.4: acknowledge it and restart the 2 MSL timeout.
            self.tw_at = now + self.host.clock.time_wait
            self._timers_changed()


class Listener(Tcb):
    """A socket in LISTEN with Linux's two queues.

    A SYN creates a child `Connection` (the RFC's LISTEN TCB going to
    SYN_RECEIVED) which waits in the SYN queue until the final ACK arrives; it
    then moves to the accept queue until the application calls accept().  Both
    queues hold `backlog + 1` connections, as a 6.18 kernel showed
    (tests/data/linux/queues.json): inet_csk_reqsk_queue_is_full and
    sk_acceptq_is_full both test `>` (the SYN queue's test was `>=` before
    Linux 6.13).  A SYN is dropped when either queue is full (without SYN
    cookies).
    """

    __slots__ = ("lport", "backlog", "synq", "acceptq", "auto_accept", "cookies_sent", "secret", "two_way")

    def __init__(self, host: Host, name: str, lport: int, backlog: int, auto_accept: bool):
        super().__init__(host, name)
        self.lport = lport
        self.backlog = min(backlog, host.profile.somaxconn)
        self.synq: dict[tuple, Connection] = {}
        self.acceptq: list[Connection] = []
        self.auto_accept = auto_accept
        self.cookies_sent = False
        self.secret = zlib.crc32(f"{host.name}:{lport}".encode())
        self.two_way = False

    def __repr__(self) -> str:
        return f"<Listener {self.name} {self.state.value} syn={len(self.synq)} accept={len(self.acceptq)}>"

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
        for child in list(self.synq.values()) + [c for c in self.acceptq if c is not None]:
            if child.state is not S.CLOSED:
                child.abort(now)
        self.synq.clear()
        self.acceptq.clear()

    def accept(self, now: int) -> Connection | None:
        """Take the oldest established connection off the accept queue."""
        if self.state is not S.LISTEN:
            raise IllegalCall("accept", self.state.value, self.name, "not listening")
        if not self.acceptq:
            return None
        conn = self.acceptq.pop(0)
        conn.accepted = True
        self.host.notices.append((now, conn, "accepted", ""))
        return conn

    def accept_full(self) -> bool:
        return len(self.acceptq) > self.backlog

    def synack_limit(self) -> int:
        """How many SYN-ACK timeouts a half-open connection may have.

        Linux (reqsk_timer_handler) prunes a clogged SYN queue: when it is more
        than half of max(8, backlog) full and fewer than half of its entries
        are "young" (never timed out), old entries get fewer retries, down to
        2 -- so a SYN flood's entries die after about 7 s, not 63 s
        (tests/data/linux/prune.json)."""
        limit = self.host.profile.synack_retries
        qlen = len(self.synq)
        if self.host.profile.synq_pruning and 2 * qlen > max(8, self.backlog):
            young = 2 * sum(1 for c in self.synq.values() if c.retries == 0)
            while limit > 2 and qlen >= young:
                limit -= 1
                young <<= 1
        return limit

    def _cookie(self, seg: Segment, now: int, slot_offset: int = 0) -> int:
        slot = now // (64 * US) - slot_offset   # Linux: a counter that ticks every 64 s
        key = f"{seg.src}:{seg.sport}>{self.lport}:{slot}:{self.secret}".encode()
        return (zlib.crc32(key) ^ ((slot & 0xFF) << 24)) & 0xFFFFFFFF

    _NOTED = frozenset({E.RCV_SYN_DROPPED, E.RCV_SYN_COOKIE, E.RCV_ACK_QUEUE_FULL})

    def _fire(self, event: Event, now: int, seg: Segment | None = None) -> Rule:
        rule = super()._fire(event, now, seg)
        if event in self._NOTED:        # what the queues did, for the trace: a SYN dropped, a cookie sent
            self.host.notices.append((now, self, "listener", f"{rule.label} ({seg.src}:{seg.sport})"))
        return rule

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        if rule.send == "RST":
            self._reset_reply(seg, self.lport)
        elif rule.send == "SYN,ACK":                 # a SYN cookie: no state kept
            out = Segment(src=self.host.name, sport=self.lport, dst=seg.src, dport=seg.sport,
                          flags="SA", seq=self._cookie(seg, now), ack=seq_add(seg.seq, 1))
            self.host.outbox.append((out, False))

    def receive(self, seg: Segment, now: int) -> None:
        """A segment for the listening port with no connection of its own (RFC 9293 §3.10.7.2)."""
        if seg.rst:
            self._fire(E.RCV_RST, now, seg)
            return
        if seg.ack is not None:
            if not seg.syn and self.cookies_sent and self._valid_cookie(seg, now):
                if self.accept_full():
                    self._fire(E.RCV_ACK_QUEUE_FULL, now, seg)
                    return
                child = self._child(seg, now, iss=seq_add(seg.ack, -1))
                child.irs = seq_add(seg.seq, -1)
                child.rcv_nxt = seg.seq
                child.snd_una = child.snd_nxt = seg.ack
                child._fire(E.RCV_ACK_COOKIE, now, seg)
                if seg.len or seg.fin:                    # the same segment's data and FIN
                    child.receive(seg, now)
                return
            self._fire(E.RCV_ACK, now, seg)
            return
        if not seg.syn:
            self._fire(E.RCV_UNACCEPTABLE, now, seg)
            return
        if self.accept_full():
            self._fire(E.RCV_SYN_DROPPED, now, seg)
            return
        cookies = self.host.profile.syncookies
        if cookies == 2 or len(self.synq) > self.backlog:   # Linux >= 6.13: backlog + 1 half-open
            if cookies:
                self.cookies_sent = True
                self._fire(E.RCV_SYN_COOKIE, now, seg)
            else:
                self._fire(E.RCV_SYN_DROPPED, now, seg)
            return
        child = self._child(seg, now, iss=self.host.next_isn())
        child.irs = seg.seq
        child.rcv_nxt = seq_add(seg.seq, 1)
        child.ts_recent = seg.tsval
        self.synq[(seg.src, seg.sport)] = child
        child.two_way = self.two_way
        child._fire(E.RCV_SYN_TWO_WAY if self.two_way else E.RCV_SYN, now, seg)

    def _valid_cookie(self, seg: Segment, now: int) -> bool:
        isn = seq_add(seg.ack, -1)
        return isn in (self._cookie(seg, now), self._cookie(seg, now, 1))

    def _child(self, seg: Segment, now: int, iss: int) -> Connection:
        name = self.host.new_name()
        child = Connection(self.host, name, self.lport, seg.src, seg.sport, iss,
                           state=S.LISTEN, listener=self)
        self.host.conns[(self.lport, seg.src, seg.sport)] = child
        self.host.born.append(child)
        return child

    def _established(self, child: Connection, now: int) -> None:
        self.synq.pop((child.rhost, child.rport), None)
        if self.state is not S.LISTEN:         # the listener closed meanwhile
            return
        self.acceptq.append(child)
        if self.auto_accept:
            self.accept(now)

    def _forget(self, child: Connection) -> None:
        self.synq.pop((child.rhost, child.rport), None)


class ClosedPort(Tcb):
    """The TCB that does not exist: a port with no connection and no listener."""

    __slots__ = ()

    def _act(self, rule: Rule, now: int, seg: Segment | None) -> None:
        self._reset_reply(seg, seg.dport)


class _Log(list):
    """An output list of a Host that also notes, in the host's `order`, which
    list each new item went to: the caller can then take the outputs of all
    lists in the order they happened."""

    __slots__ = ("kind", "order")

    def __init__(self, kind: str, order: list):
        super().__init__()
        self.kind, self.order = kind, order

    def append(self, item) -> None:
        list.append(self, item)
        self.order.append(self.kind)


class Host:
    """One machine's TCP: demultiplexes segments to connections and listeners."""

    def __init__(self, name: str, profile: Profile, isn: int | None = None, isn_step: int = 64000):
        self.name = name
        self.profile = profile
        self.clock = Clock(profile)
        self.conns: dict[tuple, Connection] = {}
        self.listeners: dict[int, Listener] = {}
        self.order: list[str] = []        # which of the four lists below each output went to
        self.outbox: list[tuple[Segment, bool]] = _Log("o", self.order)
        self.changes: list[tuple] = _Log("c", self.order)
        self.loops: list[tuple] = _Log("l", self.order)   # rows that kept the state: (t, name, state, rule)
        self.notices: list[tuple] = _Log("n", self.order)
        self.dirty: list[Connection] = []
        self.born: list[Connection] = []
        self.now = 0
        self.isn = isn if isn is not None else zlib.crc32(name.encode())
        self.isn_step = isn_step
        self.count = 0
        self.all: list[Connection] = []

    def new_name(self) -> str:
        self.count += 1
        return self.name if self.count == 1 else f"{self.name}#{self.count}"

    def next_isn(self) -> int:
        """ISNs are fixed by the scenario: the first connection gets `isn`,
        later ones `isn + k * isn_step` (a stand-in for RFC 6528's clock)."""
        k = self.count
        return (self.isn + k * self.isn_step) % MOD

    def listen(self, port: int, now: int, backlog: int = 128, auto_accept: bool = True) -> Listener:
        if port in self.listeners:
            raise IllegalCall("listen", "LISTEN", self.name, f"port {port} is already listening")
        lst = Listener(self, self.name, port, backlog, auto_accept)
        lst.listen(now)
        self.listeners[port] = lst
        return lst

    def connect(self, lport: int, rhost: str, rport: int, now: int, isn: int | None = None) -> Connection:
        key = (lport, rhost, rport)
        old = self.conns.get(key)
        if old is not None:
            raise IllegalCall("connect", old.state.value, old.name,
                              f"{self.name}:{lport} -> {rhost}:{rport} is still in use")
        iss = self.next_isn() if isn is None else isn
        conn = Connection(self, self.new_name(), lport, rhost, rport, iss)
        self.conns[key] = conn
        self.born.append(conn)
        conn._call(E.ACTIVE_OPEN, "connect", now)
        return conn

    def receive(self, seg: Segment, now: int) -> None:
        self.now = now
        conn = self.conns.get((seg.dport, seg.src, seg.sport))
        if conn is not None:
            conn.receive(seg, now)
            return
        lst = self.listeners.get(seg.dport)
        if lst is not None and lst.state is S.LISTEN:
            lst.receive(seg, now)
            return
        # No TCB at all: the CLOSED state of RFC 9293 §3.10.7.1.
        ClosedPort(self, self.name)._fire(E.RCV_RST if seg.rst else E.RCV_ANY, now, seg)

    def _forget(self, conn: Connection) -> None:
        key = (conn.lport, conn.rhost, conn.rport)
        if self.conns.get(key) is conn:
            del self.conns[key]
