"""The "no RFC 5961" what-if behaves as RFC 793 §3.9 (SEGMENT ARRIVES) says.

RFC 793, second check, ESTABLISHED / FIN-WAIT-1 / FIN-WAIT-2 / CLOSE-WAIT:
  "If the RST bit is set then, any outstanding RECEIVEs and SEND should
  receive "reset" responses. All segment queues should be flushed. Users
  should also receive an unsolicited general "connection reset" signal.
  Enter the CLOSED state, delete the TCB, and return."
CLOSING / LAST-ACK / TIME-WAIT:
  "If the RST bit is set then, enter the CLOSED state, delete the TCB, and
  return."
Fourth check, the synchronized states:
  "If the SYN is in the window it is an error, send a reset, any outstanding
  RECEIVEs and SEND should receive "reset" responses, all segment queues
  should be flushed, the user should also receive an unsolicited general
  "connection reset" signal, enter the CLOSED state, delete the TCB, and
  return."
Both checks come after the first (sequence number) check, so "in the window"
means acceptable there; RFC 793's reset for a segment without ACK is
<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.  RFC 5961 (optional in RFC 9293)
replaced both with a challenge ACK unless SEG.SEQ = RCV.NXT; the profiles'
defaults keep that, checked here too.
"""

import pytest

from helpers import S, reach, seg_to
from tcpsim.core.host import Host
from tcpsim.core.records import NoticeKind

SYNC = [S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT]
USER_GONE = {S.CLOSING, S.LAST_ACK, S.TIME_WAIT}
IN_WINDOW = {"RCV.NXT+1": 1, "inside": 32767, "right edge": 65534}


def _arrive(state, profile, flags, offset, rfc5961):
    net, conn = reach(state, profile, rfc5961=rfc5961)
    conn.host.take_events()
    out = net.inject("a", seg_to(conn, flags, conn.rcv_nxt + offset))
    return conn, out


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
@pytest.mark.parametrize("where", IN_WINDOW)
@pytest.mark.parametrize("state", SYNC, ids=lambda s: s.name)
def test_any_rst_in_the_window_resets(state, where, profile):
    conn, out = _arrive(state, profile, "R", IN_WINDOW[where], rfc5961=False)
    assert conn.state is S.CLOSED and out == []


@pytest.mark.parametrize("state", SYNC, ids=lambda s: s.name)
def test_the_user_is_told_only_where_it_has_not_closed(state, monkeypatch):
    net, conn = reach(state, "rfc9293", rfc5961=False)
    told = []
    monkeypatch.setattr(Host, "tell", lambda self, now, tcb, kind, detail="": told.append(kind))
    net.inject("a", seg_to(conn, "R", conn.rcv_nxt + 5))
    assert [k for k in told if k is NoticeKind.RESET] == ([] if state in USER_GONE else [NoticeKind.RESET])


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
@pytest.mark.parametrize("state", SYNC, ids=lambda s: s.name)
def test_a_syn_in_the_window_draws_a_reset_and_closes(state, profile):
    conn, out = _arrive(state, profile, "S", 7, rfc5961=False)
    seq = (conn.rcv_nxt + 7) % 2**32
    assert conn.state is S.CLOSED
    assert [(s.flags, s.seq, s.ack) for s, _ in out] == [("RA", 0, (seq + 1) % 2**32)]


@pytest.mark.parametrize("flags", ["R", "S"])
@pytest.mark.parametrize("state", SYNC, ids=lambda s: s.name)
def test_outside_the_window_nothing_changes(state, flags):
    """First check: "If a segment's contents straddle the boundary ... not acceptable"."""
    conn, _ = _arrive(state, "rfc9293", flags, 65535, rfc5961=False)
    assert conn.state is state


@pytest.mark.parametrize("state", [S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2], ids=lambda s: s.name)
def test_with_rfc5961_a_guess_inside_the_window_draws_a_challenge_ack(state):
    """RFC 9293 §3.10.7.4 second check (RFC 5961 §3.2): "If the RST bit is set and the
    sequence number does not exactly match the next expected sequence value, yet is
    within the current receive window, TCP endpoints MUST send an acknowledgment
    (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"."""
    conn, out = _arrive(state, "rfc9293", "R", 5, rfc5961=True)
    assert conn.state is state
    assert [(s.flags, s.seq, s.ack) for s, _ in out] == [("A", conn.snd_nxt, conn.rcv_nxt)]
