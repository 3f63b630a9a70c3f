"""Drop-a-packet panels: lose any segment of an exchange and watch TCP cope.

A `DropPanel` wraps a scenario.  Its *droppable* segments are those of the
scenario's own run that the scenario does not already lose, each named by who
sent it, its flags, seq and ack (and which copy, if identical ones were sent),
so that dropping it means the same thing in any combination: the network loses
exactly that transmission, and a retransmission of it is a new one that gets
through.  A panel can also turn what-if knobs (TIME_WAIT off, the two-way
handshake, the profile, the delay).

Three faces, all computed from the same `render()`:

* `panel.show(drop=..., **knobs)` -- a static figure (ladder, state diagram,
  trace table) that prints the same bytes every time, so nbval checks it and
  the website shows it without a kernel: the widget's static twin
  (`tcpsim.book.figure`);
* `panel.widget()` -- the ipywidgets panel for JupyterLab: a toggle per
  segment, the knobs, a step slider that walks the run event by event, and a
  reset button (`tcpsim.book.live`);
* `panel.variants()` -- every single and pair of drops (with each knob
  setting), pre-rendered, for a page that has no kernel behind it
  (`tcpsim.book.sphinx` writes them next to the site).

Every word a reader sees comes from `tcpsim.book.text`.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, TypedDict

from ..core.network import run
from ..core.scenario import builtin, load
from ..core.trace import Trace
from ..core.units import secs
from ..render.ladder import flag_words, ladder
from ..render.state_diagram import PALETTE, state_diagram
from .figure import PanelFigure
from .text import TEXT, t

Scenario = dict[str, Any]
KnobValue = bool | str | float
#: knob name -> its KnobValue, as `render(**knobs)` takes them
Knobs = dict[str, Any]


@dataclass(frozen=True)
class Droppable:
    """One transmission of the scenario's own run, named so a rule can find it."""

    index: int      # its position in the scenario's own run, from 1
    src: str
    dst: str
    flags: str
    nth: int        # the nth segment from src with exactly these flags, seq and ack
    seq: int
    ack: int | None
    #: the numbers as the panel's figures show them (relative ones for a relative panel)
    shown: tuple[int, int | None] | None = None

    @property
    def label(self) -> str:
        """"2. server → client SYN,ACK seq=300 ack=101": its toggle's text."""
        seq, ack = self.shown if self.shown is not None else (self.seq, self.ack)
        numbers = (t("segment.numbers", seq=seq) if ack is None
                   else t("segment.numbers.ack", seq=seq, ack=ack))
        return t("segment.label", index=self.index, src=self.src, dst=self.dst,
                 flags=flag_words(self.flags), numbers=numbers)

    @property
    def dropped_text(self) -> str:
        """"#2 (server's SYN,ACK)": how a caption names it."""
        return t("segment.dropped", index=self.index, src=self.src, flags=flag_words(self.flags))

    def rule(self) -> dict[str, Any]:
        """The scenario's network rule that loses exactly this transmission."""
        rule: dict[str, Any] = {"action": "drop", "src": self.src, "flags": self.flags, "seq": self.seq}
        if self.ack is not None:
            rule["ack"] = self.ack
        rule["nth"] = self.nth
        return rule


#: The values `variants()` pre-renders for each knob, the default first; its
#: keys are the knobs a panel may offer.
KNOB_VALUES: dict[str, tuple[KnobValue, ...]] = {
    "time_wait": (True, False), "two_way": (False, True), "profile": ("linux", "rfc9293"),
    "delay": (0.05, 0.005, 0.25)}


class _KnobLabels(Mapping[str, str]):
    """knob -> its label, read from `tcpsim.book.text` at each lookup."""

    def __getitem__(self, knob: str) -> str:
        if knob not in KNOB_VALUES:
            raise KeyError(knob)
        return t(f"knob.{knob}")

    def __iter__(self) -> Iterator[str]:
        return iter(KNOB_VALUES)

    def __len__(self) -> int:
        return len(KNOB_VALUES)


#: Each knob's label (the panels' knobs, in order).
KNOBS: Mapping[str, str] = _KnobLabels()


def spec_id(spec: dict[str, Any]) -> str:
    """The short, stable name of a panel's spec (its page data is panel-<id>.js)."""
    text = json.dumps(spec, separators=(",", ":"))   # key order matters: it orders the hosts
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def knob_key(knobs: Knobs) -> str:
    """"profile=linux,time_wait=1": how variants() and the page's script name a knob setting."""
    return ",".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in sorted(knobs.items()))


def setting_text(knob: str, value: Any) -> str:
    """How a caption names one knob setting ("TIME_WAIT off (what-if, not TCP)", "profile linux")."""
    if value in (True, False) and f"setting.{knob}.on" in TEXT:
        return t(f"setting.{knob}.{'on' if value else 'off'}")
    return t("setting", label=t(f"knob.{knob}"), value=value)


class Rendered(TypedDict):
    """One setting of a panel, drawn (see `DropPanel.render`)."""

    trace: Trace
    ladder: str
    state: str
    table: str
    events: int


class Setting(TypedDict):
    """Which segments are dropped (their indexes, in order) and every knob's value."""

    drops: list[int]
    knobs: Knobs


class DropPanel:
    """A scenario whose segments a reader can drop, one at a time or several."""

    def __init__(self, scenario: Scenario | str, *, knobs: Sequence[str] = (), view: str = "figure",
                 relative: bool = False, title: str | None = None, endpoints: Sequence[str] | None = None):
        self.base: Scenario = copy.deepcopy(builtin(scenario) if isinstance(scenario, str) else scenario)
        load(self.base)                       # fail early, naming the field, on a bad scenario
        unknown = [k for k in knobs if k not in KNOB_VALUES]
        if unknown:
            raise ValueError(f"unknown knob {unknown[0]!r}; known: {', '.join(KNOB_VALUES)}")
        self.knobs = tuple(knobs)
        self.view, self.relative = view, relative
        self.endpoints = tuple(endpoints) if endpoints else None
        self.title: str = title or self.base.get("name", "scenario")
        self.droppable = self._droppable()
        self._shown: Setting | None = None          # the setting of the last still figure shown

    # ----------------------------------------------------------- its spec
    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild this panel (see `from_spec`): plain JSON data."""
        return {"scenario": self.base, "knobs": list(self.knobs), "view": self.view,
                "relative": self.relative, "title": self.title,
                "endpoints": list(self.endpoints) if self.endpoints else None}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> DropPanel:
        return cls(spec["scenario"], knobs=tuple(spec["knobs"]), view=spec["view"],
                   relative=spec["relative"], title=spec["title"], endpoints=spec.get("endpoints"))

    def spec_id(self) -> str:
        return spec_id(self.spec())

    # ---------------------------------------------------------- its knobs
    def knob_values(self, knob: str) -> tuple[KnobValue, ...]:
        """The values a knob offers, this panel's scenario's own value first."""
        own = self._own_value(knob)
        return (own,) + tuple(v for v in KNOB_VALUES[knob] if v != own)

    def _own_value(self, knob: str) -> KnobValue:
        whatif = self.base.get("whatif", {})
        own: dict[str, KnobValue] = {
            "profile": self.base.get("profile", "linux"), "delay": self.base.get("delay", 0.05),
            "time_wait": whatif.get("time_wait") != 0, "two_way": bool(whatif.get("two_way_handshake", False))}
        return own[knob]

    def defaults(self) -> Knobs:
        return {k: self.knob_values(k)[0] for k in self.knobs}

    # ------------------------------------------------------------- the runs
    def _droppable(self) -> list[Droppable]:
        seen: dict[tuple[str, str, int, int | None], int] = {}
        out = []
        base = run(self.base)
        for r in base.segments:
            s = r.seg
            if r.note or r.rtx or r.dropped:   # injected, flood or duplicate copies, and what the
                continue                       # scenario itself loses, are not the reader's to drop
            key = (s.src, s.flags, s.seq, s.ack)
            k = seen[key] = seen.get(key, 0) + 1
            shown = base.relative(r) if self.relative else None
            out.append(Droppable(r.i, s.src, s.dst, s.flags, k, s.seq, s.ack, shown))
        return out

    def story(self, trace: Trace, chosen: Sequence[Droppable], knobs: Knobs) -> str:
        """One sentence of what the losses did, from the trace: "#2 (server's SYN,ACK) is lost;
        server sends it again 1 s later. In the end: client CLOSED, server CLOSED."
        """
        told = []
        for d in chosen:
            lost = next((r for r in trace.segments if r.dropped and r.seg.src == d.src
                         and r.seg.flags == d.flags and r.seg.seq == d.seq), None)
            if lost is None:
                continue
            again = next((r for r in trace.segments if r.t > lost.t and r.seg.src == d.src
                          and r.seg.flags == d.flags and r.seg.seq == d.seq), None)
            if again is None:
                told.append(t("story.never", lost=d.dropped_text))
            else:
                told.append(t("story.again", lost=d.dropped_text, who=d.src, after=f"{secs(again.t - lost.t):g}"))
        end = t("list.separator").join(t("story.state", endpoint=ep, state=trace.final[ep].value)
                                       for ep in trace.endpoints() if ep in trace.final)
        set_ = t("list.separator").join(setting_text(k, v) for k, v in sorted(knobs.items()) if k in KNOB_VALUES)
        settings = " " + t("story.settings", settings=set_) if set_ else ""
        return " ".join(told or [t("story.none")]) + " " + t("story.end", states=end) + settings

    def scenario(self, drop: Iterable[int | Droppable] = (), *, time_wait: bool | None = None,
                 two_way: bool | None = None, profile: str | None = None, delay: float | None = None) -> Scenario:
        """The scenario dict with these segments dropped and these knobs set
        (a knob left at None keeps the scenario's own setting)."""
        sc = copy.deepcopy(self.base)
        chosen = [self._find(d) for d in drop]
        if chosen:
            net = sc.setdefault("network", {})
            net["rules"] = list(net.get("rules", [])) + [d.rule() for d in chosen]
        whatif = _whatif(sc.pop("whatif", {}), time_wait, two_way)
        if whatif:
            sc["whatif"] = whatif
        if profile is not None:
            sc["profile"] = profile
        if delay is not None:
            sc["delay"] = delay
        return sc

    def _find(self, d: int | Droppable) -> Droppable:
        if isinstance(d, Droppable):
            return d
        for x in self.droppable:
            if x.index == d:
                return x
        raise ValueError(f"no segment {d!r} to drop; choose from 1 to {len(self.droppable)}")

    def run(self, drop: Iterable[int | Droppable] = (), **knobs: Any) -> Trace:
        return run(self.scenario(drop, **knobs))

    # ------------------------------------------------------------ rendering
    def render(self, drop: Iterable[int | Droppable] = (), step: int | None = None, **knobs: Any) -> Rendered:
        """Ladder SVG, state-diagram SVG and trace-table HTML for one setting."""
        trace = self.run(drop, **knobs)
        # every side of every connection, as many as the diagram has colours for (a panel of
        # two clients shows both, and the server's side of each)
        endpoints = list(self.endpoints) if self.endpoints else trace.endpoints()[:len(PALETTE)]
        lad = ladder(trace, relative=self.relative, step=step)
        dia = state_diagram(self.view, trace=trace, endpoints=endpoints, step=step,
                            whatif="two_way_handshake" if knobs.get("two_way") else False)
        return {"trace": trace, "ladder": lad.svg(), "state": dia.svg(),
                "table": trace._repr_html_(), "events": len(trace.segments) + len(trace.changes)}

    def show(self, drop: Iterable[int | Droppable] = (), step: int | None = None, **knobs: Any) -> PanelFigure:
        """The static figure for one setting (deterministic; the widget's twin).

        The live panel made next (`widget()`) starts at this setting, and on the website,
        where the live panel works, it takes this figure's place: one panel per place, the
        still figure only without JavaScript and in print."""
        chosen = [self._find(d) for d in drop]
        twin = None
        if step is None and set(knobs) <= set(self.knobs):   # a setting the live panel can start at
            self._shown = self.setting(chosen, knobs)
            twin = (self.spec_id(), self._shown)
        return self._figure(chosen, knobs, step, twin)

    def _figure(self, chosen: Sequence[Droppable], knobs: Knobs, step: int | None = None,
                twin: tuple[str, Setting] | None = None) -> PanelFigure:
        r = self.render(chosen, step, **knobs)
        return PanelFigure(self.caption(chosen, knobs), r["ladder"], r["state"], r["table"], r["trace"],
                           self.story(r["trace"], chosen, knobs), twin=twin)

    def setting(self, drop: Iterable[int | Droppable] = (), knobs: Mapping[str, Any] | None = None) -> Setting:
        """A setting as the website names it: the dropped indexes in order and every knob's value."""
        unknown = sorted(set(knobs or {}) - set(self.knobs))
        if unknown:
            raise ValueError(f"this panel has no knob {unknown[0]!r}; its knobs: {', '.join(self.knobs) or 'none'}")
        return {"drops": sorted({self._find(d).index for d in drop}), "knobs": {**self.defaults(), **(knobs or {})}}

    def caption(self, chosen: Sequence[Droppable], knobs: Knobs) -> str:
        """"connect-close: dropped #6 (client's ACK); TIME_WAIT off (what-if, not TCP)"."""
        what = t("list.separator").join(d.dropped_text for d in chosen) or t("caption.nothing")
        settings = "".join(t("caption.setting", setting=setting_text(k, v))
                           for k, v in sorted(knobs.items()) if k in KNOB_VALUES)
        return t("caption", title=self.title, what=what) + settings

    def _settings(self, max_drops: int) -> Iterator[tuple[tuple[int, ...], Knobs]]:
        """Every set of at most `max_drops` dropped segments, with every knob setting."""
        names = sorted(self.knobs)
        idx = [d.index for d in self.droppable]
        for n in range(max_drops + 1):
            for combo in itertools.combinations(idx, n):
                for values in itertools.product(*(self.knob_values(k) for k in names)):
                    yield combo, dict(zip(names, values, strict=True))

    def variants(self, max_drops: int = 2) -> dict[str, dict[str, Any]]:
        """Every set of at most `max_drops` dropped segments, with every value
        of every knob, pre-rendered.  Keys are like "2,5|time_wait=0"."""
        out = {}
        for combo, knobs in self._settings(max_drops):
            r = self.render(combo, **knobs)
            key = ",".join(map(str, combo)) + "|" + knob_key(knobs)
            out[key] = {"ladder": r["ladder"], "state": r["state"], "table": r["table"],
                        "story": self.story(r["trace"], [self._find(d) for d in combo], knobs),
                        "events": r["events"]}
        return out

    def page_data(self, max_drops: int = 2) -> dict[str, Any]:
        """What a page without a kernel needs: the controls and every variant, each distinct SVG,
        table or story stored once (a variant is [ladder, state, table, story, number of events],
        the first four indexes into "strings")."""
        strings: dict[str, int] = {}
        table = {}
        for key, v in self.variants(max_drops).items():
            table[key] = [strings.setdefault(v[part], len(strings)) for part in ("ladder", "state", "table", "story")]
            table[key].append(v["events"])         # how many events the step control walks
        return {"id": self.spec_id(), "title": self.title, "max_drops": max_drops,
                "droppable": [{"index": d.index, "label": d.label} for d in self.droppable],
                "knobs": [{"name": k, "label": t(f"knob.{k}"), "values": list(self.knob_values(k)),
                           "default": self.defaults()[k]} for k in sorted(self.knobs)],
                "strings": list(strings), "variants": table}

    def static_html(self, start: Setting | None = None) -> str:
        """The kernel-free form of the live panel: the figure at its starting setting plus the
        spec a page script turns into working controls (see tcpsim.book.sphinx).  When the
        still twin of that setting was shown before (`show()`), the page script puts this
        panel in the twin's place; without JavaScript only the twin is seen."""
        start = start or self.start()
        # in the scenario's own key order: its endpoints' order is the ladder's order of hosts
        spec = json.dumps(self.spec(), separators=(",", ":")).replace("</", "<\\/")
        turned = {k: v for k, v in start["knobs"].items() if v != self.defaults()[k]}   # named as show() names them
        fig = self._figure([self._find(d) for d in start["drops"]], turned)._repr_html_()
        twinned = start == self._shown
        note = t("static.note.twin") if twinned else t("static.note")
        begin = json.dumps(start, sort_keys=True, separators=(",", ":"))
        return (f'<div class="tcpsim-live{" tcpsim-twinned" if twinned else ""}" '
                f'data-tcpsim-panel="{self.spec_id()}" data-tcpsim-start="{escape(begin)}">'
                f'<script type="application/json" class="tcpsim-spec">{spec}</script>'
                f'<div class="tcpsim-controls" role="group" aria-label="{escape(t("static.controls"))}">'
                f'<p class="tcpsim-note">{escape(note)}</p></div>{fig}</div>')

    def start(self) -> Setting:
        """Where the live panel starts: at its still twin's setting if one was shown, else nothing dropped."""
        return self._shown or self.setting()

    # ---------------------------------------------------------- the widget
    def widget(self, drop: Iterable[int | Droppable] | None = None, **knobs: Any) -> Any:
        """The interactive panel (ipywidgets): toggles, knobs, step slider, reset.  It starts
        at the setting given, else at that of the still figure shown last (`show()`), else
        with nothing dropped."""
        from .live import LivePanel

        start = self.start() if drop is None and not knobs else self.setting(drop or (), knobs)
        return LivePanel(self, start).box


def _whatif(whatif: dict[str, Any], time_wait: bool | None, two_way: bool | None) -> dict[str, Any]:
    """A scenario's what-ifs with the knobs turned (None leaves a knob as the scenario has it)."""
    whatif = dict(whatif)
    if time_wait is False:
        whatif["time_wait"] = 0
    elif time_wait is True and whatif.get("time_wait") == 0:
        del whatif["time_wait"]
    if two_way:
        whatif["two_way_handshake"] = two_way
    elif two_way is not None:
        whatif.pop("two_way_handshake", None)
    return whatif


def __getattr__(name: str) -> Any:
    if name == "LiveBox":                     # ipywidgets is imported only when a widget is made
        from .live import live_box_class

        return live_box_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
