"""The model beside the capture: infer the scenario, run it on the simulator, list the differences.

From one observed connection (`observe.Observed`) the scenario is what the
applications and the network evidently did: who connected and when; when
each side closed (a FIN sent after the peer's FIN had arrived is a close on
end of data, with the delay seen), aborted (an RST from an open connection)
or sent data (each first copy of a data segment is a send of its length);
which segments were lost (`observe.find_lost`), as drop rules counted per
sender and flags; the one-way delay as half the handshake's round trip seen
at the capture point.  The ISNs are the capture's, so the numbers compare
directly.  It runs on a profile (default ``linux``).

The two traces are then matched segment by segment on (sender, flags,
relative seq, relative ack, length), each capture segment taking the first
unmatched model segment with the same key.  A difference is a segment on one
side only, or a matched pair further apart in time than the tolerance: 1 ms
for a segment an application or an arrival caused, 8 ms for a
retransmission (a Linux timer fires on a jiffy, 4 ms at CONFIG_HZ=250, and
its RTO is rounded up to jiffies).  After a retransmission the two clocks
may run apart by that timer's difference; a segment an arrival caused is
compared on the clock of the last timer, one an application's call caused
(at a time taken from the capture) on the common clock, whichever is nearer.
Model segments after the capture ends are not differences (the capture
stopped).  Each difference carries its likely
reason.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import TcpSimError
from ..core.network import run
from ..core.scenario import MAX_SECONDS
from ..core.segment import MOD
from ..core.trace import SegmentRecord, Trace
from ..core.units import fmt_t, secs
from .observe import Observed
from .text import t

TOL_US = 1_000
TOL_TIMER_US = 8_000
MIN_DELAY_US = 1


def _s(t_us: int) -> float:
    return round(secs(t_us), 6)


def infer_scenario(obs: Observed, profile: str = "linux") -> dict[str, Any] | None:
    """The scenario the capture suggests, as a dict `tcpsim.core.scenario.load` takes; None when the
    capture shows too little to run one (no SYN, or a server that never answered)."""
    tr = obs.trace
    segs = tr.segments
    if "client" not in tr.isn or obs.listening is None:
        return None
    first = segs[0]
    answer = next((r for r in segs if r.seg.src == "server"), None)
    delay = MIN_DELAY_US
    if answer is not None and "S" in answer.seg.flags:
        delay = max(MIN_DELAY_US, (answer.t - first.t) // 2)
    calls: dict[str, list[dict[str, Any]]] = {"client": [{"t": _s(first.t), "call": "connect", "to": "server"}],
                                              "server": [{"t": 0, "call": "listen"}] if obs.listening else []}
    got_fin: dict[str, int] = {}
    closed: set[str] = set()
    rules = []
    count: dict[tuple[str, str], int] = {}
    for r in segs:
        s, me = r.seg, r.seg.src
        count[(me, s.flags)] = count.get((me, s.flags), 0) + 1
        if r.dropped:
            rules.append({"action": "drop", "src": me, "flags": s.flags, "nth": count[(me, s.flags)]})
        if not r.rtx and s.len and me not in closed:
            calls[me].append({"t": _s(r.t), "call": "send", "bytes": s.len})
        if "F" in s.flags and me not in closed:
            closed.add(me)
            if me in got_fin:
                after = r.t - got_fin[me]
                calls[me].append({"on": "eof", "call": "close", **({"after": _s(after)} if after > TOL_US else {})})
            else:
                calls[me].append({"t": _s(r.t), "call": "close"})
        if "R" in s.flags and me not in closed and not (me == "server" and not obs.listening):
            closed.add(me)
            calls[me].append({"t": _s(r.t), "call": "abort"})
        if "F" in s.flags and not r.dropped:
            got_fin.setdefault(s.dst, r.t)
    ends = {"client": obs.summary.orig[1], "server": obs.summary.orig[3]}
    scenario: dict[str, Any] = {
        "name": f"capture-{obs.summary.n}",
        "description": t("model.description", n=obs.summary.n),
        "profile": profile, "delay": _s(delay),
        "endpoints": {name: {"port": ends[name], **({"isn": tr.isn[name]} if name in tr.isn else {}),
                             "calls": calls[name]} for name in ("client", "server")},
    }
    if rules:
        scenario["network"] = {"rules": rules}
    if secs(tr.end) > MAX_SECONDS:
        return None
    return scenario


def _bases(trace: Trace) -> dict[str, int]:
    """Each side's ISN: the seq of the first SYN it sent (a side that sent none keeps absolute numbers)."""
    out: dict[str, int] = {}
    for r in trace.segments:
        if "S" in r.seg.flags:
            out.setdefault(r.seg.src, r.seg.seq)
    return out


def _key(bases: dict[str, int], r: SegmentRecord) -> tuple[str, str, int, int | None, int]:
    s = r.seg
    seq = (s.seq - bases[s.src]) % MOD if s.src in bases else s.seq
    ack = None if s.ack is None else ((s.ack - bases[s.dst]) % MOD if s.dst in bases else s.ack)
    return (s.src, s.flags, seq, ack, s.len)


def _label(bases: dict[str, int], r: SegmentRecord) -> str:
    src, flags, seq, ack, n = _key(bases, r)
    return t("model.seg", src=src, flags=flags, seq=seq, ack="" if ack is None else f" ack={ack}",
             len=f" len={n}" if n else "")


def _reason(r: SegmentRecord, timed: bool = False) -> str:
    fl = r.seg.flags
    if r.rtx and "S" in fl and "A" in fl and not timed:
        return t("why.dup")
    if r.rtx:
        return t("why.timer") if timed else t("why.rtx")
    if fl in ("A", "PA") and not r.seg.len:
        return t("why.ack")
    if timed:
        return t("why.app")
    return t("why.other")


def compare(obs: Observed, profile: str = "linux") -> dict[str, Any]:
    """Run the inferred scenario and set it beside the capture (JSON-able)."""
    scenario = infer_scenario(obs, profile)
    if scenario is None:
        return {"scenario": None, "ran": False, "why": t("model.cannot"), "differences": [], "rows": []}
    try:
        model = run(scenario)
    except TcpSimError as e:
        return {"scenario": scenario, "ran": False, "why": str(e), "differences": [], "rows": []}
    cap = obs.trace
    cb, mb = _bases(cap), _bases(model)
    free = list(model.segments)
    rows: list[dict[str, Any]] = []
    diffs: list[dict[str, str]] = []
    alone: list[SegmentRecord] = []
    offset = 0          # how far the model's clock runs from the kernel's since the last timer
    for r in cap.segments:
        k = _key(cb, r)
        m = next((x for x in free if _key(mb, x) == k), None)
        if m is None:
            rows.append({"capture": r.i, "model": None, "dt_ms": None})
            alone.append(r)
            continue
        free.remove(m)
        dt = m.t - r.t
        rows.append({"capture": r.i, "model": m.i, "dt_ms": round(dt / 1000, 3)})
        timer = r.rtx or m.rtx
        # a segment an arrival caused follows the clock of the last timer; one an application's call
        # caused (at the time the capture gives it) is back on the common clock
        if abs(dt) <= abs(dt - offset):
            offset = 0
        drift = dt - offset
        if abs(drift) > (TOL_TIMER_US if timer else TOL_US):
            diffs.append({"kind": "timer" if timer else "time",
                          "what": t("diff.time", seg=_label(cb, r), t=fmt_t(r.t), tm=fmt_t(m.t), dt=drift / 1000),
                          "why": _reason(r, timed=True)})
        if timer:
            offset = dt
    horizon = cap.end + TOL_TIMER_US
    extra = [m for m in free if m.t <= horizon]
    for r in alone:
        src, flags, seq, _, n = _key(cb, r)
        m = next((x for x in extra if _key(mb, x)[0] == src and _key(mb, x)[2] == seq), None)
        if m is not None:
            extra.remove(m)
            diffs.append({"kind": "numbers", "what": t("diff.numbers", seg=_label(cb, r), t=fmt_t(r.t),
                                                       other=_label(mb, m), tm=fmt_t(m.t)),
                          "why": t("why.numbers") if flags == m.seg.flags else t("why.flags")})
        else:
            diffs.append({"kind": "missing", "what": t("diff.missing", seg=_label(cb, r), t=fmt_t(r.t)),
                          "why": _reason(r)})
    for m in extra:
        rows.append({"capture": None, "model": m.i, "dt_ms": None})
        diffs.append({"kind": "extra", "what": t("diff.extra", seg=_label(mb, m), t=fmt_t(m.t)),
                      "why": _reason(m)})
    free = [m for m in free if m.t > horizon]
    later = [m.i for m in free if m.t > horizon]
    states: dict[str, dict[str, list[str]]] = {}
    for name in ("client", "server"):
        seen = [x.value for x in cap.states(name)]
        ran = [x.value for x in model.states(name)]
        if seen[:1] == ["LISTEN"] and ran[:2] == ["CLOSED", "LISTEN"]:
            ran = ran[1:]                 # the capture cannot show the listener's CLOSED -> LISTEN
        states[name] = {"capture": seen, "model": ran}
        if ran[:len(seen)] != seen:
            diffs.append({"kind": "states", "what": t("diff.states", side=name, seen=" → ".join(seen) or "-",
                                                      ran=" → ".join(ran) or "-"), "why": t("why.states")})
    return {"scenario": scenario, "ran": True, "profile": profile, "rows": rows, "differences": diffs,
            "after_capture": later, "states": states, "trace": model}
