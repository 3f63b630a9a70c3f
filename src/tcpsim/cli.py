"""Command line: run a scenario and print its trace.

    python -m tcpsim run SCENARIO [--format table|json] [--relative] [--drop N,M]
    python -m tcpsim list
    python -m tcpsim show SCENARIO
    python -m tcpsim rules [--format table|json]
    python -m tcpsim explain FILE [--conn N] [--format table|json|svg] [--figure ladder|states|model]
    python -m tcpsim worksheet [--chapter X] [--kind K] [--variants N] [--seed S] --out DIR [--no-pdf]

SCENARIO is a built-in's name or a .json/.yaml file; FILE a pcap or pcapng capture.  A mistake in the input
prints one line naming it and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from .core.errors import TcpSimError
from .core.network import run
from .core.scenario import builtin, builtin_names, load, read_source
from .core.table import ALL_PROFILES, RULES


def _positions(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 1_000_000:
            raise argparse.ArgumentTypeError(f"--drop wants positions like 2 or 2,5 (from 1), got {part[:40]!r}")
        out.append(int(part))
    return out


class UsageError(Exception):
    """A mistake on the command line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (main prints it), not usage text and a message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (python -m tcpsim --help shows the commands)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tcpsim", description="Simulate TCP connection management.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario and print its trace")
    r.add_argument("scenario", help="a built-in's name (see `list`) or a .json/.yaml file")
    r.add_argument("--format", choices=("table", "json"), default="table")
    r.add_argument("--relative", action="store_true", help="seq/ack relative to each side's ISN (table)")
    r.add_argument("--drop", type=_positions, default=[], metavar="N[,M...]",
                   help="also lose the segments at these positions in the trace (1 = first)")
    sub.add_parser("list", help="list the built-in scenarios")
    s = sub.add_parser("show", help="print a scenario as JSON")
    s.add_argument("scenario")
    ru = sub.add_parser("rules", help="print the transition table")
    ru.add_argument("--format", choices=("table", "json"), default="table")
    e = sub.add_parser("explain", help="explain a capture (pcap or pcapng): connections, states, verdict, model")
    e.add_argument("file", help="a .pcap or .pcapng file")
    e.add_argument("--conn", type=_conn, default=1, metavar="N", help="the connection to explain (from 1)")
    e.add_argument("--format", choices=("table", "json", "svg"), default="table")
    e.add_argument("--figure", choices=("ladder", "states", "model"), default="ladder",
                   help="with --format svg: the capture's ladder, its state diagram, or the model's ladder")
    e.add_argument("--profile", choices=("linux", "rfc9293"), default="linux", help="the model's profile")
    w = sub.add_parser("worksheet", help="write a printable worksheet of the book's questions and its answer key")
    w.add_argument("--chapter", help="only this chapter's questions (intro, handshake, ..., appendix)")
    w.add_argument("--kind", help="only questions of this kind (fill, next, order, loss)")
    w.add_argument("--variants", type=_count, default=2, metavar="N", help="variants of each question (1 to 50)")
    w.add_argument("--seed", type=_count, default=1, metavar="S", help="another seed, other variants")
    w.add_argument("--out", required=True, metavar="DIR", help="the folder to write into")
    w.add_argument("--no-pdf", action="store_true", help="the HTML pages only (no chromium needed)")
    return p


def _conn(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10_000_000:
        raise argparse.ArgumentTypeError(f"--conn wants a connection number from 1, got {text[:40]!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"wants a whole number, got {text[:40]!r}")
    return int(text)


def one_line(text: str) -> str:
    """An error message as one printable line: control characters escaped, length bounded."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return out if len(out) <= 500 else out[:497] + "..."


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        _command(args)
    except UsageError as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except TcpSimError as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0
    return 0


def _command(args: argparse.Namespace) -> None:
    if args.command == "list":
        for name in builtin_names():
            desc = builtin(name).get("description", "")
            print(f"{name:28} {desc.split('. ')[0].rstrip('.')}")
    elif args.command == "show":
        load(args.scenario)                       # a scenario that is not valid is an error, not a listing
        print(json.dumps(read_source(args.scenario), indent=2, ensure_ascii=False, default=str))
    elif args.command == "worksheet":
        from .book.worksheet import WorksheetError, write

        try:
            written = write(Path(args.out), args.chapter, args.kind, args.variants, args.seed, pdf=not args.no_pdf)
        except WorksheetError as e:
            raise UsageError(str(e)) from None
        for path in written:
            print(path)
    elif args.command == "rules" and args.format == "json":
        print(json.dumps([{"state": r.state.value, "event": r.event.value, "next": r.next.value,
                           "send": r.send.name, "sends": r.send_text, "source": r.rfc, "label": r.label,
                           "figure": r.figure, "whatif": r.whatif or None, "profiles": sorted(r.profiles)}
                          for r in RULES], indent=1, ensure_ascii=False))
    elif args.command == "rules":
        for r in RULES:
            tag = f" [what-if {r.whatif}]" if r.whatif else ""
            if r.profiles != ALL_PROFILES:
                tag += f" [{', '.join(sorted(r.profiles))} only]"
            print(f"{r.state.value:13} {r.event.value:34} -> {r.next.value:13} "
                  f"send {r.send.value or '-':26} {r.rfc}{tag}")
    elif args.command == "explain":
        _explain(args)
    else:
        trace = run(load(args.scenario), drop=args.drop)
        print(trace.to_json() if args.format == "json" else trace.table(relative=args.relative))


def _explain(args: argparse.Namespace) -> None:
    from .capture import explain, table

    svg = args.format == "svg"
    result = explain(args.file, args.conn, args.profile, svg=svg, state_svg=svg and args.figure == "states")
    if args.format == "json":
        print(json.dumps(result, indent=1, ensure_ascii=False))
    elif svg:
        key = {"ladder": "ladder", "states": "state_diagram", "model": "model_ladder"}[args.figure]
        figure = result["connection"]["svg"][key]
        if figure is None:
            raise UsageError(result["connection"]["model"]["why"])
        print(figure, end="")
    else:
        print(table(result))
