"""Every row of the transition table, exercised as act-then-assert.

For each row (state, event) we drive a real connection into `state` through
an exchange with a peer, cause `event` (a user call, a crafted segment, or a
timer), and assert that exactly that row fired, that the connection is now in
the row's next state and that what it sent matches the row's `send` column.
"""

from __future__ import annotations

import pytest

from helpers import Net, S, reach, seg_to
from tcpsim.core.errors import IllegalCall
from tcpsim.core.records import Transmit
from tcpsim.core.segment import Segment, seq_add
from tcpsim.core.table import RULES, TABLE, TABLES, Event, Send, table_for
from tcpsim.core.tcb import Tcb

E = Event
SEND_FLAGS = {"SYN": {"S"}, "SYN,ACK": {"SA"}, "ACK": {"A"}, "FIN": {"FA"}, "RST": {"R", "RA"}}


@pytest.fixture
def fired(monkeypatch):
    log = []
    real = Tcb._fire

    def recording(self, event, now, seg=None):
        log.append(self.host.table.get((self.state, event)))
        return real(self, event, now, seg)

    monkeypatch.setattr(Tcb, "_fire", recording)
    return log


def _peer_segment(net, conn, event):
    """A segment that makes `conn` (in a synchronized or SYN_RECEIVED state) see `event`."""
    rn, nxt, una = conn.rcv_nxt, conn.snd_nxt, conn.snd_una
    far = seq_add(rn, 1 << 20)
    far_ack = seg_to(conn, "A", far, una)
    return {
        E.RCV_UNACCEPTABLE: seg_to(conn, "A", far, una),
        E.RCV_RST_IGNORED: seg_to(conn, "R", far),
        E.RCV_RST_IN_WINDOW: seg_to(conn, "R", rn + 5),
        E.RCV_RST_IN_WINDOW_793: seg_to(conn, "R", rn + 5),
        E.RCV_SYN_793: seg_to(conn, "S", rn + 7),
        E.RCV_RST: seg_to(conn, "R", rn),
        E.RCV_RST_PASSIVE: seg_to(conn, "R", rn),
        E.RCV_SYN: seg_to(conn, "S", rn + 7),
        E.RCV_NO_ACK: seg_to(conn, "", rn),
        E.RCV_DATA: seg_to(conn, "PA", rn, una, 10),
        E.RCV_OUT_OF_ORDER: seg_to(conn, "PA", rn + 100, una, 10),
        E.RCV_FIN: seg_to(conn, "FA", rn, una),
        E.RCV_ACK_OF_FIN: seg_to(conn, "A", rn, nxt),
        E.RCV_FIN_ACK_OF_FIN: seg_to(conn, "FA", rn, nxt),
        E.RCV_ACK: seg_to(conn, "A", rn, nxt),
        E.RCV_BAD_ACK: seg_to(conn, "A", rn, nxt + 1000),
        E.RCV_DATA_AFTER_CLOSE: seg_to(conn, "PA", rn, una, 10),
        E.RCV_ACK_UNSENT: seg_to(conn, "A", rn, nxt + 1000),
        E.RCV_ACK_TOO_OLD: seg_to(conn, "A", rn, una - net.profile.window - 1),
        E.RCV_SYN_PASSIVE: seg_to(conn, "S", rn + 7),
        E.RCV_SYN_SIMULTANEOUS: seg_to(conn, "S", conn.irs),          # the peer's SYN again
        E.RCV_DATA_AFTER_FIN: seg_to(conn, "PA", rn - 1, una, 10),     # text reaching past the peer's FIN
        E.RCV_TW_BARE_ACK: seg_to(conn, "A", rn, una),
        E.RCV_TW_OTHER: seg_to(conn, "A", rn + 5, una) if conn.state is S.TIME_WAIT else far_ack,
        E.RCV_TW_SYN: seg_to(conn, "S", rn + 7),
    }[event]


def stimulate(rule):
    """Drive a TCB into rule.state and cause rule.event; return (tcb, segments sent)."""
    st, ev = rule.state, rule.event
    profile, over, passive = "rfc9293", {}, True
    if ev in (E.TIMEOUT_DELACK, E.TIMEOUT_FIN_WAIT_2, E.RCV_DATA_AFTER_CLOSE) or not rule.holds_for("rfc9293"):
        profile = "linux"
    if ev is E.RCV_RST_RFC1337:
        over["rfc1337"] = True
    if ev in (E.RCV_RST_IN_WINDOW_793, E.RCV_SYN_793):    # the "no RFC 5961" what-if
        over["rfc5961"] = False
    if st is S.SYN_RECEIVED and ev in (E.RCV_RST, E.RCV_SYN_SIMULTANEOUS):
        passive = False

    if st is S.CLOSED:
        net = Net(profile)
        if ev is E.PASSIVE_OPEN:
            lst = net.a.listen(80, 0)
            return lst, net.collect()
        if ev is E.ACTIVE_OPEN:
            conn = net.a.connect(40000, "b", 80, 0)
            return conn, net.collect()
        seg = Segment(src="b", sport=1234, dst="a", dport=9, flags="R" if ev is E.RCV_RST else "S", seq=5)
        return None, net.inject("a", seg)

    if st is S.LISTEN and ev not in (E.RCV_RST_PASSIVE,):
        net = Net(profile, **{"syncookies": 0} if ev is E.RCV_SYN_DROPPED else
                  {"syncookies": 2} if ev in (E.RCV_SYN_COOKIE, E.RCV_ACK_COOKIE, E.RCV_ACK_QUEUE_FULL) else {})
        backlog = 0 if ev is E.RCV_SYN_DROPPED else 128
        lst = net.a.listen(80, 0, backlog=backlog, auto_accept=ev is not E.RCV_ACK_QUEUE_FULL,
                           two_way=ev is E.RCV_SYN_TWO_WAY)
        net.collect()
        mk = lambda flags, seq, ack=None: Segment(src="b", sport=5000, dst="a", dport=80,  # noqa: E731
                                                  flags=flags, seq=seq, ack=ack)
        if ev is E.CLOSE:
            lst.close(0)
            return lst, net.collect()
        if ev is E.ABORT:
            lst.abort(0)
            return lst, net.collect()
        if ev in (E.RCV_SYN, E.RCV_SYN_DROPPED, E.RCV_SYN_COOKIE, E.RCV_SYN_TWO_WAY):
            if ev is E.RCV_SYN_DROPPED:           # backlog 0 still holds one half-open connection
                net.inject("a", Segment(src="b", sport=4999, dst="a", dport=80, flags="S", seq=7))
            out = net.inject("a", mk("S", 1000))
            child = net.a.conns.get((80, "b", 5000))
            return (child if child is not None else lst), out
        if ev is E.RCV_ACK:
            return lst, net.inject("a", mk("A", 1001, 77))
        if ev is E.RCV_RST:
            return lst, net.inject("a", mk("R", 1001))
        if ev is E.RCV_UNACCEPTABLE:
            return lst, net.inject("a", mk("", 1001))
        if ev in (E.RCV_ACK_COOKIE, E.RCV_ACK_QUEUE_FULL):
            (sa, _), = net.inject("a", mk("S", 1000))
            if ev is E.RCV_ACK_QUEUE_FULL:      # the accept queue fills up meanwhile
                lst.backlog = -1                # an empty accept queue is now "full"
            out = net.inject("a", mk("A", 1001, seq_add(sa.seq, 1)))
            return (net.conn("a", -1) if ev is E.RCV_ACK_COOKIE else lst), out
        raise AssertionError(rule)

    if st is S.SYN_RECEIVED and ev in (E.RCV_ACK_QUEUE_FULL, E.RCV_ACK_OVERFLOW):
        net, conn = reach(st, profile, abort_on_overflow=ev is E.RCV_ACK_OVERFLOW)
        conn.listener.backlog = -1          # the accept queue fills meanwhile: an empty one is now "full"
        return conn, net.inject("a", seg_to(conn, "A", conn.rcv_nxt, conn.snd_nxt))

    net, conn = reach(st, profile, passive=passive, **over)

    if ev.is_user_call:
        if ev is E.SEND and st in (S.ESTABLISHED, S.CLOSE_WAIT):
            conn.send(100, net.now)
        elif ev is E.SEND:
            conn.send(100, net.now)
        elif ev is E.CLOSE:
            conn.close(net.now)
        elif ev is E.CLOSE_QUEUED:              # close() with send() data still waiting
            conn.send(100, net.now)
            net.collect()
            conn.close(net.now)
        elif ev is E.ABORT:
            conn.abort(net.now)
        return conn, net.collect()

    if ev in (E.TIMEOUT_RTX, E.TIMEOUT_GIVE_UP):
        if st in (S.ESTABLISHED, S.CLOSE_WAIT):
            conn.send(100, net.now)
            net.collect()
            net.flight.clear()
        if ev is E.TIMEOUT_GIVE_UP:
            while True:
                before = conn.recovery.retries
                out = net.fire(conn)
                if conn.recovery.retries == before:
                    return conn, out
        return conn, net.fire(conn)
    if ev in (E.TIMEOUT_KEEPALIVE, E.TIMEOUT_KEEPALIVE_GIVE_UP):
        # SO_KEEPALIVE, idle for the whole keepalive time; for the give-up, every probe unanswered
        conn.keepalive, conn.last_rcv = True, net.now
        conn.timers.rtx = None
        if ev is E.TIMEOUT_KEEPALIVE_GIVE_UP:
            conn.probes_out = net.profile.keepalive_probes
        conn.timers.arm("keepalive", net.now + conn.host.clock.keepalive_time)
        out = net.fire(conn)
        if ev is E.TIMEOUT_KEEPALIVE:        # the probe: <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>, no data
            assert [(s.seq, s.ack, s.len) for s, _ in out] == [(conn.snd_una - 1, conn.rcv_nxt, 0)]
        return conn, out
    if ev in (E.TIMEOUT_DELACK, E.TIMEOUT_2MSL, E.TIMEOUT_FIN_WAIT_2):
        if ev is E.TIMEOUT_DELACK and st is not S.CLOSE_WAIT:
            # Data that finds the connection in ping-pong mode (after one of our
            # replies: tcp_event_data_sent) and out of quick-ACK mode waits for the ato.
            conn.orphaned = False
            conn.pingpong, conn.quick, conn.ato = True, 0, net.profile.ato_min * 1_000_000
            assert net.inject("a", _peer_segment(net, conn, E.RCV_DATA)) == []
        if ev is E.TIMEOUT_FIN_WAIT_2:
            assert conn.orphaned and conn.timers.fin_wait_2 is not None
            conn.timers.rtx = None
        return conn, net.fire(conn)

    if st is S.SYN_SENT:
        iss = conn.iss
        seg = {E.RCV_SYN_ACK: seg_to(conn, "SA", 300, iss + 1),
               E.RCV_SYN: seg_to(conn, "S", 300),
               E.RCV_BAD_ACK: seg_to(conn, "SA", 300, iss + 99),
               E.RCV_RST: seg_to(conn, "RA", 0, iss + 1),
               E.RCV_RST_IGNORED: seg_to(conn, "R", 0),
               E.RCV_UNACCEPTABLE: seg_to(conn, "A", 300, iss + 1)}[ev]
        return conn, net.inject("a", seg)

    if st is S.SYN_RECEIVED and ev is E.RCV_SYN:
        return conn, net.inject("a", seg_to(conn, "S", conn.irs))
    if ev is E.RCV_FIN and st in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
        return conn, net.inject("a", seg_to(conn, "FA", conn.rcv_nxt - 1, conn.snd_una))
    if ev is E.RCV_RST_RFC1337:
        return conn, net.inject("a", seg_to(conn, "R", conn.rcv_nxt))
    if ev is E.RCV_SYN_NEW_INCARNATION:          # a listener on the TIME_WAIT side's port takes the SYN
        net.a.listen(conn.lport, net.now)
        net.collect()
        return conn, [(s, r) for s, r in net.inject("a", seg_to(conn, "S", conn.rcv_nxt + 10)) if s.flags != "SA"]
    if ev is E.RCV_DATA_AFTER_CLOSE:
        assert conn.orphaned
    if ev is E.RCV_FIN and st is S.FIN_WAIT_1:
        return conn, net.inject("a", seg_to(conn, "FA", conn.rcv_nxt, conn.snd_una))
    if ev is E.RCV_DATA and st in (S.FIN_WAIT_1, S.FIN_WAIT_2):
        conn.orphaned = False               # a half-close (shutdown) keeps receiving
    return conn, net.inject("a", _peer_segment(net, conn, ev))


def net_quickacks(conn):
    """TCP_MAX_QUICKACKS, unless the window allows fewer (tcp_incr_quickack)."""
    p = conn.host.profile
    return min(p.window // (2 * 536), p.quickacks)


@pytest.mark.parametrize("rule", RULES, ids=[f"{r.state.name}-{r.event.name}" for r in RULES])
def test_row(rule, fired):
    tcb, out = stimulate(rule)
    assert any(r is rule for r in fired), f"expected row {rule.state.name}/{rule.event.name}, fired {fired}"
    if tcb is not None:
        assert tcb.state is rule.next
    if rule.send is Send.DELAYED_ACK and rule.event is E.RCV_DATA:
        # The first data starts quick-ACK mode: ACKed at once (tcp_event_data_recv;
        # src/tcpsim/data/linux/delack.json: 100 bytes ACKed after 4-10 µs).
        assert tcb.quick == net_quickacks(tcb) - 1 and tcb.timers.delack is None
    elif rule.send is Send.DELAYED_ACK:
        # Held back (Linux tcp_fin(): pingpong), then sent when the delayed-ACK timer fires.
        assert out == [] and tcb.timers.delack is not None
        tcb.handle_timer(tcb.timers.delack)
        out = [(ev.segment, ev.rtx) for ev in iter(tcb.host.next_event, None) if isinstance(ev, Transmit)]
    flags = [s.flags for s, _ in out]
    if rule.send_text in SEND_FLAGS:
        assert flags and flags[0] in SEND_FLAGS[rule.send_text], flags
    elif rule.send is Send.RETRANSMIT:
        assert out and all(rtx for _, rtx in out)
    elif rule.send is Send.DATA:
        assert out and all(s.len > 0 for s, _ in out)
    else:
        assert out == [] or rule.event is E.RCV_ACK_COOKIE, flags


def test_every_row_is_reachable_only_through_the_table():
    """Each profile's table has exactly the rows that hold for it, one per (state, event)."""
    assert set(TABLES) == {"linux", "rfc9293"}
    for profile, table in TABLES.items():
        mine = [r for r in RULES if r.holds_for(profile)]
        assert len(table) == len(mine)
        for r in mine:
            assert table[(r.state, r.event)] is r
    assert TABLE is table_for("linux")
    # where the profiles differ, both have a row: the delayed ACK of a FIN is Linux's
    linux, rfc = table_for("linux"), table_for("rfc9293")
    assert linux[(S.ESTABLISHED, E.RCV_FIN)].send is Send.DELAYED_ACK
    assert rfc[(S.ESTABLISHED, E.RCV_FIN)].send is Send.ACK


def test_illegal_user_call_names_call_and_state():
    net = Net()
    lst = net.a.listen(80, 0)
    with pytest.raises(IllegalCall, match=r"a: can't listen\(\) in state LISTEN"):
        net.a.listen(80, 0)
    net, conn = reach(S.FIN_WAIT_2)
    with pytest.raises(IllegalCall) as err:
        conn.send(10, net.now)
    assert err.value.call == "send" and err.value.state == "FIN_WAIT_2"
    assert "can't send() in state FIN_WAIT_2" in str(err.value)
    with pytest.raises(IllegalCall, match="can't close"):
        conn.close(net.now)
    assert lst.state is S.LISTEN


def test_state_is_assigned_only_in_fire():
    """Static check: in the endpoint's modules the only assignments to `.state`
    are the one in Tcb._fire and the one in Tcb.__init__."""
    import inspect
    import re

    from tcpsim.core import connection, host, listener, tcb
    fire_src = inspect.getsource(Tcb._fire)
    init_src = inspect.getsource(Tcb.__init__)
    assign = re.compile(r"^\s*([\w.]+\s*,\s*)*[\w.]*\bstate\s*(,\s*[\w.]+\s*)*=(?!=)")
    found = 0
    for module in (tcb, connection, listener, host):
        for n, line in enumerate(inspect.getsource(module).splitlines(), 1):
            if assign.match(line) and ".state" in line.split("=")[0]:
                found += 1
                assert line.strip() in fire_src or line.strip() in init_src, \
                    f"state written outside _fire: {module.__name__} line {n}: {line}"
    assert found == 2   # the one in _fire and the one in Tcb.__init__


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
def test_retransmitted_syn_in_syn_received(profile):
    """RFC 9293 §3.10.7.4, first check: a retransmitted SYN (SEG.SEQ = IRS, below RCV.NXT)
    is not acceptable, and "If an incoming segment is not acceptable, an acknowledgment
    should be sent in reply ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".  Linux
    (tcp_check_req) instead sends the SYN,ACK again, rate-limited."""
    net, conn = reach(S.SYN_RECEIVED, profile)
    out = net.inject("a", seg_to(conn, "S", conn.irs))
    assert conn.state is S.SYN_RECEIVED
    [(seg, _)] = out
    if profile == "rfc9293":
        assert (seg.flags, seg.seq, seg.ack) == ("A", conn.snd_nxt, conn.rcv_nxt)
    else:
        assert (seg.flags, seg.seq, seg.ack) == ("SA", conn.iss, conn.rcv_nxt)


@pytest.mark.parametrize("offset, answered", [(0, False), (5, True)])
def test_linux_time_wait_starts_again_on_any_acking_segment(offset, answered):
    """Linux tcp_timewait_state_process: "In window segment, it may be only reset or
    bare ack" -> inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN); any other segment with an
    ACK is ACKed and reschedules too ("if (paws_reject || th->ack)")."""
    net, conn = reach(S.TIME_WAIT, "linux")
    net.now += 10_000_000
    out = net.inject("a", seg_to(conn, "A", conn.rcv_nxt + offset, conn.snd_una))
    assert conn.state is S.TIME_WAIT
    assert conn.timers.time_wait == net.now + conn.host.clock.time_wait
    assert [(s.flags, s.seq, s.ack) for s, _ in out] == ([("A", conn.snd_nxt, conn.rcv_nxt)] if answered else [])
