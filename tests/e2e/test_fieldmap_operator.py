"""The field map as an impatient admin meets it, through ``python -m syncd`` as a process (issue 12):
``check-config`` and ``test-connection`` name every problem of a broken map with what to do, in
text and ``--json`` (exit 2, before either side is called); a valid map is listed as it will be
carried, with the preset fields a ``[[fields]]`` table replaces; without the companion,
``test-connection`` gives the install steps and the exact SYNCD_META_KEYS line; and the dry run and
``explain`` name each mapped field as the operator wrote it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated

SECRET = "fieldmap-ops-secret-51d7"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        yield s


def _with(sides: Emulated, extra: str, *, preset: str = "", **sync: object) -> None:
    sides.write_config(**sync)
    text = sides.config.read_text(encoding="utf-8")
    if preset:
        text = text.replace("[wordpress]\n", f'[wordpress]\npreset = "{preset}"\n', 1)
    sides.config.write_text(text + extra, encoding="utf-8")


BROKEN = [
    ('whmcs = "phone"\nwordpress = "meta.billing_phone"\n', {},
     "[[fields]] #1 (whmcs = 'phone'): unknown WHMCS client field; known: address1, address2, city, country, "
     "language, notes, phonenumber, postcode, state, tax_id, or customfield.<id>; did you mean 'phonenumber'?"),
    ('whmcs = "countryname"\nwordpress = "meta.billing_country"\n', {},
     "[[fields]] #1 (whmcs = 'countryname'): WHMCS derives it from country; map country instead"),
    ('whmcs = "city"\nwordpress = "billing_city"\n', {},
     "wordpress = 'billing_city': unknown WordPress field; known: description, nickname, url, or meta.<key>; "
     'a user meta key (as WooCommerce\'s are) is written with its prefix: "meta.billing_city"'),
    ('whmcs = "city"\nwordpress = "meta.billing_city"\nkind = "phone"\n', {},
     "[[fields]] #1 (whmcs = 'city'): kind 'phone' cannot apply to WHMCS's city (use 'text')"),
    ('whmcs = "customfield.4"\nwordpress = "nickname"\nkind = "country"\n', {},
     "kind 'country' cannot apply to WordPress's nickname, a text field (user meta takes any kind)"),
    ('whmcs = "city"\nwordpress = "meta.billing_city"\ndirection = "both"\n', {"direction": "whmcs_to_wp"},
     "direction 'both' is wider than [sync] direction 'whmcs_to_wp'; give 'whmcs_to_wp' or leave it out"),
]


@pytest.mark.parametrize(("table", "sync", "said"), BROKEN, ids=["unknown", "derived", "bare-meta", "kind-whmcs",
                                                                  "kind-wordpress", "wider"])
def test_each_broken_map_is_named_with_what_to_do_by_both_commands_text_and_json(
        sides: Emulated, table: str, sync: dict[str, object], said: str) -> None:
    _with(sides, "[[fields]]\n" + table, **sync)
    for command in ("check-config", "test-connection"):
        text = sides.syncd(command)
        assert text.returncode == 2, (command, text.stdout, text.stderr)
        assert said in text.stderr and "Traceback" not in text.stdout + text.stderr
        as_json = sides.syncd(command, "--json")
        assert as_json.returncode == 2, (command, as_json.stdout, as_json.stderr)
        data = json.loads(as_json.stdout)
        assert data["ok"] is False and data["exit_code"] == 2
        assert any(said in p for p in data["problems"]), data
        assert SECRET not in as_json.stdout + as_json.stderr
    assert not sides.whmcs.calls  # refused at load: neither side was called


def test_a_valid_map_is_listed_as_it_will_be_carried_with_the_preset_fields_it_replaces(sides: Emulated) -> None:
    _with(sides, '[[fields]]\nwhmcs = "phonenumber"\nwordpress = "meta.mobile"\n'
                 '[[fields]]\nwhmcs = "customfield.3"\nwordpress = "meta.vat_number"\napply = "on_create"\n',
          preset="woocommerce")
    run = sides.syncd("check-config")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "field map ([[fields]], [wordpress] preset): 8 fields" in run.stdout
    assert "phonenumber ↔ meta.mobile (phone, both ways): compared at every run" in run.stdout
    assert "customfield.3 ↔ meta.vat_number (text, both ways): set when the account is created, then left alone" \
        in run.stdout
    assert ("note: [[fields]] #1 (whmcs = 'phonenumber') replaces the woocommerce preset's phonenumber ↔ "
            "meta.billing_phone") in run.stdout
    data = json.loads(sides.syncd("check-config", "--json").stdout)
    assert data["ok"] is True and data["exit_code"] == 0 and data["problems"] == []
    assert {f["label"] for f in data["mapped_fields"]} >= {"phonenumber ↔ meta.mobile", "city ↔ meta.billing_city"}
    assert data["notes"] == ["[[fields]] #1 (whmcs = 'phonenumber') replaces the woocommerce preset's phonenumber "
                             "↔ meta.billing_phone",
                             "customfield.3 must be a client custom field id of your WHMCS (Configuration → System "
                             "Settings → Custom Client Fields; GetClientsDetails lists them under \"customfields\"); "
                             "`syncd test-connection` checks it"]


def test_without_the_companion_test_connection_gives_the_steps_and_the_exact_meta_keys_line(
        sides: Emulated) -> None:
    _with(sides, '[[fields]]\nwhmcs = "phonenumber"\nwordpress = "meta.mobile"\n', preset="woocommerce")
    run = sides.syncd("test-connection")
    assert run.returncode == 3, run.stdout + run.stderr
    fail = next(line for line in run.stdout.splitlines() if "FAIL" in line)
    assert "mapped fields" in fail and "mobile" in fail and "billing_city" in fail
    fix = run.stdout.split(fail, 1)[1]
    assert "1) syncd companion wordpress --out DIR" in fix and "wp-content/mu-plugins/" in fix
    assert ("3) in wp-config.php: define('SYNCD_META_KEYS', 'billing_address_1,billing_address_2,billing_city,"
            "billing_company,billing_country,billing_postcode,billing_state,mobile');") in fix
    data = json.loads(sides.syncd("test-connection", "--json").stdout)
    [check] = [c for c in data["checks"] if c["name"].startswith("mapped fields")]
    assert check["ok"] is False and "define('SYNCD_META_KEYS'" in check["fix"]
    assert "Traceback" not in run.stdout + run.stderr and sides.wp_password not in run.stdout + run.stderr


def test_woocommerce_keys_alone_need_no_meta_keys_line(sides: Emulated) -> None:
    _with(sides, "", preset="woocommerce")
    run = sides.syncd("test-connection")
    assert run.returncode == 3 and "1) syncd companion wordpress --out DIR" in run.stdout
    assert "define('SYNCD_META_KEYS'" not in run.stdout  # the companion's default keys are these


def test_the_dry_run_and_explain_name_the_mapped_fields_and_what_wordpress_does_not_expose(
        sides: Emulated) -> None:
    sides.wp.add_user("sam", "sam@example.com", "Sam", "Shop", meta={"billing_city": "York"})
    _with(sides, '[[fields]]\nwhmcs = "customfield.3"\nwordpress = "meta.vat_number"\n', preset="woocommerce")
    dry = sides.syncd("sync", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "mapped fields ([[fields]], preset): 8 fields" in dry.stdout
    assert ("city ↔ meta.billing_city: not carried: WordPress does not expose the user meta billing_city in its "
            "REST API (install the syncd companion") in dry.stdout
    data = json.loads(sides.syncd("sync", "--dry-run", "--json").stdout)
    assert [f["carried"] for f in data["mapped_fields"]] == [False] * 8
    sides.wp.install_companion(("billing_city", "billing_phone", "vat_number"))
    shown = sides.syncd("explain", "sam@example.com")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "  mapped fields:" in shown.stdout
    line = next(li for li in shown.stdout.splitlines() if li.strip().startswith("city ↔ meta.billing_city:"))
    assert "WordPress 'York'" in line and "WHMCS no account" in line
    assert "address1 ↔ meta.billing_address_1: WHMCS no account, WordPress not read: not carried: WordPress " \
           "does not expose the user meta billing_address_1" in shown.stdout
    as_json = json.loads(sides.syncd("explain", "sam@example.com", "--json").stdout)
    [city] = [f for f in as_json["fields"] if f["field"] == "city"]
    assert city["wordpress"] == "York" and city["whmcs"] is None
