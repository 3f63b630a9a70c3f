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

How the code is laid out
------------------------
`layout` computes the geometry once (a `Layout`: the timelines' x, the y of
every time that matters, the breaks); then one function per layer draws onto
a `_Sheet` -- `_timelines`, `_host_heads`, `_time_axis`, `_breaks`,
`_state_labels`, `_timers`, `_arrows`, `_labels`, `_legend` -- in that order,
because a layer's texts avoid the boxes of the texts placed before them.  The
sheet keeps the SVG in the layers it is stacked in (under the arrows, the
arrows, the texts on top), so drawing order and stacking order are separate.
Every word comes from `render.text`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from ..core.states import State
from ..core.table import Send
from ..core.trace import SegmentRecord, StateChange, Trace, trace_events
from ..core.units import us
from .figure import (
    DARK_GREY,
    GREY,
    GUIDE,
    INK,
    OKABE_ITO,
    PANEL,
    PAPER,
    Figure,
    aria,
    esc,
    fmt_gap,
    fmt_s,
    num,
    svg_uid,
    title_and_desc,
)
from .text import t

PALETTE = OKABE_ITO
TIMER = DARK_GREY
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FS = 12                 # label font size (px)
PX_PER_DELAY = 54       # height of one one-way delay
BREAK_AFTER = 3         # idle gaps longer than this many delays become a break
BREAK_H = 50            # height of a break
LINE_H = 15             # spacing of stacked state labels
GAP_X = 440             # distance between timelines
TOP = 96                # y of time 0
LEFT = 88 + 128         # x of the first timeline: the time axis, then the first host's state labels
FLAG_WORDS = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", "A": "ACK"}

Box = tuple[float, float, float, float]


# ------------------------------------------------------------------ text
def flag_words(flags: str) -> str:
    return ",".join(FLAG_WORDS[c] for c in flags) or t("seg.no_flags")


def _numbers(trace: Trace, rec: SegmentRecord, relative: bool) -> tuple[int, int | None]:
    return trace.relative(rec) if relative else (rec.seg.seq, rec.seg.ack)


def segment_label(trace: Trace, rec: SegmentRecord, relative: bool = False) -> str:
    """'SYN,ACK seq=300 ack=101' (+ ' len=N' for data, ' (rtx)' for a retransmission)."""
    seq, ack = _numbers(trace, rec, relative)
    parts = [flag_words(rec.seg.flags), t("seg.seq", seq=seq)]
    if ack is not None:
        parts.append(t("seg.ack", ack=ack))
    if rec.seg.len:
        parts.append(t("seg.len", n=rec.seg.len))
    if rec.rtx:
        parts.append(t("mark.rtx"))
    for note in (rec.note or "").split(", "):
        if note == "duplicate":
            parts.append(t("mark.dup"))
        elif note:
            parts.append(t("mark.note", note=note))
    return " ".join(parts)


def host_of(endpoint: str) -> str:
    """The host (timeline) of a TCB: "server" for "server", "server#2" and the listener "server:80"."""
    return endpoint.split("#", 1)[0].split(":", 1)[0]


def _own_name(endpoint: str, host: str) -> bool:
    """Whether a label on `host`'s timeline needs no TCB name: the host's first
    connection, or a listener (the timeline shows the RFC's single TCB)."""
    return endpoint == host or endpoint.startswith(host + ":")


def describe(trace: Trace, relative: bool = False, states: bool = True, hosts: Iterable[str] | None = None,
             step: int | None = None) -> list[str]:
    """The run in plain English, one line per event in time order.

    "1. at 0 s client → server: SYN seq=100 (lost)"; state changes (with
    `states`) as "   at 0 s client: CLOSED → SYN_SENT (connect)".  With
    `hosts`, only what a ladder of those timelines draws: segments between two
    of them, changes on one of them; with `step`, the first `step` events.
    """
    keep = None if hosts is None else set(hosts)
    out = []
    events = trace_events(trace)
    for e in events if step is None else events[:max(step, 0)]:
        if isinstance(e, SegmentRecord):
            if keep is None or (e.seg.src in keep and e.seg.dst in keep):
                out.append(_segment_line(trace, e, relative))
        elif states and (keep is None or host_of(e.endpoint) in keep):
            cause = t("desc.cause", cause=e.cause) if e.cause else ""
            out.append(t("desc.change", t=fmt_s(e.t), endpoint=e.endpoint, old=e.old.value, new=e.new.value,
                         cause=cause))
    return out


def _segment_line(trace: Trace, r: SegmentRecord, relative: bool) -> str:
    if r.dropped:
        fate = t("desc.lost")
    elif r.arrive is None:
        fate = t("desc.not_delivered")
    else:
        fate = t("desc.arrives", t=fmt_s(r.arrive))
    return t("desc.segment", i=r.i, t=fmt_s(r.t), src=r.seg.src, dst=r.seg.dst,
             label=segment_label(trace, r, relative), fate=fate)


def _joined(items: Iterable[str]) -> str:
    return t("list.sep").join(items)


# ------------------------------------------------------------------ figure
class Ladder(Figure):
    """A rendered ladder diagram: `.svg()` text, `.save(path)`, Jupyter display.

    (PNG copies are rasterised by a browser: tools/render_figures.py does that
    for the README's figures.)"""

    def __init__(self, svg: str, width: int, height: int, title: str, desc: str):
        self.svg_text, self.width, self.height = svg, width, height
        self.title, self.desc = title, desc

    def svg(self) -> str:
        return self.svg_text

    def _repr_fields(self) -> str:
        return f"{self.width}x{self.height}"


def _text_w(s: str, fs: float = FS) -> float:
    return len(s) * 0.602 * fs


def _line(x1: float, y1: float, x2: float, y2: float, attrs: str = "") -> str:
    return f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}"{attrs}/>'


class _Boxes:
    """Axis-aligned boxes already taken by text, filed by horizontal bands of the page (so that a
    question looks only at the boxes near it: a ladder of a thousand segments stays quick)."""

    BAND = 64.0

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.bands: dict[int, list[int]] = {}

    def _bands(self, y0: float, y1: float) -> range:
        return range(math.floor(y0 / self.BAND), math.floor(y1 / self.BAND) + 1)

    def hits(self, b: Box) -> float:
        """The area of `b` that overlaps boxes already taken (summed in the order they were taken)."""
        x0, y0, x1, y1 = b
        near = sorted({i for band in self._bands(y0, y1) for i in self.bands.get(band, ())})
        area = 0.0
        for i in near:
            a0, b0, a1, b1 = self.boxes[i]
            w = min(x1, a1) - max(x0, a0)
            h = min(y1, b1) - max(y0, b0)
            if w > 0 and h > 0:
                area += w * h
        return area

    def add(self, b: Box) -> None:
        for band in self._bands(b[1], b[3]):
            self.bands.setdefault(band, []).append(len(self.boxes))
        self.boxes.append(b)


def _rot_box(cx: float, cy: float, w: float, h: float, ang: float) -> Box:
    """Bounding box of a w×h rectangle centred at (cx, cy) rotated by ang (radians)."""
    c, s = abs(math.cos(ang)), abs(math.sin(ang))
    hw, hh = (w * c + h * s) / 2, (w * s + h * c) / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh)


# ------------------------------------------------------------------ layout
class Break(NamedTuple):
    """An idle stretch drawn squeezed: from y0 to y1 on the page, `gap` µs of time."""

    y0: float
    y1: float
    gap: int


@dataclass
class Layout:
    """The geometry of one ladder: where each host and each time is drawn.

    The layout is that of the whole run even when only the first `step`
    events are drawn (`shown_segments`, `shown_changes`), so frames line up.
    """

    trace: Trace
    relative: bool
    hosts: list[str]                  # timelines, left to right
    x: dict[str, int]                 # host -> x of its timeline
    delay: int                        # one one-way delay (µs): the scale, and where a lost segment would land
    times: list[int]                  # every time that matters, sorted
    y_of: dict[int, float]            # ... and its y
    breaks: list[Break]
    bottom: float                     # below the last event
    width: int
    shown_segments: set[int]          # `SegmentRecord.i` of the segments drawn
    shown_changes: set[int]           # indexes into `trace.changes` of the changes drawn

    def y(self, t: int) -> float:
        if t in self.y_of:
            return self.y_of[t]
        # between two known times: interpolate (not used for drawn events, but safe)
        lo = max(x for x in self.times if x <= t)
        hi = min(x for x in self.times if x >= t)
        return self.y_of[lo] + (self.y_of[hi] - self.y_of[lo]) * (t - lo) / (hi - lo) if hi > lo else self.y_of[lo]

    def land(self, r: SegmentRecord) -> int:
        """Where an arrow ends: its arrival, or one delay after it left if it never arrived."""
        return r.arrive if r.arrive is not None else r.t + self.delay

    def side(self, h: str) -> int:
        """Where a timeline's own texts go: outside for the first, right for the others."""
        return -1 if self.hosts.index(h) == 0 and len(self.hosts) > 1 else 1

    def inner(self, h: str) -> int:
        """The side facing the other timelines (where timer brackets go)."""
        return 1 if self.hosts.index(h) < len(self.hosts) - 1 else -1

    def color(self, h: str) -> str:
        return PALETTE[self.hosts.index(h) % len(PALETTE)]


def layout(trace: Trace, relative: bool = False, step: int | None = None,
           hosts: Iterable[str] | None = None) -> Layout:
    """Compute where everything of `trace` goes (see `ladder` for the arguments)."""
    shown_segments, shown_changes = _shown(trace, step)
    order = _host_order(trace, hosts)
    delay = _one_way_delay(trace)
    times = {0}
    for r in trace.segments:
        times.add(r.t)
        times.add(r.arrive if r.arrive is not None else r.t + delay)
    for c in trace.changes:
        times.add(c.t)
    sorted_times = sorted(times)
    y_of, breaks, y_end = _time_to_y(trace, sorted_times, delay)
    return Layout(trace=trace, relative=relative, hosts=order,
                  x={h: LEFT + k * GAP_X for k, h in enumerate(order)}, delay=delay,
                  times=sorted_times, y_of=y_of, breaks=breaks, bottom=y_end + 40,
                  width=int(LEFT + (len(order) - 1) * GAP_X + 170),
                  shown_segments=shown_segments, shown_changes=shown_changes)


def _shown(trace: Trace, step: int | None) -> tuple[set[int], set[int]]:
    """Which segments (by number) and state changes (by index) the first `step` events are."""
    if step is None:
        return {r.i for r in trace.segments}, set(range(len(trace.changes)))
    first = trace_events(trace)[:max(step, 0)]
    ids = {id(e) for e in first if isinstance(e, StateChange)}
    return ({e.i for e in first if isinstance(e, SegmentRecord)},
            {k for k, c in enumerate(trace.changes) if id(c) in ids})


def _host_order(trace: Trace, hosts: Iterable[str] | None) -> list[str]:
    """The timelines, left to right: `hosts` if given, else the scenario's endpoints
    (those the trace mentions), then any other host the trace mentions."""
    order: dict[str, None] = {}
    if hosts is not None:
        for h in hosts:
            order.setdefault(h, None)
        return list(order) or ["client", "server"]
    segs, changes = trace.segments, trace.changes
    names = list(trace.scenario.endpoints) if trace.scenario is not None else []
    mentioned = {host_of(c.endpoint) for c in changes} | {r.seg.src for r in segs} | {r.seg.dst for r in segs}
    for h in names:
        if h in mentioned:
            order.setdefault(h, None)
    for c in changes:
        order.setdefault(host_of(c.endpoint), None)
    for r in segs:
        order.setdefault(r.seg.src, None)
        order.setdefault(r.seg.dst, None)
    return list(order) or ["client", "server"]


def _one_way_delay(trace: Trace) -> int:
    """The scenario's one-way delay, else the shortest flight in the trace, else 50 ms."""
    sc = trace.scenario
    delay = us(sc.delay) if sc is not None else 0
    if delay:
        return delay
    flights = sorted(r.arrive - r.t for r in trace.segments if r.arrive is not None and r.arrive > r.t)
    return flights[0] if flights else us(0.05)


def _time_to_y(trace: Trace, times: list[int], delay: int) -> tuple[dict[int, float], list[Break], float]:
    """The y of every time, the breaks, and the y of the last time.

    Time runs at `PX_PER_DELAY` per delay; a gap longer than `BREAK_AFTER`
    delays is a break; state labels stacked at one time on one host push the
    next time down to make room for them."""
    scale = PX_PER_DELAY / delay          # px per µs
    stack: dict[tuple[str, int], int] = {}
    for c in trace.changes:
        key = (host_of(c.endpoint), c.t)
        stack[key] = stack.get(key, 0) + 1
    need: dict[int, int] = {}
    for (_h, t0), k in stack.items():
        need[t0] = max(need.get(t0, 0), k * LINE_H + 4)
    y_of: dict[int, float] = {}
    breaks: list[Break] = []
    y: float = TOP
    for k, tk in enumerate(times):
        if k:
            g = tk - times[k - 1]
            h: float
            if g > BREAK_AFTER * delay:
                breaks.append(Break(y + 6, y + BREAK_H - 6, g))
                h = BREAK_H
            else:
                h = g * scale
            y += max(h, need.get(times[k - 1], 0), 18 if g else 0)
        y_of[tk] = y
    return y_of, breaks, y


# ------------------------------------------------------------------ layers
@dataclass
class _Sheet:
    """What the layers draw, in the stacking order of the SVG."""

    placed: _Boxes = field(default_factory=_Boxes)    # boxes taken by text
    under: list[str] = field(default_factory=list)    # drawn after the background and timelines
    front: list[str] = field(default_factory=list)    # texts, on top, with a white halo
    #: texts stacked beside one timeline at one time (host, t) -> how many so far
    slot: dict[tuple[str, int], int] = field(default_factory=dict)

    def next_slot(self, h: str, t0: int) -> int:
        n = self.slot.get((h, t0), 0)
        self.slot[(h, t0)] = n + 1
        return n


def _timelines(lay: Layout) -> str:
    """One vertical line per host, cut by a dotted stretch and "//" at each break."""
    lines = []
    for h in lay.hosts:
        x = lay.x[h]
        y0: float = TOP - 20
        for (b0, b1, _) in lay.breaks:
            lines.append(_line(x, y0, x, b0))
            lines.append(_line(x, b0, x, b1, ' stroke-dasharray="1 4"'))
            for yy in (b0, b1):
                lines.append(_line(x - 9, yy + 4, x + 9, yy - 4, ' stroke-width="1.6"'))
            y0 = b1
        lines.append(_line(x, y0, x, lay.bottom - 12))
    return f'<g stroke="{GREY}" stroke-width="2" fill="none">' + "".join(lines) + "</g>"


def _host_heads(lay: Layout, sheet: _Sheet) -> list[str]:
    """Each host's name in a box above its timeline."""
    heads = []
    for h in lay.hosts:
        x = lay.x[h]
        w = _text_w(h, 14) + 20
        heads.append(f'<rect x="{num(x - w / 2)}" y="14" width="{num(w)}" height="26" rx="5" '
                     f'fill="{PANEL}" stroke="{INK}"/>'
                     f'<text x="{num(x)}" y="32" text-anchor="middle" font-size="14" '
                     f'font-weight="bold">{esc(h)}</text>')
        sheet.placed.add((x - w / 2, 14, x + w / 2, 40))
    return heads


def _axis_text(y: float, text: str, attrs: str) -> str:
    return f'<text x="70" y="{num(y)}" text-anchor="end" {attrs}>{esc(text)}</text>'


def _time_axis(lay: Layout) -> list[str]:
    """The times of the events, left of the first timeline (none closer than 13 px to the last)."""
    trace = lay.trace
    axis = [_axis_text(TOP - 24, t("axis.title"), f'fill="{GREY}" font-size="11"')]
    last_y = -math.inf
    shown_times = sorted({r.t for r in trace.segments} | {r.arrive for r in trace.segments if r.arrive is not None}
                         | {c.t for c in trace.changes} | {0})
    for t0 in shown_times:
        yy = lay.y(t0)
        if yy - last_y < 13:
            continue
        axis.append(_axis_text(yy + 4, fmt_s(t0), f'fill="{GREY}" font-size="11"'))
        last_y = yy
    return axis


def _breaks(lay: Layout, sheet: _Sheet) -> list[str]:
    """How long each break is, on the time axis; and a faint guide line across the figure
    there, so the reader sees where time was cut."""
    axis = []
    for (b0, b1, g) in lay.breaks:
        axis.append(_axis_text((b0 + b1) / 2 + 4, t("axis.break", gap=fmt_gap(g)),
                               f'font-size="11" fill="{INK}" font-style="italic"'))
    for (b0, b1, _) in lay.breaks:
        mid = (b0 + b1) / 2
        sheet.under.append(_line(76, mid, lay.width - 20, mid,
                                 f' stroke="{GUIDE}" stroke-width="1" stroke-dasharray="2 5"'))
    return axis


def _state_labels(lay: Layout, sheet: _Sheet) -> None:
    """Each host's first state at the top; each state change drawn, as a dot on the
    timeline and the new state's name beside it (stacked when several share a time)."""
    initial: dict[str, State] = {}
    for c in lay.trace.changes:
        initial.setdefault(c.endpoint, c.old)
    done: set[str] = set()
    for ep, st in initial.items():
        h = host_of(ep)
        if h in done or h not in lay.x:
            continue
        done.add(h)
        sd = lay.side(h)
        txt = st.value if _own_name(ep, h) else t("state.of", endpoint=ep, state=st.value)
        sheet.front.append(f'<text x="{num(lay.x[h] + sd * 12)}" y="{num(TOP - 22 + 12)}" '
                           f'text-anchor="{"end" if sd < 0 else "start"}" fill="{GREY}">{esc(txt)}</text>')
    for k, c in enumerate(lay.trace.changes):
        if k in lay.shown_changes and host_of(c.endpoint) in lay.x:
            _state_change(lay, sheet, c)


def _state_change(lay: Layout, sheet: _Sheet, c: StateChange) -> None:
    h = host_of(c.endpoint)
    n = sheet.next_slot(h, c.t)
    sd = lay.side(h)
    x = lay.x[h] + sd * 12
    yy = lay.y(c.t) + 4 + n * LINE_H
    txt = c.new.value if _own_name(c.endpoint, h) else t("state.of", endpoint=c.endpoint, state=c.new.value)
    tip = t("state.tip", endpoint=c.endpoint, old=c.old.value, new=c.new.value, cause=c.cause, t=fmt_s(c.t))
    sheet.front.append(f'<text x="{num(x)}" y="{num(yy)}" text-anchor="{"end" if sd < 0 else "start"}" '
                       f'font-weight="bold"><title>{esc(tip)}</title>{esc(txt)}</text>')
    sheet.under.append(f'<circle cx="{num(lay.x[h])}" cy="{num(lay.y(c.t))}" r="3" fill="{INK}"/>')
    w = _text_w(txt)
    x0 = x - w if sd < 0 else x
    sheet.placed.add((x0, yy - FS, x0 + w, yy + 3))


# ------------------------------------------------------------------ timers
class _Bracket(NamedTuple):
    """A timer drawn beside `host`'s timeline from t0 to t1, ticked where it restarted."""

    host: str
    t0: int
    t1: int
    label: str
    ticks: list[int]


def _rto_brackets(lay: Layout) -> list[_Bracket]:
    """An RTO runs from the previous copy of a segment to its retransmission."""
    out = []
    prev_copy: dict[tuple[str, int, str, int, str, int, int], int] = {}
    for r in lay.trace.segments:
        s = r.seg
        key = (s.src, s.sport, s.dst, s.dport, s.flags, s.seq, s.len)
        if r.rtx and key in prev_copy and r.i in lay.shown_segments:
            t0 = prev_copy[key]
            if r.t > t0:     # a second copy at the same instant answers a segment; no timer there
                out.append(_Bracket(s.src, t0, r.t, t("timer.rto", t=fmt_s(r.t - t0)), []))
        if r.note != "duplicate":
            prev_copy[key] = r.t
    return out


def _time_wait_brackets(lay: Layout) -> list[_Bracket]:
    """TIME_WAIT runs from entering it to leaving it (or to the end of the figure)."""
    trace, out = lay.trace, []
    changes = trace.changes
    last_sent = max((r.t for r in trace.segments if r.i in lay.shown_segments), default=None)
    for k, c in enumerate(changes):
        if c.new is not State.TIME_WAIT or k not in lay.shown_changes:
            continue
        leave = next((j for j, d in enumerate(changes) if j > k and d.endpoint == c.endpoint), None)
        t1 = changes[leave].t if leave is not None and leave in lay.shown_changes else None
        end = t1 if t1 is not None else trace.end
        last = last_sent if last_sent is not None else c.t
        # RFC 9293 §3.10.7.4: a retransmitted FIN re-acknowledged in TIME_WAIT restarts the 2MSL timer
        # (and in Linux any segment with an ACK that reaches the timewait socket)
        restarts = [x.t for x in trace.loops
                    if x.endpoint == c.endpoint and x.state is State.TIME_WAIT and x.rule.send in RESTARTS
                    and c.t < x.t < end and x.t <= last]
        start = restarts[-1] if restarts else c.t
        if t1 is not None:
            label = t("timer.2msl", state=State.TIME_WAIT.value, t=fmt_s(t1 - start))
        else:
            label = t("timer.2msl.running", state=State.TIME_WAIT.value)
        out.append(_Bracket(host_of(c.endpoint), c.t, t1 if t1 is not None else max(lay.times), label, restarts))
    return out


#: the rows that restart TIME_WAIT's 2MSL timer
RESTARTS = frozenset({Send.ACK_RESTART_2MSL, Send.RESTART_2MSL, Send.TW_ACK})


def _timers(lay: Layout, sheet: _Sheet) -> None:
    """The timers' brackets, side by side in lanes where they overlap in time."""
    lanes: dict[str, list[tuple[int, int, int]]] = {}
    paths: list[str] = []
    for b in _rto_brackets(lay) + _time_wait_brackets(lay):
        if b.host not in lay.x:
            continue
        used = lanes.setdefault(b.host, [])
        lane = 0
        while any(ln == lane and not (b.t1 <= a or b.t0 >= z) for (a, z, ln) in used):
            lane += 1
        used.append((b.t0, b.t1, lane))
        bx = lay.x[b.host] + lay.inner(b.host) * (12 + 9 * lane)
        paths += _bracket_paths(lay, b, bx)
        _bracket_label(lay, sheet, b, bx)
        _restart_labels(lay, sheet, b)
    if paths:
        sheet.under.append(f'<g stroke="{TIMER}" stroke-width="1.4" fill="none">' + "".join(paths) + "</g>")


def _bracket_paths(lay: Layout, b: _Bracket, bx: float) -> list[str]:
    x0 = lay.x[b.host] + lay.inner(b.host) * 4
    out = [f'<path d="M{num(x0)} {num(lay.y(b.t0))}H{num(bx)}V{num(lay.y(b.t1))}H{num(x0)}"/>']
    for tt in b.ticks:
        out.append(f'<path d="M{num(bx - 5)} {num(lay.y(tt))}H{num(bx + 5)}"/>')
    return out


def _bracket_label(lay: Layout, sheet: _Sheet, b: _Bracket, bx: float) -> None:
    """Beside the bracket's middle, on the inner side -- or in its longest break, the
    emptiest place for it -- moved down until it overlaps no text."""
    sd = lay.inner(b.host)
    y0, y1 = lay.y(b.t0), lay.y(b.t1)
    w = _text_w(b.label, 11)
    my = (y0 + y1) / 2 + 4
    inside = [bk for bk in lay.breaks if y0 <= bk.y0 and bk.y1 <= y1]
    if inside:
        bk = max(inside, key=lambda bk: bk.gap)
        my = (bk.y0 + bk.y1) / 2 - 5
    lx = bx + sd * 6
    box = (lx if sd > 0 else lx - w, my - 9, lx + w if sd > 0 else lx, my + 4)
    tries = 0
    while sheet.placed.hits(box) and tries < 12:
        my += 14
        box = (box[0], my - 9, box[2], my + 4)
        tries += 1
    sheet.placed.add(box)
    sheet.front.append(f'<text x="{num(lx)}" y="{num(my)}" text-anchor="{"start" if sd > 0 else "end"}" '
                       f'font-size="11" fill="{TIMER}" font-style="italic">{esc(b.label)}</text>')


def _restart_labels(lay: Layout, sheet: _Sheet, b: _Bracket) -> None:
    """Each restart written like a state label, on the outer side of the timeline."""
    text = t("timer.2msl.restart")
    for tt in b.ticks:
        n = sheet.next_slot(b.host, tt)
        so = lay.side(b.host)
        tx, ty = lay.x[b.host] + so * 12, lay.y(tt) + 4 + n * LINE_H
        wt = _text_w(text, 11)
        sheet.front.append(f'<text x="{num(tx)}" y="{num(ty)}" text-anchor="{"end" if so < 0 else "start"}" '
                           f'font-size="11" fill="{TIMER}" font-style="italic">{esc(text)}</text>')
        sheet.placed.add((tx - wt if so < 0 else tx, ty - 10, tx if so < 0 else tx + wt, ty + 3))


# ------------------------------------------------------------------ arrows
class _Arrow(NamedTuple):
    """A drawn arrow: its segment, its ends, its colour and the numbers of its copies."""

    r: SegmentRecord
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    copies: list[int]


def _arrows(lay: Layout, sheet: _Sheet) -> tuple[list[str], list[_Arrow]]:
    """One arrow per segment shown (identical copies sent at one instant share one)."""
    segs = [r for r in lay.trace.segments if r.i in lay.shown_segments]
    # identical copies sent at the same instant (Linux answers a SYN with a second SYN,ACK just as
    # its timer resent one) would be drawn on top of each other: draw one arrow, labelled "×2"
    twins: dict[tuple[object, ...], list[int]] = {}
    for r in segs:
        twins.setdefault((r.seg, r.t, r.arrive, r.dropped, r.rtx, r.note), []).append(r.i)
    stacked: dict[tuple[str, str, int], int] = {}
    drawn, arrows = [], []
    for r in segs:
        s = r.seg
        same = twins[(s, r.t, r.arrive, r.dropped, r.rtx, r.note)]
        if s.src not in lay.x or s.dst not in lay.x or same[0] != r.i:
            continue
        # different segments leaving one host for another at the same instant
        # (a retransmitted FIN and an ACK, say) are drawn a little apart
        k = stacked.get((s.src, s.dst, r.t), 0)
        stacked[(s.src, s.dst, r.t)] = k + 1
        a = _arrow_ends(lay, r, 16 * k, same)
        drawn.append(_arrow_svg(lay, sheet, a))
        arrows.append(a)
    return drawn, arrows


def _arrow_ends(lay: Layout, r: SegmentRecord, shift: int, copies: list[int]) -> _Arrow:
    s = r.seg
    x1: float = lay.x[s.src]
    x2: float = lay.x[s.dst]
    y1, y2 = lay.y(r.t) + shift, lay.y(lay.land(r)) + shift
    if r.dropped:
        # stop half-way -- or, when another host's timeline lies between,
        # half-way to the nearest one, so the ✕ is not read as that host's
        between = [x for h, x in lay.x.items() if h not in (s.src, s.dst) and min(x1, x2) < x < max(x1, x2)]
        f = 0.5 if not between else 0.5 * abs(min(between, key=lambda x: abs(x - x1)) - x1) / abs(x2 - x1)
        x2, y2 = x1 + (x2 - x1) * f, y1 + (y2 - y1) * f
    return _Arrow(r, x1, y1, x2, y2, lay.color(s.src), copies)


def _dash(r: SegmentRecord) -> str:
    if r.dropped:
        return ' stroke-dasharray="7 5"'
    if r.rtx:
        return ' stroke-dasharray="12 4 2 4"'
    if r.arrive is None:
        return ' stroke-dasharray="2 4"'
    return ""


def _arrow_svg(lay: Layout, sheet: _Sheet, a: _Arrow) -> str:
    """The arrow as a group with a tooltip; a lost one ends in a ✕ and the word "lost"."""
    r, s = a.r, a.r.seg
    tip = t("arrow.tip", refs=t("list.and").join(t("seg.ref", i=i) for i in a.copies), src=s.src, dst=s.dst,
            label=segment_label(lay.trace, r, lay.relative))
    if len(a.copies) > 1:
        tip += t("arrow.tip.copies", n=len(a.copies))
    if r.dropped:
        tip += t("arrow.tip.lost")
    g = [f'<g class="seg{" dropped" if r.dropped else ""}{" rtx" if r.rtx else ""}">', f"<title>{esc(tip)}</title>"]
    g += _lost_arrow(sheet, a) if r.dropped else _delivered_arrow(a)
    g.append("</g>")
    return "".join(g)


def _lost_arrow(sheet: _Sheet, a: _Arrow) -> list[str]:
    x2, y2, c = a.x2, a.y2, 7
    right = a.x2 - a.x1 > 0
    word = t("mark.lost")
    sheet.front.append(f'<text x="{num(x2 + 11 * (1 if right else -1))}" y="{num(y2 + 16)}" '
                       f'text-anchor="{"start" if right else "end"}" font-size="11" font-weight="bold">'
                       f'{esc(word)}</text>')
    sheet.placed.add((x2 - 10, y2 - 10, x2 + 10, y2 + 10))
    lw = _text_w(word, 11)
    lx0 = x2 + 11 if right else x2 - 11 - lw
    sheet.placed.add((lx0, y2 + 5, lx0 + lw, y2 + 19))
    return [_line(a.x1, a.y1, x2, y2, f' stroke="{a.color}" stroke-width="2"{_dash(a.r)}'),
            f'<path class="lost" d="M{num(x2 - c)} {num(y2 - c)}L{num(x2 + c)} {num(y2 + c)}'
            f'M{num(x2 - c)} {num(y2 + c)}L{num(x2 + c)} {num(y2 - c)}" stroke="{INK}" '
            f'stroke-width="2.6" stroke-linecap="round"/>']


def _delivered_arrow(a: _Arrow) -> list[str]:
    dx, dy = a.x2 - a.x1, a.y2 - a.y1
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    ah, aw = 11, 4.5
    bx, by = a.x2 - ux * ah, a.y2 - uy * ah
    return [_line(a.x1, a.y1, bx + ux * 2, by + uy * 2, f' stroke="{a.color}" stroke-width="2"{_dash(a.r)}'),
            f'<path d="M{num(a.x2)} {num(a.y2)}L{num(bx - uy * aw)} {num(by + ux * aw)}'
            f'L{num(bx + uy * aw)} {num(by - ux * aw)}Z" fill="{a.color}"/>']


# ------------------------------------------------------------------ arrow labels
def _labels(lay: Layout, sheet: _Sheet, arrows: list[_Arrow]) -> None:
    """Each arrow's label along its slope, placed greedily (see the module docstring)."""
    # points along every arrow, so that a label can avoid lying across another arrow
    pts = []
    for j, a in enumerate(arrows):
        n = int(math.hypot(a.x2 - a.x1, a.y2 - a.y1) // 8)
        for k in range(2, n - 1):
            pts.append((a.x1 + (a.x2 - a.x1) * k / n, a.y1 + (a.y2 - a.y1) * k / n, j))
    near = _Points(pts)              # filed by place: a spot looks only at the points near it
    for i, a in enumerate(arrows):
        text = segment_label(lay.trace, a.r, lay.relative)
        if len(a.copies) > 1:
            text += t("mark.copies", n=len(a.copies))
        cross = any(_crosses(lay, a.r, o.r) for o in arrows if o.r is not a.r)
        cx, cy, ang = _place_label(sheet, near.without(i), a, text, cross)
        sheet.front.append(f'<text x="{num(cx)}" y="{num(cy + FS * 0.35)}" text-anchor="middle" fill="{a.color}" '
                           f'transform="rotate({num(math.degrees(ang))} {num(cx)} {num(cy)})" '
                           f'font-weight="bold">{esc(text)}</text>')


class _Points:
    """The arrows' sample points, each with the number of its arrow, filed in square cells of the page."""

    CELL = 48.0

    def __init__(self, pts: list[tuple[float, float, int]]):
        self.cells: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
        for p in pts:
            self.cells.setdefault((math.floor(p[0] / self.CELL), math.floor(p[1] / self.CELL)), []).append(p)
        self.skip = -1

    def without(self, j: int) -> _Points:
        """The same points, less those of arrow `j` (the one being labelled)."""
        view = _Points.__new__(_Points)
        view.cells, view.skip = self.cells, j
        return view

    def along(self, cx: float, cy: float, ca: float, sa: float, w: float, hgt: float
              ) -> Iterator[tuple[float, float, int]]:
        """The points of every cell that a w×hgt text centred at (cx, cy), at the angle of cosine ca
        and sine sa, may cover: the cells near points of its axis taken every quarter cell, each
        point of the text lying within a quarter cell plus half its height of one of them."""
        c = self.CELL
        n = max(1, math.ceil(w / (c / 2)))
        d = c / 4 + hgt / 2 + 1
        cells: set[tuple[int, int]] = set()
        for k in range(n + 1):
            x, y = cx + ca * w * (k / n - 0.5), cy + sa * w * (k / n - 0.5)
            for gx in range(math.floor((x - d) / c), math.floor((x + d) / c) + 1):
                for gy in range(math.floor((y - d) / c), math.floor((y + d) / c) + 1):
                    cells.add((gx, gy))
        for cell in cells:
            for p in self.cells.get(cell, ()):
                if p[2] != self.skip:
                    yield p


def _crosses(lay: Layout, a: SegmentRecord, b: SegmentRecord) -> bool:
    """Opposite directions, overlapping in time: such arrows label near their sender."""
    return (a.seg.src == b.seg.dst and a.seg.dst == b.seg.src
            and a.t < lay.land(b) and b.t < lay.land(a))


def _place_label(sheet: _Sheet, pts: _Points, a: _Arrow, text: str,
                 cross: bool) -> tuple[float, float, float]:
    """The centre and angle of the best spot for `text` along `a`, whose box is then taken.

    Spots: above the line, then below it, at a few fractions of its length;
    the score is the area of text overlapped plus 40 per point of another
    arrow under the text; the first spot scoring 0 wins."""
    w, hgt = _text_w(text), FS + 2
    dx, dy = a.x2 - a.x1, a.y2 - a.y1
    length = math.hypot(dx, dy) or 1.0
    ang = math.atan2(dy, dx)
    if dx < 0:           # keep text upright: read left to right
        ang = math.atan2(-dy, -dx)
    ca, sa = math.cos(ang), math.sin(ang)
    nx, ny = sa, -ca     # the normal pointing up the page: "above the line"
    near = min(0.45, (w / 2 + 18) / length)     # the label starts just off the sender's timeline
    if a.r.dropped:
        ps: tuple[float, ...] = (0.5, 0.4, 0.6)
    elif cross:
        ps = (near, near + 0.08, 0.5)
    else:
        ps = (0.5, 0.42, 0.58, near, 1 - near)
    best: tuple[float, float, float, Box] | None = None
    for off in (10, -10):
        for p in ps:
            cx, cy = a.x1 + dx * p + nx * off, a.y1 + dy * p + ny * off
            box = _rot_box(cx, cy, w, hgt, ang)
            score = _score(sheet, pts, box, cx, cy, ca, sa, w, hgt, best[0] if best is not None else math.inf)
            if best is None or score < best[0]:
                best = (score, cx, cy, box)
            if score == 0:
                break
        if best is not None and best[0] == 0:
            break
    assert best is not None
    _, cx, cy, box = best
    sheet.placed.add(box)
    return cx, cy, ang


def _score(sheet: _Sheet, pts: _Points, box: Box, cx: float, cy: float,
           ca: float, sa: float, w: float, hgt: float, bound: float = math.inf) -> float:
    """How bad a spot is: the area of text its `box` overlaps, plus 40 for each of `pts`
    that a w×hgt text centred at (cx, cy), at the angle of cosine ca and sine sa, covers.  Counting
    stops at `bound` (the best spot's score so far: a spot only wins by scoring less)."""
    score = sheet.placed.hits(box)
    for (px, py, _j) in pts.along(cx, cy, ca, sa, w, hgt):
        u, v = (px - cx) * ca + (py - cy) * sa, -(px - cx) * sa + (py - cy) * ca
        if abs(u) <= w / 2 and abs(v) <= hgt / 2:
            score += 40
            if score >= bound:
                return score
    return score


# ------------------------------------------------------------------ legend
def _legend_symbol(kind: str, lx: float, ly: float) -> str:
    if kind == "solid":
        return (f'<line x1="{lx}" y1="{ly}" x2="{lx + 34}" y2="{ly}" stroke="{INK}" stroke-width="2"/>'
                f'<path d="M{lx + 40} {ly}l-10 -4.5v9z" fill="{INK}"/>')
    if kind == "lost":
        return (f'<line x1="{lx}" y1="{ly}" x2="{lx + 30}" y2="{ly}" stroke="{INK}" stroke-width="2" '
                f'stroke-dasharray="7 5"/><path d="M{lx + 30} {ly - 6}l12 12m0 -12l-12 12" '
                f'stroke="{INK}" stroke-width="2.4" stroke-linecap="round"/>')
    if kind == "rtx":
        return (f'<line x1="{lx}" y1="{ly}" x2="{lx + 34}" y2="{ly}" stroke="{INK}" stroke-width="2" '
                f'stroke-dasharray="12 4 2 4"/><path d="M{lx + 40} {ly}l-10 -4.5v9z" fill="{INK}"/>')
    return f'<path d="M{lx} {ly - 7}h8v14h-8" stroke="{TIMER}" stroke-width="1.4" fill="none"/>'


def _legend(lay: Layout) -> tuple[list[str], int, float]:
    """The legend under the figure: its SVG, the figure's width and bottom with it."""
    ly = lay.bottom + 6
    items = [("solid", t("legend.delivered")), ("lost", t("legend.lost")), ("rtx", t("legend.rtx")),
             ("timer", t("legend.timer"))]
    leg = []
    lx: float = 24
    for kind, txt in items:
        leg.append(_legend_symbol(kind, lx, ly))
        sym = 16 if kind == "timer" else 48
        leg.append(f'<text x="{lx + sym}" y="{ly + 4}" font-size="11">{esc(txt)}</text>')
        lx += sym + _text_w(txt, 11) + 30
    note = t("legend.relative") if lay.relative else t("legend.absolute")
    leg.append(f'<text x="{lx}" y="{ly + 4}" font-size="11" fill="{GREY}">{esc(note)}</text>')
    return leg, max(lay.width, int(lx + _text_w(note, 11) + 20)), ly + 20


# ------------------------------------------------------------------ the whole figure
def _title_and_desc(lay: Layout, title: str | None, step: int | None) -> tuple[str, str]:
    sc = lay.trace.scenario
    name = (sc.name if sc is not None else "") or t("ladder.a_run")
    ttl = title or t("ladder.title", name=name, hosts=_joined(lay.hosts))
    lines = describe(lay.trace, lay.relative, hosts=lay.hosts, step=step)
    end = t("sentence.end")
    desc = t("ladder.desc", hosts=_joined(lay.hosts)) + " ".join(
        ln.strip() + ("" if ln.rstrip().endswith(end) else end) for ln in lines)
    return ttl, desc


def ladder(trace: Trace, relative: bool = False, step: int | None = None, hosts: Iterable[str] | None = None,
           title: str | None = None, legend: bool = True) -> Ladder:
    """Draw `trace` as a ladder diagram.

    relative: seq/ack relative to each connection's ISNs (`Trace.relative`).
    step: draw only the first `step` events of `trace_events(trace)`
          (the layout stays that of the whole run, so frames line up).
    hosts: the timelines, left to right (default: the scenario's endpoints,
           then any other host the trace mentions).
    """
    lay = layout(trace, relative, step, hosts)
    sheet = _Sheet()
    timelines = _timelines(lay)
    heads = _host_heads(lay, sheet)
    axis = _time_axis(lay) + _breaks(lay, sheet)
    _state_labels(lay, sheet)
    _timers(lay, sheet)
    arrow_svg, arrows = _arrows(lay, sheet)
    _labels(lay, sheet, arrows)
    leg, width, bottom = _legend(lay) if legend else ([], lay.width, lay.bottom)
    height = int(bottom + 6)
    ttl, desc = _title_and_desc(lay, title, step)
    uid = svg_uid("tcpld-", ttl, desc)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {aria(uid)} font-family="{FONT}" font-size="{FS}" fill="{INK}">',
        *title_and_desc(uid, ttl, desc),
        f'<rect width="{width}" height="{height}" fill="{PAPER}"/>',
        timelines, *heads, *sheet.under, *arrow_svg,
        f'<g stroke="{PAPER}" stroke-width="3" stroke-linejoin="round" paint-order="stroke">',
        *axis, *sheet.front, "</g>",
        *leg,
        "</svg>",
    ]
    return Ladder("\n".join(svg) + "\n", width, height, ttl, desc)
