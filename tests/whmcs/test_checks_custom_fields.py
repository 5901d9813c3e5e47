"""``syncd test-connection`` checks each mapped ``customfield.<id>`` against the client custom
fields the WHMCS install defines (read from one client's GetClientsDetails), naming a missing one
with where to find the ids."""

from __future__ import annotations

from syncd.checks.whmcs import run
from syncd.config import Settings
from syncd.emulators.whmcs import WhmcsEmulator
from tests.whmcs.conftest import full_settings, whmcs_settings


def settings_with(*ids: int) -> Settings:
    base = full_settings(whmcs_settings())
    tables = tuple({"whmcs": f"customfield.{i}", "wordpress": f"meta.extra_{i}"} for i in ids)
    return base.model_copy(update={"fields": tables})


def test_a_custom_field_whmcs_has_passes_one_it_lacks_is_named_with_the_fix(emulator: WhmcsEmulator) -> None:
    emulator.add_custom_field("VAT number")
    emulator.add_custom_field("Referrer")
    result = {c.name: c for c in run(settings_with(2, 7), transport=emulator.transport(), sleep=lambda _: None)}
    good = result['mapped field "customfield.2" ↔ meta.extra_2']
    assert good.ok and "client custom field 2" in good.detail
    bad = result['mapped field "customfield.7" ↔ meta.extra_7']
    assert not bad.ok
    assert "WHMCS has no client custom field with id 7 (its client custom fields have the ids 1, 2)" in bad.detail
    assert "Configuration → System Settings → Custom Client Fields" in bad.fix and "customfields" in bad.fix


def test_without_a_client_it_says_it_could_not_check(emulator: WhmcsEmulator) -> None:
    emulator.clients.clear()
    result = {c.name: c for c in run(settings_with(1), transport=emulator.transport(), sleep=lambda _: None)}
    check = result["mapped custom fields (customfield.1)"]
    assert check.ok and "WHMCS has no client yet" in check.detail


def test_no_custom_field_mapped_no_check(emulator: WhmcsEmulator) -> None:
    names = [c.name for c in run(full_settings(whmcs_settings()), transport=emulator.transport(),
                                 sleep=lambda _: None)]
    assert not [n for n in names if "custom" in n]
