"""Packets from a pcap or pcapng capture: TCP segments, decoded as they stream by.

dpkt's `UniversalReader` reads the container (pcap with micro- or nanosecond
stamps, either byte order; pcapng); the link, IP and TCP headers are decoded
here with `struct` on the frame's bytes, which is several times faster than
building dpkt's header objects and never raises on a frame cut short (a
frame that ends inside its headers is counted, not decoded).

Link types: Ethernet (1, with any number of 802.1Q / 802.1ad VLAN tags),
BSD loopback (0 and 108), raw IP (12, 14, 101, 228, 229), Linux cooked
SLL (113) and SLL2 (276).  Network: IPv4 (fragments other than the first are
skipped) and IPv6 (hop-by-hop, routing, destination-options and fragment
extension headers are walked).  `read_segments` yields only TCP.

dpkt is imported when a capture is read, not when this module is imported.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import IO, Any

from .errors import CaptureFileError
from .text import t

ETH, NULL, LOOP, SLL, SLL2 = 1, 0, 108, 113, 276
RAW_TYPES = frozenset({12, 14, 101})
RAW4, RAW6 = 228, 229
LINK_NAMES = {ETH: "Ethernet", NULL: "BSD loopback", LOOP: "OpenBSD loopback", SLL: "Linux cooked (SLL)",
              SLL2: "Linux cooked v2 (SLL2)", 12: "raw IP", 14: "raw IP", 101: "raw IP", RAW4: "raw IPv4",
              RAW6: "raw IPv6"}
VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100})
IPV6_EXT = frozenset({0, 43, 60})   # hop-by-hop, routing, destination options (fragment: 44)
_H = struct.Struct("!H")
_TCP = struct.Struct("!HHIIBB")
_FLAG_LETTERS = ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x10, "A"))
#: flags byte -> the trace's flag letters ("SFRPA" order); ECN/URG bits are kept apart (`Packet.extra`)
FLAGS = tuple("".join(letter for bit, letter in _FLAG_LETTERS if b & bit) for b in range(256))


@dataclass(slots=True)
class Packet:
    """One TCP segment seen in the capture (numbers absolute, as on the wire)."""

    n: int              # its number in the file, from 1 (every frame counts, TCP or not)
    t: int              # capture time stamp, integer microseconds since the epoch
    src: str
    sport: int
    dst: str
    dport: int
    flags: str          # letters of "SFRPA"
    seq: int
    ack: int | None     # None when the ACK flag is off
    len: int            # TCP payload bytes, from the IP header's length (also when the frame was cut short)
    tsval: int | None = None


@dataclass
class ReadStats:
    """What the reader saw besides TCP: the notes of an explanation come from here."""

    frames: int = 0
    tcp: int = 0
    link: str = ""
    not_ip: int = 0
    not_tcp: int = 0
    fragments: int = 0
    cut_short: int = 0          # frames that end inside the IP or TCP header (snap length)
    vlan: int = 0
    ipv6: int = 0
    backwards: int = 0          # time stamps earlier than the frame before
    first_backwards: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"}


def _open(source: bytes | str | IO[bytes]) -> IO[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if isinstance(source, str):
        try:
            return open(source, "rb")  # noqa: SIM115 - closed by read_segments
        except OSError as e:
            raise CaptureFileError(t("err.open", path=source, why=e.strerror or type(e).__name__)) from None
    return source


def _dpkt() -> Any:
    try:
        import dpkt
    except ImportError:
        raise CaptureFileError(t("err.no_dpkt")) from None
    return dpkt


def _container(fh: IO[bytes]) -> Any:
    dpkt = _dpkt()

    head = fh.read(4)
    if not head:
        raise CaptureFileError(t("err.empty"))
    fh.seek(0)
    try:
        return dpkt.pcap.UniversalReader(fh)
    except (ValueError, struct.error, dpkt.UnpackError, IndexError, KeyError):
        if len(head) < 4 or head not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                                         b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"):
            raise CaptureFileError(t("err.not_pcap", head=head.hex())) from None
        raise CaptureFileError(t("err.bad_header")) from None


def read_segments(source: bytes | str | IO[bytes], stats: ReadStats | None = None) -> Iterator[Packet]:
    """Yield every TCP segment of a capture, in file order, one at a time (memory stays bounded).

    `source` is the file's bytes, a path or a binary file object.  A file that
    is not a capture, or whose container is broken, raises `CaptureFileError`
    (a `tcpsim.core.errors.TcpSimError`) with a one-line message; `stats`
    (if given) counts what was skipped."""
    dpkt = _dpkt()

    st = stats if stats is not None else ReadStats()
    fh = _open(source)
    try:
        reader = _container(fh)
        linktype = reader.datalink()
        decode = _LINK.get(linktype)
        if decode is None and linktype not in RAW_TYPES:
            raise CaptureFileError(t("err.linktype", linktype=linktype))
        st.link = LINK_NAMES.get(linktype, str(linktype))
        last = None
        frames = iter(reader)
        while True:
            try:
                ts, buf = next(frames)
            except StopIteration:
                break
            except (ValueError, struct.error, dpkt.UnpackError, IndexError, KeyError, OverflowError) as e:
                raise CaptureFileError(t("err.broken", n=st.frames + 1, why=type(e).__name__)) from None
            st.frames += 1
            # a float (microsecond files) is rounded; a Decimal (nanosecond pcap) is exact and is
            # truncated to the microsecond, as tcpdump -tt prints it
            tus = round(ts * 1_000_000) if isinstance(ts, float) else int(ts * 1_000_000)
            if last is not None and tus < last:
                st.backwards += 1
                st.first_backwards = st.first_backwards or st.frames
            last = tus
            pkt = _frame(buf, decode, st)
            if pkt is not None:
                pkt.n, pkt.t = st.frames, tus
                st.tcp += 1
                yield pkt
    finally:
        if not isinstance(source, bytes | bytearray | memoryview) and isinstance(source, str):
            fh.close()


def _frame(buf: bytes, decode: Any, st: ReadStats) -> Packet | None:
    if decode is None:
        off, version = 0, (buf[0] >> 4) if buf else 0
    else:
        off, version = decode(buf, st)
    if version == 4:
        return _ipv4(buf, off, st)
    if version == 6:
        st.ipv6 += 1
        return _ipv6(buf, off, st)
    if version == -1:
        st.cut_short += 1
    else:
        st.not_ip += 1
    return None


def _etype(etype: int) -> int:
    return 4 if etype == 0x0800 else 6 if etype == 0x86DD else 0


def _ether(buf: bytes, st: ReadStats) -> tuple[int, int]:
    if len(buf) < 14:
        return 0, -1
    etype, off = _H.unpack_from(buf, 12)[0], 14
    if etype in VLAN_TYPES:
        st.vlan += 1
    while etype in VLAN_TYPES:
        if len(buf) < off + 4:
            return 0, -1
        etype, off = _H.unpack_from(buf, off + 2)[0], off + 4
    return off, _etype(etype)


def _null(buf: bytes, st: ReadStats) -> tuple[int, int]:
    if len(buf) < 5:
        return 0, -1
    return 4, buf[4] >> 4


def _sll(buf: bytes, st: ReadStats) -> tuple[int, int]:
    if len(buf) < 16:
        return 0, -1
    return 16, _etype(_H.unpack_from(buf, 14)[0])


def _sll2(buf: bytes, st: ReadStats) -> tuple[int, int]:
    if len(buf) < 20:
        return 0, -1
    return 20, _etype(_H.unpack_from(buf, 0)[0])


def _raw4(buf: bytes, st: ReadStats) -> tuple[int, int]:
    return 0, 4


def _raw6(buf: bytes, st: ReadStats) -> tuple[int, int]:
    return 0, 6


_LINK = {ETH: _ether, NULL: _null, LOOP: _null, SLL: _sll, SLL2: _sll2, RAW4: _raw4, RAW6: _raw6}


def _ipv4(buf: bytes, off: int, st: ReadStats) -> Packet | None:
    if len(buf) < off + 20:
        st.cut_short += 1
        return None
    ihl = (buf[off] & 0x0F) * 4
    if buf[off + 9] != 6:
        st.not_tcp += 1
        return None
    if _H.unpack_from(buf, off + 6)[0] & 0x1FFF:      # not the first fragment: no TCP header in it
        st.fragments += 1
        return None
    total = _H.unpack_from(buf, off + 2)[0]
    if ihl < 20 or total < ihl:
        st.not_ip += 1
        return None
    src = ".".join(map(str, buf[off + 12:off + 16]))
    dst = ".".join(map(str, buf[off + 16:off + 20]))
    return _tcp(buf, off + ihl, total - ihl, src, dst, st)


def _ipv6(buf: bytes, off: int, st: ReadStats) -> Packet | None:
    if len(buf) < off + 40:
        st.cut_short += 1
        return None
    payload = _H.unpack_from(buf, off + 4)[0]
    nxt = buf[off + 6]
    src = str(IPv6Address(buf[off + 8:off + 24]))
    dst = str(IPv6Address(buf[off + 24:off + 40]))
    p = off + 40
    while nxt in IPV6_EXT or nxt == 44:
        if len(buf) < p + 8:
            st.cut_short += 1
            return None
        if nxt == 44:
            if _H.unpack_from(buf, p + 2)[0] & 0xFFF8:
                st.fragments += 1
                return None
            hlen = 8
        else:
            hlen = (buf[p + 1] + 1) * 8
        nxt, p, payload = buf[p], p + hlen, payload - hlen
    if nxt != 6:
        st.not_tcp += 1
        return None
    return _tcp(buf, p, payload, src, dst, st)


def _tcp(buf: bytes, off: int, seg_bytes: int, src: str, dst: str, st: ReadStats) -> Packet | None:
    if len(buf) < off + 20:
        st.cut_short += 1
        return None
    sport, dport, seq, ack, doff, fl = _TCP.unpack_from(buf, off)
    hlen = (doff >> 4) * 4
    if hlen < 20 or seg_bytes < hlen:
        st.not_tcp += 1
        return None
    if fl & 0xE0:
        key = "ece/cwr/urg"
        st.extra[key] = st.extra.get(key, 0) + 1
    tsval = None
    if hlen > 20 and len(buf) >= off + hlen:
        tsval = _tsval(buf, off + 20, off + hlen)
    return Packet(0, 0, src, sport, dst, dport, FLAGS[fl], seq, ack if fl & 0x10 else None,
                  seg_bytes - hlen, tsval)


def _tsval(buf: bytes, i: int, end: int) -> int | None:
    """The TSval of a timestamps option (RFC 7323 kind 8), if the options hold one."""
    while i < end:
        kind = buf[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end or buf[i + 1] < 2:
            return None
        if kind == 8 and buf[i + 1] == 10 and i + 10 <= end:
            return int.from_bytes(buf[i + 2:i + 6], "big")
        i += buf[i + 1]
    return None
