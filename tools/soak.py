"""Soak test of the simulator: many seeded random runs, each checked against invariants.

    python tools/soak.py [N] [--seed S] [--out DIR] [--workers W] [--only RUNSEED] [--minimize] [--fuzz M]

After the runs, M (default 5000) spoiled scenario files -- a built-in with one
field replaced by a hostile value (null, wrong types, huge, NaN, control
characters, unknown keys), truncated or garbled JSON -- go through the CLI in
process: each must give exit 2 and one line starting "error:", or a normal
run; never a traceback, never a hang.  A failing file is kept in --out.

Each run i of a soak with seed S has its own seed ``S * 1_000_000 + i`` and is
built from it alone (`generate(runseed)`), so a failure printed as
``seed 7000123`` is rebuilt with ``--only 7000123``.  Half of the runs take a
built-in scenario (`tcpsim.builtin_names()`), put it under the `linux` or the
`rfc9293` profile and add network faults: ``network.random`` (loss,
duplication, jitter) and random position drops.  The others are generated
two-host scenarios: connect / listen / send (random sizes) / close / shutdown /
abort at random times or in reaction to events, simultaneous open,
simultaneous close, half-close, SYN floods with and without SYN cookies
(``overrides.syncookies`` 0, 1, 2) and small backlogs.  Every scenario sets
``until``, so every run is bounded.  Only the public API is used:
``tcpsim.load``, ``tcpsim.run``, ``Trace.to_dict()/to_json()`` (the JSON trace of
README.md), ``tcpsim.builtin*`` and ``python -m tcpsim rules``.

A failure prints its run seed and writes the scenario (faults, drops and
``until`` included) to ``--out/<invariant>-<seed>.json``; ``python -m tcpsim run
FILE`` reproduces it (the soak checks that the JSON round trip gives the same
trace).  ``--minimize`` also shrinks the first failure of each kind (turns
random losses into positions, drops calls, faults and bytes while the failure
keeps its `signature`) and writes
``<invariant>-<seed>-min.json``.  At the end it prints the runs, the failures
by invariant and the median time per run.

Invariants (the name in brackets is the one failures are counted under)
------------------------------------------------------------------------

[run-ends] Every run ends: `tcpsim.run` returns within a wall-clock limit
    (``--timeout``, 20 s) and the trace's ``end`` is not past ``until``.
    (RFC 9293 §3.8.3: a connection that cannot make progress is closed after
    R2; §3.10.8: every timer eventually fires.)

[crash] A run raises no Python exception.  [midrun-error] A scenario that
    `tcpsim.load` accepted does not stop with a `ScenarioError` while running:
    README: "A call that fails at run time ... does not stop the run: the trace
    records the error, as a socket call would return one."  (Counted only when
    the same scenario without its drops, random faults and rules runs: the
    faults caused it.)  [generator-bug] A generated scenario that `tcpsim.load`
    rejects, or that stops with a ScenarioError on a perfect network too
    (invalid as written), is a bug of this script.

[rfc-edge] Every state change is an edge of the RFC 9293 state machine: its
    Figure 5 (§3.3.2) plus the transitions its text adds -- FIN_WAIT_1 to
    TIME_WAIT on a FIN that also acknowledges ours (§3.3.2 Note 2, §3.10.7.4
    eighth step), SYN_RECEIVED back to LISTEN on RST after a passive open
    (§3.10.7.4 second check, §3.5.3), any state to CLOSED on an acceptable RST
    (§3.10.7.3, §3.10.7.4), on ABORT (§3.10.5) and when retransmission gives up
    (§3.8.3 R2, §3.10.8 USER TIMEOUT), SYN_RECEIVED back to LISTEN on a SYN
    after a passive open (§3.10.7.4 fourth check).  Those edges are hard-coded
    below (`RFC_EDGES`, in the simulator's event words; a qualified event such
    as "rcv SYN (passive open)" matches its base "rcv SYN"), not read from the
    simulator, so the check is not circular.
    Otherwise the change must be a row of the simulator's table (parsed from
    ``python -m tcpsim rules``) that cites Linux -- allowed for the `linux`
    profile, and for `rfc9293` only when the scenario's ``overrides`` turn that
    Linux behaviour on -- or a row marked "[what-if: not TCP]" whose what-if
    the scenario turns on.  [not-in-table] A change that matches no row of
    ``rules`` at all (state, event, next state, source) is its own failure:
    the README says the endpoint has no other way to change state.

[ack-unreceived] Nobody acknowledges a sequence number the peer never sent,
    nor one it sent but that never arrived: an ACK field is the receiver's
    RCV.NXT, which "only advances over bytes, SYNs and FINs actually received
    in order" (RFC 9293 §3.3.1, §3.10.7.4 seventh step).  Checked per
    direction of each four-tuple: the segments delivered before the ACK left
    must cover, without a gap, everything from the peer's SYN up to the ACK
    number.  An RST's ACK field (§3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN>) must
    be the end of a segment that arrived.  Crafted (``network.inject``)
    segments are not checked as senders.

[established-early] Nobody is ESTABLISHED before its SYN was acknowledged: a
    segment with the ACK bit whose ACK number is our SYN's sequence number + 1
    has arrived (RFC 9293 §3.10.7.3: "If SND.UNA > ISS (our SYN has been
    ACKed), change the connection state to ESTABLISHED"; §3.10.7.4 SYN-RECEIVED:
    "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED").  Not checked
    under the two-way-handshake what-if, which exists to break it.

[data] Nothing is lost: on a connection that closed normally -- both sides
    went through the FIN handshake (each reached TIME_WAIT or left LAST_ACK on
    the ACK of its FIN), nobody was told "reset", "refused" or "timed out", and
    no RST crossed between the two hosts -- each application that still read
    at the end received exactly the bytes the peer's application sent, in
    order, and its end of data ("eof") only after them (RFC 9293 §3.10.4
    CLOSE: "all data sent ... will be delivered before the FIN"; §1: "a
    reliable, in-order, byte-stream service").  Bytes sent are the ``bytes`` of
    the scenario's send calls that did not fail (a failed call leaves an
    "error" notice at its time); bytes received are the "data" notices'
    detail.  On any pair of connections, an application never receives more
    than the peer's application sent.  Checked where each host has exactly one
    connection that got past the handshake, so sender and receiver pair up.

[determinism] The same scenario run twice -- the second time from its JSON
    text, as ``python -m tcpsim run FILE`` would read it -- gives byte-identical
    JSON traces (README: "a scenario always gives the same trace, byte for
    byte").
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import tcpsim

MOD = 1 << 32
HALF = 1 << 31
PROFILES = ("linux", "rfc9293")
SEED_STRIDE = 1_000_000
SYNCHRONIZED = frozenset({"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",
                          "LAST_ACK", "TIME_WAIT"})
INVARIANTS = ("generator-bug", "crash", "midrun-error", "run-ends", "not-in-table", "rfc-edge",
              "ack-unreceived", "established-early", "data", "determinism")

# ------------------------------------------------------------------ RFC 9293's own edges
# (from state, to state, event) in the simulator's event words (the `rules` column).
# Written from RFC 9293, not from the simulator's table.
_RST, _ABORT, _GIVE_UP = "rcv RST", "abort", "retries exhausted"
RFC_EDGES = frozenset({
    # Figure 5 (§3.3.2)
    ("CLOSED", "LISTEN", "listen"),                     # passive OPEN
    ("CLOSED", "SYN_SENT", "connect"),                  # active OPEN / snd SYN
    ("LISTEN", "SYN_RECEIVED", "rcv SYN"),              # rcv SYN / snd SYN,ACK
    ("LISTEN", "CLOSED", "close"),                      # CLOSE / delete TCB
    ("SYN_SENT", "SYN_RECEIVED", "rcv SYN"),            # rcv SYN / snd SYN,ACK (simultaneous open)
    ("SYN_SENT", "ESTABLISHED", "rcv SYN,ACK"),         # rcv SYN,ACK / snd ACK
    ("SYN_SENT", "CLOSED", "close"),                    # CLOSE / delete TCB
    ("SYN_RECEIVED", "ESTABLISHED", "rcv ACK"),         # rcv ACK of SYN
    ("SYN_RECEIVED", "FIN_WAIT_1", "close"),            # CLOSE / snd FIN
    ("ESTABLISHED", "FIN_WAIT_1", "close"),             # CLOSE / snd FIN
    ("ESTABLISHED", "CLOSE_WAIT", "rcv FIN"),           # rcv FIN / snd ACK
    ("FIN_WAIT_1", "FIN_WAIT_2", "rcv ACK of FIN"),
    ("FIN_WAIT_1", "CLOSING", "rcv FIN"),
    ("FIN_WAIT_2", "TIME_WAIT", "rcv FIN"),
    ("CLOSING", "TIME_WAIT", "rcv ACK of FIN"),
    ("CLOSE_WAIT", "LAST_ACK", "close"),
    ("LAST_ACK", "CLOSED", "rcv ACK of FIN"),
    ("TIME_WAIT", "CLOSED", "2MSL timeout"),
    # §3.3.2 Note 2 and §3.10.7.4 eighth step: FIN_WAIT_1 straight to TIME_WAIT
    ("FIN_WAIT_1", "TIME_WAIT", "rcv FIN,ACK of FIN"),
    # §3.10.7.4 second check (and §3.5.3): RST in SYN_RECEIVED after a passive OPEN
    ("SYN_RECEIVED", "LISTEN", "rcv RST (passive open)"),
    # §3.10.7.4 fourth check: a SYN in SYN_RECEIVED after a passive OPEN ("return this connection to
    # the LISTEN state").  An event with a qualifier, "rcv SYN (passive open)", matches its base event.
    ("SYN_RECEIVED", "LISTEN", "rcv SYN"),
    # §3.10.7.3: RST with an acceptable ACK in SYN_SENT; §3.10.7.4 second check elsewhere
    *((s, "CLOSED", _RST) for s in ("SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
                                     "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")),
    # §3.10.5 ABORT, in every state with a TCB
    *((s, "CLOSED", _ABORT) for s in ("LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
                                       "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")),
    # §3.8.3 (R2) and §3.10.8 USER TIMEOUT: "enter the CLOSED state"
    *((s, "CLOSED", _GIVE_UP) for s in ("SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
                                         "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK")),
})

#: A Linux row taken under the rfc9293 profile is allowed only when the
#: scenario's overrides turn the behaviour on: event -> (override, values that enable it).
LINUX_KNOBS = {
    "rcv ACK with valid SYN cookie": ("syncookies", (1, 2)),
    "FIN_WAIT_2 timeout": ("fin_timeout", "not-null"),
    "rcv data after close": ("abort_on_data_after_close", (True,)),
    "rcv ACK, accept queue full (abort_on_overflow)": ("abort_on_overflow", (True,)),
    "rcv RST (RFC 1337)": ("rfc1337", (True,)),
}
#: What-if rows: event -> the whatif key that must be on.
WHATIF_KNOBS = {"rcv SYN (two-way what-if)": "two_way_handshake"}

_RULE_LINE = re.compile(r"^(?P<state>[A-Z][A-Z_0-9]*)\s+(?P<event>.+?)\s+-> (?P<next>[A-Z][A-Z_0-9]*)\s+"
                        r"send (?P<send>.*?)\s+(?P<src>(?:RFC|Linux|not TCP)\b.*?)"
                        r"(?P<tags>(?:\s\[[^\]]*\])*)\s*$")


def parse_rules(text: str) -> dict:
    """The rows printed by `python -m tcpsim rules`: (state, event, next, source) -> [rows].

    A row is {"state", "event", "next", "send", "src", "whatif", "linux", "profiles"}; "profiles" is
    None for a row of every profile, else the profiles its "[NAME only]" tags name.  A line that is
    not a row raises ValueError: a format change must not silently empty the table."""
    rows: dict = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _RULE_LINE.match(line)
        if not m:
            raise ValueError(f"`tcpsim rules` printed a line this parser does not know: {line!r}")
        tags = re.findall(r"\[([^\]]*)\]", m.group("tags"))
        only = {t[:-len(" only")] for t in tags if t.endswith(" only")}
        row = {k: m.group(k) for k in ("state", "event", "next", "send", "src")}
        row["whatif"] = any(t.startswith("what-if") for t in tags)
        row["linux"] = "Linux" in row["src"]
        row["profiles"] = only or None
        rows.setdefault((row["state"], row["event"], row["next"], row["src"]), []).append(row)
    return rows


_RULES: dict | None = None


def rules() -> dict:
    """The transition table as the CLI prints it (run once per process)."""
    global _RULES
    if _RULES is None:
        out = subprocess.run([sys.executable, "-m", "tcpsim", "rules"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        _RULES = parse_rules(out)
        if not _RULES:
            raise RuntimeError("could not parse `python -m tcpsim rules`")
    return _RULES


# ------------------------------------------------------------------------- generation
SIZES = (1, 2, 10, 100, 536, 1000, 1459, 1460, 1461, 2920, 3000, 4380, 5000, 10000, 14600, 30000, 65535, 70000)


def _size(rng: random.Random) -> int:
    return rng.choice(SIZES) if rng.random() < 0.6 else rng.randint(1, 20000)


def _rule(rng: random.Random, names: list) -> dict:
    side = rng.choice(names)
    return rng.choice((
        {"action": "drop", "src": side, "data": True, "nth": "all"},          # a black hole for data
        {"action": "drop", "src": side, "has": "F", "nth": "all"},            # FINs never arrive
        {"action": "drop", "src": side, "flags": "SA", "nth": rng.choice((1, 2))},
        {"action": "drop", "src": side, "has": "A", "nth": rng.randint(1, 4)},
        {"action": "delay", "src": side, "has": "F", "nth": 1, "extra": round(rng.uniform(0.05, 3), 3)},
        {"action": "delay", "src": side, "has": "S", "nth": 1, "extra": round(rng.uniform(0.05, 3), 3)},
        {"action": "delay", "src": side, "data": True, "nth": rng.randint(1, 3),
         "extra": round(rng.uniform(0.01, 1), 3)},
        {"action": "duplicate", "src": side, "has": "F", "nth": "all", "extra": round(rng.uniform(0, 1), 3)},
        {"action": "duplicate", "src": side, "nth": rng.randint(1, 6), "extra": round(rng.uniform(0, 0.5), 3)},
    ))


def _faults(rng: random.Random, net: dict, pdrop: float = 0.6, prandom: float = 0.7,
            names: list | None = None) -> None:
    if names and rng.random() < 0.2:
        net["rules"] = list(net.get("rules", [])) + [_rule(rng, names) for _ in range(rng.randint(1, 2))]
    if rng.random() < prandom:
        r = {"seed": rng.randrange(2**31)}
        r["loss"] = round(rng.choice((0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45)), 3)
        if rng.random() < 0.5:
            r["duplicate"] = rng.choice((0.05, 0.1, 0.3))
        if rng.random() < 0.5:
            r["jitter"] = rng.choice((0.001, 0.01, 0.05, 0.2))
        net["random"] = r
    if rng.random() < pdrop:
        drops = set(net.get("drop", []))
        drops.update(rng.randint(1, 14) for _ in range(rng.randint(1, 3)))
        net["drop"] = sorted(drops)


def _overrides(rng: random.Random) -> dict:
    ov: dict = {}
    if rng.random() < 0.3:
        ov["msl"] = rng.choice((0.5, 1, 5, 10))
    if rng.random() < 0.08:
        ov["rfc1337"] = True
    if rng.random() < 0.08:
        ov["abort_on_overflow"] = True
    if rng.random() < 0.08:
        ov["abort_on_data_after_close"] = rng.random() < 0.5
    if rng.random() < 0.08:
        ov["fin_timeout"] = rng.choice((None, 1, 5))
    if rng.random() < 0.05:
        ov["delayed_ack"] = rng.choice((0, 0.04))
    if rng.random() < 0.15:                   # give up soon: retries exhausted in every state
        for k in ("retries2", "orphan_retries", "syn_retries", "synack_retries"):
            if rng.random() < 0.6:
                ov[k] = rng.randint(1, 3)
    return ov


def gen_builtin(rng: random.Random, seed: int) -> dict:
    name = rng.choice(tcpsim.builtin_names())
    sc = tcpsim.builtin(name)
    sc["name"] = f"soak-{seed}-{name}"
    sc["profile"] = rng.choice(PROFILES)
    net = sc.setdefault("network", {})
    _faults(rng, net, names=list(sc["endpoints"]))
    if not net:
        del sc["network"]
    sc["until"] = min(sc.get("until") or 900, 900)
    return sc


def _side_end(rng, calls, t0):
    """How an application ends its side: close, shutdown, abort, at a time or on an event."""
    k = rng.random()
    if k < 0.35:
        calls.append({"t": round(t0 + rng.uniform(0.05, 6), 3), "call": "close"})
    elif k < 0.55:
        calls.append({"on": "eof", "after": rng.choice((0, 0, 0.001, 0.3, 1.5)), "call": "close"})
    elif k < 0.65:
        calls.append({"t": round(t0 + rng.uniform(0.05, 4), 3), "call": "shutdown"})
        if rng.random() < 0.7:
            calls.append({"on": "eof", "after": rng.choice((0, 0.5)), "call": "close"})
    elif k < 0.72:
        calls.append({"t": round(t0 + rng.uniform(0, 4), 3), "call": "abort"})
    elif k < 0.82:
        calls.append({"on": "connected", "after": rng.choice((0, 0.01, 0.2, 1)), "call": "close"})
    elif k < 0.86:
        calls.append({"on": "eof", "after": rng.choice((0, 0.2)), "call": "shutdown"})
    elif k < 0.93:                             # close, then abort in whatever closing state it is in
        tc = round(t0 + rng.uniform(0.05, 4), 3)
        calls.append({"t": tc, "call": "close"})
        calls.append({"t": round(tc + rng.choice((0, 0.001, 0.05, 0.2, 1, 30)), 3), "call": "abort"})
    # else: the application never closes


def _sends(rng, calls, t_from, *, timed=True, events=("connected",)):
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        if timed and rng.random() < 0.5:
            calls.append({"t": round(t_from + rng.uniform(0, 3), 3), "call": "send", "bytes": _size(rng)})
        else:
            calls.append({"on": rng.choice(events), "after": rng.choice((0, 0, 0.01, 0.5, 2)),
                          "call": "send", "bytes": _size(rng)})


def gen_pair(rng: random.Random, seed: int) -> dict:
    kind = rng.choices(("client-server", "simultaneous-open", "simultaneous-close", "half-close", "flood"),
                       (45, 12, 13, 12, 18))[0]
    delay = rng.choice((0.001, 0.01, 0.05, 0.05, 0.1, 0.3))
    sc: dict = {"name": f"soak-{seed}-{kind}", "profile": rng.choice(PROFILES), "delay": delay}
    ov = _overrides(rng)
    whatif: dict = {}
    if rng.random() < 0.05:
        whatif["time_wait"] = 0
    if kind in ("client-server", "flood") and rng.random() < 0.03:
        whatif["two_way_handshake"] = True
    cport = rng.choice((40000, 40000, rng.randint(1024, 65535)))
    sport = rng.choice((80, 80, rng.randint(1, 65535)))
    if sport == cport:
        sport = 80 if cport != 80 else 81
    cisn = rng.choice((100, rng.randrange(MOD), MOD - rng.randint(1, 3000)))
    sisn = rng.choice((300, rng.randrange(MOD), MOD - rng.randint(1, 3000)))
    client: dict = {"port": cport, "isn": cisn, "calls": []}
    server: dict = {"port": sport, "isn": sisn, "calls": []}
    net: dict = {}
    t0 = round(rng.choice((0, 0, rng.uniform(0, 1))), 3)
    hs = 3 * delay + 0.01                         # a handshake without loss is over by then
    if kind == "simultaneous-open":
        client["calls"].append({"t": t0, "call": "connect", "to": "server"})
        server["calls"].append({"t": round(t0 + rng.choice((0, 0, rng.uniform(0, delay))), 3),
                                "call": "connect", "to": "client"})
        for ep in (client, server):
            _sends(rng, ep["calls"], t0 + hs, events=("connected", "eof"))
            _side_end(rng, ep["calls"], t0 + hs)
    else:
        t_listen = 0 if rng.random() < 0.9 or kind == "simultaneous-close" else round(rng.uniform(0, 2), 3)
        server["calls"].append({"t": t_listen, "call": "listen"})
        ts = max(t0 + hs, t_listen + 0.001)         # the server's own calls come after its listen()
        if rng.random() < 0.3:
            server["backlog"] = rng.choice((0, 1, 2, 4))
        if rng.random() < 0.15:
            server["accept"] = False
            if rng.random() < 0.6 and t_listen <= t0:
                server["calls"].append({"t": round(ts + rng.uniform(0, 5), 3), "call": "accept",
                                        "count": rng.choice((1, 2))})
        client["calls"].append({"t": t0, "call": "connect", "to": "server"})
        flood = kind == "flood"
        if flood:
            ov["syncookies"] = rng.choice((0, 1, 2))
            server["backlog"] = rng.choice((0, 1, 2, 4, 8, 16))
            net["flood"] = {"t": round(rng.uniform(0, 0.5), 3), "count": rng.randint(5, 300),
                            "rate": rng.choice((100, 1000, 5000)), "dst": "server", "dport": sport}
            client["calls"][0]["t"] = t0 = round(rng.uniform(0, 2), 3)
        # the client
        _sends(rng, client["calls"], t0, events=("connected", "eof"))
        if kind == "half-close":
            client["calls"].append({"t": round(t0 + rng.uniform(0.05, 3), 3), "call": "shutdown"})
            client["calls"].append({"on": "eof", "after": rng.choice((0, 0.1)), "call": "close"})
        elif kind == "simultaneous-close":
            tc = round(ts + rng.uniform(0.5, 3), 3)
            client["calls"].append({"t": tc, "call": "close"})
            server["calls"].append({"t": tc, "call": "close"})
        else:
            _side_end(rng, client["calls"], t0)
        # the server: timed calls on a flooded server would hit a spoofed half-open child
        # (and a client that connects before the listen() is refused: the server never has a connection)
        timed = not flood and t_listen <= t0
        _sends(rng, server["calls"], ts, timed=timed, events=("accepted", "connected", "eof"))
        if kind == "half-close":
            server["calls"].append({"on": "eof", "call": "send", "bytes": _size(rng)})
            server["calls"].append({"on": "eof", "after": rng.choice((0, 0.3, 2)), "call": "close"})
        elif kind != "simultaneous-close":
            if not timed:
                server["calls"].append({"on": "eof", "after": rng.choice((0, 0.5)), "call": "close"})
            else:
                _side_end(rng, server["calls"], ts)
    _faults(rng, net, pdrop=0.4, prandom=0.6, names=["client", "server"])
    if ov:
        sc["overrides"] = ov
    if whatif:
        sc["whatif"] = whatif
    sc["endpoints"] = {"client": client, "server": server}
    if net:
        sc["network"] = net
    sc["until"] = rng.choice((30, 300, 900, 900))
    return sc


def generate(seed: int) -> dict:
    """The scenario of run `seed` (a dict, ready for `tcpsim.load` / a JSON file)."""
    rng = random.Random(seed)
    return gen_builtin(rng, seed) if rng.random() < 0.45 else gen_pair(rng, seed)


# --------------------------------------------------------------------------- checking
def _end(s: dict) -> int:
    return (s["seq"] + s["len"] + ("S" in s["flags"]) + ("F" in s["flags"])) % MOD


def _us(t: float) -> int:
    return round(t * 1_000_000)


def _injected(sc: dict, segs: list) -> set:
    """Indices of segments crafted by network.inject (checked as input, not as a TCP's output)."""
    want = {(_us(x["t"]), x["src"], x["dst"], x["seq"]) for x in sc.get("network", {}).get("inject", [])}
    return {s["i"] for s in segs if (_us(s["t"]), s["src"], s["dst"], s["seq"]) in want}


def _base_event(cause: str) -> str:
    """The event without a trailing qualifier: "rcv SYN (passive open)" -> "rcv SYN"."""
    return re.sub(r"\s*\([^)]*\)$", "", cause)


def check_edges(sc: dict, d: dict) -> list:
    out = []
    table = rules()
    profile = sc.get("profile", "linux")
    ov = sc.get("overrides", {})
    whatif = sc.get("whatif", {})
    for name, changes in d["states"].items():
        for c in changes:
            key = (c["from"], c["to"], c["cause"])
            rows = table.get((c["from"], c["cause"], c["to"], c["rule"]), [])
            mine = [r for r in rows if r["profiles"] is None or profile in r["profiles"]]
            if not mine:
                where = (f"a row only of profile(s) {', '.join(sorted(set().union(*(r['profiles'] for r in rows))))}"
                         if rows else "no row of `tcpsim rules`")
                out.append(("not-in-table", f"{name} {c['from']} -> {c['to']} on {c['cause']!r} "
                                            f"({c['rule']}) at t={c['t']} under profile {profile} is {where}"))
                continue
            row = mine[0]
            if key in RFC_EDGES or (c["from"], c["to"], _base_event(c["cause"])) in RFC_EDGES:
                continue
            ok = False
            if row["whatif"]:
                ok = bool(whatif.get(WHATIF_KNOBS.get(c["cause"], "?")))
            elif row["linux"]:
                if profile == "linux":
                    ok = True
                else:
                    knob, values = LINUX_KNOBS.get(c["cause"], (None, ()))
                    ok = knob in ov and (ov[knob] is not None if values == "not-null" else ov[knob] in values)
            if not ok:
                out.append(("rfc-edge", f"{name} {c['from']} -> {c['to']} on {c['cause']!r} ({c['rule']}) "
                                        f"at t={c['t']} under profile {profile}: not an RFC 9293 edge"))
    return out


def check_acks(sc: dict, d: dict) -> list:
    """[ack-unreceived]: every ACK number is covered by what arrived, without a gap, from the peer's SYN."""
    segs = d["segments"]
    crafted = _injected(sc, segs)
    events = []
    for s in segs:
        if s["arrive"] is not None:
            events.append((_us(s["arrive"]), 0, s["i"], s))
        if s["ack"] is not None and s["i"] not in crafted and s["note"] != "duplicate":
            events.append((_us(s["t"]), 1, s["i"], s))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    front: dict = {}      # direction -> {base (a SYN's seq): [contiguous relative end, heap of pieces beyond]}
    ends: dict = {}       # direction -> set of segment ends that arrived
    sent_ends: dict = {}  # direction -> set of segment ends sent (for the message)
    for s in segs:
        sent_ends.setdefault((s["src"], s["sport"], s["dst"], s["dport"]), set()).add(_end(s))
    out = []
    for _, kind, _, s in events:
        if kind == 0:                      # a delivery extends what the receiver may acknowledge
            dkey = (s["src"], s["sport"], s["dst"], s["dport"])
            ends.setdefault(dkey, set()).add(_end(s))
            fr = front.setdefault(dkey, {})
            if "S" in s["flags"] and s["seq"] not in fr:
                fr[s["seq"]] = [0, []]
            segl = s["len"] + ("S" in s["flags"]) + ("F" in s["flags"])
            if not segl:
                continue
            for base, st in fr.items():
                rs = (s["seq"] - base) % MOD
                if rs >= HALF:
                    continue                   # before this SYN: another incarnation's
                if rs <= st[0]:
                    st[0] = max(st[0], rs + segl)
                    heap = st[1]
                    while heap and heap[0][0] <= st[0]:
                        st[0] = max(st[0], heapq.heappop(heap)[1])
                else:
                    heapq.heappush(st[1], (rs, rs + segl))
        else:                              # an ACK number leaving s["src"]
            back = (s["dst"], s["dport"], s["src"], s["sport"])
            ack = s["ack"]
            if "R" in s["flags"]:
                ok = ack in ends.get(back, ())
            else:
                ok = any((ack - base) % MOD <= st[0] for base, st in front.get(back, {}).items())
            if not ok and len(out) < 5:             # the first few say enough
                never = ack not in sent_ends.get(back, ())
                what = "a sequence number the peer never sent" if never else "bytes that never arrived"
                out.append(("ack-unreceived", f"segment #{s['i']} {s['src']} > {s['dst']} {s['flags']} ack {ack} "
                                              f"at t={s['t']} acknowledges {what}"))
    return out


def check_established(sc: dict, d: dict) -> list:
    if sc.get("whatif", {}).get("two_way_handshake"):
        return []
    segs = d["segments"]
    out = []
    for name, changes in d["states"].items():
        host = name.split("#")[0]
        for c in changes:
            if c["to"] != "ESTABLISHED":
                continue
            t = _us(c["t"])
            syns = {(s["dst"], s["sport"], s["dport"], (s["seq"] + 1) % MOD) for s in segs
                    if s["src"] == host and "S" in s["flags"] and _us(s["t"]) <= t}
            if not any(s["dst"] == host and s["ack"] is not None and s["arrive"] is not None
                       and _us(s["arrive"]) <= t and (s["src"], s["dport"], s["sport"], s["ack"]) in syns
                       for s in segs):
                out.append(("established-early", f"{name} entered ESTABLISHED at t={c['t']} ({c['cause']}) "
                                                 "before any segment acknowledged its SYN"))
    return out


_CHILD_CAUSES = ("rcv SYN", "rcv ACK with valid SYN cookie", "rcv SYN (two-way what-if)")


def _births(d: dict, host: str) -> list | None:
    """[(t_us, by_call, name)] of the host's connections (not its listener)."""
    out = []
    for name, changes in d["states"].items():
        if name.split("#")[0] != host or not changes:
            continue
        first = changes[0]
        if first["from"] == "CLOSED" and first["to"] == "LISTEN":        # the listener (and maybe child 1)
            first = next((c for c in changes if c["from"] == "LISTEN" and c["cause"] in _CHILD_CAUSES), None)
            if first is None:
                continue
        out.append((_us(first["t"]), first["cause"] == "connect", name))
    return sorted(out)


def app_sends(sc: dict, d: dict) -> dict | None:
    """Connection name -> bytes its application sent with calls that did not fail (None: can't tell)."""
    notices = d["notices"]
    errors: dict = {}
    for n in notices:
        if n["what"] == "error" and "can't send()" in n["detail"]:
            errors[(n["endpoint"], _us(n["t"]))] = errors.get((n["endpoint"], _us(n["t"])), 0) + 1
    groups: dict = {}
    stop = None if sc.get("until") is None else _us(sc["until"])
    for host, ep in sc["endpoints"].items():
        calls = ep.get("calls", [])
        births = None
        for c in calls:
            if c["call"] != "send" or "t" not in c:
                continue
            t = _us(c["t"])
            if stop is not None and t > stop:
                continue                             # after the run's end: never made
            if "conn" in c:
                target = c["conn"]
            else:
                if births is None:
                    births = _births(d, host)
                before = [b for b in births if b[0] < t or (b[0] == t and not b[1])]
                if any(b[0] == t and b[1] for b in births):
                    return None                     # a connect at the same instant: order unknown
                if not before:
                    continue                         # no connection: the run stopped with an error
                target = before[-1][2]
            groups.setdefault((target, t), []).append(c["bytes"])
        reactions = [c for c in calls if "on" in c and c["call"] == "send"]
        if reactions:
            for n in notices:
                if n["endpoint"].split("#")[0] != host:
                    continue
                for c in reactions:
                    if c["on"] == n["what"]:
                        t = _us(n["t"]) + _us(c.get("after", 0))
                        if stop is not None and t > stop:
                            continue
                        target = c.get("conn", n["endpoint"])
                        groups.setdefault((target, t), []).append(c["bytes"])
    sent: dict = {}
    for (target, t), sizes in groups.items():
        failed = errors.get((target, t), 0)
        if failed == 0:
            ok = sum(sizes)
        elif failed >= len(sizes):
            ok = 0
        elif len(set(sizes)) == 1:
            ok = sizes[0] * (len(sizes) - failed)
        else:
            return None                              # which of them failed is not in the trace
        sent[target] = sent.get(target, 0) + ok
    return sent


def _closed_normally(changes: list) -> bool:
    return any(c["to"] == "TIME_WAIT" or (c["from"] == "LAST_ACK" and c["to"] == "CLOSED"
                                          and c["cause"] == "rcv ACK of FIN") for c in changes)


def check_data(sc: dict, d: dict) -> tuple[list, bool]:
    """[data]; returns (failures, whether the full check applied)."""
    hosts = list(sc["endpoints"])
    if len(hosts) != 2:
        return [], False
    conns = {}
    for h in hosts:
        mine = [n for n, ch in d["states"].items() if n.split("#")[0] == h
                and any(c["to"] in SYNCHRONIZED for c in ch)]
        if len(mine) != 1:
            return [], False
        conns[h] = mine[0]
    sent = app_sends(sc, d)
    if sent is None:
        return [], False
    out = []
    a, b = hosts
    told = {}
    for n in d["notices"]:
        told.setdefault(n["endpoint"], []).append(n)
    bad = {"reset", "refused", "timed out"}
    normal = (all(_closed_normally(d["states"][conns[h]]) for h in hosts)
              and not any(n["what"] in bad for h in hosts for n in told.get(conns[h], ()))
              and not any("R" in s["flags"] and {s["src"], s["dst"]} == {a, b} for s in d["segments"]))
    for x, y in ((a, b), (b, a)):
        cx, cy = conns[x], conns[y]
        want = sent.get(cx, 0)
        got, eof, after_eof = 0, None, 0
        for n in told.get(cy, ()):
            if n["what"] == "data":
                if eof is None:
                    got += int(n["detail"])
                else:
                    after_eof += int(n["detail"])
            elif n["what"] == "eof":
                if eof is not None:
                    out.append(("data", f"{cy} was told eof twice (t={eof}, t={n['t']})"))
                eof = n["t"] if eof is None else eof
        if got + after_eof > want:
            out.append(("data", f"{cy}'s application received {got + after_eof} bytes but {cx}'s sent {want}"))
        elif after_eof:
            out.append(("data", f"{cy}'s application received {after_eof} bytes after its eof at t={eof}"))
        elif normal and eof is not None and got != want:
            out.append(("data", f"closed normally, but {cy}'s application received {got} of the {want} bytes "
                                f"{cx}'s application sent before its eof at t={eof}"))
    return out, normal


class RunTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise RunTimeout()


def _run(sc, timeout: float):
    if timeout and hasattr(signal, "setitimer"):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return tcpsim.run(sc)
    finally:
        if timeout and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def without_faults(sc: dict) -> dict:
    """`sc` on a perfect network: no position drops, no random faults, no rules."""
    c = json.loads(json.dumps(sc))
    net = c.get("network", {})
    for k in ("drop", "random", "rules"):
        net.pop(k, None)
    if "network" in c and not net:
        del c["network"]
    return c


def _json(d: dict) -> str:
    """The trace's JSON text, as `Trace.to_json(indent=None)` writes it (the C encoder: fast)."""
    return json.dumps(d, ensure_ascii=False)


def check_scenario(sc: dict, timeout: float = 20.0, determinism: bool = True) -> dict:
    """Run one scenario and check every invariant.

    Returns {"failures": [(invariant, message)], "t_run": seconds of the first run,
    "data_checked": bool}."""
    res: dict = {"failures": [], "t_run": None, "data_checked": False}
    fail = res["failures"]
    try:
        tcpsim.load(sc)
    except tcpsim.ScenarioError as e:
        fail.append(("generator-bug", f"tcpsim.load rejected it: {e}"))
        return res
    t = time.perf_counter()
    try:
        tr = _run(sc, timeout)
    except RunTimeout:
        fail.append(("run-ends", f"still running after {timeout:g} s of wall-clock time"))
        return res
    except tcpsim.ScenarioError as e:
        calm = without_faults(sc)
        try:
            if calm == sc:
                raise e
            _run(calm, timeout)
        except Exception:  # noqa: BLE001 - fails on a perfect network too: invalid as written
            fail.append(("generator-bug", f"stops with ScenarioError even without network faults: {e}"))
        else:
            fail.append(("midrun-error", f"run stopped with ScenarioError: {e} "
                                         "(the same scenario without network faults runs)"))
        return res
    except RecursionError as e:
        fail.append(("crash", f"RecursionError: {e}"))
        return res
    except Exception as e:  # noqa: BLE001 - any other exception is the finding
        fail.append(("crash", f"{type(e).__name__}: {e}"))
        return res
    res["t_run"] = time.perf_counter() - t
    d = tr.to_dict()
    text = _json(d)
    until = sc.get("until")
    if until is not None and d["end"] > until + 1e-9:
        fail.append(("run-ends", f"trace end {d['end']} is past until={until}"))
    for check in (check_edges, check_acks, check_established):
        try:
            fail.extend(check(sc, d))
        except Exception as e:  # noqa: BLE001 - a checker bug must not hide the rest
            fail.append(("crash", f"checker {check.__name__} raised {type(e).__name__}: {e}"))
    try:
        data_fail, res["data_checked"] = check_data(sc, d)
        fail.extend(data_fail)
    except Exception as e:  # noqa: BLE001
        fail.append(("crash", f"checker check_data raised {type(e).__name__}: {e}"))
    if determinism:
        try:
            again = _json(_run(json.loads(json.dumps(sc)), timeout).to_dict())
        except Exception as e:  # noqa: BLE001
            fail.append(("determinism", f"the second run raised {type(e).__name__}: {e}"))
        else:
            if again != text:
                fail.append(("determinism", "the second run (from the JSON text) gave a different trace"))
    return res


def check_seed(seed: int, timeout: float = 20.0, determinism: bool = True) -> dict:
    sc = generate(seed)
    t = time.perf_counter()
    res = check_scenario(sc, timeout, determinism)
    res["t_case"] = time.perf_counter() - t
    res["seed"] = seed
    res["scenario"] = sc
    return res


# ------------------------------------------------------------------------- minimizing
def signature(invariant: str, message: str) -> str:
    """A failure's kind: the invariant and its message without numbers and connection suffixes."""
    text = re.sub(r"#\d+", "", message)
    text = re.sub(r"calls\[\d+\]", "calls[]", text)
    text = re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    return f"{invariant}: {text}"


def _variants(sc: dict):
    """Smaller scenarios than `sc`, one change each."""
    def copy():
        return json.loads(json.dumps(sc))
    net = sc.get("network", {})
    if "random" in net:
        # the random losses of this very run, as positions: no RNG left in the reproducer
        try:
            tr = tcpsim.run(sc).to_dict()
        except Exception:  # noqa: BLE001
            tr = None
        if tr is not None:
            c = copy()
            del c["network"]["random"]
            c["network"]["drop"] = sorted(s["i"] for s in tr["segments"] if s["dropped"])
            if not c["network"]["drop"]:
                del c["network"]["drop"]
            if not c["network"]:
                del c["network"]
            yield c
    for key in list(net):
        c = copy()
        del c["network"][key]
        if not c["network"]:
            del c["network"]
        yield c
    drops = net.get("drop", [])
    size = len(drops) // 2
    while size >= 1:                  # big chunks of the drop list first (ddmin), then single positions
        for lo in range(0, len(drops), size):
            c = copy()
            c["network"]["drop"] = drops[:lo] + drops[lo + size:]
            if not c["network"]["drop"]:
                del c["network"]["drop"]
            yield c
        size //= 2
    if "random" in net:
        for k in ("duplicate", "jitter"):
            if k in net["random"]:
                c = copy()
                del c["network"]["random"][k]
                yield c
    if "flood" in net and net["flood"].get("count", 1000) > 1:
        c = copy()
        c["network"]["flood"]["count"] = max(1, net["flood"].get("count", 1000) // 2)
        yield c
    for key in ("profile", "delay", "description"):
        if key in sc:
            c = copy()
            del c[key]
            yield c
    for key in ("overrides", "whatif"):
        for k in list(sc.get(key, {})):
            c = copy()
            del c[key][k]
            if not c[key]:
                del c[key]
            yield c
    for host, ep in sc["endpoints"].items():
        for i in range(len(ep.get("calls", []))):
            c = copy()
            del c["endpoints"][host]["calls"][i]
            yield c
        for i, call in enumerate(ep.get("calls", [])):
            if call.get("bytes", 1) > 1:
                for b in (1, call["bytes"] // 2):
                    c = copy()
                    c["endpoints"][host]["calls"][i]["bytes"] = max(1, b)
                    yield c
            if call.get("after"):
                c = copy()
                del c["endpoints"][host]["calls"][i]["after"]
                yield c
        for k in ("backlog", "accept", "isn_step", "isn", "port"):
            if k in ep:
                c = copy()
                del c["endpoints"][host][k]
                yield c


def minimize(sc: dict, sig: str, timeout: float = 20.0, budget: int = 600) -> dict:
    """Greedily shrink `sc` while it still fails with the same `signature`."""
    inv = sig.split(":")[0]

    def fails(c):
        try:
            res = check_scenario(c, timeout, inv == "determinism")
        except Exception:  # noqa: BLE001
            return False
        return any(signature(i, m) == sig for i, m in res["failures"])
    best, tries, progress = sc, 0, True
    while progress and tries < budget:
        progress = False
        for c in _variants(best):
            tries += 1
            if fails(c):
                best, progress = c, True
                break
            if tries >= budget:
                break
    return best


# ---------------------------------------------------------------------------- driving
def _worker(seed_timeout):
    seed, timeout = seed_timeout
    res = check_seed(seed, timeout)
    if not res["failures"]:
        res["scenario"] = None          # don't ship passing scenarios back
    return res


def _init_worker():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ------------------------------------------------------------------ hostile input
#: Values a user or an attacker may put in any field.
HOSTILE = [None, "", "x" * 5000, "\x00\n\u202e", -1, 0, 0.5, 1e308, float("nan"), float("inf"), -float("inf"),
           2**64, -(2**63), 10**30, True, [], {}, [[[[[]]]]], {"a": {"b": 1}}, "S", "RA", "linux", "client#2"]


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    yield path


def _mutate(rng: random.Random) -> str:
    """A scenario file's text: a built-in with one field (or the text itself) spoiled."""
    doc = tcpsim.builtin(rng.choice(tcpsim.builtin_names()))
    how = rng.random()
    if how < 0.7:
        path = rng.choice([p for p in _leaves(doc) if p])
        target = doc
        for k in path[:-1]:
            target = target[k]
        if rng.random() < 0.15 and isinstance(target, dict):
            target[f"unknown_{rng.randrange(100)}"] = rng.choice(HOSTILE)
        else:
            target[path[-1]] = rng.choice(HOSTILE)
        return json.dumps(doc)
    text = json.dumps(doc)
    if how < 0.85:
        return text[: rng.randrange(len(text))]                    # truncated
    chars = list(text)
    for _ in range(rng.randint(1, 8)):                             # a few characters garbled
        chars[rng.randrange(len(chars))] = rng.choice('{}[]",:0-9eE.\\ \x00\xff')
    return "".join(chars)


def fuzz(n: int, seed: int, keep_dir: Path, timeout: float = 20.0) -> list:
    """Feed `n` spoiled scenario files to the CLI, in process.  The rule (one line,
    exit 2, or a normal run; never a traceback, never a hang) gives each failure."""
    import contextlib
    import io
    import tempfile

    from tcpsim.cli import main as cli

    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="tcpsim-fuzz-"))
    failures = []
    for i in range(n):
        path = workdir / f"fuzz-{i % 50}.json"
        path.write_text(_mutate(rng), encoding="utf-8")
        err, out = io.StringIO(), io.StringIO()
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                rc = cli(["run", str(path), "--format", "json"])
        except BaseException as e:                                  # noqa: BLE001 - a crash is what we look for
            rc, problem = None, f"{type(e).__name__}: {e}"[:300]
        else:
            lines = err.getvalue().splitlines()
            problem = None
            if rc == 2 and not (len(lines) == 1 and lines[0].startswith("error: ")):
                problem = f"exit 2 but stderr is {err.getvalue()[:300]!r}"
            elif rc not in (0, 2):
                problem = f"exit status {rc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        if problem:
            keep_dir.mkdir(parents=True, exist_ok=True)
            keep = keep_dir / f"hostile-input-{seed}-{i}.json"
            keep.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
            failures.append((i, problem, str(keep)))
    for f in workdir.iterdir():
        f.unlink()
    workdir.rmdir()
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=20000, help="number of runs (default 20000)")
    ap.add_argument("--seed", type=int, default=1, help="the soak's seed (default 1)")
    ap.add_argument("--out", default="soak-failures", help="where failing scenarios go (default ./soak-failures)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=20.0, help="wall-clock seconds one run may take")
    ap.add_argument("--only", type=int, metavar="RUNSEED", help="rebuild and check this one run seed")
    ap.add_argument("--minimize", action="store_true", help="also shrink the first failure of each invariant")
    ap.add_argument("--max-files", type=int, default=50, help="scenario files written per invariant (default 50)")
    ap.add_argument("--max-print", type=int, default=10, help="failures printed per invariant (default 10)")
    ap.add_argument("--fuzz", type=int, default=5000, metavar="N",
                    help="then feed N spoiled scenario files to the CLI (default 5000; 0: none)")
    args = ap.parse_args(argv)
    rules()                                         # parse the table once, before forking
    out = Path(args.out)
    seeds = [args.only] if args.only is not None else [args.seed * SEED_STRIDE + i for i in range(args.n)]
    t0 = time.perf_counter()
    results = []
    if args.workers > 1 and len(seeds) > 50:
        import multiprocessing as mp
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(args.workers, initializer=_init_worker) as pool:
            results = list(pool.imap_unordered(_worker, [(s, args.timeout) for s in seeds], chunksize=64))
    else:
        results = [_worker((s, args.timeout)) for s in seeds]
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: r["seed"])
    by_inv: dict = {}
    by_sig: dict = {}
    printed: dict = {}
    written: dict = {}
    first: dict = {}
    for r in results:
        for inv in sorted({f[0] for f in r["failures"]}):
            by_inv[inv] = by_inv.get(inv, 0) + 1
            msg = next(m for i, m in r["failures"] if i == inv)
            sig = signature(inv, msg)
            by_sig[sig] = by_sig.get(sig, 0) + 1
            path = None
            if written.get(inv, 0) < args.max_files:
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"{inv}-{r['seed']}.json"
                path.write_text(json.dumps(r["scenario"], indent=1) + "\n", encoding="utf-8")
                written[inv] = written.get(inv, 0) + 1
            if printed.get(inv, 0) < args.max_print:
                print(f"FAIL [{inv}] seed {r['seed']}: {msg}" + (f"  -> {path}" if path else ""))
                printed[inv] = printed.get(inv, 0) + 1
            first.setdefault(sig, r)
    if args.minimize:
        for sig, r in first.items():
            small = minimize(r["scenario"], sig, args.timeout)
            small["name"] = f"min-{r['seed']}"
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{sig.split(':')[0]}-{r['seed']}-min.json"
            path.write_text(json.dumps(small, indent=1) + "\n", encoding="utf-8")
            print(f"minimized ({sig}) seed {r['seed']} -> {path}")
    times = [r["t_case"] for r in results]
    sims = [r["t_run"] for r in results if r["t_run"] is not None]
    failing = sum(1 for r in results if r["failures"])
    checked = sum(1 for r in results if r.get("data_checked"))
    print()
    print(f"runs: {len(results)}   failing runs: {failing}   wall time: {wall:.1f} s with {args.workers} worker(s)")
    print(f"data invariant applied (normal close, one connection each side): {checked} runs")
    print("failures by invariant:" + ("" if by_inv else " none"))
    for inv in INVARIANTS:
        if inv in by_inv:
            print(f"  {inv:18} {by_inv[inv]}")
            for sig, n in sorted(by_sig.items(), key=lambda x: -x[1]):
                if sig.split(":")[0] == inv:
                    print(f"      {n:6}  {sig[len(inv) + 2:]}")
    if times:
        print(f"median time per run: {statistics.median(times) * 1000:.2f} ms (two runs and the checks); "
              f"median simulation: {statistics.median(sims) * 1000 if sims else float('nan'):.2f} ms")
    bad = []
    if args.fuzz and args.only is None:
        t1 = time.perf_counter()
        bad = fuzz(args.fuzz, args.seed, out)
        for i, problem, keep in bad[: args.max_print]:
            print(f"FAIL [hostile-input] case {i}: {problem}  -> {keep}")
        print(f"hostile input: {args.fuzz} spoiled scenario files, {len(bad)} broke the rule "
              f"(exit 2 and one 'error:' line, or a normal run), {time.perf_counter() - t1:.1f} s")
    return 1 if failing or bad else 0


if __name__ == "__main__":
    sys.exit(main())
