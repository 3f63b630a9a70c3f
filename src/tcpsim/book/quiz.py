"""Questions that check the reader's answer, each variant computed by the simulator.

A `Question` names a kind, a loss-free scenario and the part of the exchange
it asks about; `Question.variant(k)` draws the k-th variant from a seeded
``random.Random`` (never the global one: the same question and number give
the same bytes on every machine), changes the scenario accordingly -- both
ISNs, the one-way delay, the bytes the client sends, the profile and, for the
kinds that need one, a lost segment -- runs it, and reads the question, its
answer key and the feedback for each plausible wrong answer off the trace.
Nothing in a variant is typed by hand.

The four kinds:

* ``fill`` -- the run as a table with some seq, ack, flags and state cells
  blank; the reader types or picks them;
* ``next`` -- the run so far as a ladder; the reader says which segment is
  sent next, the sender's state once it is sent and the receiver's once it
  has arrived;
* ``order`` -- the segments of an exchange with a loss (or of a simultaneous
  close), shuffled; the reader numbers them in the order they were sent;
* ``loss`` -- the ladder of a run with one transmission taken out; the reader
  says which segment was lost, from what followed.

A wrong answer that shows a known misconception (`MISCONCEPTIONS`, gathered
from the appendix "Common misconceptions, corrected" and from common tutorial
errors) is answered with that misconception's one-line correction and a link
to the section that teaches it; any other wrong answer gets the field's hint.

Faces: `show()` (the static form: the first variant with its answers folded,
for nbval, print and pages without JavaScript, plus the spec the website's
script works from), `pool()` (the variants the Sphinx extension writes next to
the site, ``_static/tcpsim/quiz-<id>.js``), `widget()` (JupyterLab, live) and
`tcpsim.book.worksheet` (paper).  Every word comes from `tcpsim.book.text`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from ..core.network import run
from ..core.scenario import builtin, load
from ..core.states import State
from ..core.trace import SegmentRecord, StateChange, Trace, trace_events
from ..core.units import secs
from ..render.figure import svg_img
from ..render.ladder import flag_words, ladder
from ..render.state_diagram import describe_path
from .figure import DRAWING_STYLE
from .panels import Droppable, DropPanel, spec_id
from .text import t

KINDS = ("fill", "next", "order", "loss")
SCOPES = ("all", "handshake", "close")
#: variants per question in the website's pool
POOL = 20
#: the flag sets a reader picks from (as the ladder writes them)
FLAG_CHOICES = ("SYN", "SYN,ACK", "ACK", "PSH,ACK", "FIN", "FIN,ACK", "RST", "RST,ACK")
STATE_CHOICES = tuple(s.value for s in State)

#: misconception -> the section that corrects it (a page of the book, from its own folder);
#: the one-line correction is TEXT["quiz.mis.<name>"]
MISCONCEPTIONS: dict[str, str] = {
    "ack_plus_one": "close.html#a-fin-takes-a-sequence-number",
    "syn_fin_count": "close.html#a-fin-takes-a-sequence-number",
    "ack_is_seq_plus_one": "appendix.html#the-acknowledgment-number-is-always-seq-1",
    "ack_echoes_seq": "intro.html#one-connection",
    "seq_ack_swapped": "intro.html#one-connection",
    "data_not_counted": "appendix.html#the-acknowledgment-number-is-always-seq-1",
    "relative_numbers": "appendix.html#sequence-numbers-start-at-0",
    "ack_always_set": "intro.html#the-flags",
    "synack_both": "handshake.html#three-segments",
    "piggyback": "close.html#why-four-segments-when-the-handshake-needs-three",
    "fin_waits_for_app": "close.html#why-four-segments-when-the-handshake-needs-three",
    "closer_time_wait": "states.html#which-side-waits-the-one-that-closes-first",
    "time_wait_needed": "states.html#time-wait-s-first-reason-the-last-ack-can-be-lost",
    "close_wait_app": "close.html#the-states-of-a-close",
    "close_wait_fin": "appendix.html#the-side-that-receives-the-ack-enters-close-wait",
    "fin_wait_2": "close.html#the-states-of-a-close",
    "last_ack": "close.html#the-states-of-a-close",
    "server_established": "handshake.html#who-is-established-and-when",
    "client_established": "handshake.html#who-is-established-and-when",
    "listen_stays": "server.html#listen-and-its-two-queues",
    "closing_crossing": "appendix.html#closing-is-caused-by-a-lost-ack",
    "rtx_after_timer": "handshake.html#when-a-handshake-segment-is-lost",
    "ack_after_segment": "intro.html#the-ladder-diagram",
    "lost_was_answered": "close.html#lost-fins",
    "lost_is_drawn": "intro.html#drop-a-segment",
}


# ------------------------------------------------------------------ the book's questions
#: Every question the book places, by "chapter/name" (a chapter's notebook shows
#: `Question.book(name)` where it teaches the idea; the worksheet command reads this too).
BOOK: dict[str, dict[str, Any]] = {
    "intro/numbers": {"kind": "fill", "scenario": "connect-close", "scope": "all", "blanks": "numbers"},
    "intro/next": {"kind": "next", "scenario": "connect-close", "scope": "all"},
    "intro/order": {"kind": "order", "scenario": "connect-close", "scope": "all"},
    "intro/loss": {"kind": "loss", "scenario": "connect-close", "scope": "all"},
    "handshake/numbers": {"kind": "fill", "scenario": "connect-close", "scope": "handshake"},
    "handshake/next": {"kind": "next", "scenario": "connect-close", "scope": "handshake"},
    "handshake/order": {"kind": "order", "scenario": "connect-close", "scope": "handshake"},
    "handshake/loss": {"kind": "loss", "scenario": "connect-close", "scope": "handshake"},
    "close/numbers": {"kind": "fill", "scenario": "connect-close", "scope": "close", "blanks": "numbers"},
    "close/next": {"kind": "next", "scenario": "connect-close", "scope": "close"},
    "close/order": {"kind": "order", "scenario": "connect-close", "scope": "close"},
    "close/loss": {"kind": "loss", "scenario": "connect-close", "scope": "close"},
    "states/states": {"kind": "fill", "scenario": "connect-close", "scope": "close", "blanks": "states"},
    "states/next": {"kind": "next", "scenario": "simultaneous-close", "scope": "close"},
    "states/order": {"kind": "order", "scenario": "simultaneous-close", "scope": "close"},
    "states/loss": {"kind": "loss", "scenario": "connect-close", "scope": "close", "seed": 2},
    "server/states": {"kind": "fill", "scenario": "connect-close", "scope": "handshake", "blanks": "states"},
    "server/next": {"kind": "next", "scenario": "connect-close", "scope": "handshake", "seed": 2},
    "server/order": {"kind": "order", "scenario": "connect-close", "scope": "handshake", "seed": 2},
    "server/loss": {"kind": "loss", "scenario": "connect-close", "scope": "handshake", "seed": 2},
    "appendix/review-1": {"kind": "fill", "scenario": "connect-close", "scope": "all", "seed": 3},
    "appendix/review-2": {"kind": "next", "scenario": "connect-close", "scope": "all", "seed": 3},
    "appendix/review-3": {"kind": "order", "scenario": "simultaneous-close", "scope": "all", "seed": 3},
    "appendix/review-4": {"kind": "loss", "scenario": "connect-close", "scope": "all", "seed": 3},
    "appendix/review-5": {"kind": "fill", "scenario": "simultaneous-close", "scope": "all", "seed": 4,
                          "blanks": "states"},
    "appendix/review-6": {"kind": "next", "scenario": "simultaneous-close", "scope": "all", "seed": 4},
}


def chapters() -> list[str]:
    """The chapters that place questions, in the book's order."""
    return list(dict.fromkeys(name.split("/")[0] for name in BOOK))


# ------------------------------------------------------------------ helpers
def consumed(r: SegmentRecord) -> int:
    """How many sequence numbers a segment takes: its data, plus one each for SYN and FIN (RFC 9293 §3.4)."""
    s = r.seg
    return s.len + ("S" in s.flags) + ("F" in s.flags)


def _add(a: int, n: int) -> int:
    return (a + n) % (1 << 32)


def _seg_text(r: SegmentRecord) -> str:
    """"client → server FIN,ACK seq=101 ack=301" (+ len)."""
    s = r.seg
    nums = (t("segment.numbers", seq=s.seq) if s.ack is None else t("segment.numbers.ack", seq=s.seq, ack=s.ack))
    if s.len:
        nums += " " + t("quiz.len", n=s.len)
    return t("quiz.segment", src=s.src, dst=s.dst, flags=flag_words(s.flags), numbers=nums)


def _host(endpoint: str) -> str:
    return endpoint.split("#", 1)[0].split(":", 1)[0]


def _calls_text(sc: dict[str, Any]) -> str:
    """What the applications do, in one sentence: the facts every kind of question starts from."""
    parts = []
    for name, ep in sc["endpoints"].items():
        did = []
        for c in ep.get("calls", []):
            what = t(f"quiz.call.{c['call']}", bytes=c.get("bytes", 0))
            when = (t("quiz.at", t=f"{c['t']:g}") if "t" in c
                    else t("quiz.on", on=t(f"quiz.trigger.{c['on'].replace(' ', '_')}")))
            did.append(f"{what} {when}")
        parts.append(t("quiz.calls", endpoint=name, calls=t("list.separator").join(did)))
    return " ".join(parts)


@dataclass(frozen=True)
class Field:
    """One answer the reader gives: a number typed, or a choice."""

    id: str
    label: str
    kind: str                    # "number" or "choice"
    answer: tuple[str, ...]      # every accepted answer
    options: tuple[str, ...] = ()
    wrong: tuple[tuple[str, str], ...] = ()   # (wrong answer, misconception) for the plausible ones
    hint: str = ""               # for any other wrong answer
    #: what the field asks, for machines: {"what": "seq", "segment": 4}, {"what": "state", ...}
    about: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind, "answer": list(self.answer),
                "options": list(self.options), "wrong": dict(self.wrong), "hint": self.hint,
                "about": dict(self.about)}

    def check(self, given: str) -> tuple[bool, str | None]:
        """(right?, the misconception a wrong answer shows, if one is catalogued)."""
        given = " ".join(str(given).split())
        if self.kind == "number":
            given = given.lstrip("+")
        if given in self.answer:
            return True, None
        return False, dict(self.wrong).get(given)


#: what a kind's maker returns: the scenario run, what the question shows, its fields (None: nothing to ask)
Made = tuple[dict[str, Any], dict[str, Any], list[Field]] | None


# ------------------------------------------------------------------ the question
class Question:
    """A kind of question on one scenario; `variant(k)` is its k-th variant, computed."""

    def __init__(self, kind: str, scenario: str = "connect-close", *, scope: str = "all", seed: int = 1,
                 blanks: str = "all", name: str = ""):
        if kind not in KINDS:
            raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(KINDS)}")
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}")
        if blanks not in ("all", "numbers", "states"):
            raise ValueError(f"unknown blanks {blanks!r}; known: all, numbers, states")
        load(builtin(scenario))            # an unknown scenario fails here, naming it
        self.kind, self.scenario, self.scope, self.seed, self.blanks = kind, scenario, scope, int(seed), blanks
        self.name = name

    @classmethod
    def book(cls, name: str) -> Question:
        """One of the book's questions (`BOOK`), e.g. ``Question.book("close/next")``."""
        if name not in BOOK:
            raise ValueError(f"no question {name!r} in the book; known: {', '.join(BOOK)}")
        spec = dict(BOOK[name])
        return cls(spec.pop("kind"), name=name, **spec)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "scenario": self.scenario, "scope": self.scope, "seed": self.seed,
                "blanks": self.blanks, "name": self.name}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Question:
        return cls(spec["kind"], spec["scenario"], scope=spec["scope"], seed=spec["seed"],
                   blanks=spec.get("blanks", "all"), name=spec.get("name", ""))

    def spec_id(self) -> str:
        return spec_id(self.spec())

    # -------------------------------------------------------------- variants
    def rng(self, k: int) -> random.Random:
        """The seeded generator of variant k (a string seed: the same numbers everywhere)."""
        return random.Random(f"tcpsim-quiz/{self.kind}/{self.scenario}/{self.scope}/{self.blanks}/{self.seed}/{k}")

    def draw(self, k: int) -> dict[str, Any]:
        """Variant k's scenario, before any loss: ISNs, delay, data and profile from the seed."""
        rng = self.rng(k)
        sc = copy.deepcopy(builtin(self.scenario))
        sc["name"] = f"{self.scenario} (variant {k + 1})"
        sc.pop("network", None)
        isns = rng.sample(range(100, 10000), len(sc["endpoints"]))
        for ep, isn in zip(sc["endpoints"].values(), isns, strict=True):
            ep["isn"] = isn
        sc["delay"] = rng.choice((0.01, 0.02, 0.05, 0.1))
        sc["profile"] = rng.choice(("linux", "rfc9293"))
        # a close at the same instant as the other side's (a simultaneous close) comes a little
        # later, less than one delay: the FINs still cross, and every segment has its own time
        closes = [c for ep in sc["endpoints"].values() for c in ep["calls"] if c["call"] == "close" and "t" in c]
        if len(closes) == 2 and closes[0]["t"] == closes[1]["t"]:
            closes[1]["t"] = round(closes[1]["t"] + sc["delay"] * rng.choice((0.2, 0.4, 0.6)), 6)
        data = rng.choice((0, 100, 200, 500, 1000, 1460))
        if data and self.scope != "handshake":
            client = next(iter(sc["endpoints"].values()))
            client["calls"].insert(1, {"t": 1, "call": "send", "bytes": data})
        return sc

    def variant(self, k: int) -> dict[str, Any]:
        """Variant k: its question, fields with their answer keys, and the full run to show after."""
        sc = self.draw(k)
        rng = self.rng(k)
        rng.random()                      # the draw's own numbers are not reused for the question
        maker = {"fill": self._fill, "next": self._next, "order": self._order, "loss": self._loss}[self.kind]
        for attempt in range(8):
            made = maker(sc, rng)
            if made is not None:
                break
            sc = self.draw(k + 1000 * (attempt + 1))      # this draw offers nothing to ask: another one
        else:  # pragma: no cover - every built-in question finds something to ask
            raise ValueError(f"{self.scenario}: nothing to ask for a {self.kind} question in scope {self.scope}")
        scenario, body, fields = made
        trace = run(scenario)
        hosts = [e for e in trace.endpoints() if e in (trace.segments[0].seg.src, trace.segments[0].seg.dst)]
        return {"id": self.spec_id(), "kind": self.kind, "n": k, "title": t(f"quiz.title.{self.kind}"),
                "prompt": t(f"quiz.prompt.{self.kind}"), "facts": self._facts(scenario), **body,
                "fields": [f.to_dict() for f in fields],
                "misconceptions": {m: {"text": t(f"quiz.mis.{m}"), "href": MISCONCEPTIONS[m]}
                                   for f in fields for _, m in f.wrong},
                "solution": {"ladder": ladder(trace).svg(),
                             "paths": [describe_path(trace, e) for e in hosts]},
                "scenario": scenario}

    def pool(self, n: int = POOL) -> list[dict[str, Any]]:
        return [self.variant(k) for k in range(n)]

    def _facts(self, sc: dict[str, Any]) -> str:
        return t("quiz.facts", profile=sc["profile"], delay=f"{sc['delay']:g}") + " " + _calls_text(sc)

    # -------------------------------------------------------------- scope
    def _in_scope(self, trace: Trace) -> list[SegmentRecord]:
        segs = [r for r in trace.segments if not r.dropped]
        if self.scope == "handshake":      # what is sent until both sides are ESTABLISHED, retransmissions too
            established = [c.t for c in trace.changes if c.new is State.ESTABLISHED]
            return [r for r in segs if r.t < max(established)] if established else segs[:3]
        if self.scope == "close":
            first = next((k for k, r in enumerate(segs) if "F" in r.seg.flags), len(segs))
            return segs[first:]
        return segs

    # -------------------------------------------------------------- fill
    def _fill(self, sc: dict[str, Any], rng: random.Random) -> Made:
        trace = run(sc)
        scope = self._in_scope(trace)
        if not scope:
            return None
        t0, t1 = scope[0].t, scope[-1].arrive or scope[-1].t
        cells: list[tuple[str, Any]] = []
        if self.blanks in ("all", "numbers"):
            for r in scope:
                cells.append(("seq", r))
                if r.seg.ack is not None:
                    cells.append(("ack", r))
        flags = [("flags", r) for r in scope] if self.blanks == "all" else []
        changes = [c for c in trace.changes if t0 <= c.t <= t1 and ":" not in c.endpoint]
        states = [("state", c) for c in changes] if self.blanks in ("all", "states") else []
        want = {"all": (2, 1, 1), "numbers": (4, 0, 0), "states": (0, 0, 3)}[self.blanks]
        if len(cells) < want[0] or len(states) < want[2]:
            return None
        chosen = rng.sample(cells, want[0]) + rng.sample(flags, want[1]) + rng.sample(states, want[2])
        fields: list[Field] = []
        blank: dict[tuple[str, int], str] = {}
        for what, rec in sorted(chosen, key=lambda c: (c[1].order, c[0])):
            fid = f"f{len(fields) + 1}"
            if what == "state":
                field = self._state_field(fid, trace, rec, t("quiz.blank", field=fid[1:]) + " "
                                          + t("quiz.label.state", endpoint=rec.endpoint, cause=rec.cause))
                fields.append(replace(field, about=(("what", "state"), ("endpoint", rec.endpoint),
                                                    ("order", rec.order))))
                blank[("state", id(rec))] = fid
            else:
                label = (t("quiz.blank", field=fid[1:]) + " "
                         + t(f"quiz.label.{what}", i=rec.i, src=rec.seg.src, dst=rec.seg.dst))
                field = (_number_field(fid, trace, rec, what, label) if what != "flags"
                         else _flags_field(fid, trace, rec, label))
                fields.append(replace(field, about=(("what", what), ("segment", rec.i))))
                blank[(what, rec.i)] = fid
        return sc, {"table": _fill_table(trace, blank)}, fields

    def _state_field(self, fid: str, trace: Trace, c: StateChange, label: str) -> Field:
        return self._state_choice(fid, trace, c.endpoint, c.new.value, label)

    # -------------------------------------------------------------- next
    def _next(self, sc: dict[str, Any], rng: random.Random) -> Made:
        trace = run(sc)
        times = [r.t for r in trace.segments]
        ok = [r for r in self._in_scope(trace) if r.i > 1 and times.count(r.t) == 1 and r.arrive is not None]
        if not ok:
            return None
        r = rng.choice(ok)
        events = trace_events(trace)
        step = sum(1 for e in events if e.t < r.t)
        src, dst = r.seg.src, r.seg.dst
        flags = FLAG_CHOICES if flag_words(r.seg.flags) in FLAG_CHOICES else FLAG_CHOICES + (flag_words(r.seg.flags),)
        options = tuple(t("quiz.sends", src=a, dst=b, flags=f) for a, b in ((src, dst), (dst, src)) for f in flags)
        right = t("quiz.sends", src=src, dst=dst, flags=flag_words(r.seg.flags))
        wrong = []
        for o in options:
            if o == right:
                continue
            if o == t("quiz.sends", src=src, dst=dst, flags="FIN") and "FA" == r.seg.flags:
                wrong.append((o, "ack_always_set"))
            elif o == t("quiz.sends", src=src, dst=dst, flags="ACK") and r.seg.flags == "FA" and _acks_fin(trace, r):
                wrong.append((o, "piggyback"))
            elif (o == t("quiz.sends", src=src, dst=dst, flags="FIN,ACK") and r.seg.flags == "A"
                  and _acks_fin(trace, r)):
                wrong.append((o, "fin_waits_for_app"))
            elif o == t("quiz.sends", src=src, dst=dst, flags="SYN") and r.seg.flags == "SA":
                wrong.append((o, "synack_both"))
        sent = Field("f1", t("quiz.label.sent"), "choice", (right,), options, tuple(wrong), t("quiz.hint.sent"),
                     (("what", "sent"), ("segment", r.i)))
        after_send = _state_at(trace, src, r.t, r.order)
        assert r.arrive is not None
        after_arrive = _state_on_arrival(trace, dst, r)
        fields = [sent,
                  replace(self._state_choice("f2", trace, src, after_send, t("quiz.label.after_send", endpoint=src)),
                          about=(("what", "after_send"), ("endpoint", src), ("segment", r.i))),
                  replace(self._state_choice("f3", trace, dst, after_arrive,
                                             t("quiz.label.after_arrive", endpoint=dst)),
                          about=(("what", "after_arrive"), ("endpoint", dst), ("segment", r.i)))]
        figure = ladder(so_far(trace, r.t)).svg()
        return sc, {"figure": figure, "so_far": step}, fields

    def _state_choice(self, fid: str, trace: Trace, endpoint: str, state: str, label: str) -> Field:
        return Field(fid, label, "choice", (state,), STATE_CHOICES,
                     tuple((g, m) for g in STATE_CHOICES if (m := state_mistake(trace, endpoint, state, g))),
                     t("quiz.hint.state"))

    # -------------------------------------------------------------- order
    def _order(self, sc: dict[str, Any], rng: random.Random) -> Made:
        if not _has_crossing(run(sc)):          # a simultaneous close is shuffled as it is; else, one loss
            d = _pick_loss(self, sc, rng)
            if d is None:
                return None
            sc = d[0]
        trace = run(sc)
        segs = trace.segments
        if self.scope == "handshake":
            last = max(k for k, r in enumerate(segs) if not r.dropped and r in self._in_scope(trace))
            segs = segs[:last + 1]
        elif self.scope == "close":
            first = next(k for k, r in enumerate(segs) if "F" in r.seg.flags)
            segs = segs[first:]
        labels = [_seg_text(r) + (" " + t("quiz.lost") if r.dropped else "") for r in segs]
        shuffled = list(range(len(segs)))
        while shuffled == sorted(shuffled):
            rng.shuffle(shuffled)
        n = len(segs)
        positions = tuple(str(p) for p in range(1, n + 1))
        fields = []
        for letter, k in enumerate(shuffled):
            r = segs[k]
            ok = tuple(str(j + 1) for j, s in enumerate(segs) if s.t == r.t or labels[j] == labels[k])
            wrong = []
            for p in positions:
                if p in ok:
                    continue
                early = int(p) - 1 < k                  # placed before segments that were sent before it
                if r.rtx and early and any(s.dropped and _same(s, r) for s in segs[:k]):
                    wrong.append((p, "rtx_after_timer"))
                elif early and any(_acks(r, s) for s in segs[int(p) - 1:k]):
                    wrong.append((p, "ack_after_segment"))
            fields.append(Field(f"f{letter + 1}", t("quiz.label.order", letter=chr(65 + letter), segment=labels[k]),
                                "choice", ok, positions, tuple(wrong), t("quiz.hint.order"),
                                (("what", "order"), ("segment", r.i))))
        items = [{"letter": chr(65 + letter), "text": labels[k]} for letter, k in enumerate(shuffled)]
        return sc, {"items": items}, fields

    # -------------------------------------------------------------- loss
    def _loss(self, sc: dict[str, Any], rng: random.Random) -> Made:
        picked = _pick_loss(self, sc, rng, identifiable=True)
        if picked is None:
            return None
        lossy, lost, panel = picked
        trace = run(lossy)
        options = tuple(_droppable_text(d) for d in panel.droppable)
        right = _droppable_text(lost)
        wrong = []
        for d, o in zip(panel.droppable, options, strict=True):
            if o == right:
                continue
            copies = [r for r in trace.segments if r.seg.src == d.src and r.seg.flags == d.flags
                      and r.seg.seq == d.seq and r.seg.ack == d.ack]
            wrong.append((o, "lost_was_answered" if len(copies) > 1 else "lost_is_drawn"))
        field = Field("f1", t("quiz.label.lost"), "choice", (right,), options, tuple(wrong), t("quiz.hint.lost"),
                      (("what", "lost"),))
        return lossy, {"figure": ladder(hide_losses(trace)).svg()}, [field]

    # -------------------------------------------------------------- faces
    def show(self) -> QuestionForm:
        """The static form: the first variant, its answers folded (deterministic, for nbval and print)."""
        return QuestionForm(self, self.variant(0))

    def widget(self) -> Any:
        """The question in JupyterLab, a fresh variant at each "another one" (ipywidgets)."""
        from .quiz_live import QuizWidget

        return QuizWidget(self).box


# ------------------------------------------------------------------ fields and their mistakes
def _prev_from(trace: Trace, r: SegmentRecord, src: str) -> SegmentRecord | None:
    before = [s for s in trace.segments if s.order < r.order and s.seg.src == src and not s.dropped]
    return before[-1] if before else None


def _last_received(trace: Trace, r: SegmentRecord) -> SegmentRecord | None:
    """The last segment the sender of r had received from its peer before sending r."""
    got = [s for s in trace.segments if s.seg.dst == r.seg.src and s.seg.src == r.seg.dst
           and s.arrive is not None and s.arrive <= r.t and not s.dropped]
    return max(got, key=lambda s: (s.arrive, s.order)) if got else None


def _number_field(fid: str, trace: Trace, r: SegmentRecord, what: str, label: str) -> Field:
    """A seq or ack cell; the wrong answers that show a misconception are computed from the segment before."""
    answer = r.seg.seq if what == "seq" else r.seg.ack
    assert answer is not None
    wrong: dict[int, str] = {}

    def add(value: int, mis: str) -> None:
        value %= 1 << 32
        if value != answer and value not in wrong:
            wrong[value] = mis

    if what == "seq":
        prev = _prev_from(trace, r, r.seg.src)
        if prev is not None:
            if consumed(prev) == 0:
                add(answer + 1, "ack_plus_one")
            if "S" in prev.seg.flags or "F" in prev.seg.flags:
                add(answer - 1, "syn_fin_count")
            if prev.seg.len:
                add(answer - prev.seg.len, "data_not_counted")
        if r.seg.ack is not None:
            add(r.seg.ack, "seq_ack_swapped")
        add(answer - trace.isn.get(r.seg.src, 0), "relative_numbers")
    else:
        p = _last_received(trace, r)
        if p is not None:
            if "S" in p.seg.flags or "F" in p.seg.flags:
                add(answer - 1, "syn_fin_count")
            add(p.seg.seq, "ack_echoes_seq")
            if p.seg.len and consumed(p) == p.seg.len:
                add(p.seg.seq + 1, "ack_is_seq_plus_one")
            if consumed(p) == 0:
                add(answer + 1, "ack_plus_one")
            if p.seg.len:
                add(answer - p.seg.len, "data_not_counted")
        add(r.seg.seq, "seq_ack_swapped")
        add(answer - trace.isn.get(r.seg.dst, 0), "relative_numbers")
    return Field(fid, label, "number", (str(answer),), (), tuple((str(v), m) for v, m in wrong.items()),
                 t(f"quiz.hint.{what}"))


def _flags_field(fid: str, trace: Trace, r: SegmentRecord, label: str) -> Field:
    right = flag_words(r.seg.flags)
    wrong = []
    if r.seg.flags == "FA":
        wrong.append(("FIN", "ack_always_set"))
        if _acks_fin(trace, r):
            wrong.append(("ACK", "piggyback"))
    if r.seg.flags == "SA":
        wrong.append(("SYN", "synack_both"))
    if r.seg.flags == "A" and _acks_fin(trace, r):
        wrong.append(("FIN,ACK", "fin_waits_for_app"))
    options = FLAG_CHOICES if right in FLAG_CHOICES else FLAG_CHOICES + (right,)
    return Field(fid, label, "choice", (right,), options, tuple(wrong), t("quiz.hint.flags"))


def _acks_fin(trace: Trace, r: SegmentRecord) -> bool:
    """Whether r is the first to acknowledge a FIN of its peer."""
    p = _last_received(trace, r)
    if p is None or "F" not in p.seg.flags or r.seg.ack != _add(p.seg.seq, consumed(p)):
        return False
    return not any(s.seg.src == r.seg.src and s.order < r.order and s.seg.ack == r.seg.ack
                   for s in trace.segments)


def _active_closer(trace: Trace) -> str | None:
    fins = [r for r in trace.segments if "F" in r.seg.flags]
    return fins[0].seg.src if fins else None


def state_mistake(trace: Trace, endpoint: str, right: str, given: str) -> str | None:
    """The misconception that answering `given` for `right` most likely shows (None: no known one)."""
    if given == right:
        return None
    closer = _active_closer(trace)
    passive = closer is not None and _host(endpoint) != closer and not _has_crossing(trace)
    pairs = {
        ("TIME_WAIT", "CLOSED"): "time_wait_needed" if not passive else None,
        ("CLOSE_WAIT", "LAST_ACK"): "close_wait_app",
        ("LAST_ACK", "CLOSE_WAIT"): "close_wait_app",
        ("FIN_WAIT_2", "CLOSE_WAIT"): "close_wait_fin",
        ("CLOSE_WAIT", "FIN_WAIT_2"): "close_wait_fin",
        ("FIN_WAIT_2", "TIME_WAIT"): "fin_wait_2",
        ("TIME_WAIT", "FIN_WAIT_2"): "fin_wait_2",
        ("LAST_ACK", "CLOSED"): "last_ack",
        ("CLOSED", "LAST_ACK"): "last_ack",
        ("SYN_RECEIVED", "ESTABLISHED"): "server_established",
        ("ESTABLISHED", "SYN_RECEIVED"): "client_established" if _host(endpoint) == _client(trace)
        else None,
        ("SYN_SENT", "ESTABLISHED"): "client_established",
        ("SYN_RECEIVED", "LISTEN"): "listen_stays",
        ("TIME_WAIT", "CLOSING"): "closing_crossing",
        ("FIN_WAIT_2", "CLOSING"): "closing_crossing",
        ("CLOSING", "FIN_WAIT_2"): "closing_crossing",
        ("CLOSING", "TIME_WAIT"): "closing_crossing",
    }
    if given == "TIME_WAIT" and passive and right in ("CLOSE_WAIT", "LAST_ACK", "CLOSED"):
        return "closer_time_wait"
    return pairs.get((right, given))


def _client(trace: Trace) -> str:
    return trace.segments[0].seg.src


def _has_crossing(trace: Trace) -> bool:
    """Whether both sides sent a FIN before receiving the other's (a simultaneous close)."""
    fins = {}
    for r in trace.segments:
        if "F" in r.seg.flags and r.seg.src not in fins:
            fins[r.seg.src] = r
    if len(fins) < 2:
        return False
    a, b = fins.values()
    return (a.arrive is None or a.arrive > b.t) and (b.arrive is None or b.arrive > a.t)


def _state_at(trace: Trace, endpoint: str, t_us: int, order: int) -> str:
    """The endpoint's state just after the event at (t_us, order)."""
    now = None
    for c in trace.lineage(endpoint):
        if (c.t, c.order) <= (t_us, order):
            now = c.new.value
        elif now is None:
            now = c.old.value
    return now or State.CLOSED.value


def _state_on_arrival(trace: Trace, endpoint: str, r: SegmentRecord) -> str:
    """The receiver's state once r has arrived and been processed (its application not yet told to act)."""
    assert r.arrive is not None
    state = _state_at(trace, endpoint, r.arrive - 1, 1 << 62)
    for c in trace.lineage(endpoint):
        if c.t == r.arrive and c.cause.startswith("rcv"):
            state = c.new.value
    return state


def _same(a: SegmentRecord, b: SegmentRecord) -> bool:
    return (a.seg.src, a.seg.flags, a.seg.seq, a.seg.ack) == (b.seg.src, b.seg.flags, b.seg.seq, b.seg.ack)


def _acks(r: SegmentRecord, s: SegmentRecord) -> bool:
    """Whether r acknowledges what s sent (s consumed sequence numbers and r's ack covers them)."""
    return (s.seg.src == r.seg.dst and consumed(s) > 0 and r.seg.ack is not None
            and r.seg.ack == _add(s.seg.seq, consumed(s)))


def _droppable_text(d: Droppable) -> str:
    numbers = (t("segment.numbers", seq=d.seq) if d.ack is None else t("segment.numbers.ack", seq=d.seq, ack=d.ack))
    return t("quiz.segment", src=d.src, dst=d.dst, flags=flag_words(d.flags), numbers=numbers)


def _pick_loss(q: Question, sc: dict[str, Any], rng: random.Random,
               identifiable: bool = False) -> tuple[dict[str, Any], Droppable, DropPanel] | None:
    """A scenario with one segment of the scope lost, one whose loss makes TCP retransmit
    (and, with `identifiable`, one no other single loss would draw the same)."""
    panel = DropPanel(sc)
    base = run(sc)
    scope = {(r.seg.src, r.seg.flags, r.seg.seq, r.seg.ack) for r in q._in_scope(base)}
    seen: dict[tuple[Any, ...], list[Droppable]] = {}
    for d in panel.droppable:
        sig = _visible(panel.run([d]))
        seen.setdefault(sig, []).append(d)
    candidates = []
    for d in panel.droppable:
        if (d.src, d.flags, d.seq, d.ack) not in scope:
            continue
        trace = panel.run([d])
        if not any(r.rtx for r in trace.segments):
            continue
        if identifiable and len(seen[_visible(trace)]) > 1:
            continue
        candidates.append(d)
    if not candidates:
        return None
    d = rng.choice(candidates)
    return panel.scenario([d]), d, panel


def _visible(trace: Trace) -> tuple[Any, ...]:
    return tuple((r.t, r.seg.src, r.seg.flags, r.seg.seq, r.seg.ack, r.seg.len)
                 for r in trace.segments if not r.dropped)


def hide_losses(trace: Trace) -> Trace:
    """The trace as the receiver-side evidence shows it: lost transmissions taken out, the rest
    numbered again and no longer marked as retransmissions (the reader is to find the loss)."""
    shown = copy.copy(trace)
    kept = [r for r in trace.segments if not r.dropped]
    shown.segments = [SegmentRecord(k + 1, r.t, r.seg, False, False, r.arrive, r.note, r.order)
                      for k, r in enumerate(kept)]
    shown._base_cache = []
    return shown


def so_far(trace: Trace, t_us: int) -> Trace:
    """The run before time `t_us`: what was sent before it (drawn to its arrival) and the state
    changes before it.  (A ladder cut by `step` would still lay out the later times, and its time
    axis would tell what happens when.)"""
    shown = copy.copy(trace)
    shown.segments = [r for r in trace.segments if r.t < t_us]
    shown.changes = [c for c in trace.changes if c.t < t_us]
    shown._base_cache = []
    return shown


def segment_row(src: str, dst: str) -> str:
    """"client → server": how the question's table names a segment's row."""
    return t("quiz.row.segment", src=src, dst=dst)


def change_row(endpoint: str, cause: str) -> str:
    """"server enters (rcv FIN)": how it names a state change's row (the state is the cell to fill)."""
    return t("quiz.row.change", endpoint=endpoint, cause=cause)


def _fill_table(trace: Trace, blank: dict[tuple[str, Any], str]) -> str:
    """The run as an HTML table, each blank an empty cell that names its field."""
    head = "".join('<th scope="col">' + escape(t(f"quiz.col.{c}")) + "</th>"
                   for c in ("t", "i", "who", "flags", "seq", "ack", "len"))
    rows = []

    def cell(key: tuple[str, Any], value: str) -> str:
        fid = blank.get(key)
        if fid is None:
            return f"<td>{escape(value)}</td>"
        return f'<td class="tcpsim-quiz-blank" data-field="{fid}">{escape(t("quiz.blank", field=fid[1:]))}</td>'

    for e in trace_events(trace):
        if isinstance(e, SegmentRecord):
            if e.dropped:
                continue
            s = e.seg
            rows.append(f"<tr><td>{secs(e.t):g}</td><td>{e.i}</td>"
                        f"<td>{escape(segment_row(s.src, s.dst))}</td>"
                        + cell(("flags", e.i), flag_words(s.flags)) + cell(("seq", e.i), str(s.seq))
                        + cell(("ack", e.i), "" if s.ack is None else str(s.ack)) + f"<td>{s.len}</td></tr>")
        elif ":" not in e.endpoint:
            state = cell(("state", id(e)), e.new.value).replace("<td", '<td colspan="4"', 1)
            rows.append(f'<tr class="tcpsim-change"><td>{secs(e.t):g}</td><td></td>'
                        f"<td>{escape(change_row(e.endpoint, e.cause))}</td>"
                        f"{state}</tr>")
    return (f'<table class="tcpsim-quiz-table"><caption>{escape(t("quiz.table"))}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


# ------------------------------------------------------------------ the static form
class QuestionForm:
    """A question's kernel-free form: variant 1 with its answers folded, and its spec for the page script."""

    def __init__(self, question: Question, variant: dict[str, Any]):
        self.question, self.variant = question, variant

    def _repr_html_(self) -> str:
        import json

        q, v = self.question, self.variant
        spec = json.dumps(q.spec(), sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
        return (f'<div class="tcpsim-quiz" data-question="{q.kind}" data-tcpsim-quiz="{q.spec_id()}">'
                f'<script type="application/json" class="tcpsim-quiz-spec">{spec}</script>'
                f'<div class="tcpsim-quiz-body">{variant_html(v)}'
                f'<p class="tcpsim-quiz-note">{escape(t("quiz.static.note"))}</p></div></div>')

    def __repr__(self) -> str:
        return f"<Question {self.question.kind} {self.question.name or self.question.scenario}>"

    def __str__(self) -> str:
        return "\n".join(variant_text(self.variant))


def variant_html(v: dict[str, Any], answers: bool = True) -> str:
    """One variant as static HTML: question, fields with blanks and, folded, the answers."""
    out = [f'<p class="tcpsim-quiz-title">{escape(v["title"])}</p>',
           f'<p class="tcpsim-quiz-prompt">{escape(v["prompt"])}</p>',
           f'<p class="tcpsim-quiz-facts">{escape(v["facts"])}</p>']
    out += _body_html(v)
    out.append('<ol class="tcpsim-quiz-fields">' + "".join(
        f"<li>{escape(f['label'])}: <span class=\"tcpsim-quiz-line\">{escape(_choices(f))}</span></li>"
        for f in v["fields"]) + "</ol>")
    if answers:
        # the key and each side's states; the ladder of the whole run is shown by the page once answered
        # (a picture folded away would be one JupyterLab cannot show until opened)
        out.append(f'<details class="tcpsim-quiz-answer"><summary>{escape(t("quiz.answer"))}</summary>'
                   + answer_html(v, figure=False) + "</details>")
    return "".join(out)


def _body_html(v: dict[str, Any]) -> list[str]:
    out = []
    if v.get("table"):
        out.append(v["table"])
    if v.get("figure"):
        out.append(f'<div class="tcpsim-quiz-figure">{svg_img(v["figure"], DRAWING_STYLE)}</div>')
    if v.get("items"):
        out.append('<ul class="tcpsim-quiz-items">' + "".join(
            f"<li><b>{escape(i['letter'])}</b> {escape(i['text'])}</li>" for i in v["items"]) + "</ul>")
    return out


def _choices(f: dict[str, Any]) -> str:
    if f["kind"] == "number" or len(f["options"]) > 12:
        return "______"
    return t("quiz.one_of", options=" / ".join(f["options"]))


def answer_html(v: dict[str, Any], figure: bool = True) -> str:
    either = t("quiz.or")
    items = "".join(f"<li>{escape(f['label'])}: <b>{escape(either.join(f['answer']))}</b></li>"
                    for f in v["fields"])
    paths = "".join(f"<li>{escape(p)}</li>" for p in v["solution"]["paths"])
    drawing = (f'<div class="tcpsim-quiz-figure">{svg_img(v["solution"]["ladder"], DRAWING_STYLE)}</div>'
               if figure else "")
    return (f'<ol class="tcpsim-quiz-key">{items}</ol><p>{escape(t("quiz.paths"))}</p>'
            f'<ul class="tcpsim-quiz-paths">{paths}</ul>{drawing}')


def variant_text(v: dict[str, Any]) -> Iterator[str]:
    yield v["title"]
    yield v["prompt"]
    yield v["facts"]
    either = t("quiz.or")
    for k, f in enumerate(v["fields"], 1):
        yield f"{k}. {f['label']}: {either.join(f['answer'])}"


def check(v: dict[str, Any], given: dict[str, str]) -> dict[str, tuple[bool, str | None]]:
    """Each field's verdict on the answers given (field id -> (right?, misconception))."""
    fields = [Field(f["id"], f["label"], f["kind"], tuple(f["answer"]), tuple(f["options"]),
                    tuple(f["wrong"].items()), f["hint"]) for f in v["fields"]]
    return {f.id: f.check(given.get(f.id, "")) for f in fields}


def book_questions(chapter: str | None = None, kind: str | None = None) -> list[Question]:
    """The book's questions, of one chapter or one kind (or all)."""
    if chapter is not None and chapter not in chapters():
        raise ValueError(f"no chapter {chapter!r} has questions; chapters: {', '.join(chapters())}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(KINDS)}")
    out = [Question.book(n) for n in BOOK if chapter is None or n.split("/")[0] == chapter]
    return [q for q in out if kind is None or q.kind == kind]


__all__: Sequence[str] = ("BOOK", "KINDS", "MISCONCEPTIONS", "Question", "QuestionForm", "book_questions",
                          "check", "chapters", "consumed", "hide_losses", "so_far", "state_mistake", "variant_html")

