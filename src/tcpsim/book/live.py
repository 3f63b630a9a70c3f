"""The live drop-a-packet panel for JupyterLab (ipywidgets).

`LivePanel` builds the widgets of one `DropPanel` and keeps them in step: a
toggle per droppable segment, a checkbox or menu per knob, a step slider with
a play button that walks the run event by event, a reset button, and the
three figures.  Any change re-renders the panel's run; moving the slider
redraws the same run up to that step.  The box it builds (`LiveBox`) also
carries the panel's kernel-free twin as text/html, which is what the website
shows.  ipywidgets is imported only here, and only when a panel is made.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .panels import KNOB_VALUES, Droppable, DropPanel, Knobs, Setting
from .text import html, t

PLAY_INTERVAL_MS = 700

# The panel fills its output area and keeps that width from step to step: each figure takes the
# full width and a drawing wider than that is scaled down to it (the state diagram's width changes
# a little as the run goes on); the trace table is monospace, with its notes column wrapping.
WIDGET_CSS = (
    ".tcpsim-widget{width:100%;max-width:100%;box-sizing:border-box}"
    ".tcpsim-widget .tcpsim-figure{width:100%;max-width:100%;overflow-x:auto}"
    ".tcpsim-widget .tcpsim-figure svg{display:block;max-width:100%;height:auto}"
    ".tcpsim-widget .tcpsim-table{width:100%;max-width:100%;overflow-x:auto}"
    ".tcpsim-widget .widget-html-content{white-space:normal}"
    ".tcpsim-widget table.tcpsim-trace{font-family:var(--jp-code-font-family,monospace);"
    "font-size:var(--jp-code-font-size,13px);font-variant-numeric:tabular-nums;border-collapse:collapse}"
    ".tcpsim-widget table.tcpsim-trace td,.tcpsim-widget table.tcpsim-trace th{padding:0 .6em;"
    "text-align:left;white-space:nowrap;line-height:1.5}"
    ".tcpsim-widget table.tcpsim-trace td:last-child{white-space:normal;min-width:9em}"
    ".tcpsim-widget table.tcpsim-trace tr.tcpsim-change td{opacity:.75;font-style:italic}"
    ".tcpsim-widget table.tcpsim-trace tr.tcpsim-dropped td{text-decoration:line-through}")


def _widgets() -> Any:
    import ipywidgets  # type: ignore[import-untyped]

    return ipywidgets


def status_line(drops: list[Droppable], events: int, story: str = "") -> str:
    """The status line under the controls (markup): what is dropped, and what that did."""
    refs = t("list.separator").join(t("segment.ref", index=d.index) for d in drops)
    return html("widget.status", lost=refs or t("widget.none"), events=events, story=story)


class LivePanel:
    """The widgets of one live panel and how a change redraws them."""

    def __init__(self, panel: DropPanel, start: Setting | None = None):
        w = _widgets()
        self.panel = panel
        self.start = start or panel.setting()
        self.toggles = [w.ToggleButton(value=d.index in self.start["drops"], description=d.label,
                                       tooltip=t("widget.tooltip", label=d.label),
                                       layout=w.Layout(width="auto")) for d in panel.droppable]
        self.knobs = self._knob_widgets(w)
        self.step = w.IntSlider(value=0, min=0, max=1, description=t("widget.step"), continuous_update=True)
        self.play = w.Play(value=0, min=0, max=1, interval=PLAY_INTERVAL_MS, description=t("widget.play"))
        w.jslink((self.play, "value"), (self.step, "value"))
        self.reset_button = w.Button(description=t("widget.reset"), icon="undo")
        self.status = w.HTML()
        full = {"width": "100%", "max_width": "100%", "margin": "2px 0"}   # no side margin past 100%
        self.ladder, self.state, self.table = (w.HTML(layout=w.Layout(**full)) for _ in range(3))
        for figure in (self.ladder, self.state):
            figure.add_class("tcpsim-figure")
        self.table.add_class("tcpsim-table")
        self._busy = False
        self._connect()
        self.redraw()
        self.box = self._layout(w)

    # ------------------------------------------------------------ building
    def _knob_widgets(self, w: Any) -> dict[str, Any]:
        """A checkbox for a yes/no knob, a menu for the others, in the order of `KNOB_VALUES`."""
        defaults = self.start["knobs"]
        out = {}
        for name in KNOB_VALUES:
            if name not in self.panel.knobs:
                continue
            value, label = defaults[name], t(f"knob.{name}")
            if isinstance(value, bool):
                out[name] = w.Checkbox(value=value, description=label, indent=False)
            else:
                options = list(self.panel.knob_values(name))
                out[name] = w.Dropdown(options=options if isinstance(value, str) else sorted(options),
                                       value=value, description=label)
        return out

    def _connect(self) -> None:
        for toggle in self.toggles:
            toggle.observe(self.redraw, names="value")
        for knob in self.knobs.values():
            knob.observe(self.redraw, names="value")
        self.step.observe(self._on_step, names="value")
        self.reset_button.on_click(self.reset)

    def _layout(self, w: Any) -> Any:
        wrap = w.Layout(flex_flow="row wrap")
        controls = w.VBox([w.HTML(html("widget.heading", title=self.panel.title)),
                           w.HBox(self.toggles, layout=wrap),
                           w.HBox([*self.knobs.values(), self.reset_button]),
                           w.HBox([self.play, self.step]), self.status])
        style = w.HTML(f"<style>{WIDGET_CSS}</style>", layout=w.Layout(display="none"))
        box = live_box_class()([style, controls, self.ladder, self.state, self.table],
                               layout=w.Layout(width="100%", max_width="100%"))
        box.add_class("tcpsim-widget")
        box.static = self.panel.static_html(self.start)
        box.plain = t("widget.plain", title=self.panel.title)
        return box

    # ------------------------------------------------------------- running
    def settings(self) -> tuple[list[Droppable], Knobs]:
        """The segments the reader dropped and the knobs as they are set."""
        drops = [d for d, toggle in zip(self.panel.droppable, self.toggles, strict=True) if toggle.value]
        return drops, {name: knob.value for name, knob in self.knobs.items()}

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change widgets without each change redrawing."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def redraw(self, *_: object, keep_step: bool = False) -> None:
        """Render the run as set; a new run starts at its last step."""
        if self._busy:
            return
        drops, knobs = self.settings()
        step = self.step.value if keep_step and self.step.value < self.step.max else None
        r = self.panel.render(drops, step=step, **knobs)
        self.ladder.value, self.state.value, self.table.value = r["ladder"], r["state"], r["table"]
        if not keep_step:
            with self._quietly():
                self.step.max = self.play.max = r["events"]
                self.step.value = self.play.value = r["events"]
        for toggle in self.toggles:             # a cross only on a segment that is lost, not as a "remove"
            toggle.icon = "times" if toggle.value else ""
        self.status.value = status_line(drops, r["events"], self.panel.story(r["trace"], drops, knobs))

    def _on_step(self, _: object) -> None:
        self.redraw(keep_step=True)

    def reset(self, _: object = None) -> None:
        """Nothing dropped, every knob at the scenario's own value."""
        defaults = self.panel.defaults()
        with self._quietly():
            for toggle in self.toggles:
                toggle.value = False
            for name, knob in self.knobs.items():
                knob.value = defaults[name]
        self.redraw()


@functools.cache
def live_box_class() -> Any:
    vbox: Any = _widgets().VBox

    class LiveBox(vbox):  # type: ignore[misc]   # ipywidgets has no type hints
        """The live panel; displayed where there is no kernel, it offers its
        kernel-free twin as text/html (the website uses that)."""

        static = ""
        plain = ""

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
            if self.static:
                data["text/html"] = self.static
            if self.plain:                  # what an untrusted notebook or a terminal shows
                data["text/plain"] = self.plain
            return data

    return LiveBox
