"""The drop-a-packet panel: what can be dropped, its static twin, its widget, and
where the words it shows come from (tcpsim.book.text)."""

import base64
import json
import re
import string
from html import escape, unescape
from pathlib import Path

import pytest

from tcpsim.book import text
from tcpsim.book.text import LATE, TEXT, html, late_script, page_script, page_text, t
from tcpsim.render.figure import inline_svgs
from tcpsim.widgets import DropPanel

BOOK_LAYER = Path(text.__file__).resolve().parent
SCRIPT = "".join((BOOK_LAYER / "static" / name).read_text(encoding="utf-8")
                 for name in ("tcpsim-panels.js", "tcpsim-when.js", "tcpsim-zoom.js", "tcpsim-playground.js",
                              "tcpsim-capture.js",
                              "tcpsim-quiz.js"))


@pytest.fixture(scope="module")
def panel():
    return DropPanel("connect-close", knobs=("time_wait",))


def test_droppable_segments_are_the_loss_free_exchange(panel):
    assert [(d.src, d.flags, d.seq, d.ack) for d in panel.droppable] == [
        ("client", "S", 100, None), ("server", "SA", 300, 101), ("client", "A", 101, 301),
        ("client", "FA", 101, 301), ("server", "FA", 301, 102), ("client", "A", 102, 302)]


def test_a_drop_means_the_same_segment_in_any_combination(panel):
    tr = panel.run([3, 6])
    lost = [(r.seg.flags, r.seg.seq, r.seg.ack) for r in tr.segments if r.dropped]
    assert lost == [("A", 101, 301), ("A", 102, 302)]   # not the re-ACK of the SYN-ACK


def test_static_twin_is_deterministic_and_shows_the_loss(panel):
    a = panel.show(drop=[2])._repr_html_()
    assert a == panel.show(drop=[2])._repr_html_()
    a, nothing = inline_svgs(a), inline_svgs(panel.show()._repr_html_())   # the drawings as SVG text
    assert "(lost)" in a and "(rtx)" in a and "<table" in a
    assert "(lost)" not in nothing


def drawings(page):
    """The SVGs a panel's HTML holds as data-URI <img> tags, decoded, with their alt texts."""
    found = re.findall(r'<img class="tcpsim-svg" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"'
                       r' style="max-width:100%;height:auto">', page)
    return [(base64.b64decode(b64, validate=True).decode("utf-8"), unescape(alt)) for b64, alt in found]


def test_the_static_twin_shows_untrusted_and_the_website_gets_its_svgs_inline(panel):
    """JupyterLab's sanitizer (an untrusted notebook) drops <svg> and <style> but keeps <img> with a
    data URI and inline styles; the website puts the SVGs back inline (tcpsim.book.sphinx)."""
    r = panel.render([2])
    page = panel.show(drop=[2])._repr_html_()
    assert "<svg" not in page and "<style" not in page and "<script" not in page
    (ladder_svg, ladder_alt), (state_svg, state_alt) = drawings(page)
    assert (ladder_svg, state_svg) == (r["ladder"], r["state"])
    for svg, alt in ((ladder_svg, ladder_alt), (state_svg, state_alt)):
        title, desc = (unescape(re.search(rf"<{tag} id=[^>]*>([^<]*)</{tag}>", svg).group(1))
                       for tag in ("title", "desc"))
        assert alt == f"{title}: {desc}"
    site = inline_svgs(page)
    assert f'<div class="tcpsim-ladder" style="max-width:100%;overflow-x:auto">{r["ladder"]}</div>' in site
    assert f'<div class="tcpsim-state" style="max-width:100%;overflow-x:auto">{r["state"]}</div>' in site
    assert f'<div class="tcpsim-table">{r["table"]}</div>' in page
    live = panel.static_html()                        # the live panel's twin: the same figure, its spec
    assert "<svg" not in live and drawings(live) == [(s, a) for s, a in drawings(panel.show(drop=[2])._repr_html_())]


def test_the_website_inlines_the_drawings_of_every_html_output(panel):
    from docutils import nodes

    from tcpsim.book.sphinx import _inline_drawings

    page = panel.static_html()
    doctree = nodes.document(None, None)
    doctree += nodes.raw("", page, format="html")
    doctree += nodes.raw("", page, format="latex")
    builder = type("Builder", (), {"format": "html"})()
    _inline_drawings(type("App", (), {"builder": builder})(), doctree, "intro")
    html_node, latex_node = doctree.children
    assert html_node.astext() == inline_svgs(page) and "<svg" in html_node.astext()
    assert latex_node.astext() == page


def test_time_wait_knob_turns_the_reack_into_a_reset(panel):
    flags = [r.seg.flags for r in panel.run([6], time_wait=False).segments]
    assert flags[-1] == "R"
    assert "R" not in [r.seg.flags for r in panel.run([6]).segments]


def test_variants_cover_every_single_and_pair(panel):
    v = panel.variants()
    n = len(panel.droppable)
    assert len(v) == (1 + n + n * (n - 1) // 2) * 2
    assert "2,5|time_wait=0" in v and "|time_wait=1" in v


def test_the_live_panel_starts_at_its_still_twin():
    """One panel per place: the live panel made after a still figure starts at that figure's
    setting, and its page form says so, so that the website can put it in the figure's place."""
    p = DropPanel("connect-close", knobs=("time_wait",))
    alone = p.static_html()
    assert 'data-tcpsim-start="{&quot;drops&quot;:[],&quot;knobs&quot;:{&quot;time_wait&quot;:true}}"' in alone
    assert "tcpsim-twinned" not in alone and t("static.note") in alone
    twin = p.show(drop=[6], time_wait=False)._repr_html_()
    setting = escape(json.dumps({"drops": [6], "knobs": {"time_wait": False}}, separators=(",", ":")))
    assert f'data-tcpsim-twin="{p.spec_id()}" data-tcpsim-setting="{setting}"' in twin
    page = p.static_html()
    assert f'data-tcpsim-start="{setting}"' in page and "tcpsim-twinned" in page
    assert t("static.note.twin") in page.replace("&#x27;", "'")
    assert twin.split("<figcaption", 1)[1] == page.split("<figcaption", 1)[1].rsplit("</div>", 1)[0]
    _, controls, *_ = p.widget().children
    assert [b.value for b in controls.children[1].children] == [False] * 5 + [True]
    assert controls.children[2].children[0].value is False          # TIME_WAIT off, as the twin
    _, controls, *_ = p.widget(drop=[1]).children                  # or where the author says
    assert [b.value for b in controls.children[1].children] == [True] + [False] * 5
    with pytest.raises(ValueError, match="no knob 'delay'"):
        p.widget(delay=0.25)
    other = p.show(drop=[2], delay=0.25)._repr_html_()     # a setting the panel's knobs cannot reach:
    assert "(lost)" in other and "data-tcpsim-twin" not in other   # drawn, but not a twin to start from
    assert p.start() == {"drops": [6], "knobs": {"time_wait": False}}


def test_the_page_rebuilds_a_panel_with_its_hosts_in_order():
    """The website re-creates a panel from the spec in its page: the same hosts in the same
    order (c1, server, c2 as the scenario lists them, not sorted), so the same drawing."""
    two = {"name": "two clients", "endpoints": {
        "c1": {"port": 40000, "isn": 1000, "calls": [{"t": 0, "call": "connect", "to": "server"}]},
        "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"}]},
        "c2": {"port": 40000, "isn": 2000, "calls": [{"t": 0.2, "call": "connect", "to": "server"}]}}}
    p = DropPanel(two)
    raw = re.search(r'<script type="application/json" class="tcpsim-spec">(.*?)</script>', p.static_html()).group(1)
    again = DropPanel.from_spec(json.loads(raw.replace("<\\/", "</")))
    assert again.spec_id() == p.spec_id()
    assert again.render([2])["ladder"] == p.render([2])["ladder"]
    assert list(again.base["endpoints"]) == ["c1", "server", "c2"]
    assert again.page_data()["variants"]["2|"] is not None


def test_widget_toggle_redraws_and_reset_restores():
    panel = DropPanel("connect-close", knobs=("time_wait",))
    box = panel.widget()
    _, controls, ladder_html, _, table = box.children
    toggles = controls.children[1].children
    before = ladder_html.value
    assert not any(t.icon for t in toggles), "no cross on a segment that is not lost (it reads as 'remove')"
    toggles[1].value = True                      # drop the SYN-ACK
    assert ladder_html.value != before and "(lost)" in ladder_html.value
    assert [bool(t.icon) for t in toggles[:3]] == [False, True, False]
    assert "dropped" in table.value
    reset = controls.children[2].children[-1]
    reset.click()
    assert ladder_html.value == before and not any(t.value for t in toggles)


def test_the_widget_fills_its_output_area_at_a_width_that_does_not_change(panel):
    # The state diagram's own width changes from step to step (graphviz lays out what the run has
    # reached so far) and is wider than a notebook column; the widget must neither jump nor overflow.
    box = panel.widget()
    style, _, ladder_html, state_html, table = box.children
    assert box.layout.width == "100%" and "tcpsim-widget" in box._dom_classes
    assert all(f.layout.width == "100%" and "tcpsim-figure" in f._dom_classes for f in (ladder_html, state_html))
    assert ".tcpsim-widget .tcpsim-figure svg{display:block;max-width:100%;height:auto}" in style.value
    assert "table.tcpsim-trace{font-family:var(--jp-code-font-family,monospace)" in style.value
    assert "tcpsim-table" in table._dom_classes


def test_unknown_drop_is_a_clear_error(panel):
    with pytest.raises(ValueError, match="no segment 9 to drop; choose from 1 to 6"):
        panel.show(drop=[9])


def test_delay_knob_offers_the_scenarios_own_value_first():
    p = DropPanel("connect-close", knobs=("delay",))
    assert p.knob_values("delay") == (0.05, 0.005, 0.25) and p.defaults() == {"delay": 0.05}
    slow = p.run([2], delay=0.25)
    assert [r.t for r in slow.segments][:2] == [0, 250_000]
    assert "|delay=0.25" in p.variants(max_drops=0)


def test_knobs_start_from_the_scenarios_own_what_if_and_can_undo_it():
    p = DropPanel("incarnation-no-time-wait", knobs=("time_wait",))
    assert p.defaults() == {"time_wait": False}
    assert "whatif" not in p.scenario(time_wait=True)
    assert p.scenario()["whatif"] == {"time_wait": 0}


def test_segments_the_scenario_already_loses_are_not_offered():
    p = DropPanel("lost-synack")
    assert all(not (d.src == "server" and d.flags == "SA") for d in p.droppable)


# ------------------------------------------------------------- the words
def test_a_text_is_looked_up_by_key_and_an_unknown_key_fails_loudly():
    assert t("caption", title="connect-close", what="nothing") == "connect-close: dropped nothing"
    with pytest.raises(KeyError, match="no text 'caption.nope' in tcpsim.book.text.TEXT"):
        t("caption.nope")
    with pytest.raises(KeyError, match="what"):
        t("caption", title="a field left out")
    assert html("widget.heading", title="a<b") == "<b>a&lt;b</b>: click a segment to lose it"


def test_the_static_twin_and_the_widget_show_the_catalogues_words():
    panel = DropPanel("connect-close", knobs=("time_wait",))
    page = panel.static_html()
    assert escape(TEXT["static.note"]) in page and f'aria-label="{TEXT["static.controls"]}"' in page
    figure = panel.show(drop=[6], time_wait=False)._repr_html_()
    page = panel.static_html()                 # now the live panel starts at this figure's setting
    assert f"<summary>{TEXT['figure.table']}</summary>" in figure
    assert TEXT["setting.time_wait.off"] in figure and escape(t("segment.dropped", index=6, src="client",
                                                                flags="ACK")) in figure
    box = panel.widget()
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == t("widget.plain", title=panel.title) and bundle["text/html"] == page
    assert "application/vnd.jupyter.widget-view+json" in bundle
    controls = box.children[1]
    assert controls.children[0].value == html("widget.heading", title=panel.title)
    assert controls.children[2].children[0].description == TEXT["knob.time_wait"]
    assert controls.children[2].children[-1].description == TEXT["widget.reset"]
    events = panel.render([6], time_wait=False)["events"]
    story = panel.story(panel.run([6], time_wait=False), [panel.droppable[5]], {"time_wait": False})
    assert controls.children[4].value == html("widget.status", lost=t("segment.ref", index=6), events=events,
                                              story=story)
    controls.children[2].children[-1].click()                  # reset: nothing dropped, TIME_WAIT on
    events = panel.render()["events"]
    story = panel.story(panel.run(**panel.defaults()), [], panel.defaults())
    assert controls.children[4].value == html("widget.status", lost=TEXT["widget.none"], events=events, story=story)


def test_the_story_says_what_a_loss_did():
    """connect-close with the SYN,ACK lost: the server's retransmission timer (RTO 1 s before
    any RTT sample, RFC 6298 §2.1) sends it again 1 s later; both ends still close."""
    from tcpsim import DropPanel

    p = DropPanel("connect-close")
    story = p.show(drop=[2]).story
    assert story.startswith("#2 (server's SYN,ACK) is lost; server sends it again 1 s later.")
    assert story.endswith("In the end: client CLOSED, server CLOSED.")
    assert p.show().story.startswith(TEXT["story.none"])
    # a knob the reader turned is named after the sentence, as a sentence of its own
    turned = DropPanel("connect-close", knobs=("time_wait",)).show(drop=[6], time_wait=False).story
    assert turned.endswith("In the end: client CLOSED, server CLOSED. Set: TIME_WAIT off (what-if, not TCP).")
    data = p.page_data(max_drops=1)
    stories = {data["strings"][v[3]] for v in data["variants"].values()}
    assert story in stories and len(stories) == len(data["variants"])


def test_a_translation_plugs_in_at_the_catalogue(panel, monkeypatch):
    monkeypatch.setitem(TEXT, "caption.nothing", "rien")
    monkeypatch.setitem(TEXT, "knob.time_wait", "TIME_WAIT actif")
    assert "connect-close: dropped rien" in panel.show()._repr_html_()
    assert panel.page_data(max_drops=0)["knobs"][0]["label"] == "TIME_WAIT actif"


def _keys_used_in_python() -> list[re.Pattern]:
    """Every key the book layer's Python looks up; f-string keys become patterns."""
    used = []
    for path in sorted(set(BOOK_LAYER.glob("*.py")) - {Path(text.__file__)}):   # not the catalogue's examples
        for key in re.findall(r"\b(?:t|html)\(\s*f?\"([^\"]+)\"", path.read_text(encoding="utf-8")):
            used.append(re.compile(re.sub(r"\\\{.*?\\\}", r"\\w+", re.escape(key)) + "$"))
    return used


def test_every_key_is_in_the_catalogue_and_every_text_is_used():
    used = _keys_used_in_python()
    page_keys = set(re.findall(r"\bt\(\"(\w+)\"", SCRIPT))
    for key in TEXT:
        assert key.startswith("page.") or any(p.match(key) for p in used), f"TEXT[{key!r}] is never shown"
    for pattern in used:
        assert any(pattern.match(key) for key in TEXT), f"{pattern.pattern} is not in TEXT"
    assert page_keys == set(page_text()), "the page script looks up exactly the page.* texts"


def test_the_page_script_has_no_words_of_its_own():
    """Its texts come from the page (window.tcpsimText, written by the Sphinx extension)."""
    bare = re.sub(r'\bt\("\w+"', "t(", SCRIPT)                   # without the keys it looks up
    for key, template in page_text().items():
        longest = max(re.split(r"\{\w+\}", template), key=len).strip()
        spelled = longest if " " in longest else f'"{longest}"'    # a phrase, or a one-word literal
        assert len(longest) < 3 or spelled not in bare, f"tcpsim-panels.js spells out the {key!r} text"
        for _, _name, spec, conversion in string.Formatter().parse(template):
            assert not spec and not conversion, f"{key!r}: the page script fills plain {{fields}} only"
    body = page_script()
    assert body.startswith("window.tcpsimText = ") and body.endswith(";") and "</" not in body
    # the playground's and the drop zone's words (LATE) come in a script of their own, the rest with every page
    late = {k: v for k, v in page_text().items() if "page." + k in TEXT and ("page." + k).startswith(LATE)}
    assert late and all(k.startswith(("pg_", "cap_")) for k in late)
    assert json.loads(body.removeprefix("window.tcpsimText = ").removesuffix(";")) == {
        k: v for k, v in page_text().items() if k not in late}
    extra = late_script()
    head = "window.tcpsimText = Object.assign(window.tcpsimText || {}, "
    assert extra.startswith(head) and extra.endswith(");\n") and "</" not in extra
    assert json.loads(extra.removeprefix(head).removesuffix(");\n")) == late
