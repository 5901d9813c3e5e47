"""The field map through ``python -m syncd`` as a process (DESIGN §9): a broken ``[[fields]]``
table is exit 2 with every problem named by its table and no traceback; a valid map with the
WooCommerce preset passes check-config, and a dry run with it runs (until the adapters read
mapped fields, the map carries nothing and says so by listing no mapped field)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated

SECRET = "fieldmap-secret-9c41"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        yield s


def _with(sides: Emulated, extra: str, *, preset: str = "") -> None:
    sides.write_config()
    text = sides.config.read_text(encoding="utf-8")
    if preset:
        text = text.replace("[wordpress]\n", f'[wordpress]\npreset = "{preset}"\n', 1)
    sides.config.write_text(text + extra, encoding="utf-8")


def test_check_config_names_each_broken_fields_table(sides: Emulated) -> None:
    _with(sides, '[[fields]]\nwhmcs = "phonenumbr"\nwordpress = "meta.billing_phone"\n'
                 '[[fields]]\nwhmcs = "country"\nwordpress = "meta.billing_country"\ndefault = "Germany"\n'
                 '[[fields]]\nwhmcs = "companyname"\nwordpress = "meta.org"\n', preset="woocommerce")
    run = sides.syncd("check-config")
    assert run.returncode == 2, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert "[[fields]] #1 (whmcs = 'phonenumbr'): unknown WHMCS client field; known:" in out
    assert "[[fields]] #2 (whmcs = 'country'): default 'Germany' is not a 2-letter ISO 3166-1 country code" in out
    assert "[[fields]] #3 (whmcs = 'companyname'): syncd already carries the company" in out
    assert "Traceback" not in out and SECRET not in out


def test_the_same_broken_map_stops_sync_before_either_side_is_read(sides: Emulated) -> None:
    _with(sides, '[[fields]]\nwhmcs = "city"\nwordpress = "meta.billing_city"\ndirection = "sideways"\n')
    run = sides.syncd("sync", "--dry-run")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "[[fields]] #1 (whmcs = 'city'): direction 'sideways' is not one of" in run.stdout + run.stderr
    assert not sides.whmcs.calls  # refused at load: WHMCS was never called


def test_a_valid_map_passes_check_config_and_a_dry_run_runs(sides: Emulated) -> None:
    _with(sides, '[[fields]]\nwhmcs = "customfield.3"\nwordpress = "meta.vat_number"\napply = "on_create"\n',
          preset="woocommerce")
    run = sides.syncd("check-config")
    assert run.returncode == 0, run.stdout + run.stderr
    dry = sides.syncd("sync", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True and "email" in plan["fields"]
