"""The drop-a-packet panel: what can be dropped, its static twin, its widget."""

import pytest

from tcpsim.widgets import DropPanel


@pytest.fixture(scope="module")
def panel():
    return DropPanel("connect-close", knobs=("time_wait",))


def test_droppable_segments_are_the_loss_free_exchange(panel):
    assert [(d.src, d.flags, d.seq, d.ack) for d in panel.droppable] == [
        ("client", "S", 100, None), ("server", "SA", 300, 101), ("client", "A", 101, 301),
        ("client", "FA", 101, 301), ("server", "FA", 301, 102), ("client", "A", 102, 302)]


def test_a_drop_means_the_same_segment_in_any_combination(panel):
    tr = panel.run([3, 6])
    lost = [(r.seg.flags, r.seg.seq, r.seg.ack) for r in tr.segments if r.dropped]
    assert lost == [("A", 101, 301), ("A", 102, 302)]   # not the re-ACK of the SYN-ACK


def test_static_twin_is_deterministic_and_shows_the_loss(panel):
    a = panel.show(drop=[2])._repr_html_()
    assert a == panel.show(drop=[2])._repr_html_()
    assert "(lost)" in a and "(rtx)" in a and "<table" in a
    assert "(lost)" not in panel.show()._repr_html_()


def test_time_wait_knob_turns_the_reack_into_a_reset(panel):
    flags = [r.seg.flags for r in panel.run([6], time_wait=False).segments]
    assert flags[-1] == "R"
    assert "R" not in [r.seg.flags for r in panel.run([6]).segments]


def test_variants_cover_every_single_and_pair(panel):
    v = panel.variants()
    n = len(panel.droppable)
    assert len(v) == (1 + n + n * (n - 1) // 2) * 2
    assert "2,5|time_wait=0" in v and "|time_wait=1" in v


def test_widget_toggle_redraws_and_reset_restores(panel):
    box = panel.widget()
    controls, figures, table = box.children
    toggles = controls.children[1].children
    ladder_html = figures.children[0]
    before = ladder_html.value
    toggles[1].value = True                      # drop the SYN-ACK
    assert ladder_html.value != before and "(lost)" in ladder_html.value
    assert "dropped" in table.value
    reset = controls.children[2].children[-1]
    reset.click()
    assert ladder_html.value == before and not any(t.value for t in toggles)


def test_unknown_drop_is_a_clear_error(panel):
    with pytest.raises(ValueError, match="no segment 9 to drop; choose from 1 to 6"):
        panel.show(drop=[9])


def test_delay_knob_offers_the_scenarios_own_value_first():
    p = DropPanel("connect-close", knobs=("delay",))
    assert p.knob_values("delay") == (0.05, 0.005, 0.25) and p.defaults() == {"delay": 0.05}
    slow = p.run([2], delay=0.25)
    assert [r.t for r in slow.segments][:2] == [0, 250_000]
    assert "|delay=0.25" in p.variants(max_drops=0)


def test_knobs_start_from_the_scenarios_own_what_if_and_can_undo_it():
    p = DropPanel("incarnation-no-time-wait", knobs=("time_wait",))
    assert p.defaults() == {"time_wait": False}
    assert "whatif" not in p.scenario(time_wait=True)
    assert p.scenario()["whatif"] == {"time_wait": 0}


def test_segments_the_scenario_already_loses_are_not_offered():
    p = DropPanel("lost-synack")
    assert all(not (d.src == "server" and d.flags == "SA") for d in p.droppable)
