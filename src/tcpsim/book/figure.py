"""The static figure of a panel: ladder, state diagram and trace table side by side."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..core.trace import Trace
from .text import t


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
                '<style>.tcpsim-panel svg{max-width:100%;height:auto}</style>'
                f'<figcaption class="tcpsim-caption">{escape(self.caption)}</figcaption>'
                f'<p class="tcpsim-story">{escape(self.story)}</p>'
                '<div style="display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start">'
                f'<div class="tcpsim-ladder" style="max-width:100%;overflow-x:auto">{self.ladder}</div>'
                f'<div class="tcpsim-state" style="max-width:100%;overflow-x:auto">{self.state}</div></div>'
                f'<details><summary>{escape(t("figure.table"))}</summary>'
                f'<div class="tcpsim-table">{self.table}</div></details></figure>')

    def __repr__(self) -> str:
        return f"<PanelFigure {self.caption}>"

    def __str__(self) -> str:
        return self.caption + "\n" + self.trace.table()
