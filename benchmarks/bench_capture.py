"""Benchmark of the capture explainer: `python benchmarks/bench_capture.py` (also `./run.sh bench --only capture`).

Generates (deterministically, from a seed) a pcap of about 100 MB with 10,000
TCP connections on Ethernet/IPv4 -- each a handshake, a few full-sized data
segments one way with ACKs every second segment, one data segment in a
hundred lost and resent 200 ms later, and a close -- interleaved in time as
concurrent connections are.  Then, in one run, side by side:

1. dpkt alone iterating the file's packets and decoding each frame to its TCP
   header (``dpkt.ethernet.Ethernet(buf).data.data``), and, for reference, the
   bare container iteration without decoding;
2. `tcpsim.capture.summarise` on the same file: every connection's
   endpoints, packets, bytes and Zeek conn_state (target: at most 1.5x the
   time of 1);
3. one connection explained with diagrams (trace, states, verdict, the model's
   run and comparison, the ladder, the state diagram laid out by `dot`, the
   model's ladder), on a capture holding that connection alone, as a reader
   drops a file of their own (target: at most 200 ms).

Medians of several repetitions; measurements, not tests.
"""

from __future__ import annotations

import argparse
import heapq
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import _median

from tcpsim.capture import explain_bytes, summarise
from tcpsim.capture.frames import ethernet, ip_packet, pcap_file, tcp_header

MSS = 1448
HEADER = pcap_file([])     # the pcap file header alone


def _connection(rnd: random.Random, k: int, start: int) -> Iterator[tuple[int, bytes]]:
    """The frames of connection `k` as (time µs, frame), in time order."""
    c, s = f"10.{k // 65536 % 256}.{k // 256 % 256}.{k % 256 or 1}", "192.0.2.80"
    cp, sp = 1024 + rnd.randrange(60000), 443
    ci, si = rnd.randrange(1 << 32), rnd.randrange(1 << 32)
    rtt = rnd.randrange(200, 20000)
    t = start
    out: list[tuple[int, bytes]] = []

    def seg(src_is_client: bool, seq: int, ack: int | None, flags: str, n: int = 0) -> None:
        src, dst, a, b = (c, s, cp, sp) if src_is_client else (s, c, sp, cp)
        out.append((t, ethernet(ip_packet(src, dst, tcp_header(a, b, seq % (1 << 32),
                                                                 None if ack is None else ack % (1 << 32),
                                                                 flags), n))))
    seg(True, ci, None, "S")
    t += rtt
    seg(False, si, ci + 1, "SA")
    t += rtt
    seg(True, ci + 1, si + 1, "A")
    nseg = rnd.randrange(4, 9)
    for j in range(nseg):
        t += 50
        seq = ci + 1 + j * MSS
        seg(True, seq, si + 1, "PA", MSS)
        if rnd.random() < 0.01:                       # lost after the capture point; resent after an RTO
            t += 200_000
            seg(True, seq, si + 1, "PA", MSS)
        if j % 2 or j == nseg - 1:
            t += rtt // 2
            seg(False, si + 1, seq + MSS, "A")
    end = ci + 1 + nseg * MSS
    t += rnd.randrange(1000, 100_000)
    seg(True, end, si + 1, "FA")
    t += rtt
    seg(False, si + 1, end + 1, "FA")
    t += rtt
    seg(True, end + 1, si + 2, "A")
    yield from out


def generate(path: Path, connections: int = 10_000, seed: int = 14) -> int:
    """Write the benchmark's capture to `path`; return its size in bytes."""
    rnd = random.Random(seed)
    starts = sorted(rnd.randrange(0, connections * 1000) for _ in range(connections))
    t0 = 1_700_000_000_000_000
    streams = [list(_connection(rnd, k, t0 + s)) for k, s in enumerate(starts)]
    with open(path, "wb") as fh:
        fh.write(HEADER)
        for t_us, frame in heapq.merge(*streams, key=lambda r: r[0]):
            fh.write(pcap_file([(t_us, frame)])[len(HEADER):])
    return path.stat().st_size


def dpkt_decode(path: Path) -> int:
    import dpkt
    n = 0
    with open(path, "rb") as fh:
        for _ts, buf in dpkt.pcap.UniversalReader(fh):
            tcp = dpkt.ethernet.Ethernet(buf).data.data
            n += tcp.flags & 1
    return n


def dpkt_bare(path: Path) -> int:
    import dpkt
    with open(path, "rb") as fh:
        return sum(1 for _ in dpkt.pcap.UniversalReader(fh))


def one_connection(path: Path, conn: int) -> bytes:
    """A capture of connection `conn` of `path` alone (its frames, by four-tuple)."""
    import dpkt
    got = summarise(str(path))["connections"][conn - 1]
    ends = {got["client"], got["server"]}
    recs = []
    with open(path, "rb") as fh:
        for ts, buf in dpkt.pcap.UniversalReader(fh):
            ip = dpkt.ethernet.Ethernet(buf).data
            a = f"{'.'.join(map(str, ip.src))}:{ip.data.sport}"
            b = f"{'.'.join(map(str, ip.dst))}:{ip.data.dport}"
            if {a, b} == ends:
                recs.append((round(ts * 1e6), buf))
    return pcap_file(recs)


def bench(repeats: int = 5, connections: int = 10_000, keep: Path | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "bench.pcap"
        t0 = time.perf_counter()
        size = generate(path, connections) if not path.exists() else path.stat().st_size
        made = time.perf_counter() - t0
        packets = dpkt_bare(path)
        res = {"size_mb": size / 1e6, "packets": packets, "generate_s": made, "connections": connections}
        res["dpkt_bare_s"] = _median(lambda: dpkt_bare(path), repeats)
        res["dpkt_decode_s"] = _median(lambda: dpkt_decode(path), repeats)
        res["summarise_s"] = _median(lambda: summarise(str(path)), repeats)
        res["ratio"] = res["summarise_s"] / res["dpkt_decode_s"]
        lossy = next(c["conn"] for c in summarise(str(path))["connections"] if c["packets"][0] > 12)
        one = one_connection(path, lossy)
        res["one_conn_packets"] = sum(1 for _ in dpkt_iter(one))
        t0 = time.perf_counter()
        explain_bytes(one)                  # the first call also runs `dot` (its SVG is cached by DOT text)
        res["explain_one_cold_ms"] = 1000 * (time.perf_counter() - t0)
        res["explain_one_ms"] = 1000 * _median(lambda: explain_bytes(one), max(5, repeats * 2))
        res["explain_one_no_dot_ms"] = 1000 * _median(lambda: explain_bytes(one, state_svg=False),
                                                      max(5, repeats * 2))
    return res


def dpkt_iter(data: bytes):
    import dpkt
    return dpkt.pcap.UniversalReader(io.BytesIO(data))


def report(res: dict[str, float], repeats: int) -> None:
    print(f"capture: {res['size_mb']:.1f} MB, {res['packets']:,} packets, {res['connections']:,} connections "
          f"(generated in {res['generate_s']:.1f} s); median of {repeats} runs")
    print(f"capture dpkt alone, iterate + decode to TCP:  {res['dpkt_decode_s']:7.3f} s")
    print(f"capture dpkt alone, iterate only (reference): {res['dpkt_bare_s']:7.3f} s")
    print(f"capture tcpsim.capture.summarise:             {res['summarise_s']:7.3f} s   "
          f"= {res['ratio']:.2f}x dpkt   (target <= 1.5x)")
    print(f"capture one connection ({res['one_conn_packets']} packets) explained with diagrams: "
          f"{res['explain_one_ms']:.1f} ms (target <= 200 ms); first call, with a fresh `dot` run: "
          f"{res['explain_one_cold_ms']:.1f} ms; without the state diagram's layout: "
          f"{res['explain_one_no_dot_ms']:.1f} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="write (or reuse) the generated capture here")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    report(bench(max(1, args.repeats), args.connections, args.keep), max(1, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
