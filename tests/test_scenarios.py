"""Built-in scenarios against their golden traces, the scenario format, and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tcpsim.core.units import secs, us
from tcpsim.errors import ScenarioError
from tcpsim.network import run
from tcpsim.scenario import builtin, builtin_names, load
from tcpsim.states import State
from tcpsim.trace import Trace

GOLDEN = Path(__file__).parent / "golden"


def test_there_are_builtins_and_goldens_for_each():
    names = builtin_names()
    assert len(names) >= 15
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == names


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_matches_golden(name):
    got = json.loads(run(name).to_json())
    want = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert got == want, f"trace of {name} changed; if on purpose, run tools/update_golden.py and say why"


def test_json_trace_has_the_documented_fields():
    d = json.loads(run("lost-synack").to_json())
    seg = d["segments"][1]
    assert {"t", "src", "dst", "flags", "seq", "ack", "len", "dropped"} <= set(seg)
    assert (seg["src"], seg["flags"], seg["seq"], seg["ack"], seg["dropped"]) == ("server", "SA", 300, 101, True)
    assert d["segments"][0]["ack"] is None
    assert d["states"]["client"][0] == {"t": 0.0, "from": "CLOSED", "to": "SYN_SENT", "cause": "connect",
                                        "rule": "RFC 9293 §3.10.1"}


def test_same_scenario_same_bytes():
    assert run("half-close").to_json() == run("half-close").to_json()


@pytest.mark.parametrize("patch, where", [
    ({"profile": "bsd"}, "profile"),
    ({"overrides": {"msl": -1}}, "overrides.msl"),
    ({"overrides": {"nonsense": 1}}, "overrides.nonsense"),
    ({"delay": "fast"}, "delay"),
    ({"endpoints": {}}, "endpoints"),
    ({"network": {"drop": [0]}}, "network.drop[0]"),
    ({"network": {"rules": [{"action": "drop", "flags": "SYN"}]}}, "network.rules[0].flags"),
    ({"network": {"rules": [{"action": "explode"}]}}, "network.rules[0].action"),
    ({"network": {"random": {"loss": 0.1}}}, "network.random.seed"),
    ({"network": {"inject": [{"t": 1, "src": "x", "dst": "server", "flags": "A", "seq": 1}]}}, "network.inject[0].ack"),
    ({"whatif": {"three_way": False}}, "whatif.three_way"),
    ({"colour": "red"}, "colour"),
])
def test_bad_scenario_names_the_field(patch, where):
    d = builtin("connect-close")
    d.update(patch)
    with pytest.raises(ScenarioError) as err:
        load(d)
    assert err.value.where == where
    assert str(err.value).startswith(where + ":")


def test_bad_call_names_the_call():
    d = builtin("connect-close")
    d["endpoints"]["client"]["calls"][1] = {"t": 2, "call": "send"}
    with pytest.raises(ScenarioError, match=r"^endpoints\.client\.calls\[1\]\.bytes: missing"):
        load(d)
    d["endpoints"]["client"]["calls"][1] = {"t": 2, "on": "eof", "call": "close"}
    with pytest.raises(ScenarioError, match=r'exactly one of "t"'):
        load(d)
    d["endpoints"]["client"]["calls"][0]["to"] = "nobody"
    with pytest.raises(ScenarioError, match=r"calls\[0\]\.to: no endpoint named 'nobody'"):
        load(d)


def test_a_failing_user_call_is_recorded_not_raised():
    d = builtin("refused")
    d["endpoints"]["client"]["calls"].append({"t": 1, "call": "send", "bytes": 5})
    tr = run(d)
    assert ("client", "error") in [(n, w) for (_, n, w, _) in tr.notices]
    assert "can't send() in state CLOSED" in tr.table()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tcpsim", *args], capture_output=True, text=True)


def test_cli_run_table_and_json():
    r = cli("run", "connect-close", "--relative")
    assert r.returncode == 0 and "client > server" in r.stdout and "TIME_WAIT" in r.stdout
    r = cli("run", "connect-close", "--format", "json", "--drop", "2")
    d = json.loads(r.stdout)
    assert d["segments"][1]["dropped"] is True and d["segments"][2]["rtx"] is True


def test_cli_lists_builtins():
    r = cli("list")
    assert r.returncode == 0
    assert [line.split()[0] for line in r.stdout.splitlines()] == builtin_names()


@pytest.mark.parametrize("args, text", [
    (("run", "no-such-scenario"), "no built-in scenario named 'no-such-scenario'"),
    (("run", "missing.json"), "missing.json: no such file"),
    (("run", "connect-close", "--drop", "x"), "--drop wants positions"),
])
def test_cli_errors_are_one_line_exit_2(args, text):
    r = cli(*args)
    assert r.returncode == 2
    assert text in r.stderr and "Traceback" not in r.stderr


def test_cli_bad_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"endpoints": {"a": {"port": 99999}}}')
    r = cli("run", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip() == "error: endpoints.a.port: must be an integer from 1 to 65535, got 99999"
    bad.write_text("{not json")
    r = cli("run", str(bad))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr


def test_a_call_can_name_its_connection():
    """Two connections from one host; closing the first by name leaves the second open."""
    d = {"endpoints": {
        "client": {"port": 40000, "isn": 100, "calls": [
            {"t": 0, "call": "connect", "to": "server"},
            {"t": 0.5, "call": "connect", "to": "server", "sport": 40001},
            {"t": 1, "call": "close", "conn": "client"}]},
        "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"}, {"on": "eof", "call": "close"}]}},
        "until": 5}
    tr = run(d)
    assert tr.final["client"].value == "TIME_WAIT" and tr.final["client#2"].value == "ESTABLISHED"
    d["endpoints"]["client"]["calls"][2]["conn"] = "client#7"
    tr = run(d)        # a name that does not exist (yet) is an error of that call, recorded; the run goes on
    assert [(n.endpoint, n.detail) for n in tr.notices if n.what == "error"] == [
        ("client", "client: close() failed: client has no connection named 'client#7' at t=1 s")]
    assert tr.final["client"].value == "ESTABLISHED"


def test_closing_a_listener_resets_the_connections_nobody_accepted():
    d = builtin("connect-close")
    d["endpoints"]["server"]["accept"] = False
    d["endpoints"]["server"]["calls"] = [{"t": 0, "call": "listen"},
                                         {"t": 0.06, "call": "close", "target": "listener"}]
    tr = run(d)
    rst = [r.seg for r in tr.segments if r.seg.src == "server" and "R" in r.seg.flags]
    assert rst and tr.final["client"].value == "CLOSED"          # no crash; the client is reset
    assert "reset" in tr.notices_of("client")


def test_a_call_that_needs_a_connection_on_a_bare_listener_is_a_clear_error():
    d = builtin("connect-close")
    d["endpoints"]["server"]["calls"].append({"t": 0, "call": "send", "bytes": 5})
    tr = run(d)        # the README: a call that fails at run time is recorded, and the run goes on
    assert "server: send() failed: server has only a listener, no connection, at t=0 s" in tr.table()
    assert tr.final == run("connect-close").final
    d["endpoints"]["server"]["calls"][-1] = {"t": 1, "call": "send", "bytes": 5, "target": "listener"}
    with pytest.raises(ScenarioError, match=r"only close and abort can target the listener"):
        load(d)


def test_a_failed_close_does_not_orphan_a_half_closed_connection():
    """shutdown() then close() in FIN_WAIT_2: the close fails and the socket keeps receiving."""
    d = builtin("half-close")
    d["endpoints"]["client"]["calls"].append({"t": 0.62, "call": "close"})
    tr = run(d)
    assert "error" in tr.notices_of("client")
    assert "R" not in "".join(r.seg.flags for r in tr.segments)   # the server's data is still taken


def test_positions_and_rules_both_count_every_segment():
    """Dropping #2 by position still counts as the first SYN-ACK for a rule."""
    tr = run("lost-synack", drop=[2])
    assert [r.i for r in tr.segments if r.dropped] == [2]


def _received(tr, endpoint):
    """Bytes the application `endpoint` was told it received, and whether end-of-data came after them."""
    got, eof_after = 0, None
    for n in tr.notices:
        if n.endpoint == endpoint and n.what == "data":
            got += int(n.detail)
        elif n.endpoint == endpoint and n.what == "eof":
            eof_after = got
    return got, eof_after


def test_close_in_syn_received_waits_for_the_queued_data():
    """RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there
    is no pending data to send, then form a FIN segment and send it, and enter
    FIN-WAIT-1 state; otherwise, queue for processing after entering ESTABLISHED
    state."  (Simultaneous open: at 0.07 s the client is in SYN_RECEIVED.)"""
    d = builtin("simultaneous-open")
    d["endpoints"]["client"]["calls"][1:] = [{"t": 0.07, "call": "send", "bytes": 100},
                                            {"t": 0.08, "call": "close"}]
    tr = run(d)
    assert tr.states("client")[:3] == [State.CLOSED, State.SYN_SENT, State.SYN_RECEIVED]
    assert State.FIN_WAIT_1 in tr.states("client")
    # the FIN leaves only after the data, and only once the connection is established
    client = [r.seg for r in tr.segments if r.seg.src == "client"]
    data = [s for s in client if s.len]
    fin = [s for s in client if s.fin]
    assert [s.len for s in data] == [100] and fin and fin[0].seq == data[0].seq + 100
    fw1 = next(c for c in tr.changes if c.endpoint == "client" and c.new is State.FIN_WAIT_1)
    est = next(c for c in tr.changes if c.endpoint == "client" and c.new is State.ESTABLISHED)
    assert est.t <= fw1.t
    assert _received(tr, "server") == (100, 100)      # every byte, then the end of data
    assert "error" not in tr.notices_of("client")


def test_close_in_syn_sent_tells_the_application_its_queued_data_is_lost():
    """RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB and return 'error: closing'
    responses to any queued SENDs" -- send() had reported success, so the
    application must be told that the bytes never went out."""
    d = builtin("lost-syn")
    d["endpoints"]["client"]["calls"][1:] = [{"t": 0.2, "call": "send", "bytes": 100},
                                            {"t": 0.3, "call": "close"}]
    tr = run(d)
    errors = [n.detail for n in tr.notices if n.endpoint == "client" and n.what == "error"]
    assert errors == ["client: closing: 100 bytes queued by send() were never sent (RFC 9293 §3.10.4)"]
    assert tr.final["client"] is State.CLOSED
    assert not [r for r in tr.segments if r.seg.len]


def test_cli_rules_as_json_is_the_table():
    from tcpsim.core.table import RULES
    r = subprocess.run([sys.executable, "-m", "tcpsim", "rules", "--format", "json"], capture_output=True, text=True)
    rows = json.loads(r.stdout)
    assert r.returncode == 0 and len(rows) == len(RULES)
    fin = [x for x in rows if (x["state"], x["event"]) == ("ESTABLISHED", "rcv FIN")]
    assert [(x["send"], x["profiles"]) for x in fin] == [("DELAYED_ACK", ["linux"]), ("ACK", ["rfc9293"])]


def _cookie_run(drop, extra_calls=(), overrides=None):
    d = {"name": "cookie", "overrides": {"syncookies": 2, **(overrides or {})}, "until": 400,
         "endpoints": {
             "client": {"port": 40000, "isn": 100, "calls": [
                 {"t": 0, "call": "connect", "to": "server"}, *extra_calls]},
             "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"},
                                                           {"on": "eof", "call": "close"}]}},
         "network": {"drop": list(drop)}}
    return run(d)


def test_a_syn_cookie_is_checked_against_the_client_isn():
    """Linux cookie_v4_check: the client's ISN is recovered as SEG.SEQ - 1 and must be the
    one the cookie was made for (recorded on 6.18, src/tcpsim/data/linux/syncookie.json: an ACK
    at ISN+1+1460 with a valid cookie gets an RST).  Here the handshake's ACK (#3) and the
    first data segment (#4) are lost; the second data segment (#5) must not complete the
    handshake: the listener answers it with an RST, the client's application is told, and
    the server never acknowledges bytes it did not receive (it used to ack 2920 and deliver 1460)."""
    tr = _cookie_run([3, 4], [{"t": 1, "call": "send", "bytes": 2920}, {"t": 3, "call": "close"}])
    server_acks = {r.seg.ack for r in tr.segments if r.seg.src == "server" and r.seg.ack is not None}
    assert server_acks == {101}
    assert not [n for n in tr.notices if n.endpoint.startswith("server") and n.what == "data"]
    fifth = next(r for r in tr.segments if r.i == 5)
    assert (fifth.seg.src, fifth.seg.seq, fifth.seg.len) == ("client", 101 + 1460, 1460)
    reply = next(r for r in tr.segments if r.t >= fifth.arrive and r.seg.src == "server")
    assert reply.seg.flags == "R"
    assert "reset" in tr.notices_of("client")


def _late_ack(late: float, refresh: bool) -> Trace:
    """A cookie handshake whose final ACK is held back `late` seconds; with `refresh`,
    another SYN reaches the listener a second before, so its last overflow is recent."""
    d = {"overrides": {"syncookies": 2}, "until": 300,
         "endpoints": {"client": {"port": 40000, "isn": 100, "calls": [{"t": 0, "call": "connect", "to": "server"}]},
                       "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"}]}},
         "network": {"rules": [{"action": "delay", "src": "client", "flags": "A", "nth": 1, "extra": late}]}}
    if refresh:
        d["network"]["inject"] = [{"t": late - 1, "src": "client", "sport": 41000, "dst": "server", "dport": 80,
                                   "flags": "S", "seq": 5000}]
    return run(d)


def _accepted(tr: Trace) -> bool:
    return any(c.endpoint.startswith("server") and c.new is State.ESTABLISHED for c in tr.changes)


def test_a_syn_cookie_expires():
    """TCP_SYNCOOKIE_PERIOD is 60 s and a cookie is valid for MAX_SYNCOOKIE_AGE (2) of
    those counts: on 6.18 an ACK 30 or 100 s after the SYN was accepted, one 130 s after
    was answered with an RST (src/tcpsim/data/linux/syncookie.json)."""
    assert _accepted(_late_ack(30, refresh=True))
    assert _accepted(_late_ack(100, refresh=True))
    late = _late_ack(130, refresh=True)
    assert not _accepted(late)
    to_client = [r.seg.flags for r in late.segments if r.seg.src == "server" and r.seg.dport == 40000]
    assert to_client[-1:] == ["R"] and late.segments[-1].t >= us(130)


def test_a_syn_cookie_needs_a_recent_overflow():
    """Linux tcp_synq_no_recent_overflow: a cookie is taken only within TCP_SYNCOOKIE_VALID
    (2 x 60 s) of the listener's last overflow -- with syncookies=2, of the last cookie it
    sent (6.18: a valid cookie at a listener that had sent none drew an RST).  Here the
    only cookie was sent at 0 s; at 125 s it is still in its two-count lifetime only if the
    counts are aligned, so the test uses 121 s after a refresh at 0 and none later: the
    overflow is 121 s old."""
    tr = _late_ack(121, refresh=False)
    assert not _accepted(tr)


TW_SYN = {"name": "tw-syn", "delay": 0.05, "until": 10, "endpoints": {
    "client": {"port": 40000, "isn": 100, "calls": [{"t": 0, "call": "connect", "to": "server"},
                                                   {"on": "eof", "call": "close"},
                                                   {"t": 5, "call": "connect", "to": "server", "isn": 100000}]},
    "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"},
                                                {"on": "accepted", "after": 1, "call": "close"}]}}}


def test_a_new_syn_reopens_the_servers_time_wait_in_linux():
    """Linux tcp_timewait_state_process -> TCP_TW_SYN (recorded on 6.18, src/tcpsim/data/linux/
    tw-syn.json): a SYN whose sequence number is above RCV.NXT, or whose timestamp is newer,
    ends TIME_WAIT and goes to the listener, which answers at once with a SYN-ACK whose ISN
    is the old connection's SND.NXT + 65537."""
    tr = run({**TW_SYN, "profile": "linux"})
    old = next(c for c in tr.changes if c.new is State.TIME_WAIT)
    assert old.endpoint.startswith("server")
    syn = next(r for r in tr.segments if r.seg.flags == "S" and r.seg.seq == 100000)
    answer = next(r for r in tr.segments if r.t >= syn.arrive and r.seg.src == "server")
    old_snd_nxt = max(r.seg.seq + r.seg.seg_len for r in tr.segments if r.seg.src == "server" and r.t < syn.t)
    assert answer.t == syn.arrive and answer.seg.flags == "SA"
    assert answer.seg.seq == (old_snd_nxt + 65537) % (1 << 32) and answer.seg.ack == 100001
    ended = next(c for c in tr.changes if c.endpoint == old.endpoint and c.old is State.TIME_WAIT)
    assert ended.t == syn.arrive and ended.new is State.CLOSED
    assert State.ESTABLISHED in tr.states("client#2")


def test_a_new_syn_in_time_wait_draws_a_challenge_ack_in_rfc9293():
    """RFC 9293 §3.10.7.4, fourth check: "For the TIME-WAIT state, new connections can be
    accepted if the Timestamp Option is used and meets expectations (per [40])" -- the
    rfc9293 profile uses no timestamps -- "RFC 5961 recommends that in these synchronized
    states, if the SYN bit is set, irrespective of the sequence number, TCP endpoints MUST
    send a 'challenge ACK' to the remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"."""
    tr = run({**TW_SYN, "profile": "rfc9293"})
    syn = next(r for r in tr.segments if r.seg.flags == "S" and r.seg.seq == 100000)
    answer = next(r for r in tr.segments if r.t >= syn.arrive and r.seg.src == "server")
    assert answer.seg.flags == "A"
    assert not [c for c in tr.changes if c.old is State.TIME_WAIT and c.t == syn.arrive]


def test_a_reset_in_last_ack_tells_nobody():
    """RFC 9293 §3.10.7.4, second check: "CLOSING STATE, LAST-ACK STATE, TIME-WAIT STATE:
    If the RST bit is set, then enter the CLOSED state, delete the TCB, and return" -- the
    application closed already (Linux: the socket is orphaned), so nothing is signalled."""
    tr = run("lost-last-ack-no-time-wait")
    end = next(c for c in tr.changes if c.endpoint == "server" and c.old is State.LAST_ACK)
    assert (end.new, end.cause) == (State.CLOSED, "rcv RST")
    assert "reset" not in tr.notices_of("server")


def test_every_profile_constant_names_its_linux_counterpart():
    """The appendix prints LINUX_NAME beside each constant: none may be missing."""
    from dataclasses import fields

    from tcpsim.core.profile import LINUX_NAME, Profile
    assert set(LINUX_NAME) == {f.name for f in fields(Profile)}
    assert all(LINUX_NAME.values())


def test_a_listener_is_named_apart_from_its_children():
    """Format 2: the listener "server:80" goes CLOSED -> LISTEN and stays; its child
    "server" starts from LISTEN (RFC 9293 §3.10.7.2, a SYN in LISTEN: "The connection state should be
    changed to SYN-RECEIVED"; the listening socket itself keeps listening)."""
    tr = run("connect-close")
    d = tr.to_dict()
    assert d["format"] == 2
    assert [(c["from"], c["to"]) for c in d["states"]["server:80"]] == [("CLOSED", "LISTEN")]
    assert d["states"]["server"][0]["from"] == "LISTEN"
    assert d["listener_of"] == {"server": "server:80"}
    assert d["final"] == {"client": "CLOSED", "server": "CLOSED", "server:80": "LISTEN"}
    assert tr.endpoints() == ["client", "server"] and tr.listeners() == ["server:80"]
    assert [s.value for s in tr.states("server")][:3] == ["CLOSED", "LISTEN", "SYN_RECEIVED"]


def test_a_syn_the_full_queue_dropped_belongs_to_the_tcb_that_was_listening():
    """Two clients, backlog 0, c1's ACK lost: c2's SYN at 0.2 s finds the SYN queue full (Linux
    6.13+: backlog + 1 = 1 half-open entry, c1's) and is dropped; c2 connects after its SYN
    retransmission. RFC 9293 Figure 5 draws one TCB per connection: when the SYN was dropped,
    the TCB that became server#2 was the one in LISTEN, so the loop is server#2's, not server's
    (which had left LISTEN at 0.05 s)."""
    from tcpsim import DropPanel

    two = {"overrides": {"syncookies": 0}, "endpoints": {
        "c1": {"port": 40000, "isn": 1000, "calls": [{"t": 0, "call": "connect", "to": "server"}]},
        "server": {"port": 80, "isn": 300, "backlog": 0, "calls": [{"t": 0, "call": "listen"}]},
        "c2": {"port": 40000, "isn": 2000, "calls": [{"t": 0.2, "call": "connect", "to": "server"}]}},
        "network": {"rules": [{"action": "drop", "src": "c1", "flags": "A", "nth": 1}]}}
    tr = run(two)
    dropped = [x for x in tr.loops if x.endpoint == "server:80"]
    assert [(x.state.value, secs(x.t)) for x in dropped] == [("LISTEN", 0.25)]
    assert tr.loops_of("server#2")[0] is dropped[0]
    assert dropped[0] not in tr.loops_of("server") and dropped[0] not in tr.loops_of("c2")
    svg = DropPanel(two).render()["state"]               # all four sides painted, the loop with them
    assert "rcv SYN, queue full" in svg and "server#2 ×1" in svg and "c2 is here" in svg


def test_two_listeners_of_one_host_are_two_names():
    sc = {"endpoints": {
        "c": {"port": 40000, "calls": [{"t": 0, "call": "connect", "to": "s"},
                                       {"t": 0.5, "call": "connect", "to": "s", "port": 21, "sport": 40001}]},
        "s": {"port": 80, "calls": [{"t": 0, "call": "listen"}, {"t": 0, "call": "listen", "port": 21}]}}}
    tr = run(sc)
    assert tr.listeners() == ["s:80", "s:21"]
    assert tr.listener_of == {"s": "s:80", "s#2": "s:21"}
    assert tr.final["s:80"].value == tr.final["s:21"].value == "LISTEN"


@pytest.mark.parametrize("fmt", [1, 2])
def test_both_scenario_formats_read_the_same(fmt):
    sc = builtin("connect-close")
    sc["format"] = fmt
    assert run(sc).to_json() == run(builtin("connect-close")).to_json()


@pytest.mark.parametrize("bad", [3, 0, "2", True, None])
def test_an_unknown_scenario_format_is_a_clear_error(bad):
    sc = builtin("connect-close")
    sc["format"] = bad
    with pytest.raises(ScenarioError, match=r"^format: must be one of 1, 2"):
        load(sc)


@pytest.mark.parametrize("name", ["a:b", "a#1"])
def test_an_endpoint_name_may_not_look_like_a_tcb_name(name):
    with pytest.raises(ScenarioError, match="bad endpoint name"):
        load({"endpoints": {name: {}}})


def test_the_lts_profile_has_the_older_syn_schedule():
    """linux-6.1 (read from the source, not recorded): tcp_syn_linear_timeouts arrived in 6.5,
    so each SYN timeout doubles the RTO from TCP_TIMEOUT_INIT (1 s): with tcp_syn_retries 6,
    7 SYNs at 0, 1, 3, 7, 15, 31, 63 s, and tcp_model_timeout(6 retries, 1 s) = 127 s to give up."""
    sc = builtin("syn-timeout")
    sc["profile"] = "linux-6.1"
    tr = run(sc)
    assert [r.t for r in tr.segments if r.seg.flags == "S"] == [us(t) for t in (0, 1, 3, 7, 15, 31, 63)]
    end = [c for c in tr.changes if c.endpoint == "client" and c.new is State.CLOSED]
    assert [c.t for c in end] == [us(127)]
