"""The field map on the WordPress adapter (DESIGN §9), on the emulator in process: mapped meta and
user fields read into ``Record.fields`` under their WHMCS name, ``Snapshot.fields`` naming only what
the site exposes, writes in the ``meta`` object or at the top, and meta WordPress drops silently
failing that user with the field named."""

from __future__ import annotations

import pytest
from loguru import logger
from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import OutcomeUnknown, RemoteRejected
from syncd.fieldmap import WOOCOMMERCE, FieldRule

PRESET = tuple(FieldRule(w, p, kind) for w, p, kind in WOOCOMMERCE)
BILLING = {p.removeprefix("meta."): "string" for _w, p, _k in WOOCOMMERCE}


def _no_sleep(_seconds: float) -> None:
    pass


def adapter(emulator: WordPressEmulator, rules: tuple[FieldRule, ...] = PRESET) -> WordPressAdapter:
    password = emulator.add_app_password("admin")
    settings = WordPressSettings(url="http://wp.test/", username="admin", application_password=SecretStr(password),
                                 retries=0, new_users=NewUsers(username="email"))
    return WordPressAdapter(settings, SecretStr(password), exclude_roles=(), mapped=rules,
                            transport=emulator.transport(), sleep=_no_sleep)


def site(*, registered: dict[str, str] | None = None) -> WordPressEmulator:
    keys = {"billing_company": "string", **(BILLING if registered is None else registered)}
    return WordPressEmulator(registered_meta=keys)  # type: ignore[arg-type]


def test_listing_reads_registered_billing_meta_under_whmcs_names() -> None:
    emu = site()
    uid = emu.add_user("ann", "ann@example.test", "Ann", "Lee",
                       meta={"billing_address_1": "1 Main St", "billing_city": "Berlin", "billing_country": "DE",
                             "billing_phone": "+49 30 1234567", "billing_postcode": "10115"})
    snap = adapter(emu).snapshot()
    assert {"address1", "address2", "city", "state", "postcode", "country", "phonenumber"} <= set(snap.fields)
    ann = next(r for r in snap.records if r.remote_id == uid)
    assert ann.fields["address1"] == "1 Main St" and ann.fields["country"] == "DE"
    assert ann.fields["phonenumber"] == "+49 30 1234567" and ann.fields["address2"] == ""


def test_unexposed_meta_is_neither_a_field_nor_read_nor_written() -> None:
    emu = site(registered={"billing_city": "string"})
    uid = emu.add_user("bob", "bob@example.test", meta={"billing_city": "Rome", "billing_phone": "123"})
    wp = adapter(emu)
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="WARNING")
    try:
        snap = wp.snapshot()
    finally:
        logger.remove(sink)
    assert any("billing_phone" in line and "phonenumber" in line and "companion" in line for line in said)
    assert "city" in snap.fields and "phonenumber" not in snap.fields
    bob = next(r for r in snap.records if r.remote_id == uid)
    assert "phonenumber" not in bob.fields
    assert [r.meta_key for r in wp.missing_meta] == [
        "billing_address_1", "billing_address_2", "billing_state", "billing_postcode", "billing_country",
        "billing_phone"]
    wp.update(bob, {"phonenumber": "999", "city": "Milan"})
    assert emu.users[uid].meta["billing_phone"] == "123" and emu.users[uid].meta["billing_city"] == "Milan"


def test_create_and_update_write_meta_and_user_fields() -> None:
    rules = (*PRESET, FieldRule("notes", "description"), FieldRule("tax_id", "nickname"))
    emu = site()
    wp = adapter(emu, rules)
    made = wp.create({"email": "cy@example.test", "first_name": "Cy", "last_name": "Ng", "address1": "2 High St",
                      "country": "GB", "notes": "VIP & friend", "tax_id": "GB123"})
    user = emu.users[made.remote_id]
    assert user.meta["billing_address_1"] == "2 High St" and user.meta["billing_country"] == "GB"
    assert user.nickname == "GB123"
    assert made.fields["address1"] == "2 High St" and made.fields["notes"] == "VIP & friend"
    updated = wp.update(made, {"city": "Leeds", "notes": "plain"})
    assert emu.users[made.remote_id].meta["billing_city"] == "Leeds"
    assert updated.fields["city"] == "Leeds" and updated.fields["notes"] == "plain"
    listed = next(r for r in wp.snapshot().records if r.remote_id == made.remote_id)
    assert listed.fields["notes"] == "plain" and listed.fields["tax_id"] == "GB123"


def test_meta_dropped_by_wordpress_fails_the_update_naming_the_field() -> None:
    emu = site()
    uid = emu.add_user("dee", "dee@example.test")
    wp = adapter(emu)
    dee = next(r for r in wp.snapshot().records if r.remote_id == uid)
    del emu.registered_meta["billing_phone"]  # unregistered after the listing: WordPress drops it silently
    with pytest.raises(RemoteRejected) as caught:
        wp.update(dee, {"phonenumber": "+1 555 0100"})
    assert "phonenumber" in str(caught.value) and "billing_phone" in str(caught.value)
    assert "syncd companion wordpress" in str(caught.value)
    assert "billing_phone" not in emu.users[uid].meta


def test_meta_dropped_on_create_is_an_unknown_outcome_naming_the_field() -> None:
    emu = site()
    wp = adapter(emu)
    wp.verify()
    del emu.registered_meta["billing_city"]
    with pytest.raises(OutcomeUnknown) as caught:
        wp.create({"email": "eve@example.test", "first_name": "Eve", "city": "Paris"})
    assert "city" in str(caught.value) and "billing_city" in str(caught.value)
    assert any(u.email == "eve@example.test" for u in emu.users.values())
