# mypy: disable-error-code="func-returns-value"
"""The rules of mapped fields (DESIGN §9), as decision-table rows over the in-memory sides:
normalising by kind, first contact, later emptying, ``apply = "on_create"``, a field's own
direction, defaults and dummies on a WHMCS create, and above all a field a side did not read
in this run (absent from the record): never empty, never a change, its base kept."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.fieldmap import FieldRule
from syncd.model import DEFAULT_FIELDS, Direction, Record, Side, digest
from syncd.render import plan_json
from syncd.render.explain import explain_text
from syncd.render.run import plan_text
from syncd.sync.explain import explain
from syncd.sync.plan import Plan
from tests.core.memory import DUMMY
from tests.core.scenario import P, Row, W, World, summary

PHONE = FieldRule("phonenumber", "meta.billing_phone", "phone")
COUNTRY = FieldRule("country", "meta.billing_country", "country")
POSTCODE = FieldRule("postcode", "meta.billing_postcode", "postcode")
ADDRESS1 = FieldRule("address1", "meta.billing_address_1", "text")
ADDRESS2 = FieldRule("address2", "meta.billing_address_2", "text")
RULES = (PHONE, COUNTRY, POSTCODE, ADDRESS1, ADDRESS2)
NAMES = tuple(r.name for r in RULES)
DUMMIES = {**DUMMY, "address1": "Not provided", "city": "Not provided", "postcode": "00000", "country": "US",
           "phonenumber": "0000000000"}
CORE_BASE = {"email": "ann@x.io", "first_name": "Ann", "last_name": "Lee", "company": ""}


def world() -> World:
    return World(whmcs_fields=(*DEFAULT_FIELDS, *NAMES), wp_fields=(*DEFAULT_FIELDS, *NAMES))


def plan(w: World, rules: tuple[FieldRule, ...] = RULES, **policy: Any) -> Plan:
    return w.plan(mapped=rules, dummy_values=DUMMIES, **policy)


def linked(w: World, whmcs: dict[str, str], wp: dict[str, str], base: dict[str, str] | None, *,
           mapped_before: bool = True) -> None:
    """Client #1 and user #101, linked on the core fields and ``base`` (the other mapped fields
    agreed empty; none of them, unless ``mapped_before``: a link older than the map), or not
    linked when ``base`` is None."""
    w.client(1, "ann@x.io", **whmcs)
    w.user(101, "ann@x.io", **wp)
    if base is not None:
        agreed = {n: "" for n in NAMES} if mapped_before else {}
        w.link(1, 101, base={**CORE_BASE, **agreed, **base})


def settles(w: World, result: Plan, rules: tuple[FieldRule, ...] = RULES, **policy: Any) -> None:
    """Execute ``result``; then a second plan has nothing to do and writes nothing."""
    report = w.execute(result)
    assert not report.errors, report.errors
    w.whmcs.reset_counts()
    w.wp.reset_counts()
    again = plan(w, rules, **policy)
    assert summary(again) == [], summary(again)


def fields(w: World, side: Side, remote_id: int) -> dict[str, str]:
    return (w.whmcs if side is W else w.wp).accounts[remote_id].fields


ROWS = [
    # Normalised by kind: these are all the same values.
    Row("phone formats compare in E.164", lambda w: linked(
        w, {"phonenumber": "+1.5035551212"}, {"phonenumber": "(503) 555-1212"}, {"phonenumber": "503 555 1212"}), []),
    Row("a national phone is read in the record's own country", lambda w: linked(
        w, {"phonenumber": "030 1234567", "country": "DE"}, {"phonenumber": "+49 30 1234567", "country": "de"},
        {"phonenumber": "+49 30 1234567", "country": "DE"}), []),
    Row("country and postcode: trimmed, upper-cased", lambda w: linked(
        w, {"country": " gb", "postcode": "sw1a 1aa "}, {"country": "GB", "postcode": "SW1A 1AA"},
        {"country": "GB", "postcode": "SW1A 1AA"}), []),
    Row("text: NFC and trimmed", lambda w: linked(
        w, {"address1": " Zoe\u0308 Street"}, {"address1": "Zo\u00eb Street"}, {"address1": "Zo\u00eb Street"}), []),
    # The three-way merge, with the field's own base.
    Row("a WHMCS edit reaches WordPress, written as WHMCS holds it", lambda w: linked(
        w, {"phonenumber": "+1.5035550000"}, {"phonenumber": "503 555 1212"}, {"phonenumber": "503 555 1212"}),
        ["update wordpress #101 phonenumber='+1.5035550000'"]),
    Row("a WordPress edit reaches WHMCS", lambda w: linked(
        w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"}),
        ["update whmcs #1 address1='2 Side St'"]),
    Row("both edited differently: priority, and the conflict reported", lambda w: linked(
        w, {"address1": "3 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"}),
        ["update wordpress #101 address1='3 Main St'", "conflict address1 whmcs"]),
    # First contact: an empty value never overwrites a filled one, whatever the priority.
    Row("first contact: WHMCS empty, WordPress filled → WHMCS gets it (priority whmcs)", lambda w: linked(
        w, {"address2": ""}, {"address2": "Flat 4"}, None),
        ["link #1-#101", "update whmcs #1 address2='Flat 4'"]),
    Row("first contact: WordPress empty, WHMCS filled → WordPress gets it (priority wordpress)", lambda w: linked(
        w, {"address2": "Flat 4"}, {"address2": ""}, None),
        ["link #1-#101", "update wordpress #101 address2='Flat 4'"], {"priority": "wordpress"}),
    Row("first contact: both filled and different → priority decides", lambda w: linked(
        w, {"address2": "Flat 4"}, {"address2": "Flat 5"}, None),
        ["link #1-#101", "update whmcs #1 address2='Flat 5'", "conflict address2 wordpress first"],
        {"priority": "wordpress"}),
    Row("a link made before the field was mapped: first contact for that field", lambda w: linked(
        w, {"address2": ""}, {"address2": "Flat 4"}, {}, mapped_before=False),
        ["rebase base:phonenumber base:country base:postcode base:address1", "update whmcs #1 address2='Flat 4'"]),
    Row("a link made before the field was mapped, equal values: only the base", lambda w: linked(
        w, {"address2": "Flat 4"}, {"address2": "Flat 4 "}, {}, mapped_before=False),
        ["rebase base:phonenumber base:country base:postcode base:address1 base:address2"]),
    # Later, emptying a field on its source is a change like any other.
    Row("WordPress empties an optional field: WHMCS is emptied", lambda w: linked(
        w, {"address2": "Flat 4"}, {"address2": ""}, {"address2": "Flat 4"}), ["update whmcs #1 address2=''"]),
    Row("WordPress empties a required field: WHMCS gets the dummy", lambda w: linked(
        w, {"address1": "1 Main St"}, {"address1": ""}, {"address1": "1 Main St"}),
        ["update whmcs #1 address1='Not provided'"]),
    Row("WHMCS empties a field: WordPress is emptied", lambda w: linked(
        w, {"address2": ""}, {"address2": "Flat 4"}, {"address2": "Flat 4"}), ["update wordpress #101 address2=''"]),
    # A field's direction narrows where it may be written.
    Row("a whmcs_to_wp field: a WordPress edit is overwritten by WHMCS's value", lambda w: linked(
        w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"}),
        ["update wordpress #101 address1='1 Main St'"], {"mapped": (FieldRule(
            "address1", "meta.billing_address_1", direction=Direction.WHMCS_TO_WP),)}),
    Row("a whmcs_to_wp field at first contact: an empty source blanks nothing", lambda w: linked(
        w, {"address2": ""}, {"address2": "Flat 4"}, None),
        ["link #1-#101"], {"mapped": (FieldRule("address2", "meta.billing_address_2",
                                                direction=Direction.WHMCS_TO_WP),)}),
    Row("a wp_to_whmcs field in a whmcs_to_wp run is not carried", lambda w: linked(
        w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"}),
        [], {"direction": "whmcs_to_wp", "mapped": (FieldRule(
            "address1", "meta.billing_address_1", direction=Direction.WP_TO_WHMCS),)}),
    # apply = "on_create": never compared once the account exists.
    Row("an on_create field of a linked user is left alone", lambda w: linked(
        w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {}, mapped_before=False),
        [], {"mapped": (FieldRule("address1", "meta.billing_address_1", apply="on_create"),)}),
    # A WHMCS dummy never flows to WordPress, and WordPress's real value replaces it.
    Row("first contact: a WHMCS dummy is not copied; WordPress's real value replaces it", lambda w: linked(
        w, {"address1": "Not provided"}, {"address1": "2 Side St"}, None),
        ["link #1-#101", "update whmcs #1 address1='2 Side St'"]),
    Row("first contact: a WHMCS dummy against an empty WordPress value: nothing", lambda w: linked(
        w, {"address1": "Not provided"}, {"address1": ""}, None), ["link #1-#101"]),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_mapped_field_table(row: Row) -> None:
    w = world()
    row.setup(w)
    policy = {"mapped": RULES, **row.policy}
    rules = policy.pop("mapped")
    result = plan(w, rules, **policy)
    assert summary(result) == row.expect
    settles(w, result, rules, **policy)


def test_a_one_way_field_whose_source_empties_it_later_blanks_the_destination() -> None:
    w = world()
    rule = (FieldRule("address2", "meta.billing_address_2", direction=Direction.WHMCS_TO_WP),)
    linked(w, {"address2": ""}, {"address2": "Flat 4"}, None)
    settles(w, plan(w, rule), rule)
    assert fields(w, P, 101)["address2"] == "Flat 4"  # an empty source that never held a value blanks nothing
    w.whmcs.external_edit(1, address2="Flat 9")
    settles(w, plan(w, rule), rule)
    assert fields(w, P, 101)["address2"] == "Flat 9"
    w.whmcs.external_edit(1, address2="")
    result = plan(w, rule)
    assert summary(result) == ["update wordpress #101 address2=''"]
    settles(w, result, rule)


def test_an_on_create_field_is_sent_on_create_then_never_again() -> None:
    w = world()
    rule = (FieldRule("address1", "meta.billing_address_1", apply="on_create"),)
    w.user(101, "ann@x.io", address1="2 Side St")
    result = plan(w, rule)
    [create] = result.actions
    assert create.send["address1"] == "2 Side St" and "address1" not in create.base  # type: ignore[attr-defined]
    settles(w, result, rule)
    assert fields(w, W, 1)["address1"] == "2 Side St"
    [link] = w.store.links()
    assert "address1" not in link.base
    w.wp.external_edit(101, address1="3 Other St")
    assert summary(plan(w, rule)) == []


# --- creates --------------------------------------------------------------------------------


def test_a_whmcs_create_sends_mapped_values_then_defaults_then_dummies() -> None:
    w = world()
    rules = (*RULES, FieldRule("city", "meta.billing_city", default="Springfield"))
    w.wp.fields += ("city",)
    w.whmcs.fields += ("city",)
    w.user(101, "ann@x.io", address1="2 Side St", phonenumber="", country="", city="")
    result = plan(w, rules)
    [create] = result.actions
    send = create.send  # type: ignore[attr-defined]
    assert send["address1"] == "2 Side St"  # the mapped value first
    assert send["city"] == "Springfield"  # then the field's default
    assert send["phonenumber"] == "0000000000" and send["country"] == "US" and send["postcode"] == "00000"
    assert send["address2"] == ""  # not required: left empty
    assert create.dummy_fields == {"city", "phonenumber", "country", "postcode"}  # type: ignore[attr-defined]
    settles(w, result, rules)
    # The stand-ins never flow to WordPress.
    assert fields(w, P, 101)["phonenumber"] == "" and fields(w, P, 101)["city"] == ""
    assert fields(w, W, 1)["phonenumber"] == "0000000000"
    # A real value typed later in WordPress replaces the dummy.
    w.wp.external_edit(101, phonenumber="+44 20 7946 0000")
    result = plan(w, rules)
    assert summary(result) == ["update whmcs #1 phonenumber='+44 20 7946 0000'"]
    settles(w, result, rules)
    assert "phonenumber" not in w.store.links()[0].dummy_fields


def test_a_wordpress_create_gets_no_whmcs_dummy() -> None:
    w = world()
    w.client(1, "ann@x.io", address1="Not provided", phonenumber="+1.5035551212", country="US")
    result = plan(w)
    [create] = result.actions
    send = create.send  # type: ignore[attr-defined]
    assert send["address1"] == "" and send["phonenumber"] == "+1.5035551212"
    # The dummy country is a real country too: it is a stand-in only where syncd remembers writing it.
    assert send["country"] == "US"
    assert create.dummy_fields == {"address1"}  # type: ignore[attr-defined]
    settles(w, result)
    assert fields(w, P, 101)["address1"] == "" and fields(w, P, 101)["country"] == "US"


def test_a_dummy_country_syncd_wrote_never_reaches_wordpress() -> None:
    w = world()
    w.user(101, "ann@x.io", country="")
    settles(w, plan(w))
    assert fields(w, W, 1)["country"] == "US" and "country" in w.store.links()[0].dummy_fields
    assert fields(w, P, 101)["country"] == ""
    w.wp.external_edit(101, country="FR")
    result = plan(w)
    assert summary(result) == ["update whmcs #1 country='FR'"]
    settles(w, result)
    assert "country" not in w.store.links()[0].dummy_fields


# --- a field a side did not read in this run ------------------------------------------------


def test_unread_whmcs_details_are_no_change_and_keep_the_base() -> None:
    w = world()
    linked(w, {"phonenumber": "503 555 1212", "address1": "1 Main St"},
           {"phonenumber": "503 555 1212", "address1": "1 Main St"}, {"phonenumber": "503 555 1212",
                                                                      "address1": "1 Main St"})
    w.whmcs.unread = set(NAMES)
    assert plan(w).actions == ()  # the cheap in-sync check: an unread field is no change
    w.whmcs.external_edit(1, phonenumber="")  # edited in WHMCS, not read this run
    assert plan(w).actions == ()  # never taken for empty, never blanks WordPress
    w.wp.external_edit(101, first_name="Anna")
    result = plan(w)
    assert summary(result) == ["update whmcs #1 first_name='Anna'"]
    settles(w, result)
    [link] = w.store.links()
    assert link.base["phonenumber"] == "503 555 1212" and link.base["address1"] == "1 Main St"
    assert fields(w, P, 101)["phonenumber"] == "503 555 1212"


def test_a_wordpress_edit_reaches_whmcs_when_whmcs_details_were_not_read() -> None:
    w = world()
    linked(w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"})
    w.whmcs.unread = set(NAMES)
    result = plan(w)
    [update] = result.actions
    assert update.changes == {"address1": ("1 Main St", "2 Side St")}  # type: ignore[attr-defined]
    # WHMCS's value was not read: said so, never shown as empty; the last value agreed is the "why".
    assert ("address1 ↔ meta.billing_address_1 not read → '2 Side St' (changed on WordPress since the last "
            "sync, was '1 Main St')") in plan_text(result)
    settles(w, result)
    assert fields(w, W, 1)["address1"] == "2 Side St"


def test_a_wordpress_emptying_reaches_whmcs_when_whmcs_details_were_not_read() -> None:
    w = world()
    linked(w, {"address2": "Flat 4"}, {"address2": ""}, {"address2": "Flat 4"})
    w.whmcs.unread = set(NAMES)
    result = plan(w)
    assert summary(result) == ["update whmcs #1 address2=''"]  # not mistaken for "WHMCS holds '' already"
    settles(w, result)
    assert fields(w, W, 1)["address2"] == ""


def test_unread_source_of_a_one_way_field_writes_nothing() -> None:
    w = world()
    linked(w, {"address1": "1 Main St"}, {"address1": "2 Side St"}, {"address1": "1 Main St"})
    w.whmcs.unread = set(NAMES)
    assert plan(w, direction="whmcs_to_wp").actions == ()  # WordPress's edit waits for WHMCS's next read
    w.whmcs.unread = set()
    assert summary(plan(w, direction="whmcs_to_wp")) == ["update wordpress #101 address1='1 Main St'"]


def test_first_contact_waits_for_both_sides_to_be_read() -> None:
    w = world()
    linked(w, {"address1": "1 Main St"}, {"address1": ""}, None)
    w.whmcs.unread = set(NAMES)
    result = plan(w)
    assert summary(result) == ["link #1-#101"]
    w.execute(result)
    [link] = w.store.links()
    assert not set(NAMES) & set(link.base)  # no base for what was not read on both sides
    assert plan(w).actions == ()  # WordPress's empty value blanks nothing while WHMCS is unread
    w.whmcs.unread = set()
    result = plan(w)
    assert summary(result) == ["rebase base:phonenumber base:country base:postcode base:address2",
                               "update wordpress #101 address1='1 Main St'"]
    settles(w, result)


def test_a_side_that_cannot_store_a_field_never_has_it_written() -> None:
    w = World(whmcs_fields=(*DEFAULT_FIELDS, *NAMES), wp_fields=DEFAULT_FIELDS)
    linked(w, {"address1": "1 Main St"}, {}, {"address1": "9 Old St"})
    result = plan(w)
    assert result.actions == () and "address1" not in result.fields


# --- digests --------------------------------------------------------------------------------


def test_the_digest_of_the_core_fields_is_unchanged() -> None:
    values = {"email": "Ann@X.io", "first_name": " Ann ", "last_name": "Lee", "company": "Initech"}
    # The value syncd stored before the field map existed: users' state stores keep it.
    assert digest(values, DEFAULT_FIELDS) == "ceb1132ff87cdb4bbcbf29bf4ee6fd84"
    assert digest(values, DEFAULT_FIELDS, {}) == digest(values, DEFAULT_FIELDS)


def test_a_digest_tells_an_unread_field_from_an_empty_one_and_normalises_by_kind() -> None:
    names = (*DEFAULT_FIELDS, "phonenumber", "country")
    kinds = {"phonenumber": "phone", "country": "country"}
    core = {"email": "ann@x.io", "first_name": "Ann", "last_name": "Lee", "company": ""}
    unread = digest(core, names, kinds)
    empty = digest({**core, "phonenumber": "", "country": ""}, names, kinds)
    assert unread != empty
    de = digest({**core, "phonenumber": "030 1234567", "country": "de"}, names, kinds)
    assert de == digest({**core, "phonenumber": "+49 30 1234567", "country": "DE"}, names, kinds)


def test_the_engine_stores_digests_by_kind() -> None:
    w = world()
    linked(w, {"phonenumber": "+1.5035550000"}, {"phonenumber": "503 555 1212"}, {"phonenumber": "503 555 1212"})
    settles(w, plan(w))
    [link] = w.store.links()
    assert link.digests["whmcs"] == link.digests["wordpress"]  # the same number in two spellings


# --- what an operator reads -----------------------------------------------------------------


def test_the_dry_run_shows_mapped_fields_before_and_after() -> None:
    w = world()
    linked(w, {"phonenumber": "+1.5035550000"}, {"phonenumber": "503 555 1212"}, {"phonenumber": "503 555 1212"})
    result = plan(w)
    assert ("phonenumber ↔ meta.billing_phone '503 555 1212' → '+1.5035550000' (changed on WHMCS since the last "
            "sync, was '503 555 1212')") in plan_text(result)
    [user] = plan_json(result)["users"]
    assert user["actions"][0]["changes"] == {"phonenumber": {"before": "503 555 1212", "after": "+1.5035550000"}}
    assert user["actions"][0]["fields"] == [{
        "field": "phonenumber", "label": "phonenumber ↔ meta.billing_phone", "before": "503 555 1212",
        "after": "+1.5035550000", "before_read": True,
        "why": "changed on WHMCS since the last sync, was '503 555 1212'"}]
    assert "phonenumber" in plan_json(result)["fields"]


def test_explain_shows_mapped_fields_and_what_a_run_would_do() -> None:
    w = world()
    linked(w, {"phonenumber": "+1.5035550000"}, {"phonenumber": "503 555 1212"}, {"phonenumber": "503 555 1212"})
    info = explain("ann@x.io", w.whmcs.snapshot(), w.wp.snapshot(), w.store.links(),
                   w.policy(mapped=RULES, dummy_values=DUMMIES))
    text = explain_text(info)
    assert "phonenumber '+1.5035550000'" in text and "phonenumber '503 555 1212'" in text
    assert ("a run would update WordPress user ann@x.io (#101): phonenumber ↔ meta.billing_phone '503 555 1212' → "
            "'+1.5035550000' (changed on WHMCS since the last sync, was '503 555 1212')") in text
    assert ("phonenumber ↔ meta.billing_phone: WHMCS '+1.5035550000', WordPress '503 555 1212', agreed "
            "'503 555 1212': a run would write it to WordPress") in text


def test_records_without_mapped_fields_plan_as_before() -> None:
    w = world()
    linked(w, {}, {"first": "Anna"}, {})
    assert summary(plan(w, ())) == ["update whmcs #1 first_name='Anna'"]
    record = Record(side=W, remote_id=1, fields={"email": "a@x.io"})
    assert "phonenumber" not in record.fields
