"""Issue 11, item 4: an empty state store facing two populated sides is said plainly, in the dry
run and in the run report, and logged — the sign of a lost store or a mistyped ``state_url``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated

SECRET = "unlinked-start-secret"
NOTICE = "holds no link yet, and both sides have users"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        s.whmcs.add_client("jane@example.com", "Jane", "Doe")
        s.wp.add_user("jane", "jane@example.com", first_name="Jane", last_name="Doe")
        yield s


def test_dry_run_and_report_say_the_store_is_empty_and_name_it(sides: Emulated) -> None:
    dry = sides.syncd("sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert NOTICE in dry.stdout
    assert str(sides.tmp / "state.db") in dry.stdout  # which store: the admin checks state_url against it
    assert "state_url" in dry.stdout

    real = sides.syncd("sync")
    assert real.returncode == 0, real.stderr
    assert NOTICE in real.stdout
    assert NOTICE in real.stderr  # the log line: all the daemon has to say it with

    again = sides.syncd("sync")  # links exist now: nothing to say
    assert again.returncode == 0, again.stderr
    assert NOTICE not in again.stdout + again.stderr


def test_a_store_moved_away_is_noticed_again(sides: Emulated) -> None:
    assert sides.syncd("sync").returncode == 0
    sides.write_config(state_url=f"sqlite:///{sides.tmp / 'elsewhere.db'}")  # the typo the item is about
    dry = sides.syncd("sync", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["unlinked_start"] is True
    real = sides.syncd("sync", "--json")
    assert json.loads(real.stdout)["unlinked_start"] is True


def test_one_empty_side_is_not_this_notice(sides: Emulated) -> None:
    sides.write_config(direction="whmcs_to_wp")
    for user in list(sides.wp.users.values()):
        if user.email == "jane@example.com":
            del sides.wp.users[user.id]
    dry = sides.syncd("sync", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["unlinked_start"] is False
