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


def page_script() -> str:
    """A script body that hands `page_text` to tcpsim-panels.js (``window.tcpsimText``)."""
    data = json.dumps(page_text(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "window.tcpsimText = " + data.replace("</", "<\\/") + ";"
