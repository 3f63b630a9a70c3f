"""What users and attackers feed the CLI and the scenario loader.

The rule (README: "A mistake in the input ... prints one line naming it and
exits with status 2"): for every input below, `python -m tcpsim run ...` either
succeeds (status 0, nothing on stderr) or exits with status 2 and exactly one
line on stderr, starting with ``error:`` and naming the field or the file --
never a traceback, never a hang, never more than one line.

The cases: every field of a valid scenario that uses every field, replaced by
null, a wrong type, a negative, a huge number (1e308, 2**64), NaN, +-Infinity
(Python's json writes and reads them), an empty string, list or object; an
unknown key in every object; counts and sizes so large no run could finish;
truncated, deeply nested, non-UTF-8, UTF-16, binary, empty and huge files, in
JSON and YAML; unreadable files (we run as root: see `test_unreadable_file`),
directories, very long and odd file names (control characters, non-UTF-8
bytes); bad command-line options.  They run in-process through
`tcpsim.cli.main` with a SIGALRM watchdog; a handful also as subprocesses.

A case that fails gets ``xfail="the precise reason"`` (run strict, so it turns
into a failure, and its mark must go, once fixed); none does today -- the 60-odd
that failed when these tests were written (tracebacks: OverflowError,
RecursionError, UnicodeDecodeError, OSError, PermissionError,
ZeroDivisionError; hangs on unbounded counts; argparse's multi-line usage;
raw newlines in file names; a file holding a string followed as a name) were
fixed meanwhile.  ``python tests/test_hostile_input.py`` prints every case
that breaks the rule.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tcpsim import cli

TIMEOUT = 2.0        # seconds of wall-clock time a case may take in-process
#: A valid scenario that uses every field the README documents.
FULL = {
    "name": "full", "description": "every field", "profile": "linux",
    "overrides": {"msl": 5, "syncookies": 1, "rto_initial": 1.0, "syn_retries": 6, "mss": 1460, "fin_timeout": 60},
    "whatif": {"two_way_handshake": False, "time_wait": 10},
    "delay": 0.05, "until": 60,
    "endpoints": {
        "client": {"port": 40000, "isn": 100, "isn_step": 64000, "calls": [
            {"t": 0, "call": "connect", "to": "server", "port": 80, "sport": 40000, "isn": 100},
            {"on": "connected", "after": 0.1, "call": "send", "bytes": 1000},
            {"t": 2, "call": "close", "conn": "client"}]},
        "server": {"port": 80, "isn": 300, "backlog": 4, "accept": True, "calls": [
            {"t": 0, "call": "listen"},
            {"t": 0.5, "call": "accept", "count": 1},
            {"on": "eof", "call": "close"},
            {"t": 50, "call": "abort", "target": "listener"}]}},
    "network": {
        "drop": [7],
        "rules": [{"action": "delay", "src": "client", "dst": "server", "flags": "A", "has": "A", "data": False,
                   "seq": 101, "ack": 301, "nth": 1, "extra": 0.01}],
        "random": {"seed": 1, "loss": 0.0, "duplicate": 0.0, "jitter": 0.0},
        "inject": [{"t": 1.0, "src": "client", "sport": 40000, "dst": "server", "dport": 80, "flags": "A",
                    "seq": 5, "ack": 6, "len": 0, "note": "crafted"}],
        "flood": {"t": 3, "count": 5, "rate": 1, "dst": "server", "dport": 80, "src": "spoofed"}}}

BAD_VALUES = [("null", None), ("true", True), ("string", "x"), ("empty-string", ""), ("empty-list", []),
              ("empty-object", {}), ("negative", -1), ("huge-float", 1e308), ("huge-int", 2**64),
              ("nan", math.nan), ("infinity", math.inf), ("-infinity", -math.inf)]


# ---------------------------------------------------------------------------- running one case
class _Hang(BaseException):
    """Raised by the watchdog; a BaseException, so no `except Exception` in tcpsim swallows it."""


@dataclass
class Result:
    rc: object
    out: str
    err: str
    exc: BaseException | None = None

    @property
    def last_traceback_line(self) -> str:
        return f"{type(self.exc).__name__}: {self.exc}"[:300] if self.exc else ""


def run_cli(argv: list[str], timeout: float = TIMEOUT) -> Result:
    """tcpsim.cli.main(argv) in-process, with stdout/stderr captured and a watchdog."""
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum, frame):
        raise _Hang()
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    res = Result(None, "", "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            res.rc = cli.main(argv)
    except SystemExit as e:
        res.rc = e.code
    except _Hang:
        res.rc = "hang"
    except BaseException as e:  # noqa: BLE001 - a traceback is what we look for
        res.exc = e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    res.out, res.err = out.getvalue(), err.getvalue()
    return res


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: In a case's names: an error line that names a field ("error: endpoints.client.port: ...") is fine too.
FIELD = "<a field>"
_NAMES_A_FIELD = re.compile(r"^error: [A-Za-z_][\w.\[\]#-]*: ")


def problem(res: Result, names: tuple[str, ...] = ()) -> str | None:
    """What is wrong with a result under the rule, or None."""
    if res.exc is not None:
        return f"traceback: {res.last_traceback_line}"
    if res.rc == "hang":
        return f"still running after {TIMEOUT:g} s"
    if res.rc == 0:
        return None if not res.err else f"exit 0 but stderr {res.err[:200]!r}"
    if res.rc != 2:
        return f"exit status {res.rc!r}, stderr {res.err[:200]!r}"
    lines = _LINE_BREAK.split(res.err[:-1] if res.err.endswith("\n") else res.err)
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {res.err[:300]!r}"
    if not lines[0].startswith("error:"):
        return f"stderr does not start with 'error:': {lines[0][:200]!r}"
    if names and not any(n in lines[0] for n in names if n != FIELD) and not (
            FIELD in names and _NAMES_A_FIELD.match(lines[0])):
        return f"error line names none of {names[:3]!r}: {lines[0][:200]!r}"
    if res.out:
        return f"exit 2 but stdout has {len(res.out)} characters"
    return None


# --------------------------------------------------------------------------------- the cases
@dataclass
class Case:
    id: str
    make: Callable[[Path], list[str]]            # workdir -> argv for cli.main
    names: Callable[[Path], tuple[str, ...]] = lambda d: ()   # one of these must be on the error line
    xfail: str | None = None
    expect_ok: bool = False                      # must succeed (status 0)
    expect_error: bool = False                   # must be refused (status 2, one line)
    timeout: float = TIMEOUT
    group: str = ""                              # cases of one group that pass run as one test


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _leaves(obj, path=()):
    """Every node below the root: (path, value)."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield path + (k,), v
        yield from _leaves(v, path + (k,))


def _objects(obj, path=()):
    if isinstance(obj, dict):
        yield path
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from _objects(v, path + (k,))


def _set(doc, path, value):
    d = doc
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value


def _write(workdir: Path, name: str, doc) -> str:
    p = workdir / name
    p.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
    return str(p)


def _field_names(path: tuple) -> tuple[str, ...]:
    """The mutated field or one of its ancestors (not the root) must be named."""
    return tuple(_dotted(path[:i]) for i in range(len(path), 0, -1))


def field_cases() -> list[Case]:
    cases = []
    for path, _ in _leaves(FULL):
        for label, value in BAD_VALUES:
            def make(workdir, path=path, value=value, label=label):
                doc = copy.deepcopy(FULL)
                _set(doc, path, value)
                return ["run", _write(workdir, f"f-{_dotted(path)}-{label}.json", doc), "--format", "json"]
            cases.append(Case(f"{_dotted(path)}={label}", make, lambda d, path=path: _field_names(path),
                              group=f"field:{_dotted(path)}"))
    for path in _objects(FULL):
        def make(workdir, path=path):
            doc = copy.deepcopy(FULL)
            target = doc
            for p in path:
                target = target[p]
            target["zzz_unknown"] = 1
            return ["run", _write(workdir, f"u-{_dotted(path) or 'root'}.json", doc)]
        # an unknown key under "endpoints" is an endpoint with that name: it must then be an object
        names = (_dotted(path + ("zzz_unknown",)),)
        cases.append(Case(f"unknown-key-in-{_dotted(path) or 'root'}", make, lambda d, n=names: n,
                          group="unknown-keys"))
    return cases


DELETE = object()


def _doc_with(**changes) -> dict:
    """FULL with changes: a__b__0__c=value sets doc["a"]["b"][0]["c"]; DELETE removes the key."""
    doc = copy.deepcopy(FULL)
    for dotted, value in changes.items():
        path = tuple(int(p) if p.isdigit() else p for p in dotted.split("__"))
        if value is DELETE:
            target = doc
            for p in path[:-1]:
                target = target[p]
            del target[path[-1]]
        else:
            _set(doc, path, value)
    return doc


#: (id, changes to FULL, a field the error must name, known failure).  Without "until" nothing cuts a run short.
HUGE_RUNS = [
    ("send-1e12-bytes", {"endpoints__client__calls__1__bytes": 10**12}, "bytes", None),
    ("accept-1e12", {"endpoints__server__calls__1__count": 10**12}, "count", None),
    ("flood-1e12-syns", {"network__flood__count": 10**12, "network__flood__rate": 10**6, "until": DELETE},
     "count", None),
    ("flood-2**64-syns", {"network__flood__count": 2**64, "until": DELETE}, "count", None),
    ("mss-1-with-10MB", {"overrides__mss": 1, "endpoints__client__calls__1__bytes": 10**7}, "bytes", None),
    ("rto-initial-1e-9", {"overrides__rto_initial": 1e-9, "network__drop": [1, 2, 3, 4, 5, 6, 7, 8]}, "rto_initial",
     None),
    ("rto-min-1e-9", {"overrides__rto_min": 1e-9, "overrides__rto_initial": 1e-9, "network__drop": [1, 2, 3]},
     "rto_", None),
    ("syn-retries-1e9", {"overrides__syn_retries": 10**9, "profile": "rfc9293", "until": DELETE,
                         "endpoints__client__calls__2": DELETE,
                         "network__rules": [{"action": "drop", "src": "client", "nth": "all"}]}, "syn_retries", None),
    ("syn-retries-2**64", {"overrides__syn_retries": 2**64, "until": DELETE, "endpoints__client__calls__2": DELETE,
                           "network__rules": [{"action": "drop", "src": "client", "nth": "all"}]}, "syn_retries", None),
    ("delay-1e308", {"delay": 1e308}, "delay", None),
    ("until-1e308", {"until": 1e308}, "until", None),
    ("msl-1e308", {"overrides__msl": 1e308, "whatif": DELETE}, "msl", None),
    ("drop-2**64", {"network__drop": [2**64]}, "drop", None),               # allowed: a position never reached
    ("flood-rate-2**64", {"network__flood__rate": 2**64}, "rate", None),
    ("backlog-2**64", {"endpoints__server__backlog": 2**64}, "backlog", None),
    ("until-2**64", {"until": 2**64}, "until", None),
    ("t-2**64", {"endpoints__server__calls__3__t": 2**64}, "t", None),
]


def huge_cases() -> list[Case]:
    out = []
    for cid, changes, name, known in HUGE_RUNS:
        def make(workdir, cid=cid, changes=changes):
            return ["run", _write(workdir, f"h-{cid}.json", _doc_with(**changes))]
        out.append(Case(f"huge-{cid}", make, lambda d, n=name: (n,), xfail=known))
    return out


def _full_text() -> str:
    return json.dumps(FULL, indent=1)


def _full_yaml() -> str:
    import yaml
    return yaml.safe_dump(FULL, sort_keys=False)




def file_cases() -> list[Case]:
    cases = []

    def add(cid, write: Callable[[Path], Path], xfail=None, expect_ok=False, names=None, expect_error=False,
            timeout=TIMEOUT):
        def make(workdir):
            return ["run", str(write(workdir))]
        cases.append(Case(cid, make, names or (lambda d, cid=cid: (cid, FIELD)), xfail=xfail,
                          expect_ok=expect_ok, expect_error=expect_error, timeout=timeout))

    def file(name, data: bytes | str):
        def write(workdir):
            p = workdir / name
            p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
            return p
        return write

    text = _full_text()
    for k in range(1, 16):                                 # truncated JSON
        cut = len(text) * k // 16
        add(f"trunc{k}.json", file(f"trunc{k}.json", text[:cut]))
    ytext = _full_yaml()
    for k in range(1, 9):                                  # truncated YAML: a prefix may still parse
        cut = len(ytext) * k // 9
        add(f"trunc{k}.yaml", file(f"trunc{k}.yaml", ytext[:cut]))
    add("nested.json", file("nested.json", "[" * 100_000 + "]" * 100_000))
    add("nested-obj.json", file("nested-obj.json", '{"a":' * 100_000 + "1" + "}" * 100_000))
    add("nested-field.json", file("nested-field.json", text.replace('"every field"', "[" * 100_000 + "]" * 100_000)))
    add("nested500.json", file("nested500.json", "[" * 500 + "]" * 500))
    # PyYAML takes its time over deep nesting: bounded, but more than TIMEOUT on a busy machine
    add("nested.yaml", file("nested.yaml", "[" * 2000 + "]" * 2000), timeout=20)
    add("nested-map.yaml", file("nested-map.yaml", "".join(" " * i + "a:\n" for i in range(3000)) + " " * 3000 + "1\n"),
        timeout=20)
    add("latin1.json", file("latin1.json", text.replace("every field", "caf\xe9").encode("latin-1")))
    add("utf16.json", file("utf16.json", text.encode("utf-16")))
    add("utf16-no-bom.json", file("utf16-no-bom.json", text.encode("utf-16-le")))
    add("utf16.yaml", file("utf16.yaml", ytext.encode("utf-16")))
    add("utf8-bom.json", file("utf8-bom.json", b"\xef\xbb\xbf" + text.encode()))
    add("binary.json", file("binary.json", bytes(range(256)) * 16))
    add("binary.yaml", file("binary.yaml", bytes(range(256)) * 16))
    add("random-bytes.json", file("random-bytes.json", bytes((i * 2654435761 >> 7) & 0xFF for i in range(65536))))
    add("nul.json", file("nul.json", b"\0" * 1000))
    add("empty.json", file("empty.json", b""))
    add("empty.yaml", file("empty.yaml", b""))
    add("not-an-object.json", file("not-an-object.json", "[1, 2, 3]"))
    add("string.yaml", file("string.yaml", "just a string\n"))
    add("string.json", file("string.json", '"connect-close"'), expect_error=True)
    def self_reference(workdir):
        p = workdir / "self-reference.json"
        p.write_text(json.dumps(str(p)), encoding="utf-8")
        return p
    add("self-reference.json", self_reference, expect_error=True)
    add("python-tag.yaml", file("python-tag.yaml", "!!python/object/apply:os.system ['true']\n"))
    add("tabs.yaml", file("tabs.yaml", "a:\n\t- b\n"))
    add("aliases.yaml", file("aliases.yaml", "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                                             "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                             "endpoints: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"))
    add("nonstring-key.yaml", file("nonstring-key.yaml", "1: 2\nendpoints: {client: {}}\n"),
        names=lambda d: ("1",))
    add("huge-valid.json", file("huge-valid.json", json.dumps(dict(FULL, description="x" * 30_000_000))))
    add("huge-int-literal.json",
        file("huge-int-literal.json", text.replace('"isn": 100,', '"isn": 1' + "0" * 100_000 + ",", 1)))
    add("huge-garbage.json", file("huge-garbage.json", b"x" * 30_000_000))

    def directory(name):
        def write(workdir):
            p = workdir / name
            p.mkdir(exist_ok=True)
            return p
        return write
    def fifo(name):
        def write(workdir):
            p = workdir / name
            if not p.exists():
                os.mkfifo(p)
            return p
        return write
    add("dir.json", directory("dir.json"))
    if hasattr(os, "mkfifo"):
        add("fifo.json", fifo("fifo.json"))              # reading it would block for ever
    add("dir.yaml", directory("dir.yaml"))
    cases.append(Case("dir-with-slash", lambda d: ["run", str(d / "dir.json") + "/"], lambda d: ("dir.json",)))
    return cases





def name_cases() -> list[Case]:
    cases = []

    def add(cid, argv, names, xfail=None, expect_ok=False):
        cases.append(Case(cid, argv, names, xfail=xfail, expect_ok=expect_ok))

    add("long-name", lambda d: ["run", "a" * 300 + ".json"], lambda d: ("aaaa",))
    add("long-name-in-dir", lambda d: ["run", str(d / ("b" * 300 + ".yaml"))], lambda d: ("bbbb",))
    add("long-path", lambda d: ["run", str(d) + "/" + "/".join(["c" * 200] * 30) + ".json"], lambda d: ("cccc",))
    add("long-builtin-name", lambda d: ["run", "x" * 300], lambda d: ("xxxx",))
    add("show-long-builtin-name", lambda d: ["show", "y" * 300], lambda d: ("yyyy",))
    add("missing.json", lambda d: ["run", str(d / "missing.json")], lambda d: ("missing.json",))
    add("missing-dir/x.json", lambda d: ["run", str(d / "nodir" / "x.json")], lambda d: ("x.json",))
    add("newline-name", lambda d: ["run", str(d / "a\nb.json")], lambda d: ("b.json",))
    add("cr-name", lambda d: ["run", str(d / "a\rb.json")], lambda d: ("b.json",))
    add("show-newline-name", lambda d: ["show", str(d / "a\nb.json")], lambda d: ("b.json",))
    add("nul-name", lambda d: ["run", "a\0b.json"], lambda d: ("b.json",))
    add("escape-name", lambda d: ["run", str(d / "\x1b[31mred.json")], lambda d: ("red.json",))
    add("builtin-newline", lambda d: ["run", "connect\nclose"], lambda d: ("connect",))
    add("builtin-empty", lambda d: ["run", ""], lambda d: ("built-in",))
    add("builtin-unknown", lambda d: ["run", "no-such-scenario"], lambda d: ("no-such-scenario",))
    add("show-unknown", lambda d: ["show", "no-such-scenario"], lambda d: ("no-such-scenario",))
    add("dotdot", lambda d: ["run", "../../../../../../etc/passwd"], lambda d: ("passwd",))
    add("dev-null.json", lambda d: ["run", "/dev/null"], lambda d: ("/dev/null",))
    if os.path.exists("/proc/self/mem"):                  # a regular file that even root cannot read from 0
        add("proc-self-mem", lambda d: ["run", "/proc/self/mem"], lambda d: ("/proc/self/mem",))

    def existing_odd(workdir, name):
        p = workdir / name
        p.write_text(_full_text(), encoding="utf-8")
        return ["run", str(p)]
    add("existing-newline-name", lambda d: existing_odd(d, "ok\nname.json"), lambda d: (), expect_ok=True)
    add("existing-space-name", lambda d: existing_odd(d, "  spaced  name .json"), lambda d: (), expect_ok=True)
    add("existing-unicode-name", lambda d: existing_odd(d, "sc\u00e9nario-\u2603.json"), lambda d: (), expect_ok=True)
    return cases


def option_cases() -> list[Case]:
    cases = []
    for cid, argv, name in [("drop-x", ["--drop", "x"], "x"), ("drop-0", ["--drop", "0"], "0"),
                            ("drop-negative", ["--drop=-1"], "-1"), ("drop-empty", ["--drop", ""], "drop"),
                            ("drop-double-comma", ["--drop", "1,,2"], "drop"), ("drop-float", ["--drop", "1.5"], "1.5"),
                            ("drop-huge", ["--drop", "9" * 40], "drop"), ("format-yaml", ["--format", "yaml"], "yaml"),
                            ("unknown-option", ["--frobnicate"], "frobnicate")]:
        cases.append(Case(f"option-{cid}", lambda d, a=argv: ["run", "connect-close", *a], lambda d, n=name: (n,)))
    cases.append(Case("option-drop-arabic-digit", lambda d: ["run", "connect-close", "--drop", "\u0663"]))
    cases.append(Case("option-no-scenario", lambda d: ["run"], lambda d: ("scenario",)))
    cases.append(Case("option-no-command", lambda d: [], lambda d: ("command",)))
    cases.append(Case("option-unknown-command", lambda d: ["frobnicate"], lambda d: ("frobnicate",)))
    return cases


ALL_CASES = field_cases() + huge_cases() + file_cases() + name_cases() + option_cases()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def _check(case: Case, workdir: Path) -> str | None:
    res = run_cli(case.make(workdir), case.timeout)
    if case.expect_ok:
        if res.exc is None and res.rc == 0 and not res.err:
            return None
        return problem(res) or f"exit {res.rc}: {res.err[:300]!r}"
    pr = problem(res, case.names(workdir))
    if pr is None and case.expect_error and res.rc != 2:
        return f"exit {res.rc}: accepted, but a file that is not a scenario object must be refused"
    return pr


def _params():
    """One test per known failure (xfail, strict); the passing cases of a group share a test."""
    groups: dict[str, list[Case]] = {}
    out = []
    for c in ALL_CASES:
        if c.xfail:
            out.append(pytest.param([c], id=c.id, marks=pytest.mark.xfail(strict=True, reason=c.xfail)))
        else:
            groups.setdefault(c.group or c.id, []).append(c)
    out += [pytest.param(cs, id=key) for key, cs in groups.items()]
    return out


@pytest.mark.parametrize("cases", _params())
def test_hostile_input(cases, workdir):
    problems = [f"{c.id}: {pr}" for c in cases for pr in [_check(c, workdir)] if pr]
    assert not problems, "\n".join(problems)


def test_there_are_a_few_hundred_cases():
    assert len(ALL_CASES) >= 300


# ------------------------------------------------------------------------------ unreadable files
def test_unreadable_file(workdir):
    """chmod 000: root reads it anyway (as the kernel lets it), so the run succeeds; anyone
    else must get the one-line error.  See test_unreadable_file_as_nobody for the latter."""
    p = workdir / "unreadable.json"
    p.write_text(_full_text(), encoding="utf-8")
    p.chmod(0)
    res = run_cli(["run", str(p)])
    if os.access(p, os.R_OK):                    # root (or CAP_DAC_OVERRIDE)
        assert res.rc == 0 and not res.err and res.exc is None, problem(res)
    else:
        assert problem(res, (p.name,)) is None


_SETPRIV = shutil.which("setpriv")
_NO_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


@pytest.mark.skipif(not (_SETPRIV and hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs root and util-linux setpriv to drop the capability that lets root read anything")
def test_unreadable_file_without_root_privilege(workdir):
    """What a non-root user sees: root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, via setpriv."""
    p = workdir / "unreadable-nopriv.json"
    p.write_text(_full_text(), encoding="utf-8")
    p.chmod(0)
    probe = subprocess.run([_SETPRIV, *_NO_DAC, "cat", str(p)], capture_output=True, timeout=30)
    if probe.returncode == 0:
        pytest.skip("setpriv did not take the privilege away here")
    r = subprocess.run([_SETPRIV, *_NO_DAC, sys.executable, "-m", "tcpsim", "run", str(p)], capture_output=True,
                       text=True, timeout=60, env=_env())
    assert problem(Result(r.returncode, r.stdout, r.stderr), (p.name,)) is None


# ------------------------------------------------------------------------- a few real processes
def _env():
    env = dict(os.environ)
    src = str(Path(cli.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _subprocess(args: list, timeout: float = 20) -> Result:
    try:
        r = subprocess.run([sys.executable, "-m", "tcpsim", *args], capture_output=True, timeout=timeout, env=_env())
    except subprocess.TimeoutExpired:
        return Result("hang", "", "")
    return Result(r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


def test_process_good_scenario_file(workdir):
    p = workdir / "good.json"
    p.write_text(_full_text(), encoding="utf-8")
    r = _subprocess(["run", str(p), "--format", "json"])
    assert r.rc == 0 and not r.err and json.loads(r.out)["scenario"] == "full"


def test_process_utf16_file_no_traceback(workdir):
    p = workdir / "p-utf16.json"
    p.write_bytes(_full_text().encode("utf-16"))
    r = _subprocess(["run", str(p)])
    assert "Traceback" not in r.err and problem(r, (p.name,)) is None


def test_process_deeply_nested_json_no_traceback(workdir):
    p = workdir / "p-nested.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    r = _subprocess(["run", str(p)])
    assert "Traceback" not in r.err and problem(r, (p.name,)) is None


def test_process_non_utf8_file_name(workdir):
    name = os.fsencode(str(workdir)) + b"/\xff\xfe.json"       # not UTF-8: argv gets surrogate escapes
    r = _subprocess([name])
    r2 = _subprocess(["run", name])
    assert r.rc == 2 and "Traceback" not in r.err            # no command: argparse, checked elsewhere
    assert problem(r2, (".json",)) is None


def test_process_newline_in_file_name(workdir):
    r = _subprocess(["run", str(workdir / "line1\nline2.json")])
    assert problem(r, ("line2.json",)) is None


def test_process_huge_send_does_not_hang(workdir):
    p = workdir / "p-huge-send.json"
    p.write_text(json.dumps(_doc_with(endpoints__client__calls__1__bytes=10**12)))
    r = _subprocess(["run", str(p)], timeout=20)
    assert problem(r, ("bytes",)) is None


def test_process_broken_pipe():
    """`python -m tcpsim run ... | head -1`: a closed stdout is not an error."""
    p = subprocess.Popen([sys.executable, "-m", "tcpsim", "run", "syn-flood"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env())
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0 and "Traceback" not in err, err[-500:]


# ------------------------------------------------------------------------------ discovery mode
if __name__ == "__main__":                      # python tests/test_hostile_input.py: what breaks the rule now
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        bad = marked_but_pass = 0
        for c in ALL_CASES:
            pr = _check(c, Path(tmp))
            if pr:
                bad += 1
                print(f"{'xfail' if c.xfail else 'FAIL '} {c.id!r}: {pr}")
            elif c.xfail:
                marked_but_pass += 1
                print(f"XPASS {c.id!r}: marked xfail ({c.xfail[:60]}...) but passes")
        print(f"{len(ALL_CASES)} cases, {bad} break the rule, {marked_but_pass} marked xfail but pass")
