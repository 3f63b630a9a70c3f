"""What every figure of the render layer shares: colours, escaping, numbers, `Figure`.

Both renderers write text -- the ladder writes SVG by hand, the state diagram
writes DOT and tidies the SVG that `dot` makes of it -- and both promise the
same things: the bytes depend on the input alone (numbers have a fixed
precision, ids come from a hash of the figure's own title and description),
colours are the Okabe-Ito ones (safe for colour-blind readers) and never carry
a meaning alone, and every SVG says what it shows to a screen reader
(``role="img"``, a `<title>` and a `<desc>`).  The helpers for those promises
live here, once.

`Figure` is what a chapter holds: ``svg()``, Jupyter's ``_repr_svg_``,
``save(path)`` (by suffix: .svg always, .png for a figure with a ``png()``)
and a short ``repr``.  `Ladder` and `Diagram` derive from it.
"""

from __future__ import annotations

import hashlib
import os
from html import escape
from pathlib import Path

from ..core.units import US

#: Okabe-Ito colours, in the order figures hand them out: blue, vermillion,
#: bluish green, reddish purple, orange, sky blue.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
INK = "#1A1A1A"         # text and outlines
GREY = "#6B6B6B"        # secondary text: the time axis, initial states
DARK_GREY = "#444444"   # timers; edge labels under a painted run
EDGE_GREY = "#555555"   # edges of a state diagram
DIM = "#8C8C8C"         # edges a painted run did not take
GUIDE = "#BBBBBB"       # faint guide lines
PANEL = "#F2F2F2"       # boxes behind host names
PAPER = "#FFFFFF"       # every figure's own background


# ------------------------------------------------------------------ text and numbers
def esc(s: str) -> str:
    """`s` escaped for XML text and attribute values (Graphviz's HTML labels too)."""
    return escape(s, quote=True)


def num(x: float) -> str:
    """Fixed-precision number for SVG attributes (deterministic, compact): 12, 12.5."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def fmt_s(t_us: int) -> str:
    """Seconds with at most 3 decimals: 0.05, 1, 60."""
    s = f"{t_us / US:.3f}".rstrip("0").rstrip(".")
    return s or "0"


def fmt_gap(t_us: int) -> str:
    """A stretch of time, rounded as a reader would say it: 60, 1.9, 0.25."""
    s = t_us / US
    if s >= 10:
        return f"{s:.0f}"
    return f"{s:.2g}" if s < 1 else f"{s:.1f}".rstrip("0").rstrip(".")


# ------------------------------------------------------------------ accessibility
def svg_uid(prefix: str, title: str, desc: str) -> str:
    """An id for the figure's `<title>`/`<desc>`: unique per figure, the same on every run."""
    return prefix + hashlib.sha1((title + desc).encode()).hexdigest()[:8]


def aria(uid: str) -> str:
    """The `<svg>` attributes that name the figure's title and description."""
    return f'role="img" aria-labelledby="{uid}-title {uid}-desc"'


def title_and_desc(uid: str, title: str, desc: str) -> list[str]:
    """The `<title>` and `<desc>` elements, each on a line of its own."""
    return [f'<title id="{uid}-title">{esc(title)}</title>', f'<desc id="{uid}-desc">{esc(desc)}</desc>']


# ------------------------------------------------------------------ the base class
class Figure:
    """A rendered figure: SVG text, a title and a plain-English description."""

    #: the suffixes `save` writes (".png" needs a `png` method)
    formats: tuple[str, ...] = (".svg",)
    title: str
    desc: str

    def svg(self) -> str:
        raise NotImplementedError

    def png(self, dpi: int = 144) -> bytes:
        raise NotImplementedError(f"a {type(self).__name__} has no PNG form")

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the figure in the format its suffix names (see `formats`)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in self.formats:
            raise ValueError(f"a {type(self).__name__} saves as {' or '.join(self.formats)}, "
                             f"not {suffix or 'no suffix'!r}")
        if suffix == ".png":
            path.write_bytes(self.png())
        else:
            path.write_text(self.svg(), encoding="utf-8")
        return path

    def _repr_fields(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._repr_fields()}>"
