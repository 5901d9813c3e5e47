"""``test-connection``'s check of the field map's WordPress side, on the emulator: each mapped meta key
WordPress does not expose is named with its fix (install the companion; list the key in
SYNCD_META_KEYS when the companion is there; or register_meta), and the companion's version is said."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from syncd.checks import Check
from syncd.checks.wordpress import run
from syncd.config import Settings, WhmcsSettings, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator

NAME = "mapped fields ([[fields]], preset)"


def _no_sleep(_seconds: float) -> None:
    pass


def checks(emu: WordPressEmulator, *, preset: str = "woocommerce", fields: tuple[dict[str, Any], ...] = ()
           ) -> dict[str, Check]:
    password = emu.add_app_password("admin")
    wordpress = WordPressSettings(url="http://wp.test/", username="admin", application_password=SecretStr(password),
                                  retries=0, preset=preset)
    whmcs = WhmcsSettings(url="http://127.0.0.1:9/", identifier="x", secret=SecretStr("whmcs-secret-not-used"))
    settings = Settings(whmcs=whmcs, wordpress=wordpress, fields=fields)
    found = run(settings, transport=emu.transport(), sleep=_no_sleep)
    for check in found:
        assert password not in check.line()
    return {c.name: c for c in found}


def test_no_map_no_check() -> None:
    assert NAME not in checks(WordPressEmulator(), preset="")


def test_without_the_companion_each_missing_key_is_named_with_the_install_fix() -> None:
    emu = WordPressEmulator(registered_meta={"billing_company": "string", "billing_city": "string"})
    check = checks(emu)[NAME]
    assert not check.ok
    for key in ("billing_address_1", "billing_phone", "billing_country", "billing_postcode"):
        assert key in check.detail
    assert "billing_city" not in check.detail
    assert "syncd companion wordpress --out DIR" in check.fix and "mu-plugins" in check.fix
    assert "register_meta('user'" in check.fix and "show_in_rest" in check.fix


def test_with_the_companion_all_keys_exposed_is_ok_and_names_its_version() -> None:
    emu = WordPressEmulator()
    emu.install_companion(version="0.2.0")
    check = checks(emu)[NAME]
    assert check.ok, check.line()
    assert "companion 0.2.0" in check.detail and "phonenumber" in check.detail


def test_a_key_not_in_syncd_meta_keys_says_so() -> None:
    emu = WordPressEmulator()
    emu.install_companion()
    check = checks(emu, fields=({"whmcs": "customfield.7", "wordpress": "meta.vat_number"},))[NAME]
    assert not check.ok
    assert "vat_number" in check.detail and "not in its SYNCD_META_KEYS" in check.detail
    assert "define('SYNCD_META_KEYS'" in check.fix and "vat_number" in check.fix
    assert "billing_phone" not in check.detail
