"""A one-word verdict per connection in Zeek's vocabulary (conn.log's ``conn_state``).

Zeek keeps one state per endpoint (inactive, SYN sent, SYN-ACK sent, partial,
established, closed, reset) and maps the pair to a word at the end; this is
that mapping, after Zeek's ``Conn::conn_state`` (base/protocols/conn/main.zeek),
whose documented meanings are in `MEANING`.  The originator is the side that
sent the first SYN (the receiver of a SYN-ACK when no SYN was seen, else the
sender of the first packet).
"""

from __future__ import annotations

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)

#: conn_state -> Zeek's documented meaning (docs.zeek.org, base/protocols/conn/main.zeek, Conn::Info)
MEANING = {
    "S0": "Connection attempt seen, no reply.",
    "S1": "Connection established, not terminated.",
    "SF": "Normal establishment and termination.",
    "REJ": "Connection attempt rejected.",
    "S2": "Connection established and close attempt by originator seen (but no reply from responder).",
    "S3": "Connection established and close attempt by responder seen (but no reply from originator).",
    "RSTO": "Connection established, originator aborted (sent a RST).",
    "RSTR": "Responder sent a RST.",
    "RSTOS0": "Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.",
    "RSTRH": "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.",
    "SH": "Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder "
          "(hence the connection was “half” open).",
    "SHR": "Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.",
    "OTH": "No SYN seen, just midstream traffic (a “partial connection” that was not later closed).",
}


class ZeekEndpoints:
    """The two endpoint states, updated one packet at a time (a few integers: memory stays small)."""

    __slots__ = ("state", "size", "orig_syn")

    def __init__(self) -> None:
        self.state = [INACTIVE, INACTIVE]      # [originator, responder]
        self.size = [0, 0]
        self.orig_syn = False

    def packet(self, side: int, flags: str, length: int) -> None:
        st, other = self.state, 1 - side
        self.size[side] += length
        if "R" in flags:
            st[side] = RESET
            return
        if "S" in flags:
            if st[side] == INACTIVE:
                st[side] = SYN_ACK_SENT if "A" in flags else SYN_SENT
            if side == 0 and "A" not in flags:
                self.orig_syn = True
        elif st[side] in (SYN_SENT, SYN_ACK_SENT) and st[other] in (SYN_SENT, SYN_ACK_SENT, ESTABLISHED):
            st[side] = ESTABLISHED             # the handshake's third segment (or later traffic)
            if st[other] in (SYN_SENT, SYN_ACK_SENT):
                st[other] = ESTABLISHED
        elif st[side] == INACTIVE:
            st[side] = PARTIAL
        if "F" in flags and st[side] != RESET:
            st[side] = CLOSED

    def verdict(self) -> str:
        os_, rs = self.state
        o_inactive = os_ in (INACTIVE, PARTIAL)
        r_inactive = rs in (INACTIVE, PARTIAL)
        if rs == RESET:
            if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and self.size == [0, 0]):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os_ == RESET:
            if not r_inactive:
                return "RSTO"
            return "RSTOS0" if self.orig_syn else "OTH"
        if rs == CLOSED and os_ == CLOSED:
            return "SF"
        if os_ == CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == CLOSED:
            return "SHR" if o_inactive else "S3"
        if os_ == SYN_SENT and rs == INACTIVE:
            return "S0"
        if os_ == ESTABLISHED and rs == ESTABLISHED:
            return "S1"
        return "OTH"
