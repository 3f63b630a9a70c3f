"""The questions: every variant's answer key recomputed from the simulator, a few checked by hand
against RFC 9293, the misconceptions a wrong answer is told, determinism, the pools the website
loads, and the worksheet command."""

import base64
import gzip
import json
import os
import re
import subprocess
import sys
from html import escape
from pathlib import Path
from types import SimpleNamespace

import pytest

from tcpsim import Question, run
from tcpsim.book import sphinx as ext
from tcpsim.book.quiz import BOOK, KINDS, MISCONCEPTIONS, POOL, QuestionForm, book_questions, chapters, check
from tcpsim.book.text import TEXT, t
from tcpsim.oracle.rfc9293 import C as RFC
from tcpsim.render.ladder import flag_words

TOP = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ recomputing an answer key
def _state_after(trace, endpoint, t_us, order):
    state = None
    for c in trace.lineage(endpoint):
        if (c.t, c.order) <= (t_us, order):
            state = c.new.value
    return state


def _state_on_arrival(trace, endpoint, r):
    """The receiver's state once r is processed: changes before it arrives, and those its arrival made."""
    state = None
    for c in trace.lineage(endpoint):
        if c.t < r.arrive or (c.t == r.arrive and c.cause.startswith("rcv")):
            state = c.new.value
    return state


def expected(v, f, trace):
    """What field f of variant v must accept, read off a fresh run of the variant's scenario."""
    segs = {r.i: r for r in trace.segments}
    a = f["about"]
    what = a["what"]
    if what in ("seq", "ack"):
        return {str(getattr(segs[a["segment"]].seg, what))}
    if what == "flags":
        return {flag_words(segs[a["segment"]].seg.flags)}
    if what == "state":
        (c,) = [c for c in trace.changes if c.order == a["order"]]
        return {c.new.value}
    r = segs.get(a.get("segment"))
    if what == "sent":
        return {t("quiz.sends", src=r.seg.src, dst=r.seg.dst, flags=flag_words(r.seg.flags))}
    if what == "after_send":
        return {_state_after(trace, a["endpoint"], r.t, r.order)}
    if what == "after_arrive":
        return {_state_on_arrival(trace, a["endpoint"], r)}
    if what == "order":
        shown = sorted((segs[g["about"]["segment"]] for g in v["fields"]), key=lambda s: (s.t, s.order))
        same = [k + 1 for k, s in enumerate(shown) if s.t == r.t or
                (s.seg.src, s.seg.flags, s.seg.seq, s.seg.ack, s.seg.len, s.dropped) ==
                (r.seg.src, r.seg.flags, r.seg.seq, r.seg.ack, r.seg.len, r.dropped)]
        return {str(p) for p in same}
    if what == "lost":
        (lost,) = [r for r in trace.segments if r.dropped]
        s = lost.seg
        return {t("quiz.segment", src=s.src, dst=s.dst, flags=flag_words(s.flags),
                  numbers=t("segment.numbers.ack", seq=s.seq, ack=s.ack) if s.ack is not None
                  else t("segment.numbers", seq=s.seq))}
    raise AssertionError(f"unknown field {a}")


def assert_key_holds(v):
    trace = run(v["scenario"])
    for f in v["fields"]:
        assert set(f["answer"]) == expected(v, f, trace), (v["n"], f["label"])
        assert set(f["answer"]) <= set(f["options"]) or f["kind"] == "number"
        assert not set(f["wrong"]) & set(f["answer"]), "a right answer is never taken for a misconception"
        for given, mis in f["wrong"].items():
            assert mis in MISCONCEPTIONS and v["misconceptions"][mis]["text"] == TEXT[f"quiz.mis.{mis}"]
            assert check(v, {f["id"]: given})[f["id"]] == (False, mis)
        assert check(v, {f["id"]: f["answer"][0]})[f["id"]] == (True, None)


def pool_file(tmp_path, questions):
    """The pools the Sphinx extension writes for a page that places these questions, read back."""
    (tmp_path / "page.html").write_text("".join(q.show()._repr_html_() for q in questions), encoding="utf-8")
    ext._write_quizzes(SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path)), None)
    out = {}
    for q in questions:
        js = (tmp_path / "_static" / "tcpsim" / f"quiz-{q.spec_id()}.js").read_text(encoding="utf-8")
        m = re.fullmatch(r'window.tcpsimQuiz = window.tcpsimQuiz \|\| \{\};\n'
                         r'window.tcpsimQuiz\["(\w+)"\] = "([^"]+)";\n', js)
        assert m and m.group(1) == q.spec_id()
        out[q.spec_id()] = json.loads(gzip.decompress(base64.b64decode(m.group(2))))
    return out


@pytest.mark.parametrize("chapter", chapters())
def test_every_pregenerated_variant_has_the_answer_key_the_simulator_gives(tmp_path, chapter):
    qs = book_questions(chapter)
    pools = pool_file(tmp_path, qs)
    for q in qs:
        pool = pools[q.spec_id()]
        assert len(pool) == POOL
        assert len({json.dumps(v["scenario"], sort_keys=True) for v in pool}) == POOL, "every variant differs"
        for v in pool:
            assert v["kind"] == q.kind
            assert_key_holds(v)


def test_every_misconception_is_told_somewhere_and_links_to_a_section_that_exists():
    from docutils.nodes import make_id

    told = {m for name in BOOK for v in Question.book(name).pool() for f in v["fields"] for m in f["wrong"].values()}
    assert told == set(MISCONCEPTIONS)
    for mis, href in MISCONCEPTIONS.items():
        page, anchor = href.split("#")
        nb = json.loads((TOP / "book" / page.replace(".html", ".ipynb")).read_text())
        headings = [line.lstrip("#").strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                    for line in "".join(c["source"]).splitlines() if line.startswith("#")]
        assert anchor in {make_id(h.replace("`", "")) for h in headings}, (mis, href)


def test_each_chapter_has_a_question_of_every_kind_and_the_appendix_a_review():
    for chapter in chapters():
        qs = book_questions(chapter)
        assert len(qs) >= 4 and {q.kind for q in qs} == set(KINDS), chapter
    assert len(book_questions("appendix")) >= 6


@pytest.mark.parametrize("name", sorted(BOOK))
def test_each_book_question_is_placed_once_in_its_chapter(name):
    chapter = name.split("/")[0]
    nb = json.loads((TOP / "book" / f"{chapter}.ipynb").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert sources.count(f'Question.book("{name}").show()') == 1
    assert sources.count(f'Question.book("{name}").widget()') == 1


# ------------------------------------------------------------------ checked by hand, RFC 9293
def test_fill_numbers_checked_by_hand():
    """intro/numbers, variant 1: client ISN 4188, server ISN 7185, the client sends 200 bytes.

    RFC 9293 §3.4: "SEG.LEN = the number of octets occupied by the data in the segment (counting
    SYN and FIN)"; §3.1, Acknowledgment Number: "this field contains the value of the next
    sequence number the sender of the segment is expecting to receive".  So the SYN,ACK's seq is
    the server's ISN (7185), its ACK acknowledges 4188 + 1; the client's ACK has seq 4188 + 1 =
    4189 and ack 7185 + 1 = 7186; after the client's 200 bytes at seq 4189 the server
    acknowledges 4189 + 200 = 4389 (no +1: data is not a SYN or a FIN)."""
    v = Question.book("intro/numbers").variant(0)
    eps = v["scenario"]["endpoints"]
    assert (eps["client"]["isn"], eps["server"]["isn"]) == (4188, 7185)
    assert {"t": 1, "call": "send", "bytes": 200} in eps["client"]["calls"]
    key = {(f["about"]["what"], f["about"]["segment"]): f["answer"] for f in v["fields"]}
    assert key == {("seq", 2): ["7185"], ("ack", 3): ["7186"], ("seq", 3): ["4189"], ("ack", 5): ["4389"]}
    fields = {(f["about"]["what"], f["about"]["segment"]): f for f in v["fields"]}
    # acknowledging the data byte count plus one is the "ack is always seq + 1" error
    assert fields[("ack", 5)]["wrong"]["4190"] == "ack_is_seq_plus_one"
    assert fields[("ack", 3)]["wrong"]["7185"] == "syn_fin_count"     # the SYN's own seq: it consumes one
    assert fields[("ack", 5)]["wrong"]["4189"] == "ack_echoes_seq"    # the data's seq: the next byte is wanted
    assert fields[("seq", 3)]["wrong"]["4188"] == "syn_fin_count"


def test_an_ack_consumes_no_sequence_number():
    """close/numbers, variant 1: the server's ACK of the client's 1000 bytes (segment 5, seq 1631)
    took no sequence number (SEG.LEN 0: no data, no SYN, no FIN), so the server's FIN,ACK (segment
    7) carries the same seq, 1631; answering 1632 is "you added 1 for an ACK"."""
    v = Question.book("close/numbers").variant(0)
    trace = run(v["scenario"])
    f = next(f for f in v["fields"] if f["about"] == {"what": "seq", "segment": 7})
    five, seven = trace.segments[4], trace.segments[6]
    assert (five.seg.src, five.seg.flags, five.seg.seq, five.seg.len) == ("server", "A", 1631, 0)
    assert (seven.seg.src, seven.seg.flags, seven.seg.seq) == ("server", "FA", 1631)
    assert f["answer"] == ["1631"]
    assert check(v, {f["id"]: "1632"})[f["id"]] == (False, "ack_plus_one")
    assert TEXT["quiz.mis.ack_plus_one"] == "You added 1 for an ACK: only SYN and FIN consume a sequence number."


def test_next_step_states_checked_by_hand():
    """close/next, variant 1: the client's application closes at 2 s, so the client sends its
    FIN,ACK and enters FIN_WAIT_1 (RFC 9293 §3.10.4, CLOSE call, ESTABLISHED STATE: "form a FIN
    segment and send it. In any case, enter FIN-WAIT-1 state"); the server, ESTABLISHED, receives
    the FIN: §3.10.7.4, eighth, """ + "\u201c" + RFC["fin.close_wait"].text + "\u201d" + """ -- it waits
    there for its application (CLOSE_WAIT is not LAST_ACK, which the close() call enters)."""
    v = Question.book("close/next").variant(0)
    key = [f["answer"] for f in v["fields"]]
    assert key == [["client → server: FIN,ACK"], ["FIN_WAIT_1"], ["CLOSE_WAIT"]]
    assert RFC["fin.close_wait"].text == "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT state."
    f = v["fields"][2]
    assert check(v, {f["id"]: "LAST_ACK"})[f["id"]] == (False, "close_wait_app")
    assert check(v, {f["id"]: "TIME_WAIT"})[f["id"]] == (False, "closer_time_wait")


def test_fin_wait_1_meeting_a_fin_that_acks_its_own_goes_to_time_wait():
    """states/states, variant 1: the client in FIN_WAIT_1 gets the server's FIN,ACK, which
    acknowledges its FIN: §3.10.7.4, fifth (FIN-WAIT-1: "if the FIN segment is now acknowledged,
    then enter FIN-WAIT-2") and eighth: """ + "\u201c" + RFC["fin.fw2"].text + "\u201d" + """ --
    TIME_WAIT, on the side that closed first."""
    v = Question.book("states/states").variant(0)
    f = next(f for f in v["fields"] if f["about"]["what"] == "state" and f["about"]["endpoint"] == "client")
    assert f["answer"] == ["TIME_WAIT"] and "rcv FIN" in f["label"]
    assert RFC["fin.fw2"].text.startswith("FIN-WAIT-2 STATE: Enter the TIME-WAIT state.")
    assert check(v, {f["id"]: "CLOSED"})[f["id"]] == (False, "time_wait_needed")
    server = [g for g in v["fields"] if g["about"]["endpoint"] == "server"]
    assert [g["answer"] for g in server] == [["CLOSE_WAIT"], ["LAST_ACK"]]
    assert check(v, {server[0]["id"]: "TIME_WAIT"})[server[0]["id"]] == (False, "closer_time_wait")


def test_a_lost_final_ack_is_found_from_the_fin_sent_again():
    """close/loss, variant 1: the client's last ACK is lost; the server, in LAST_ACK, sends its
    FIN again when its retransmission timer expires, and the client acknowledges the copy.  The
    ladder shown leaves the lost transmission out and marks nothing as a retransmission."""
    v = Question.book("close/loss").variant(0)
    (f,) = v["fields"]
    assert f["answer"] == [next(o for o in f["options"] if o.startswith("client → server ACK") and
                                o.endswith(f["answer"][0].split("ack=")[1]))]
    trace = run(v["scenario"])
    lost = [r for r in trace.segments if r.dropped]
    assert len(lost) == 1 and lost[0].seg.flags == "A" and lost[0].seg.src == "client"
    fins = [r for r in trace.segments if r.seg.src == "server" and "F" in r.seg.flags]
    assert len(fins) == 2 and fins[1].rtx
    drawn = re.findall(r'<g class="(seg[^"]*)"><title>([^<]*)</title>', v["figure"])
    assert len(drawn) == len(trace.segments) - 1 and {c for c, _ in drawn} == {"seg"}
    assert not any("lost" in title or "rtx" in title for _, title in drawn)
    server_fin = next(o for o in f["options"] if o.startswith("server → client FIN,ACK"))
    assert check(v, {"f1": server_fin})["f1"] == (False, "lost_was_answered")


def test_a_simultaneous_close_orders_both_fins_before_either_ack():
    v = Question.book("states/order").variant(0)
    trace = run(v["scenario"])
    fins = [r for r in trace.segments if "F" in r.seg.flags]
    assert len(fins) == 2 and fins[0].arrive > fins[1].t, "the FINs cross"
    by_segment = {f["about"]["segment"]: f["answer"] for f in v["fields"]}
    assert sorted(by_segment[r.i][0] for r in fins) == ["1", "2"]


# ------------------------------------------------------------------ determinism and faces
def test_same_seed_same_bytes_in_another_interpreter():
    q = Question.book("appendix/review-3")
    here = json.dumps(q.variant(5), sort_keys=True)
    code = ("import json; from tcpsim import Question; "
            "print(json.dumps(Question.book('appendix/review-3').variant(5), sort_keys=True))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert there.strip() == here
    assert json.dumps(Question("fill", seed=2).variant(0)) != json.dumps(Question("fill", seed=3).variant(0))


def test_the_static_form_shows_variant_one_with_its_answers_folded():
    q = Question.book("handshake/numbers")
    html = q.show()._repr_html_()
    v = q.variant(0)
    assert html.startswith(f'<div class="tcpsim-quiz" data-question="fill" data-tcpsim-quiz="{q.spec_id()}">')
    assert '<script type="application/json" class="tcpsim-quiz-spec">' in html
    assert html.count('class="tcpsim-quiz-blank"') == len(v["fields"])
    answers = html.split("<details")[1]
    for f in v["fields"]:
        assert f"<b>{f['answer'][0]}</b>" in answers
    assert isinstance(q.show(), QuestionForm) and html == q.show()._repr_html_()


def test_bad_questions_are_refused_with_one_line():
    with pytest.raises(ValueError, match="unknown question kind 'quiz'; known: fill, next, order, loss"):
        Question("quiz")
    with pytest.raises(ValueError, match="no question 'intro/nope' in the book"):
        Question.book("intro/nope")
    with pytest.raises(ValueError, match="unknown scope"):
        Question("fill", scope="middle")


def test_the_lab_widget_checks_a_fresh_variant():
    pytest.importorskip("ipywidgets")
    from tcpsim.book.quiz_live import QuizWidget

    w = QuizWidget(Question.book("intro/next"))
    for f in w.v["fields"]:
        w.controls[f["id"]].value = f["answer"][0]
    assert all(ok for ok, _ in w.check().values()) and TEXT["page.quiz_all_right"] in w.feedback.value
    first = w.v
    w.another()
    assert w.k == 1 and w.v["facts"] != first["facts"] or w.v["fields"] != first["fields"]
    f = next(f for f in w.v["fields"] if f["wrong"])
    given, mis = next(iter(f["wrong"].items()))
    w.controls[f["id"]].value = given
    w.check()
    assert TEXT[f"quiz.mis.{mis}"].split(":")[0] in w.feedback.value.replace("&#x27;", "'")
    w.show(POOL + 3)            # beyond the website's pool: generated live
    assert w.v["n"] == POOL + 3


# ------------------------------------------------------------------ the worksheet command
def cli(*args):
    return subprocess.run([sys.executable, "-m", "tcpsim", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(TOP / "src")})


def test_the_worksheet_and_its_key_print_from_html_and_pdf(tmp_path):
    r = cli("worksheet", "--chapter", "handshake", "--variants", "2", "--seed", "5", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["answers.html", "answers.pdf", "worksheet.html", "worksheet.pdf"]
    for pdf in ("answers.pdf", "worksheet.pdf"):
        data = (tmp_path / pdf).read_bytes()
        assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
    from tcpsim.book.worksheet import sheets

    work, key, made = sheets(book_questions("handshake"), 2, 5)
    assert (tmp_path / "worksheet.html").read_text(encoding="utf-8") == work
    assert len(made) == 8 and "<script" not in work and "@page" in work
    for v in made:                         # the questions on paper, with no answer on the sheet ...
        assert escape(v["facts"]) in work
        assert_key_holds(v)
        for f in v["fields"]:               # ... and every answer in the key
            assert f"<b>{f['answer'][0]}</b>" in key
    assert "<details" not in work and 'class="tcpsim-quiz-key"' not in work and 'class="tcpsim-quiz-key"' in key
    again, _, _ = sheets(book_questions("handshake"), 2, 5)
    other, _, _ = sheets(book_questions("handshake"), 2, 6)
    assert again == work and other != work, "the same seed gives the same sheet, another seed another"


@pytest.mark.parametrize("args,message", [
    (("--chapter", "nope"), "error: no chapter 'nope' has questions; chapters: intro, handshake"),
    (("--kind", "essay"), "error: unknown question kind 'essay'; known: fill, next, order, loss"),
    (("--variants", "0"), "error: --variants wants a number from 1 to 50, got 0"),
    (("--variants", "two"), "error: argument --variants: wants a whole number, got 'two'"),
    (("--seed", "-1"), "error: argument --seed: wants a whole number, got '-1'"),
])
def test_a_worksheet_mistake_is_one_line_and_status_2(tmp_path, args, message):
    r = cli("worksheet", *args, "--out", str(tmp_path / "out"), "--no-pdf")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr


def test_without_chromium_the_worksheet_says_so(tmp_path, monkeypatch):
    from tcpsim.book import worksheet

    monkeypatch.setattr(worksheet.shutil, "which", lambda name: None)
    with pytest.raises(worksheet.WorksheetError, match="chromium is not installed, so no PDF was made"):
        worksheet.write(tmp_path, chapter="intro", variants=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.html", "worksheet.html"]
