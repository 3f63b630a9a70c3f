"""Split a stream of TCP segments into connections: by four-tuple, then by incarnation.

A new incarnation of a four-tuple starts with a SYN (without ACK) whose
sequence number is not the current incarnation's ISN from that side (so not a
retransmission), once the current one has ended or never got going: it has
seen a FIN or an RST, or no SYN-ACK yet.  That is how a new connection reuses
a four-tuple (RFC 9293 §3.10.7.4 allows a SYN to reopen from TIME_WAIT; Linux
tcp_timewait_state_process accepts it as TCP_TW_SYN, as `time-wait-reuse.pcap`
shows on Linux 6.18).

Only a few numbers are kept per connection while the packets stream by
(`Summary`); the segments themselves are kept only for the connections asked
for, so memory grows with the number of connections, not of packets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..core.units import secs
from .reader import Packet
from .zeek import MEANING, ZeekEndpoints

Key = tuple[str, int, str, int]


def endpoint_text(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


class Summary:
    """One connection (one incarnation of a four-tuple), as counted while streaming."""

    __slots__ = ("n", "orig", "resp", "first", "last", "packets", "bytes", "zeek", "isn", "ended", "synack",
                 "incarnation", "segments")

    def __init__(self, n: int, orig: Key, first: int, incarnation: int, keep: bool):
        self.n, self.orig, self.first, self.last = n, orig, first, first
        self.resp: Key = (orig[2], orig[3], orig[0], orig[1])
        self.packets = [0, 0]
        self.bytes = [0, 0]
        self.zeek = ZeekEndpoints()
        self.isn: list[int | None] = [None, None]
        self.ended = False
        self.synack = False
        self.incarnation = incarnation
        self.segments: list[Packet] | None = [] if keep else None

    def side(self, p: Packet) -> int:
        o = self.orig
        return 0 if (p.src, p.sport, p.dst, p.dport) == o else 1

    def add(self, p: Packet) -> None:
        s = self.side(p)
        self.last = max(self.last, p.t)
        self.packets[s] += 1
        self.bytes[s] += p.len
        self.zeek.packet(s, p.flags, p.len)
        if "S" in p.flags:
            if self.isn[s] is None:
                self.isn[s] = p.seq
            if "A" in p.flags:
                self.synack = True
        if "F" in p.flags or "R" in p.flags:
            self.ended = True
        if self.segments is not None:
            self.segments.append(p)

    def reopens(self, p: Packet) -> bool:
        """Whether `p` starts a new incarnation of this four-tuple."""
        if p.flags != "S" and p.flags != "SP":
            return False
        isn = self.isn[self.side(p)]
        return isn is not None and p.seq != isn and (self.ended or not self.synack)

    def to_dict(self) -> dict[str, Any]:
        verdict = self.zeek.verdict()
        return {"conn": self.n, "client": endpoint_text(self.orig[0], self.orig[1]),
                "server": endpoint_text(self.orig[2], self.orig[3]), "incarnation": self.incarnation,
                "start_us": self.first, "duration": secs(self.last - self.first),
                "packets": list(self.packets), "bytes": list(self.bytes),
                "conn_state": verdict, "conn_state_meaning": MEANING[verdict]}


def _originator(p: Packet) -> Key:
    """Who opened: the SYN's sender, the receiver of a SYN-ACK, else the first packet's sender."""
    if "S" in p.flags and "A" in p.flags:
        return (p.dst, p.dport, p.src, p.sport)
    return (p.src, p.sport, p.dst, p.dport)


def split(packets: Iterable[Packet], keep: set[int] | None = None, everything: bool = False) -> Iterator[Summary]:
    """Every connection of `packets`, numbered from 1 in order of first packet, yielded when
    the stream ends (their segments kept if their number is in `keep`, or if `everything`)."""
    current: dict[Key, Summary] = {}
    done: list[Summary] = []
    count = 0
    for p in packets:
        key = (p.src, p.sport, p.dst, p.dport) if (p.src, p.sport) <= (p.dst, p.dport) else \
              (p.dst, p.dport, p.src, p.sport)
        c = current.get(key)
        if c is None or c.reopens(p):
            count += 1
            c = Summary(count, _originator(p), p.t, 1 if c is None else c.incarnation + 1,
                        everything or (keep is not None and count in keep))
            current[key] = c
            done.append(c)
        c.add(p)
    yield from done
