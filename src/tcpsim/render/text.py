"""Every English word the renderers put in a figure or its description, by key.

    t("timer.rto", t="1")        # "RTO 1 s"

What is *not* here, because it has one place already: state names (`State`
values), event names (`Event` values, which are also the causes of state
changes), the table's edge labels (`Rule.edge_label`) and what a row sends
(`Rule.send_text`) -- all from the core's table -- and the flags' names (SYN,
ACK, ...), which are the protocol's own.  Error messages are for the author
of a chapter, not its reader, and stay in the code that raises them.

Templates use ``str.format`` fields.  Nothing copies a text out of `TEXT` at
import time, so a translation -- another dict with the same keys and the same
fields in each template -- plugs in by updating `TEXT`.  The renderers escape
what they look up, so a template is plain text, not markup.
"""

from __future__ import annotations

from typing import Final

TEXT: Final[dict[str, str]] = {
    # -- lists
    "list.sep": ", ",
    "list.and": " and ",
    "sentence.end": ".",
    "unknown": "?",
    # -- a segment, as its arrow and the descriptions write it
    "seg.no_flags": "(no flags)",
    "seg.seq": "seq={seq}",
    "seg.ack": "ack={ack}",
    "seg.len": "len={n}",
    "seg.ref": "#{i}",
    "mark.rtx": "(rtx)",
    "mark.dup": "(dup)",
    "mark.note": "({note})",
    "mark.copies": " ×{n}",
    "mark.lost": "lost",
    # -- the ladder: what the arrows, timelines and timers say
    "arrow.tip": "{refs} {src} → {dst}: {label}",
    "arrow.tip.copies": " (sent {n} times at once)",
    "arrow.tip.lost": " — lost",
    "axis.title": "t (s)",
    "axis.break": "≈ {gap} s",
    "state.of": "{endpoint}: {state}",
    "state.tip": "{endpoint}: {old} → {new} ({cause}) at {t} s",
    "timer.rto": "RTO {t} s",
    "timer.2msl": "{state} 2MSL {t} s",
    "timer.2msl.running": "{state} (2MSL running)",
    "timer.2msl.restart": "2MSL restarts",
    # -- the ladder's legend
    "legend.delivered": "delivered",
    "legend.lost": "lost",
    "legend.rtx": "retransmission (rtx)",
    "legend.timer": "timer",
    "legend.relative": "seq/ack relative to each ISN",
    "legend.absolute": "absolute seq/ack",
    # -- the ladder's title and description (`ladder.describe`, one line per event)
    "ladder.title": "Ladder diagram of {name}: {hosts}",
    "ladder.a_run": "a run",
    "ladder.desc": "Time flows down; one timeline per host ({hosts}). ",
    "desc.change": "   at {t} s {endpoint}: {old} → {new}{cause}",
    "desc.cause": " ({cause})",
    "desc.segment": "{i}. at {t} s {src} → {dst}: {label}{fate}",
    "desc.lost": " (lost)",
    "desc.not_delivered": " (not delivered)",
    "desc.arrives": ", arrives at {t} s",
    # -- the state diagram: a run painted on it
    "sd.here": "{endpoint} is here",
    "sd.taken": "{endpoint}: {steps}",
    "sd.loops": "{endpoint} ×{n}",
    # -- the state diagram's title and description
    "sd.title": "TCP state diagram ({view} view)",
    "sd.title.path": "TCP state diagram ({view} view) with the path of {endpoints}",
    "sd.custom_view": "custom",
    "sd.desc": "A state diagram with {states} states and {transitions} transitions (label: event / segment sent).",
    "sd.desc.twice": "A state diagram with {states} states, CLOSED drawn twice (top: before, bottom: after a "
                     "connection), and {transitions} transitions (label: event / segment sent).",
    "sd.desc.path": "{path}; {where} it is in {state}.",
    "sd.at_end": "at the end of the run",
    "sd.after_step": "after step {step} of the run",
    # -- a path through the states (`describe_path`)
    "path": "{endpoint}: {path}",
    "path.arrow": " → ",
    "path.step": "{state} ({cause})",
}


def t(key: str, **fields: object) -> str:
    """The text for `key`, with `fields` filled in.  An unknown key is a KeyError."""
    phrase = TEXT[key]
    return phrase.format(**fields) if fields else phrase
