"""RFC 9293's connection figures, reproduced segment by segment.

Figures 6 and 7 start from the ISNs 100 and 300.  Figures 12 and 13 start in
ESTABLISHED with SND.NXT = 100 and 300, so there the ISNs are 99 and 299 (the
SYN took one number).  Every segment's flags, seq and ack, and every state
each side passes through, are compared with the figure.
"""

from tcpsim.network import run


def scenario(client_calls, server_calls, isn=(100, 300)):
    return {"profile": "rfc9293", "delay": 0.05, "endpoints": {
        "A": {"port": 40000, "isn": isn[0], "calls": client_calls},
        "B": {"port": 80, "isn": isn[1], "calls": server_calls}}}


def segs(trace):
    return [(r.seg.src, r.seg.flags, r.seg.seq, r.seg.ack, r.seg.len) for r in trace.segments]


def names(trace, who):
    return [s.value for s in trace.states(who)]


def test_figure_6_basic_three_way_handshake():
    tr = run(scenario([{"t": 0, "call": "connect", "to": "B"}, {"on": "connected", "call": "send", "bytes": 10}],
                      [{"t": 0, "call": "listen"}]))
    assert segs(tr) == [
        ("A", "S", 100, None, 0),        # 2. SYN-SENT --> <SEQ=100><CTL=SYN>
        ("B", "SA", 300, 101, 0),        # 3. <-- <SEQ=300><ACK=101><CTL=SYN,ACK>
        ("A", "A", 101, 301, 0),         # 4. --> <SEQ=101><ACK=301><CTL=ACK>
        ("A", "A", 101, 301, 10),        # 5. --> <SEQ=101><ACK=301><CTL=ACK><DATA>
        ("B", "A", 301, 111, 0),         #    (B acknowledges the data)
    ]
    assert names(tr, "A") == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert names(tr, "B") == ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED"]


def test_figure_7_simultaneous_open():
    tr = run(scenario([{"t": 0, "call": "connect", "to": "B"}], [{"t": 0, "call": "connect", "to": "A"}]))
    assert sorted(segs(tr)) == sorted([
        ("A", "S", 100, None, 0),        # 2. SYN-SENT --> <SEQ=100><CTL=SYN>
        ("B", "S", 300, None, 0),        # 3. <-- <SEQ=300><CTL=SYN> <-- SYN-SENT
        ("A", "SA", 100, 301, 0),        # 5. SYN-RECEIVED --> <SEQ=100><ACK=301><CTL=SYN,ACK>
        ("B", "SA", 300, 101, 0),        # 6. <-- <SEQ=300><ACK=101><CTL=SYN,ACK> <-- SYN-RECEIVED
    ])
    for who in "AB":
        assert names(tr, who) == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]


def test_figure_12_normal_close():
    tr = run(scenario([{"t": 0, "call": "connect", "to": "B"}, {"t": 1, "call": "close"}],
                      [{"t": 0, "call": "listen"}, {"on": "eof", "after": 0.5, "call": "close"}], isn=(99, 299)))
    assert segs(tr)[3:] == [
        ("A", "FA", 100, 300, 0),        # 2. FIN-WAIT-1 --> <SEQ=100><ACK=300><CTL=FIN,ACK> --> CLOSE-WAIT
        ("B", "A", 300, 101, 0),         # 3. FIN-WAIT-2 <-- <SEQ=300><ACK=101><CTL=ACK> <-- CLOSE-WAIT
        ("B", "FA", 300, 101, 0),        # 4. TIME-WAIT <-- <SEQ=300><ACK=101><CTL=FIN,ACK> <-- LAST-ACK
        ("A", "A", 101, 301, 0),         # 5. TIME-WAIT --> <SEQ=101><ACK=301><CTL=ACK> --> CLOSED
    ]
    assert names(tr, "A")[2:] == ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    assert names(tr, "B")[3:] == ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    tw = [c for c in tr.changes if c.endpoint == "A" and c.new.value in ("TIME_WAIT", "CLOSED")]
    assert tw[1].t - tw[0].t == 240_000_000      # 6. (2 MSL) with MSL = 2 minutes


def test_figure_13_simultaneous_close():
    tr = run(scenario([{"t": 0, "call": "connect", "to": "B"}, {"t": 1, "call": "close"}],
                      [{"t": 0, "call": "listen"}, {"t": 1, "call": "close"}], isn=(99, 299)))
    assert sorted(segs(tr)[3:]) == sorted([
        ("A", "FA", 100, 300, 0),        # 2. FIN-WAIT-1 --> <SEQ=100><ACK=300><CTL=FIN,ACK>
        ("B", "FA", 300, 100, 0),        #    <-- <SEQ=300><ACK=100><CTL=FIN,ACK> <-- FIN-WAIT-1
        ("A", "A", 101, 301, 0),         # 3. CLOSING --> <SEQ=101><ACK=301><CTL=ACK>
        ("B", "A", 301, 101, 0),         #    <-- <SEQ=301><ACK=101><CTL=ACK> <-- CLOSING
    ])
    assert names(tr, "A")[2:] == ["ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "CLOSED"]
    assert names(tr, "B")[3:] == ["ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "CLOSED"]


def test_time_wait_reacks_a_retransmitted_fin_and_restarts_2msl():
    """RFC 9293 §3.10.7.4: in TIME_WAIT a retransmitted FIN is acknowledged and
    the 2 MSL timeout restarted (here the last ACK is lost once)."""
    tr = run("lost-last-ack")
    rtx_fin = [r for r in tr.segments if r.seg.src == "server" and r.rtx][0]
    reack = [r for r in tr.segments if r.seg.src == "client" and r.t == rtx_fin.arrive][0]
    assert (reack.seg.flags, reack.seg.seq, reack.seg.ack) == ("A", 102, 302)
    closed = [c for c in tr.changes if c.endpoint == "client" and c.old.value == "TIME_WAIT"][0]
    assert closed.t == rtx_fin.arrive + 60_000_000     # 60 s counted again from the re-ACK


def test_abort_sends_rst_ack_in_linux_and_rst_in_the_rfc():
    for profile, flags in (("linux", "RA"), ("rfc9293", "R")):
        sc = {"profile": profile, "endpoints": {
            "client": {"port": 40000, "isn": 100, "calls": [{"t": 0, "call": "connect", "to": "server"},
                                                             {"t": 1, "call": "abort"}]},
            "server": {"port": 80, "isn": 300, "calls": [{"t": 0, "call": "listen"}]}}}
        rst = run(sc).segments[-1].seg
        assert (rst.flags, rst.seq) == (flags, 101)     # <SEQ=SND.NXT><CTL=RST> (kernel: R.A, relative seq 1)
