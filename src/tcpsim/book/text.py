"""Every word the drop-a-packet panels show a reader, in one place.

The panels have three faces -- the static figure (`DropPanel.show`), the
ipywidgets panel in JupyterLab (`DropPanel.widget`) and the kernel-free panel
on the website (``static/tcpsim-panels.js``) -- and all of them take their
text from `TEXT`, looked up by key:

    t("caption", title="connect-close", what="nothing")   # plain text
    html("widget.heading", title="a < b")                  # markup, fields escaped

Templates use ``str.format`` fields.  The keys in `PAGE_KEYS` are the ones the
website's script needs; the Sphinx extension writes them into every page
(`page_text`), so the script holds no English of its own.  Those templates use
only plain ``{name}`` fields, which the script fills in itself.

Nothing copies a text out of `TEXT` at import time, so a translation -- another
dict with the same keys and the same fields in each template -- plugs in by
updating `TEXT` (`tests/test_widgets.py` checks that every key looked up
exists, that every text is shown somewhere, and that the page's templates have
plain fields only).  `DropPanel`'s error messages are for the author of a
chapter, not its reader, and stay in the code that raises them.
"""

from __future__ import annotations

import json
import string
from html import escape
from typing import Final

TEXT: Final[dict[str, str]] = {
    # -- the what-if knobs: their labels, and how a caption names a setting
    "knob.time_wait": "TIME_WAIT on (off is not TCP)",
    "knob.two_way": "two-way handshake (not TCP)",
    "knob.profile": "profile",
    "knob.delay": "one-way delay (s)",
    "setting.time_wait.on": "TIME_WAIT on",
    "setting.time_wait.off": "TIME_WAIT off (what-if, not TCP)",
    "setting.two_way.off": "three-way handshake",
    "setting.two_way.on": "two-way handshake (what-if, not TCP)",
    "setting": "{label} {value}",
    # -- a droppable segment, and how a caption or a status line names it
    "segment.label": "{index}. {src} → {dst} {flags} {numbers}",
    "segment.numbers": "seq={seq}",
    "segment.numbers.ack": "seq={seq} ack={ack}",
    "segment.dropped": "#{index} ({src}'s {flags})",
    "segment.ref": "#{index}",
    "list.separator": ", ",
    # -- one sentence of what a setting did (the figure, the page's status line, the widget)
    "story.none": "Nothing is lost.",
    "story.never": "{lost} is lost and never sent again.",
    "story.again": "{lost} is lost; {who} sends it again {after} s later.",
    "story.end": "In the end: {states}.",
    "story.state": "{endpoint} {state}",
    "story.settings": "Set: {settings}.",
    # -- the static figure (the widget's twin)
    "caption": "{title}: dropped {what}",
    "caption.setting": "; {setting}",
    "caption.nothing": "nothing",
    "figure.table": "trace table",
    "static.controls": "drop segments",
    "static.note": ("The drop controls appear here on the website (with JavaScript), "
                    "or live when this cell runs in JupyterLab."),
    "static.note.twin": ("The figure above is this panel as the text describes it; with JavaScript "
                         "the live panel takes its place on the website, and in JupyterLab it runs "
                         "live when this cell runs."),
    # -- the live panel in JupyterLab (values marked html are markup)
    "widget.heading": "<b>{title}</b>: click a segment to lose it",
    "widget.tooltip": "drop {label}",
    "widget.step": "step",
    "widget.play": "play",
    "widget.reset": "reset",
    "widget.status": "<b>dropped:</b> {lost} &nbsp; <b>events:</b> {events}<br>{story}",
    "widget.none": "none",
    "widget.plain": "[{title}: a live panel, working once this notebook runs in JupyterLab]",
    # -- the appendix "What TCP does when..." (tcpsim.book.when)
    "when.caption": "What TCP does when a segment arrives: RFC 9293's answer in each state",
    "when.corner": "state \\ arriving",
    "when.legend": ("Each cell: what RFC 9293 §3.10.7 has the receiver send → its next state "
                    "(\"(reset)\", \"(refused)\": what the application is told; \"—\": nothing is sent; "
                    "\"?\": the text does not say what is sent; \"or\": another reading the text allows). "
                    "\"Linux:\" marks a cell where Linux does something else. Open a cell for the "
                    "segment, the quoted clauses, the simulator's and the kernel's answers, and the ladder. "
                    "SYN_RECEIVED* is the SYN_RECEIVED of a simultaneous open."),
    "when.cell.linux": "Linux: {short}",
    "when.cell.also": "or {short}",
    "when.short.told": " ({what})",
    "when.undetermined": "not determined by the text",
    "when.summary": "In {state}, a {kind} arrives",
    "when.segment": "The segment, as the RFC writes it: {segment} (numbers relative to the receiver's ISS and IRS).",
    "when.rfc": "RFC 9293: {answer}.",
    "when.rfc.also": "RFC 9293 also allows: {answer}.",
    "when.clause": "§{section}: \u201c{text}\u201d",
    "when.sim.agrees": "The simulator's {profile} profile: {answer}, as the RFC allows. Its table row: {rule}.",
    "when.sim.differs": "The simulator's {profile} profile: {answer}, not what the RFC says. Its table row: {rule}.",
    "when.kernel.same": "Linux {kernel}, recorded: {answer}, as the linux profile does (matrix cell {id}).",
    "when.kernel.other": ("Linux {kernel}, recorded: {answer}; the linux profile differs here "
                          "(matrix cell {id}, listed in tests/test_linux_matrix.py)."),
    "when.answer": "reply {replies}; next state {state}; the application is told {told}",
    "when.nothing": "nothing",
    "when.told.nothing": "nothing",
    "when.told": "\u201c{what}\u201d",
    "when.rule": "\u201c{label}\u201d, {source}",
    "when.ladder.note": ("The ladder of this run appears here on the website (with JavaScript), "
                         "or in JupyterLab with WhenTable().widget()."),
    "when.ladder.title": "{cell} ({profile} profile)",
    "when.widget.state": "state",
    "when.widget.kind": "arriving",
    "when.widget.static": ("In JupyterLab this cell shows two menus, a state and an arriving segment, and below "
                           "them that cell's answers and the ladder of its run; on this page, open a cell of the "
                           "table above."),
    # -- the questions (tcpsim.book.quiz): what Python writes into each variant
    "quiz.title.fill": "Fill in the hidden fields",
    "quiz.title.next": "Predict the next step",
    "quiz.title.order": "Put the segments in order",
    "quiz.title.loss": "Find the lost segment",
    "quiz.prompt.fill": ("The simulator ran this exchange; some cells of its trace are hidden. "
                         "Work each one out from the rest of the table."),
    "quiz.prompt.next": ("The ladder shows the run so far. What is sent next, what state is its sender in "
                         "once it is sent, and what state is its receiver in once it has arrived?"),
    "quiz.prompt.order": "These segments of one run are shuffled. Number them in the order they were sent.",
    "quiz.prompt.loss": ("One transmission of this run was lost, and the ladder does not draw it. "
                         "From what followed, which segment was lost?"),
    "quiz.facts": "Profile {profile}, one-way delay {delay} s.",
    "quiz.calls": "The {endpoint}'s application: {calls}.",
    "quiz.call.listen": "listens",
    "quiz.call.connect": "connects",
    "quiz.call.send": "sends {bytes} bytes",
    "quiz.call.close": "closes",
    "quiz.call.shutdown": "shuts down its sending side",
    "quiz.call.abort": "aborts",
    "quiz.call.accept": "accepts",
    "quiz.at": "at {t} s",
    "quiz.on": "on {on}",
    "quiz.trigger.connected": "being connected",
    "quiz.trigger.accepted": "accepting",
    "quiz.trigger.eof": "reading the end of the data",
    "quiz.trigger.data": "reading data",
    "quiz.trigger.reset": "a reset",
    "quiz.trigger.refused": "a refusal",
    "quiz.trigger.timed_out": "a time-out",
    "quiz.segment": "{src} → {dst} {flags} {numbers}",
    "quiz.len": "len={n}",
    "quiz.lost": "(lost)",
    "quiz.sends": "{src} → {dst}: {flags}",
    "quiz.label.seq": "seq of segment {i} ({src} → {dst})",
    "quiz.label.ack": "ack of segment {i} ({src} → {dst})",
    "quiz.label.flags": "flags of segment {i} ({src} → {dst})",
    "quiz.label.state": "the state {endpoint} enters ({cause})",
    "quiz.label.sent": "the segment sent next",
    "quiz.label.after_send": "{endpoint}'s state once it is sent",
    "quiz.label.after_arrive": "{endpoint}'s state once it has arrived",
    "quiz.label.order": "position of {letter} ({segment})",
    "quiz.label.lost": "the segment that was lost",
    "quiz.hint.seq": ("A segment's seq is its sender's previous seq plus what that segment consumed: "
                      "its data bytes, plus 1 for a SYN or a FIN."),
    "quiz.hint.ack": ("The ack is the next sequence number the sender expects: the peer's last seq plus "
                      "its data bytes, plus 1 for a SYN or a FIN."),
    "quiz.hint.flags": ("Look at what this segment does: open (SYN), answer (ACK), finish (FIN), and whether it "
                        "acknowledges."),
    "quiz.hint.state": "Follow the state diagram from the state before, on this event.",
    "quiz.hint.sent": ("Ask who has something to answer or to do next: a segment to acknowledge, or a call of its "
                       "application."),
    "quiz.hint.order": "Follow the numbers: each ack names the next byte after a segment sent before it.",
    "quiz.hint.lost": "Look for what was sent twice, or answered late: the lost copy is the one before it.",
    "quiz.col.t": "t (s)",
    "quiz.col.i": "#",
    "quiz.col.who": "segment or state change",
    "quiz.col.flags": "flags",
    "quiz.col.seq": "seq",
    "quiz.col.ack": "ack",
    "quiz.col.len": "len",
    "quiz.row.segment": "{src} → {dst}",
    "quiz.row.change": "{endpoint} enters ({cause})",
    "quiz.blank": "[{field}]",
    "quiz.table": "The trace, with hidden cells numbered as the questions below",
    "quiz.answer": "Answer",
    "quiz.or": " or ",
    "quiz.one_of": "one of {options}",
    "quiz.paths": "The states each side went through:",
    "quiz.static.note": ("On the website (with JavaScript) this question checks your answers and offers "
                         "another variant; in JupyterLab, Question(...).widget() does."),
    "quiz.widget.plain": "[{title}: a question, working once this notebook runs in JupyterLab]",
    # -- the teacher's worksheet (tcpsim.book.worksheet)
    "sheet.title": "TCP connection management: worksheet",
    "sheet.answers": "TCP connection management: answer key",
    "sheet.note": ("Questions from: {chapters}. {variants} variant(s) of each, seed {seed}; every run computed "
                   "by the tcpsim simulator (python -m tcpsim worksheet)."),
    "sheet.question": "Question {number}, variant {variant}: {title}",
    # -- the misconceptions a wrong answer shows (tcpsim.book.quiz.MISCONCEPTIONS links each to its section)
    "quiz.mis.ack_plus_one": "You added 1 for an ACK: only SYN and FIN consume a sequence number.",
    "quiz.mis.syn_fin_count": ("A SYN and a FIN each consume one sequence number: the next seq, and the ACK of it, is "
                               "one more."),
    "quiz.mis.ack_is_seq_plus_one": ("The acknowledgment number is not always seq + 1: it is seq plus the data "
                                     "length, plus 1 only for a SYN or a FIN."),
    "quiz.mis.ack_echoes_seq": "The ack field names the next sequence number expected, not the seq just received.",
    "quiz.mis.seq_ack_swapped": "seq counts the sender's own bytes, ack the peer's: you swapped them.",
    "quiz.mis.data_not_counted": "Every data byte takes a sequence number: add the segment's length.",
    "quiz.mis.relative_numbers": "Sequence numbers start at the ISN, not at 0: this trace shows the real numbers.",
    "quiz.mis.ack_always_set": ("Once a connection is established every segment carries the ACK bit, a FIN "
                                "too (RFC 9293 §3.1: \u201cOnce a connection is established, this is always "
                                "sent\u201d)."),
    "quiz.mis.synack_both": ("The answer to a SYN carries both SYN and ACK: it acknowledges the peer's SYN and sends "
                             "its own."),
    "quiz.mis.piggyback": ("A close need not take four segments: when the application closes at once, "
                           "the ACK of the FIN rides on the answering FIN."),
    "quiz.mis.fin_waits_for_app": ("A FIN waits for the application's close(); here the ACK of the peer's FIN "
                                   "goes first, on its own."),
    "quiz.mis.closer_time_wait": ("The active closer, not \u201cthe client\u201d, goes to TIME_WAIT: here that is the "
                                  "other side."),
    "quiz.mis.time_wait_needed": ("The side that closed first does not go straight to CLOSED: it waits in TIME_WAIT "
                                  "(2 MSL) in case its last ACK was lost."),
    "quiz.mis.close_wait_app": ("CLOSE_WAIT waits for the application, not for the network: it ends when the "
                                "application calls close(), which sends the FIN and enters LAST_ACK."),
    "quiz.mis.close_wait_fin": ("The side that receives the FIN enters CLOSE_WAIT; the side that receives the ACK "
                                "of its own FIN enters FIN_WAIT_2."),
    "quiz.mis.fin_wait_2": ("FIN_WAIT_2 waits for the peer's FIN: an ACK of our FIN leads there, the peer's FIN "
                            "leads on to TIME_WAIT (both at once when they travel together)."),
    "quiz.mis.last_ack": "LAST_ACK ends only when the ACK of its FIN arrives; then the connection is CLOSED.",
    "quiz.mis.server_established": ("The server is ESTABLISHED only when the ACK of its SYN,ACK arrives; until "
                                    "then it is in SYN_RECEIVED."),
    "quiz.mis.client_established": ("The client is ESTABLISHED as soon as the SYN,ACK arrives, before its own ACK "
                                    "reaches the server."),
    "quiz.mis.listen_stays": ("The listener stays in LISTEN; the SYN creates a new connection, which enters "
                              "SYN_RECEIVED."),
    "quiz.mis.closing_crossing": ("CLOSING is where FINs that cross lead (the peer's FIN arrives before the ACK "
                                  "of one's own), not a lost ACK; once one's own FIN is acknowledged, the peer's FIN "
                                  "leads to TIME_WAIT."),
    "quiz.mis.rtx_after_timer": ("A retransmission is sent only when the retransmission timer expires, after the lost "
                                 "copy."),
    "quiz.mis.ack_after_segment": ("An ACK comes after the segment it acknowledges: its ack is that segment's seq plus "
                                   "what it consumed."),
    "quiz.mis.lost_was_answered": ("That segment was sent again because no ACK of it came back: it arrived, and "
                                   "the answer to it is what was lost."),
    "quiz.mis.lost_is_drawn": ("That segment is drawn arriving, and what it asked for was answered: look for what "
                               "was sent twice or answered late."),
    # -- the questions on the website (tcpsim-quiz.js)
    "page.quiz_check": "Check",
    "page.quiz_another": "Another one",
    "page.quiz_reset": "Reset progress",
    "page.quiz_right": "✓ {label}: right.",
    "page.quiz_wrong": "✗ {label}: {given} is not right.",
    "page.quiz_empty": "✗ {label}: no answer yet.",
    "page.quiz_read": "Read the section that explains it",
    "page.quiz_all_right": "All right.",
    "page.quiz_some_wrong": "{wrong} of {total} not right yet; change them and check again.",
    "page.quiz_variant": "Variant {n} of {total}",
    "page.quiz_variant_live": "Variant {n}, made in this page by the live simulator",
    "page.quiz_making": "Making another one in the page (the first time loads the simulator)…",
    "page.quiz_progress": "Questions answered right on this page: {right} of {total}.",
    "page.quiz_solution": "The whole run",
    "page.quiz_choose": "choose",
    "page.quiz_missing": "This question's variants are missing (_static/tcpsim/quiz-{id}.js); rebuild the site.",
    "page.quiz_unreadable": "This question's variants could not be read ({error}); rebuild the site.",
    # -- the kernel-free panel on the website (tcpsim-panels.js)
    "page.hint": "Click a segment to lose it (up to {max_drops} at once on this page; in JupyterLab, any number).",
    "page.drop": "lose {label}",
    "page.reset": "reset",
    "page.caption": "{title}: dropped {lost}",
    "page.status": "Dropped: {lost}.",
    "page.nothing": "nothing",
    "page.ref": "#{index}",
    "page.separator": ", ",
    "page.unreadable": "This panel's pre-computed runs could not be read ({error}); rebuild the site.",
    "page.missing": "This panel's pre-computed runs are missing (panel {id}); rebuild the site.",
    # -- the live simulator in the page (tcpsim-live.js), behind the pre-computed runs
    "page.hint_live": ("Click a segment to lose it, as many as you like: up to {max_drops} at once the page "
                       "answers from runs computed in advance, more (or another delay, or a step through the "
                       "run) and it runs the simulator itself."),
    "page.needs_server": ("This setting was not computed in advance, and the live simulator cannot start from a "
                          "file opened from disk: serve the site's folder (./run.sh serve, or python3 -m "
                          "http.server in it) and open it from http://127.0.0.1:8000/."),
    "page.live_loading": ("Loading the live simulator ({mb} MB, once; later pages take it from the browser's "
                          "cache). The page stays usable meanwhile."),
    "page.live_computing": "Computing this run in the page…",
    "page.live_error": "The simulator refused this setting: {error}",
    "page.live_failed": "The live simulator could not start ({error}); the runs computed in advance still work.",
    "page.bad_number": "{label}: a number from {min} to {max}, please.",
    "page.step": "step through the run",
    "page.step_all": "the whole run ({events} events)",
    "page.step_of": "after {step} of {events} events",
    "page.open_playground": "Open in the playground",
    # -- the playground (tcpsim-playground.js, book/playground.md)
    "page.pg_file": ("The playground runs the simulator in this page, which a browser allows only for a site it "
                     "is served: in the site's folder run python3 -m http.server (or ./run.sh serve in the book's "
                     "source) and open http://127.0.0.1:8000/book/playground.html. The chapters' panels work "
                     "from disk, with the runs computed in advance."),
    "page.pg_loading": "Loading the simulator ({mb} MB, once; later pages take it from the browser's cache)…",
    "page.pg_start": "Start from",
    "page.pg_choose": "a built-in scenario…",
    "page.pg_share": "Share this experiment",
    "page.pg_shared": "A link to this experiment (copied, if the browser allowed it):",
    "page.pg_download_trace": "Download the trace (JSON)",
    "page.pg_download_ladder": "Download the ladder (SVG)",
    "page.pg_download_state": "Download the state diagram (SVG)",
    "page.pg_editor": "The scenario",
    "page.pg_run": "Its run",
    "page.pg_as_json": "Edit it as JSON",
    "page.pg_table": "trace table",
    "page.pg_json_label": "The scenario as JSON (the format of python -m tcpsim show)",
    "page.pg_json_apply": "Run this JSON",
    "page.pg_json_bad": "This is not JSON: {error}",
    "page.pg_item": "#{n}",
    "page.pg_add": "add to {what}",
    "page.pg_remove": "remove {what}",
    "page.pg_drops": "Click a segment of the run to lose it (network.drop: its position in the run).",
    "page.pg_drop": "lose {i}. {src} → {dst} {flags} seq={seq}",
    "page.pg_caption": "{name}: {segments} segments",
    "page.pg_done": "Ran: {segments} segments, {events} events.",
    "page.pg_bad_link": "This link's experiment could not be read; starting from a built-in scenario.",
    "page.zoom_open": "Open larger: {name}",
    "page.zoom_button": "Open larger",
    "page.zoom_close": "Close",
    "page.zoom_dialog": "The diagram at full size",
    "page.when_missing": "The ladders of this table are missing (_static/tcpsim/when-1.js); rebuild the site.",
    "page.unloadable": ("This panel's pre-computed runs could not be loaded (_static/tcpsim/panel-{id}.js is "
                        "missing); rebuild the site. The figure below shows the run without losses."),
    # -- the lab chapter's capture explainer (tcpsim.book.capture)
    "capture.figure.ladder": "<p><b>The capture as a ladder</b> (relative numbers; a lost segment stops half-way)</p>",
    "capture.figure.state_diagram": "<p><b>Each side's inferred states</b> on RFC 9293's state diagram</p>",
    "capture.figure.model_ladder": "<p><b>The model's run</b> of the inferred scenario, for comparison</p>",
    "capture.upload": "Capture",
    "capture.static": ("Explain your own capture with <code>python -m tcpsim explain FILE</code>; on the "
                       "website served over http (with JavaScript), choose or drop a file here and it is "
                       "explained in the page."),
    # -- the website's drop zone (static/tcpsim-capture.js), explained by the live simulator
    "page.cap_choose": "Choose a capture (.pcap or .pcapng), or drop it here",
    "page.cap_private": "The file is read by this page only: it is explained in your browser and sent nowhere.",
    "page.cap_working": "Explaining {name} ({kb} KB) in the page…",
    "page.cap_done": "{name}: explained below.",
    "page.cap_error": "{name}: {error}",
    "page.cap_too_big": ("{name} is {mb} MB; the page explains captures of up to {max} MB: run "
                         "python -m tcpsim explain FILE for larger ones."),
    "page.cap_file": ("Explaining a capture in the page needs the site served over http (./run.sh serve, or "
                      "python3 -m http.server in the site's folder); from disk, run python -m tcpsim explain FILE. "
                      "The samples above are explained already."),
    "capture.hint": "Upload a <code>.pcap</code> or <code>.pcapng</code> file: it is explained here, in this "
                    "kernel; it goes nowhere else.",
    "capture.error": "error: {error}",
}

#: The keys the website's script looks up (see `page_text`).
PAGE_KEYS: Final[tuple[str, ...]] = tuple(k for k in TEXT if k.startswith("page."))

def _template(key: str) -> str:
    try:
        return TEXT[key]
    except KeyError:
        raise KeyError(f"no text {key!r} in tcpsim.book.text.TEXT") from None


def t(key: str, **fields: object) -> str:
    """The text under `key`, its ``{fields}`` filled in (a missing one is an error)."""
    return _template(key).format(**fields)


def html(key: str, **fields: object) -> str:
    """Like `t`, for a template that is markup (or is put into markup): the
    fields are escaped, the template is not."""
    return _template(key).format(**{k: escape(str(v)) for k, v in fields.items()})


def fields_of(key: str) -> set[str]:
    """The names of the fields a template expects."""
    return {name for _, name, _, _ in string.Formatter().parse(_template(key)) if name}


def page_text() -> dict[str, str]:
    """The templates the website's script needs, keyed without their "page." prefix."""
    return {key.removeprefix("page."): TEXT[key] for key in PAGE_KEYS}


#: The words of the scripts only the playground and the lab chapter's drop zone load
#: (tcpsim-playground.js, tcpsim-capture.js): written once, as ``_static/tcpsim/text-late.js``
#: (`late_script`), which those scripts load first, rather than into every page.
LATE: Final[tuple[str, ...]] = ("page.pg_", "page.cap_")


def _script(keys: dict[str, str]) -> str:
    return json.dumps(keys, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")


def page_script() -> str:
    """A script body that hands `page_text` (less the `LATE` words) to the page's scripts (``window.tcpsimText``)."""
    return "window.tcpsimText = " + _script({k: v for k, v in page_text().items() if "page." + k not in _late()}) + ";"


def late_script() -> str:
    """The `LATE` words, added to ``window.tcpsimText`` by a script of their own."""
    return ("window.tcpsimText = Object.assign(window.tcpsimText || {}, "
            + _script({k.removeprefix("page."): TEXT[k] for k in sorted(_late())}) + ");\n")


def _late() -> set[str]:
    return {k for k in PAGE_KEYS if k.startswith(LATE)}
