"""``syncd test-connection``'s WHMCS checks against the emulator in each fault mode: the right
diagnosis (the IP to allow, the action to tick), the right ok flags, and write probes that
change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from syncd.checks import Check
from syncd.checks.whmcs import run
from syncd.config import NewClients
from syncd.emulators.whmcs import WhmcsEmulator
from tests.whmcs.conftest import ACCESS_KEY, SECRETS, full_settings, whmcs_settings

ACTIONS = ["GetClients", "GetClientsDetails", "GetUsers", "GetAdminUsers", "AddClient", "UpdateClient",
           "UpdateUser", "ResetPassword"]


def checks(emulator: WhmcsEmulator, *, loopback: bool = False, url: str | None = None,
           **overrides: Any) -> dict[str, Check]:
    if loopback:
        settings = full_settings(whmcs_settings(url or emulator.start(), **overrides))
        result = run(settings, sleep=lambda _: None)
    else:
        settings = full_settings(whmcs_settings(**overrides))
        result = run(settings, transport=emulator.transport(), sleep=lambda _: None)
    for check in result:
        assert check.side == "whmcs"
        assert check.ok or check.fix, f"a failed check must say how to fix it: {check}"
        for secret in SECRETS:
            assert secret not in check.line()
    return {c.name: c for c in result}


def failed(result: dict[str, Check]) -> list[str]:
    return [name for name, c in result.items() if not c.ok]


def test_all_good_checks_every_action_and_changes_nothing(emulator: WhmcsEmulator) -> None:
    before = {cid: vars(c).copy() for cid, c in emulator.clients.items()}
    result = checks(emulator, loopback=True)
    assert failed(result) == []
    for action in ACTIONS:
        assert f'API action "{action}"' in result
    assert "8.13.1" in result['API action "WhmcsDetails" or "GetAdminDetails"'].detail
    assert {cid: vars(c) for cid, c in emulator.clients.items()} == before
    assert emulator.emails_sent == []
    assert emulator.calls["DeleteClient"] == emulator.calls["CloseClient"] == 0
    emulator.stop()


def test_an_unreachable_whmcs_fails_the_first_check_only(emulator: WhmcsEmulator) -> None:
    url = emulator.start()
    emulator.stop()
    result = checks(emulator, loopback=True, url=url)
    assert list(result) == ["reachable"] and not result["reachable"].ok
    refused = result["reachable"]
    assert refused.detail.startswith("cannot reach WHMCS at ") and "the connection was refused" in refused.detail
    assert "ConnectError" not in refused.detail and "Errno" not in refused.detail
    assert "check the host and port in [whmcs] url" in refused.fix


def test_the_maintenance_page_is_diagnosed(emulator: WhmcsEmulator) -> None:
    emulator.maintenance = True
    result = checks(emulator)
    assert result["reachable"].ok and failed(result) == ["answers with the API's JSON"]
    check = result["answers with the API's JSON"]
    assert "maintenance mode" in check.detail and "WHMCS root" in check.fix


def test_a_wrong_url_is_diagnosed(emulator: WhmcsEmulator) -> None:
    result = checks(emulator, loopback=True, url=emulator.start() + "whmcs/")
    assert failed(result) == ["answers with the API's JSON"]
    assert "404" in result["answers with the API's JSON"].detail


def test_a_doubled_api_path_is_diagnosed(emulator: WhmcsEmulator) -> None:
    result = checks(emulator, loopback=True, url=emulator.start() + "includes/api.php/includes/api.php")
    assert failed(result) == ["answers with the API's JSON"]
    assert "doubled" in result["answers with the API's JSON"].detail


def test_an_ip_off_the_allow_list_names_the_ip_and_both_fixes(emulator: WhmcsEmulator) -> None:
    emulator.allowed_ips = {"198.51.100.7"}
    emulator.seen_ip = "203.0.113.9"
    result = checks(emulator)
    assert failed(result) == ["API IP allow-list"]
    check = result["API IP allow-list"]
    assert "203.0.113.9" in check.detail and "203.0.113.9" in check.fix
    assert "API IP Access Restriction" in check.fix and "access_key" in check.fix
    # The suggested fix works.
    assert failed(checks(emulator, access_key=SecretStr(ACCESS_KEY))) == []


def test_the_real_loopback_ip_is_the_one_named(emulator: WhmcsEmulator) -> None:
    emulator.allowed_ips = {"198.51.100.7"}
    result = checks(emulator, loopback=True)
    assert "127.0.0.1" in result["API IP allow-list"].fix


def test_wrong_credentials_are_diagnosed(emulator: WhmcsEmulator) -> None:
    emulator.secret = "rotated"
    result = checks(emulator)
    assert failed(result) == ["credentials"]
    assert result["API IP allow-list"].ok
    assert "Manage API Credentials" in result["credentials"].fix


@pytest.mark.parametrize("denied", [["AddClient"], ["UpdateUser", "GetUsers"], ["GetClients"],
                                    ["GetAdminUsers", "UpdateClient", "GetClientsDetails"]])
def test_each_missing_permission_is_named(emulator: WhmcsEmulator, denied: list[str]) -> None:
    emulator.deny(*denied)
    result = checks(emulator)
    assert sorted(failed(result)) == sorted(f'API action "{a}"' for a in denied)
    assert result["credentials"].ok
    for action in denied:
        check = result[f'API action "{action}"']
        assert f'"{action}"' in check.fix and "API Roles" in check.fix
    assert len(emulator.clients) == 5  # the AddClient probe cannot create anything


def test_reset_password_is_needed_only_when_configured(emulator: WhmcsEmulator) -> None:
    emulator.deny("ResetPassword")
    assert failed(checks(emulator)) == []
    result = checks(emulator, new_clients=NewClients(send_password_reset=True))
    assert failed(result) == ['API action "ResetPassword"']


def test_the_version_needs_one_of_two_actions(emulator: WhmcsEmulator) -> None:
    emulator.deny("WhmcsDetails")
    assert failed(checks(emulator)) == []
    emulator.deny("GetAdminDetails")
    result = checks(emulator)
    assert failed(result) == ['API action "WhmcsDetails" or "GetAdminDetails"']


def test_a_php_warning_does_not_fail_a_check(emulator: WhmcsEmulator) -> None:
    emulator.php_warning = True
    assert failed(checks(emulator)) == []


def test_whmcs_7_passes_with_a_note(emulator: WhmcsEmulator) -> None:
    emulator.version = "7.10.2"
    result = checks(emulator)
    assert failed(result) == []
    assert "before WHMCS 8.1" in result['API action "GetUsers"'].detail
    assert "owner users" in result['API action "WhmcsDetails" or "GetAdminDetails"'].detail


def test_a_write_probe_answered_by_an_empty_body_is_not_counted_as_allowed(emulator: WhmcsEmulator) -> None:
    emulator.fail_on("AddClient", kind="empty_after_commit")
    result = checks(emulator)
    assert failed(result) == ['API action "AddClient"']
    assert "could not tell" in result['API action "AddClient"'].detail


def test_an_overloaded_whmcs_is_diagnosed(emulator: WhmcsEmulator) -> None:
    emulator.fail_on("GetClients", status=503, times=None)
    result = checks(emulator)
    assert failed(result) == ["reachable"] and "503" in result["reachable"].detail


def test_a_one_way_sync_to_wordpress_needs_no_whmcs_write(emulator: WhmcsEmulator) -> None:
    from syncd.config import SyncSettings
    from syncd.model import Direction

    emulator.deny("AddClient", "UpdateClient", "UpdateUser")
    settings = full_settings(whmcs_settings()).model_copy(
        update={"sync": SyncSettings(direction=Direction.WHMCS_TO_WP)})
    result = {c.name: c for c in run(settings, transport=emulator.transport())}
    assert [n for n, c in result.items() if not c.ok] == []
    assert "not needed" in result['API action "AddClient"'].detail
    assert failed(checks(emulator)) == ['API action "AddClient"', 'API action "UpdateClient"',
                                        'API action "UpdateUser"']


# -- the currency and the client group of new clients (issue 11, item 11) -------------------------

CURRENCY = "new clients' currency ([whmcs.new_clients] currency)"
GROUP = "new clients' group ([whmcs.new_clients] group_id)"


def test_the_configured_currency_must_exist(emulator: WhmcsEmulator) -> None:
    assert checks(emulator)[CURRENCY].detail == "currency 1 (USD)"
    assert GROUP not in checks(emulator)  # group_id 0: no group, nothing to check
    euro = emulator.add_currency("EUR", "€")
    assert checks(emulator, new_clients=NewClients(currency=euro))[CURRENCY].detail == f"currency {euro} (EUR)"
    result = checks(emulator, new_clients=NewClients(currency=7))
    assert failed(result) == [CURRENCY]
    assert result[CURRENCY].detail == f"currency 7 does not exist in WHMCS (its currencies: 1 (USD), {euro} (EUR))"
    assert "set [whmcs.new_clients] currency to the id of one of them" in result[CURRENCY].fix


def test_the_configured_client_group_must_exist(emulator: WhmcsEmulator) -> None:
    result = checks(emulator, new_clients=NewClients(group_id=2))
    assert failed(result) == [GROUP]
    assert result[GROUP].detail == "client group 2 does not exist in WHMCS (it has no client group)"
    assert "group_id to the id of one of them" in result[GROUP].fix and "or to 0 for no group" in result[GROUP].fix
    emulator.add_client_group("Resellers")
    vip = emulator.add_client_group("VIP")
    assert checks(emulator, new_clients=NewClients(group_id=vip))[GROUP].detail == f"client group {vip} (VIP)"
    result = checks(emulator, new_clients=NewClients(group_id=9))
    assert "(its client groups: 1 (Resellers), 2 (VIP))" in result[GROUP].detail


def test_the_lists_need_their_api_actions(emulator: WhmcsEmulator) -> None:
    emulator.deny("GetCurrencies", "GetClientGroups")
    result = checks(emulator, new_clients=NewClients(group_id=1))
    assert failed(result) == [CURRENCY, GROUP]
    assert 'tick "GetCurrencies" in the API role' in result[CURRENCY].fix
    assert 'tick "GetClientGroups" in the API role' in result[GROUP].fix


def test_a_one_way_sync_to_wordpress_creates_no_client_and_checks_no_currency(emulator: WhmcsEmulator) -> None:
    from syncd.config import SyncSettings
    from syncd.model import Direction

    emulator.deny("GetCurrencies")
    settings = full_settings(whmcs_settings(new_clients=NewClients(currency=42))).model_copy(
        update={"sync": SyncSettings(direction=Direction.WHMCS_TO_WP)})
    result = {c.name: c for c in run(settings, transport=emulator.transport())}
    assert result[CURRENCY].ok and "not used" in result[CURRENCY].detail
    assert emulator.calls["GetCurrencies"] == 0


def test_reset_password_is_needed_for_password_reset_on_wp_change_only_with_carry(emulator: WhmcsEmulator) -> None:
    from syncd.config import PasswordSettings

    emulator.deny("ResetPassword")
    base = full_settings(whmcs_settings(password_reset_on_wp_change=True))
    idle = run(base, transport=emulator.transport(), sleep=lambda _: None)
    assert [c.name for c in idle if not c.ok] == []  # carry off: the option does nothing, nothing needed
    carrying = base.model_copy(update={"passwords": PasswordSettings(carry=True)})
    result = run(carrying, transport=emulator.transport(), sleep=lambda _: None)
    assert [c.name for c in result if not c.ok] == ['API action "ResetPassword"']
