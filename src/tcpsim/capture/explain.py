"""Explain a capture: every connection summarised, one explained in full (JSON-able, SVG as text).

    summarise(source)               # {"file": ..., "connections": [...], "notes": [...]}
    explain(source, conn=1)         # the above, plus "connection": trace, states, verdict, model, SVGs
    explain_bytes(data, conn=1)     # the same for the file's bytes (the web page's way in)
    trace_of(source, conn=1)        # the observed trace itself, for the renderers

`source` is the capture's bytes, a path or a binary file object.  Packets
stream through once; only the connection explained keeps its segments.
"""

from __future__ import annotations

from typing import IO, Any

from ..core.trace import Trace
from ..core.units import secs
from ..render.ladder import ladder
from ..render.state_diagram import describe_path, state_diagram
from .errors import NoConnection
from .model import compare
from .observe import Observed, addresses, observe
from .reader import ReadStats, read_segments
from .split import Summary, split
from .text import t
from .zeek import MEANING

Source = bytes | str | IO[bytes]


def _notes(st: ReadStats) -> list[str]:
    out = []
    if st.cut_short:
        out.append(t("note.cut_short", n=st.cut_short))
    if st.fragments:
        out.append(t("note.fragments", n=st.fragments))
    if st.vlan:
        out.append(t("note.vlan", n=st.vlan))
    if st.ipv6:
        out.append(t("note.ipv6", n=st.ipv6))
    if st.backwards:
        out.append(t("note.backwards", n=st.first_backwards))
    return out


def _scan(source: Source, keep: set[int] | None) -> tuple[list[Summary], ReadStats]:
    st = ReadStats()
    conns = list(split(read_segments(source, st), keep=keep))
    if not conns:
        why = t("why.nothing") if not st.frames else t("why.skipped", not_ip=st.not_ip, not_tcp=st.not_tcp,
                                                          cut_short=st.cut_short)
        raise NoConnection(t("err.no_tcp", frames=st.frames, why=why))
    return conns, st


def summarise(source: Source) -> dict[str, Any]:
    """Every connection of the capture: endpoints, packets, bytes and Zeek conn_state (no segments kept)."""
    conns, st = _scan(source, None)
    return {"file": st.to_dict(), "connections": [c.to_dict() for c in conns], "notes": _notes(st)}


def _segment_rows(obs: Observed) -> list[dict[str, Any]]:
    tr = obs.trace
    rows = []
    for r, p in zip(tr.segments, obs.packets, strict=True):
        seq, ack = tr.relative(r)
        rows.append({"i": r.i, "frame": p.n, "t": secs(r.t), "t_abs_us": p.t, "src": r.seg.src, "flags": p.flags,
                     "seq": p.seq, "ack": p.ack, "rel_seq": seq, "rel_ack": ack, "len": p.len,
                     "lost": r.dropped, "rtx": r.rtx})
    return rows


def trace_of(source: Source, conn: int = 1) -> Trace:
    """Connection `conn`'s observed trace (a `tcpsim.core.trace.Trace`: draw it with `ladder` and
    `state_diagram`, print its `table()`, save its `to_json()`)."""
    return _observed(source, conn)[0].trace


def _observed(source: Source, conn: int) -> tuple[Observed, list[Summary], ReadStats]:
    conns, st = _scan(source, {conn})
    if not 1 <= conn <= len(conns):
        raise NoConnection(t("err.no_conn", n=conn, count=len(conns)))
    return observe(conns[conn - 1]), conns, st


def explain(source: Source, conn: int = 1, profile: str = "linux", svg: bool = True,
            state_svg: bool = True) -> dict[str, Any]:
    """Summarise `source` and explain connection `conn` (numbered from 1 as `summarise` lists them).

    svg: draw the ladder (pure Python) and put the state diagram's DOT in the result; state_svg:
    also lay the state diagram out with Graphviz `dot` (off where there is no `dot`, e.g. in a
    browser, which lays the DOT out itself).  The model's run is compared on `profile`."""
    obs, conns, st = _observed(source, conn)
    model = compare(obs, profile)
    model_trace = model.pop("trace", None)
    tr = obs.trace
    info = obs.summary.to_dict()
    detail: dict[str, Any] = {
        **info, "addresses": addresses(obs.summary), "t0_us": obs.t0,
        "segments": _segment_rows(obs),
        "states": {name: [s.value for s in tr.states(name)] for name in ("client", "server")},
        "paths": {name: describe_path(tr, name) if tr.states(name) else "" for name in ("client", "server")},
        "final": {k: v.value for k, v in tr.final.items()},
        "lost": [r.i for r in tr.segments if r.dropped],
        "unseen": obs.unseen, "notes": obs.notes, "listening": obs.listening,
        "trace": tr.to_dict(), "table": tr.table(relative=True), "model": model,
    }
    if obs.summary.incarnation > 1:
        detail["notes"] = [t("note.incarnation", n=obs.summary.incarnation)] + detail["notes"]
    if svg:
        painted = [n for n in ("client", "server") if tr.states(n)]
        diagram = state_diagram("figure", trace=tr, endpoints=painted)
        detail["svg"] = {"ladder": ladder(tr, relative=True, hosts=("client", "server")).svg(),
                         "state_diagram": diagram.svg() if state_svg else None,
                         "model_ladder": ladder(model_trace, relative=True, hosts=("client", "server")).svg()
                         if model_trace is not None else None}
        detail["dot"] = diagram.dot
    out = summarise_from(conns, st)
    out["connection"] = detail
    return out


def summarise_from(conns: list[Summary], st: ReadStats) -> dict[str, Any]:
    return {"file": st.to_dict(), "connections": [c.to_dict() for c in conns], "notes": _notes(st)}


def explain_bytes(data: bytes, conn: int = 1, profile: str = "linux", svg: bool = True,
                  state_svg: bool = True) -> dict[str, Any]:
    """`explain` on the bytes of a pcap or pcapng file (no file system needed)."""
    return explain(bytes(data), conn, profile, svg, state_svg)


def table(result: dict[str, Any]) -> str:
    """The plain-text form of `summarise` or `explain` (the CLI's --format table)."""
    lines = [t("table.conn", conn=c["conn"], client=c["client"], server=c["server"], conn_state=c["conn_state"],
               packets=sum(c["packets"]), duration=c["duration"])
             for c in result["connections"]]
    lines += [t("table.bullet", text=n) for n in result["notes"]]
    d = result.get("connection")
    if d is None:
        return "\n".join(lines)
    lines += ["", t("table.head", conn=d["conn"], client=d["client"], server=d["server"],
                    incarnation=d["incarnation"], conn_state=d["conn_state"], meaning=MEANING[d["conn_state"]]), ""]
    lines += [d["table"], ""]
    for side in ("client", "server"):
        lines.append(t("table.path", side=side, addr=d["addresses"][side],
                       path=" → ".join(d["states"][side]) or "-"))
    lines += ["", t("table.unseen")] + [t("table.bullet", text=u) for u in d["unseen"]]
    if d["notes"]:
        lines += ["", t("table.notes")] + [t("table.bullet", text=n) for n in d["notes"]]
    m = d["model"]
    lines.append("")
    if not m["ran"]:
        lines.append(t("table.bullet", text=m["why"]))
    else:
        diffs = m["differences"]
        lines.append(t("table.model", profile=m["profile"],
                       verdict=t("table.agree") if not diffs else t("table.differ", n=len(diffs))))
        for x in diffs:
            lines += [t("table.bullet", text=x["what"]), t("table.reason", text=x["why"])]
    return "\n".join(lines)
