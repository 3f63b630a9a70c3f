"""Drop-a-packet panels: lose any segment of an exchange and watch TCP cope.

A `DropPanel` wraps a scenario.  Its *droppable* segments are those of the
scenario's own run that the scenario does not already lose, each named by who
sent it, its flags, seq and ack (and which copy, if identical ones were sent), so that dropping it means the same thing
in any combination: the network loses exactly that transmission, and a
retransmission of it is a new one that gets through.  A panel can also turn
what-if knobs (TIME_WAIT off, the two-way handshake, the profile, the delay).

Three faces, all computed from the same `render()`:

* `panel.show(drop=..., **knobs)` -- a static figure (ladder, state diagram,
  trace table) that prints the same bytes every time, so nbval checks it and
  the website shows it without a kernel: the widget's static twin;
* `panel.widget()` -- the ipywidgets panel for JupyterLab: a toggle per
  segment, the knobs, a step slider that walks the run event by event, and a
  reset button;
* `panel.variants()` -- every single and pair of drops (with each knob
  setting), pre-rendered, for a page that has no kernel behind it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
from dataclasses import dataclass
from html import escape

from ..render.state_diagram import state_diagram
from ..render.ladder import flag_words, ladder
from ..core.network import run
from ..core.scenario import builtin, load


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

    @property
    def label(self) -> str:
        nums = f"seq={self.seq}" + (f" ack={self.ack}" if self.ack is not None else "")
        return f"{self.index}. {self.src} → {self.dst} {flag_words(self.flags)} {nums}"

    def rule(self) -> dict:
        return {"action": "drop", "src": self.src, "flags": self.flags, "seq": self.seq,
                "ack": self.ack, "nth": self.nth} if self.ack is not None else {
                "action": "drop", "src": self.src, "flags": self.flags, "seq": self.seq, "nth": self.nth}


KNOBS = {
    "time_wait": "TIME_WAIT on (off is not TCP)",
    "two_way": "two-way handshake (not TCP)",
    "profile": "profile",
    "delay": "one-way delay (s)",
}
#: The values `variants()` pre-renders for each knob, the default first.
KNOB_VALUES = {"time_wait": (True, False), "two_way": (False, True), "profile": ("linux", "rfc9293"),
               "delay": (0.05, 0.005, 0.25)}


def spec_id(spec: dict) -> str:
    """The short, stable name of a panel's spec (its page data is panel-<id>.js)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def knob_key(knobs: dict) -> str:
    """"profile=linux,time_wait=1": how variants() and the page's script name a knob setting."""
    return ",".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in sorted(knobs.items()))


class DropPanel:
    """A scenario whose segments a reader can drop, one at a time or several."""

    def __init__(self, scenario, *, knobs: tuple[str, ...] = (), view: str = "figure",
                 relative: bool = False, title: str | None = None, endpoints: tuple[str, ...] | None = None):
        self.base = copy.deepcopy(builtin(scenario) if isinstance(scenario, str) else scenario)
        load(self.base)                       # fail early, naming the field, on a bad scenario
        unknown = [k for k in knobs if k not in KNOBS]
        if unknown:
            raise ValueError(f"unknown knob {unknown[0]!r}; known: {', '.join(KNOBS)}")
        self.knobs = tuple(knobs)
        self.view, self.relative = view, relative
        self.endpoints = tuple(endpoints) if endpoints else None
        self.title = title or self.base.get("name", "scenario")
        self.droppable = self._droppable()

    def spec(self) -> dict:
        """Everything needed to rebuild this panel (see `from_spec`): plain JSON data."""
        return {"scenario": self.base, "knobs": list(self.knobs), "view": self.view,
                "relative": self.relative, "title": self.title,
                "endpoints": list(self.endpoints) if self.endpoints else None}

    @classmethod
    def from_spec(cls, spec: dict) -> "DropPanel":
        return cls(spec["scenario"], knobs=tuple(spec["knobs"]), view=spec["view"],
                   relative=spec["relative"], title=spec["title"], endpoints=spec.get("endpoints"))

    def spec_id(self) -> str:
        return spec_id(self.spec())

    def knob_values(self, knob: str) -> tuple:
        """The values a knob offers, this panel's scenario's own value first."""
        whatif = self.base.get("whatif", {})
        own = {"profile": self.base.get("profile", "linux"), "delay": self.base.get("delay", 0.05),
               "time_wait": whatif.get("time_wait") != 0,
               "two_way": bool(whatif.get("two_way_handshake", False))}[knob]
        return (own,) + tuple(v for v in KNOB_VALUES[knob] if v != own)

    def defaults(self) -> dict:
        return {k: self.knob_values(k)[0] for k in self.knobs}

    # ------------------------------------------------------------- the runs
    def _droppable(self) -> list[Droppable]:
        seen: dict[tuple, int] = {}
        out = []
        for r in run(self.base).segments:
            s = r.seg
            if r.note or r.rtx or r.dropped:   # injected, flood or duplicate copies, and what the
                continue                       # scenario itself loses, are not the reader's to drop
            key = (s.src, s.flags, s.seq, s.ack)
            k = seen[key] = seen.get(key, 0) + 1
            out.append(Droppable(r.i, s.src, s.dst, s.flags, k, s.seq, s.ack))
        return out

    def scenario(self, drop=(), *, time_wait: bool | None = None, two_way: bool | None = None,
                 profile: str | None = None, delay: float | None = None) -> dict:
        """The scenario dict with these segments dropped and these knobs set
        (a knob left at None keeps the scenario's own setting)."""
        sc = copy.deepcopy(self.base)
        chosen = [self._find(d) for d in drop]
        if chosen:
            net = sc.setdefault("network", {})
            net["rules"] = list(net.get("rules", [])) + [d.rule() for d in chosen]
        whatif = dict(sc.get("whatif", {}))
        if time_wait is False:
            whatif["time_wait"] = 0
        elif time_wait is True and whatif.get("time_wait") == 0:
            del whatif["time_wait"]
        if two_way is not None:
            whatif["two_way_handshake"] = two_way
            if not two_way:
                del whatif["two_way_handshake"]
        sc.pop("whatif", None)
        if whatif:
            sc["whatif"] = whatif
        if profile is not None:
            sc["profile"] = profile
        if delay is not None:
            sc["delay"] = delay
        return sc

    def _find(self, d) -> Droppable:
        if isinstance(d, Droppable):
            return d
        for x in self.droppable:
            if x.index == d:
                return x
        raise ValueError(f"no segment {d!r} to drop; choose from 1 to {len(self.droppable)}")

    def run(self, drop=(), **knobs):
        return run(self.scenario(drop, **knobs))

    # ------------------------------------------------------------ rendering
    def render(self, drop=(), step: int | None = None, **knobs) -> dict:
        """Ladder SVG, state-diagram SVG and trace-table HTML for one setting."""
        trace = self.run(drop, **knobs)
        endpoints = list(self.endpoints) if self.endpoints else trace.endpoints()[:2]
        lad = ladder(trace, relative=self.relative, step=step)
        dia = state_diagram(self.view, trace=trace, endpoints=endpoints, step=step,
                            whatif=bool(knobs.get("two_way")))
        return {"trace": trace, "ladder": lad.svg(), "state": dia.svg(),
                "table": trace._repr_html_(), "events": len(trace.segments) + len(trace.changes)}

    def show(self, drop=(), step: int | None = None, **knobs) -> "PanelFigure":
        """The static figure for one setting (deterministic; the widget's twin)."""
        chosen = [self._find(d) for d in drop]
        r = self.render(chosen, step, **knobs)
        what = ", ".join(f"#{d.index} ({d.src}'s {flag_words(d.flags)})" for d in chosen) or "nothing"
        words = {("time_wait", True): "TIME_WAIT on", ("time_wait", False): "TIME_WAIT off (what-if, not TCP)",
                 ("two_way", False): "three-way handshake", ("two_way", True): "two-way handshake (what-if, not TCP)"}
        caption = f"{self.title}: dropped {what}" + "".join(
            "; " + words.get((k, v), f"{KNOBS[k]} {v}") for k, v in sorted(knobs.items()) if k in KNOBS)
        return PanelFigure(caption, r["ladder"], r["state"], r["table"], r["trace"])

    def variants(self, max_drops: int = 2) -> dict:
        """Every set of at most `max_drops` dropped segments, with every value
        of every knob, pre-rendered.  Keys are like "2,5|time_wait=0"."""
        names = sorted(self.knobs)
        out = {}
        idx = [d.index for d in self.droppable]
        for n in range(max_drops + 1):
            for combo in itertools.combinations(idx, n):
                for values in itertools.product(*(self.knob_values(k) for k in names)):
                    knobs = dict(zip(names, values))
                    r = self.render(combo, **knobs)
                    key = ",".join(map(str, combo)) + "|" + knob_key(knobs)
                    out[key] = {"ladder": r["ladder"], "state": r["state"], "table": r["table"]}
        return out

    def page_data(self, max_drops: int = 2) -> dict:
        """What a page without a kernel needs: the controls and every variant,
        each distinct SVG or table stored once."""
        strings: dict[str, int] = {}
        table = {}
        for key, v in self.variants(max_drops).items():
            table[key] = [strings.setdefault(v[part], len(strings)) for part in ("ladder", "state", "table")]
        return {"id": self.spec_id(), "title": self.title, "max_drops": max_drops,
                "droppable": [{"index": d.index, "label": d.label} for d in self.droppable],
                "knobs": [{"name": k, "label": KNOBS[k], "values": list(self.knob_values(k)),
                           "default": self.defaults()[k]} for k in sorted(self.knobs)],
                "strings": list(strings), "variants": table}

    def static_html(self) -> str:
        """The kernel-free form of the live panel: the figure with nothing dropped plus the
        spec a page script turns into working controls (see tcpsim.sphinx)."""
        spec = json.dumps(self.spec(), sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
        fig = self.show(**self.defaults())._repr_html_()
        return (f'<div class="tcpsim-live" data-tcpsim-panel="{self.spec_id()}">'
                f'<script type="application/json" class="tcpsim-spec">{spec}</script>'
                f'<div class="tcpsim-controls" role="group" aria-label="drop segments">'
                f'<p class="tcpsim-note">The drop controls appear here on the website (with JavaScript), '
                f'or live when this cell runs in JupyterLab.</p></div>{fig}</div>')

    # ---------------------------------------------------------- the widget
    def widget(self):
        """The interactive panel (ipywidgets): toggles, knobs, step slider, reset."""
        import ipywidgets as w

        toggles = [w.ToggleButton(value=False, description=d.label, tooltip=f"drop {d.label}",
                                  icon="times", layout=w.Layout(width="auto"))
                   for d in self.droppable]
        knob_w = {}
        if "time_wait" in self.knobs:
            knob_w["time_wait"] = w.Checkbox(value=self.defaults()["time_wait"], description=KNOBS["time_wait"],
                                             indent=False)
        if "two_way" in self.knobs:
            knob_w["two_way"] = w.Checkbox(value=self.defaults()["two_way"], description=KNOBS["two_way"],
                                           indent=False)
        if "profile" in self.knobs:
            knob_w["profile"] = w.Dropdown(options=list(self.knob_values("profile")),
                                           value=self.defaults()["profile"], description="profile")
        if "delay" in self.knobs:
            knob_w["delay"] = w.Dropdown(options=sorted(self.knob_values("delay")),
                                         value=self.defaults()["delay"], description=KNOBS["delay"])
        step = w.IntSlider(value=0, min=0, max=1, description="step", continuous_update=True)
        play = w.Play(value=0, min=0, max=1, interval=700, description="play")
        w.jslink((play, "value"), (step, "value"))
        reset = w.Button(description="reset", icon="undo")
        status = w.HTML()
        lad, dia, table = w.HTML(), w.HTML(), w.HTML()
        state = {"busy": False}

        def settings():
            drops = [d for d, t in zip(self.droppable, toggles) if t.value]
            knobs = {k: x.value for k, x in knob_w.items()}
            return drops, knobs

        def redraw(*_, keep_step=False):
            if state["busy"]:
                return
            drops, knobs = settings()
            s = step.value if keep_step and step.value < step.max else None
            r = self.render(drops, step=s, **knobs)
            lad.value, dia.value, table.value = r["ladder"], r["state"], r["table"]
            if not keep_step:
                state["busy"] = True
                step.max = play.max = r["events"]
                step.value = play.value = r["events"]
                state["busy"] = False
            lost = ", ".join(f"#{d.index}" for d in drops) or "none"
            status.value = f"<b>dropped:</b> {escape(lost)} &nbsp; <b>events:</b> {r['events']}"

        def on_reset(_):
            state["busy"] = True
            for t in toggles:
                t.value = False
            for k, x in knob_w.items():
                x.value = self.defaults()[k]
            state["busy"] = False
            redraw()

        for t in toggles:
            t.observe(redraw, names="value")
        for x in knob_w.values():
            x.observe(redraw, names="value")
        step.observe(lambda ch: redraw(keep_step=True), names="value")
        reset.on_click(on_reset)
        redraw()
        controls = w.VBox([w.HTML(f"<b>{escape(self.title)}</b>: click a segment to lose it"),
                           w.HBox(toggles, layout=w.Layout(flex_flow="row wrap")),
                           w.HBox(list(knob_w.values()) + [reset]),
                           w.HBox([play, step]), status])
        box = _live_box_class()([controls, w.HBox([lad, dia], layout=w.Layout(flex_flow="row wrap")), table])
        box.static = self.static_html()
        return box


@functools.cache
def _live_box_class():
    import ipywidgets as w

    class LiveBox(w.VBox):
        """The live panel; displayed where there is no kernel, it offers its
        kernel-free twin as text/html (the website uses that)."""

        static = ""

        def _repr_mimebundle_(self, **kwargs):
            data = super()._repr_mimebundle_(**kwargs)
            if self.static:
                data["text/html"] = self.static
            return data

    return LiveBox


def __getattr__(name):
    if name == "LiveBox":                     # ipywidgets is imported only when a widget is made
        return _live_box_class()
    raise AttributeError(name)


class PanelFigure:
    """Ladder, state diagram and trace table side by side, as static HTML."""

    def __init__(self, caption, ladder_svg, state_svg, table_html, trace):
        self.caption, self.ladder, self.state, self.table, self.trace = (
            caption, ladder_svg, state_svg, table_html, trace)

    def _repr_html_(self) -> str:
        return ('<figure class="tcpsim-panel">'
                '<style>.tcpsim-panel svg{max-width:100%;height:auto}</style>'
                f'<figcaption class="tcpsim-caption">{escape(self.caption)}</figcaption>'
                '<div style="display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start">'
                f'<div class="tcpsim-ladder" style="max-width:100%;overflow-x:auto">{self.ladder}</div>'
                f'<div class="tcpsim-state" style="max-width:100%;overflow-x:auto">{self.state}</div></div>'
                f'<details><summary>trace table</summary><div class="tcpsim-table">{self.table}</div>'
                '</details></figure>')

    def __repr__(self) -> str:
        return f"<PanelFigure {self.caption}>"

    def __str__(self) -> str:
        return self.caption + "\n" + self.trace.table()
