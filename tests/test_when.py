"""The appendix "What TCP does when..." (tcpsim.book.when): its runs reach the
states they claim, its answers agree with the RFC reading and with the kernel's
recording, and its page links every cell to its details."""

import re

import pytest

from tcpsim.book.when import AT, KINDS, STATES, WhenTable, base_scenario
from tcpsim.core.network import run
from tcpsim.data import linux

#: cells where the rfc9293 profile departs from the RFC's text, with the cause
#: (the same cause as in tests/test_conformance.py's BUGS)
RFC_DIFFERS = {"SYN-SENT|RST-ACK": "'connection refused' (the socket API's ECONNREFUSED) for RFC 9293's "
                                   "'connection reset' in SYN-SENT"}


@pytest.fixture(scope="module")
def table():
    return WhenTable(kernel=linux("conformance"))


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
@pytest.mark.parametrize("state", STATES)
def test_each_run_brings_host_a_into_its_state(state, profile):
    sc = base_scenario(state, profile)
    sc["until"] = AT
    tr = run(sc)
    want = STATES[state][2].rstrip("*")
    if state == "CLOSED":
        assert not [c for c in tr.changes if c.endpoint.startswith("A")]
        return
    name = "A:80" if state == "LISTEN" else "A"
    assert tr.final[name].value == want, (state, {k: v.value for k, v in tr.final.items()})


@pytest.mark.parametrize("key", [pytest.param(f"{s}|{k}", marks=[pytest.mark.xfail(strict=True, reason=RFC_DIFFERS[
    f"{s}|{k}"])] if f"{s}|{k}" in RFC_DIFFERS else []) for s in STATES for k in KINDS])
def test_the_rfc9293_profile_does_what_the_rfc_allows(table, key):
    cell = table.cells[key]
    assert cell.rfc_agrees("rfc9293"), (key, cell.verdict.explain(), cell.sim["rfc9293"].describe())


@pytest.mark.parametrize("key", [f"{s}|{k}" for s in STATES for k in KINDS])
def test_the_linux_profile_does_what_the_kernel_did(table, key):
    cell = table.cells[key]
    assert cell.kernel is not None, f"{cell.id} is not in the recording"
    assert cell.sim["linux"].alike(cell.kernel), (key, cell.kernel.describe(), cell.sim["linux"].describe())


def test_the_page_links_every_cell_to_its_details(table):
    page = table._repr_html_()
    links = re.findall(r'<a href="#(when-[\w-]+)"', page)
    ids = re.findall(r'<details id="(when-[\w-]+)"', page)
    assert len(links) == len(ids) == len(STATES) * len(KINDS) == len(set(ids))
    assert sorted(links) == sorted(ids)
    assert page.count("<tr>") == 1 + len(STATES)
    for block in page.split("<details ")[1:]:
        assert "\u201c" in block.split("</blockquote>")[0], "every cell quotes a clause"


def test_every_cell_has_its_ladders(table):
    ladders = table.ladders()
    assert set(ladders) == set(table.cells)
    for key, svgs in ladders.items():
        differ = not table.cells[key].sim["linux"].same(table.cells[key].sim["rfc9293"])
        assert len(svgs) == (2 if differ else 1) and all(s.startswith("<svg") for s in svgs), key
