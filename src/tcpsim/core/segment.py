"""Segments and sequence-number arithmetic.

Sequence numbers live in a 32-bit circle (RFC 9293 §3.4): every comparison
is made modulo 2**32, so `seq_lt(2**32 - 1, 0)` is true.  SYN and FIN each
occupy one sequence number; data occupies its length.

Flags are written as the letters of "SFRPA" in that order, as a trace shows
them: "S" is a SYN, "SA" a SYN-ACK, "FA" a FIN with ACK, "RA" an RST with ACK.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

MOD = 1 << 32
HALF = 1 << 31
FLAG_ORDER = "SFRPA"
#: Every valid flags string: any subset of "SFRPA", letters in that order.
VALID_FLAGS = frozenset(
    "".join(c) for n in range(len(FLAG_ORDER) + 1) for c in combinations(FLAG_ORDER, n)
)


def seq_add(a: int, n: int) -> int:
    return (a + n) % MOD


def seq_lt(a: int, b: int) -> bool:
    """a < b in sequence space (RFC 9293 §3.4)."""
    return 0 < (b - a) % MOD < HALF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


def seq_diff(a: int, b: int) -> int:
    """a - b as a signed distance in sequence space."""
    d = (a - b) % MOD
    return d - MOD if d >= HALF else d


def canonical_flags(text: str) -> str:
    """Put flag letters in "SFRPA" order; raise ValueError naming a bad letter."""
    letters = text.upper().replace(",", "").replace(" ", "").replace(".", "A")
    bad = sorted(set(letters) - set(FLAG_ORDER))
    if bad:
        raise ValueError(f"unknown flag letter(s) {''.join(bad)!r}; use letters from {FLAG_ORDER!r}")
    if len(set(letters)) != len(letters):
        raise ValueError(f"flag letters repeated in {text!r}")
    return "".join(c for c in FLAG_ORDER if c in letters)


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One TCP segment as it crosses the network.

    `ack` is None exactly when the ACK flag is off; `len` counts data bytes
    only (the SYN and FIN flags add one each to `seg_len`).
    """

    src: str
    sport: int
    dst: str
    dport: int
    flags: str
    seq: int
    ack: int | None = None
    len: int = 0
    #: TCP timestamps (RFC 7323), in microseconds of simulated time; None when
    #: the profile does not use them.  Only RTT measurement uses them.
    tsval: int | None = None
    tsecr: int | None = None

    def __post_init__(self) -> None:
        if self.flags not in VALID_FLAGS:
            raise ValueError(f"flags {self.flags!r}: letters from {FLAG_ORDER!r}, in that order")
        if not (type(self.seq) is int and 0 <= self.seq < MOD):
            raise ValueError(f"seq {self.seq!r}: must be an integer in 0..2**32-1")
        if ("A" in self.flags) != (self.ack is not None):
            raise ValueError(f"ack {self.ack!r} with flags {self.flags!r}: "
                             "an ack number is given exactly when the ACK flag is set")
        if self.ack is not None and not (type(self.ack) is int and 0 <= self.ack < MOD):
            raise ValueError(f"ack {self.ack!r}: must be an integer in 0..2**32-1")
        if not (type(self.len) is int and self.len >= 0):
            raise ValueError(f"len {self.len!r}: must be an integer >= 0")

    @property
    def syn(self) -> bool:
        return "S" in self.flags

    @property
    def fin(self) -> bool:
        return "F" in self.flags

    @property
    def rst(self) -> bool:
        return "R" in self.flags

    @property
    def seg_len(self) -> int:
        """SEG.LEN of RFC 9293: data bytes plus one for SYN and one for FIN."""
        return self.len + ("S" in self.flags) + ("F" in self.flags)

    def describe(self) -> str:
        """Short text such as 'SYN-ACK seq=300 ack=101'."""
        names = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", "A": "ACK"}
        parts = ["-".join(names[c] for c in self.flags) or "(no flags)", f"seq={self.seq}"]
        if self.ack is not None:
            parts.append(f"ack={self.ack}")
        if self.len:
            parts.append(f"len={self.len}")
        return " ".join(parts)
