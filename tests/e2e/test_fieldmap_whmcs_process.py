"""The WHMCS side of the field map through ``python -m syncd`` as a process, on both emulators
(DESIGN §9, issue 12): GetClientsDetails is read where it matters and nowhere else, a WHMCS
client's address reaches WordPress billing meta, a WordPress customer becomes a WHMCS client with
a real address (no dummy), a WHMCS-side edit is carried by ``sync --full`` and not by a poll, and a
value WHMCS refuses fails that user alone, naming the field and where the value came from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import DummyValues
from tests.e2e.emulated import Emulated, emulated

SECRET = "fieldmap-whmcs-secret-5e1d"
DUMMY = DummyValues()


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        s.wp.install_companion()
        s.write_config()
        text = s.config.read_text(encoding="utf-8").replace("[wordpress]\n", '[wordpress]\npreset = "woocommerce"\n',
                                                            1)
        s.config.write_text(text, encoding="utf-8")
        yield s


def sync(sides: Emulated, *args: str) -> dict[str, object]:
    run = sides.syncd("sync", "--json", *args)
    out = run.stdout + run.stderr
    assert "Traceback" not in out and SECRET not in out, out
    report: dict[str, object] = json.loads(run.stdout)
    report["exit"] = run.returncode
    report["stderr"] = run.stderr
    return report


def details_calls(sides: Emulated) -> int:
    return sides.whmcs.calls["GetClientsDetails"]


def test_a_whmcs_address_reaches_wordpress_a_whmcs_edit_waits_for_the_full_pass(sides: Emulated) -> None:
    cid = sides.whmcs.add_client("cleo@example.com", "Cleo", "Client", address1="9 Dock Rd", city="Hull",
                                 state="East Riding", postcode="HU1 1AA", country="GB", phonenumber="01482 555000")
    first = sync(sides)
    assert first["exit"] == 0, first
    assert details_calls(sides) == 1  # the one unlinked client, to create its WordPress user from
    [user] = [u for u in sides.wp.users.values() if u.email == "cleo@example.com"]
    assert (user.meta["billing_address_1"], user.meta["billing_city"], user.meta["billing_postcode"],
            user.meta["billing_country"], user.meta["billing_phone"]) == (
        "9 Dock Rd", "Hull", "HU1 1AA", "GB", "01482 555000")

    sides.whmcs.clients[cid].city = "Leeds"  # edited in WHMCS's admin area
    before = details_calls(sides)
    poll = sync(sides)
    assert poll["exit"] == 0 and poll["counts"] == {}, poll
    assert details_calls(sides) == before  # a poll where everyone is linked reads no details
    assert user.meta["billing_city"] == "Hull"

    full = sync(sides, "--full")
    assert full["exit"] == 0 and full["counts"] == {"update": 1}, full
    assert details_calls(sides) == before + 1
    assert user.meta["billing_city"] == "Leeds"
    assert sync(sides)["counts"] == {} and sync(sides, "--full")["counts"] == {}


def test_a_wordpress_customer_becomes_a_whmcs_client_with_a_real_address(sides: Emulated) -> None:
    sides.wp.add_user("shopper", "shopper@example.com", "Sam", "Shop", meta={
        "billing_address_1": "5 Mill Lane", "billing_city": "York", "billing_state": "North Yorkshire",
        "billing_postcode": "YO1 7HH", "billing_country": "GB", "billing_phone": "+44 1904 555000"})
    first = sync(sides)
    assert first["exit"] == 0 and first["counts"] == {"create": 1}, first
    assert details_calls(sides) == 0  # no WHMCS client to read
    cid = sides.whmcs.client_by_email("shopper@example.com")
    assert cid is not None
    client = sides.whmcs.clients[cid]
    assert (client.address1, client.city, client.state, client.postcode, client.country, client.phonenumber) == (
        "5 Mill Lane", "York", "North Yorkshire", "YO1 7HH", "GB", "+44 1904 555000")
    # billing_address_2 is empty: WHMCS does not require it, so it stays empty (no dummy anywhere)
    assert DUMMY.address1 not in (client.address1, client.address2)
    [user] = [u for u in sides.wp.users.values() if u.email == "shopper@example.com"]
    user.meta["billing_city"] = "Leeds"  # edited in WordPress: seen at every poll
    edit = sync(sides)
    assert edit["counts"] == {"update": 1}, edit
    assert client.city == "Leeds"
    assert sync(sides)["counts"] == {} and sync(sides, "--full")["counts"] == {}


def test_a_wordpress_customer_without_an_address_gets_the_dummy_which_never_comes_back(sides: Emulated) -> None:
    sides.wp.add_user("bare", "bare@example.com", "Bo", "Bare", meta={"billing_city": "York"})
    assert sync(sides)["counts"] == {"create": 1}
    cid = sides.whmcs.client_by_email("bare@example.com")
    assert cid is not None
    client = sides.whmcs.clients[cid]
    assert (client.address1, client.city, client.country, client.phonenumber) == (
        DUMMY.address1, "York", DUMMY.country, DUMMY.phonenumber)
    [user] = [u for u in sides.wp.users.values() if u.email == "bare@example.com"]
    assert sync(sides, "--full")["counts"] == {}  # the dummies are read back, and go nowhere
    assert not user.meta.get("billing_address_1") and not user.meta.get("billing_phone")


def test_a_value_whmcs_refuses_fails_that_user_naming_field_and_source_the_others_sync(sides: Emulated) -> None:
    narnia = sides.wp.add_user("narnia", "narnia@example.com", "Lu", "Cy", meta={
        "billing_address_1": "Lamp post", "billing_city": "Cair", "billing_country": "Narnia",
        "billing_phone": "555 1234"})
    sides.wp.add_user("fine", "fine@example.com", "Fi", "Ne", meta={"billing_country": "DE"})
    run = sync(sides)
    assert run["exit"] == 1, run
    assert run["counts"] == {"create": 1}, run
    text = json.dumps(run["errors"])
    assert "country 'Narnia'" in text and "WordPress meta billing_country" in text, text
    assert "Valid country required" in text and f"#{narnia}" in text, text
    assert sides.whmcs.client_by_email("fine@example.com") is not None
    assert sides.whmcs.client_by_email("narnia@example.com") is None


def test_a_failed_details_read_stops_the_run_before_planning(sides: Emulated) -> None:
    sides.whmcs.add_client("cleo@example.com", "Cleo", "Client", city="Hull")
    sides.whmcs.fail_on("GetClientsDetails", kind="status", status=503, times=None)
    run = sync(sides)
    assert run["exit"] == 3, run
    assert not [u for u in sides.wp.users.values() if u.email == "cleo@example.com"]
    assert "GetClientsDetails" in str(run["stderr"]) + json.dumps(run), run


def test_test_connection_names_a_custom_field_whmcs_does_not_have(sides: Emulated) -> None:
    sides.wp.install_companion(meta_keys=("billing_address_1", "billing_address_2", "billing_city", "billing_state",
                                          "billing_postcode", "billing_country", "billing_phone", "vat_number"))
    sides.whmcs.add_custom_field("VAT number")
    sides.whmcs.add_client("cleo@example.com", "Cleo", "Client")
    with sides.config.open("a", encoding="utf-8") as config:
        config.write('[[fields]]\nwhmcs = "customfield.7"\nwordpress = "meta.vat_number"\n')
    run = sides.syncd("test-connection")
    out = run.stdout + run.stderr
    assert run.returncode == 3, out
    assert "customfield.7" in out and "WHMCS has no client custom field with id 7" in out, out
    assert "Custom Client Fields" in out and "Traceback" not in out and SECRET not in out
    # the run itself: the field is neither read nor written, and blanks nothing; the rest syncs
    report = sync(sides)
    assert report["exit"] == 0 and report["counts"] == {"create": 1}, report
    assert "no client custom field with id 7" in str(report["stderr"])


def test_check_config_says_a_custom_field_id_is_checked_by_test_connection(sides: Emulated) -> None:
    with sides.config.open("a", encoding="utf-8") as config:
        config.write('[[fields]]\nwhmcs = "customfield.7"\nwordpress = "meta.vat_number"\n')
    run = sides.syncd("check-config")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "note: customfield.7 must be a client custom field id of your WHMCS" in run.stdout
    assert "Custom Client Fields" in run.stdout and "`syncd test-connection` checks it" in run.stdout
    assert not sides.whmcs.calls  # check-config calls neither side


def test_a_one_user_run_and_explain_read_that_clients_details(sides: Emulated) -> None:
    cid = sides.whmcs.add_client("cleo@example.com", "Cleo", "Client", city="Hull", country="GB")
    sides.whmcs.add_client("other@example.com", "Oth", "Er", city="York", country="GB")
    assert sync(sides)["counts"] == {"create": 2}
    sides.whmcs.clients[cid].city = "Leeds"  # edited in WHMCS
    before = details_calls(sides)
    explain = sides.syncd("explain", "cleo@example.com")
    assert explain.returncode == 0 and "Leeds" in explain.stdout, explain.stdout + explain.stderr
    assert details_calls(sides) == before + 1  # that user's client only
    one = sides.syncd("sync", "--user", "cleo@example.com", "--json")
    assert one.returncode == 0, one.stdout + one.stderr
    assert json.loads(one.stdout)["counts"] == {"update": 1}
    [user] = [u for u in sides.wp.users.values() if u.email == "cleo@example.com"]
    assert user.meta["billing_city"] == "Leeds"
    assert details_calls(sides) == before + 2


def test_hostile_wordpress_values_fail_their_user_alone_the_others_sync(sides: Emulated) -> None:
    sides.wp.add_user("long", "long@example.com", "Lo", "Ng", meta={"billing_address_1": "x" * 300})
    sides.wp.add_user("phone", "phone@example.com", "Ph", "One", meta={"billing_phone": "ask for Bob"})
    sides.wp.add_user("odd", "odd@example.com", "Od", "D", meta={
        "billing_address_1": "1 Road & Sons", "billing_phone": "(01482) 555-000", "billing_country": "gb"})
    run = sync(sides)
    assert run["exit"] == 1, run
    assert run["counts"] == {"create": 1}, run  # the odd but valid one
    text = json.dumps([run.get("errors"), run.get("problems")])
    assert "address1" in text and "WHMCS stores at most 255" in text, text
    assert "phonenumber 'ask for Bob'" in text and "Invalid telephone phone number" in text, text
    odd = sides.whmcs.client_by_email("odd@example.com")
    assert odd is not None
    client = sides.whmcs.clients[odd]
    assert (client.address1, client.phonenumber, client.country) == ("1 Road & Sons", "(01482) 555-000", "GB")
    again = sync(sides)  # the failed ones are tried again, the others left alone
    assert again["counts"] == {} and again["exit"] == 1, again


def test_a_fields_default_is_sent_on_create_and_never_flows_to_wordpress(sides: Emulated) -> None:
    with sides.config.open("a", encoding="utf-8") as config:
        config.write('[[fields]]\nwhmcs = "country"\nwordpress = "meta.billing_country"\ndefault = "DE"\n')
    uid = sides.wp.add_user("nocountry", "nocountry@example.com", "No", "Country", meta={"billing_city": "Köln"})
    assert sync(sides)["counts"] == {"create": 1}
    cid = sides.whmcs.client_by_email("nocountry@example.com")
    assert cid is not None and sides.whmcs.clients[cid].country == "DE"  # the default, not the dummy
    assert sync(sides, "--full")["counts"] == {}
    assert not sides.wp.users[uid].meta.get("billing_country")
