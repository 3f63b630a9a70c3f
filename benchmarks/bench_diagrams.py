"""How long a widget click takes: re-simulate, redraw both diagrams.

`bench_widget()` measures with `time.perf_counter` the median of

* ``click``: run the connect/close scenario with a changed set of dropped
  segments, then render the state diagram (Figure 5 view, both endpoints'
  paths painted) to SVG and the ladder diagram to SVG -- what an
  interactive figure does per click;
* ``dot``: the bare ``dot -Tsvg`` subprocess on the same state-diagram DOT
  text -- the physical floor, since the layout needs one ``dot`` run.

Each click uses a drop set not seen before in that run, and the render cache
is cleared before every repeat, so nothing is served from a cache (a real
widget would also hit the cache when a reader comes back to a drop set).

    python benchmarks/bench_diagrams.py [repeats]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from tcpsim.core.network import run
from tcpsim.core.scenario import builtin, load
from tcpsim.render import state_diagram as diagram
from tcpsim.render.ladder import ladder
from tcpsim.render.state_diagram import dot_binary, state_diagram

#: drop sets a reader might click through (positions in the trace, from 1)
DROP_SETS = ((), (1,), (2,), (3,), (4,), (5,), (6,), (2, 3), (4, 5), (1, 2), (5, 6), (2, 5))


def bench_widget(repeats: int = 50) -> dict:
    """Medians in milliseconds: {'click_ms', 'dot_ms', 'ratio', 'build_ms', 'simulate_ms', ...}."""
    scenario = load(builtin("connect-close"))
    click, dot, sim, build, lad = [], [], [], [], []
    exe = dot_binary()
    last_dot = None
    for k in range(repeats):
        drops = DROP_SETS[k % len(DROP_SETS)]
        diagram._render.cache_clear()
        diagram._render_svg.cache_clear()
        t0 = time.perf_counter()
        tr = run(scenario, drop=drops)
        t1 = time.perf_counter()
        d = state_diagram("figure", tr)
        t2 = time.perf_counter()
        svg1 = d.svg()
        t3 = time.perf_counter()
        svg2 = ladder(tr).svg()
        t4 = time.perf_counter()
        assert svg1 and svg2
        click.append(t4 - t0)
        sim.append(t1 - t0)
        build.append(t2 - t1)
        lad.append(t4 - t3)
        last_dot = d.dot
        t5 = time.perf_counter()
        subprocess.run([exe, "-Tsvg"], input=last_dot.encode("utf-8"), capture_output=True, check=True)
        dot.append(time.perf_counter() - t5)
    ms = lambda xs: round(statistics.median(xs) * 1000, 3)  # noqa: E731
    out = {"repeats": repeats, "click_ms": ms(click), "dot_ms": ms(dot),
           "simulate_ms": ms(sim), "build_dot_ms": ms(build), "ladder_ms": ms(lad)}
    out["ratio"] = round(out["click_ms"] / out["dot_ms"], 3) if out["dot_ms"] else None
    out["within_targets"] = out["click_ms"] <= 100 and (out["ratio"] or 0) <= 1.5
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    for k, v in bench_widget(n).items():
        print(f"{k:>15}: {v}")
