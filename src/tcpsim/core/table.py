"""The transition table: the single source of truth for every state change.

Each row says: in state S, on event E, go to state N and send segment X, with
the section of RFC 9293 (or the Linux function, where the RFC leaves room) that
decides it.  The endpoint (`connection.py`, `listener.py`) classifies what happens to it — a
user call, an arriving segment, a timer — into one `Event`, looks the pair
(state, event) up here and does what the row says; it has no other way to
change state.  The state diagrams (`tcpsim.render.state_diagram`) are drawn from these rows, so
the picture and the behaviour cannot drift apart.

A user call with no row for the current state is illegal and raises
`IllegalCall`.  An arriving segment or a timer always has a row: what a TCP
does with a segment it does not like (answer with RST, challenge ACK, drop) is
a row like any other.

What a row sends is a `Send` value, which also says *how* (an ACK at once,
after the segment, rate-limited or delayed), so the endpoint never re-checks
the state or the event to decide.  A row holds for every profile unless it
names some: where the RFC and Linux part ways (the delayed ACK of a FIN, for
one) each profile's table has its own row, and `table_for(profile)` gives the
table an endpoint uses.  The state diagrams show one profile's table.

Rows whose `whatif` is true are *not TCP*: they exist only when a lesson turns
on a what-if knob (e.g. a two-way handshake) to show why TCP is as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .states import SYNCHRONIZED, State

S = State


class Event(Enum):
    """What can happen to an endpoint.  The value is the label diagrams show."""

    # user calls (RFC 9293 §3.10.1 - §3.10.5)
    PASSIVE_OPEN = "listen"
    ACTIVE_OPEN = "connect"
    SEND = "send"
    CLOSE = "close"
    #: close() in SYN_RECEIVED while send() data waits (RFC 9293 §3.10.4)
    CLOSE_QUEUED = "close, data queued"
    ABORT = "abort"
    # arriving segments (RFC 9293 §3.10.7)
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN,ACK"
    RCV_ACK = "rcv ACK"
    RCV_BAD_ACK = "rcv unacceptable ACK"
    RCV_DATA = "rcv data"
    RCV_DATA_AFTER_CLOSE = "rcv data after close"
    RCV_DATA_AFTER_FIN = "rcv data past the peer's FIN"
    RCV_FIN = "rcv FIN"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_FIN_ACK_OF_FIN = "rcv FIN,ACK of FIN"
    RCV_RST = "rcv RST"
    RCV_RST_PASSIVE = "rcv RST (passive open)"
    RCV_RST_IN_WINDOW = "rcv RST in window"
    RCV_RST_IGNORED = "rcv RST (ignored)"
    RCV_RST_RFC1337 = "rcv RST (RFC 1337)"
    RCV_UNACCEPTABLE = "rcv unacceptable segment"
    RCV_OUT_OF_ORDER = "rcv segment beyond a gap"
    RCV_ACK_UNSENT = "rcv ACK of unsent data"
    RCV_ACK_TOO_OLD = "rcv ACK older than the window"
    RCV_SYN_PASSIVE = "rcv SYN (passive open)"
    RCV_SYN_SIMULTANEOUS = "rcv SYN (simultaneous open)"
    RCV_SYN_NEW_INCARNATION = "rcv SYN of a new incarnation"
    #: Linux's timewait socket (TIME_WAIT, and FIN_WAIT_2 after close()): tcp_timewait_state_process
    RCV_TW_BARE_ACK = "rcv bare ACK at RCV.NXT (timewait socket)"
    RCV_TW_OTHER = "rcv segment (timewait socket)"
    RCV_TW_SYN = "rcv SYN in the window (timewait socket)"
    RCV_NO_ACK = "rcv segment without ACK"
    RCV_SYN_DROPPED = "rcv SYN, queue full"
    RCV_SYN_COOKIE = "rcv SYN, SYN queue full"
    RCV_ACK_COOKIE = "rcv ACK with valid SYN cookie"
    RCV_ACK_QUEUE_FULL = "rcv ACK, accept queue full"
    RCV_ACK_OVERFLOW = "rcv ACK, accept queue full (abort_on_overflow)"
    RCV_ANY = "rcv segment"
    # timers (RFC 9293 §3.10.8; Linux where named)
    TIMEOUT_RTX = "retransmission timeout"
    TIMEOUT_GIVE_UP = "retries exhausted"
    TIMEOUT_DELACK = "delayed-ACK timeout"
    TIMEOUT_2MSL = "2MSL timeout"
    TIMEOUT_FIN_WAIT_2 = "FIN_WAIT_2 timeout"
    TIMEOUT_KEEPALIVE = "keepalive timeout"
    TIMEOUT_KEEPALIVE_GIVE_UP = "keepalive probes unanswered"
    # what-ifs: not TCP, or TCP as it was before RFC 5961
    RCV_SYN_TWO_WAY = "rcv SYN (two-way what-if)"
    RCV_RST_IN_WINDOW_793 = "rcv RST in window (RFC 793)"
    RCV_SYN_793 = "rcv SYN in window (RFC 793)"

    def __str__(self) -> str:
        return self.value

    @property
    def is_user_call(self) -> bool:
        return self in USER_CALLS


USER_CALLS = frozenset({Event.PASSIVE_OPEN, Event.ACTIVE_OPEN, Event.SEND, Event.CLOSE, Event.CLOSE_QUEUED,
                        Event.ABORT})


class Send(Enum):
    """What a row sends.  `text` is how diagrams and tables write it.

    Several actions send the same kind of segment and differ in how: an ACK
    may be sent once the arriving segment is processed (so data and FIN get
    one ACK together), at once, rate-limited, or delayed.  Each is its own
    value, so the endpoint never has to look at the row's state or event to
    know what to do.
    """

    NOTHING = ""
    SYN = "SYN"
    #: a new SYN,ACK answering a SYN (RFC 9293 §3.10.7.2)
    SYN_ACK = "SYN,ACK"
    #: the SYN,ACK again, for a retransmitted SYN, and its timer restarted
    #: (Linux tcp_check_req; rate-limited like any out-of-window reply)
    SYN_ACK_AGAIN = "SYN,ACK again"
    #: simultaneous open: our unacknowledged SYN becomes a SYN,ACK (RFC 9293 Figure 7)
    SYN_ACK_FOR_SYN = "SYN,ACK for our SYN"
    #: a SYN,ACK whose ISN is a SYN cookie; the listener keeps no state (RFC 4987 §3.6)
    SYN_ACK_COOKIE = "SYN,ACK with cookie"
    #: an ACK after the segment is processed: one ACK covers its data and FIN
    ACK = "ACK"
    #: an ACK at once
    ACK_NOW = "ACK now"
    #: an ACK answering an unacceptable segment, a SYN or an in-window RST; for a
    #: segment that carries nothing (or a SYN) at most one per tcp_invalid_ratelimit
    #: (Linux tcp_oow_rate_limited)
    DUP_ACK = "duplicate or challenge ACK"
    #: an ACK by Linux's delayed-ACK rules: at once in quick-ACK mode or when the
    #: application reads (outside ping-pong mode), else after the connection's
    #: ato, hoping to ride on the application's data or FIN (a FIN enters
    #: ping-pong mode: tcp_fin(); __tcp_ack_snd_check, tcp_send_delayed_ack)
    DELAYED_ACK = "delayed ACK"
    #: a timewait socket's answer: its ACK <SEQ=SND.NXT><ACK=RCV.NXT> (at most one per
    #: tcp_invalid_ratelimit for a segment that occupies no sequence space), and in
    #: TIME_WAIT the 2MSL timer restarted (the segment had an ACK: tcp_timewait_state_process)
    TW_ACK = "timewait ACK"
    #: restart the 2MSL timer, send nothing
    RESTART_2MSL = "restart 2MSL"
    #: the ACK of a retransmitted FIN in TIME_WAIT, and the 2MSL timer restarted
    #: (RFC 9293 §3.10.7.4, eighth step)
    ACK_RESTART_2MSL = "ACK, restart 2MSL"
    FIN = "FIN"
    #: an RST answering a segment (RFC 9293 §3.10.7.1's two forms)
    RST = "RST"
    #: the RST of an abort: <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5)
    RST_ABORT = "RST (abort)"
    #: a keepalive probe: <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>, no data
    #: (RFC 9293 §3.8.4; Linux tcp_write_wakeup -> tcp_xmit_probe_skb)
    KEEPALIVE = "keepalive probe"
    #: queued data goes out as soon as the state allows
    DATA = "data"
    #: go back N: resend everything unacknowledged
    RETRANSMIT = "retransmission"

    @property
    def text(self) -> str:
        """The segment's name as a diagram labels the edge ("" for nothing)."""
        return _SEND_TEXT.get(self, self.value)


_SEND_TEXT = {
    Send.SYN_ACK_AGAIN: "SYN,ACK", Send.SYN_ACK_FOR_SYN: "SYN,ACK", Send.SYN_ACK_COOKIE: "SYN,ACK",
    Send.ACK_NOW: "ACK", Send.DUP_ACK: "ACK", Send.DELAYED_ACK: "ACK", Send.ACK_RESTART_2MSL: "ACK",
    Send.RST_ABORT: "RST", Send.KEEPALIVE: "ACK", Send.TW_ACK: "ACK", Send.RESTART_2MSL: "",
}

#: The profiles a table is built for (tcpsim.core.profile.PROFILES has one of each).
PROFILE_NAMES = ("linux", "rfc9293")
#: Profiles that share another's rows and differ in constants only (an older kernel).
TABLE_OF = {"linux-6.1": "linux"}


def table_name(profile: str) -> str:
    """The name of the table a profile uses ("linux-6.1" -> "linux")."""
    return TABLE_OF.get(profile, profile)
ALL_PROFILES = frozenset(PROFILE_NAMES)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table."""

    state: State
    event: Event
    next: State
    send: Send
    rfc: str         # where the rule comes from, e.g. "RFC 9293 §3.10.7.3"
    label: str       # a short phrase for tables and tooltips
    figure: bool = False   # an edge of RFC 9293 Figure 5, the classic state diagram
    #: the what-if knob this row exists for ("" for TCP as specified): a
    #: scenario's `whatif` key, e.g. "two_way_handshake" (not TCP) or
    #: "no_rfc5961" (RFC 793's rules)
    whatif: str = ""
    #: the profiles whose table has this row (most rows hold for all)
    profiles: frozenset[str] = ALL_PROFILES

    @property
    def changes_state(self) -> bool:
        return self.next is not self.state

    @property
    def send_text(self) -> str:
        """What is sent, as diagrams and tables write it ("SYN,ACK"; "" for nothing)."""
        return self.send.text

    def holds_for(self, profile: str) -> bool:
        """Whether this row is part of the named profile's table."""
        return table_name(profile) in self.profiles

    @property
    def edge_label(self) -> str:
        """'event / segment sent', as state diagrams write it."""
        text = self.send.text
        return f"{self.event.value} / {text}" if text else self.event.value


_ROWS: list[Rule] = []


def _row(state: State, event: Event, nxt: State, send: Send, rfc: str, label: str, *,
         figure: bool = False, whatif: str = "", profiles: frozenset[str] = ALL_PROFILES) -> None:
    _ROWS.append(Rule(state, event, nxt, send, rfc, label, figure=figure, whatif=whatif, profiles=profiles))


E = Event
X = Send
R = "RFC 9293 "
LINUX = frozenset({"linux"})
RFC = frozenset({"rfc9293"})

# --- user calls ---------------------------------------------------------------
_row(S.CLOSED, E.PASSIVE_OPEN, S.LISTEN, X.NOTHING, R + "§3.10.1", "passive open", figure=True)
_row(S.CLOSED, E.ACTIVE_OPEN, S.SYN_SENT, X.SYN, R + "§3.10.1", "active open: send SYN", figure=True)
_row(S.LISTEN, E.CLOSE, S.CLOSED, X.NOTHING, R + "§3.10.4", "stop listening", figure=True)
_row(S.SYN_SENT, E.CLOSE, S.CLOSED, X.NOTHING, R + "§3.10.4", "give up connecting", figure=True)
_row(S.SYN_RECEIVED, E.CLOSE, S.FIN_WAIT_1, X.FIN, R + "§3.10.4", "close before established", figure=True)
# RFC 9293 §3.10.4, SYN-RECEIVED: with data still to send the close is "queued for
# processing after entering ESTABLISHED state" (the FIN then follows the data).
_row(S.SYN_RECEIVED, E.CLOSE_QUEUED, S.SYN_RECEIVED, X.NOTHING, R + "§3.10.4",
     "close queued until established and the data is sent")
_row(S.ESTABLISHED, E.CLOSE, S.FIN_WAIT_1, X.FIN, R + "§3.10.4", "active close", figure=True)
_row(S.CLOSE_WAIT, E.CLOSE, S.LAST_ACK, X.FIN, R + "§3.10.4", "passive close", figure=True)
for _s in (S.SYN_SENT, S.SYN_RECEIVED):
    _row(_s, E.SEND, _s, X.NOTHING, R + "§3.10.2", "data queued until established")
for _s in (S.ESTABLISHED, S.CLOSE_WAIT):
    _row(_s, E.SEND, _s, X.DATA, R + "§3.10.2", "send data")
for _s in (S.LISTEN, S.SYN_SENT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
    _row(_s, E.ABORT, S.CLOSED, X.NOTHING, R + "§3.10.5", "abort: delete the TCB, nothing sent")
for _s in (S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
    _row(_s, E.ABORT, S.CLOSED, X.RST_ABORT, R + "§3.10.5", "abort: send RST")

# --- segments arriving with no connection, or at a listener ---------------------
_row(S.CLOSED, E.RCV_ANY, S.CLOSED, X.RST, R + "§3.10.7.1", "no such connection: answer RST")
_row(S.CLOSED, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.1", "RST to nobody: drop")
_row(S.LISTEN, E.RCV_SYN, S.SYN_RECEIVED, X.SYN_ACK, R + "§3.10.7.2", "SYN: answer SYN,ACK", figure=True)
_row(S.LISTEN, E.RCV_ACK, S.LISTEN, X.RST, R + "§3.10.7.2", "ACK at a listener: answer RST")
_row(S.LISTEN, E.RCV_RST, S.LISTEN, X.NOTHING, R + "§3.10.7.2", "RST at a listener: drop")
_row(S.LISTEN, E.RCV_UNACCEPTABLE, S.LISTEN, X.NOTHING, R + "§3.10.7.2; Linux tcp_rcv_state_process",
     "neither SYN nor ACK (Linux: or a SYN with FIN): drop")
_row(S.LISTEN, E.RCV_SYN_DROPPED, S.LISTEN, X.NOTHING, "Linux tcp_conn_request (ListenDrops)",
     "SYN queue or accept queue full: drop the SYN, the client will retry")
_row(S.LISTEN, E.RCV_SYN_COOKIE, S.LISTEN, X.SYN_ACK_COOKIE, "Linux tcp_syncookies (RFC 4987 §3.6)",
     "SYN queue full: answer with a SYN cookie, keep no state")
_row(S.LISTEN, E.RCV_ACK_QUEUE_FULL, S.LISTEN, X.NOTHING, "Linux cookie_v4_check",
     "valid SYN cookie but accept queue full: drop the ACK")
_row(S.LISTEN, E.RCV_ACK_COOKIE, S.ESTABLISHED, X.NOTHING, "Linux cookie_v4_check (RFC 4987 §3.6)",
     "valid SYN cookie: rebuild the connection from the ACK")
_row(S.LISTEN, E.RCV_SYN_TWO_WAY, S.ESTABLISHED, X.SYN_ACK, "not TCP (what-if)",
     "two-way handshake: established at once", whatif="two_way_handshake")

# --- SYN_SENT (RFC 9293 §3.10.7.3) ------------------------------------------------
_row(S.SYN_SENT, E.RCV_SYN_ACK, S.ESTABLISHED, X.ACK, R + "§3.10.7.3", "our SYN acked, theirs received", figure=True)
_row(S.SYN_SENT, E.RCV_SYN, S.SYN_RECEIVED, X.SYN_ACK_FOR_SYN, R + "§3.10.7.3", "simultaneous open", figure=True)
_row(S.SYN_SENT, E.RCV_BAD_ACK, S.SYN_SENT, X.RST, R + "§3.10.7.3", "ack of a SYN we never sent: RST")
_row(S.SYN_SENT, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.3", "connection refused")
_row(S.SYN_SENT, E.RCV_RST_IGNORED, S.SYN_SENT, X.NOTHING, R + "§3.10.7.3", "RST without acceptable ACK: drop")
_row(S.SYN_SENT, E.RCV_UNACCEPTABLE, S.SYN_SENT, X.NOTHING, R + "§3.10.7.3", "neither SYN nor RST: drop")

# --- SYN_RECEIVED ------------------------------------------------------------------
_row(S.SYN_RECEIVED, E.RCV_ACK, S.ESTABLISHED, X.NOTHING, R + "§3.10.7.4", "our SYN acked", figure=True)
_row(S.SYN_RECEIVED, E.RCV_BAD_ACK, S.SYN_RECEIVED, X.RST, R + "§3.10.7.4", "unacceptable ACK: RST")
_row(S.SYN_RECEIVED, E.RCV_RST_PASSIVE, S.LISTEN, X.NOTHING, R + "§3.10.7.4",
     "reset: back to LISTEN (came from LISTEN)", figure=True)
_row(S.SYN_RECEIVED, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.4", "reset: connection refused (came from SYN_SENT)")
_row(S.SYN_RECEIVED, E.RCV_ACK_QUEUE_FULL, S.SYN_RECEIVED, X.NOTHING, "Linux tcp_check_req (listen_overflow)",
     "accept queue full: ignore the ACK; the SYN,ACK timer keeps running")
_row(S.SYN_RECEIVED, E.RCV_ACK_OVERFLOW, S.CLOSED, X.RST, "Linux tcp_abort_on_overflow=1",
     "accept queue full: answer RST")
# A retransmitted SYN in SYN_RECEIVED: Linux answers with its SYN,ACK again; to
# RFC 9293 it is an unacceptable segment (SEG.SEQ = IRS < RCV.NXT), answered with an ACK.
_row(S.SYN_RECEIVED, E.RCV_SYN, S.SYN_RECEIVED, X.SYN_ACK_AGAIN, "Linux tcp_check_req (RFC 1122 fix of RFC 793 Fig. 8)",
     "retransmitted SYN: resend SYN,ACK", profiles=LINUX)
_row(S.SYN_RECEIVED, E.RCV_SYN, S.SYN_RECEIVED, X.DUP_ACK, R + "§3.10.7.4 (first check)",
     "retransmitted SYN, not acceptable: ACK and drop", profiles=RFC)
# An acceptable (in-window, new) SYN in SYN_RECEIVED from a passive open: RFC 9293's
# fourth check returns the connection to LISTEN; Linux (tcp_check_req, embryonic_reset)
# also answers it with an RST.
_row(S.SYN_RECEIVED, E.RCV_SYN_SIMULTANEOUS, S.SYN_RECEIVED, X.DUP_ACK,
     "Linux tcp_validate_incoming (RFC 5961 §4: challenge ACK)",
     "SYN in a simultaneous open's SYN_RECEIVED (a full socket): challenge ACK", profiles=LINUX)
_row(S.SYN_RECEIVED, E.RCV_SYN_PASSIVE, S.LISTEN, X.NOTHING, R + "§3.10.7.4 (fourth check)",
     "new SYN in the window: back to LISTEN", profiles=RFC)
_row(S.SYN_RECEIVED, E.RCV_SYN_PASSIVE, S.LISTEN, X.RST, "Linux tcp_check_req (embryonic_reset)",
     "new SYN in the window: RST, back to LISTEN", profiles=LINUX)

# --- synchronized states: the generic checks of RFC 9293 §3.10.7.4 -------------------
_SYNC = SYNCHRONIZED
for _s in (S.SYN_RECEIVED,) + _SYNC:
    _row(_s, E.RCV_UNACCEPTABLE, _s, X.DUP_ACK, R + "§3.10.7.4 (first check)", "not acceptable: ACK and drop")
    _row(_s, E.RCV_RST_IGNORED, _s, X.NOTHING, R + "§3.10.7.4 (first check)", "RST outside the window: drop")
    _row(_s, E.RCV_RST_IN_WINDOW, _s, X.DUP_ACK, R + "§3.10.7.4 (second check, RFC 5961)",
         "RST in window but not exact: challenge ACK")
for _s in (S.SYN_RECEIVED,) + _SYNC:
    _row(_s, E.RCV_NO_ACK, _s, X.NOTHING, R + "§3.10.7.4 (fifth check)", "ACK bit off: drop")
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_OUT_OF_ORDER, _s, X.DUP_ACK, R + "§3.10.7.4 (first check)",
         "beyond a gap: drop and repeat the ACK (the RFC allows holding it)")
for _s in _SYNC:
    _row(_s, E.RCV_ACK_UNSENT, _s, X.DUP_ACK, R + "§3.10.7.4 (fifth check)",
         "acks something not yet sent: ACK and drop")
# RFC 9293 §3.10.7.4 fifth check (RFC 5961 §5.2, MAY-12; Linux tcp_ack does it too): an
# ACK is acceptable only in (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT.
for _s in _SYNC:
    _row(_s, E.RCV_ACK_TOO_OLD, _s, X.DUP_ACK, R + "§3.10.7.4 (fifth check, RFC 5961 §5.2)",
         "ACK older than SND.UNA - MAX.SND.WND: ACK and drop")
for _s in _SYNC:
    _row(_s, E.RCV_SYN, _s, X.DUP_ACK, R + "§3.10.7.4 (fourth check, RFC 5961)",
         "SYN in a synchronized state: challenge ACK")
# The "no RFC 5961" what-if: RFC 793 §3.9 (SEGMENT ARRIVES), before RFC 5961 made a
# blind attacker guess the exact number: "If the RST bit is set ... Enter the CLOSED
# state, delete the TCB, and return" for any RST in the window, and "If the SYN is in
# the window it is an error, send a reset ... enter the CLOSED state".
for _s in _SYNC:
    _row(_s, E.RCV_RST_IN_WINDOW_793, S.CLOSED, X.NOTHING, "RFC 793 §3.9 (second check; before RFC 5961)",
         "any RST in the window resets (no RFC 5961)", whatif="no_rfc5961")
    _row(_s, E.RCV_SYN_793, S.CLOSED, X.RST, "RFC 793 §3.9 (fourth check; before RFC 5961)",
         "SYN in the window: send a reset, close (no RFC 5961)", whatif="no_rfc5961")
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
    _row(_s, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.4 (second check)", "connection reset")
for _s in (S.CLOSING, S.LAST_ACK):
    _row(_s, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.4 (second check)", "reset while closing")
_row(S.TIME_WAIT, E.RCV_RST, S.CLOSED, X.NOTHING, R + "§3.10.7.4; Linux tcp_rfc1337=0",
     "RST kills TIME_WAIT (the hazard of RFC 1337)")
_row(S.TIME_WAIT, E.RCV_RST_RFC1337, S.TIME_WAIT, X.NOTHING, "RFC 1337 §3; Linux tcp_rfc1337=1",
     "RST in TIME_WAIT ignored: no assassination")
# Linux acknowledges data by its delayed-ACK rules (quick-ACK mode for the first
# 16, at once when the application reads unless in ping-pong mode, else after the
# connection's ato); the rfc9293 profile acknowledges every segment at once.
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_DATA, _s, X.DELAYED_ACK, R + "§3.10.7.4 (seventh step); §3.8.6.3; Linux __tcp_ack_snd_check",
         "data: deliver and ACK (maybe delayed)", profiles=LINUX)
    _row(_s, E.RCV_DATA, _s, X.ACK, R + "§3.10.7.4 (seventh step)", "data: deliver and ACK", profiles=RFC)
for _s in (S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_DATA_AFTER_CLOSE, S.CLOSED, X.RST, "Linux tcp_rcv_state_process (TCPAbortOnData)",
         "data for a socket the user closed: RST")
for _s in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _row(_s, E.RCV_DATA_AFTER_FIN, S.CLOSED, X.RST, "Linux tcp_rcv_state_process (RCV_SHUTDOWN, TCPAbortOnData)",
         "text past the peer's FIN: RST", profiles=LINUX)

# --- closing ---------------------------------------------------------------------
# Linux delays the ACK of a FIN hoping to send it on the application's FIN
# (tcp_fin() enters pingpong mode): with a server that closes at once the close
# takes three segments.  The rfc9293 profile acknowledges at once.
_row(S.ESTABLISHED, E.RCV_FIN, S.CLOSE_WAIT, X.DELAYED_ACK, R + "§3.10.7.4 (eighth step)", "peer closed",
     figure=True, profiles=LINUX)
_row(S.ESTABLISHED, E.RCV_FIN, S.CLOSE_WAIT, X.ACK, R + "§3.10.7.4 (eighth step)", "peer closed",
     figure=True, profiles=RFC)
_row(S.FIN_WAIT_1, E.RCV_ACK_OF_FIN, S.FIN_WAIT_2, X.NOTHING, R + "§3.10.7.4 (fifth step)", "our FIN acked",
     figure=True)
_row(S.FIN_WAIT_1, E.RCV_FIN, S.CLOSING, X.ACK, R + "§3.10.7.4 (eighth step)", "simultaneous close", figure=True)
_row(S.FIN_WAIT_1, E.RCV_FIN_ACK_OF_FIN, S.TIME_WAIT, X.ACK_NOW, R + "§3.10.7.4 (eighth step); §3.3.2 Note 2",
     "FIN that also acks our FIN", figure=True)
_row(S.FIN_WAIT_2, E.RCV_FIN, S.TIME_WAIT, X.ACK, R + "§3.10.7.4 (eighth step)", "peer closed too", figure=True)
_row(S.CLOSING, E.RCV_ACK_OF_FIN, S.TIME_WAIT, X.NOTHING, R + "§3.10.7.4 (fifth step)", "our FIN acked", figure=True)
_row(S.LAST_ACK, E.RCV_ACK_OF_FIN, S.CLOSED, X.NOTHING, R + "§3.10.7.4 (fifth step)", "our FIN acked: done",
     figure=True)
for _s in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _row(_s, E.RCV_FIN, _s, X.ACK, R + "§3.10.7.4 (eighth step)", "a FIN again (retransmitted or repeated): ACK it")
_row(S.TIME_WAIT, E.RCV_FIN, S.TIME_WAIT, X.ACK_RESTART_2MSL, R + "§3.10.7.4 (eighth step)",
     "retransmitted FIN: ACK again and restart the 2MSL timer")

# --- timers ------------------------------------------------------------------------
for _s, what in ((S.SYN_SENT, "SYN"), (S.SYN_RECEIVED, "SYN,ACK"), (S.ESTABLISHED, "data"),
                 (S.FIN_WAIT_1, "FIN"), (S.CLOSE_WAIT, "data"), (S.CLOSING, "FIN"), (S.LAST_ACK, "FIN")):
    _row(_s, E.TIMEOUT_RTX, _s, X.RETRANSMIT, R + "§3.8.1; RFC 6298", f"resend the unacknowledged {what}")
for _s in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _row(_s, E.TIMEOUT_GIVE_UP, S.CLOSED, X.NOTHING, R + "§3.8.3 (R2); Linux tcp_syn_retries etc.",
         "too many retransmissions: give up")
for _s, what in ((S.ESTABLISHED, "data"), (S.FIN_WAIT_1, "data"), (S.FIN_WAIT_2, "data"),
                 (S.CLOSE_WAIT, "FIN")):
    _row(_s, E.TIMEOUT_DELACK, _s, X.ACK_NOW, R + "§3.8.6.3; Linux tcp_delack_timer_handler",
         f"delayed ACK of the {what}, nothing to ride on", profiles=LINUX)
# Linux tcp_timewait_state_process (TCP_TW_SYN): a SYN above RCV.NXT, or with a newer
# timestamp, ends TIME_WAIT and goes to the listener (RFC 9293 §3.10.7.4 fourth check allows
# it "if the Timestamp Option is used and meets expectations", RFC 6191).
_row(S.TIME_WAIT, E.RCV_SYN_NEW_INCARNATION, S.CLOSED, X.NOTHING, "Linux tcp_timewait_state_process (TCP_TW_SYN)",
     "new incarnation: TIME_WAIT ends, the listener takes the SYN", profiles=LINUX)
# Linux hands TIME_WAIT, and FIN_WAIT_2 after close(), to a timewait mini-socket
# (tcp_time_wait); tcp_timewait_state_process answers for it, without RFC 9293's steps.
_TW = "Linux tcp_timewait_state_process"
_row(S.TIME_WAIT, E.RCV_TW_BARE_ACK, S.TIME_WAIT, X.RESTART_2MSL, _TW + " (inet_twsk_reschedule)",
     "a bare ACK at RCV.NXT: TIME_WAIT starts again", profiles=LINUX)
_row(S.TIME_WAIT, E.RCV_TW_OTHER, S.TIME_WAIT, X.TW_ACK, _TW + " (TCP_TW_ACK)",
     "anything else with an ACK: repeat the last ACK, TIME_WAIT starts again", profiles=LINUX)
_row(S.FIN_WAIT_2, E.RCV_TW_OTHER, S.FIN_WAIT_2, X.TW_ACK, _TW + " (TCP_FIN_WAIT2, out of the window)",
     "outside the window: ACK", profiles=LINUX)
_row(S.FIN_WAIT_2, E.RCV_TW_SYN, S.CLOSED, X.RST, _TW + " (TCP_FIN_WAIT2, TCP_TW_RST)",
     "a SYN in the window of a closed FIN_WAIT_2: RST", profiles=LINUX)
_row(S.TIME_WAIT, E.TIMEOUT_2MSL, S.CLOSED, X.NOTHING, R + "§3.10.8", "2MSL over: delete the TCB", figure=True)
_row(S.FIN_WAIT_2, E.TIMEOUT_FIN_WAIT_2, S.CLOSED, X.NOTHING, "Linux tcp_fin_timeout (not in the RFC)",
     "orphaned FIN_WAIT_2 times out")
# SO_KEEPALIVE (RFC 9293 §3.8.4, Linux tcp_keepalive_timer): an idle connection with
# nothing in flight probes its peer; unanswered probes end it with an RST.
for _s in (S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2):
    _row(_s, E.TIMEOUT_KEEPALIVE, _s, X.KEEPALIVE, R + "§3.8.4; Linux tcp_keepalive_timer",
         "idle too long: probe the peer")
    _row(_s, E.TIMEOUT_KEEPALIVE_GIVE_UP, S.CLOSED, X.RST_ABORT, "Linux tcp_keepalive_timer (tcp_send_active_reset)",
         "keepalive probes unanswered: reset, the application gets ETIMEDOUT")

RULES: tuple[Rule, ...] = tuple(_ROWS)


def _build(profile: str) -> dict[tuple[State, Event], Rule]:
    table: dict[tuple[State, Event], Rule] = {}
    for r in RULES:
        if r.holds_for(profile):
            key = (r.state, r.event)
            if key in table:  # pragma: no cover - a programming error caught at import
                raise AssertionError(f"duplicate row for {key} in the {profile} table")
            table[key] = r
    return table


#: One table per profile: (state, event) -> Rule.
TABLES: dict[str, dict[tuple[State, Event], Rule]] = {p: _build(p) for p in PROFILE_NAMES}
#: The linux profile's table (the default profile), under its old name.
TABLE = TABLES["linux"]


def table_for(profile: str) -> dict[tuple[State, Event], Rule]:
    """The table of the named profile ("linux", "linux-6.1" or "rfc9293")."""
    return TABLES[table_name(profile)]
