"""The lab chapter's capture explainer in a notebook: a still explanation and a file-upload panel.

    CaptureView(sample("lost-fin"))          # the table, the ladder, the states, the model beside it
    CapturePanel().widget()                  # JupyterLab: upload a pcap/pcapng and see it explained

Both call `tcpsim.capture.explain`; the figures are the renderers' SVGs, put
into the HTML as `<img>` tags with data URIs (shown by an untrusted notebook
too; the website puts them back inline).  Every word is in `book.text`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..capture import explain, table
from ..core.errors import TcpSimError
from ..render.figure import svg_img
from .text import html, t

_STYLE = "max-width:100%;height:auto"


class CaptureView:
    """One connection of a capture explained, as a notebook shows it (text and HTML)."""

    def __init__(self, source: bytes | str, conn: int = 1, profile: str = "linux",
                 figures: tuple[str, ...] = ("ladder", "state_diagram", "model_ladder")):
        self.result = explain(source, conn, profile)
        self.figures = figures

    @property
    def text(self) -> str:
        return table(self.result)

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        svgs = self.result["connection"]["svg"]
        parts = [f'<pre class="tcpsim-capture">{escape(self.text)}</pre>']
        for key in self.figures:
            parts.append(html(f"capture.figure.{key}"))
            parts.append(f'<div class="tcpsim-capture-{key}">{svg_img(svgs[key], _STYLE)}</div>')
        return "\n".join(parts)


class CapturePanel:
    """A FileUpload that explains the uploaded capture (connection `conn`, the model on `profile`)."""

    def __init__(self, conn: int = 1, profile: str = "linux"):
        self.conn, self.profile = conn, profile

    def explain(self, data: bytes) -> list[dict[str, Any]]:
        """The output area's outputs for `data` (an explanation, or the error's one line)."""
        try:
            view = CaptureView(data, self.conn, self.profile)
        except TcpSimError as e:
            msg = t("capture.error", error=str(e))
            return [{"output_type": "stream", "name": "stdout", "text": msg + "\n"}]
        return [{"output_type": "display_data", "metadata": {},
                 "data": {"text/plain": view.text, "text/html": view._repr_html_()}}]

    def widget(self) -> Any:
        import ipywidgets as w  # type: ignore[import-untyped]

        upload = w.FileUpload(accept=".pcap,.pcapng,.cap", multiple=False, description=t("capture.upload"))
        out = w.Output()
        hint = w.HTML(html("capture.hint"))

        def changed(change: dict[str, Any]) -> None:
            files = change["new"]
            if files:
                out.outputs = tuple(self.explain(bytes(files[0]["content"])))

        upload.observe(changed, names="value")
        from .live import live_box_class

        box = live_box_class()([hint, upload, out])
        box.static = self.static_html()          # the website's form: explained in the page itself
        return box

    def static_html(self) -> str:
        """Where there is no kernel (the website): a file chooser and a drop zone that the page script
        (static/tcpsim-capture.js) hands to the live simulator, which explains the capture in the
        browser; without JavaScript, or from disk, a note saying what to run instead."""
        return (f'<div class="tcpsim-capture-drop" data-conn="{self.conn}" data-profile="{escape(self.profile)}">'
                f'<p class="tcpsim-note">{html("capture.static")}</p></div>')
