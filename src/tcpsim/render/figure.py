"""What every figure of the render layer shares: colours, escaping, numbers, `Figure`.

Both renderers write text -- the ladder writes SVG by hand, the state diagram
writes DOT and tidies the SVG that `dot` makes of it -- and both promise the
same things: the bytes depend on the input alone (numbers have a fixed
precision, ids come from a hash of the figure's own title and description),
colours are the Okabe-Ito ones (safe for colour-blind readers) and never carry
a meaning alone, and every SVG says what it shows to a screen reader
(``role="img"``, a `<title>` and a `<desc>`).  The helpers for those promises
live here, once.

`Figure` is what a chapter holds: ``svg()``, Jupyter's ``_repr_svg_`` and
``_repr_mimebundle_``, ``save(path)`` (by suffix: .svg always, .png for a
figure with a ``png()``) and a short ``repr``.  `Ladder` and `Diagram` derive
from it.

A notebook stores a figure twice: as image/svg+xml (what the website shows,
as an ``<img>`` of an .svg file) and as text/markdown holding an ``<img>`` whose
``src`` is the same SVG as a base64 data URI (`svg_img`).  JupyterLab shows
image/svg+xml only in a trusted notebook, but markdown in any notebook: its
sanitizer keeps ``<img>`` with a data URI, and JupyterLab prefers markdown to
SVG, so a chapter opened untrusted shows its pictures.  Both forms are text
that depends on the figure alone, so nbval can compare them; the ``alt`` text
is the SVG's own ``<title>: <desc>``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
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


# ------------------------------------------------------------------ an SVG as an <img>
SVG_URI = "data:image/svg+xml;base64,"
_TITLE = re.compile(r'<title id="[^"]*">([^<]*)</title>')
_DESC = re.compile(r'<desc id="[^"]*">([^<]*)</desc>')
#: an `svg_img` tag, as `svg_img` writes it (its base64 in group 1)
SVG_IMG = re.compile(r'<img class="tcpsim-svg" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]*)"[^>]*>')


def svg_alt(svg: str) -> str:
    """The SVG's `<title>: <desc>`, escaped for an attribute (both are escaped in the SVG already)."""
    title, desc = _TITLE.search(svg), _DESC.search(svg)
    if title is None or desc is None:
        raise ValueError("the SVG has no <title> or no <desc>: every figure says what it shows")
    return f"{title.group(1)}: {desc.group(1)}"


def svg_img(svg: str, style: str = "") -> str:
    """`svg` as an ``<img>`` with a data URI: what an untrusted notebook still shows (see above).
    `style` is an inline style (a sanitizer keeps those, but no ``<style>`` element)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    extra = f' style="{esc(style)}"' if style else ""
    return f'<img class="tcpsim-svg" src="{SVG_URI}{data}" alt="{svg_alt(svg)}"{extra}>'


def inline_svgs(html: str) -> str:
    """`html` with every `svg_img` tag replaced by the SVG it holds (the website's form)."""
    return SVG_IMG.sub(lambda m: base64.b64decode(m.group(1)).decode("utf-8"), html)


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

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        """image/svg+xml for the website and a trusted notebook; text/markdown (`svg_img`) for
        JupyterLab, which shows it trusted or not.  IPython adds text/plain (the ``repr``)."""
        svg = self.svg()
        return {"image/svg+xml": svg, "text/markdown": svg_img(svg, "max-width:100%;height:auto")}

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
