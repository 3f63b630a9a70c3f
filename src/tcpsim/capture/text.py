"""Every English phrase the capture explainer shows a person, looked up by key.

    t("err.empty")            # "the file is empty: no capture in it"

Error messages are here too (unlike the core's), because a reader meets them
first: the explainer's user is whoever recorded the capture.  State names,
event names and flag letters come from the core, as everywhere.
"""

from __future__ import annotations

from typing import Final

TEXT: Final[dict[str, str]] = {
    # -- errors (one line each)
    "err.open": "cannot read {path}: {why}",
    "err.no_dpkt": "reading a capture needs dpkt (pip install dpkt==1.9.8)",
    "err.empty": "the file is empty: no capture in it",
    "err.not_pcap": "not a pcap or pcapng capture (it starts with bytes {head}); save it as pcap or pcapng",
    "err.bad_header": "the capture's file header is broken or cut short",
    "err.broken": "the capture is broken at frame {n} ({why}): the file is cut short or damaged",
    "err.linktype": "link type {linktype} is not supported (Ethernet, Linux cooked SLL/SLL2, raw IP and "
                    "loopback are)",
    "err.no_tcp": "no TCP segment in the capture ({frames} frames: {why})",
    "err.no_conn": "no connection {n}: the capture has {count} (numbered from 1)",
    "err.format": "unknown format {fmt!r}: table, json or svg",
    # -- what the reader skipped
    "why.nothing": "the file holds no frames",
    "why.skipped": "{not_ip} not IP, {not_tcp} not TCP, {cut_short} cut short",
    "note.cut_short": "{n} frame(s) end inside their IP or TCP header (snap length too small?) and were skipped",
    "note.fragments": "{n} IP fragment(s) after the first carry no TCP header and were skipped",
    "note.backwards": "frame {n}'s time stamp is earlier than the frame before it; it is drawn at the earlier "
                      "frame's time (the file order is kept)",
    "note.incarnation": "incarnation {n} of this four-tuple: its SYN reopened it after the previous one closed "
                        "(from TIME_WAIT: Linux tcp_timewait_state_process, TCP_TW_SYN)",
    "note.refused": "nothing listened on the server's port: it answered the SYN with RST (RFC 9293 §3.10.7.1)",
    "note.vlan": "{n} frame(s) carried VLAN tags",
    "note.ipv6": "{n} frame(s) were IPv6",
    # -- what the observer cannot see
    "unseen.listen": "LISTEN before the first SYN: a SYN-ACK answering shows something listened",
    "unseen.no_answer": "whether anything listened: the server never answered",
    "unseen.no_syn": "the opening: no SYN in the capture, so the states before it and the ISNs are unknown",
    "unseen.timing": "the instant a host changed state: each change is placed at the segment that shows it",
    "unseen.time_wait": "how TIME_WAIT ends for the {side}: 2MSL later, after the capture stops, with no segment",
    "unseen.one_way": "anything the {side} sent: the capture has only the other direction",
    "unseen.acks": "a lost pure ACK: nothing retransmits it, so its loss shows only in what follows",
    # -- the comparison with the model
    "model.description": "Inferred from connection {n} of a capture.",
    "model.seg": "{src} {flags} seq={seq}{ack}{len}",
    "model.cannot": "the capture shows too little to run the model (no SYN, or the server never answered)",
    "diff.states": "the {side}'s states: the capture shows {seen}, the model goes {ran}",
    "why.states": "follows from the segment differences above",
    "diff.missing": "the kernel sent {seg} at {t} s; the model does not",
    "diff.extra": "the model sends {seg} at {t} s; the kernel did not",
    "diff.numbers": "the kernel sent {seg} at {t} s where the model sends {other} at {tm} s",
    "why.numbers": "an arrival at another moment: the peer's segment arrived before this one left in one run and "
                   "after it in the other (two timers that expire in the same 4 ms tick fire in either order)",
    "why.flags": "the profile's rule for what the segment carries (Linux sets ACK on the RST of an abort, "
                 "tcp_send_active_reset)",
    "diff.time": "{seg}: the kernel at {t} s, the model at {tm} s ({dt:+.1f} ms)",
    "why.timer": "a timer: the kernel's fires on a 4 ms jiffy (CONFIG_HZ=250) and its RTO comes from its own RTT "
                 "samples; the model's from its profile",
    "why.rtx": "retransmissions depend on timers and on which copy arrived; another kernel version or "
               "tcp_syn_linear_timeouts changes them",
    "why.ack": "delayed ACK and quick ACK (Linux tcp_delack, pingpong): an ACK may be sent alone, later, or ride "
               "on data or a FIN",
    "why.dup": "Linux answers a retransmitted SYN in SYN_RECEIVED with one more SYN-ACK (tcp_check_req); timestamps "
               "(RFC 7323) and PAWS decide which duplicates a kernel accepts",
    "why.app": "the application's timing: the model replays the calls at the times the capture suggests",
    "why.loss": "a loss the capture cannot show (before the capture point, or a pure ACK)",
    "why.other": "another kernel version, TCP options (timestamps, SACK) or the capture point",
    "why.profile": "the model runs the {profile} profile",
    # -- the table (CLI --format table)
    "table.conn": "#{conn}  {client} → {server}  {conn_state}  {packets} packets  {duration} s",
    "table.meaning": "    {conn_state}: {meaning}",
    "table.none": "(no TCP connection)",
    "table.head": "connection {conn}: {client} → {server}, incarnation {incarnation}, Zeek conn_state {conn_state} "
                  "({meaning})",
    "table.path": "{side} ({addr}): {path}",
    "table.unseen": "cannot be seen on the wire:",
    "table.notes": "notes:",
    "table.model": "the model ({profile} profile) beside the capture: {verdict}",
    "table.agree": "it agrees",
    "table.differ": "{n} difference(s)",
    "table.bullet": "  - {text}",
    "table.reason": "      likely: {text}",
}


def t(key: str, **fields: object) -> str:
    """`TEXT[key]` with `fields` filled in (str.format; an unknown key is a KeyError)."""
    return TEXT[key].format(**fields)
