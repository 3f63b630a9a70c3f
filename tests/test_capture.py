"""The capture explainer (tcpsim.capture) on captures recorded from a real kernel.

tests/data/captures/*.pcap were recorded on Linux 6.18 by tools/linux_capture.py
samples (tests/data/captures/README.md).  Every expected number below was read
off ``tcpdump -r FILE -nn -S -tt`` by hand, not copied from the explainer.
"""

import io
import json
import struct
from pathlib import Path

import dpkt
import pytest

from tcpsim.capture import SAMPLES, explain, explain_bytes, sample, summarise
from tcpsim.capture.frames import ethernet, ip_packet, pcap_file, tcp_header
from tcpsim.capture.zeek import MEANING
from tcpsim.core.errors import TcpSimError

DATA = Path(__file__).resolve().parent / "data" / "captures"


def conn(name, n=1, **kw):
    return explain(str(DATA / f"{name}.pcap"), n, **kw)["connection"]


def flags_seq_ack(d):
    return [(s["src"][0], s["flags"], s["seq"], s["ack"]) for s in d["segments"]]


# ---------------------------------------------------------------- the samples themselves

def test_the_shipped_samples_are_the_recorded_ones():
    assert sorted(SAMPLES) == sorted(p.stem for p in DATA.glob("*.pcap"))
    for name in SAMPLES:
        assert sample(name) == (DATA / f"{name}.pcap").read_bytes(), name


def test_every_sample_holds_what_tcpdump_said_it_captured():
    rec = json.loads((DATA / "recorded.json").read_text())
    assert rec["kernel"].startswith("6.18")
    for name in SAMPLES:
        r = rec["samples"][name]
        frames = sum(1 for _ in dpkt.pcap.Reader(io.BytesIO(sample(name))))
        assert r["tcpdump_stats"]["captured"] == r["packets"] == frames, name
        assert "--immediate-mode" in r["tcpdump"]


# ---------------------------------------------------------------- trace, states, verdict per sample
# c = client (127.0.0.1:40000), s = server (127.0.0.1:5000); absolute seq/ack from tcpdump -S.

def test_plain():
    d = conn("plain")
    c, s = 1126478879, 2103796967
    assert flags_seq_ack(d) == [("c", "S", c, None), ("s", "SA", s, c + 1), ("c", "A", c + 1, s + 1),
                                ("c", "FA", c + 1, s + 1), ("s", "FA", s + 1, c + 2), ("c", "A", c + 2, s + 2)]
    assert [(x["rel_seq"], x["rel_ack"]) for x in d["segments"]] == [(0, None), (0, 1), (1, 1), (1, 1), (1, 2),
                                                                      (2, 2)]
    assert d["segments"][3]["t_abs_us"] == 1796141371067489          # 1796141371.067489 in tcpdump -tt
    assert d["states"]["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert d["states"]["server"] == ["LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert d["conn_state"] == "SF" and d["lost"] == []
    assert d["client"] == "127.0.0.1:40000" and d["server"] == "127.0.0.1:5000"


def test_lost_synack():
    d = conn("lost-synack")
    # S, SA (lost), SA again 1.0055 s later, the client's SYN again, ACK, one more SA (answering that SYN), ACK
    assert [x["flags"] for x in d["segments"]] == ["S", "SA", "SA", "S", "A", "SA", "A", "FA", "FA", "A"]
    assert d["lost"] == [2]
    assert [x["rtx"] for x in d["segments"]][:6] == [False, False, True, True, False, True]
    assert d["states"]["client"][:3] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert d["conn_state"] == "SF"
    est = next(c for c in d["trace"]["states"]["client"] if c["to"] == "ESTABLISHED")
    assert est["t"] == pytest.approx(1796141373.288482 - 1796141372.282938)  # at the copy that arrived


def test_lost_fin():
    d = conn("lost-fin")
    assert [x["flags"] for x in d["segments"]] == ["S", "SA", "A", "FA", "FA", "FA", "A"]
    assert d["lost"] == [4]
    fins = [x for x in d["segments"] if x["src"] == "client" and x["flags"] == "FA"]
    assert fins[1]["t"] - fins[0]["t"] == pytest.approx(1796141376.720460 - 1796141376.514993)  # the RTO, 205 ms
    assert d["states"]["server"] == ["LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert d["conn_state"] == "SF"


def test_rst():
    d = conn("rst")
    assert flags_seq_ack(d)[-1] == ("c", "RA", 1257352200, 2234670220)
    assert d["states"]["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSED"]
    assert d["states"]["server"] == ["LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSED"]
    # Zeek: "RSTO  Connection established, originator aborted (sent a RST)."
    assert d["conn_state"] == "RSTO"


def test_refused():
    d = conn("refused")
    assert flags_seq_ack(d) == [("c", "S", 2883061203, None), ("s", "RA", 0, 2883061204)]
    assert d["states"] == {"client": ["CLOSED", "SYN_SENT", "CLOSED"], "server": []}
    assert d["listening"] is False
    # Zeek: "REJ  Connection attempt rejected."
    assert d["conn_state"] == "REJ"


def test_simultaneous_close():
    d = conn("simultaneous-close")
    # both first FINs are lost; each retransmitted FIN still acks only the other's SYN (ack = ISN + 1)
    assert d["lost"] == [4, 5]
    assert flags_seq_ack(d)[5] == ("s", "FA", 2279978888, 1302660757)
    assert flags_seq_ack(d)[6] == ("c", "FA", 1302660757, 2279978888)
    for side in ("client", "server"):
        assert d["states"][side][-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"], side
    assert d["conn_state"] == "SF"


def test_time_wait_reuse_is_two_incarnations():
    s = summarise(str(DATA / "time-wait-reuse.pcap"))
    assert [(c["conn"], c["incarnation"], c["conn_state"]) for c in s["connections"]] == [(1, 1, "SF"), (2, 2, "SF")]
    first, second = conn("time-wait-reuse", 1), conn("time-wait-reuse", 2)
    assert first["states"]["server"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]   # the server closed first
    assert first["states"]["client"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert second["segments"][0]["seq"] == 1376499620 and second["segments"][1]["seq"] == 2330424288
    assert second["notes"][0].startswith("incarnation 2")


# ---------------------------------------------------------------- Zeek's conn_state

#: Zeek's documented definitions (docs.zeek.org, base/protocols/conn/main.zeek, Conn::Info$conn_state), and a
#: capture for each: (sender, flags) in order, o = originator, r = responder.
ZEEK = {
    "S0": ("Connection attempt seen, no reply.", [("o", "S")]),
    "S1": ("Connection established, not terminated.", [("o", "S"), ("r", "SA"), ("o", "A")]),
    "SF": ("Normal establishment and termination.",
           [("o", "S"), ("r", "SA"), ("o", "A"), ("o", "FA"), ("r", "FA"), ("o", "A")]),
    "REJ": ("Connection attempt rejected.", [("o", "S"), ("r", "RA")]),
    "S2": ("Connection established and close attempt by originator seen (but no reply from responder).",
           [("o", "S"), ("r", "SA"), ("o", "A"), ("o", "FA")]),
    "S3": ("Connection established and close attempt by responder seen (but no reply from originator).",
           [("o", "S"), ("r", "SA"), ("o", "A"), ("r", "FA")]),
    "RSTO": ("Connection established, originator aborted (sent a RST).",
             [("o", "S"), ("r", "SA"), ("o", "A"), ("o", "R")]),
    "RSTR": ("Responder sent a RST.", [("o", "S"), ("r", "SA"), ("o", "A"), ("r", "R")]),
    "RSTOS0": ("Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.",
               [("o", "S"), ("o", "R")]),
    "RSTRH": ("Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.",
              [("r", "SA"), ("r", "R")]),
    "SH": ("Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder "
           "(hence the connection was “half” open).", [("o", "S"), ("o", "F")]),
    "SHR": ("Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.",
            [("r", "SA"), ("r", "FA")]),
    "OTH": ("No SYN seen, just midstream traffic (a “partial connection” that was not later closed).",
            [("o", "A"), ("r", "A")]),
}


def synthetic(steps, v6=False, vlans=(), t0=1_700_000_000_000_000):
    """A capture of `steps` [(o|r, flags[, len])] between 10.0.0.1:1234 (o) and 10.0.0.2:80 (r)."""
    o, r = ("2001:db8::1", "2001:db8::2") if v6 else ("10.0.0.1", "10.0.0.2")
    nxt = {"o": 1000, "r": 5000}
    recs = []
    for k, step in enumerate(steps):
        who, fl, n = (step + (0,))[:3]
        me, you = ("o", "r") if who == "o" else ("r", "o")
        src, dst = (o, r) if who == "o" else (r, o)
        sp, dp = (1234, 80) if who == "o" else (80, 1234)
        tcp = tcp_header(sp, dp, nxt[me], nxt[you] if "A" in fl else None, fl)
        recs.append((t0 + 1000 * k, ethernet(ip_packet(src, dst, tcp, n), vlans)))
        nxt[me] += n + ("S" in fl) + ("F" in fl)
    return pcap_file(recs)


@pytest.mark.parametrize("code", sorted(ZEEK))
def test_zeek_conn_state(code):
    meaning, steps = ZEEK[code]
    assert MEANING[code] == meaning
    got = summarise(synthetic(steps))["connections"]
    assert [c["conn_state"] for c in got] == [code]


# ---------------------------------------------------------------- the same capture in every container and link type

def _frames(name):
    return [(int(ts * 1000000), buf) for ts, buf in dpkt.pcap.Reader(io.BytesIO(sample(name)))]


def _pcapng(records, linktype=1):
    out = io.BytesIO()
    w = dpkt.pcapng.Writer(out, linktype=linktype)
    for t_us, frame in records:
        w.writepkt(frame, ts=t_us / 1e6)
    return out.getvalue()


def _relink(records, how):
    out = []
    for t_us, eth in records:
        ip = eth[14:]
        frame = {"sll": struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, 0x0800) + ip,
                 "sll2": struct.pack("!HHIHBB8s", 0x0800, 0, 1, 772, 0, 6, b"\0" * 8) + ip,
                 "raw": ip, "null": struct.pack("<I", 2) + ip,
                 "vlan": eth[:12] + struct.pack("!HHHH", 0x88A8, 10, 0x8100, 20) + eth[12:]}[how]
        out.append((t_us, frame))
    return out


@pytest.mark.parametrize("how,linktype", [("sll", 113), ("sll2", 276), ("raw", 101), ("null", 0), ("vlan", 1)])
def test_link_types_give_the_same_explanation(how, linktype):
    want = conn("lost-fin")
    data = pcap_file(_relink(_frames("lost-fin"), how), linktype=linktype)
    got = explain_bytes(data, svg=False)["connection"]
    assert flags_seq_ack(got) == flags_seq_ack(want)
    assert got["states"] == want["states"] and got["conn_state"] == "SF" and got["lost"] == [4]


def test_pcapng_gives_the_same_explanation():
    want = conn("simultaneous-close", svg=False)
    got = explain_bytes(_pcapng(_frames("simultaneous-close")), svg=False)["connection"]
    assert flags_seq_ack(got) == flags_seq_ack(want) and got["states"] == want["states"]


def test_ipv6_and_vlan():
    steps = ZEEK["SF"][1]
    d = explain_bytes(synthetic(steps, v6=True, vlans=(7,)), svg=False)
    assert d["connection"]["client"] == "[2001:db8::1]:1234" and d["connection"]["conn_state"] == "SF"
    assert d["file"]["ipv6"] == 6 and d["file"]["vlan"] == 6
    assert any("VLAN" in n for n in d["notes"])


# ---------------------------------------------------------------- the model beside the capture

@pytest.mark.parametrize("name", ["plain", "lost-synack", "lost-fin", "rst", "refused"])
def test_the_model_agrees_with_the_kernel(name):
    m = conn(name, svg=False)["model"]
    assert m["ran"] and m["differences"] == []
    assert all(row["model"] is not None and row["capture"] is not None for row in m["rows"])


def test_the_model_agrees_on_both_incarnations():
    for n in (1, 2):
        assert conn("time-wait-reuse", n, svg=False)["model"]["differences"] == []


def test_the_inferred_scenario():
    sc = conn("lost-fin", svg=False)["model"]["scenario"]
    assert sc["endpoints"]["client"]["isn"] == 1211596521 and sc["endpoints"]["server"]["isn"] == 2188914532
    assert sc["endpoints"]["client"]["port"] == 40000 and sc["endpoints"]["server"]["port"] == 5000
    # the client closed 1.000246 s after its SYN (tcpdump: 376.514993 - 375.514747); the server on EOF
    assert sc["endpoints"]["client"]["calls"][1] == {"t": 1.000246, "call": "close"}
    assert sc["endpoints"]["server"]["calls"][1] == {"on": "eof", "call": "close"}
    assert sc["network"]["rules"] == [{"action": "drop", "src": "client", "flags": "FA", "nth": 1}]


def test_simultaneous_close_differs_where_the_kernel_did():
    """Both FIN timers expired in the same tick; the kernel retransmitted the server's FIN first (ack still
    1302660757, the client's FIN not yet in), the model the client's first, so its server FIN acks it."""
    diffs = conn("simultaneous-close", svg=False)["model"]["differences"]
    assert [d["kind"] for d in diffs] == ["numbers", "states"]
    assert "server FA seq=1 ack=1 at 1.205652 s" in diffs[0]["what"] and "server FA seq=1 ack=2" in diffs[0]["what"]
    assert "FIN_WAIT_2" in diffs[1]["what"]          # the model's client, acked before the server's FIN came


def test_a_deliberately_different_model_lists_the_real_differences():
    """On the rfc9293 profile the RTO is at least 1 s (RFC 6298 (2.4)); the kernel resent the lost FIN
    after 205.467 ms (376.720460 - 376.514993); the model resends 1 s after its FIN at 1.000246 s, 794.5 ms later."""
    diffs = conn("lost-fin", profile="rfc9293", svg=False)["model"]["differences"]
    assert len(diffs) == 1 and diffs[0]["kind"] == "timer"
    assert "the kernel at 1.205713 s, the model at 2.000246 s (+794.5 ms)" in diffs[0]["what"]
    # ... and for an abort: Linux's RST carries ACK, the RFC profile's does not
    diffs = conn("rst", profile="rfc9293", svg=False)["model"]["differences"]
    assert [d["kind"] for d in diffs] == ["numbers"] and "client RA seq=1 ack=1" in diffs[0]["what"]


# ---------------------------------------------------------------- output

def test_result_is_json_and_svg():
    d = explain_bytes(sample("lost-synack"))
    json.dumps(d)
    svg = d["connection"]["svg"]
    assert svg["ladder"].startswith("<svg") and "lost" in svg["ladder"]
    assert "<svg" in svg["state_diagram"] and "digraph" in d["connection"]["dot"]
    assert svg["model_ladder"].startswith("<svg")
    assert explain_bytes(sample("plain")) == explain_bytes(sample("plain"))      # deterministic


# ---------------------------------------------------------------- bad input: a clean error or a result that says so

def _explained_or_clean_error(data):
    """explain() either gives a result or raises a TcpSimError with a one-line message."""
    try:
        return explain_bytes(data, svg=False)
    except TcpSimError as e:
        msg = str(e)
        assert msg and "\n" not in msg and len(msg) < 300, msg
        return None


def test_empty_and_not_a_capture():
    from tcpsim.capture import CaptureFileError
    with pytest.raises(CaptureFileError, match="empty"):
        explain_bytes(b"")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng"):
        explain_bytes(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(CaptureFileError, match="header is broken"):
        explain_bytes(sample("plain")[:10])


def test_no_tcp_in_the_capture():
    from tcpsim.capture import NoConnection
    udp = struct.pack("!BBHHHBBH", 0x45, 0, 28, 0, 0, 64, 17, 0) + bytes(8) + bytes(8)
    with pytest.raises(NoConnection, match=r"no TCP segment in the capture \(1 frames: 0 not IP, 1 not TCP"):
        explain_bytes(pcap_file([(0, ethernet(udp))]))
    with pytest.raises(NoConnection, match="holds no frames"):
        explain_bytes(sample("plain")[:24])
    with pytest.raises(NoConnection, match="no connection 3: the capture has 2"):
        explain_bytes(sample("time-wait-reuse"), conn=3)


def test_unsupported_link_type():
    from tcpsim.capture import CaptureFileError
    with pytest.raises(CaptureFileError, match="link type 105 is not supported"):
        explain_bytes(pcap_file(_frames("plain"), linktype=105))


def test_truncated_at_every_byte():
    data = sample("plain")
    full = explain_bytes(data, svg=False)["connection"]
    seen = set()
    for n in range(len(data) + 1):
        got = _explained_or_clean_error(data[:n])
        if got is not None:
            seen.add(len(got["connection"]["segments"]))
            assert flags_seq_ack(got["connection"]) == flags_seq_ack(full)[:len(got["connection"]["segments"])]
    assert seen == {1, 2, 3, 4, 5, 6}      # a frame cut short is dropped, the ones before it explained


def test_random_bytes_and_mutations():
    import random
    rnd = random.Random(14)
    base = sample("lost-synack")
    for _ in range(300):
        _explained_or_clean_error(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200))))
        mutated = bytearray(base)
        for _ in range(rnd.randrange(1, 8)):
            mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
        _explained_or_clean_error(bytes(mutated))
    for magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a"):
        for _ in range(100):
            _explained_or_clean_error(magic + bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 120))))


def test_snaplen_cut_frames_are_counted_not_decoded():
    from tcpsim.capture import NoConnection
    with pytest.raises(NoConnection, match="6 cut short"):
        explain_bytes(pcap_file(_frames("plain"), snaplen=40))               # 14 + 20: no room for TCP
    recs = _frames("plain")
    recs[3] = (recs[3][0], recs[3][1][:40])
    d = explain_bytes(pcap_file(recs), svg=False)
    assert d["file"]["cut_short"] == 1 and any("snap length" in n for n in d["notes"])


def test_snaplen_that_keeps_the_tcp_header_keeps_the_lengths():
    recs = [(t, f) for t, f in _frames("plain")]
    d = explain_bytes(pcap_file(recs, snaplen=54), svg=False)["connection"]       # no TCP options
    assert flags_seq_ack(d) == flags_seq_ack(conn("plain", svg=False))


def test_out_of_order_time_stamps():
    recs = _frames("plain")
    recs[4] = (recs[2][0] - 5, recs[4][1])                   # frame 5 stamped before frame 3
    d = explain_bytes(pcap_file(recs), svg=False)
    assert any("frame 5's time stamp is earlier" in n for n in d["notes"])
    times = [s["t"] for s in d["connection"]["segments"]]
    assert times == sorted(times)


def test_one_direction_only():
    recs = [r for r, seg in zip(_frames("plain"), conn("plain", svg=False)["segments"], strict=True)
            if seg["src"] == "client"]
    d = explain_bytes(pcap_file(recs), svg=False)["connection"]
    # Zeek: "SH  Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder"
    assert d["conn_state"] == "SH"
    assert any("whether anything listened" in u for u in d["unseen"])
    assert not d["model"]["ran"] and "too little" in d["model"]["why"]


def test_midstream_capture():
    d = explain_bytes(synthetic(ZEEK["OTH"][1]), svg=False)["connection"]
    assert d["conn_state"] == "OTH" and any("no SYN" in u for u in d["unseen"])


@pytest.mark.parametrize("data,words", [(b"", "empty"), (b"hello world, no pcap", "not a pcap"),
                                         (None, "cannot read")])
def test_cli_one_line_and_exit_2(tmp_path, capsys, data, words):
    from tcpsim.cli import main
    f = tmp_path / "x.pcap"
    if data is not None:
        f.write_bytes(data)
    assert main(["explain", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_cli_formats(tmp_path, capsys):
    from tcpsim.cli import main
    f = tmp_path / "s.pcap"
    f.write_bytes(sample("lost-fin"))
    assert main(["explain", str(f)]) == 0
    out = capsys.readouterr().out
    assert "Zeek conn_state SF" in out and "it agrees" in out and "FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT" in out
    assert main(["explain", str(f), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["connection"]["lost"] == [4]
    assert main(["explain", str(f), "--format", "svg"]) == 0
    assert capsys.readouterr().out.startswith("<svg")
    assert main(["explain", str(f), "--conn", "0"]) == 2
    assert "--conn wants" in capsys.readouterr().err


def test_memory_stays_bounded_on_a_long_connection():
    """Summarising streams: 20,000 data segments of one connection keep no per-packet state."""
    import tracemalloc
    steps = ZEEK["S1"][1] + [("o", "PA", 100)] * 20000
    data = synthetic(steps)
    tracemalloc.start()
    got = summarise(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got["connections"][0]["packets"] == [20002, 1]
    assert peak < len(data) + 2_000_000         # the input bytes themselves, and a little


def test_importing_the_explainer_loads_no_dpkt_and_no_subprocess_user():
    """Pyodide runs tcpsim.capture: dpkt is imported when a capture is read, nothing at import time."""
    from test_layers import loaded_after
    loaded = loaded_after("import tcpsim.capture")
    assert "tcpsim.capture.explain" in loaded and "dpkt" not in loaded


def test_the_notebook_view_and_the_upload_panel():
    from tcpsim.book.capture import CapturePanel, CaptureView
    from tcpsim.render.figure import inline_svgs
    view = CaptureView(sample("lost-fin"))
    page = view._repr_html_()
    assert "<svg" not in page and page.count('<img class="tcpsim-svg"') == 3     # untrusted Lab shows <img>
    assert inline_svgs(page).count("<svg") == 3 and "Zeek conn_state SF" in repr(view)
    out = CapturePanel().explain(sample("rst"))
    assert out[0]["data"]["text/plain"].startswith("#1  127.0.0.1:40000 → 127.0.0.1:5000  RSTO")
    err = CapturePanel().explain(b"not a capture at all")
    assert err[0]["text"].startswith("error: not a pcap") and err[0]["text"].count("\n") == 1


def test_trace_of_is_the_explained_trace_and_the_renderers_draw_it():
    from tcpsim.capture import trace_of
    from tcpsim.render.ladder import ladder
    tr = trace_of(sample("lost-fin"))
    assert json.loads(tr.to_json()) == conn("lost-fin", svg=False)["trace"]
    assert [r.i for r in tr.segments if r.dropped] == [4]
    assert ladder(tr, relative=True).svg() == conn("lost-fin")["svg"]["ladder"]


def test_without_dpkt_reading_is_a_clean_error(monkeypatch):
    import sys

    from tcpsim.capture import CaptureFileError
    monkeypatch.setitem(sys.modules, "dpkt", None)          # import dpkt now raises ImportError
    with pytest.raises(CaptureFileError, match=r"needs dpkt \(pip install dpkt==1.9.8\)"):
        summarise(sample("plain"))
