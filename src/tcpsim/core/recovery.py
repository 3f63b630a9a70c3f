"""Loss recovery: the retransmission queue, the RTT estimate, the RTO and the timers.

Split out of the connection the way aioquic keeps `recovery.py` beside
`connection.py`: the connection decides *when* to send; this module keeps
what was sent and not yet acknowledged, measures round trips and says how
long to wait before sending it again.

* RTT samples and the RTO follow RFC 6298 §2 (smoothing with 1/8 and 1/4);
  the RTO formula is the profile's: Linux's ``SRTT + max(4*RTTVAR, rto_min)``
  (tcp_set_rto) or RFC 6298's ``max(rto_min, SRTT + 4*RTTVAR)``.
* With TCP timestamps (RFC 7323 §4.1) every ACK gives a sample, now - TSecr,
  measured from the copy the peer echoed (after a lost SYN-ACK: the first
  one, so the RTO comes out near 3 s, as the kernel showed).  Without them,
  Karn's rule: no sample from a retransmitted segment; a handshake that
  needed a retransmission leaves the RTO at 3 s (RFC 6298 §5.7).
* Linux gives up after a *time* budget rather than a count
  (`retry_budget`, after tcp_model_timeout).
* `Timers` holds a connection's four deadlines; every change is reported to
  the host (a `TimerMoved` record), so the scheduler never misses one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .profile import Clock
from .segment import seq_add, seq_le

TimerName = Literal["rtx", "delack", "time_wait", "fin_wait_2", "keepalive"]


@dataclass(slots=True)
class RtxEntry:
    """A segment that occupies sequence space and is not yet acknowledged."""

    seq: int
    #: the sequence space it occupies: data bytes, plus one each for SYN and FIN
    length: int
    flags: str
    #: when it was last sent, and whether that was a retransmission
    sent_at: int
    retransmitted: bool
    #: when it was first sent (Linux counts its give-up budget from there)
    first_sent_at: int

    @property
    def data(self) -> int:
        return self.length - ("S" in self.flags) - ("F" in self.flags)

    @property
    def end(self) -> int:
        return seq_add(self.seq, self.length)


class Timers:
    """A connection's deadlines (integer µs, None when stopped).

    rtx: retransmission; delack: the delayed ACK; time_wait: 2MSL;
    fin_wait_2: Linux's tcp_fin_timeout for an orphaned FIN_WAIT_2;
    keepalive: SO_KEEPALIVE's idle and probe timer."""

    __slots__ = ("rtx", "delack", "time_wait", "fin_wait_2", "keepalive", "_moved")

    def __init__(self, moved: Callable[[], None]):
        self.rtx: int | None = None
        self.delack: int | None = None
        self.time_wait: int | None = None
        self.fin_wait_2: int | None = None
        self.keepalive: int | None = None
        self._moved = moved

    def arm(self, name: TimerName, at: int) -> None:
        setattr(self, name, at)
        self._moved()

    def stop(self, *names: TimerName) -> None:
        for name in names:
            setattr(self, name, None)
        self._moved()

    def stop_all(self) -> None:
        self.stop("rtx", "delack", "time_wait", "fin_wait_2", "keepalive")

    def expired(self, name: TimerName, now: int) -> bool:
        """Whether `name` is due at `now`; if so it is stopped (the caller fires it)."""
        at: int | None = getattr(self, name)
        if at is None or at > now:
            return False
        setattr(self, name, None)
        return True

    def next(self) -> int | None:
        """The earliest deadline, or None."""
        due = [t for t in (self.rtx, self.delack, self.time_wait, self.fin_wait_2, self.keepalive) if t is not None]
        return min(due) if due else None

    def moved(self) -> None:
        """Report a change made without arm/stop (after a timer fired)."""
        self._moved()


class Recovery:
    """The retransmission queue and the RTO of one connection."""

    __slots__ = ("clock", "linux_formula", "queue", "rto", "srtt", "rttvar", "retries", "syn_rtx")

    def __init__(self, clock: Clock, formula: str):
        self.clock = clock
        self.linux_formula = formula == "linux"
        self.queue: list[RtxEntry] = []
        self.rto = clock.rto_initial
        self.srtt: int | None = None
        self.rttvar = 0
        #: retransmission timeouts since the last ACK that advanced SND.UNA
        self.retries = 0
        #: whether the handshake needed a retransmission (for Karn's fallback RTO)
        self.syn_rtx = False

    def track(self, flags: str, seq: int, data: int, now: int) -> None:
        self.queue.append(RtxEntry(seq, data + ("S" in flags) + ("F" in flags), flags, now, False, now))

    def head_retransmitted(self) -> bool:
        return self.queue[0].retransmitted if self.queue else False

    def first_sent(self) -> int:
        return self.queue[0].first_sent_at

    def acked(self, ack: int, now: int, tsecr: int | None) -> None:
        """SND.UNA moved to `ack`: drop what it covers, take an RTT sample, reset the backoff."""
        sample = None if tsecr is None else now - tsecr
        q = self.queue
        while q and seq_le(q[0].end, ack):
            entry = q.pop(0)
            if sample is None and not entry.retransmitted and tsecr is None:
                sample = now - entry.sent_at
        self.retries = 0
        if sample is not None:
            self.sample(sample)
        elif self.srtt is None:
            self.rto = max(self.rto, self.clock.rto_fallback) if self.syn_rtx else self.clock.rto_initial

    def sample(self, r: int) -> None:
        """RFC 6298 §2 smoothing; the RTO formula is the profile's."""
        if self.srtt is None:
            self.srtt, self.rttvar = r, r // 2
        else:
            self.rttvar = (3 * self.rttvar + abs(self.srtt - r)) // 4
            self.srtt = (7 * self.srtt + r) // 8
        c = self.clock
        if self.linux_formula:
            rto = self.srtt + max(4 * self.rttvar, c.rto_min)
        else:
            rto = max(c.rto_min, self.srtt + 4 * self.rttvar)
        self.rto = min(rto, c.rto_max)

    def back_off(self, keep_rto: bool) -> None:
        """One more retransmission timeout: count it and double the RTO
        (unless `keep_rto`: Linux's tcp_syn_linear_timeouts)."""
        self.retries += 1
        if not keep_rto:
            self.rto = min(self.rto * 2, self.clock.rto_max)

    def resent(self, now: int) -> None:
        for entry in self.queue:
            entry.sent_at, entry.retransmitted = now, True


def retry_budget(limit: int, base: int, rto_max: int) -> int:
    """Linux's tcp_model_timeout: how long `limit` retries take if the RTO
    doubles from `base` up to `rto_max` (µs).  A connection gives up at the
    first expiry past this, counted from the first transmission."""
    thresh = max(0, (rto_max // base).bit_length() - 1)        # ilog2(TCP_RTO_MAX / base)
    if limit <= thresh:
        return ((2 << limit) - 1) * base
    return ((2 << thresh) - 1) * base + (limit - thresh) * rto_max
