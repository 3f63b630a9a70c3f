"""The questions on the website, answered as a student would: right, wrong on purpose, another
variant, a reload, the keyboard alone; served from 127.0.0.1 and opened from file://.

The answers typed come from the Python generator (`tcpsim.book.quiz`) re-run on the spec each page
carries, not from the page's own data, so a page that marks a wrong answer right fails.
"""

import json

import pytest
from test_site import AXE, base, open_page, site  # noqa: F401  (the site's fixtures)

from tcpsim.book.quiz import POOL, Question
from tcpsim.book.text import TEXT, t

CHAPTERS = ["book/intro.html", "book/handshake.html", "book/close.html", "book/states.html",
            "book/server.html", "book/appendix.html"]


def url_of(how, name, base, site):  # noqa: F811
    return base + name if how == "served" else (site / name).as_uri()


def questions(page):
    page.wait_for_function("() => document.querySelectorAll('.tcpsim-quiz').length > 0 && "
                           "[...document.querySelectorAll('.tcpsim-quiz')].every(q => q.tcpsim)", timeout=15_000)
    boxes = page.locator(".tcpsim-quiz")
    specs = page.eval_on_selector_all(".tcpsim-quiz script.tcpsim-quiz-spec", "els => els.map(e => e.textContent)")
    return boxes, [Question.from_spec(json.loads(s)) for s in specs]


def answer(box, fields, given):
    """Type or pick each field's answer (given: field id -> value)."""
    for f in fields:
        control = box.locator(f'.tcpsim-quiz-field[data-field="{f["id"]}"] input, '
                              f'.tcpsim-quiz-field[data-field="{f["id"]}"] select')
        if f["kind"] == "number":
            control.fill(given[f["id"]])
        else:
            control.select_option(value=given[f["id"]])
    box.locator("button.tcpsim-quiz-check").click()


def right_answers(v):
    return {f["id"]: f["answer"][0] for f in v["fields"]}


@pytest.mark.parametrize("how", ["served", "file"])
@pytest.mark.parametrize("name", CHAPTERS)
def test_every_question_checks_right_and_wrong_answers(browser, base, site, name, how):  # noqa: F811
    page, log = open_page(browser, url_of(how, name, base, site))
    failed = list(log["failed"])          # after this, a reload may abort the last page's favicon: not a failure
    page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED" and failed.append(r.url))
    page.evaluate("localStorage.clear()")
    page.reload(wait_until="networkidle")
    boxes, qs = questions(page)
    assert boxes.count() >= 4, "at least four questions on each chapter page"
    kinds = {boxes.nth(k).get_attribute("data-question") for k in range(boxes.count())}
    assert kinds == {"fill", "next", "order", "loss"}, kinds
    for k, q in enumerate(qs):
        box = boxes.nth(k)
        assert box.locator(".tcpsim-quiz-feedback").get_attribute("aria-live") == "polite"
        v0 = q.variant(0)
        assert box.locator(".tcpsim-quiz-facts").inner_text() == v0["facts"]
        # every input has a label
        for fid in box.locator("input, select").evaluate_all("els => els.map(e => e.id)"):
            assert box.locator(f'label[for="{fid}"]').count() == 1
        # right: every field marked right
        answer(box, v0["fields"], right_answers(v0))
        assert box.locator(".tcpsim-quiz-field.tcpsim-quiz-right").count() == len(v0["fields"])
        assert box.locator(".tcpsim-quiz-field.tcpsim-quiz-wrong").count() == 0
        assert box.locator(".tcpsim-quiz-verdict").inner_text() == TEXT["page.quiz_all_right"]
        assert box.locator(".tcpsim-quiz-solution svg").count() == 1, "the whole run is shown after an answer"
        # another one: variant 2, other numbers
        numbers = box.locator(".tcpsim-quiz-scroll, .tcpsim-quiz-figure, .tcpsim-quiz-items, .tcpsim-quiz-form")
        before = numbers.first.inner_text() + numbers.last.inner_text()
        box.locator("button.tcpsim-quiz-another").click()
        v1 = q.variant(1)
        assert box.locator(".tcpsim-quiz-variant").inner_text() == t("page.quiz_variant", n=2, total=POOL)
        assert numbers.first.inner_text() + numbers.last.inner_text() != before, "another one, other numbers"
        assert box.locator(".tcpsim-quiz-facts").inner_text() == v1["facts"]
        assert box.locator(".tcpsim-quiz-solution").is_hidden()
        # wrong on purpose: the field's catalogued misconception is what the page says
        given = right_answers(v1)
        f = next((f for f in v1["fields"] if f["wrong"]), v1["fields"][0])
        if f["wrong"]:
            wrong, mis = next(iter(f["wrong"].items()))
            expected = t(f"quiz.mis.{mis}")
        else:
            wrong, mis, expected = _other(f), None, f["hint"]
        given[f["id"]] = wrong
        answer(box, v1["fields"], given)
        verdict = box.locator(f'.tcpsim-quiz-verdicts li[data-field="{f["id"]}"]')
        assert "tcpsim-quiz-wrong" in verdict.get_attribute("class")
        assert expected in verdict.inner_text()
        if mis:
            assert verdict.locator("a").get_attribute("href").split("#")[0].endswith(".html")
        assert box.locator(".tcpsim-quiz-field.tcpsim-quiz-wrong").count() == 1
        assert box.get_attribute("data-checked") == "wrong"
    # progress: every question was answered right once; it survives a reload, and resets
    total = boxes.count()
    progress = t("page.quiz_progress", right=total, total=total)
    assert boxes.first.locator(".tcpsim-quiz-progress-text").inner_text() == progress
    page.reload(wait_until="networkidle")
    boxes, _ = questions(page)
    assert boxes.nth(total - 1).locator(".tcpsim-quiz-progress-text").inner_text() == progress
    boxes.first.locator("button.tcpsim-quiz-reset").click()
    assert boxes.nth(total - 1).locator(".tcpsim-quiz-progress-text").inner_text() == \
        t("page.quiz_progress", right=0, total=total)
    outside = [u for u in log["requests"] if not u.startswith(url_of(how, "", base, site))
               and not u.startswith(("data:", "blob:"))]
    assert outside == [] and log["errors"] == [] and failed == [], (outside, log["errors"], failed)
    page.close()


def _other(f):
    return next(o for o in (f["options"] or ["1", "2"]) if o not in f["answer"])


def test_a_question_is_answered_with_the_keyboard_alone(browser, base):  # noqa: F811
    page, log = open_page(browser, base + "book/close.html")
    boxes, qs = questions(page)
    box, v = boxes.first, qs[0].variant(0)
    first = box.locator(f'.tcpsim-quiz-field[data-field="{v["fields"][0]["id"]}"] input, '
                        f'.tcpsim-quiz-field[data-field="{v["fields"][0]["id"]}"] select')
    first.focus()          # where Tab from the text before the question lands
    for k, f in enumerate(v["fields"]):
        if k:
            page.keyboard.press("Tab")
        if f["kind"] == "number":
            page.keyboard.type(f["answer"][0])
        else:
            for _ in range(f["options"].index(f["answer"][0]) + 1):    # past "choose" to the answer
                page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "tcpsim-quiz-check"
    page.keyboard.press("Enter")
    assert box.locator(".tcpsim-quiz-field.tcpsim-quiz-right").count() == len(v["fields"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "tcpsim-quiz-another"
    page.keyboard.press("Enter")
    assert box.locator(".tcpsim-quiz-variant").inner_text() == t("page.quiz_variant", n=2, total=POOL)
    assert page.evaluate("document.activeElement.closest('.tcpsim-quiz-field') !== null"), \
        "another one puts the focus on its first field"
    assert log["errors"] == []
    page.close()


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_question_markup_is_axe_clean_and_looks_right(browser, base, outdir, width, height):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(base + "book/intro.html", wait_until="networkidle")
    boxes, qs = questions(page)
    for k in range(2):                 # a filled table and an ordering, each answered partly wrong
        box, v = boxes.nth(k), qs[k].variant(0)
        given = right_answers(v)
        f = next(f for f in v["fields"] if f["wrong"])
        given[f["id"]] = next(iter(f["wrong"]))
        answer(box, v["fields"], given)
    page.add_script_tag(path=str(AXE))
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        page.evaluate("async () => { await new Promise(requestAnimationFrame); "
                      "await Promise.all(document.getAnimations().map(a => a.finished)); }")
        bad = page.evaluate("""async () => (await axe.run({include: [['.tcpsim-quiz']]},
            {resultTypes: ['violations']})).violations
            .map(v => v.id + ' ' + v.impact + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))""")
        assert bad == [], (theme, bad)
        for k in range(2):
            boxes.nth(k).evaluate("e => e.scrollIntoView({block: 'start'})")
            page.evaluate("window.scrollBy(0, -70)")          # below the page's sticky header
            shot = page.screenshot(path=str(outdir / f"quiz-{k + 1}-{width}x{height}-{theme}.png"))
            assert len(shot) > 10_000
        wide = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert wide, "the page does not scroll sideways"
    page.close()
