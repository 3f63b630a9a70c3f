"""Regenerate the diagrams in docs/img/ from the simulator.

    .venv/bin/python tools/render_figures.py [outdir]

The state diagram (RFC 9293 Figure 5 view) goes through `dot`; the ladder
diagrams are SVG drawn by tcpsim.render.ladder and rasterised with headless
Chromium (Playwright, /usr/bin/chromium) for the PNG copies -- the render
layer is pure Python and needs no browser, so that step lives here.  The
runs are built from the connect-close scenario, so the figures do not depend
on the other built-ins' wording:

  connect-close        as it is
  lost-synack          drop segment 2 (the SYN,ACK)
  lost-last-ack        drop segment 6 (the client's last ACK; the client is in TIME_WAIT)
  simultaneous-close   both applications close at t = 2 s
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from tcpsim.core.network import run
from tcpsim.core.scenario import builtin
from tcpsim.core.trace import Trace
from tcpsim.render.ladder import ladder
from tcpsim.render.state_diagram import state_diagram


def runs() -> dict[str, Trace]:
    base = builtin("connect-close")

    def variant(name: str, drop: tuple[int, ...] = (), simultaneous: bool = False) -> Trace:
        d = copy.deepcopy(base)
        d["name"] = name
        if drop:
            d["network"] = {"drop": list(drop)}
        if simultaneous:
            d["endpoints"]["server"]["calls"] = [{"t": 0, "call": "listen"}, {"t": 2, "call": "close"}]
        return run(d)

    return {
        "connect-close": variant("connect-close"),
        "lost-synack": variant("lost SYN,ACK", drop=(2,)),
        "lost-last-ack": variant("lost last ACK", drop=(6,)),
        "simultaneous-close": variant("simultaneous close", simultaneous=True),
    }


def main(outdir: str | Path = "docs/img") -> list[Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    d = state_diagram("figure", title="The TCP state diagram (RFC 9293 Figure 5), drawn from tcpsim's table")
    written += [d.save(out / "state-diagram.svg"), d.save(out / "state-diagram.png")]
    for name, tr in runs().items():
        lad = ladder(tr)
        written += [lad.save(out / f"ladder-{name}.svg"),
                    svg_to_png(lad.svg(), out / f"ladder-{name}.png", lad.width, lad.height)]
    return written


def svg_to_png(svg: str, path: str | Path, width: int, height: int, scale: float = 2.0) -> Path:
    """Rasterise with headless Chromium through Playwright (the textbook's browser)."""
    from playwright.sync_api import sync_playwright
    path = Path(path)
    html = ("<!doctype html><html><body style='margin:0;background:#fff'>" + svg + "</body></html>")
    with sync_playwright() as p:
        exe = _chromium()
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"]) if exe \
            else p.chromium.launch(args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
            page.set_content(html)
            page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": width, "height": height})
        finally:
            browser.close()
    return path


def _chromium() -> str | None:
    import shutil
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


if __name__ == "__main__":
    for p in main(*sys.argv[1:2]):
        print(p)
