"""Benchmarks: `python benchmarks/bench.py` (or `./run.sh bench`) prints medians.

1. Every one of the 4096 subsets of losses among the first 12 transmitted
   segments of the connect-close scenario, run one after the other on one
   core (target: at most 3 s in all).
2. A SYN flood of 100,000 spoofed SYNs against a listener with backlog 128,
   with SYN cookies off and on (target: at most 5 s each).
3. What a drop-a-packet widget does per click: re-simulate connect-close with
   a changed drop set and re-render the state diagram (with the run's path)
   and the ladder diagram (target: at most 100 ms median, and at most 1.5x
   the bare `dot` call for the same graph).
4. A clean build of the website, executing every notebook (target: at most
   120 s), and on the built site, in Chromium, the time from clicking a drop
   button to the next painted frame (target: at most 100 ms).
5. The capture explainer on a generated 100 MB capture of 10,000 connections,
   beside dpkt alone, and one connection explained with diagrams
   (benchmarks/bench_capture.py, which says what it measures).

Timings use time.perf_counter and report the median of several repeats; they
are measurements, not tests.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tcpsim.core.network import Simulation
from tcpsim.core.scenario import load


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


TOP = Path(__file__).resolve().parents[1]


def build_site(out: Path) -> float:
    """A clean build of the whole website, executing every notebook; seconds taken."""
    jb = Path(sys.executable).parent / "jupyter-book"
    t0 = time.perf_counter()
    r = subprocess.run([str(jb), "build", str(TOP), "--path-output", str(out), "--builder", "html",
                        "-W", "-n", "--keep-going"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("the website build failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    return time.perf_counter() - t0


def website_redraw(site: Path, repeats: int = 3) -> dict:
    """Median time from a click on a drop button to the next painted frame, in Chromium."""
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    times = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = b.new_page(viewport={"width": 1300, "height": 1400})
            for html in sorted((site / "book").glob("*.html")):
                page.goto(base + f"book/{html.name}", wait_until="networkidle")
                n = page.locator(".tcpsim-drop").count()
                for _ in range(repeats):
                    for i in range(n):
                        ms = page.evaluate("""async (i) => {
                            const b = document.querySelectorAll('.tcpsim-drop')[i];
                            const t0 = performance.now();
                            b.click();
                            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                            const t1 = performance.now();
                            b.click();
                            return t1 - t0; }""", i)
                        times.append(ms)
            b.close()
    finally:
        srv.shutdown()
    return {"clicks": len(times), "median_ms": round(statistics.median(times), 1) if times else None,
            "max_ms": round(max(times), 1) if times else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tcpsim.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="repeats per measurement (median reported)")
    ap.add_argument("--only", choices=("subsets", "flood", "widget", "site", "capture"), help="run one benchmark only")
    args = ap.parse_args(argv)
    r = max(1, args.repeats)
    print(f"python {sys.version.split()[0]}, median of {r} runs")
    if args.only in (None, "subsets"):
        m = _median(all_loss_subsets, r)
        print(f"4096 loss subsets of connect-close:          {m:7.3f} s   (target <= 3 s)")
    if args.only in (None, "flood"):
        for cookies in (0, 1):
            m = _median(lambda c=cookies: flood(c), max(1, r // 2))
            tr = flood(cookies)
            ok = "connected" in tr.notices_of("client")
            print(f"SYN flood 100,000 SYNs, syncookies={cookies}:      {m:7.3f} s   (target <= 5 s); "
                  f"{len(tr.segments)} segments, legitimate client {'connected' if ok else 'never connected'}")
    if args.only in (None, "widget"):
        try:
            from bench_diagrams import bench_widget
        except ImportError:
            print("widget: diagrams not available")
        else:
            res = bench_widget(repeats=max(20, r * 10))
            for k, v in res.items():
                print(f"widget {k}: {v}")
    if args.only in (None, "site"):
        with tempfile.TemporaryDirectory() as tmp:
            secs = build_site(Path(tmp))
            print(f"clean website build, every notebook executed: {secs:7.1f} s   (target <= 120 s)")
            r = website_redraw(Path(tmp) / "_build" / "html")
            print(f"website drop toggle to next painted frame: median {r['median_ms']} ms, "
                  f"max {r['max_ms']} ms over {r['clicks']} clicks   (target <= 100 ms)")
    if args.only in (None, "capture"):
        from bench_capture import bench as bench_capture
        from bench_capture import report
        report(bench_capture(r), r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
