"""A Sphinx extension that makes drop-a-packet panels work without a kernel.

On the website a live panel (`DropPanel.widget()`) is rendered from its
text/html form (`DropPanel.static_html`): the loss-free figure plus the
panel's spec as JSON.  When the build finishes, this extension finds every
spec in the written pages, re-creates the panel with the same simulator,
pre-renders every single and pair of drops with every knob value
(`DropPanel.page_data`) and writes them next to the site as
``_static/tcpsim/panel-<id>.js``.  ``tcpsim-panels.js`` loads that file with
a plain ``<script>`` tag (so the page works from ``file://`` too) and swaps
the figures when the reader toggles a segment.  Nothing is fetched from
outside the site.  The script's words (hints, status lines, error messages)
are written into every page from `tcpsim.book.text` (``window.tcpsimText``).

A panel's notebook output holds its drawings as ``<img>`` tags with data URIs,
which JupyterLab shows in a notebook it does not trust (`tcpsim.book.figure`);
the website puts each back inline as the SVG it holds (`_inline_drawings`), so
its zoom, dark theme and page script find the ``<svg>`` they work on.

Use it by listing ``tcpsim.book.sphinx`` (or its old name ``tcpsim.sphinx``) in ``sphinx.extra_extensions``.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..render.figure import SVG_IMG, inline_svgs
from .panels import DropPanel, spec_id
from .text import late_script, page_script

STATIC = Path(__file__).parent / "static"
SPEC = re.compile(r'<script type="application/json" class="tcpsim-spec">(.*?)</script>', re.S)


def _specs(app: Any, pattern: re.Pattern[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every JSON spec the written pages carry in `pattern`'s script, with the folder for its data
    (``_static/tcpsim``)."""
    out = Path(app.outdir)
    target = out / "_static" / "tcpsim"
    target.mkdir(parents=True, exist_ok=True)
    for page in sorted(out.rglob("*.html")):
        for raw in pattern.findall(page.read_text(encoding="utf-8")):
            yield target, json.loads(html.unescape(raw) if raw.lstrip().startswith("{&") else raw)


def _write_panels(app: Any, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    done: set[str] = set()
    for target, spec in _specs(app, SPEC):
        pid = spec_id(spec)
        if pid in done:           # the same panel on another page: already written
            continue
        panel = DropPanel.from_spec(spec)
        _write_data(target / f"panel-{pid}.js", "tcpsimPanels", pid, panel.page_data())
        done.add(pid)


def _packed(data: Any) -> str:
    """JSON, gzipped (mtime 0: the same bytes every build) and base64: SVG text shrinks
    about tenfold; the page inflates it with DecompressionStream."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def _write_data(path: Path, registry: str, key: str, data: Any) -> None:
    """A classic script that files `data` under window.<registry>[key] (a page loads it with a
    script tag: from file:// the browser refuses fetch())."""
    path.write_text(f"window.{registry} = window.{registry} || {{}};\n"
                    f"window.{registry}[{json.dumps(key)}] = \"{_packed(data)}\";\n", encoding="utf-8")


QUIZ_SPEC = re.compile(r'<script type="application/json" class="tcpsim-quiz-spec">(.*?)</script>', re.S)


def _write_quizzes(app: Any, exception: BaseException | None) -> None:
    """Each question's pool of variants, pre-generated with the same simulator (tcpsim.book.quiz),
    as ``_static/tcpsim/quiz-<id>.js``."""
    if exception is not None or app.builder.format != "html":
        return
    from .quiz import Question

    done: set[str] = set()
    for target, spec in _specs(app, QUIZ_SPEC):
        q = Question.from_spec(spec)
        if q.spec_id() not in done:
            _write_data(target / f"quiz-{q.spec_id()}.js", "tcpsimQuiz", q.spec_id(), q.pool())
            done.add(q.spec_id())


WHEN = re.compile(r'<script type="application/json" class="tcpsim-when-spec">')


def _write_when(app: Any, exception: BaseException | None) -> None:
    """The ladders of the appendix "What TCP does when..." (tcpsim.book.when), if a page has its table."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    if not any(WHEN.search(p.read_text(encoding="utf-8")) for p in out.rglob("*.html")):
        return
    from ..data import linux
    from .when import WhenTable

    packed = _packed(WhenTable(kernel=linux("conformance")).ladders())
    target = out / "_static" / "tcpsim"
    target.mkdir(parents=True, exist_ok=True)
    (target / "when-1.js").write_text(f'window.tcpsimWhen = "{packed}";\n', encoding="utf-8")


def _inline_drawings(app: Any, doctree: Any, docname: str) -> None:
    """Every drawing a notebook output holds as a data-URI ``<img>`` inline again, as its SVG.
    (Nodes are found by name: this layer imports nothing of docutils.)"""
    if app.builder.format != "html":
        return
    for node in doctree.findall(lambda n: getattr(n, "tagname", "") == "raw"):
        text = node.astext()
        if "html" in node.get("format", "").split() and len(node.children) == 1 and SVG_IMG.search(text):
            text = inline_svgs(text)
            node.rawsource = text
            node.replace(node.children[0], type(node.children[0])(text))     # a docutils Text node


def _tidy_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Drop the frozen ipywidget state myst-nb would embed (the page shows the
    kernel-free twin instead; it would only add weight) and duplicate scripts."""
    files = context.get("script_files")
    if files:
        kept: list[Any] = []
        seen: set[tuple[Any, ...]] = set()
        for f in files:
            attrs = getattr(f, "attributes", {}) or {}
            if attrs.get("type") == "application/vnd.jupyter.widget-state+json":
                continue
            key = (getattr(f, "filename", None) or None, tuple(sorted(attrs.items())))
            if key in seen:   # jupyter-book 1.0 adds sphinx-thebe's config script twice:
                continue      # "Identifier 'THEBE_JS_URL' has already been declared"
            seen.add(key)
            kept.append(f)
        context["script_files"] = kept


#: what the site's own source download holds (the project, without built or installed files)
SOURCE = ("README.md", "run.sh", "pyproject.toml", "requirements.txt", "_config.yml", "_toc.yml", ".ci",
          "book", "src", "tests", "tools", "benchmarks", "docs", "web")
SOURCE_FILE = "tcpsim-book-source.tar.gz"
SKIP = ("__pycache__", ".ipynb_checkpoints", ".egg-info", ".pytest_cache", "node_modules")


def _source_link(app: Any, config: Any) -> None:
    """"Run it yourself" names where the book's source is: its repository, or the site's own download."""
    repo = config.tcpsim_repository
    link = (f"The book's source is at <{repo}>." if repo else
            f'Download the book\'s source, as this website was built from it: <a href="../_static/'
            f'{SOURCE_FILE}" download>{SOURCE_FILE}</a> (unpack it with `tar xzf {SOURCE_FILE}`).')
    config.myst_substitutions = {**(config.myst_substitutions or {}), "source": link}


def _write_source(app: Any, exception: BaseException | None) -> None:
    """The site offers its own source when the book has no public repository yet
    (deterministic: sorted names, mtime 0, no owners)."""
    if exception is not None or app.builder.format != "html" or app.config.tcpsim_repository:
        return
    import io
    import tarfile

    top = Path(app.srcdir)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name in SOURCE:
            base = top / name
            paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
            for path in paths:
                rel = path.relative_to(top)
                if any(part.endswith(SKIP) for part in rel.parts):
                    continue
                info = tar.gettarinfo(str(path), arcname=f"tcp-book/{rel.as_posix()}")
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with path.open("rb") as f:
                    tar.addfile(info, f)
    target = Path(app.outdir) / "_static"
    target.mkdir(parents=True, exist_ok=True)
    (target / SOURCE_FILE).write_bytes(buf.getvalue())


SVG_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S)
SVG_DESC = re.compile(r"<desc[^>]*>(.*?)</desc>", re.S)


def _svg_alt(app: Any, doctree: Any, docname: str) -> None:
    """A diagram written as an <img> keeps its accessible name: its alt text is the SVG's own
    <title> and <desc> (the plain-English account of the drawing), not the file's hash name."""
    from docutils import nodes  # type: ignore[import-untyped]

    for img in doctree.findall(nodes.image):
        rel = (img.get("candidates") or {}).get("*") or img.get("uri", "")
        if not rel.endswith(".svg") or (img.get("alt") and not img["alt"].endswith(".svg")):
            continue
        path = Path(app.srcdir) / rel
        if not path.is_file():
            continue
        svg = path.read_text(encoding="utf-8")
        found = (SVG_TITLE.search(svg), SVG_DESC.search(svg))
        parts = [" ".join(html.unescape(m.group(1)).split()) for m in found if m]
        if parts:
            img["alt"] = ". ".join(parts)


#: "RFC 9293 §3.10.7.4", "RFC 6298 §2.1", "RFC 793", and a bare "§3.5", which names a section
#: of the RFC the paragraph last named (RFC 9293 if none): each links to the RFC Editor's copy
RFC = re.compile(r"\bRFC[ \u00a0](\d{3,4})(?:,?[ \u00a0]§\s?(\d+(?:\.\d+)*))?|§\s?(\d+(?:\.\d+)*)")
RFC_URL = "https://www.rfc-editor.org/rfc/rfc{number}.html"
MAIN_RFC = "9293"


def _rfc_links(app: Any, doctree: Any, docname: str) -> None:
    """Every "RFC N", "RFC N §x.y" and "§x.y" in the text links to that RFC (and section);
    code, links, headings and figures are left alone."""
    from docutils import nodes

    skip = (nodes.literal, nodes.literal_block, nodes.reference, nodes.title, nodes.raw, nodes.image,
            nodes.FixedTextElement, nodes.caption)
    last: dict[int, str] = {}                   # per paragraph: the RFC it named last
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or any(isinstance(a, skip) for a in _ancestors(text)):
            continue
        block = next((a for a in _ancestors(text) if isinstance(a, nodes.TextElement)), parent)
        value = str(text)
        pieces, at = [], 0
        for m in RFC.finditer(value):
            number = m.group(1) or last.get(id(block), MAIN_RFC)
            section = m.group(2) or m.group(3)
            if m.group(1):
                last[id(block)] = m.group(1)
            pieces.append(nodes.Text(value[at:m.start()]))
            url = RFC_URL.format(number=number) + (f"#section-{section}" if section else "")
            pieces.append(nodes.reference(m.group(0), m.group(0), refuri=url, classes=["tcpsim-rfc"]))
            at = m.end()
        if not pieces:
            continue
        pieces.append(nodes.Text(value[at:]))
        parent.replace(text, [p for p in pieces if not (isinstance(p, nodes.Text) and not str(p))])


def _ancestors(node: Any) -> Iterator[Any]:
    while node is not None:
        yield node
        node = node.parent


def _static_path(app: Any) -> None:
    app.config.html_static_path.append(str(STATIC))


def _live_graphviz(app: Any, config: Any) -> None:
    """Lay every state diagram of the website out with the Graphviz the page's live simulator runs
    (WebAssembly, under Node here): the notebooks the build runs inherit TCPSIM_WASM_GRAPHVIZ, and this
    process draws the pre-computed panels with it, so a figure does not move when the page computes
    the next one itself.  (JupyterLab and the stored notebooks keep Debian's `dot`.)"""
    import os

    from ..render.state_diagram import use_graphviz, wasm_graphviz
    from .webbuild import graphviz_module, live_size

    module = str(graphviz_module(Path(app.srcdir)))
    os.environ["TCPSIM_WASM_GRAPHVIZ"] = module
    use_graphviz(wasm_graphviz(module))
    mb = live_size(Path(app.srcdir)) / 1e6
    app.add_js_file(None, body=f'window.tcpsimLiveMB = "{mb:.0f}";')     # what the loading line says


def _write_live(app: Any, exception: BaseException | None) -> None:
    """The live simulator's files next to the site (tcpsim.book.webbuild), once Pyodide under Node
    has given the same bytes as this Python for every built-in scenario."""
    if exception is not None or app.builder.format != "html":
        return
    from .webbuild import check_under_pyodide, vendor

    checked = check_under_pyodide(Path(app.srcdir))
    sizes = vendor(Path(app.srcdir), Path(app.outdir) / "_static")
    # the words of the playground's and the drop zone's scripts (tcpsim.book.text.LATE)
    (Path(app.outdir) / "_static" / "tcpsim" / "text-late.js").write_text(late_script(), encoding="utf-8")
    logger = _logger()
    logger.info(f"tcpsim: live simulator written ({sum(sizes.values()) / 1e6:.1f} MB); "
                f"{checked['scenarios']} built-in scenarios give the same bytes under Pyodide "
                f"(Python {checked['python']}, Graphviz {checked['graphviz']})")


def _logger() -> Any:
    import logging

    return logging.getLogger("sphinx.tcpsim")       # Sphinx's own handlers print what is under "sphinx."


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("tcpsim_repository", "", "html")
    app.connect("config-inited", _source_link)
    app.connect("build-finished", _write_source)
    app.connect("builder-inited", _static_path)
    app.connect("config-inited", _live_graphviz)
    app.connect("build-finished", _write_live)
    app.add_js_file(None, body=page_script())    # the words of tcpsim-panels.js, before it runs
    app.add_js_file("tcpsim-panels.js")
    app.add_js_file("tcpsim-when.js")
    app.add_js_file("tcpsim-theme.js")
    app.add_js_file("tcpsim-zoom.js")
    app.add_js_file("tcpsim-quiz.js")
    app.add_css_file("tcpsim-panels.css")
    app.add_css_file("tcpsim-quiz.css")
    app.connect("build-finished", _write_panels)
    app.connect("build-finished", _write_quizzes)
    app.connect("build-finished", _write_when)
    app.connect("doctree-resolved", _inline_drawings)
    app.connect("html-page-context", _tidy_scripts)
    app.connect("doctree-resolved", _svg_alt)
    app.connect("doctree-resolved", _rfc_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
