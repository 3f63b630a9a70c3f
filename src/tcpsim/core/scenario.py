"""Scenarios as data: who calls what when, over which network.

A scenario is a dict (or a JSON/YAML file) like this::

    {"format": 2,                         # optional; 1 (the default) reads the same
     "name": "connect-close",
     "description": "A client connects, then closes; the server closes at end of data.",
     "profile": "linux",                  # or "rfc9293"
     "overrides": {"msl": 5},             # any profile constant
     "whatif": {"time_wait": 0},          # NOT TCP: two_way_handshake, time_wait;
                                          # RFC 793 as it was: no_rfc5961
     "delay": 0.05,                       # one-way delay, seconds
     "until": null,                       # stop time (default: when nothing is left to do)
     "endpoints": {                       # isn: the first connection's ISN;
       "client": {"port": 40000, "isn": 100,  # later ones add isn_step (64000)
                  "calls": [{"t": 0, "call": "connect", "to": "server"},
                            {"t": 1, "call": "close"}]},
       "server": {"port": 80, "isn": 300, "backlog": 128, "accept": true,
                  "calls": [{"t": 0, "call": "listen"},
                            {"on": "eof", "call": "close"}]}},
     "network": {"drop": [2],                                 # positions in the trace, from 1
                 "rules": [{"action": "drop", "src": "server", "flags": "SA", "nth": 1}],
                 "random": {"seed": 1, "loss": 0.1, "duplicate": 0.0, "jitter": 0.0},
                 "inject": [{"t": 0.5, "src": "client", "sport": 40000, "dst": "server",
                             "dport": 80, "flags": "S", "seq": 7}],
                 "flood": {"t": 0, "count": 1000, "rate": 1000, "dst": "server", "dport": 80}}}

Calls: listen, connect (to, port, sport, isn), send (bytes), close, shutdown,
abort, accept (count).  send, close, shutdown and abort act on the host's
latest connection unless "conn" names one ("client#2"; a host's first
connection has the host's name); close and abort with "target": "listener"
act on the listener (which resets the connections nobody accepted).  A call has either "t" (seconds) or "on" (what the
application reacts to: connected, accepted, eof, data, reset, refused,
timed out) with an optional "after" delay.  Every problem raises
`ScenarioError` naming the field, e.g. ``endpoints.client.calls[1].t``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .profile import Profile, make_profile
from .segment import MOD, canonical_flags
from .units import us

#: Scenario format versions this tcpsim reads.  Version 2 (with the trace's
#: format 2) names a listener "host:port" apart from its children; a version-1
#: scenario (no "format" key) reads the same, since no key changed meaning.
FORMAT = 2
FORMATS = (1, 2)
CALLS = ("listen", "connect", "send", "close", "shutdown", "abort", "accept")
TRIGGERS = ("connected", "accepted", "eof", "data", "reset", "refused", "timed out")
RULE_ACTIONS = ("drop", "delay", "duplicate")


@dataclass(frozen=True)
class Call:
    name: str
    where: str
    t: float | None = None
    on: str | None = None
    after: float = 0.0
    to: str | None = None
    port: int | None = None
    sport: int | None = None
    isn: int | None = None
    bytes: int = 0
    count: int = 1
    target: str | None = None
    conn: str | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    port: int
    isn: int | None
    backlog: int
    accept: bool
    calls: tuple[Call, ...]
    reactions: dict[str, list[Call]]
    isn_step: int = 64000
    #: SO_KEEPALIVE on the application's sockets
    keepalive: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    profile: Profile
    endpoints: dict[str, Endpoint]
    delay: float = 0.05
    until: float | None = None
    drop: frozenset[int] = frozenset()
    rules: tuple[dict[str, Any], ...] = ()
    random: dict[str, Any] | None = None
    inject: tuple[dict[str, Any], ...] = ()
    flood: dict[str, Any] | None = None
    whatif: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# ----------------------------------------------------------------- bounds
# What a scenario may ask for.  Every bound is generous for a lesson (and for
# the benchmarks' 100,000-SYN flood) and keeps any run finite and quick; an
# error names the bound.
MAX_SECONDS = 1_000_000.0       # any time or duration: about 11.5 days of simulated time
MAX_COUNT = 1_000_000           # accept counts, rule counters, drop positions
MAX_FLOOD = 200_000             # spoofed SYNs in one flood
MAX_SEGMENTS = 10_000           # data segments all send() calls of a scenario may need
MAX_ITEMS = 10_000              # endpoints, calls per endpoint, rules, injected segments, drops
MAX_FILE_BYTES = 10_000_000     # a scenario file


def _show(v: Any) -> str:
    """A bad value as an error shows it: its repr, cut short."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------- checkers
def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ScenarioError(where, f"must be an object, got {type(v).__name__}")
    return v


def _keys(d: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    extra = [k for k in d if k not in allowed]
    if extra:
        raise ScenarioError(f"{where}.{extra[0]}" if where else extra[0],
                            f"unknown field; allowed here: {', '.join(allowed)}")


def _num(v: Any, where: str, minimum: float = 0.0, maximum: float = MAX_SECONDS) -> float:
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
            or not minimum <= v <= maximum):
        raise ScenarioError(where, f"must be a number from {minimum:g} to {maximum:g}, got {_show(v)}")
    return float(v)


def _int(v: Any, where: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ScenarioError(where, f"must be an integer from {lo} to {hi}, got {_show(v)}")
    return v


def _str(v: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v:
        raise ScenarioError(where, f"must be a non-empty string, got {_show(v)}")
    if len(v) > 200:
        raise ScenarioError(where, f"at most 200 characters, got {len(v)}")
    if choices is not None and v not in choices:
        raise ScenarioError(where, f"{_show(v)} is not one of {', '.join(choices)}")
    return v


def _list(d: dict[str, Any], key: str, where: str, what: str) -> list[Any]:
    v = d.get(key, [])
    if not isinstance(v, list):
        raise ScenarioError(where, f"must be a list of {what}")
    if len(v) > MAX_ITEMS:
        raise ScenarioError(where, f"at most {MAX_ITEMS} {what}, got {len(v)}")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ScenarioError(where, f"must be true or false, got {_show(v)}")
    return v


def _flags(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ScenarioError(where, f"must be a string of flag letters, got {_show(v)}")
    try:
        return canonical_flags(v)
    except ValueError as e:
        raise ScenarioError(where, str(e)) from None


PORT = (1, 65535)


def _call(c: Any, where: str, names: list[str]) -> Call:
    c = _obj(c, where)
    _keys(c, ("t", "on", "after", "call", "to", "port", "sport", "isn", "bytes", "count", "target", "conn"), where)
    if "call" not in c:
        raise ScenarioError(f"{where}.call", f"missing; one of {', '.join(CALLS)}")
    name = _str(c["call"], f"{where}.call", CALLS)
    if ("t" in c) == ("on" in c):
        raise ScenarioError(where, 'give exactly one of "t" (a time) or "on" (an event to react to)')
    kw: dict[str, Any] = {"name": name, "where": where}
    if "t" in c:
        kw["t"] = _num(c["t"], f"{where}.t")
    else:
        kw["on"] = _str(c["on"], f"{where}.on", TRIGGERS)
    if "after" in c:
        kw["after"] = _num(c["after"], f"{where}.after")
    if name == "connect":
        if "to" not in c:
            raise ScenarioError(f"{where}.to", "missing: which endpoint to connect to")
        kw["to"] = _str(c["to"], f"{where}.to")
        if kw["to"] not in names:
            raise ScenarioError(f"{where}.to", f"no endpoint named {kw['to']!r}; endpoints: {', '.join(names)}")
    elif "to" in c:
        raise ScenarioError(f"{where}.to", f"only connect takes 'to', not {name}")
    for k in ("port", "sport"):
        if k in c:
            kw[k] = _int(c[k], f"{where}.{k}", *PORT)
    if "isn" in c:
        kw["isn"] = _int(c["isn"], f"{where}.isn", 0, MOD - 1)
    if name == "send":
        if "bytes" not in c:
            raise ScenarioError(f"{where}.bytes", "missing: how many bytes to send")
        kw["bytes"] = _int(c["bytes"], f"{where}.bytes", 1)
    elif "bytes" in c:
        raise ScenarioError(f"{where}.bytes", f"only send takes 'bytes', not {name}")
    if "count" in c:
        kw["count"] = _int(c["count"], f"{where}.count", 1)
    if "target" in c:
        if name not in ("close", "abort"):
            raise ScenarioError(f"{where}.target", f"only close and abort can target the listener, not {name}")
        kw["target"] = _str(c["target"], f"{where}.target", ("listener",))
    if "conn" in c:
        if name in ("listen", "connect", "accept"):
            raise ScenarioError(f"{where}.conn", f"{name} does not act on an existing connection")
        kw["conn"] = _str(c["conn"], f"{where}.conn")
    return Call(**kw)


def _endpoint(name: str, e: Any, where: str, names: list[str]) -> Endpoint:
    e = _obj(e, where)
    _keys(e, ("port", "isn", "isn_step", "backlog", "accept", "keepalive", "calls"), where)
    port = _int(e.get("port", 80), f"{where}.port", *PORT)
    isn = _int(e["isn"], f"{where}.isn", 0, MOD - 1) if "isn" in e else None
    backlog = _int(e.get("backlog", 128), f"{where}.backlog", 0)
    accept = _bool(e.get("accept", True), f"{where}.accept")
    keepalive = _bool(e.get("keepalive", False), f"{where}.keepalive")
    calls_raw = _list(e, "calls", f"{where}.calls", "calls")
    calls: list[Call] = []
    reactions: dict[str, list[Call]] = {}
    for i, c in enumerate(calls_raw):
        call = _call(c, f"{where}.calls[{i}]", names)
        if call.on is None:
            calls.append(call)
        else:
            reactions.setdefault(call.on, []).append(call)
    step = _int(e.get("isn_step", 64000), f"{where}.isn_step", 0, MOD - 1)
    return Endpoint(name, port, isn, backlog, accept, tuple(calls), reactions, step, keepalive)


def _rule(r: Any, where: str, names: list[str]) -> dict[str, Any]:
    r = _obj(r, where)
    _keys(r, ("action", "src", "dst", "flags", "has", "data", "seq", "ack", "nth", "extra"), where)
    out: dict[str, Any] = {"action": _str(r.get("action", "drop"), f"{where}.action", RULE_ACTIONS)}
    for k in ("src", "dst"):
        if k in r:
            out[k] = _str(r[k], f"{where}.{k}")
            if out[k] not in names:
                raise ScenarioError(f"{where}.{k}", f"no endpoint named {out[k]!r}")
    for k in ("flags", "has"):
        if k in r:
            out[k] = _flags(r[k], f"{where}.{k}")
    if "data" in r:
        out["data"] = _bool(r["data"], f"{where}.data")
    for k in ("seq", "ack"):
        if k in r:
            out[k] = _int(r[k], f"{where}.{k}", 0, MOD - 1)
    nth = r.get("nth", 1)
    if nth == "all":
        out["nth"] = None
    else:
        out["nth"] = _int(nth, f"{where}.nth", 1)
    if out["action"] != "drop":
        if "extra" not in r:
            raise ScenarioError(f"{where}.extra", f"missing: how many seconds later to {out['action']}")
        out["extra"] = us(_num(r["extra"], f"{where}.extra"))
    elif "extra" in r:
        raise ScenarioError(f"{where}.extra", "a drop takes no 'extra'")
    return out


def _inject(x: Any, where: str, names: list[str]) -> dict[str, Any]:
    x = _obj(x, where)
    _keys(x, ("t", "src", "sport", "dst", "dport", "flags", "seq", "ack", "len", "note"), where)
    for k in ("t", "src", "dst", "flags", "seq"):
        if k not in x:
            raise ScenarioError(f"{where}.{k}", "missing")
    out: dict[str, Any] = {"t": _num(x["t"], f"{where}.t"), "src": _str(x["src"], f"{where}.src"),
           "dst": _str(x["dst"], f"{where}.dst"), "flags": _flags(x["flags"], f"{where}.flags"),
           "seq": _int(x["seq"], f"{where}.seq", 0, MOD - 1), "len": _int(x.get("len", 0), f"{where}.len")}
    if out["dst"] not in names:
        raise ScenarioError(f"{where}.dst", f"no endpoint named {out['dst']!r}")
    out["sport"] = _int(x.get("sport", 40000), f"{where}.sport", *PORT)
    out["dport"] = _int(x.get("dport", 80), f"{where}.dport", *PORT)
    if "A" in out["flags"]:
        if "ack" not in x:
            raise ScenarioError(f"{where}.ack", "missing: flags include A, so give an ack number")
        out["ack"] = _int(x["ack"], f"{where}.ack", 0, MOD - 1)
    elif x.get("ack") is not None:
        raise ScenarioError(f"{where}.ack", "an ack number needs the A flag")
    if "note" in x:
        out["note"] = _str(x["note"], f"{where}.note")
    return out


def load(source: Scenario | dict[str, Any] | str | Path) -> Scenario:
    """Build a Scenario from a dict, a built-in's name, or a JSON/YAML file path."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, (str, Path)):
        data = read_source(source)
        if not isinstance(data, dict):       # e.g. a file holding a string: never a name to follow
            raise ScenarioError(str(source), f"must hold a scenario (an object), got {type(data).__name__}")
        source = data
    d = _obj(source, "scenario")
    _keys(d, ("format", "name", "description", "profile", "overrides", "whatif", "delay", "until",
              "endpoints", "network"), "")
    name = _str(d.get("name", "scenario"), "name")
    description = d.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("description", "must be a string")
    fmt = d.get("format", FORMAT)
    if isinstance(fmt, bool) or fmt not in FORMATS:
        raise ScenarioError("format", f"must be one of {', '.join(map(str, FORMATS))} (this tcpsim reads scenario "
                                      f"formats 1 and 2), got {d.get('format')!r}")
    whatif = dict(_obj(d.get("whatif", {}), "whatif"))
    profile = _profile(d, whatif)
    eps = _obj(d.get("endpoints"), "endpoints") if "endpoints" in d else None
    if not eps:
        raise ScenarioError("endpoints", "missing or empty: name at least one endpoint")
    names = list(eps)
    for n in names:
        if not isinstance(n, str) or not n or "#" in n or ":" in n:
            raise ScenarioError("endpoints", f"bad endpoint name {n!r} (a non-empty string without '#' or ':')")
    if len(names) > MAX_ITEMS:
        raise ScenarioError("endpoints", f"at most {MAX_ITEMS} endpoints, got {len(names)}")
    endpoints = {n: _endpoint(n, e, f"endpoints.{n}", names) for n, e in eps.items()}
    _check_work(endpoints, profile)
    net = _obj(d.get("network", {}), "network")
    _keys(net, ("drop", "rules", "random", "inject", "flood"), "network")
    drop = _list(net, "drop", "network.drop", "positions (1 = the first segment sent)")
    rules_raw = _list(net, "rules", "network.rules", "rules")
    inj_raw = _list(net, "inject", "network.inject", "segments")
    until = d.get("until")
    return Scenario(
        name=name, description=description, profile=profile, endpoints=endpoints,
        delay=_num(d.get("delay", 0.05), "delay"), until=None if until is None else _num(until, "until"),
        drop=frozenset(_int(p, f"network.drop[{i}]", 1) for i, p in enumerate(drop)),
        rules=tuple(_rule(r, f"network.rules[{i}]", names) for i, r in enumerate(rules_raw)),
        random=_random(net["random"]) if "random" in net else None,
        inject=tuple(_inject(x, f"network.inject[{i}]", names) for i, x in enumerate(inj_raw)),
        flood=_flood(net["flood"], names) if "flood" in net else None,
        whatif=whatif, source=d)


def _check_work(endpoints: dict[str, Endpoint], profile: Profile) -> None:
    """The data all send() calls ask for must fit in MAX_SEGMENTS segments
    (a reaction's send counts once here; the run's event budget bounds the rest)."""
    total = 0
    for ep in endpoints.values():
        calls = list(ep.calls) + [c for cs in ep.reactions.values() for c in cs]
        for c in calls:
            total += -(-c.bytes // profile.mss)
            if total > MAX_SEGMENTS:
                raise ScenarioError(f"{c.where}.bytes", f"the scenario's send() calls need more than {MAX_SEGMENTS} "
                                                        f"segments of {profile.mss} bytes (the MSS); send less")


def _profile(d: dict[str, Any], whatif: dict[str, Any]) -> Profile:
    """The scenario's profile, its overrides, and the what-ifs that change a constant."""
    overrides = _obj(d.get("overrides", {}), "overrides")
    _keys(whatif, ("two_way_handshake", "time_wait", "no_rfc5961"), "whatif")
    profile_name = d.get("profile", "linux")
    if not isinstance(profile_name, str):
        raise ScenarioError("profile", f"must be a profile name, got {profile_name!r}")
    profile = make_profile(profile_name, overrides)
    if "two_way_handshake" in whatif:
        _bool(whatif["two_way_handshake"], "whatif.two_way_handshake")
    if "time_wait" in whatif:
        profile = replace(profile, time_wait=_num(whatif["time_wait"], "whatif.time_wait"))
    if "no_rfc5961" in whatif:
        _bool(whatif["no_rfc5961"], "whatif.no_rfc5961")
        profile = replace(profile, rfc5961=not whatif["no_rfc5961"])
    return profile


def _random(raw: Any) -> dict[str, Any]:
    r = _obj(raw, "network.random")
    _keys(r, ("seed", "loss", "duplicate", "jitter"), "network.random")
    if "seed" not in r:
        raise ScenarioError("network.random.seed", "missing: random loss needs a seed, so runs repeat")
    rnd: dict[str, Any] = {"seed": _int(r["seed"], "network.random.seed", 0, 2**64 - 1)}
    for k in ("loss", "duplicate"):
        if k in r:
            v = _num(r[k], f"network.random.{k}")
            if v > 1:
                raise ScenarioError(f"network.random.{k}", f"a probability from 0 to 1, got {v!r}")
            rnd[k] = v
    if "jitter" in r:
        rnd["jitter"] = _num(r["jitter"], "network.random.jitter")
    return rnd


def _flood(raw: Any, names: list[str]) -> dict[str, Any]:
    f = _obj(raw, "network.flood")
    _keys(f, ("t", "count", "rate", "dst", "dport", "src"), "network.flood")
    flood = {"t": _num(f.get("t", 0), "network.flood.t"),
             "count": _int(f.get("count", 1000), "network.flood.count", 1, MAX_FLOOD),
             "rate": _int(f.get("rate", 1000), "network.flood.rate", 1, 10**9),
             "dst": _str(f.get("dst", names[-1]), "network.flood.dst"),
             "dport": _int(f.get("dport", 80), "network.flood.dport", *PORT),
             "src": _str(f.get("src", "spoofed"), "network.flood.src")}
    if flood["dst"] not in names:
        raise ScenarioError("network.flood.dst", f"no endpoint named {flood['dst']!r}")
    return flood


# ---------------------------------------------------------------- built-ins
def builtin_names() -> list[str]:
    folder = resources.files("tcpsim.core") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def builtin(name: str) -> dict[str, Any]:
    """The dict of a built-in scenario (a fresh copy each time)."""
    if not (0 < len(name) <= 64 and all(c.isalnum() or c in "-_" for c in name)):
        raise ScenarioError("", f"no built-in scenario named {_show(name)}; `python -m tcpsim list` shows them")
    folder = resources.files("tcpsim.core") / "scenarios"
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ScenarioError("", f"no built-in scenario named {name!r}; "
                                f"`python -m tcpsim list` shows them")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


#: Readers of scenario files other than JSON, by file suffix: a function
#: (text, file name) -> the parsed object.  The core reads JSON only; the
#: package registers its optional YAML reader here (tcpsim.yaml_source), so
#: the core itself needs nothing outside the standard library.
READERS: dict[str, Callable[[str, str], Any]] = {}


def register_reader(suffixes: tuple[str, ...], reader: Callable[[str, str], Any]) -> None:
    for suffix in suffixes:
        READERS[suffix] = reader


def read_source(source: str | Path) -> Any:
    """A built-in's name, or a .json file (or a file of a registered suffix, such as .yaml)."""
    text = str(source)
    suffix = Path(text).suffix
    if not (suffix == ".json" or suffix in READERS or "/" in text or "\\" in text):
        return builtin(text)
    raw = _read_text(Path(source))
    reader = READERS.get(suffix)
    try:
        if reader is not None:
            return reader(raw, text)
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ScenarioError(text, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except ValueError as e:          # e.g. an integer literal of thousands of digits
        raise ScenarioError(text, f"not valid JSON: {str(e).splitlines()[0][:100]}") from None
    except RecursionError:
        raise ScenarioError(text, "nested too deeply to be a scenario") from None


def _read_text(path: Path) -> str:
    """A scenario file's text: UTF-8 (a byte-order mark allowed), or UTF-16 with its mark."""
    where = str(path)
    try:
        if not path.exists():
            raise ScenarioError(where, "no such file")
        if path.is_dir():
            raise ScenarioError(where, "is a directory, not a scenario file")
        if not path.is_file():
            raise ScenarioError(where, "not a regular file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(where, f"too large for a scenario ({size} bytes; at most {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except OSError as e:
        raise ScenarioError(where, f"cannot read it: {e.strerror or e}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ScenarioError(where, f"not {encoding.upper().replace('-SIG', '')} text (byte {e.start}); "
                                   "save the file as UTF-8") from None
