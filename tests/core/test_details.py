"""Which WHMCS clients' details a run reads (``syncd.sync.details``) and what the run then does
with them, through the real engine on the in-memory sides (DESIGN §9 "Cost", issue 12).

WHMCS's listing carries no mapped field (``MemorySide.unread``); ``details`` reads them, counted
per client in ``calls["details"]``. A poll where everyone is linked reads none."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from syncd.errors import IncompleteListing
from syncd.fieldmap import WOOCOMMERCE, FieldRule
from syncd.model import DEFAULT_FIELDS, Direction, Link, Record, Side, Snapshot
from syncd.ports import Details, RunOutcome
from syncd.sync.details import joined, needed
from syncd.sync.engine import run_sync
from syncd.sync.policy import Policy
from tests.core.memory import DUMMY, MemorySide, MemoryStore
from tests.core.scenario import now

RULES = tuple(FieldRule(w, p, kind) for w, p, kind in WOOCOMMERCE)
NAMES = tuple(r.name for r in RULES)
FIELDS = (*DEFAULT_FIELDS, *NAMES)
W, P = Side.WHMCS, Side.WORDPRESS
ADDRESS = {"address1": "9 Dock Rd", "address2": "", "city": "Hull", "state": "East Riding", "postcode": "HU1 1AA",
           "country": "GB", "phonenumber": "01482 555000"}


def rec(side: Side, rid: int, email: str, *, closed: bool = False) -> Record:
    return Record(side, rid, {"email": email}, closed=closed, roles=("subscriber",) if side is P else ())


def snap(side: Side, records: Sequence[Record], admins: frozenset[str] = frozenset()) -> Snapshot:
    return Snapshot(side, tuple(records), admin_emails=admins, fields=FIELDS)


WHMCS = snap(W, [rec(W, 1, "linked@x.io"), rec(W, 2, "new@x.io"), rec(W, 3, "alone@x.io"),
                 rec(W, 4, "boss@x.io"), rec(W, 5, "gone@x.io", closed=True)], admins=frozenset({"boss@x.io"}))
WP = snap(P, [rec(P, 101, "linked@x.io"), rec(P, 102, "new@x.io")])
LINKS = [Link(1, 101, {"email": "linked@x.io"})]


@pytest.mark.parametrize(("policy", "every", "expected"), [
    (Policy(mapped=()), False, ()),  # nothing mapped: nothing read, ever
    (Policy(mapped=(), full=True), False, ()),
    (Policy(mapped=RULES), False, (2, 3)),  # the unlinked ones; never an admin's or a Closed client
    (Policy(mapped=RULES, full=True), False, (1, 2, 3)),  # a full pass: every client
    (Policy(mapped=RULES), True, (1, 2, 3)),  # a one-user run: every client of its partial listing
    # a run that creates no WordPress user reads only the clients it may link to one
    (Policy(mapped=RULES, direction=Direction.WP_TO_WHMCS), False, (2,)),
])
def test_which_clients_are_read(policy: Policy, every: bool, expected: tuple[int, ...]) -> None:
    assert needed(WHMCS, WP, LINKS, policy, every=every) == expected


def test_a_poll_where_everyone_is_linked_reads_nothing() -> None:
    links = [Link(1, 101), Link(2, 102), Link(3, 103)]
    assert needed(WHMCS, WP, links, Policy(mapped=RULES)) == ()


def test_a_field_wordpress_cannot_store_is_not_read() -> None:
    wp = Snapshot(P, WP.records, fields=DEFAULT_FIELDS)  # the meta keys are not exposed
    assert needed(WHMCS, wp, LINKS, Policy(mapped=RULES, full=True)) == ()


def test_joined_adds_what_was_read_and_drops_what_the_side_does_not_have() -> None:
    details = Details(values={2: {"city": "Hull", "customfield.9": "x"}}, unreadable=frozenset({"customfield.9"}))
    whmcs = Snapshot(W, WHMCS.records, fields=(*FIELDS, "customfield.9"))
    out = joined(whmcs, details)
    by_id = {r.remote_id: r for r in out.records}
    assert dict(by_id[2].fields) == {"email": "new@x.io", "city": "Hull"}
    assert dict(by_id[3].fields) == {"email": "alone@x.io"}  # not read: no mapped field at all
    assert "customfield.9" not in out.fields and "city" in out.fields


# -- whole runs on the in-memory sides -------------------------------------------------------


def world() -> tuple[MemorySide, MemorySide, MemoryStore]:
    whmcs = MemorySide(W, fields=FIELDS)
    whmcs.unread = set(NAMES)
    whmcs.details_readable = True
    wp = MemorySide(P, fields=FIELDS)
    return whmcs, wp, MemoryStore()


def run(whmcs: MemorySide, wp: MemorySide, store: MemoryStore, *, full: bool = False,
        direction: Direction = Direction.BOTH) -> dict[str, int]:
    policy = Policy(direction=direction, dummy_values={**DUMMY, "address1": "Not provided", "country": "US",
                                                       "phonenumber": "0000000000"}, mapped=RULES, full=full)
    whmcs.reset_counts()
    wp.reset_counts()
    _plan, report = run_sync(whmcs=whmcs, wp=wp, store=store, policy=policy, log=lambda _l, _m: None, now=now)
    assert report.outcome is RunOutcome.OK, report
    return dict(report.counts)


def test_a_whmcs_client_with_an_address_becomes_a_wordpress_user_with_it() -> None:
    whmcs, wp, store = world()
    cid = whmcs.external_add("cleo@x.io", "Cleo", "Client")
    whmcs.external_edit(cid, **ADDRESS)
    assert run(whmcs, wp, store) == {"create": 1}
    assert whmcs.calls["details"] == 1
    [user] = wp.accounts.values()
    assert {k: user.fields[k] for k in ADDRESS} == ADDRESS


def test_a_poll_reads_no_details_and_a_whmcs_edit_waits_for_the_full_pass() -> None:
    whmcs, wp, store = world()
    cid = whmcs.external_add("cleo@x.io", "Cleo", "Client")
    whmcs.external_edit(cid, **ADDRESS)
    run(whmcs, wp, store)
    whmcs.external_edit(cid, city="Leeds")
    assert run(whmcs, wp, store) == {}
    assert whmcs.calls["details"] == 0 and wp.writes == [] and whmcs.writes == []
    [user] = wp.accounts.values()
    assert user.fields["city"] == "Hull"
    assert run(whmcs, wp, store, full=True) == {"update": 1}
    assert whmcs.calls["details"] == 1 and user.fields["city"] == "Leeds"
    assert run(whmcs, wp, store, full=True) == {} and run(whmcs, wp, store) == {}


def test_a_wordpress_edit_is_carried_at_a_poll_without_reading_details() -> None:
    whmcs, wp, store = world()
    cid = whmcs.external_add("cleo@x.io", "Cleo", "Client")
    whmcs.external_edit(cid, **ADDRESS)
    run(whmcs, wp, store)
    [user] = wp.accounts.values()
    wp.external_edit(user.remote_id, city="York")
    assert run(whmcs, wp, store) == {"update": 1}
    assert whmcs.calls["details"] == 0 and whmcs.accounts[cid].fields["city"] == "York"


@pytest.mark.parametrize("priority_side", [W, P])
def test_first_contact_reads_details_and_never_blanks_a_filled_value(priority_side: Side) -> None:
    whmcs, wp, store = world()
    cid = whmcs.external_add("both@x.io", "Bo", "Th")
    whmcs.external_edit(cid, address1="", city="Hull", country="GB", phonenumber="")
    uid = wp.external_add("both@x.io", "Bo", "Th")
    wp.external_edit(uid, address1="5 Mill Lane", city="", country="GB", phonenumber="+44 1482 555000")
    policy = Policy(priority=priority_side, mapped=RULES, dummy_values=DUMMY)
    _plan, report = run_sync(whmcs=whmcs, wp=wp, store=store, policy=policy, log=lambda _l, _m: None, now=now)
    assert report.outcome is RunOutcome.OK and whmcs.calls["details"] == 1
    for side in (whmcs.accounts[cid], wp.accounts[uid]):
        assert (side.fields["address1"], side.fields["city"], side.fields["country"]) == ("5 Mill Lane", "Hull", "GB")
        assert side.fields["phonenumber"] in ("+44 1482 555000",)


def test_a_wordpress_customer_becomes_a_whmcs_client_with_its_address_no_dummy() -> None:
    whmcs, wp, store = world()
    uid = wp.external_add("shop@x.io", "Sam", "Shop")
    wp.external_edit(uid, **ADDRESS)
    assert run(whmcs, wp, store) == {"create": 1}
    [client] = whmcs.accounts.values()
    assert {k: client.fields[k] for k in ADDRESS} == ADDRESS
    assert store.links()[0].dummy_fields == frozenset()
    assert run(whmcs, wp, store, full=True) == {}


def test_dummies_a_whmcs_create_needed_never_reach_wordpress_even_in_a_full_pass() -> None:
    whmcs, wp, store = world()
    uid = wp.external_add("bare@x.io", "Bo", "Bare")
    wp.external_edit(uid, city="York")
    assert run(whmcs, wp, store) == {"create": 1}
    [client] = whmcs.accounts.values()
    assert client.fields["address1"] == "Not provided" and client.fields["country"] == "US"
    assert run(whmcs, wp, store, full=True) == {}
    assert not wp.accounts[uid].fields.get("address1") and not wp.accounts[uid].fields.get("country")


def test_a_failed_details_read_stops_the_run_before_planning() -> None:
    whmcs, wp, store = world()
    whmcs.external_add("cleo@x.io", "Cleo", "Client")
    whmcs.details_error = IncompleteListing("WHMCS GetClientsDetails for client #1 failed: HTTP 503", side="whmcs")
    with pytest.raises(IncompleteListing):
        run_sync(whmcs=whmcs, wp=wp, store=store, policy=Policy(mapped=RULES), log=lambda _l, _m: None, now=now)
    assert wp.writes == [] and store.links() == []
    assert store.runs()[0].outcome is RunOutcome.FAILED


def test_a_client_gone_before_its_details_were_read_keeps_no_mapped_field() -> None:
    whmcs, wp, store = world()
    cid = whmcs.external_add("cleo@x.io", "Cleo", "Client")
    whmcs.external_edit(cid, **ADDRESS)
    whmcs.details_readable = False  # every client "gone" by the time its details are asked for
    assert run(whmcs, wp, store) == {"create": 1}
    [user] = wp.accounts.values()
    assert not any(user.fields.get(k) for k in ADDRESS)  # nothing read, nothing written
    whmcs.details_readable = True
    assert run(whmcs, wp, store, full=True)["update"] == 1  # first contact for these fields (and a base for
    assert {k: user.fields[k] for k in ADDRESS} == ADDRESS  # the empty address2, which both hold)
    assert run(whmcs, wp, store, full=True) == {}


def test_a_record_that_carries_its_mapped_fields_already_is_not_read_again() -> None:
    read = Record(W, 6, {"email": "read@x.io", **{n: "" for n in NAMES}})
    whmcs = snap(W, [*WHMCS.records, read])
    assert 6 not in needed(whmcs, WP, LINKS, Policy(mapped=RULES, full=True))
