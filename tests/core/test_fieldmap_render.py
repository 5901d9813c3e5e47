"""What an operator reads of the field map (DESIGN §9, issue 12 item 5): in the dry run (text and
JSON), ``explain``, the run report and ``history``, a mapped field is named as the operator wrote it
(``phonenumber ↔ meta.billing_phone``), with before → after and which side wins and why; a value a
side did not read is "not read", never empty; an ``on_create`` field left alone after creation says
so; a field a run cannot carry is named with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.fieldmap import FieldRule
from syncd.model import DEFAULT_FIELDS, Direction
from syncd.ports import HistoryEntry
from syncd.render import history_json, history_text, plan_json, report_text
from syncd.render.explain import explain_json, explain_text
from syncd.render.run import plan_text
from syncd.sync.explain import explain
from syncd.sync.fieldview import labels
from tests.core.memory import DUMMY
from tests.core.scenario import World

PHONE = FieldRule("phonenumber", "meta.billing_phone", "phone")
CITY = FieldRule("city", "meta.billing_city", "text")
VAT = FieldRule("customfield.3", "meta.vat_number", "text", apply="on_create")
RULES = (PHONE, CITY, VAT)
NAMES = tuple(r.name for r in RULES)
DUMMIES = {**DUMMY, "phonenumber": "0000000000", "city": "Not provided"}
BASE = {"email": "ann@x.io", "first_name": "Ann", "last_name": "Lee", "company": "", "phonenumber": "",
        "city": "Hull"}


def world(wp_fields: tuple[str, ...] = NAMES) -> World:
    return World(whmcs_fields=(*DEFAULT_FIELDS, *NAMES), wp_fields=(*DEFAULT_FIELDS, *wp_fields))


def linked(w: World, whmcs: dict[str, str], wp: dict[str, str], base: dict[str, str] = BASE) -> None:
    w.client(1, "ann@x.io", **whmcs)
    w.user(101, "ann@x.io", **wp)
    w.link(1, 101, base=base)


def test_the_dry_run_names_each_mapped_field_says_how_it_is_carried_and_why_a_side_wins() -> None:
    w = world()
    linked(w, {"city": "Leeds", "phonenumber": "+44.1482555000", "customfield.3": "GB1"},
           {"city": "Hull", "phonenumber": "", "customfield.3": "GB2"})
    text = plan_text(w.plan(mapped=RULES, dummy_values=DUMMIES))
    assert "mapped fields ([[fields]], preset): 3 fields" in text
    assert "phonenumber ↔ meta.billing_phone (phone, both ways): compared at every run" in text
    assert "customfield.3 ↔ meta.vat_number (text, both ways): set when the account is created, then left alone" in text
    assert ("would update WordPress user ann@x.io (#101): phonenumber ↔ meta.billing_phone '' → '+44.1482555000' "
            "(changed on WHMCS since the last sync, was empty); city ↔ meta.billing_city 'Hull' → 'Leeds' "
            "(changed on WHMCS since the last sync, was 'Hull')") in text
    assert "GB1" not in text and "GB2" not in text  # on_create: left alone once both accounts exist


def test_a_value_not_read_is_said_so_and_whmcs_side_edits_wait_for_a_full_pass() -> None:
    w = world()
    linked(w, {"city": "Hull"}, {"city": "York"})
    w.whmcs.unread = set(NAMES)
    result = w.plan(mapped=RULES, dummy_values=DUMMIES)
    text = plan_text(result)
    assert "city ↔ meta.billing_city not read → 'York' (changed on WordPress since the last sync, was 'Hull')" in text
    assert "''" not in text.split("would update")[1]  # the unread value is never shown as empty
    assert ("not read in this run for 1 WHMCS client: WHMCS lists no client details, so they are read in full "
            "passes (sync --full, [sync] full_resync_cron)") in text
    data = plan_json(result)
    [write] = data["users"][0]["actions"][0]["fields"]
    assert write == {"field": "city", "label": "city ↔ meta.billing_city", "before": None, "after": "York",
                     "before_read": False, "why": "changed on WordPress since the last sync, was 'Hull'"}
    assert data["mapped_not_read"] == {"whmcs": 1, "wordpress": 0}


def test_a_field_wordpress_does_not_expose_is_named_with_its_fix_in_the_plan_and_the_report() -> None:
    w = world(wp_fields=("city", "customfield.3"))  # meta.billing_phone not exposed by REST
    linked(w, {"city": "Leeds", "phonenumber": "+44.1482555000"}, {"city": "Hull"})
    result = w.plan(mapped=RULES, dummy_values=DUMMIES)
    blocked = ("phonenumber ↔ meta.billing_phone: not carried: WordPress does not expose the user meta "
               "billing_phone in its REST API (install the syncd companion, or register the meta; "
               "`syncd test-connection` says how)")
    assert blocked in plan_text(result)
    [phone] = [f for f in plan_json(result)["mapped_fields"] if f["whmcs"] == "phonenumber"]
    assert phone["carried"] is False and "does not expose" in phone["not_carried_because"]
    report = w.execute(result)
    assert blocked in report_text(report, result.mapped)
    assert "phonenumber" not in w.wp.accounts[101].fields


def test_a_field_whose_direction_lets_nothing_through_this_run_says_so() -> None:
    w = world()
    linked(w, {"city": "Leeds"}, {"city": "Hull"})
    rules = (FieldRule("city", "meta.billing_city", "text", direction=Direction.WP_TO_WHMCS),)
    text = plan_text(w.plan(mapped=rules, dummy_values=DUMMIES, direction="whmcs_to_wp"))
    assert ("city ↔ meta.billing_city: not carried: its direction wp_to_whmcs lets nothing through in a "
            "whmcs_to_wp run") in text


def test_one_way_and_conflict_say_which_side_wins_and_why() -> None:
    w = world()
    linked(w, {"city": "Leeds"}, {"city": "York"})
    both = w.plan(mapped=RULES, dummy_values=DUMMIES)
    text = plan_text(both)
    assert "city ↔ meta.billing_city 'York' → 'Leeds' (both sides changed it: WHMCS wins by [sync] priority)" in text
    assert ("conflict: conflict on city ↔ meta.billing_city of ann@x.io: both sides changed it; WHMCS wins with "
            "'Leeds', WordPress's 'York' is overwritten") in text
    one_way = plan_text(w.plan(mapped=RULES, dummy_values=DUMMIES, direction="wp_to_whmcs"))
    assert "city ↔ meta.billing_city 'Leeds' → 'York' (WordPress is the source (wp_to_whmcs))" in one_way


def test_first_contact_says_the_empty_side_gets_the_filled_value() -> None:
    w = world()
    w.client(1, "ann@x.io", city="Hull")
    w.user(101, "ann@x.io", city="")
    text = plan_text(w.plan(mapped=RULES, dummy_values=DUMMIES, priority="wordpress"))
    assert ("city ↔ meta.billing_city '' → 'Hull' (first contact: WordPress has no value, WHMCS's is copied)"
            in text)


def test_a_create_names_mapped_fields_and_marks_on_create_ones() -> None:
    w = world()
    w.client(1, "new@x.io", city="Hull", phonenumber="+44.1482555000", **{"customfield.3": "GB123"})
    result = w.plan(mapped=RULES, dummy_values=DUMMIES)
    text = plan_text(result)
    assert ("would create WordPress user new@x.io from WHMCS client new@x.io (#1): first_name 'Ann', "
            "last_name 'Lee', phonenumber ↔ meta.billing_phone '+44.1482555000', city ↔ meta.billing_city 'Hull', "
            "customfield.3 ↔ meta.vat_number 'GB123' (set on create only)") in text
    [create] = plan_json(result)["users"][0]["actions"]
    assert create["labels"]["customfield.3"] == "customfield.3 ↔ meta.vat_number"
    assert create["on_create"] == ["customfield.3"]


def test_a_whmcs_create_says_which_values_stand_in_for_empty_ones() -> None:
    w = world()
    w.user(101, "shop@x.io", city="York", phonenumber="")
    text = plan_text(w.plan(mapped=RULES, dummy_values=DUMMIES))
    assert ("would create WHMCS client shop@x.io from WordPress user shop@x.io (#101): first_name 'Ann', "
            "last_name 'Lee', phonenumber ↔ meta.billing_phone '0000000000' (empty on WordPress: the field's "
            "default or the dummy), city ↔ meta.billing_city 'York'") in text


def test_explain_shows_each_mapped_field_on_both_sides_and_what_a_run_does_with_it() -> None:
    w = world()
    linked(w, {"city": "Hull", "customfield.3": "GB1"}, {"city": "Hull", "customfield.3": ""})
    w.whmcs.unread = {"phonenumber"}
    info = explain("ann@x.io", w.whmcs.snapshot(), w.wp.snapshot(), w.store.links(),
                   w.policy(mapped=RULES, dummy_values=DUMMIES))
    text = explain_text(info)
    assert "  mapped fields:" in text
    assert ("phonenumber ↔ meta.billing_phone: WHMCS not read, WordPress '', agreed '': not read on WHMCS in this "
            "run: nothing to do until it is read") in text
    assert "(WHMCS lists no client details: they are read in full passes" in text
    assert "city ↔ meta.billing_city: WHMCS 'Hull', WordPress 'Hull', agreed 'Hull': nothing to do" in text
    assert ("customfield.3 ↔ meta.vat_number: WHMCS 'GB1', WordPress '': set on create only: left alone now that "
            "both accounts exist") in text
    data = explain_json(info)
    [phone] = [f for f in data["fields"] if f["field"] == "phonenumber"]
    assert phone["whmcs"] is None and phone["wordpress"] == ""  # not read is null, not ""
    assert {f["label"] for f in data["mapped_fields"]} == {"phonenumber ↔ meta.billing_phone",
                                                           "city ↔ meta.billing_city",
                                                           "customfield.3 ↔ meta.vat_number"}


def test_history_records_mapped_writes_and_the_on_create_value_and_names_them() -> None:
    w = world()
    w.client(1, "new@x.io", city="Hull", **{"customfield.3": "GB123"})
    report = w.execute(w.plan(mapped=RULES, dummy_values=DUMMIES))
    assert not report.errors, report.errors
    w.whmcs.accounts[1].fields["city"] = "Leeds"
    assert not w.execute(w.plan(mapped=RULES, dummy_values=DUMMIES)).errors
    rows = {(c.kind.value, c.field): (c.before, c.after) for c in w.store.history}
    assert rows[("create", "customfield.3")] == ("", "GB123")  # set on create only, recorded all the same
    assert rows[("update", "city")] == ("Hull", "Leeds")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    entries = [HistoryEntry(at=at, change=c) for c in reversed(w.store.history)]
    text = history_text("new@x.io", entries, labels=labels(RULES))
    assert "updated: city ↔ meta.billing_city 'Hull' → 'Leeds'" in text
    assert "created: customfield.3 ↔ meta.vat_number 'GB123'" in text
    changes = history_json("new@x.io", entries, labels=labels(RULES))["changes"]
    assert {c.get("label") for c in changes if c["field"] == "city"} == {"city ↔ meta.billing_city"}
    assert all("label" not in c for c in changes if c["field"] == "email")  # core fields as before
