"""The live simulator in the page (tcpsim-live.js, tcpsim/book/web.py) and the playground.

On the served site every panel answers what its pre-computed runs cannot -- a third drop, a
delay that was not pre-computed, a step through the run -- by running tcpsim under Pyodide in a
module Web Worker.  What it paints must be what the native simulator computes for the same
setting: the same trace JSON, the same ladder SVG and the same state diagram SVG (the site lays
its state diagrams out with the page's own WebAssembly Graphviz, so the native side here uses it
too).  No request may leave the site's folder, and the console stays clean.  From file:// the
pre-computed runs still work, and the page says how to serve the folder.
"""

import json
from pathlib import Path

import pytest
from test_site import base, open_page, pages, site  # noqa: F401  (fixtures shared with the site tests)

from tcpsim.book import web
from tcpsim.book.panels import DropPanel
from tcpsim.book.webbuild import graphviz_module
from tcpsim.render.state_diagram import _ENGINE, use_graphviz, wasm_graphviz

TOP = Path(__file__).resolve().parents[2]
LIVE_MS = 120_000        # the first live result on a loaded 2-core machine (measured 4-6 s unloaded)


@pytest.fixture(scope="module")
def native_wasm():
    """This process lays state diagrams out as the site does (the WebAssembly Graphviz under Node)."""
    before = _ENGINE
    use_graphviz(wasm_graphviz(str(graphviz_module(TOP))))
    yield
    use_graphviz(before)


def spec_of(box):
    return json.loads(box.locator("script.tcpsim-spec").text_content())


def painted_live(page, box, after):
    """Wait until `box` has painted a live run after `after` paints; its result."""
    page.wait_for_function("([b, n]) => b.dataset.how === 'live' && b.dataset.paints > n",
                           arg=[box.element_handle(), after], timeout=LIVE_MS)
    return box.evaluate("b => b.tcpsim.last")


def paints(box):
    return int(box.get_attribute("data-paints") or 0)


def same_as_native(got, spec, drops, knobs, step=None):
    want = json.loads(web.panel(json.dumps(spec), json.dumps({"drops": drops, "knobs": knobs, "step": step})))
    assert "error" not in want, want
    native = DropPanel.from_spec(spec).run(drops, **knobs).to_json()
    assert got["trace"] == native, "the page's run is the native simulator's run"
    for part in ("ladder", "state", "table", "story", "events"):
        assert got[part] == want[part], f"the page's {part} differs from the native one"


@pytest.mark.parametrize("name", pages(part=0))
def test_every_panel_runs_live_what_was_not_pre_computed(browser, base, name, native_wasm):  # noqa: F811
    page, log = open_page(browser, base + name)
    assert not [u for u in log["requests"] if "/_static/tcpsim/live/" in u or "tcpsim-live" in u], \
        "nothing of the live simulator loads before a reader needs it"
    boxes = page.locator(".tcpsim-live")
    for k in range(boxes.count()):
        box = boxes.nth(k)
        box.locator(".tcpsim-drop").first.wait_for()
        box.locator(".tcpsim-reset").click()
        spec = spec_of(box)
        panel = DropPanel.from_spec(spec)
        knobs = panel.defaults()
        buttons = box.locator(".tcpsim-drop")
        # a third drop: never pre-computed
        three = [int(buttons.nth(i).get_attribute("data-index")) for i in range(min(3, buttons.count()))]
        n = paints(box)
        for i in range(len(three)):
            buttons.nth(i).click()
        if len(three) == 3:
            if buttons.count() > 3:
                assert not buttons.nth(3).is_disabled(), "served, a fourth drop is offered too"
            got = painted_live(page, box, n + len(three) - 1)
            same_as_native(got, spec, three, knobs)
            assert box.locator(".tcpsim-caption").inner_text().endswith("#" + ", #".join(map(str, three)))
        box.locator(".tcpsim-reset").click()
        # a knob value not pre-computed, where the panel has a free one; a step through the run
        number = box.locator('.tcpsim-knob input[type="number"]')
        if number.count():
            n = paints(box)
            number.fill("0.1")
            number.dispatch_event("change")
            got = painted_live(page, box, n)
            same_as_native(got, spec, [], {**knobs, "delay": 0.1})
            box.locator(".tcpsim-reset").click()
        n = paints(box)
        box.locator(".tcpsim-step").fill("3")
        got = painted_live(page, box, n)
        same_as_native(got, spec, [], knobs, step=3)
        assert "after 3 of" in box.locator(".tcpsim-step-text").inner_text()
        box.locator(".tcpsim-reset").click()
        assert box.get_attribute("data-how") == "stored"
    outside = [u for u in log["requests"] if not u.startswith(base) and not u.startswith("data:")
               and not u.startswith("blob:")]
    assert outside == [] and log["failed"] == [] and log["errors"] == [], (outside, log["failed"], log["errors"])
    page.close()


def test_the_live_figure_does_not_move_at_the_switch(browser, base):  # noqa: F811
    """A stored run and the live simulator's run of the same setting are the same bytes (the same
    WebAssembly Graphviz laid both out): nothing moves when the page starts computing runs itself."""
    page, log = open_page(browser, base + "book/handshake.html")
    box = page.locator(".tcpsim-live").first
    box.locator(".tcpsim-drop").first.wait_for()
    spec = spec_of(box)
    for drops in ([], [1], [1, 2]):                # stored settings, asked of the live simulator too
        box.locator(".tcpsim-reset").click()
        for d in drops:
            box.locator(f'.tcpsim-drop[data-index="{d}"]').click()
        stored = box.evaluate("b => b.tcpsim.last")
        knobs = DropPanel.from_spec(spec).defaults()
        live = page.evaluate("([s, st]) => new Promise(ok => tcpsimLoadLive(sim => sim.call('panel', s, st).then(ok)))",
                             [spec, {"drops": drops, "knobs": knobs, "step": None}])
        for part in ("ladder", "state", "table", "story", "events"):
            assert live[part] == stored[part], (drops, part)
    assert log["errors"] == []
    page.close()


def test_the_playground_edits_shares_and_reloads_a_scenario(browser, base, native_wasm):  # noqa: F811
    page, log = open_page(browser, base + "book/playground.html")
    root = page.locator("#tcpsim-playground")
    page.wait_for_function("document.getElementById('tcpsim-playground').dataset.runs >= 1", timeout=LIVE_MS)
    assert root.locator(".tcpsim-ladder svg").count() == 1 and root.locator(".tcpsim-state svg").count() == 1
    # a mistake: the simulator's own message, next to the field it names
    field = root.locator('input[data-path="endpoints.client.calls[1].t"]')
    field.fill("soon")
    field.evaluate("e => e.blur()")                   # as a reader leaves the field: a change event
    error = root.locator(".tcpsim-pg-field-error:not([hidden])")
    error.wait_for(timeout=LIVE_MS)
    assert error.inner_text() == "endpoints.client.calls[1].t: must be a number from 0 to 1e+06, got 'soon'"
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == error.get_attribute("id")
    # mended: the client closes at 3 s, and its second segment (the server's SYN-ACK) is lost
    field.fill("3")
    field.evaluate("e => e.blur()")
    page.wait_for_function("r => r.tcpsim.scenario.endpoints.client.calls[1].t === 3 && r.dataset.runs >= 2 "
                           "&& !r.querySelector('.tcpsim-pg-field-error:not([hidden])')",
                           arg=root.element_handle(), timeout=LIVE_MS)
    assert root.locator(".tcpsim-pg-field-error:not([hidden])").count() == 0
    root.locator(".tcpsim-drop").nth(1).click()
    page.wait_for_function("r => JSON.parse(r.tcpsim.last.trace).segments[1].dropped",
                           arg=root.element_handle(), timeout=LIVE_MS)
    runs = int(root.get_attribute("data-runs"))
    root.locator(".tcpsim-step").fill("4")
    page.wait_for_function("([r, n]) => r.dataset.runs > n", arg=[root.element_handle(), runs], timeout=LIVE_MS)
    got = root.evaluate("r => r.tcpsim.last")
    scenario = root.evaluate("r => r.tcpsim.scenario")
    assert scenario["endpoints"]["client"]["calls"][1]["t"] == 3 and scenario["network"]["drop"] == [2]
    want = json.loads(web.scenario(json.dumps(scenario), json.dumps({"step": 4})))
    assert got == want, "the playground's run is the native simulator's"
    trace = json.loads(got["trace"])
    assert trace["segments"][1]["dropped"] and trace["segments"][1]["flags"] == "SA"
    # shared as a link, reloaded elsewhere: the same experiment, the same bytes
    root.locator("button", has_text="Share this experiment").click()
    url = root.locator(".tcpsim-pg-link").get_attribute("href")
    assert url.startswith(base + "book/playground.html#json=")
    other, log2 = open_page(browser, url)
    other.wait_for_function("document.getElementById('tcpsim-playground').dataset.runs >= 1", timeout=LIVE_MS)
    assert other.locator("#tcpsim-playground").evaluate("r => r.tcpsim.last") == got
    events = len(trace["segments"]) + sum(map(len, trace["states"].values()))   # what the slider walks
    assert other.locator(".tcpsim-step-text").inner_text() == f"after 4 of {events} events"
    # downloads: the trace JSON and the two drawings
    with page.expect_download() as d:
        root.locator("button", has_text="Download the trace (JSON)").click()
    assert Path(d.value.path()).read_text() == got["trace"]
    with page.expect_download() as d:
        root.locator("button", has_text="Download the state diagram (SVG)").click()
    assert Path(d.value.path()).read_text() == got["state"]
    for lg in (log, log2):
        assert [u for u in lg["requests"] if not u.startswith(base) and not u.startswith(("blob:", "data:"))] == []
        assert lg["errors"] == [] and lg["failed"] == []
    other.close()
    page.close()


def test_open_in_the_playground_carries_the_panels_setting(browser, base, native_wasm):  # noqa: F811
    page, log = open_page(browser, base + "book/states.html")
    box = page.locator(".tcpsim-live").first
    box.locator(".tcpsim-drop").first.wait_for()
    spec = spec_of(box)
    setting = json.loads(box.get_attribute("data-tcpsim-start"))
    with page.expect_navigation():
        box.locator(".tcpsim-playground-link").click()
    page.wait_for_function("document.getElementById('tcpsim-playground').dataset.runs >= 1", timeout=LIVE_MS)
    scenario = page.locator("#tcpsim-playground").evaluate("r => r.tcpsim.scenario")
    panel = DropPanel.from_spec(spec)
    knobs = {k: v for k, v in setting["knobs"].items() if v != panel.defaults()[k]}
    assert scenario == panel.scenario(setting["drops"], **knobs)
    assert log["errors"] == []
    page.close()


def from_disk(browser, built, name):
    """A page of the built site opened from file://, and the console errors it logs."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto((Path(built) / name).as_uri(), wait_until="load")
    return page, errors


def test_from_disk_the_stored_runs_work_and_the_page_says_how_to_serve(browser, site):  # noqa: F811
    page, errors = from_disk(browser, site, "book/close.html")
    box = page.locator(".tcpsim-live").first
    box.locator(".tcpsim-drop").first.wait_for()
    box.locator(".tcpsim-reset").click()
    buttons = box.locator(".tcpsim-drop")
    buttons.nth(0).click()
    buttons.nth(1).click()
    assert box.get_attribute("data-how") == "stored"
    assert buttons.nth(2).is_disabled(), "from disk only the pre-computed pairs can be asked for"
    assert box.locator(".tcpsim-step").count() == 0
    assert "up to 2 at once on this page" in box.locator(".tcpsim-hint").inner_text()
    page.goto((Path(site) / "book" / "playground.html").as_uri(), wait_until="load")
    note = page.locator(".tcpsim-pg-file")
    note.wait_for()
    assert "python3 -m http.server" in note.inner_text() and "./run.sh serve" in note.inner_text()
    assert errors == []
    page.close()


def test_the_lab_explains_a_dropped_capture_in_the_page(browser, base, native_wasm, tmp_path):  # noqa: F811
    """The lab chapter's drop zone: a real capture chosen in the page is explained by the live
    simulator (dpkt and tcpsim.capture under Pyodide) exactly as natively; a file that is no
    capture gets its one-line error; nothing leaves the site."""
    from tcpsim.capture import sample

    page, log = open_page(browser, base + "book/lab.html")
    box = page.locator(".tcpsim-capture-drop")
    assert box.count() == 1
    chooser = box.locator('input[type="file"]')
    chooser.wait_for()
    assert box.locator("label").inner_text().startswith("Choose a capture")
    path = tmp_path / "mine.pcap"
    path.write_bytes(sample("simultaneous-close"))
    chooser.set_input_files(str(path))
    page.wait_for_function("document.querySelector('.tcpsim-capture-drop').dataset.explained >= 1",
                           timeout=LIVE_MS)
    got = box.evaluate("b => b.tcpsim.last")
    assert got == json.loads(web.capture(path.read_bytes()))
    assert box.locator(".tcpsim-cap-result pre.tcpsim-capture").inner_text().startswith("#1  ")
    assert box.locator(".tcpsim-cap-result img").count() == 3
    assert "mine.pcap: explained below." in box.locator(".tcpsim-status").inner_text()
    bad = tmp_path / "notes.txt"
    bad.write_text("these are not packets")
    chooser.set_input_files(str(bad))
    page.wait_for_function("document.querySelector('.tcpsim-capture-drop').dataset.explained >= 2",
                           timeout=LIVE_MS)
    assert box.locator(".tcpsim-status").inner_text().startswith("notes.txt: not a pcap or pcapng capture")
    assert box.locator(".tcpsim-cap-result").inner_html() == ""
    assert [u for u in log["requests"] if not u.startswith(base) and not u.startswith(("blob:", "data:"))] == []
    assert log["errors"] == [] and log["failed"] == []
    page.close()


def test_from_disk_the_lab_says_how_to_explain_a_capture(browser, site):  # noqa: F811
    page, errors = from_disk(browser, site, "book/lab.html")
    note = page.locator(".tcpsim-capture-drop .tcpsim-cap-file")
    note.wait_for()
    assert "python -m tcpsim explain FILE" in note.inner_text() and "python3 -m http.server" in note.inner_text()
    assert errors == []
    page.close()


def test_past_its_pool_a_question_is_made_in_the_page(browser, base):  # noqa: F811
    """"Another one" after the last pre-generated variant: the live simulator makes variant 21 with
    the same seeded generator, the one the native Question makes."""
    from tcpsim.book.quiz import POOL, Question
    from tcpsim.book.text import t

    page, log = open_page(browser, base + "book/handshake.html")
    page.wait_for_function("[...document.querySelectorAll('.tcpsim-quiz')].every(q => q.tcpsim)", timeout=15_000)
    box = page.locator(".tcpsim-quiz").first
    spec = json.loads(box.locator("script.tcpsim-quiz-spec").text_content())
    box.evaluate(f"b => b.tcpsim.show({POOL - 1})")
    box.locator("button.tcpsim-quiz-another").click()
    page.wait_for_function("b => b.querySelector('.tcpsim-quiz-variant').textContent.includes('made in this page')",
                           arg=box.element_handle(), timeout=LIVE_MS)
    made = box.evaluate("b => b.tcpsim.variant()")
    want = json.loads(json.dumps(Question.from_spec(spec).variant(POOL)))
    assert {k: v for k, v in made.items() if k != "live"} == want
    assert box.locator(".tcpsim-quiz-variant").inner_text() == t("page.quiz_variant_live", n=POOL + 1)
    assert log["errors"] == []
    page.close()
