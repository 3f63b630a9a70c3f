"""The static figure of a panel: ladder, state diagram and trace table side by side.

Its HTML is written for every place a notebook is read.  The two drawings are
``<img>`` tags holding their SVG as a data URI (`tcpsim.render.figure.svg_img`)
and every style is an inline ``style`` attribute: JupyterLab shows a notebook it
does not trust through a sanitizer that drops ``<svg>`` and ``<style>`` (leaving
the SVG's text as a wall of words) but keeps ``<img>`` with a data URI, inline
styles, ``<figure>``, ``<details>`` and tables, so the same HTML shows the same
panel trusted or not.  The website shows the drawings inline (its zoom, dark
theme and page script work on ``<svg>``): `tcpsim.book.sphinx` turns each such
``<img>`` back into the SVG it holds (`inline_svgs`), and the site's stylesheet
sizes them.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..core.trace import Trace
from ..render.figure import svg_img
from .text import t

#: a drawing never wider than the panel's column (the website's stylesheet says the same for its SVGs)
DRAWING_STYLE = "max-width:100%;height:auto"


class PanelFigure:
    """Ladder, state diagram and trace table side by side, as static HTML."""

    def __init__(self, caption: str, ladder_svg: str, state_svg: str, table_html: str, trace: Trace,
                 story: str = "", twin: tuple[str, Any] | None = None):
        self.caption, self.ladder, self.state, self.table, self.trace, self.story = (
            caption, ladder_svg, state_svg, table_html, trace, story)
        self.twin = twin      # (panel id, setting) when this is a live panel's still twin

    def _repr_html_(self) -> str:
        twin = ""
        if self.twin:
            setting = json.dumps(self.twin[1], sort_keys=True, separators=(",", ":"))
            twin = f' data-tcpsim-twin="{self.twin[0]}" data-tcpsim-setting="{escape(setting)}"'
        return (f'<figure class="tcpsim-panel"{twin}>'
                f'<figcaption class="tcpsim-caption">{escape(self.caption)}</figcaption>'
                f'<p class="tcpsim-story">{escape(self.story)}</p>'
                '<div style="display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start">'
                '<div class="tcpsim-ladder" style="max-width:100%;overflow-x:auto">'
                f'{svg_img(self.ladder, DRAWING_STYLE)}</div>'
                '<div class="tcpsim-state" style="max-width:100%;overflow-x:auto">'
                f'{svg_img(self.state, DRAWING_STYLE)}</div></div>'
                f'<details><summary>{escape(t("figure.table"))}</summary>'
                f'<div class="tcpsim-table">{self.table}</div></details></figure>')

    def __repr__(self) -> str:
        return f"<PanelFigure {self.caption}>"

    def __str__(self) -> str:
        return self.caption + "\n" + self.trace.table()
