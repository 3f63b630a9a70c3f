"""The transition table: the single source of truth for every state change.

Each row says: in state S, on event E, go to state N and send segment X, with
the section of RFC 9293 (or the Linux function, where the RFC leaves room) that
decides it.  The endpoint (`endpoint.py`) classifies what happens to it — a
user call, an arriving segment, a timer — into one `Event`, looks the pair
(state, event) up here and does what the row says; it has no other way to
change state.  The state diagrams (`diagram.py`) are drawn from these rows, so
the picture and the behaviour cannot drift apart.

A user call with no row for the current state is illegal and raises
`IllegalCall`.  An arriving segment or a timer always has a row: what a TCP
does with a segment it does not like (answer with RST, challenge ACK, drop) is
a row like any other.

Rows whose `whatif` is true are *not TCP*: they exist only when a lesson turns
on a what-if knob (e.g. a two-way handshake) to show why TCP is as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .states import State

S = State


class Event(Enum):
    """What can happen to an endpoint.  The value is the label diagrams show."""

    # user calls (RFC 9293 §3.10.1 - §3.10.5)
    PASSIVE_OPEN = "listen"
    ACTIVE_OPEN = "connect"
    SEND = "send"
    CLOSE = "close"
    ABORT = "abort"
    # arriving segments (RFC 9293 §3.10.7)
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN,ACK"
    RCV_ACK = "rcv ACK"
    RCV_BAD_ACK = "rcv unacceptable ACK"
    RCV_DATA = "rcv data"
    RCV_DATA_AFTER_CLOSE = "rcv data after close"
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
    # what-if (not TCP)
    RCV_SYN_TWO_WAY = "rcv SYN (two-way what-if)"

    def __str__(self) -> str:
        return self.value

    @property
    def is_user_call(self) -> bool:
        return self in USER_CALLS


USER_CALLS = frozenset({Event.PASSIVE_OPEN, Event.ACTIVE_OPEN, Event.SEND, Event.CLOSE, Event.ABORT})


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table."""

    state: State
    event: Event
    next: State
    send: str        # what is sent: "SYN", "SYN,ACK", "ACK", "FIN", "RST", "data", "retransmission" or ""
    rfc: str         # where the rule comes from, e.g. "RFC 9293 §3.10.7.3"
    label: str       # a short phrase for tables and tooltips
    figure: bool = False   # an edge of RFC 9293 Figure 5, the classic state diagram
    whatif: bool = False   # not TCP: only with a what-if knob on

    @property
    def changes_state(self) -> bool:
        return self.next is not self.state

    @property
    def send_text(self) -> str:
        """What is sent, as diagrams and tables write it ("SYN,ACK"; "" for nothing)."""
        return self.send

    def holds_for(self, profile: str) -> bool:
        """Whether this row is part of the named profile's table."""
        return True

    @property
    def edge_label(self) -> str:
        """'event / segment sent', as state diagrams write it."""
        return f"{self.event.value} / {self.send}" if self.send else self.event.value


_ROWS: list[Rule] = []


def _row(state, event, nxt, send, rfc, label, **kw):
    _ROWS.append(Rule(state, event, nxt, send, rfc, label, **kw))


E = Event
R = "RFC 9293 "

# --- user calls ---------------------------------------------------------------
_row(S.CLOSED, E.PASSIVE_OPEN, S.LISTEN, "", R + "§3.10.1", "passive open", figure=True)
_row(S.CLOSED, E.ACTIVE_OPEN, S.SYN_SENT, "SYN", R + "§3.10.1", "active open: send SYN", figure=True)
_row(S.LISTEN, E.CLOSE, S.CLOSED, "", R + "§3.10.4", "stop listening", figure=True)
_row(S.SYN_SENT, E.CLOSE, S.CLOSED, "", R + "§3.10.4", "give up connecting", figure=True)
_row(S.SYN_RECEIVED, E.CLOSE, S.FIN_WAIT_1, "FIN", R + "§3.10.4", "close before established", figure=True)
_row(S.ESTABLISHED, E.CLOSE, S.FIN_WAIT_1, "FIN", R + "§3.10.4", "active close", figure=True)
_row(S.CLOSE_WAIT, E.CLOSE, S.LAST_ACK, "FIN", R + "§3.10.4", "passive close", figure=True)
for _s in (S.SYN_SENT, S.SYN_RECEIVED):
    _row(_s, E.SEND, _s, "", R + "§3.10.2", "data queued until established")
for _s in (S.ESTABLISHED, S.CLOSE_WAIT):
    _row(_s, E.SEND, _s, "data", R + "§3.10.2", "send data")
for _s in (S.LISTEN, S.SYN_SENT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
    _row(_s, E.ABORT, S.CLOSED, "", R + "§3.10.5", "abort: delete the TCB, nothing sent")
for _s in (S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
    _row(_s, E.ABORT, S.CLOSED, "RST", R + "§3.10.5", "abort: send RST")

# --- segments arriving with no connection, or at a listener ---------------------
_row(S.CLOSED, E.RCV_ANY, S.CLOSED, "RST", R + "§3.10.7.1", "no such connection: answer RST")
_row(S.CLOSED, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.1", "RST to nobody: drop")
_row(S.LISTEN, E.RCV_SYN, S.SYN_RECEIVED, "SYN,ACK", R + "§3.10.7.2", "SYN: answer SYN,ACK", figure=True)
_row(S.LISTEN, E.RCV_ACK, S.LISTEN, "RST", R + "§3.10.7.2", "ACK at a listener: answer RST")
_row(S.LISTEN, E.RCV_RST, S.LISTEN, "", R + "§3.10.7.2", "RST at a listener: drop")
_row(S.LISTEN, E.RCV_UNACCEPTABLE, S.LISTEN, "", R + "§3.10.7.2", "neither SYN nor ACK: drop")
_row(S.LISTEN, E.RCV_SYN_DROPPED, S.LISTEN, "", "Linux tcp_conn_request (ListenDrops)",
     "SYN queue or accept queue full: drop the SYN, the client will retry")
_row(S.LISTEN, E.RCV_SYN_COOKIE, S.LISTEN, "SYN,ACK", "Linux tcp_syncookies (RFC 4987 §3.6)",
     "SYN queue full: answer with a SYN cookie, keep no state")
_row(S.LISTEN, E.RCV_ACK_QUEUE_FULL, S.LISTEN, "", "Linux cookie_v4_check",
     "valid SYN cookie but accept queue full: drop the ACK")
_row(S.LISTEN, E.RCV_ACK_COOKIE, S.ESTABLISHED, "", "Linux cookie_v4_check (RFC 4987 §3.6)",
     "valid SYN cookie: rebuild the connection from the ACK")
_row(S.LISTEN, E.RCV_SYN_TWO_WAY, S.ESTABLISHED, "SYN,ACK", "not TCP (what-if)",
     "two-way handshake: established at once", whatif=True)

# --- SYN_SENT (RFC 9293 §3.10.7.3) ------------------------------------------------
_row(S.SYN_SENT, E.RCV_SYN_ACK, S.ESTABLISHED, "ACK", R + "§3.10.7.3", "our SYN acked, theirs received", figure=True)
_row(S.SYN_SENT, E.RCV_SYN, S.SYN_RECEIVED, "SYN,ACK", R + "§3.10.7.3", "simultaneous open", figure=True)
_row(S.SYN_SENT, E.RCV_BAD_ACK, S.SYN_SENT, "RST", R + "§3.10.7.3", "ack of a SYN we never sent: RST")
_row(S.SYN_SENT, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.3", "connection refused")
_row(S.SYN_SENT, E.RCV_RST_IGNORED, S.SYN_SENT, "", R + "§3.10.7.3", "RST without acceptable ACK: drop")
_row(S.SYN_SENT, E.RCV_UNACCEPTABLE, S.SYN_SENT, "", R + "§3.10.7.3", "neither SYN nor RST: drop")

# --- SYN_RECEIVED ------------------------------------------------------------------
_row(S.SYN_RECEIVED, E.RCV_ACK, S.ESTABLISHED, "", R + "§3.10.7.4", "our SYN acked", figure=True)
_row(S.SYN_RECEIVED, E.RCV_BAD_ACK, S.SYN_RECEIVED, "RST", R + "§3.10.7.4", "unacceptable ACK: RST")
_row(S.SYN_RECEIVED, E.RCV_RST_PASSIVE, S.LISTEN, "", R + "§3.10.7.4",
     "reset: back to LISTEN (came from LISTEN)", figure=True)
_row(S.SYN_RECEIVED, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.4", "reset: connection refused (came from SYN_SENT)")
_row(S.SYN_RECEIVED, E.RCV_ACK_QUEUE_FULL, S.SYN_RECEIVED, "", "Linux tcp_check_req (listen_overflow)",
     "accept queue full: ignore the ACK; the SYN,ACK timer keeps running")
_row(S.SYN_RECEIVED, E.RCV_ACK_OVERFLOW, S.CLOSED, "RST", "Linux tcp_abort_on_overflow=1",
     "accept queue full: answer RST")
_row(S.SYN_RECEIVED, E.RCV_SYN, S.SYN_RECEIVED, "SYN,ACK", "Linux tcp_check_req (RFC 1122 fix of RFC 793 Fig. 8)",
     "retransmitted SYN: resend SYN,ACK")

# --- synchronized states: the generic checks of RFC 9293 §3.10.7.4 -------------------
_SYNC = (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)
for _s in (S.SYN_RECEIVED,) + _SYNC:
    _row(_s, E.RCV_UNACCEPTABLE, _s, "ACK", R + "§3.10.7.4 (first check)", "not acceptable: ACK and drop")
    _row(_s, E.RCV_RST_IGNORED, _s, "", R + "§3.10.7.4 (first check)", "RST outside the window: drop")
    _row(_s, E.RCV_RST_IN_WINDOW, _s, "ACK", R + "§3.10.7.4 (second check, RFC 5961)",
         "RST in window but not exact: challenge ACK")
for _s in (S.SYN_RECEIVED,) + _SYNC:
    _row(_s, E.RCV_NO_ACK, _s, "", R + "§3.10.7.4 (fifth check)", "ACK bit off: drop")
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_OUT_OF_ORDER, _s, "ACK", R + "§3.10.7.4 (first check)",
         "beyond a gap: drop and repeat the ACK (the RFC allows holding it)")
for _s in _SYNC:
    _row(_s, E.RCV_ACK_UNSENT, _s, "ACK", R + "§3.10.7.4 (fifth check)",
         "acks something not yet sent: ACK and drop")
for _s in _SYNC:
    _row(_s, E.RCV_SYN, _s, "ACK", R + "§3.10.7.4 (fourth check, RFC 5961)", "SYN in a synchronized state: challenge ACK")
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
    _row(_s, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.4 (second check)", "connection reset")
for _s in (S.CLOSING, S.LAST_ACK):
    _row(_s, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.4 (second check)", "reset while closing")
_row(S.TIME_WAIT, E.RCV_RST, S.CLOSED, "", R + "§3.10.7.4; Linux tcp_rfc1337=0",
     "RST kills TIME_WAIT (the hazard of RFC 1337)")
_row(S.TIME_WAIT, E.RCV_RST_RFC1337, S.TIME_WAIT, "", "RFC 1337 §3; Linux tcp_rfc1337=1",
     "RST in TIME_WAIT ignored: no assassination")
for _s in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_DATA, _s, "ACK", R + "§3.10.7.4 (seventh step)", "data: deliver and ACK")
for _s in (S.FIN_WAIT_1, S.FIN_WAIT_2):
    _row(_s, E.RCV_DATA_AFTER_CLOSE, S.CLOSED, "RST", "Linux tcp_rcv_state_process (TCPAbortOnData)",
         "data for a socket the user closed: RST")

# --- closing ---------------------------------------------------------------------
_row(S.ESTABLISHED, E.RCV_FIN, S.CLOSE_WAIT, "ACK", R + "§3.10.7.4 (eighth step)", "peer closed", figure=True)
_row(S.FIN_WAIT_1, E.RCV_ACK_OF_FIN, S.FIN_WAIT_2, "", R + "§3.10.7.4 (fifth step)", "our FIN acked", figure=True)
_row(S.FIN_WAIT_1, E.RCV_FIN, S.CLOSING, "ACK", R + "§3.10.7.4 (eighth step)", "simultaneous close", figure=True)
_row(S.FIN_WAIT_1, E.RCV_FIN_ACK_OF_FIN, S.TIME_WAIT, "ACK", R + "§3.10.7.4 (eighth step); §3.3.2 Note 2",
     "FIN that also acks our FIN", figure=True)
_row(S.FIN_WAIT_2, E.RCV_FIN, S.TIME_WAIT, "ACK", R + "§3.10.7.4 (eighth step)", "peer closed too", figure=True)
_row(S.CLOSING, E.RCV_ACK_OF_FIN, S.TIME_WAIT, "", R + "§3.10.7.4 (fifth step)", "our FIN acked", figure=True)
_row(S.LAST_ACK, E.RCV_ACK_OF_FIN, S.CLOSED, "", R + "§3.10.7.4 (fifth step)", "our FIN acked: done", figure=True)
for _s in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _row(_s, E.RCV_FIN, _s, "ACK", R + "§3.10.7.4 (eighth step)", "retransmitted FIN: ACK again")
_row(S.TIME_WAIT, E.RCV_FIN, S.TIME_WAIT, "ACK", R + "§3.10.7.4 (eighth step)",
     "retransmitted FIN: ACK again and restart the 2MSL timer")

# --- timers ------------------------------------------------------------------------
for _s, what in ((S.SYN_SENT, "SYN"), (S.SYN_RECEIVED, "SYN,ACK"), (S.ESTABLISHED, "data"),
                 (S.FIN_WAIT_1, "FIN"), (S.CLOSE_WAIT, "data"), (S.CLOSING, "FIN"), (S.LAST_ACK, "FIN")):
    _row(_s, E.TIMEOUT_RTX, _s, "retransmission", R + "§3.8.1; RFC 6298", f"resend the unacknowledged {what}")
for _s in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _row(_s, E.TIMEOUT_GIVE_UP, S.CLOSED, "", R + "§3.8.3 (R2); Linux tcp_syn_retries etc.",
         "too many retransmissions: give up")
_row(S.CLOSE_WAIT, E.TIMEOUT_DELACK, S.CLOSE_WAIT, "ACK", R + "§3.8.6.3; Linux TCP_DELACK_MIN",
     "delayed ACK of the FIN, nothing to ride on")
_row(S.TIME_WAIT, E.TIMEOUT_2MSL, S.CLOSED, "", R + "§3.10.8", "2MSL over: delete the TCB", figure=True)
_row(S.FIN_WAIT_2, E.TIMEOUT_FIN_WAIT_2, S.CLOSED, "", "Linux tcp_fin_timeout (not in the RFC)",
     "orphaned FIN_WAIT_2 times out")

#: The table itself: (state, event) -> Rule.
TABLE: dict[tuple[State, Event], Rule] = {}
for _r in _ROWS:
    key = (_r.state, _r.event)
    if key in TABLE:  # pragma: no cover - a programming error caught at import
        raise AssertionError(f"duplicate row for {key}")
    TABLE[key] = _r
RULES: tuple[Rule, ...] = tuple(_ROWS)

