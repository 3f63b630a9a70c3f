"""The kernel facts recorded in src/tcpsim/data/linux/ are self-consistent.

tools/linux_capture.py FACT (tw-syn, delack, tw-reuse, syncookie, rst-close,
keepalive, linger, observe)
recorded what a real Linux kernel did; src/tcpsim/data/linux/README.md states the
measured numbers. These tests parse the stored JSON, recompute those numbers
from the captured segments where they can, and check that they are the ones
the README states. They do not run the simulator (that comparison belongs
elsewhere) and need no root and no network.
"""

import json
import re

import pytest

from tcpsim.data import LINUX

DATA = LINUX
FACTS = ("tw-syn", "delack", "tw-reuse", "syncookie", "rst-close", "keepalive", "linger", "observe")
MOD = 2**32


def load(name):
    return json.loads((DATA / f"{name}.json").read_text())


def sdiff(a, b):
    return (a - b + 2**31) % MOD - 2**31


@pytest.mark.parametrize("name", FACTS)
def test_fact_file_says_how_and_where(name):
    fact = load(name)
    assert fact["fact"] == name
    assert fact["kernel"] and fact["how"] and fact["description"]
    assert fact["tcpdump"]
    stats = fact["tcpdump"] if name == "tw-reuse" else {"lo": fact["tcpdump"]}
    for cap in stats.values():
        assert cap["stats"]["dropped by kernel"] == 0
        assert "--immediate-mode" in cap["command"]
    sysctls = [r["sysctl"] for r in fact["runs"]] if name == "tw-reuse" else \
        [m["sysctl"] for m in fact["modes"]] if name == "tw-syn" else [fact["sysctl"]]
    for s in sysctls:
        assert {"tcp_timestamps", "tcp_tw_reuse", "tcp_syncookies"} <= set(s)
    readme = (DATA / "README.md").read_text()
    assert f"{name}.json" in readme


def test_config_hz_is_250_and_jiffies_agree():
    for name in ("tw-syn", "delack", "syncookie"):
        hz = load(name)["hz"]
        assert hz["config_hz"] == 250
        assert hz["jiffies_per_second_measured"] == pytest.approx(250, abs=5)  # 1 s, under load


# ---- tw-syn ---------------------------------------------------------------------------

def twsyn_variants():
    fact = load("tw-syn")
    return {(m["tcp_timestamps"], v["variant"]): v for m in fact["modes"] for v in m["variants"]}


def test_tw_syn_modes_really_had_timestamps_on_and_off():
    fact = load("tw-syn")
    for mode in fact["modes"]:
        assert mode["sysctl"]["tcp_timestamps"] == mode["tcp_timestamps"]
        for v in mode["variants"]:
            c_syn = next(s for s in v["old_segments"] if s["flags"] == "S")
            assert ("tsval" in c_syn) == bool(mode["tcp_timestamps"])


def test_tw_syn_old_connection_left_the_server_in_time_wait():
    fact = load("tw-syn")
    for mode in fact["modes"]:
        for v in mode["variants"]:
            line = f"127.0.0.1:5000 127.0.0.1:{v['client_port']}"
            assert any(ln.startswith("TIME-WAIT") and line in ln for ln in mode["ss_time_wait_before_probes"])
            # the server sent the first FIN
            fins = [s for s in v["old_segments"] if "F" in s["flags"]]
            assert fins[0]["src"] == "server"


EXPECTED_ANSWER = {
    (1, "reconnect"): "SYN-ACK",
    (1, "below-ts-newer"): "SYN-ACK",
    (1, "below-no-ts"): "ACK",
    (1, "below-ts-older"): "ACK",
    (1, "above-ts-older"): "ACK",
    (0, "reconnect"): "SYN-ACK",
    (0, "below"): "ACK",
    (0, "at"): "ACK",
    (0, "above"): "SYN-ACK",
    (0, "below-with-ts"): "ACK",
}


@pytest.mark.parametrize("key", list(EXPECTED_ANSWER), ids=[f"ts{k[0]}-{k[1]}" for k in EXPECTED_ANSWER])
def test_tw_syn_answer(key):
    v = twsyn_variants()[key]
    old = v["old_segments"]
    c_fin = [s for s in old if s["src"] == "client" and "F" in s["flags"]][-1]
    s_fin = [s for s in old if s["src"] == "server" and "F" in s["flags"]][-1]
    rcv_nxt = (c_fin["seq"] + c_fin["len"] + 1) % MOD
    snd_nxt = (s_fin["seq"] + s_fin["len"] + 1) % MOD
    assert (rcv_nxt, snd_nxt) == (v["old"]["client_snd_nxt"], v["old"]["server_snd_nxt"])
    syn = next(s for s in v["new_segments"] if s["src"] == "client" and s["flags"] == "S")
    reply = next(s for s in v["new_segments"] if s["src"] == "server")
    if v["spec"] is not None:
        assert sdiff(syn["seq"], rcv_nxt) == v["spec"]["seq"]
    want = EXPECTED_ANSWER[key]
    assert v["result"]["answer"] == want
    assert reply["flags"] == {"SYN-ACK": "SA", "ACK": "A"}[want]
    assert reply["t"] - syn["t"] < 0.001  # at once
    if want == "SYN-ACK":
        # a new incarnation: the server's ISN is its old SND.NXT + 65537, and TIME_WAIT is gone
        assert sdiff(reply["seq"], snd_nxt) == 65537
        assert reply["ack"] == (syn["seq"] + 1) % MOD
        assert v["server_time_wait_after_probe"] is False
    else:
        # the TIME_WAIT socket repeats its last ACK (seq = SND.NXT, ack = RCV.NXT) and stays
        assert (reply["seq"], reply["ack"]) == (snd_nxt, rcv_nxt)
        assert v["server_time_wait_after_probe"] is True


@pytest.mark.parametrize("ts", [1, 0])
def test_tw_syn_client_isn_is_clock_driven_not_old_snd_nxt_plus_65537(ts):
    v = twsyn_variants()[(ts, "reconnect")]
    old_syn = next(s for s in v["old_segments"] if s["src"] == "client" and s["flags"] == "S")
    new_syn = next(s for s in v["new_segments"] if s["src"] == "client" and s["flags"] == "S")
    rate = sdiff(new_syn["seq"], old_syn["seq"]) / (new_syn["t"] - old_syn["t"])
    assert rate == pytest.approx(1e9 / 64, rel=0.001)  # one count per 64 ns
    assert v["result"]["client_isn_growth_per_second"] == pytest.approx(rate, rel=1e-4)
    assert sdiff(new_syn["seq"], v["old"]["client_snd_nxt"]) > 10_000_000
    assert v["connect"] == "ok"


# ---- delack ---------------------------------------------------------------------------

def delack_variants():
    return {v["variant"]: v for v in load("delack")["variants"]}


def fin_ack_delay_ms(run):
    segs = run["segments"]
    fin = next(s for s in segs if s["src"] == "client" and "F" in s["flags"])
    end = (fin["seq"] + fin["len"] + 1) % MOD
    ack = next(s for s in segs if s["src"] == "server" and s["t"] >= fin["t"] and s["ack"] is not None
               and sdiff(s["ack"], end) >= 0)
    return (ack["t"] - fin["t"]) * 1000, ack["flags"]


def test_delack_has_enough_runs_and_the_numbers_match_the_segments():
    for v in delack_variants().values():
        assert len(v["runs"]) >= 10
        for r in v["runs"]:
            delay, flags = fin_ack_delay_ms(r)
            assert delay == pytest.approx(r["fin_ack_delay_ms"], abs=0.002)
            assert flags == r["fin_ack_flags"]
        assert v["fin_ack_delay_ms"] == sorted(r["fin_ack_delay_ms"] for r in v["runs"])


def test_delack_after_data_about_40_ms():
    v = delack_variants()["data-close1"]
    delays = [r["fin_ack_delay_ms"] for r in v["runs"]]
    assert all(r["fin_ack_flags"] == "A" for r in v["runs"])
    assert 40.0 <= min(delays) and max(delays) <= 48.0
    assert all(r["ss_ato_ms"] == 40 for r in v["runs"])  # ato = TCP_ATO_MIN
    # the data itself was ACKed at once (quick ACK)
    assert all(r["data_ack_delay_ms"] < 0.1 for r in v["runs"])


def test_delack_without_data_a_tick_or_two():
    v = delack_variants()["nodata-close1"]
    delays = [r["fin_ack_delay_ms"] for r in v["runs"]]
    assert all(r["fin_ack_flags"] == "A" for r in v["runs"])
    assert max(delays) < 10.0  # ato 0: the next timer tick (4 ms at HZ=250), sometimes the one after
    assert all(r["ss_ato_ms"] is None for r in v["runs"])


def test_delack_close0_the_ack_rides_on_the_fin_mostly():
    for name in ("data-close0", "nodata-close0"):
        v = delack_variants()[name]
        kinds = [r["fin_ack_flags"] for r in v["runs"]]
        assert kinds.count("FA") >= len(kinds) - 1
        assert max(r["fin_ack_delay_ms"] for r in v["runs"]) < 5.0


def test_quickack_first_16_segments_then_delayed():
    quick = {q["variant"]: q for q in load("delack")["quickack"]}
    for name in ("quickack-30ms-noread", "quickack-5ms-noread"):
        q = quick[name]
        delays = q["ack_delays_ms"]
        assert all(d < 0.1 for d in delays[:16])  # TCP_MAX_QUICKACKS = 16
        assert delays[16] > 1.0
        assert q["immediate_acks_before_first_delayed"] == 16
    # when the application reads at once, tcp_recvmsg sends the ACKs: none waits for the timer
    assert all(d < 1.0 for d in quick["quickack-30ms-read"]["ack_delays_ms"])


def test_quickack_tail_loss_probe_reopens_quickack():
    """On loopback the sender's tail loss probe fires before the 40 ms delayed ACK;
    the duplicate puts the receiver back into quick-ACK mode."""
    q = {q["variant"]: q for q in load("delack")["quickack"]}["quickack-5ms-noread"]
    data = [s for s in q["segments"] if s["src"] == "client" and s["len"] > 0]
    seqs = [s["seq"] for s in data]
    dup = next(i for i, s in enumerate(seqs) if s in seqs[:i])
    assert dup > 16
    assert all(d < 0.1 for d in q["ack_delays_ms"][dup:])


# ---- tw-reuse -------------------------------------------------------------------------

def reuse_runs():
    return load("tw-reuse")["runs"]


def pick(path, mode, reuse, ts, long=False):
    runs = [r for r in reuse_runs() if (r["path"], r["mode"], r["tcp_tw_reuse"], r["tcp_timestamps"])
            == (path, mode, reuse, ts)]
    runs = [r for r in runs if (r["tried_for_s"] > 10) == long]
    assert len(runs) == 1
    return runs[0]


def test_tw_reuse_sysctls_were_in_force():
    for r in reuse_runs():
        assert r["sysctl"]["tcp_tw_reuse"] == r["tcp_tw_reuse"]
        assert r["sysctl"]["tcp_timestamps"] == r["tcp_timestamps"]
        if r["mode"] == "ephemeral":
            port = int(r["client"].rsplit(":", 1)[1])
            assert r["sysctl"]["ip_local_port_range"] == f"{port} {port}"
        assert r["segments"][0]["flags"] == "S"


@pytest.mark.parametrize("path", ["loopback", "veth"])
@pytest.mark.parametrize("reuse", [0, 1, 2])
def test_tw_reuse_bound_port_reuses_at_once_whatever_tcp_tw_reuse(path, reuse):
    r = pick(path, "bound", reuse, 1)
    assert r["bind_without_so_reuseaddr"] == "EADDRINUSE"
    assert r["attempt_count"] == 1 and r["attempts"][0]["bind"] == "ok"
    assert r["reused_after_s"] < 0.1
    assert r["new_isn_minus_old_snd_nxt"] == 65537
    assert r["server_reply_to_new_syn"] == "SA"
    assert r["tw_after_attempts"] is False


@pytest.mark.parametrize("path", ["loopback", "veth"])
def test_tw_reuse_needs_timestamps(path):
    for mode, reuse in (("bound", 2), ("ephemeral", 1)):
        r = pick(path, mode, reuse, 0)
        assert r["reused_after_s"] is None and r["tried_for_s"] > 3.9
        assert [a["connect"] for a in r["attempts"]] == ["EADDRNOTAVAIL"]
        assert r["tw_after_attempts"] is True


@pytest.mark.parametrize("path,reuse,works", [
    ("loopback", 0, False), ("loopback", 1, True), ("loopback", 2, True),
    ("veth", 0, False), ("veth", 1, True), ("veth", 2, False),
])
def test_tw_reuse_ephemeral_after_one_second(path, reuse, works):
    r = pick(path, "ephemeral", reuse, 1)
    if works:
        fail, ok = r["attempts"]
        assert fail["connect"] == "EADDRNOTAVAIL" and ok["connect"] == "ok"
        assert 0.95 < fail["to"] < 1.0 < ok["from"] < 1.05  # tcp_tw_reuse_delay = 1000 ms
        assert r["sysctl"]["tcp_tw_reuse_delay"] == 1000
        assert r["new_isn_minus_old_snd_nxt"] == 65537
    else:
        assert r["reused_after_s"] is None and r["tried_for_s"] > 3.9
        assert [a["connect"] for a in r["attempts"]] == ["EADDRNOTAVAIL"]


def test_tw_reuse_zero_waits_out_time_wait():
    r = pick("loopback", "ephemeral", 0, 1, long=True)
    fail, ok = r["attempts"]
    assert 60.0 <= ok["from"] < 63.0 and ok["from"] - fail["to"] <= 0.6
    # a fresh ISN from the clock, not old SND.NXT + 65537
    assert r["new_isn_minus_old_snd_nxt"] != 65537
    assert sdiff(r["new_client_isn"], r["old_client_isn"]) / ok["from"] == pytest.approx(1e9 / 64, rel=0.01)


def test_tw_reuse_isn_from_segments():
    for r in reuse_runs():
        if r["reused_after_s"] is None:
            continue
        syns = [s for s in r["segments"] if s["src"] == "client" and s["flags"] == "S"]
        fins = [s for s in r["segments"] if s["src"] == "client" and "F" in s["flags"]]
        assert syns[1]["seq"] == r["new_client_isn"]
        assert sdiff(syns[1]["seq"], (fins[0]["seq"] + 1) % MOD) == r["new_isn_minus_old_snd_nxt"]


# ---- syncookie ------------------------------------------------------------------------

def cookie_probes():
    return {p["probe"]: p for p in load("syncookie")["probes"]}


def test_syncookie_always_on_and_cookies_from_segments():
    fact = load("syncookie")
    assert fact["sysctl"]["tcp_syncookies"] == 2
    assert fact["cookie_minute_jiffies"] == 60 * 250
    for p in fact["probes"]:
        sa = next(s for s in p["segments"] if s["flags"] == "SA")
        assert sa["seq"] == p["cookie"] and sa["ack"] == (p["client_isn"] + 1) % MOD
        for a in p.get("acks", []):
            assert a["accepted"] != a["answered_rst"]
            assert a["accepted"] == a["server_estab"]
            if a["answered_rst"]:
                rst = [s for s in p["segments"] if s["src"] == "server" and "R" in s["flags"]
                       and abs(s["t"] - a["t"]) < 0.01]
                assert len(rst) == 1 and rst[0]["seq"] == (p["cookie"] + 1) % MOD


@pytest.mark.parametrize("probe,accepted", [
    ("age-0", True), ("age-30", True), ("age-70a", True), ("age-100", True),
    ("age-70b", False), ("age-130", False),
])
def test_syncookie_age(probe, accepted):
    p = cookie_probes()[probe]
    (a,) = p["acks"]
    assert a["accepted"] is accepted
    # the rule behind it: the cookie's minute counter (jiffies / (60 HZ)) may have moved on by one
    assert (a["cookie_minute_diff"] <= 1) is accepted
    assert a["age_s"] == pytest.approx(float(probe.split("-")[1].rstrip("ab")), abs=0.25)


def test_syncookie_seventy_seconds_can_go_either_way():
    p = cookie_probes()
    assert p["age-70a"]["syn_phase_in_cookie_minute_s"] < 10
    assert 50 < p["age-70b"]["syn_phase_in_cookie_minute_s"] < 60
    # the wall clock's minutes are not the cookie's minutes
    assert abs(p["age-70a"]["syn_wallclock_second_in_minute"] - p["age-70a"]["syn_phase_in_cookie_minute_s"]) > 5


def test_syncookie_seq_must_be_isn_plus_one():
    p = cookie_probes()
    wrong, right = p["bad-seq"]["acks"]
    assert wrong["seq_minus_client_isn"] == 1 + 1460 and wrong["answered_rst"]
    assert right["seq_minus_client_isn"] == 1 and right["accepted"]
    (isn,) = p["seq-isn"]["acks"]
    assert isn["seq_minus_client_isn"] == 0 and isn["answered_rst"]
    (data,) = p["data"]["acks"]
    assert data["payload_len"] == 100 and data["accepted"] and data["data_read"] == 100


def test_syncookie_needs_a_recent_overflow_on_that_listener():
    p = cookie_probes()
    (a,) = p["no-overflow"]["acks"]
    assert a["answered_rst"] and a["age_s"] < 2
    (b,) = p["overflow-again"]["acks"]
    assert b["accepted"]
    assert p["other-client"]["syn_t"] < b["t"]


def test_syncookie_mss_comes_from_the_cookie():
    for p in cookie_probes().values():
        for a in p.get("acks", []):
            if a["accepted"]:
                assert " mss:1460 " in a["ss_child"]


# ---- rst-close ------------------------------------------------------------------------

RST_SUMMARY = {
    "unread-data": "c:S s:SA c:A c:PA(100) s:A s:RA",
    "unread-data-and-fin": "c:S s:SA c:A c:PA(100) s:A c:FA s:A s:RA",
    "unread-fin-only": "c:S s:SA c:A c:FA s:A s:FA c:A",
    "server-linger0": "c:S s:SA c:A c:PA(100) s:A s:RA",
    "client-linger0": "c:S s:SA c:A c:RA",
}


@pytest.mark.parametrize("case", list(RST_SUMMARY))
def test_rst_close_segments(case):
    c = {c["case"]: c for c in load("rst-close")["cases"]}[case]
    summary = " ".join(f"{'c' if s['src'] == 'client' else 's'}:{s['flags']}" + (f"({s['len']})" if s["len"] else "")
                       for s in c["segments"])
    assert summary == c["summary"] == RST_SUMMARY[case]
    rst = [s for s in c["segments"] if "R" in s["flags"]]
    if case == "unread-fin-only":
        assert not rst and c["client_recv"] == "EOF"
        return
    (r,) = rst
    if case == "client-linger0":
        assert (r["rseq"], r["rack"]) == (1, 1)
        assert c["server_recv"] == "ECONNRESET"
        assert not c["ss_after_close"]  # no TIME_WAIT
        return
    # the RST carries SND.NXT and acknowledges everything received, the discarded bytes included
    assert r["rseq"] == 1
    assert r["rack"] == (102 if case == "unread-data-and-fin" else 101)
    assert c["client_recv"] == "ECONNRESET"
    assert not c["ss_after_close"]


def test_rst_close_control_case_ends_with_a_fin():
    c = {c["case"]: c for c in load("rst-close")["cases"]}["read-all"]
    flags = [(s["src"], s["flags"]) for s in c["segments"]]
    assert ("server", "FA") in flags
    assert flags.index(("server", "FA")) < flags.index(("server", "R"))  # the RST answers data sent later
    assert c["client_recv"] == "EOF"


# ---- keepalive ------------------------------------------------------------------------

def ka_cases():
    return {c["case"]: c for c in load("keepalive")["cases"]}


def ka_numbers(c):
    """From the segments: the client's SND.UNA after the exchange, the idle start, the probes, the RSTs."""
    segs = c["segments"]
    cisn = next(s["seq"] for s in segs if s["src"] == "client" and s["flags"] == "S")
    sisn = next(s["seq"] for s in segs if s["src"] == "server" and s["flags"] == "SA")
    una = (cisn + 1 + 10) % MOD  # the client sent 10 bytes
    srv_nxt = (sisn + 1 + 20 + (1 if c["case"] == "close-wait" else 0)) % MOD  # 20 bytes (+ FIN)
    probes = [s for s in segs if s["src"] == "client" and s["flags"] == "A" and s["seq"] == (una - 1) % MOD]
    first = probes[0]["t"] if probes else 1e9
    # the idle period starts with the server's last data segment (or its FIN)
    last_rx = [s for s in segs if s["src"] == "server" and (s["len"] == 20 or "F" in s["flags"]) and s["t"] < first][-1]
    cleanup = c["last_rx_t"] + next(e["t_since_last_rx"] for e in c["app_events"] if e["event"].startswith("cleanup"))
    rsts = [s for s in segs if "R" in s["flags"] and s["t"] < cleanup]
    return una, srv_nxt, last_rx, probes, rsts


def test_keepalive_defaults_and_options():
    fact = load("keepalive")
    assert fact["keepalive_defaults"] == {"tcp_keepalive_time": 7200, "tcp_keepalive_intvl": 75,
                                          "tcp_keepalive_probes": 9}
    assert fact["socket_options"] == {"TCP_KEEPIDLE": 1, "TCP_KEEPINTVL": 1, "TCP_KEEPCNT": 3}


@pytest.mark.parametrize("case", ["idle", "silent", "forgot", "close-wait", "silent-user-timeout"])
def test_keepalive_probe_is_snd_una_minus_one_with_no_data(case):
    c = ka_cases()[case]
    una, srv_nxt, last_rx, probes, _ = ka_numbers(c)
    assert abs(last_rx["t"] - c["last_rx_t"]) < 1e-6
    assert probes and len(probes) == len(c["probes"])
    for p, row in zip(probes, c["probes"], strict=True):
        assert p["len"] == 0 and row["seq_minus_snd_una"] == -1
        assert p["ack"] == srv_nxt  # and it acknowledges everything received
        assert row["t_since_last_rx"] == pytest.approx(p["t"] - last_rx["t"], abs=1e-5)


KA_PROBE_TIMES = {  # seconds after the idle period began, and what the application saw
    "idle": (4, None),
    "silent": (3, "ETIMEDOUT"),
    "forgot": (1, "ECONNRESET"),
    "close-wait": (4, None),
    "silent-user-timeout": (2, "ETIMEDOUT"),
}


@pytest.mark.parametrize("case", list(KA_PROBE_TIMES))
def test_keepalive_probe_times(case):
    c = ka_cases()[case]
    _, _, last_rx, probes, _ = ka_numbers(c)
    n, _ = KA_PROBE_TIMES[case]
    times = [p["t"] - last_rx["t"] for p in probes]
    assert len(times) == n
    # first probe TCP_KEEPIDLE = 1 s after the last segment received, then every TCP_KEEPINTVL = 1 s
    # (each a tick or a few late: 1.00-1.03 s)
    assert 0.99 < times[0] < 1.04
    assert all(0.99 < b - a < 1.04 for a, b in zip(times, times[1:], strict=False))
    assert c["nstat_delta"]["TcpExtTCPKeepAlive"] == n  # one count per probe sent


@pytest.mark.parametrize("case", ["idle", "close-wait"])
def test_keepalive_live_peer_answers_with_its_last_ack(case):
    c = ka_cases()[case]
    una, srv_nxt, _, probes, rsts = ka_numbers(c)
    segs = c["segments"]
    for p in probes:
        ans = next(s for s in segs if s["src"] == "server" and s["t"] > p["t"])
        assert ans["flags"] == "A" and ans["len"] == 0
        assert (ans["seq"], ans["ack"]) == (srv_nxt, una)
        assert ans["t"] - p["t"] < 0.0001
    assert not rsts
    assert c["results"].get("client recv()", "timeout") == "timeout"  # nothing reached the application


def test_keepalive_close_wait_socket_stays():
    c = ka_cases()["close-wait"]
    end = next(s for s in c["ss"] if s["at"] == "end")["lines"]
    assert any(ln.startswith("CLOSE-WAIT") and "127.0.0.1:45013 127.0.0.1:5013" in ln and "timer:(keepalive," in ln
               for ln in end)
    assert any(ln.startswith("FIN-WAIT-2") and "127.0.0.1:5013 127.0.0.1:45013" in ln for ln in end)
    assert c["results"]["client recv() at the end"] == "EOF"


@pytest.mark.parametrize("case,after", [("silent", 4), ("silent-user-timeout", 3)])
def test_keepalive_gives_up_with_a_rst_and_etimedout(case, after):
    c = ka_cases()[case]
    una, srv_nxt, last_rx, probes, rsts = ka_numbers(c)
    (rst,) = rsts
    assert rst["src"] == "client" and rst["flags"] == "RA" and (rst["seq"], rst["ack"]) == (una, srv_nxt)
    # one interval after the last probe: TCP_KEEPCNT=3 probes, or (user timeout 2.5 s) at the first
    # keepalive timer that finds 2.5 s exceeded - long before 9 probes
    assert rst["t"] - probes[-1]["t"] == pytest.approx(1.0, abs=0.05)
    assert rst["t"] - last_rx["t"] == pytest.approx(after, abs=0.15)
    assert c["results"] == {"client recv()": "ETIMEDOUT", "server recv()": "ECONNRESET"}
    assert c["nstat_delta"]["TcpExtTCPAbortOnTimeout"] == 1
    assert c["iptables_packet_counters"] == [len(probes)]  # every answer was dropped


def test_keepalive_forgotten_connection_draws_a_rst():
    c = ka_cases()["forgot"]
    una, srv_nxt, _, (probe,), rsts = ka_numbers(c)
    lost, answer = rsts
    assert lost["src"] == "server" and lost["flags"] == "RA"  # the close()'s RST, dropped by the rule
    assert c["iptables_packet_counters"] == [1]
    # no socket: the kernel answers the probe with RST, seq = the probe's ack, no ACK flag
    assert answer["src"] == "server" and answer["flags"] == "R" and answer["seq"] == probe["ack"] == srv_nxt
    assert answer["t"] - probe["t"] < 0.0001
    assert c["results"] == {"client recv()": "ECONNRESET"}


def test_user_timeout_aborts_silently_after_the_retransmissions():
    c = ka_cases()["user-timeout"]
    segs = c["segments"]
    data = [s for s in segs if s["src"] == "client" and s["len"] == 100]
    times = [s["t"] - data[0]["t"] for s in data]
    assert times == pytest.approx(c["data_transmissions_since_first"], abs=1e-5)
    # RTO 204 ms doubling: 0.2, 0.41, 0.84, 1.68 s; then no more
    assert [round(t, 1) for t in times] == [0.0, 0.2, 0.4, 0.8, 1.7]
    assert c["tcp_user_timeout_ms"] == 2000 and c["keepalive"] is None
    assert c["results"]["client recv()"] == "ETIMEDOUT"
    assert 2.3 < c["client_error_since_first_transmission"] < 2.6
    _, _, _, probes, rsts = ka_numbers(c)
    assert not probes and not rsts  # no RST on this abort: the server never hears of it
    assert c["results"]["server recv()"] == "timeout"
    end = next(s for s in c["ss"] if s["at"] == "end")["lines"]
    assert [ln.split()[0] for ln in end] == ["ESTAB"] and "127.0.0.1:5014 127.0.0.1:45014" in end[0]
    assert c["nstat_delta"]["TcpExtTCPAbortOnTimeout"] == 1


# ---- linger ---------------------------------------------------------------------------

def linger_cases():
    return {c["case"]: c for c in load("linger")["cases"]}


LINGER_SUMMARY = {
    "estab-peer-unread": ("c:S s:SA c:A c:PA(100) s:A c:RA", "client", 101, 1),
    "close-wait": ("c:S s:SA c:A s:FA c:A c:RA", "client", 1, 2),
    "fin-wait-2": ("c:S s:SA c:A c:FA s:A c:RA", "client", 2, 1),
    "normal-close": ("c:S s:SA c:A c:FA s:FA c:A", None, None, None),  # the ACK may ride on the FIN, or not
    "close-wait-orphan-peer": ("c:S s:SA c:A c:FA s:A s:RA", "server", 1, 2),
}


@pytest.mark.parametrize("case", list(LINGER_SUMMARY))
def test_linger_segments_and_rst(case):
    c = linger_cases()[case]
    summary, who, rseq, rack = LINGER_SUMMARY[case]
    if who is None:
        assert c["summary"] in (summary, summary.replace("c:FA s:FA", "c:FA s:A s:FA"))
    else:
        assert c["summary"] == summary
    segs = c["segments"]
    isn = {s["src"]: s["seq"] for s in segs if "S" in s["flags"]}
    rsts = [s for s in segs if "R" in s["flags"]]
    if who is None:
        assert not rsts
        return
    (r,) = rsts
    other = "server" if who == "client" else "client"
    # RST+ACK, seq = SND.NXT, ack = RCV.NXT (all received, a FIN included)
    assert r["src"] == who and r["flags"] == "RA"
    assert ((r["seq"] - isn[who]) % MOD, (r["ack"] - isn[other]) % MOD) == (rseq, rack)
    assert c["rst"] == [{"from": who, "flags": "RA", "rseq": rseq, "rack": rack}]
    # nothing after the RST, and no FIN from the aborting side after its close()
    assert segs[-1] is r


def test_linger_unsent_data_is_dropped_rst_carries_snd_nxt():
    c = linger_cases()["estab-unsent"]
    segs = c["segments"]
    cisn = next(s["seq"] for s in segs if s["flags"] == "S")
    sent = max((s["seq"] + s["len"] - cisn - 1) % MOD for s in segs if s["src"] == "client" and s["len"])
    assert sent == c["client_bytes_sent"] == 2048
    assert c["results"]["client_bytes_written"] == 8192
    (r,) = [s for s in segs if "R" in s["flags"]]
    assert r["src"] == "client" and (r["seq"] - cisn) % MOD == sent + 1  # SND.NXT, not the end of the written data
    assert c["results"]["server_recv"] == {"bytes": 2048, "then": ["ECONNRESET", "EOF"]}
    before = next(s for s in c["ss"] if s["at"] == "before the client's close()")["lines"]
    assert any(ln.startswith("ESTAB 0 6144 127.0.0.1:45021") for ln in before)  # 6144 bytes never sent


LINGER_PEER = {
    "estab-peer-unread": ({"bytes": 100, "then": ["ECONNRESET", "EOF"]}, "EPIPE"),
    "close-wait": ({"bytes": 0, "then": ["ECONNRESET", "EOF"]}, "EPIPE"),
    "fin-wait-2": ({"bytes": 0, "then": ["EOF", "EOF"]}, "EPIPE"),
}


@pytest.mark.parametrize("case", list(LINGER_PEER))
def test_linger_what_the_peer_sees(case):
    c = linger_cases()[case]
    recv, send = LINGER_PEER[case]
    assert c["results"]["server_recv"] == recv
    assert c["results"]["server_send_after"] == send


def test_linger_no_time_wait_except_the_normal_close():
    for name, c in linger_cases().items():
        if name == "normal-close":
            assert [ln.split()[2:4] for ln in c["ss_time_wait"]] == [["127.0.0.1:45024", "127.0.0.1:5024"]]
            assert c["nstat_delta"]["TcpExtTW"] == 1
        else:
            assert c["ss_time_wait"] == [] and c["ss_any_state_at_end"] == []
            assert c["nstat_delta"]["TcpExtTCPAbortOnData"] == 1  # SO_LINGER 0 counts as "AbortOnData"
            assert "TcpExtTCPAbortOnClose" not in c["nstat_delta"]


def test_linger_estab_resets_counts_established_and_close_wait_only():
    want = {"estab-peer-unread": 2, "estab-unsent": 2, "close-wait": 1, "fin-wait-2": 1,
            "normal-close": None, "close-wait-orphan-peer": 1}
    for name, c in linger_cases().items():
        assert c["nstat_delta"].get("TcpEstabResets") == want[name]


def test_linger_rst_kills_the_orphaned_fin_wait_2():
    c = linger_cases()["close-wait-orphan-peer"]
    before = next(s for s in c["ss"] if s["at"] == "before the server's close()")["lines"]
    assert any(ln.startswith("FIN-WAIT-2 0 0 127.0.0.1:45025") and "timer:(timewait," in ln for ln in before)
    # the FIN_WAIT_2 mini-socket counted in TW when it was created; the RST removed it
    assert c["nstat_delta"]["TcpExtTW"] == 1


# ---- observe --------------------------------------------------------------------------

def obs_steps():
    return {s["step"]: s for s in load("observe")["steps"]}


def test_observe_counters_are_quiet_when_nothing_happens():
    steps = obs_steps()
    assert steps["baseline"]["nstat_delta"] == {}
    assert load("observe")["nstat_method"] == "nstat -asz"


def test_observe_listen_backlog_is_capped_by_somaxconn():
    s = obs_steps()["listen-backlog"]
    assert s["somaxconn"] == load("observe")["somaxconn"] == 4096
    assert {n: (v["recv_q"], v["send_q"]) for n, v in s["listen"].items()} == {"8": (0, 8), "100000": (0, 4096)}
    assert s["nstat_delta"] == {}


def test_observe_ephemeral_ports_even_for_connect_odd_for_bind0():
    s = obs_steps()["ephemeral-ports"]
    low, high = map(int, s["ip_local_port_range"].split())
    assert (low, high) == (32768, 60999)
    for key in ("connect_ports_to_6002", "connect_ports_to_6010"):
        ports = s[key]
        assert all(p % 2 == 0 and low <= p <= high for p in ports)
        gaps = [b - a for a, b in zip(ports, ports[1:], strict=False)]
        # one destination: increasing, by small random even steps (2..16 here)
        assert all(g % 2 == 0 and 2 <= g <= 16 for g in gaps)
    # another destination starts somewhere else
    assert abs(s["connect_ports_to_6010"][0] - s["connect_ports_to_6002"][0]) > 1000
    bound = s["bind0_ports"]
    assert all(p % 2 == 1 and low <= p <= high for p in bound)
    assert bound != sorted(bound) and max(bound) - min(bound) > (high - low) // 2  # random over the range
    assert len(s["connect_ports_to_6002"]) == 50 and len(bound) == 50
    d = s["nstat_delta"]
    assert (d["TcpActiveOpens"], d["TcpPassiveOpens"]) == (60, 60)


def test_observe_linger0_and_unread_data_counters_are_swapped_names():
    steps = obs_steps()
    d = steps["close-unread-data"]["nstat_delta"]
    assert d["TcpExtTCPAbortOnClose"] == 1 and "TcpExtTCPAbortOnData" not in d
    assert steps["close-unread-data"]["client_recv"] == "ECONNRESET"
    d = steps["close-linger0"]["nstat_delta"]
    assert d["TcpExtTCPAbortOnData"] == 1 and "TcpExtTCPAbortOnClose" not in d
    assert steps["close-linger0"]["server_recv"] == "ECONNRESET"
    d = steps["abort-60"]["nstat_delta"]
    assert (d["TcpExtTCPAbortOnData"], d["TcpOutRsts"], d["TcpEstabResets"]) == (60, 60, 120)
    for name in ("close-unread-data", "close-linger0"):
        d = steps[name]["nstat_delta"]
        assert (d["TcpEstabResets"], d["TcpOutRsts"]) == (2, 1)  # both ends leave ESTABLISHED
        rst = [x for x in steps[name]["segments"] if "R" in x["flags"]]
        assert len(rst) == 1 and rst[0]["flags"] == "RA"


def test_observe_syn_sent_timer_and_close_is_no_attempt_fail():
    s = obs_steps()["syn-sent"]
    for snap, n in zip(s["ss"], (0, 1, 2), strict=True):
        (line,) = snap["lines"]
        assert line.startswith("SYN-SENT 0 1 127.0.0.1:46050 127.0.0.1:6003")
        assert re.search(rf"timer:\(on,\d+ms,{n}\)", line) and " rto:1000 " in line
    syns = [x["t"] for x in s["segments"] if x["flags"] == "S"]
    assert len(syns) == 3 and all(0.99 < b - a < 1.05 for a, b in zip(syns, syns[1:], strict=False))
    d = s["nstat_delta"]
    assert d["TcpActiveOpens"] == 1 and d["TcpExtTCPSynRetrans"] == d["TcpRetransSegs"] == 2
    assert "TcpAttemptFails" not in d  # close() in SYN_SENT is not counted as a failed attempt
    assert s["ss_after_close"] == []
    assert [re.search(r"timer:\(on,(\d+)ms", snap["lines"][0]).group(1) for snap in s["ss"]] == ["696", "712", "744"]


def test_observe_refused_connect_is_an_attempt_fail():
    s = obs_steps()["refused"]
    assert s["connect"] == "ECONNREFUSED"
    assert [x["flags"] for x in s["segments"]] == ["S", "RA"]
    d = s["nstat_delta"]
    assert (d["TcpActiveOpens"], d["TcpAttemptFails"], d["TcpOutRsts"]) == (1, 1, 1)


@pytest.mark.parametrize("cookies", [1, 0])
def test_observe_accept_queue_full(cookies):
    s = obs_steps()[f"accept-queue-full-cookies{cookies}"]
    assert s["tcp_syncookies"] == cookies and s["backlog"] == 2
    # Recv-Q of a listener = accept queue length, Send-Q = backlog; the queue holds backlog + 1
    assert [r["listener"]["recv_q"] for r in s["after_each_connect"]] == [1, 2, 3, 3, 3, 3]
    assert all(r["listener"]["send_q"] == 2 for r in s["after_each_connect"])
    states = [s["client_states"][str(p)] for p in s["ports"]]
    assert states == ["ESTAB"] * 3 + ["SYN-SENT"] * 3
    segs = s["segments"]
    waiting = s["ports"][3:]
    dropped = [x for x in segs if x["flags"] == "S" and x["sport"] in waiting]
    assert not any(x["flags"] == "SA" and x["dport"] in waiting for x in segs)  # their SYNs get no answer
    d = s["nstat_delta"]
    # one count per dropped SYN (a SYN sent just after the last snapshot may be in the capture too)
    n = d["TcpExtListenOverflows"]
    assert d["TcpExtListenDrops"] == n and n in (7, 8) and len(dropped) - 1 <= n <= len(dropped)
    assert d["TcpPassiveOpens"] == 3 and d["TcpActiveOpens"] == 6
    assert "TcpExtSyncookiesSent" not in d and "TcpExtTCPReqQFullDoCookies" not in d  # cookies do not help here


@pytest.mark.parametrize("cookies", [1, 0])
def test_observe_accept_lets_the_waiting_clients_in_on_their_next_syn(cookies):
    s = obs_steps()[f"accept-cookies{cookies}"]
    assert sorted(s["accepted"]) == s["ports"][:3]
    assert s["listener_right_after"]["recv_q"] == 0
    assert s["listener_1_2_s_later"]["recv_q"] == 3
    assert set(s["client_states_1_2_s_later"].values()) == {"ESTAB"}
    assert sorted(s["accepted_1_2_s_later"]) == s["ports"][3:]
    d = s["nstat_delta"]
    assert d["TcpPassiveOpens"] == 3 and d["TcpExtTCPSynRetrans"] == 3  # accept() itself moves no counter
    assert "TcpExtListenOverflows" not in d


def test_observe_syn_queue_full_cookies_or_drops():
    steps = obs_steps()
    on, off = steps["syn-queue-full-cookies1"], steps["syn-queue-full-cookies0"]
    for s in (on, off):
        assert len(s["ss_syn_recv"]) == 3  # backlog + 1 request sockets
        assert s["listener"]["recv_q"] == 0  # request sockets are not in Recv-Q
    assert list(on["synacks_seen_by_sniffer"].values()) == [1] * 6
    assert sum(1 for x in on["segments"] if x["flags"] == "SA") == 6
    d = on["nstat_delta"]
    assert d["TcpExtTCPReqQFullDoCookies"] == d["TcpExtSyncookiesSent"] == 3
    assert "TcpExtListenDrops" not in d
    assert list(off["synacks_seen_by_sniffer"].values()) == [1, 1, 1, 0, 0, 0]
    assert sum(1 for x in off["segments"] if x["flags"] == "SA") == 3
    d = off["nstat_delta"]
    assert d["TcpExtTCPReqQFullDrop"] == d["TcpExtListenDrops"] == 3
    assert "TcpExtSyncookiesSent" not in d and "TcpExtListenOverflows" not in d


def test_observe_challenge_acks_and_a_real_reset():
    steps = obs_steps()
    syn, rst_w, rst_x = steps["syn-in-window"], steps["rst-in-window"], steps["rst-exact"]
    nxt = syn["server_rcv_nxt"]
    assert rst_w["server_rcv_nxt"] == rst_x["server_rcv_nxt"] == nxt
    for s, flags, seq in ((syn, "S", nxt + 1000), (rst_w, "R", nxt + 1000)):
        crafted = next(x for x in s["segments"]
                       if x["flags"] == flags and x["sport"] == 46202 and x["seq"] == seq % MOD)
        ans = next(x for x in s["segments"] if x["sport"] == 6010 and x["t"] > crafted["t"])
        assert ans["flags"] == "A" and ans["ack"] == nxt  # the challenge ACK: "this is where I am"
        assert s["server_state_after"] == "ESTAB"
    d = syn["nstat_delta"]
    assert d["TcpExtTCPSYNChallenge"] == d["TcpExtTCPChallengeACK"] == 1
    d = rst_w["nstat_delta"]
    assert d["TcpExtTCPChallengeACK"] == 1 and "TcpExtTCPSYNChallenge" not in d and "TcpEstabResets" not in d
    # exact seq: accepted, no answer; only the receiver's ESTABLISHED -> CLOSED is counted
    assert rst_x["crafted_seq"] == nxt
    assert not [x for x in rst_x["segments"] if x["sport"] == 6010]
    assert rst_x["nstat_delta"] == {"TcpEstabResets": 1, "TcpInSegs": 1}
    assert rst_x["server_recv"] == "ECONNRESET"
    assert rst_x["states_after"] == {"server": None, "client": "ESTAB"}


def test_observe_tw_counts_time_wait_creation_not_expiry():
    steps = obs_steps()
    c, e = steps["time-wait-created"], steps["time-wait-expired"]
    assert c["nstat_delta"]["TcpExtTW"] == 1
    assert c["ss_time_wait"] and e["ss_time_wait_before"] and e["ss_time_wait_after"] == []
    assert e["waited_until_s_after_time_wait"] >= 61
    assert e["nstat_delta"] == {}  # the TIME_WAIT socket expired without moving any counter
