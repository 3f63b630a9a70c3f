"""The ladder (time-sequence) diagram of a run, as hand-built SVG.

Design
------
One vertical timeline per host, time flowing down; each transmission is an
arrow from the sender's timeline at its send time to the receiver's at its
arrival time, labelled along its slope with the flags as words ("SYN,ACK"),
seq, ack and (for data) len.  No Graphviz is involved: the layout is a few
loops over the trace, so drawing is fast and the bytes depend on the trace
alone (numbers are formatted with fixed precision, there is no clock, no
randomness and no id counter shared between figures).

Time axis.  One one-way delay is drawn `PX_PER_DELAY` pixels tall, so a
round trip reads at a glance.  Idle stretches longer than `BREAK_AFTER`
delays (the seconds of an RTO, the minute of TIME_WAIT) are squeezed into a
fixed-height break, marked on every timeline with a "//" and on the time axis
with "≈ 60 s".  Labels on the time axis give the exact times, so the picture
never lies about them.

What is marked how (never by colour alone):
  * a lost segment: a dashed arrow that stops half-way, with a drawn ✕ and
    the word "lost";
  * a retransmission: a dash-dot line and "(rtx)" after its label;
  * timers, derived from the trace: an RTO is a bracket on the sender's
    timeline from the previous copy of the segment to the retransmission;
    TIME_WAIT is a bracket from entering TIME_WAIT to CLOSED, with a tick
    where a re-ACK restarted the 2MSL timer;
  * state changes: the new state's name beside the timeline, at its time.

Colours are Okabe-Ito (one per sending host), safe for colour-blind readers.
The figure carries its own white background rectangle, so it stays readable
on a dark page and inside an ``<img>`` tag (where ``currentColor`` would not
reach it); every text has a thin white halo so a crossing line cannot hide
it.  The SVG has a `<title>` and a `<desc>` (the plain-English text of
`describe`) and ``role="img"``.

Arrow labels are placed greedily: each tries a few spots along its arrow
(centre first; near its sender when arrows cross) and takes the first that
overlaps no label already placed.  Text widths are estimated for a
monospaced font, which is why the figure uses one.
"""

from __future__ import annotations

import hashlib
import math
from html import escape
from pathlib import Path

from ..core.states import State
from ..core.trace import StateChange

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
INK = "#1A1A1A"
GREY = "#6B6B6B"
TIMER = "#444444"
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FS = 12                 # label font size (px)
PX_PER_DELAY = 54       # height of one one-way delay
BREAK_AFTER = 3         # idle gaps longer than this many delays become a break
BREAK_H = 50            # height of a break
LINE_H = 15             # spacing of stacked state labels
GAP_X = 440             # distance between timelines
FLAG_WORDS = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", "A": "ACK"}


# ------------------------------------------------------------------ text
def flag_words(flags: str) -> str:
    return ",".join(FLAG_WORDS[c] for c in flags) or "(no flags)"


def _numbers(trace, rec, relative: bool) -> tuple[int, int | None]:
    return trace.relative(rec) if relative else (rec.seg.seq, rec.seg.ack)


def segment_label(trace, rec, relative: bool = False) -> str:
    """'SYN,ACK seq=300 ack=101' (+ ' len=N' for data, ' (rtx)' for a retransmission)."""
    seq, ack = _numbers(trace, rec, relative)
    parts = [flag_words(rec.seg.flags), f"seq={seq}"]
    if ack is not None:
        parts.append(f"ack={ack}")
    if rec.seg.len:
        parts.append(f"len={rec.seg.len}")
    if rec.rtx:
        parts.append("(rtx)")
    for note in (rec.note or "").split(", "):
        if note == "duplicate":
            parts.append("(dup)")
        elif note:
            parts.append(f"({note})")
    return " ".join(parts)


def fmt_s(t_us: int) -> str:
    """Seconds with at most 3 decimals: 0.05, 1, 60."""
    s = f"{t_us / 1_000_000:.3f}".rstrip("0").rstrip(".")
    return s or "0"


def fmt_gap(t_us: int) -> str:
    """A break's length, rounded as a reader would say it: 60, 1.9, 0.25."""
    s = t_us / 1_000_000
    if s >= 10:
        return f"{s:.0f}"
    return f"{s:.2g}" if s < 1 else f"{s:.1f}".rstrip("0").rstrip(".")


def host_of(endpoint: str) -> str:
    return endpoint.split("#", 1)[0]


def describe(trace, relative: bool = False, states: bool = True) -> list[str]:
    """The run in plain English, one line per event in time order.

    "1. at 0 s client → server: SYN seq=100 (lost)"; state changes (with
    `states`) as "   client: CLOSED → SYN_SENT (connect)".
    """
    from ..core.trace import trace_events
    out = []
    for e in trace_events(trace):
        if isinstance(e, StateChange):
            if states:
                cause = f" ({e.cause})" if e.cause else ""
                out.append(f"   at {fmt_s(e.t)} s {e.endpoint}: {e.old.value} → {e.new.value}{cause}")
        else:
            fate = " (lost)" if e.dropped else (" (not delivered)" if e.arrive is None else
                                                f", arrives at {fmt_s(e.arrive)} s")
            out.append(f"{e.i}. at {fmt_s(e.t)} s {e.seg.src} → {e.seg.dst}: "
                       f"{segment_label(trace, e, relative)}{fate}")
    return out


# ------------------------------------------------------------------ figure
class Ladder:
    """A rendered ladder diagram: `.svg` text, `.save(path)`, Jupyter display."""

    def __init__(self, svg: str, width: int, height: int, title: str, desc: str):
        self.svg_text, self.width, self.height = svg, width, height
        self.title, self.desc = title, desc

    def svg(self) -> str:
        return self.svg_text

    def _repr_svg_(self) -> str:
        return self.svg_text

    def describe(self) -> str:
        return self.desc

    def save(self, path) -> Path:
        """Write the SVG.  (PNG copies are rasterised by a browser:
        tools/render_figures.py does that for the README's figures.)"""
        path = Path(path)
        if path.suffix.lower() != ".svg":
            raise ValueError(f"a ladder saves as .svg, not {path.suffix or 'no suffix'!r}")
        path.write_text(self.svg_text, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return f"<Ladder {self.width}x{self.height}>"


def _n(x: float) -> str:
    """Fixed-precision number for SVG attributes (deterministic, compact)."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _e(s: str) -> str:
    return escape(s, quote=True)


def _text_w(s: str, fs: float = FS) -> float:
    return len(s) * 0.602 * fs


class _Boxes:
    """Axis-aligned boxes already taken by text."""

    def __init__(self):
        self.boxes: list[tuple[float, float, float, float]] = []

    def hits(self, b) -> float:
        x0, y0, x1, y1 = b
        area = 0.0
        for (a0, b0, a1, b1) in self.boxes:
            w = min(x1, a1) - max(x0, a0)
            h = min(y1, b1) - max(y0, b0)
            if w > 0 and h > 0:
                area += w * h
        return area

    def add(self, b) -> None:
        self.boxes.append(b)


def _rot_box(cx, cy, w, h, ang):
    """Bounding box of a w×h rectangle centred at (cx, cy) rotated by ang (radians)."""
    c, s = abs(math.cos(ang)), abs(math.sin(ang))
    hw, hh = (w * c + h * s) / 2, (w * s + h * c) / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh)


def ladder(trace, relative: bool = False, step: int | None = None, hosts=None,
           title: str | None = None, legend: bool = True) -> Ladder:
    """Draw `trace` as a ladder diagram.

    relative: seq/ack relative to each connection's ISNs (`Trace.relative`).
    step: draw only the first `step` events of `diagram.trace_events(trace)`
          (the layout stays that of the whole run, so frames line up).
    hosts: the timelines, left to right (default: the scenario's endpoints,
           then any other host the trace mentions).
    """
    from ..core.trace import trace_events

    segs = list(trace.segments)
    changes = list(trace.changes)
    # ---- which events are shown
    if step is None:
        shown_segs = {r.i for r in segs}
        shown_changes = set(range(len(changes)))
    else:
        first = trace_events(trace)[:max(step, 0)]
        shown_segs = {e.i for e in first if not isinstance(e, StateChange)}
        ids = {id(e) for e in first if isinstance(e, StateChange)}
        shown_changes = {k for k, c in enumerate(changes) if id(c) in ids}

    # ---- hosts, left to right
    order: dict[str, None] = {}
    sc = getattr(trace, "scenario", None)
    if hosts is not None:
        for h in hosts:
            order.setdefault(h, None)
    else:
        names = list(getattr(sc, "endpoints", {}) or {})
        mentioned = {host_of(c.endpoint) for c in changes} | {r.seg.src for r in segs} | {r.seg.dst for r in segs}
        for h in names:
            if h in mentioned:
                order.setdefault(h, None)
        for c in changes:
            order.setdefault(host_of(c.endpoint), None)
        for r in segs:
            order.setdefault(r.seg.src, None)
            order.setdefault(r.seg.dst, None)
    hosts = list(order) or ["client", "server"]
    col = {h: k for k, h in enumerate(hosts)}

    # ---- one-way delay, for the scale and for where a lost segment would have landed
    flights = sorted(r.arrive - r.t for r in segs if r.arrive is not None and r.arrive > r.t)
    delay = int(round(getattr(sc, "delay", 0) * 1_000_000)) if sc is not None and getattr(sc, "delay", 0) else 0
    if not delay:
        delay = flights[0] if flights else 50_000
    scale = PX_PER_DELAY / delay          # px per µs

    def land(r):
        return r.arrive if r.arrive is not None else r.t + delay

    # ---- times that matter, and the y of each
    times = {0}
    for r in segs:
        times.add(r.t)
        times.add(land(r))
    for c in changes:
        times.add(c.t)
    times = sorted(times)
    # state labels stacked at one time on one host need room below them
    stack: dict[tuple[str, int], int] = {}
    for c in changes:
        key = (host_of(c.endpoint), c.t)
        stack[key] = stack.get(key, 0) + 1
    need = {}
    for (h, t), k in stack.items():
        need[t] = max(need.get(t, 0), k * LINE_H + 4)

    top = 96
    y_of: dict[int, float] = {}
    breaks: list[tuple[float, float, int]] = []      # (y0, y1, duration µs)
    y = top
    for k, t in enumerate(times):
        if k:
            g = t - times[k - 1]
            if g > BREAK_AFTER * delay:
                breaks.append((y + 6, y + BREAK_H - 6, g))
                h = BREAK_H
            else:
                h = g * scale
            y += max(h, need.get(times[k - 1], 0), 18 if g else 0)
        y_of[t] = y

    def Y(t):
        if t in y_of:
            return y_of[t]
        # between two known times: interpolate (not used for drawn events, but safe)
        lo = max(x for x in times if x <= t)
        hi = min(x for x in times if x >= t)
        return y_of[lo] + (y_of[hi] - y_of[lo]) * (t - lo) / (hi - lo) if hi > lo else y_of[lo]

    bottom = y + 40
    left = 88 + 128                                   # time axis + state labels of the first host
    X = {h: left + k * GAP_X for k, h in enumerate(hosts)}
    width = int(left + (len(hosts) - 1) * GAP_X + 170)

    placed = _Boxes()
    out: list[str] = []          # drawn after the background and timelines
    front: list[str] = []        # texts, on top

    # ---- timelines with their breaks
    lines = []
    for h in hosts:
        x = X[h]
        y0 = top - 20
        for (b0, b1, _) in breaks:
            lines.append(f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(b0)}"/>')
            lines.append(f'<line x1="{_n(x)}" y1="{_n(b0)}" x2="{_n(x)}" y2="{_n(b1)}" stroke-dasharray="1 4"/>')
            for yy in (b0, b1):
                lines.append(f'<line x1="{_n(x - 9)}" y1="{_n(yy + 4)}" x2="{_n(x + 9)}" y2="{_n(yy - 4)}" '
                             f'stroke-width="1.6"/>')
            y0 = b1
        lines.append(f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(bottom - 12)}"/>')
    timelines = f'<g stroke="{GREY}" stroke-width="2" fill="none">' + "".join(lines) + "</g>"

    # ---- host names
    heads = []
    for h in hosts:
        w = _text_w(h, 14) + 20
        heads.append(f'<rect x="{_n(X[h] - w / 2)}" y="14" width="{_n(w)}" height="26" rx="5" '
                     f'fill="#F2F2F2" stroke="{INK}"/>'
                     f'<text x="{_n(X[h])}" y="32" text-anchor="middle" font-size="14" '
                     f'font-weight="bold">{_e(h)}</text>')
        placed.add((X[h] - w / 2, 14, X[h] + w / 2, 40))

    # ---- time axis
    axis = [f'<text x="70" y="{_n(top - 24)}" text-anchor="end" fill="{GREY}" font-size="11">t (s)</text>']
    last_y = -1e9
    shown_times = sorted({r.t for r in segs} | {r.arrive for r in segs if r.arrive is not None}
                         | {c.t for c in changes} | {0})
    for t in shown_times:
        yy = Y(t)
        if yy - last_y < 13:
            continue
        axis.append(f'<text x="70" y="{_n(yy + 4)}" text-anchor="end" fill="{GREY}" font-size="11">{fmt_s(t)}</text>')
        last_y = yy
    for (b0, b1, g) in breaks:
        mid = (b0 + b1) / 2
        axis.append(f'<text x="70" y="{_n(mid + 4)}" text-anchor="end" font-size="11" fill="{INK}" '
                    f'font-style="italic">≈ {fmt_gap(g)} s</text>')
    # faint guide lines across at the break, so the reader sees where time was cut
    for (b0, b1, g) in breaks:
        out.append(f'<line x1="76" y1="{_n((b0 + b1) / 2)}" x2="{_n(width - 20)}" y2="{_n((b0 + b1) / 2)}" '
                   f'stroke="#BBBBBB" stroke-width="1" stroke-dasharray="2 5"/>')

    # ---- side of each timeline where its own texts go: outside for the first, right for the others
    def side(h):
        return -1 if col[h] == 0 and len(hosts) > 1 else 1

    def inner(h):
        return 1 if col[h] < len(hosts) - 1 else -1

    # ---- state labels
    initial: dict[str, State] = {}
    for c in changes:
        initial.setdefault(c.endpoint, c.old)
    done_initial = set()
    for ep, st in initial.items():
        h = host_of(ep)
        if h in done_initial or h not in X:
            continue
        done_initial.add(h)
        sd = side(h)
        x = X[h] + sd * 12
        txt = st.value if ep == h else f"{ep}: {st.value}"
        yy = top - 22 + 12
        anchor = "end" if sd < 0 else "start"
        front.append(f'<text x="{_n(x)}" y="{_n(yy)}" text-anchor="{anchor}" fill="{GREY}">{_e(txt)}</text>')
    slot: dict[tuple[str, int], int] = {}
    for k, c in enumerate(changes):
        if k not in shown_changes:
            continue
        h = host_of(c.endpoint)
        if h not in X:
            continue
        n = slot.get((h, c.t), 0)
        slot[(h, c.t)] = n + 1
        sd = side(h)
        x = X[h] + sd * 12
        yy = Y(c.t) + 4 + n * LINE_H
        txt = c.new.value if c.endpoint == h else f"{c.endpoint}: {c.new.value}"
        anchor = "end" if sd < 0 else "start"
        w = _text_w(txt)
        front.append(f'<text x="{_n(x)}" y="{_n(yy)}" text-anchor="{anchor}" font-weight="bold">'
                     f'<title>{_e(c.endpoint)}: {_e(c.old.value)} → {_e(c.new.value)} ({_e(c.cause)}) '
                     f'at {fmt_s(c.t)} s</title>{_e(txt)}</text>')
        out.append(f'<circle cx="{_n(X[h])}" cy="{_n(Y(c.t))}" r="3" fill="{INK}"/>')
        x0 = x - w if sd < 0 else x
        placed.add((x0, yy - FS, x0 + w, yy + 3))

    # ---- timers (derived from the trace)
    brackets = []      # (host, t0, t1, label, ticks)
    prev_copy: dict[tuple, int] = {}
    for r in segs:
        s = r.seg
        key = (s.src, s.sport, s.dst, s.dport, s.flags, s.seq, s.len)
        if r.rtx and key in prev_copy and r.i in shown_segs:
            t0 = prev_copy[key]
            if r.t > t0:     # a second copy at the same instant answers a segment; no timer there
                brackets.append((s.src, t0, r.t, f"RTO {fmt_s(r.t - t0)} s", []))
        if r.note != "duplicate":
            prev_copy[key] = r.t
    for k, c in enumerate(changes):
        if c.new is not State.TIME_WAIT or k not in shown_changes:
            continue
        h = host_of(c.endpoint)
        leave_j, leave = next(((j, d) for j, d in enumerate(changes) if j > k and d.endpoint == c.endpoint),
                              (None, None))
        shown_leave = leave is not None and leave_j in shown_changes
        t1 = leave.t if shown_leave else None
        end = t1 if t1 is not None else trace.end
        last = max((r.t for r in segs if r.i in shown_segs), default=c.t)
        # the 2MSL timer restarts where TIME_WAIT re-acknowledged a retransmitted FIN
        restarts = [t for (t, name, st, rule) in trace.loops
                    if name == c.endpoint and st is State.TIME_WAIT and rule.event.name == "RCV_FIN"
                    and c.t < t < end and t <= last]
        start = restarts[-1] if restarts else c.t
        if t1 is not None:
            lab = f"TIME_WAIT 2MSL {fmt_s(t1 - start)} s"
        else:
            lab = "TIME_WAIT (2MSL running)"
        brackets.append((h, c.t, t1 if t1 is not None else max(t for t in times), lab, restarts))
    lanes: dict[str, list[tuple[int, int, int]]] = {}
    tim = []
    for (h, t0, t1, lab, ticks) in brackets:
        if h not in X:
            continue
        used = lanes.setdefault(h, [])
        lane = 0
        while any(ln == lane and not (t1 <= a or t0 >= b) for (a, b, ln) in used):
            lane += 1
        used.append((t0, t1, lane))
        sd = inner(h)
        bx = X[h] + sd * (12 + 9 * lane)
        y0, y1 = Y(t0), Y(t1)
        tim.append(f'<path d="M{_n(X[h] + sd * 4)} {_n(y0)}H{_n(bx)}V{_n(y1)}H{_n(X[h] + sd * 4)}"/>')
        for tt in ticks:
            yt = Y(tt)
            tim.append(f'<path d="M{_n(bx - 5)} {_n(yt)}H{_n(bx + 5)}"/>')
        # label: beside the bracket's middle, on the inner side, rotated along it if it is tall enough
        w = _text_w(lab, 11)
        my = (y0 + y1) / 2 + 4
        inside = [bk for bk in breaks if y0 <= bk[0] and bk[1] <= y1]
        if inside:          # a break is the emptiest place for it
            bk = max(inside, key=lambda bk: bk[2])
            my = (bk[0] + bk[1]) / 2 - 5
        lx = bx + sd * 6
        box = (lx if sd > 0 else lx - w, my - 9, lx + w if sd > 0 else lx, my + 4)
        tries = 0
        while placed.hits(box) and tries < 12:
            my += 14
            box = (box[0], my - 9, box[2], my + 4)
            tries += 1
        placed.add(box)
        anchor = "start" if sd > 0 else "end"
        front.append(f'<text x="{_n(lx)}" y="{_n(my)}" text-anchor="{anchor}" font-size="11" fill="{TIMER}" '
                     f'font-style="italic">{_e(lab)}</text>')
        for tt in ticks:       # written like a state label, on the outer side of the timeline
            n = slot.get((h, tt), 0)
            slot[(h, tt)] = n + 1
            so = side(h)
            tx, ty = X[h] + so * 12, Y(tt) + 4 + n * LINE_H
            wt = _text_w("2MSL restarts", 11)
            front.append(f'<text x="{_n(tx)}" y="{_n(ty)}" text-anchor="{"end" if so < 0 else "start"}" '
                         f'font-size="11" fill="{TIMER}" font-style="italic">2MSL restarts</text>')
            placed.add((tx - wt if so < 0 else tx, ty - 10, tx if so < 0 else tx + wt, ty + 3))
    if tim:
        out.append(f'<g stroke="{TIMER}" stroke-width="1.4" fill="none">' + "".join(tim) + "</g>")

    # ---- segments
    # arrows that cross another one (opposite directions, overlapping in time) label near their sender
    def crosses(a, b):
        return (a.seg.src == b.seg.dst and a.seg.dst == b.seg.src
                and a.t < land(b) and b.t < land(a))

    arrows = []
    labels = []
    # identical copies sent at the same instant (Linux answers a SYN with a second SYN,ACK just as
    # its timer resent one) would be drawn on top of each other: draw one arrow, labelled "×2"
    twins: dict[tuple, list] = {}
    for r in segs:
        if r.i in shown_segs:
            twins.setdefault((r.seg, r.t, r.arrive, r.dropped, r.rtx, r.note), []).append(r.i)
    stacked: dict[tuple, int] = {}
    for r in segs:
        if r.i not in shown_segs:
            continue
        s = r.seg
        if s.src not in X or s.dst not in X:
            continue
        same = twins[(s, r.t, r.arrive, r.dropped, r.rtx, r.note)]
        if same[0] != r.i:
            continue
        color = PALETTE[col[s.src] % len(PALETTE)]
        x1, y1 = X[s.src], Y(r.t)
        x2, y2 = X[s.dst], Y(land(r))
        # different segments leaving one host for another at the same instant
        # (a retransmitted FIN and an ACK, say) are drawn a little apart
        k = stacked.get((s.src, s.dst, r.t), 0)
        stacked[(s.src, s.dst, r.t)] = k + 1
        y1, y2 = y1 + 16 * k, y2 + 16 * k
        if r.dropped:
            # stop half-way -- or, when another host's timeline lies between,
            # half-way to the nearest one, so the ✕ is not read as that host's
            between = [x for h, x in X.items() if h not in (s.src, s.dst) and min(x1, x2) < x < max(x1, x2)]
            f = 0.5 if not between else 0.5 * abs(min(between, key=lambda x: abs(x - x1)) - x1) / abs(x2 - x1)
            x2, y2 = x1 + (x2 - x1) * f, y1 + (y2 - y1) * f
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        dash = ""
        if r.dropped:
            dash = ' stroke-dasharray="7 5"'
        elif r.rtx:
            dash = ' stroke-dasharray="12 4 2 4"'
        elif r.arrive is None:
            dash = ' stroke-dasharray="2 4"'
        nums = " and ".join(f"#{i}" for i in same)
        tip = f"{nums} {s.src} → {s.dst}: {segment_label(trace, r, relative)}"
        if len(same) > 1:
            tip += f" (sent {len(same)} times at once)"
        if r.dropped:
            tip += " — lost"
        g = [f'<g class="seg{" dropped" if r.dropped else ""}{" rtx" if r.rtx else ""}">',
             f"<title>{_e(tip)}</title>"]
        if r.dropped:
            g.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{color}" '
                     f'stroke-width="2"{dash}/>')
            c = 7
            g.append(f'<path class="lost" d="M{_n(x2 - c)} {_n(y2 - c)}L{_n(x2 + c)} {_n(y2 + c)}'
                     f'M{_n(x2 - c)} {_n(y2 + c)}L{_n(x2 + c)} {_n(y2 - c)}" stroke="{INK}" '
                     f'stroke-width="2.6" stroke-linecap="round"/>')
            front.append(f'<text x="{_n(x2 + 11 * (1 if dx > 0 else -1))}" y="{_n(y2 + 16)}" '
                         f'text-anchor="{"start" if dx > 0 else "end"}" font-size="11" font-weight="bold">lost</text>')
            placed.add((x2 - 10, y2 - 10, x2 + 10, y2 + 10))
            lw = _text_w("lost", 11)
            lx0 = x2 + 11 if dx > 0 else x2 - 11 - lw
            placed.add((lx0, y2 + 5, lx0 + lw, y2 + 19))
        else:
            ah, aw = 11, 4.5
            bx, by = x2 - ux * ah, y2 - uy * ah
            g.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(bx + ux * 2)}" y2="{_n(by + uy * 2)}" '
                     f'stroke="{color}" stroke-width="2"{dash}/>')
            g.append(f'<path d="M{_n(x2)} {_n(y2)}L{_n(bx - uy * aw)} {_n(by + ux * aw)}'
                     f'L{_n(bx + uy * aw)} {_n(by - ux * aw)}Z" fill="{color}"/>')
        g.append("</g>")
        arrows.append("".join(g))
        labels.append((r, x1, y1, x2, y2, color, len(same)))

    # points along every arrow, so that a label can avoid lying across another arrow
    pts = []
    for j, (r, x1, y1, x2, y2, *_rest) in enumerate(labels):
        length = math.hypot(x2 - x1, y2 - y1)
        n = int(length // 8)
        for k in range(2, n - 1):
            pts.append((x1 + (x2 - x1) * k / n, y1 + (y2 - y1) * k / n, j))
    for i, (r, x1, y1, x2, y2, color, copies) in enumerate(labels):
        text = segment_label(trace, r, relative) + (f" ×{copies}" if copies > 1 else "")
        w, hgt = _text_w(text), FS + 2
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ang = math.atan2(dy, dx)
        if dx < 0:           # keep text upright: read left to right
            ang = math.atan2(-dy, -dx)
        ca, sa = math.cos(ang), math.sin(ang)
        nx, ny = sa, -ca     # the normal pointing up the page: "above the line"
        cross = any(crosses(r, o) for (o, *_rest) in labels if o is not r)
        near = min(0.45, (w / 2 + 18) / length)     # the label starts just off the sender's timeline
        if r.dropped:
            ps = (0.5, 0.4, 0.6)
        elif cross:
            ps = (near, near + 0.08, 0.5)
        else:
            ps = (0.5, 0.42, 0.58, near, 1 - near)
        best = None
        for off in (10, -10):                        # above the line, then below it
            for p in ps:
                cx, cy = x1 + dx * p + nx * off, y1 + dy * p + ny * off
                box = _rot_box(cx, cy, w, hgt, ang)
                score = placed.hits(box)
                for (px, py, j) in pts:
                    if j != i:
                        u, v = (px - cx) * ca + (py - cy) * sa, -(px - cx) * sa + (py - cy) * ca
                        if abs(u) <= w / 2 and abs(v) <= hgt / 2:
                            score += 40
                if best is None or score < best[0]:
                    best = (score, cx, cy, box)
                if score == 0:
                    break
            if best[0] == 0:
                break
        _, cx, cy, box = best
        placed.add(box)
        deg = math.degrees(ang)
        front.append(f'<text x="{_n(cx)}" y="{_n(cy + FS * 0.35)}" text-anchor="middle" fill="{color}" '
                     f'transform="rotate({_n(deg)} {_n(cx)} {_n(cy)})" font-weight="bold">{_e(text)}</text>')

    # ---- legend
    leg = []
    if legend:
        ly = bottom + 6
        items = [("solid", "delivered"), ("lost", "lost"), ("rtx", "retransmission (rtx)"),
                 ("timer", "timer")]
        lx = 24
        for kind, txt in items:
            if kind == "solid":
                leg.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 34}" y2="{ly}" stroke="{INK}" stroke-width="2"/>'
                           f'<path d="M{lx + 40} {ly}l-10 -4.5v9z" fill="{INK}"/>')
            elif kind == "lost":
                leg.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 30}" y2="{ly}" stroke="{INK}" stroke-width="2" '
                           f'stroke-dasharray="7 5"/><path d="M{lx + 30} {ly - 6}l12 12m0 -12l-12 12" '
                           f'stroke="{INK}" stroke-width="2.4" stroke-linecap="round"/>')
            elif kind == "rtx":
                leg.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 34}" y2="{ly}" stroke="{INK}" stroke-width="2" '
                           f'stroke-dasharray="12 4 2 4"/><path d="M{lx + 40} {ly}l-10 -4.5v9z" fill="{INK}"/>')
            else:
                leg.append(f'<path d="M{lx} {ly - 7}h8v14h-8" stroke="{TIMER}" stroke-width="1.4" fill="none"/>')
            sym = 16 if kind == "timer" else 48
            leg.append(f'<text x="{lx + sym}" y="{ly + 4}" font-size="11">{_e(txt)}</text>')
            lx += sym + _text_w(txt, 11) + 30
        note = "seq/ack relative to each ISN" if relative else "absolute seq/ack"
        leg.append(f'<text x="{lx}" y="{ly + 4}" font-size="11" fill="{GREY}">{note}</text>')
        bottom = ly + 20
        width = max(width, int(lx + _text_w(note, 11) + 20))
    height = int(bottom + 6)

    # ---- assemble
    eps = [h for h in hosts]
    name = getattr(sc, "name", None) or "a run"
    ttl = title or f"Ladder diagram of {name}: {', '.join(eps)}"
    lines_desc = describe(trace, relative)
    if step is not None:
        lines_desc = lines_desc[:max(step, 0)]
    desc = (f"Time flows down; one timeline per host ({', '.join(eps)}). " + " ".join(
        l.strip() + ("" if l.rstrip().endswith(".") else ".") for l in lines_desc))
    uid = "tcpld-" + hashlib.sha1((ttl + desc).encode()).hexdigest()[:8]
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{uid}-title {uid}-desc" '
        f'font-family="{FONT}" font-size="{FS}" fill="{INK}">',
        f'<title id="{uid}-title">{_e(ttl)}</title>',
        f'<desc id="{uid}-desc">{_e(desc)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#FFFFFF"/>',
        timelines,
        *heads,
        *out,
        *arrows,
        '<g stroke="#FFFFFF" stroke-width="3" stroke-linejoin="round" paint-order="stroke">',
        *axis,
        *front,
        "</g>",
        *leg,
        "</svg>",
    ]
    return Ladder("\n".join(svg) + "\n", width, height, ttl, desc)
