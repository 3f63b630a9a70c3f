"""The kernel facts recorded in tests/data/linux/ are self-consistent.

tools/linux_capture.py FACT (tw-syn, delack, tw-reuse, syncookie, rst-close)
recorded what a real Linux kernel did; tests/data/linux/README.md states the
measured numbers. These tests parse the stored JSON, recompute those numbers
from the captured segments where they can, and check that they are the ones
the README states. They do not run the simulator (that comparison belongs
elsewhere) and need no root and no network.
"""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "linux"
FACTS = ("tw-syn", "delack", "tw-reuse", "syncookie", "rst-close")
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
