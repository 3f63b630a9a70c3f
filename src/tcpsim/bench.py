"""Benchmarks: `python -m tcpsim.bench` (or `./run.sh bench`) prints medians.

1. Every one of the 4096 subsets of losses among the first 12 transmitted
   segments of the connect-close scenario, run one after the other on one
   core (target: at most 3 s in all).
2. A SYN flood of 100,000 spoofed SYNs against a listener with backlog 128,
   with SYN cookies off and on (target: at most 5 s each).
3. What a drop-a-packet widget does per click: re-simulate connect-close with
   a changed drop set and re-render the state diagram (with the run's path)
   and the ladder diagram (target: at most 100 ms median, and at most 1.5x
   the bare `dot` call for the same graph).

Timings use time.perf_counter and report the median of several repeats; they
are measurements, not tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from .network import Simulation
from .scenario import load


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def all_loss_subsets(n: int = 12) -> int:
    """Run connect-close under each of the 2**n loss patterns of its first n segments."""
    sc = load("connect-close")
    total = 0
    for mask in range(1 << n):
        drop = frozenset(i + 1 for i in range(n) if mask >> i & 1)
        total += len(Simulation(sc, drop).run().segments)
    return total


def flood_scenario(cookies: int, count: int = 100_000, backlog: int = 128) -> dict:
    return {"name": f"flood-{count}", "profile": "linux", "overrides": {"syncookies": cookies},
            "endpoints": {
                "client": {"port": 40000, "isn": 100, "calls": [
                    {"t": 5, "call": "connect", "to": "server"}, {"t": 8, "call": "close"}]},
                "server": {"port": 80, "isn": 300, "backlog": backlog, "calls": [
                    {"t": 0, "call": "listen"}, {"on": "eof", "call": "close"}]}},
            "network": {"flood": {"t": 0, "count": count, "rate": 10_000, "dst": "server", "dport": 80}}}


def flood(cookies: int, count: int = 100_000):
    return Simulation(load(flood_scenario(cookies, count))).run()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tcpsim.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="repeats per measurement (median reported)")
    ap.add_argument("--only", choices=("subsets", "flood", "widget"), help="run one benchmark only")
    args = ap.parse_args(argv)
    r = max(1, args.repeats)
    print(f"python {sys.version.split()[0]}, median of {r} runs")
    if args.only in (None, "subsets"):
        m = _median(all_loss_subsets, r)
        print(f"4096 loss subsets of connect-close:          {m:7.3f} s   (target <= 3 s)")
    if args.only in (None, "flood"):
        for cookies in (0, 1):
            m = _median(lambda: flood(cookies), max(1, r // 2))
            tr = flood(cookies)
            ok = "connected" in tr.notices_of("client")
            print(f"SYN flood 100,000 SYNs, syncookies={cookies}:      {m:7.3f} s   (target <= 5 s); "
                  f"{len(tr.segments)} segments, legitimate client {'connected' if ok else 'never connected'}")
    if args.only in (None, "widget"):
        try:
            from .bench_diagrams import bench_widget
        except ImportError:
            print("widget: diagrams not available")
        else:
            res = bench_widget(repeats=max(20, r * 10))
            for k, v in res.items():
                print(f"widget {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
