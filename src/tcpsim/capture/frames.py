"""Write captures: a TCP segment as an Ethernet/IPv4 (or IPv6) frame, frames as a pcap file.

The reverse of `reader`, for the tests (every link type the reader takes) and
the benchmark's generated capture; the standard library only.  Checksums are
left zero, as a capture on loopback with checksum offload shows them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from ipaddress import ip_address

_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def tcp_header(sport: int, dport: int, seq: int, ack: int | None, flags: str, options: bytes = b"") -> bytes:
    bits = sum(_FLAG_BITS[c] for c in flags)
    options += b"\x00" * (-len(options) % 4)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack or 0, (5 + len(options) // 4) << 4, bits, 65535, 0,
                       0) + options


def ip_packet(src: str, dst: str, tcp: bytes, payload_len: int = 0) -> bytes:
    """An IPv4 or IPv6 packet (by the addresses' family) around `tcp` and `payload_len` zero bytes."""
    a, b = ip_address(src), ip_address(dst)
    body = tcp + bytes(payload_len)
    if a.version == 6:
        return struct.pack("!IHBB", 6 << 28, len(body), 6, 64) + a.packed + b.packed + body
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(body), 0, 0x4000, 64, 6, 0) + a.packed + b.packed + body


def ethernet(packet: bytes, vlans: Iterable[int] = ()) -> bytes:
    etype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    tags = b"".join(struct.pack("!HH", 0x8100, v) for v in vlans)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + tags + struct.pack("!H", etype) + packet


def pcap_file(records: Iterable[tuple[int, bytes]], linktype: int = 1, snaplen: int = 262144,
              nano: bool = False) -> bytes:
    """A pcap file of (time in µs since the epoch, frame) records."""
    out = [struct.pack("<IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for t_us, frame in records:
        frac = (t_us % 1_000_000) * (1000 if nano else 1)
        cap = frame[:snaplen]
        out.append(struct.pack("<IIII", t_us // 1_000_000, frac, len(cap), len(frame)) + cap)
    return b"".join(out)
