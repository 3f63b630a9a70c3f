"""The eleven states of RFC 9293 §3.3.2, spelled as the RFC does (with '_')."""

from enum import Enum


class State(Enum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"

    def __repr__(self) -> str:
        return f"State.{self.name}"

    def __str__(self) -> str:
        return self.value


#: States in which both sequence spaces are synchronized (RFC 9293 §3.10.7.4),
#: in the RFC's order (the table's rows for them follow it).
SYNCHRONIZED: tuple[State, ...] = (
    State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT,
    State.CLOSING, State.LAST_ACK, State.TIME_WAIT,
)
