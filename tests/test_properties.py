"""Properties that hold under any pattern of loss, duplication and delay."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpsim.network import run
from tcpsim.segment import seq_diff
from tcpsim.states import State


def lossy(seed, loss, dup, jitter, send, profile):
    return {"profile": profile, "delay": 0.05,
            "endpoints": {
                "client": {"port": 40000, "isn": 4294967000, "calls": [   # near 2**32: seq numbers wrap
                    {"t": 0, "call": "connect", "to": "server"},
                    {"on": "connected", "call": "send", "bytes": send},
                    {"t": 3, "call": "close"}]},
                "server": {"port": 80, "isn": 300, "calls": [
                    {"t": 0, "call": "listen"},
                    {"on": "accepted", "call": "send", "bytes": 2000},
                    {"on": "eof", "call": "close"},
                    {"t": 4, "call": "close"}]}},
            "network": {"random": {"seed": seed, "loss": loss, "duplicate": dup, "jitter": jitter}}}


runs = given(seed=st.integers(0, 2**32 - 1), loss=st.floats(0, 0.5), dup=st.floats(0, 0.3),
             jitter=st.sampled_from([0.0, 0.02, 0.2]), send=st.integers(1, 5000),
             profile=st.sampled_from(["linux", "rfc9293"]))


@settings(max_examples=150, deadline=None)
@runs
def test_lossy_runs_end_and_keep_the_invariants(seed, loss, dup, jitter, send, profile):
    tr = run(lossy(seed, loss, dup, jitter, send, profile))
    isn = tr.isn
    # 1. Nobody acknowledges a sequence number the other side never sent.
    highest = {h: 0 for h in isn}
    for r in tr.segments:
        s = r.seg
        if s.ack is not None and s.dst in isn:
            assert seq_diff(s.ack, isn[s.dst]) <= highest[s.dst], f"#{r.i} acks unsent data"
        end = seq_diff(s.seq, isn[s.src]) + s.seg_len
        highest[s.src] = max(highest[s.src], end)
    # 2. Whoever enters ESTABLISHED has had its SYN acknowledged by a segment that arrived.
    for c in tr.changes:
        if c.new is State.ESTABLISHED:
            me = c.endpoint
            peer = "server" if me == "client" else "client"
            assert any(r.seg.src == peer and r.seg.ack is not None and r.arrive is not None and r.arrive <= c.t
                       and seq_diff(r.seg.ack, isn[me]) >= 1 for r in tr.segments), f"{me} established too early"
    # 3. The run ends, and nobody is left half-way: connections end CLOSED, the listener LISTEN.
    for name, state in tr.final.items():
        assert state in (State.CLOSED, State.LISTEN), (name, state)


@settings(max_examples=25, deadline=None)
@runs
def test_same_scenario_same_trace(seed, loss, dup, jitter, send, profile):
    a = run(lossy(seed, loss, dup, jitter, send, profile)).to_json()
    b = run(lossy(seed, loss, dup, jitter, send, profile)).to_json()
    assert a == b


@settings(max_examples=30, deadline=None)
@runs
def test_any_run_draws(seed, loss, dup, jitter, send, profile):
    """Whatever the network did, both diagrams of the run render to valid SVG."""
    import xml.etree.ElementTree as ET

    from tcpsim.diagram import state_diagram
    from tcpsim.ladder import ladder

    tr = run(lossy(seed, loss, dup, jitter, send, profile))
    for svg in (ladder(tr).svg(), state_diagram("all", trace=tr).svg()):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and root.find("{http://www.w3.org/2000/svg}title") is not None
