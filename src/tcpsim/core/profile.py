"""Profiles: the constants a TCP runs with, each visible and overridable.

`linux` follows the defaults of a current Linux kernel (the sysctl or the
constant is named beside each field); `rfc9293` follows the RFCs (MSL of two
minutes, RFC 6298's one-second RTO floor).  A scenario picks a profile and may
override any field, e.g. `{"msl": 5}` for a lesson that wants a 10-second
TIME_WAIT.  Times are seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from .errors import ScenarioError
from .units import US, us


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    #: Maximum segment lifetime (RFC 9293 §3.4.2).  Linux has no MSL constant:
    #: its TIME_WAIT is the fixed TCP_TIMEWAIT_LEN of 60 s, an implied MSL of 30 s.
    msl: float
    #: How long TIME_WAIT lasts: 2*MSL in the RFC, TCP_TIMEWAIT_LEN in Linux.
    time_wait: float
    rto_initial: float = 1.0          # RFC 6298 §2.1; Linux TCP_TIMEOUT_INIT
    rto_min: float = 0.2              # Linux TCP_RTO_MIN; RFC 6298 §2.4 says 1 s
    rto_max: float = 120.0            # Linux TCP_RTO_MAX
    #: "linux": RTO = SRTT + max(4*RTTVAR, rto_min) (tcp_set_rto);
    #: "rfc6298": RTO = max(rto_min, SRTT + 4*RTTVAR).
    rto_formula: str = "linux"
    syn_retries: int = 6              # net.ipv4.tcp_syn_retries
    #: net.ipv4.tcp_syn_linear_timeouts: this many SYN retransmissions keep
    #: the initial RTO before it starts doubling (so 1, 1, 1, 1, 1, 2, 4 s...).
    syn_linear_timeouts: int = 4
    #: Linux turns tcp_syn_retries / tcp_retries2 into a time budget
    #: (tcp_model_timeout: 127 s for 6 SYN retries); RFC 9293 §3.8.3 leaves
    #: R2 to the implementation, the rfc9293 profile counts retransmissions.
    retry_budget_in_time: bool = True
    synack_retries: int = 5           # net.ipv4.tcp_synack_retries
    retries2: int = 15                # net.ipv4.tcp_retries2
    orphan_retries: int = 8           # net.ipv4.tcp_orphan_retries (0 means 8)
    fin_timeout: float | None = 60.0  # net.ipv4.tcp_fin_timeout (orphaned FIN_WAIT_2)
    #: Linux's delayed ACK (tcp_event_data_recv, __tcp_ack_snd_check,
    #: tcp_send_delayed_ack, tcp_delack_timer_handler; 6.x, unchanged since
    #: 2.6).  A delayed ACK waits the connection's "ato": 0 until the first
    #: data arrives, so the ACK of a FIN on a connection that carried no data
    #: goes out at the next timer tick -- `delayed_ack`, one tick of a
    #: CONFIG_HZ=250 kernel (recorded on 6.18: 0.16-8.6 ms), and any delayed
    #: ACK up to one tick after its ato.  0 turns delayed ACKs off: every ACK
    #: goes at once (the rfc9293 profile).
    delayed_ack: float = 0.004
    #: TCP_ATO_MIN (HZ/25): the ato once data has arrived (recorded on 6.18:
    #: the ACK of a FIN after data came 40.1-45.6 ms late, `ss` said ato:40;
    #: the simulator sends it after 40 + 4 ms).
    ato_min: float = 0.040
    #: TCP_DELACK_MAX (HZ/5): no delayed ACK waits longer.
    delack_max: float = 0.200
    #: TCP_MAX_QUICKACKS: after the first data (or a duplicate) this many
    #: ACKs go at once, "quick-ACK mode" (tcp_incr_quickack; recorded on
    #: 6.18: exactly 16 segments ACKed at once, the 17th delayed).
    quickacks: int = 16
    #: SO_KEEPALIVE (off unless an endpoint asks, "keepalive": true): after
    #: this long without a segment from the peer, probe every
    #: `keepalive_intvl`; after `keepalive_probes` unanswered probes, reset and
    #: tell the application "timed out" (net.ipv4.tcp_keepalive_time, _intvl,
    #: _probes; RFC 9293 §3.8.4: off by default, idle MUST be >= 2 hours by default).
    keepalive_time: float = 7200.0
    keepalive_intvl: float = 75.0
    keepalive_probes: int = 9
    #: Out-of-window ACKs (dup SYN in SYN_RECEIVED, ...) at most once per this
    #: many seconds: net.ipv4.tcp_invalid_ratelimit (500 ms).
    invalid_ratelimit: float = 0.5
    #: Linux's input checks where they differ from RFC 9293's steps (recorded on
    #: 6.18, src/tcpsim/data/linux/conformance.json): the window test of tcp_sequence()
    #: (a segment may begin at RCV.NXT+RCV.WND, and may end at RCV.NXT);
    #: tcp_reset_check() (an RST at RCV.NXT-1 after the peer's FIN is exact); a
    #: segment with none of ACK, RST, SYN is dropped unanswered; a FIN after the
    #: peer's FIN is ignored; an RST in a simultaneous open is ECONNRESET; nobody
    #: hears of a reset after close().
    linux_input: bool = True
    #: RFC 5961's defences (an RST or SYN must hit RCV.NXT exactly, else a
    #: challenge ACK; the ACK-age check).  RFC 9293 makes them optional
    #: (MAY-12); Linux has them since 3.6.  False: RFC 793's rules, which a
    #: blind attacker can reset with any in-window guess (what-if no_rfc5961).
    rfc5961: bool = True
    #: net.ipv4.tcp_rfc1337: 1 ignores an RST in TIME_WAIT (RFC 1337).
    rfc1337: bool = False
    #: An RST in TIME_WAIT whose seq is in the window but not exact: RFC 9293
    #: (RFC 5961 §3.2) answers with a challenge ACK; Linux's
    #: tcp_timewait_state_process acts only on seq == RCV.NXT and drops it.
    time_wait_challenge_ack: bool = False
    #: Linux resets a connection that receives new data after close() (in
    #: FIN_WAIT_1/2).  RFC 9293's CLOSE is a half-close and keeps receiving.
    abort_on_data_after_close: bool = True
    #: A FIN that also acknowledges our FIN, arriving in FIN_WAIT_1: Linux
    #: (tcp_rcv_state_process), like the order of RFC 9293 §3.10.7.4's steps,
    #: processes the ACK first, so the connection passes through FIN_WAIT_2 for
    #: an instant; the RFC also describes going straight to TIME_WAIT (eighth
    #: step, and §3.3.2 Note 2), which the rfc9293 profile does.
    fin_wait_1_via_2: bool = True
    #: An abort (close with SO_LINGER 0) sends RST+ACK in Linux
    #: (tcp_send_active_reset); RFC 9293 §3.10.5 shows a bare RST.
    rst_ack_on_abort: bool = True
    #: net.ipv4.tcp_syncookies: 0 never, 1 when the SYN queue is full, 2 always.
    syncookies: int = 1
    #: Linux prunes a clogged SYN queue (reqsk_timer_handler): see
    #: Listener.synack_limit.  The RFC says nothing about it.
    synq_pruning: bool = True
    #: net.ipv4.tcp_abort_on_overflow: 1 answers an ACK for a full accept queue with RST.
    abort_on_overflow: bool = False
    #: net.core.somaxconn: the largest backlog listen() accepts.
    somaxconn: int = 4096
    #: TCP timestamps (net.ipv4.tcp_timestamps=1, RFC 7323): every RTT sample
    #: is now - TSecr, so retransmitted segments give samples too -- measured
    #: from the copy the peer answered, which after a lost SYN-ACK is the
    #: first one, giving an RTO near 3 s as the kernel showed.  Without them,
    #: Karn's rule applies and a handshake that needed a retransmission
    #: leaves the RTO at 3 s (RFC 6298 §5.7).
    timestamps: bool = True
    #: Set PSH on the last segment of each send() (Linux tcp_push does; the
    #: RFC leaves PUSH to the user, and its figures show data without it).
    push: bool = True
    mss: int = 1460
    window: int = 65535


#: Where each constant lives in Linux (the appendix prints this beside the values).
LINUX_NAME: dict[str, str] = {
    "name": "-",
    "msl": "none (TIME_WAIT is fixed; implied MSL 30 s)",
    "time_wait": "TCP_TIMEWAIT_LEN",
    "rto_initial": "TCP_TIMEOUT_INIT",
    "rto_min": "TCP_RTO_MIN (net.ipv4.tcp_rto_min_us)",
    "rto_max": "TCP_RTO_MAX (net.ipv4.tcp_rto_max_ms)",
    "rto_formula": "tcp_set_rto()",
    "syn_retries": "net.ipv4.tcp_syn_retries",
    "syn_linear_timeouts": "net.ipv4.tcp_syn_linear_timeouts (Linux 6.5 and later)",
    "retry_budget_in_time": "tcp_model_timeout()",
    "synack_retries": "net.ipv4.tcp_synack_retries",
    "retries2": "net.ipv4.tcp_retries2",
    "orphan_retries": "net.ipv4.tcp_orphan_retries (0 means 8)",
    "fin_timeout": "net.ipv4.tcp_fin_timeout",
    "delayed_ack": "one jiffy at CONFIG_HZ=250 (a delayed ACK while ato is 0)",
    "ato_min": "TCP_ATO_MIN (HZ/25)",
    "delack_max": "TCP_DELACK_MAX (HZ/5)",
    "quickacks": "TCP_MAX_QUICKACKS",
    "keepalive_time": "net.ipv4.tcp_keepalive_time (TCP_KEEPIDLE)",
    "keepalive_intvl": "net.ipv4.tcp_keepalive_intvl (TCP_KEEPINTVL)",
    "keepalive_probes": "net.ipv4.tcp_keepalive_probes (TCP_KEEPCNT)",
    "invalid_ratelimit": "net.ipv4.tcp_invalid_ratelimit",
    "linux_input": "tcp_sequence(), tcp_reset_check(), tcp_rcv_state_process(), tcp_reset()",
    "rfc5961": "tcp_validate_incoming(), tcp_send_challenge_ack() (Linux 3.6 and later)",
    "rfc1337": "net.ipv4.tcp_rfc1337",
    "time_wait_challenge_ack": "tcp_timewait_state_process() (Linux: none)",
    "abort_on_data_after_close": "tcp_rcv_state_process() (TCPAbortOnData)",
    "fin_wait_1_via_2": "tcp_rcv_state_process()",
    "rst_ack_on_abort": "tcp_send_active_reset()",
    "syncookies": "net.ipv4.tcp_syncookies",
    "synq_pruning": "reqsk_timer_handler() (prunes a clogged SYN queue)",
    "abort_on_overflow": "net.ipv4.tcp_abort_on_overflow",
    "somaxconn": "net.core.somaxconn",
    "timestamps": "net.ipv4.tcp_timestamps",
    "push": "tcp_push()",
    "mss": "1500-byte Ethernet MTU - 40",
    "window": "none (a fixed receive window)",
}

PROFILES: dict[str, Profile] = {
    "linux": Profile(name="linux", msl=30.0, time_wait=60.0),
    "rfc9293": Profile(
        name="rfc9293", msl=120.0, time_wait=240.0, rto_min=1.0, rto_formula="rfc6298",
        syn_retries=7,  # RFC 9293 §3.8.3 (MUST-23): retry a SYN for at least 3 minutes
        synack_retries=5, retries2=15, orphan_retries=15, delayed_ack=0.0, ato_min=0.0, timestamps=False, push=False,
        fin_wait_1_via_2=False, rst_ack_on_abort=False, syn_linear_timeouts=0, retry_budget_in_time=False,
        time_wait_challenge_ack=True, synq_pruning=False, linux_input=False,
        rfc1337=False, abort_on_data_after_close=False, fin_timeout=None,
    ),
}
#: Linux 6.1, the long-term-support kernel of Debian 12, read from its source,
#: not recorded: no tcp_syn_linear_timeouts (added in 6.5), so the SYN timer
#: doubles from the first retransmission (0, 1, 3, 7, 15, 31, 63 s; give up at
#: about 127 s).  Everything else as the linux profile; the SYN queue's
#: backlog + 1 (inet_csk_reqsk_queue_is_full's ">", mainline 6.13) reached the
#: 6.1 stable series too, so current 6.1 kernels behave as 6.18 there.
PROFILES["linux-6.1"] = replace(PROFILES["linux"], name="linux-6.1", syn_linear_timeouts=0)

_FIELDS = {f.name: f for f in fields(Profile)}
#: Constants a run cannot work with at zero (a zero RTO or MSS never advances).
POSITIVE = frozenset({"rto_initial", "rto_min", "rto_max", "mss", "window", "keepalive_time", "keepalive_intvl"})
#: The largest value an override may give (so every run stays finite): times in
#: seconds; retry counts as Linux bounds them (MAX_TCP_SYNCNT is 127, the others
#: are 8-bit sysctls); the MSS and window of a 16-bit (scaled) field.
MAXIMUM: dict[str, float] = {"syn_retries": 127, "synack_retries": 255, "retries2": 255, "orphan_retries": 255,
                             "syn_linear_timeouts": 255, "syncookies": 2, "quickacks": 255, "keepalive_probes": 127,
                             "somaxconn": 2**31 - 1,
                             "mss": 65535, "window": 2**30}
MAX_SECONDS = 1_000_000.0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(key: str, default: object) -> str:
    if isinstance(default, bool):
        return "must be true or false"
    if isinstance(default, str):
        return "must be 'linux' or 'rfc6298'"
    top = MAXIMUM.get(key, MAX_SECONDS)
    low = (">= 1e-06" if isinstance(default, float) else "> 0") if key in POSITIVE else ">= 0"
    return f"must be a number {low} and <= {top:g}" + (" (or null)" if key == "fin_timeout" else "")


def _ok(key: str, value: object, default: object) -> bool:
    """Whether `value` may replace the constant `key` (whose default is `default`)."""
    positive = key in POSITIVE
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > MAXIMUM.get(key, MAX_SECONDS):
        return False
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if isinstance(default, int):
        return isinstance(value, int) and (value > 0 if positive else value >= 0)
    if isinstance(default, float) or default is None:
        if value is None:
            return key == "fin_timeout"
        # a positive time must be at least the clock's tick, one microsecond
        return (isinstance(value, (int, float)) and math.isfinite(value)
                and (value >= 1e-6 if positive else value >= 0))
    return isinstance(value, str) and (key != "rto_formula" or value in ("linux", "rfc6298"))


def make_profile(name: str = "linux", overrides: dict[str, object] | None = None, where: str = "profile") -> Profile:
    """The named profile with `overrides` applied.

    Overriding `msl` also sets `time_wait` to 2*MSL unless `time_wait` is given
    too.  Unknown names and values of the wrong type raise ScenarioError.
    """
    if name not in PROFILES:
        raise ScenarioError(where, f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    base = PROFILES[name]
    changes = dict(overrides or {})
    if not changes:
        return base
    known = [k for k in _FIELDS if k != "name"]
    for key, value in changes.items():
        if key not in known:
            raise ScenarioError(f"overrides.{key}", f"no such constant; known: {', '.join(known)}")
        default = getattr(base, key)
        if not _ok(key, value, default):
            raise ScenarioError(f"overrides.{key}", f"bad value {_short(value)} (default {default!r}; "
                                                    f"{_expected(key, default)})")
    if "msl" in changes and "time_wait" not in changes:
        changes["time_wait"] = 2 * changes["msl"]  # type: ignore[operator]
    if changes.get("syncookies", 1) not in (0, 1, 2):
        raise ScenarioError("overrides.syncookies", "must be 0, 1 or 2")
    return replace(base, **changes)  # type: ignore[arg-type]


class Clock:
    """A profile's times converted once to integer microseconds."""

    __slots__ = ("rto_initial", "rto_min", "rto_max", "time_wait", "fin_timeout", "delayed_ack",
                 "ato_min", "delack_max", "keepalive_time", "keepalive_intvl", "ratelimit", "rto_fallback")

    def __init__(self, p: Profile):
        self.rto_initial = us(p.rto_initial)
        self.rto_min = us(p.rto_min)
        self.rto_max = us(p.rto_max)
        self.time_wait = us(p.time_wait)
        self.fin_timeout = None if p.fin_timeout is None else us(p.fin_timeout)
        self.delayed_ack = us(p.delayed_ack)
        self.ato_min = us(p.ato_min)
        self.delack_max = us(p.delack_max)
        self.keepalive_time = us(p.keepalive_time)
        self.keepalive_intvl = us(p.keepalive_intvl)
        self.ratelimit = us(p.invalid_ratelimit)
        self.rto_fallback = 3 * US  # RFC 6298 §5.7; Linux TCP_TIMEOUT_FALLBACK
