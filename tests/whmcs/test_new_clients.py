"""New WHMCS clients' currency and client group (issue 11, item 11): GetCurrencies and
GetClientGroups in the emulator as WHMCS/developer-docs shows them, AddClient sending
``[whmcs.new_clients] group_id`` as ``groupid`` (and keeping it in the emulator), and
``syncd test-connection`` as a process naming a currency or a group that does not exist."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.whmcs_wire import client_groups_of, currencies_of
from syncd.config import NewClients
from syncd.emulators.whmcs import WhmcsEmulator
from tests.e2e.emulated import emulated
from tests.whmcs.conftest import IDENTIFIER, SECRET, whmcs_settings


def test_the_emulator_lists_currencies_and_client_groups_in_the_documented_shapes() -> None:
    emulator = WhmcsEmulator.from_seed({"currencies": [{"code": "EUR", "prefix": "€"}],
                                        "client_groups": [{"name": "Resellers"}]})
    currencies = emulator.handle({"action": "GetCurrencies", "identifier": "syncd", "secret": "emulator-secret",
                                  "responsetype": "json"}, "127.0.0.1")
    assert currencies[0] == 200
    # getcurrencies.md: currencies[currency][n][id|code|prefix|suffix|format|rate], every value a string
    assert json.loads(currencies[2]) == {"result": "success", "totalresults": "2", "currencies": {"currency": [
        {"id": "1", "code": "USD", "prefix": "$", "suffix": " USD", "format": "1", "rate": "1.00000"},
        {"id": "2", "code": "EUR", "prefix": "€", "suffix": "", "format": "1", "rate": "1.00000"}]}}
    groups = emulator.handle({"action": "getclientgroups", "identifier": "syncd", "secret": "emulator-secret",
                              "responsetype": "json"}, "127.0.0.1")
    # getclientgroups.md: groups[group][n][id|groupname|groupcolour|discountpercent|susptermexempt|separateinvoices]
    assert json.loads(groups[2])["groups"] == {"group": [
        {"id": "1", "groupname": "Resellers", "groupcolour": "#FFFFFF", "discountpercent": "0.00",
         "susptermexempt": "", "separateinvoices": ""}]}
    empty = WhmcsEmulator().handle({"action": "GetClientGroups", "identifier": "syncd", "secret": "emulator-secret",
                                    "responsetype": "json"}, "127.0.0.1")
    assert json.loads(empty[2]) == {"result": "success", "totalresults": "0"}


def test_the_wire_reads_every_shape_of_the_lists() -> None:
    assert currencies_of({"currencies": {"currency": [{"id": "1", "code": "USD"}, {"id": 2, "code": "EUR"}]}}) == {
        1: "USD", 2: "EUR"}
    assert currencies_of({"currencies": {"currency": {"id": "3", "code": "GBP"}}}) == {3: "GBP"}
    assert client_groups_of({"totalresults": "0"}) == {} and client_groups_of({"groups": ""}) == {}
    assert client_groups_of({"groups": {"group": [{"id": "1", "groupname": "Resellers"}]}}) == {1: "Resellers"}


def test_add_client_sends_the_group_and_the_currency() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    group = emulator.add_client_group("Web shop")
    euro = emulator.add_currency("EUR")
    settings = whmcs_settings(new_clients=NewClients(currency=euro, group_id=group))
    with WhmcsAdapter(settings, SecretStr(SECRET), transport=emulator.transport()) as adapter:
        created = adapter.create({"email": "new@example.com", "first_name": "New", "last_name": "Client"})
    client = emulator.clients[created.remote_id]
    assert (client.groupid, client.currency) == (group, euro)
    plain = whmcs_settings()
    with WhmcsAdapter(plain, SecretStr(SECRET), transport=emulator.transport()) as adapter:
        other = adapter.create({"email": "other@example.com", "first_name": "Oth", "last_name": "Er"})
    assert (emulator.clients[other.remote_id].groupid, emulator.clients[other.remote_id].currency) == (0, 1)


def _with_new_clients(config: Path, lines: str) -> None:
    config.write_text(config.read_text(encoding="utf-8") + f"[whmcs.new_clients]\n{lines}\n", encoding="utf-8")


def test_test_connection_names_a_currency_and_a_group_that_do_not_exist(tmp_path: Path) -> None:
    with emulated(tmp_path, "new-clients-test-whmcs-secret-0123") as world:
        world.whmcs.add_client_group("Resellers")
        good = world.syncd("test-connection")
        assert good.returncode == 0, good.stdout + good.stderr
        assert "[whmcs] OK    new clients' currency ([whmcs.new_clients] currency): currency 1 (USD)" in good.stdout

        _with_new_clients(world.config, "currency = 3\ngroup_id = 2")
        bad = world.syncd("test-connection")
        assert bad.returncode == 3, bad.stdout + bad.stderr
        out = bad.stdout
        assert "[whmcs] FAIL  new clients' currency ([whmcs.new_clients] currency): currency 3 does not exist " \
               "in WHMCS (its currencies: 1 (USD))" in out
        assert "fix: set [whmcs.new_clients] currency to the id of one of them" in out
        assert "client group 2 does not exist in WHMCS (its client groups: 1 (Resellers))" in out
        assert "fix: set [whmcs.new_clients] group_id to the id of one of them" in out
        assert "Traceback" not in bad.stderr

        world.write_config()
        _with_new_clients(world.config, "group_id = 1")
        grouped = world.syncd("test-connection", "--json")
        assert grouped.returncode == 0, grouped.stdout
        assert '"message": "client group 1 (Resellers)"' in grouped.stdout
