"""The Linux column of the conformance matrix: src/tcpsim/data/linux/conformance.json.

tools/linux_matrix.py ran every cell of the matrix of test_conformance.py
against a real kernel socket (a raw-socket peer crafts every segment) and
recorded what the kernel sent in reply, the state it went to and what its
application was told.  These tests check the file (its header, that every
cell is one the matrix has, that every reply parses) and then run the
simulator's `linux` profile on each recorded cell, exactly as
test_conformance runs it, and compare: the replies (flags, seq, ack and
data length, relative to the connection's ISS and the peer's ISN as in the
file), the next state and the notice.

Where the simulator does something else than the kernel, the cell is listed
in DIFFERENCES under its cause and marked xfail(strict=True), so that it
flips once the simulator is changed.  `python tests/test_linux_matrix.py`
prints the counts, the differences by cause, and where the kernel differs
from the RFC 9293 oracle (by state and kind).  No root and no network.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tcpsim.data import LINUX

if __name__ == "__main__":                      # run as a script: make test_conformance importable
    sys.path.insert(0, str(Path(__file__).parent))

import test_conformance as tc  # noqa: E402
from helpers import Net, S, notices_told, reach  # noqa: E402
from tcpsim.core.units import us  # noqa: E402
from tcpsim.oracle import rfc9293 as rfc  # noqa: E402

DATA = LINUX / "conformance.json"
FACT = json.loads(DATA.read_text())
MATRIX = {c.id: c for c in tc.CELLS}
MOD = 1 << 32
LETTER = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", "A": "ACK"}
HEADER = ("fact", "description", "how", "kernel", "machine", "recorded", "tool", "hz", "sysctl")


# --------------------------------------------------------------------------- the two sides, in one form

def _ctl(flags: str, length: int) -> str:
    return ",".join(LETTER[c] for c in flags) + (f" +{length} bytes" if length else "")


def kernel_seen(rec: dict) -> tc.Seen:
    """The kernel's cell as a Seen, numbers relative as in the file."""
    reps = tuple(rfc.Reply(_ctl(r["flags"], r["len"]), r["seq"], r["ack"]) for r in rec["replies"])
    return tc.Seen(reps, rec["state"], rec["told"])


def _rel(x: int, base: int) -> int:
    return (x - base + (1 << 31)) % MOD - (1 << 31)


def _setup(cell: tc.Cell):
    """test_conformance.setup for the linux profile, with the receive window the kernel had in the cell (its
    window is 65495 or 65494, the profile's 65535), so that SEG.SEQ lies as far from RCV.NXT as it did there."""
    tcb = FACT["cells"][cell.id]["tcb"]
    if tcb is None:
        return tc.setup(cell.state, "linux")
    window = tcb["rcv_wnd"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tc, "Net", lambda profile: Net(profile, window=window))
        mp.setattr(tc, "reach", lambda st, profile, passive=True: reach(st, profile, passive, window=window))
        return tc.setup(cell.state, "linux")


def run_cell(cell: tc.Cell, log: list) -> tuple[tc.Seen, rfc.Tcb | None, dict[str, int]]:
    """test_conformance.run_cell for the linux profile, plus what host a sends when its timers fire within
    the kernel's reply window (a delayed ACK: the kernel's replies were collected for that long)."""
    net, conn, tcb = _setup(cell)
    before = set(net.a.conns.values())
    seg = tc.the_segment(cell, net, conn, tcb)
    log.clear()
    out = [s for s, _ in net.inject("a", seg) if s.src == "a"]
    end = net.now + us(FACT["reply_window_ms"] / 1000)
    while True:
        due = [(c.next_timer(), i) for i, c in enumerate(net.a.conns.values()) if c.next_timer() is not None]
        if not due or min(due)[0] > end:
            break
        t, i = min(due)
        net.now = max(net.now, t)
        list(net.a.conns.values())[i].handle_timer(net.now)
        out += [s for s, _ in net.collect() if s.src == "a"]
        net.flight.clear()
    told_a = [tc.TOLD[k] for host, k in log if host == "a" and k in tc.TOLD]
    new = [c for c in net.a.conns.values() if c not in before]
    names = {}
    if cell.state == "CLOSED":
        state = tc._rfc_state(new[0].state) if new else "CLOSED"
    elif cell.state == "LISTEN":
        state = tc._rfc_state(new[0].state) if new else tc._rfc_state(conn.state)
        if new:
            names["ISS"] = new[0].iss
    else:
        state = tc._rfc_state(conn.state)
        if conn.state is S.CLOSED and (conn.lport, conn.rhost, conn.rport) in net.a.conns:
            state = "CLOSED (TCB not deleted)"
        if conn.state is S.LISTEN and conn.listener is not None and conn.listener.state is not S.LISTEN:
            state = "LISTEN (but the listener is gone)"
    return tc.Seen(tuple(tc._reply(s) for s in out), state, "; ".join(told_a) or None), tcb, names


def sim_seen(cell: tc.Cell, log: list) -> tc.Seen:
    """The simulator's linux profile on the cell, numbers made relative the way the file's are:
    seq to the connection's ISS (SYN-SENT and later), ack to the peer's ISN (once there is one)."""
    seen, tcb, names = run_cell(cell, log)
    reps = []
    for r in seen.replies:
        seq, ack = r.seq, r.ack
        if cell.state == "LISTEN":
            if "SYN" in r.ctl and seq == names.get("ISS"):
                seq = "ISS"
        elif "RST" in r.ctl and seq == 0:
            seq = "0"
        if cell.state not in ("CLOSED", "LISTEN"):
            seq = seq if isinstance(seq, str) else _rel(seq, tcb.iss)
            if ack is not None and cell.state != "SYN-SENT":
                ack = _rel(ack, tcb.irs)
        reps.append(rfc.Reply(r.ctl, seq, ack))
    return tc.Seen(tuple(reps), seen.state, seen.told)


def oracle(cell: tc.Cell, rec: dict) -> rfc.Verdict:
    """RFC 9293's answer for the kernel's own numbers (the relative ones of the file)."""
    name, _, passive = tc.STATES[cell.state]
    seg = rec["segment"]
    ack = None if seg["ack"] is None else seg["ack"] % MOD
    s = rfc.Seg(frozenset(LETTER[c] for c in seg["flags"]), seg["seq"] % MOD, ack, seg["len"])
    if cell.state == "CLOSED":
        return rfc.segment_arrives(None, s)
    if cell.state == "LISTEN":
        return rfc.segment_arrives(rfc.Tcb("LISTEN", max_snd_wnd=FACT_PEER_WIN), s)
    t = rec["tcb"]
    tcb = rfc.Tcb(name, iss=0, irs=0, snd_una=t["snd_una"] % MOD, snd_nxt=t["snd_nxt"] % MOD,
                  rcv_nxt=(t["rcv_nxt"] or 0) % MOD, rcv_wnd=t["rcv_wnd"], max_snd_wnd=FACT_PEER_WIN, passive=passive)
    return rfc.segment_arrives(tcb, s)


FACT_PEER_WIN = FACT["peer"]["window"]


def oracle_match(cell: tc.Cell, rec: dict) -> rfc.Outcome | None:
    k = kernel_seen(rec)
    reps = tuple(rfc.Reply(r.ctl, 0 if r.seq == "0" else r.seq if isinstance(r.seq, str) else r.seq % MOD,
                           None if r.ack is None else r.ack % MOD) for r in k.replies)
    return oracle(cell, rec).match(reps, k.state, k.told)


# --------------------------------------------------------------------------- where the simulator differs

#: Where the simulator's linux profile does something else than the kernel did: cause -> (explanation, cells).
#: The explanations name the kernel functions as pointers ("Linux:" in the README's conformance.json section);
#: each cell is in one cause, the first that explains it.  The cells xfail(strict=True): they flip when fixed.
DIFFERENCES: dict[str, tuple[str, list[str]]] = {
    "fast-path": (
        "ESTABLISHED: data at RCV.NXT with a 'too old' ACK (below SND.UNA - MAX.SND.WND) is taken by the "
        "header-prediction fast path of tcp_rcv_established, which only checks that SEG.ACK is not after SND.NXT, "
        "so the kernel's ACK acknowledges the data; the simulator applies RFC 5961's ACK range check first and "
        "drops it",
        [
            "ESTABLISHED|DATA-ACK|seq=RCV.NXT|ack=too-old",
        ]),
    "end-beyond-window": (
        "CLOSE-WAIT, CLOSING: text that reaches past the window while the receive queue is not empty (the "
        "peer's FIN is still queued: the recording's application never read it) is unacceptable since Linux 6.17 "
        "(tcp_sequence, SKB_DROP_REASON_TCP_INVALID_END_SEQUENCE): ACKed and dropped before the ACK field is "
        "looked at. The simulated application reads everything the moment it arrives, so its receive queue is "
        "always empty and the simulator takes the part in the window (in CLOSING, with the ACK of our FIN: "
        "TIME-WAIT), as Linux does when the queue is empty",
        [
        "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=old",
        "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=SND.UNA",
        "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=acceptable",
        "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=old",
        "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=SND.UNA",
        "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=acceptable",
        "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=old",
        "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=SND.UNA",
        "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND|ack=acceptable",
        "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=old",
        "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=SND.UNA",
        "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND|ack=acceptable",
            "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=SND.UNA",
            "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=acceptable",
            "CLOSE-WAIT|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=old",
            "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=SND.UNA",
            "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=acceptable",
            "CLOSE-WAIT|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=old",
            "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=SND.UNA",
            "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=acceptable",
            "CLOSING|DATA-ACK|seq=RCV.NXT+RCV.WND-1|ack=old",
            "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=SND.UNA",
            "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=acceptable",
            "CLOSING|DATA-FIN-ACK|seq=RCV.NXT+RCV.WND-1|ack=old",
        ]),
}


def _cause(cid: str) -> str | None:
    for cause, (_, ids) in DIFFERENCES.items():
        if cid in ids:
            return cause
    return None


# --------------------------------------------------------------------------- the file

def test_header():
    for key in HEADER:
        assert FACT.get(key) not in (None, "", {}), key
    assert FACT["fact"] == "conformance"
    assert FACT["hz"]["config_hz"] == 250
    assert {"tcp_invalid_ratelimit", "tcp_challenge_ack_limit", "tcp_timestamps"} <= set(FACT["sysctl"])
    assert set(FACT["states"]) == set(tc.STATES)
    assert FACT["counts"]["cells"] == len(FACT["cells"]) and not FACT["counts"]["failed"]
    assert FACT["sniffer"]["drops"] == 0 and FACT["tcpdump"]["stats"]["dropped by kernel"] == 0
    assert "conformance.json" in (DATA.parent / "README.md").read_text()


def test_every_cell_is_a_matrix_cell_and_parses():
    for group in ("cells", "cells_shutdown"):
        for cid, rec in FACT[group].items():
            assert cid in MATRIX, cid
            cell = MATRIX[cid]
            flags, text = tc.KINDS[cell.kind]
            assert rec["segment"]["flags"] == flags and rec["segment"]["len"] == text, cid
            assert rec["state"] in rfc.STATES or rec["state"] == "LISTEN", cid
            assert rec["told"] in (None, rfc.RESET, rfc.REFUSED), cid
            for r in rec["replies"]:
                assert set(r["flags"]) <= set("SFRPA") and r["flags"], cid
                assert (isinstance(r["seq"], int) or (r["seq"] == "ISS" and cell.state == "LISTEN")
                        or (r["seq"] == "0" and "R" in r["flags"])), cid
                assert (r["ack"] is None) == ("A" not in r["flags"]), cid
                assert r["len"] >= 0 and 0 <= r["ms"] <= FACT["reply_window_ms"], cid
            if cell.state not in ("CLOSED", "LISTEN"):
                t = rec["tcb"]
                assert 0 < t["rcv_wnd"] <= 65535, cid
                # the cell's segment sits where the cell says, with the kernel's own numbers
                if not cell.seq.startswith("any:"):
                    assert rec["segment"]["seq"] == tc.SEQ_POS[cell.seq](t["rcv_nxt"], t["rcv_wnd"]), cid
                if cell.ack is not None:
                    want = tc.ACK_POS[cell.ack](t["snd_una"], t["snd_nxt"])
                    assert rec["segment"]["ack"] == _rel(want, 0), cid


def test_every_matrix_cell_is_recorded():
    """The recording covers the whole matrix (the shutdown variant only the states it is for)."""
    assert set(FACT["cells"]) == set(MATRIX)
    assert {MATRIX[c].state for c in FACT["cells_shutdown"]} == {"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK"}


def test_every_cause_names_cells():
    seen: set[str] = set()
    for cause, (why, ids) in DIFFERENCES.items():
        assert ids and why, cause
        assert not seen & set(ids), f"{cause}: cells listed under two causes"
        seen |= set(ids)


# --------------------------------------------------------------------------- the simulator against the kernel

@pytest.fixture(scope="module")
def told():
    """Every (host, notice kind) the simulator tells an application, for the whole module."""
    with notices_told() as log:
        yield log


def _param(cid: str):
    cause = _cause(cid)
    marks = [pytest.mark.xfail(strict=True, reason=f"simulator: {cause}")] if cause else []
    return pytest.param(cid, id=cid, marks=marks)


@pytest.mark.parametrize("cid", [_param(c) for c in FACT["cells"]])
def test_simulator_does_what_the_kernel_did(cid, told):
    rec = FACT["cells"][cid]
    kernel, sim = kernel_seen(rec), sim_seen(MATRIX[cid], told)
    assert sim == kernel, f"{cid}\nkernel:    {kernel.describe()}\nsimulator: {sim.describe()}"


# --------------------------------------------------------------------------- the summary

def _abstract(seen: tc.Seen) -> str:
    reply = "+".join(r.ctl for r in seen.replies) or "nothing"
    return f"{reply} -> {seen.state}" + (f" ({seen.told})" if seen.told else "")


def _where(cells) -> str:
    return ", ".join(sorted(c.seq + ("" if c.ack is None else f"/{c.ack}") for c in cells))


def summary() -> str:
    with notices_told() as log:
        sims = {cid: sim_seen(MATRIX[cid], log) for cid in FACT["cells"]}
    kern = {cid: kernel_seen(rec) for cid, rec in FACT["cells"].items()}
    differ = [cid for cid in kern if sims[cid] != kern[cid]]
    lines = [f"{len(kern)} cells recorded; the simulator's linux profile agrees with the kernel in "
             f"{len(kern) - len(differ)}, differs in {len(differ)}"]
    by_cause: dict[str, list[str]] = defaultdict(list)
    for cid in differ:
        by_cause[_cause(cid) or "(no cause listed)"].append(cid)
    for cause, ids in by_cause.items():
        lines.append(f"  {len(ids):4d}  {cause}")
    stale = [cid for cid in kern if _cause(cid) and sims[cid] == kern[cid]]
    if stale:
        lines.append(f"  listed but agreeing: {len(stale)}")
    lines.append("")
    lines.append("Kernel against simulator, by state x kind:")
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cid in differ:
        groups[(MATRIX[cid].state, MATRIX[cid].kind)].append(cid)
    for (state, kind), ids in groups.items():
        what = Counter((_abstract(kern[c]), _abstract(sims[c])) for c in ids)
        for (k, s), n in what.most_common():
            cells = [MATRIX[c] for c in ids if (_abstract(kern[c]), _abstract(sims[c])) == (k, s)]
            lines.append(f"  {state} x {kind}: {n}x kernel: {k}; simulator: {s}; at {_where(cells)}")
    lines.append("")
    off = [cid for cid, rec in FACT["cells"].items() if oracle_match(MATRIX[cid], rec) is None]
    lines.append(f"Kernel against the RFC 9293 oracle: {len(kern) - len(off)} cells agree, {len(off)} differ")
    groups = defaultdict(list)
    for cid in off:
        groups[(MATRIX[cid].state, MATRIX[cid].kind)].append(cid)
    for (state, kind), ids in groups.items():
        what = Counter((_abstract(kern[c]), oracle(MATRIX[c], FACT["cells"][c]).primary.describe()) for c in ids)
        total = sum(1 for c in FACT["cells"] if (MATRIX[c].state, MATRIX[c].kind) == (state, kind))
        lines.append(f"  {state} x {kind}: {len(ids)} of {total}")
        for (k, o), n in what.most_common():
            cells = [MATRIX[c] for c in ids
                     if (_abstract(kern[c]), oracle(MATRIX[c], FACT["cells"][c]).primary.describe()) == (k, o)]
            lines.append(f"      {n:2d}x kernel: {k:45s} RFC: {o}   at {_where(cells)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
