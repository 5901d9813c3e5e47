"""The WHMCS adapter's mapped fields (DESIGN §9) against the emulator: ``details`` reads them
(GetClientsDetails, one per client, ``concurrency`` at a time, custom fields by id), ``create``
and ``update`` write them (custom fields as base64 of a PHP-serialized array), and WHMCS's
validation errors name the field, the value and where it came from."""

from __future__ import annotations

import time

import pytest

from syncd.config import DummyValues
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import IncompleteListing, InvalidRecord, RemoteRejected
from syncd.fieldmap import WOOCOMMERCE, FieldRule
from syncd.model import DEFAULT_FIELDS
from tests.whmcs.conftest import AdapterFactory

PRESET = tuple(FieldRule(w, p, kind) for w, p, kind in WOOCOMMERCE)
VAT = FieldRule("customfield.1", "meta.vat_number")
RULES = (*PRESET, VAT)
NAMES = tuple(r.name for r in RULES)


@pytest.fixture
def with_fields(emulator: WhmcsEmulator) -> WhmcsEmulator:
    assert emulator.add_custom_field("VAT number") == 1
    emulator.add_custom_field("Referrer")
    return emulator


def test_the_listing_names_the_mapped_fields_but_reads_none_of_them(
        make_adapter: AdapterFactory, with_fields: WhmcsEmulator) -> None:
    adapter = make_adapter(mapped=RULES)
    snap = adapter.snapshot()
    assert snap.fields == (*DEFAULT_FIELDS, *NAMES)
    assert all(set(r.fields) == set(DEFAULT_FIELDS) for r in snap.records)
    assert "GetClientsDetails" not in adapter.calls


def test_details_reads_each_client_once_with_its_custom_fields(
        make_adapter: AdapterFactory, with_fields: WhmcsEmulator) -> None:
    cid = with_fields.add_client("gb@example.com", "Gee", "Bee", address1="9 Dock Rd", city="Hull",
                                 postcode="HU1 1AA", country="GB", phonenumber="01482 555000",
                                 customfields={1: "GB123456789"})
    ann = with_fields.client_by_email("ann@example.com")
    assert ann is not None
    adapter = make_adapter(mapped=RULES, concurrency=3)
    got = adapter.details([cid, ann, 9999])  # 9999: gone since the listing
    assert set(got.values) == {cid, ann} and got.unreadable == frozenset()
    assert dict(got.values[cid]) == {"address1": "9 Dock Rd", "address2": "", "city": "Hull", "state": "",
                                     "postcode": "HU1 1AA", "country": "GB", "phonenumber": "01482 555000",
                                     "customfield.1": "GB123456789"}
    assert got.values[ann]["customfield.1"] == "" and got.values[ann]["country"] == "US"
    assert adapter.calls["GetClientsDetails"] == 3


def test_details_runs_concurrency_calls_at_a_time(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    ids = [emulator.add_client(f"c{i}@example.com", "C", str(i)) for i in range(12)]
    emulator.latency = 0.1  # slept by the server outside the emulator's lock: concurrent calls overlap it
    timings = {}
    for width in (1, 4):
        adapter = make_adapter("loopback", mapped=PRESET, concurrency=width)
        started = time.monotonic()
        got = adapter.details(ids)
        timings[width] = time.monotonic() - started
        assert len(got.values) == 12 and adapter.calls["GetClientsDetails"] == 12
    assert timings[1] >= 1.2  # one at a time: 12 x 100 ms
    assert timings[4] < 0.75 * timings[1] and timings[4] >= 0.3, timings  # 3 rounds of 4


def test_an_unknown_custom_field_is_unreadable_never_blank_and_never_written(
        make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    ann = emulator.client_by_email("ann@example.com")
    assert ann is not None
    adapter = make_adapter(mapped=(*PRESET, FieldRule("customfield.7", "meta.vat_number")))
    assert "customfield.7" in adapter.fields  # not known before a details read
    got = adapter.details([ann])
    assert "customfield.7" not in got.values[ann] and got.unreadable == {"customfield.7"}
    assert "customfield.7" not in adapter.fields
    record = adapter.snapshot().records[0]
    with pytest.raises(InvalidRecord, match=r"no client custom field with id 7; fix the \[\[fields\]\] table"):
        adapter.update(record, {"customfield.7": "DE1"})
    assert "UpdateClient" not in adapter.calls


def test_update_writes_a_custom_field_as_whmcs_takes_it_a_first_write_learns_the_ids(
        make_adapter: AdapterFactory, with_fields: WhmcsEmulator) -> None:
    ann = with_fields.client_by_email("ann@example.com")
    assert ann is not None
    adapter = make_adapter(mapped=RULES)
    record = next(r for r in adapter.snapshot().records if r.remote_id == ann)
    after = adapter.update(record, {"customfield.1": "Zoë's VAT 東京", "city": "Köln", "country": "DE"})
    client = with_fields.clients[ann]
    assert client.customfields == {1: "Zoë's VAT 東京"} and (client.city, client.country) == ("Köln", "DE")
    assert after.fields["customfield.1"] == "Zoë's VAT 東京"
    assert adapter.calls["GetClientsDetails"] == 1  # which custom fields exist: asked once, then known
    adapter.update(after, {"customfield.1": "DE2"})
    assert adapter.calls["GetClientsDetails"] == 1 and client.customfields == {1: "DE2"}


def test_create_sends_the_real_address_and_the_dummy_only_where_nothing_is_known(
        make_adapter: AdapterFactory, with_fields: WhmcsEmulator) -> None:
    adapter = make_adapter(mapped=RULES)
    fields = {"email": "shop@example.com", "first_name": "Sam", "last_name": "Shop", "company": "",
              "address1": "5 Mill Lane", "address2": "", "city": "York", "postcode": "YO1 7HH", "country": "GB",
              "phonenumber": "+44 1904 555000", "customfield.1": "GB1"}
    record = adapter.create(fields)
    client = with_fields.clients[record.remote_id]
    dummy = DummyValues()
    assert (client.address1, client.city, client.postcode, client.country, client.phonenumber) == (
        "5 Mill Lane", "York", "YO1 7HH", "GB", "+44 1904 555000")
    assert client.state == dummy.state  # required, not mapped in these fields: the dummy
    assert client.customfields == {1: "GB1"}
    assert record.fields["address1"] == "5 Mill Lane" and record.fields["customfield.1"] == "GB1"
    assert "state" not in record.fields  # not a field this create was given: not reported
    assert adapter.dummy_fields_for(fields) == frozenset()


@pytest.mark.parametrize(("field", "value", "said"), [
    ("country", "Narnia", "Valid country required"),
    ("country", "XX", "Valid country required"),
    ("phonenumber", "call me maybe", "Invalid telephone phone number"),
    ("phonenumber", "<b>555</b>", "Invalid telephone phone number"),
])
def test_a_value_whmcs_refuses_names_field_value_and_source(
        make_adapter: AdapterFactory, emulator: WhmcsEmulator, field: str, value: str, said: str) -> None:
    adapter = make_adapter(mapped=PRESET)
    rule = next(r for r in PRESET if r.name == field)
    with pytest.raises(RemoteRejected) as caught:
        adapter.create({"email": "bad@example.com", "first_name": "B", "last_name": "Ad", field: value})
    message = str(caught.value)
    assert f"WHMCS refused {field} {value!r} (from WordPress {rule.wordpress.replace('meta.', 'meta ')})" in message
    assert said in message
    assert emulator.client_by_email("bad@example.com") is None
    ann = emulator.client_by_email("ann@example.com")
    record = next(r for r in adapter.snapshot().records if r.remote_id == ann)
    with pytest.raises(RemoteRejected, match=said):
        adapter.update(record, {field: value})


def test_a_bad_dummy_is_named_as_the_dummy(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    from syncd.config import NewClients

    adapter = make_adapter(mapped=PRESET, new_clients=NewClients(dummy=DummyValues(country="ZZ")))
    with pytest.raises(RemoteRejected, match=r"country 'ZZ' \(from \[whmcs.new_clients.dummy\] country\)"):
        adapter.create({"email": "d@example.com", "first_name": "D", "last_name": "D"})


def test_hostile_values_are_written_and_read_back_as_they_are(
        make_adapter: AdapterFactory, with_fields: WhmcsEmulator) -> None:
    adapter = make_adapter(mapped=RULES)
    values = {"address1": "1 Road & Sons " + "x" * 230, "address2": "<script>alert(1)</script>",
              "city": "  Hull  ", "phonenumber": "(01482) 555-000", "country": "gb", "postcode": "hu1 1aa",
              "customfield.1": "a;b:\"c\"}"}
    record = adapter.create({"email": "odd@example.com", "first_name": "O", "last_name": "D", **values})
    got = adapter.details([record.remote_id]).values[record.remote_id]
    # AddClient trims what it stores and keeps the country upper-cased; the rest is kept as sent
    assert {k: got[k] for k in values} == {**values, "country": "GB", "city": "Hull"}


def test_a_details_read_that_keeps_failing_is_an_incomplete_listing_naming_the_client(
        make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    ann = emulator.client_by_email("ann@example.com")
    emulator.fail_on("GetClientsDetails", kind="status", status=503, times=None)
    adapter = make_adapter(mapped=PRESET, retries=1)
    with pytest.raises(IncompleteListing, match=rf"GetClientsDetails for client #{ann} failed"):
        adapter.details([ann or 0])


def test_no_mapped_field_no_details(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    adapter = make_adapter()
    assert adapter.details(list(emulator.clients)).values == {}
    assert "GetClientsDetails" not in adapter.calls
