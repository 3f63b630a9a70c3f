"""Every English phrase the core shows a person, looked up by key.

Row labels live with their rows in `table.py` (one per (state, event), the
table being their one place); event names are `Event` values.  Everything
else a reader sees from the core -- the trace table's headers and notes,
what a failed call says, the CLI's words -- is here, so a translation plugs
in by replacing `TEXT` (keys stay).  The JSON trace is data, not text: its words
(states, events, notice kinds, the network's segment notes such as
"duplicate") stay as they are.
"""

from __future__ import annotations

TEXT: dict[str, str] = {
    # the trace table (Trace.table / Trace.rows / Trace._repr_html_)
    "col.t": "t",
    "col.t_html": "t (s)",
    "col.i": "#",
    "col.segment": "segment",
    "col.flags": "flags",
    "col.seq": "seq",
    "col.ack": "ack",
    "col.len": "len",
    "col.notes": "notes",
    "row.change": "{endpoint}: {old} → {new}",
    "row.segment": "{src} > {dst}",
    "row.call_failed": "{endpoint}: call failed",
    "row.listener": "{endpoint}: listener",
    "row.app_told": "{endpoint}: app told",
    "note.retransmission": "retransmission",
    "note.dropped": "dropped",
    "note.not_delivered": "not delivered",
    # what a notice says
    "notice.data_after_close": "data arrived after close()",
    "notice.closing_unsent": "{endpoint}: closing: {n} bytes queued by send() were never sent (RFC 9293 §3.10.4)",
    # why a user call is illegal (IllegalCall's last part)
    "why.closed": "there is no connection any more (it ended, was reset or refused)",
    "why.not_open": "the connection is closing or not open",
    "why.closing": "the connection is already closing",
    "why.not_listening": "not listening",
    "why.port_listening": "port {port} is already listening",
    "why.in_use": "{host}:{lport} -> {rhost}:{rport} is still in use",
    # why a scenario's call could not act when it ran (CallFailed)
    "fail.no_conn_named": "{host} has no connection named {conn!r} at t={t:g} s",
    "fail.no_listener": "{host} has no listener at t={t:g} s",
    "fail.no_conn_yet": "{host} has no connection yet at t={t:g} s",
    "fail.only_listener": "{host} has only a listener, no connection, at t={t:g} s",
}


def text(key: str, **fields: object) -> str:
    """The phrase for `key`, with `fields` filled in.  An unknown key is a KeyError."""
    phrase = TEXT[key]
    return phrase.format(**fields) if fields else phrase
