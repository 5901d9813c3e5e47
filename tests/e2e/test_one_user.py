"""``syncd sync --user EMAIL`` as a process against both served emulators (issue 11 item 16,
DESIGN §3.1, §10): only that user's accounts are read and written, by link then by key; the
same rules as a full run (admins, excluded roles, duplicates); it never deactivates nor marks
anyone gone; it is recorded as a one-user run; and its broken cases say so plainly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.service.lock import run_lock
from tests.e2e.emulated import Emulated, emulated

SECRET = "one-user-secret-3f9a1c"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        yield s


def _no_traceback(*outs: str) -> None:
    for out in outs:
        assert "Traceback" not in out, out
        assert SECRET not in out


def _status(sides: Emulated) -> dict[str, object]:
    out = sides.syncd("status", "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_one_user_run_creates_only_that_user_and_is_recorded_as_one(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    sides.whmcs.add_client("bob@example.com", "Bob", "Baker")
    out = sides.syncd("sync", "--user", "ANN@example.com")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert "one user, ann@example.com" in out.stdout
    assert "1 created" in out.stdout
    assert sides.wp_emails() == ["admin@example.com", "ann@example.com"]  # bob was not touched
    status = sides.syncd("status")
    assert "one-user run for ann@example.com" in status.stdout, status.stdout


def test_a_linked_user_is_found_by_link_and_only_that_user_is_updated(sides: Emulated) -> None:
    ann = sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    bob = sides.whmcs.add_client("bob@example.com", "Bob", "Baker")
    assert sides.syncd("sync").returncode == 0
    # Ann's email changes in WHMCS: her WordPress account still has the old one; only the link finds it.
    sides.whmcs.clients[ann].email = "ann.new@example.com"
    sides.whmcs.clients[ann].lastname = "Archer-Smith"
    sides.whmcs.clients[bob].lastname = "Baker-Jones"
    out = sides.syncd("sync", "--user", "ann.new@example.com", "--json")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["one_user"] is True and data["found"] is True
    assert data["counts"] == {"update": 1}
    users = {u.email: u for u in sides.wp.users.values()}
    assert "ann.new@example.com" in users and users["ann.new@example.com"].last_name == "Archer-Smith"
    assert users["bob@example.com"].last_name == "Baker"  # the next full run does Bob


def test_a_one_user_run_never_deactivates_nor_marks_gone_the_next_full_run_decides(sides: Emulated) -> None:
    sides.write_config(on_delete="deactivate")
    ann = sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    sides.whmcs.add_client("bob@example.com", "Bob", "Baker")
    assert sides.syncd("sync").returncode == 0
    del sides.wp.users[next(u.id for u in sides.wp.users.values() if u.email == "ann@example.com")]
    out = sides.syncd("sync", "--user", "ann@example.com")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert "gone from WordPress" in out.stdout and "the next full run decides" in out.stdout
    assert sides.whmcs.clients[ann].status == "Active"
    links = _status(sides)["link_stats"]
    assert isinstance(links, dict) and links["gone"] == 0 and links["deactivated"] == 0
    assert sides.wp_emails() == ["admin@example.com", "bob@example.com"]  # not recreated either
    # The full run, from complete listings and under the guard, is what deactivates.
    full = sides.syncd("sync")
    assert full.returncode == 0, full.stderr
    assert sides.whmcs.clients[ann].status == "Inactive"


def test_admins_and_excluded_roles_are_left_alone_as_in_a_full_run(sides: Emulated) -> None:
    sides.whmcs.add_client("admin@example.com", "Site", "Admin")  # the WordPress administrator's email
    sides.whmcs.add_admin("boss@example.com")
    sides.wp.add_user("boss", "boss@example.com", "Big", "Boss")  # a WHMCS admin's email
    for email in ("admin@example.com", "boss@example.com"):
        out = sides.syncd("sync", "--user", email)
        _no_traceback(out.stdout, out.stderr)
        assert out.returncode == 0, out.stderr
        assert "nothing to do" in out.stdout, out.stdout
    assert sides.whmcs.client_by_email("boss@example.com") is None
    assert len(sides.wp.users) == 2


def test_a_duplicate_email_is_refused_as_in_a_full_run(sides: Emulated) -> None:
    sides.whmcs.add_client("dup@example.com", "Dee", "One")
    sides.whmcs.add_client("Dup@Example.com", "Dee", "Two")
    out = sides.syncd("sync", "--user", "dup@example.com")
    _no_traceback(out.stdout, out.stderr)
    assert "duplicate" in out.stdout
    assert "dup@example.com" not in sides.wp_emails()


def test_another_users_open_issue_is_not_resolved_by_a_one_user_run(sides: Emulated) -> None:
    sides.whmcs.add_client("dup@example.com", "Dee", "One")
    sides.whmcs.add_client("Dup@Example.com", "Dee", "Two")
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    assert [i["key"] for i in _status(sides)["open_issues"]] == ["dup@example.com"]  # type: ignore[index]
    assert sides.syncd("sync", "--user", "ann@example.com").returncode == 0
    assert [i["key"] for i in _status(sides)["open_issues"]] == ["dup@example.com"]  # type: ignore[index]


def test_dry_run_json_and_direction_work_with_user(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    sides.wp.add_user("carl", "carl@example.com", "Carl", "Cole")
    dry = sides.syncd("sync", "--user", "ann@example.com", "--dry-run", "--json")
    _no_traceback(dry.stdout, dry.stderr)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True and plan["one_user"] is True and plan["counts"] == {"create": 1}
    assert "ann@example.com" not in sides.wp_emails()
    assert not (sides.tmp / "state.db").exists()  # a dry run writes nothing, not even the store
    # One way, from WordPress: Ann (WHMCS only) is not created in WordPress; Carl is created in WHMCS.
    one_way = sides.syncd("sync", "--user", "ann@example.com", "--direction", "wp_to_whmcs")
    assert one_way.returncode == 0, one_way.stderr
    assert "ann@example.com" not in sides.wp_emails()
    carl = sides.syncd("sync", "--user", "carl@example.com", "--direction", "wp_to_whmcs", "--force")
    assert carl.returncode == 0, carl.stderr
    assert sides.whmcs.client_by_email("carl@example.com") is not None


def test_an_email_on_neither_side_is_said_plainly_exit_1(sides: Emulated) -> None:
    out = sides.syncd("sync", "--user", "nobody@example.com")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 1, out.stderr
    assert "nobody@example.com: no account on either side and in no link; nothing was done" in out.stdout


def test_usage_errors_exit_2(sides: Emulated) -> None:
    both = sides.syncd("sync", "--user", "ann@example.com", "--full")
    assert both.returncode == 2 and "--full and --user cannot go together" in both.stderr
    bad = sides.syncd("sync", "--user", "not an email")
    assert bad.returncode == 2 and "is not an email address" in bad.stderr
    _no_traceback(both.stdout, both.stderr, bad.stdout, bad.stderr)


def test_the_lock_held_means_exit_5_and_nothing_read(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    with run_lock(f"sqlite:///{sides.tmp / 'state.db'}", wait_seconds=0):
        out = sides.syncd("sync", "--user", "ann@example.com", "--json")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 5, out.stderr
    assert json.loads(out.stdout)["exit_code"] == 5


def test_a_side_that_cannot_be_reached_is_exit_3_and_recorded(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    sides.wp_url = "http://127.0.0.1:9/"
    sides.write_config()
    out = sides.syncd("sync", "--user", "ann@example.com")
    _no_traceback(out.stdout, out.stderr)
    assert out.returncode == 3, out.stderr
    runs = _status(sides)["runs"]
    assert isinstance(runs, list) and runs[0]["outcome"] == "failed"
    assert runs[0]["user"] == "ann@example.com" and runs[0]["message"], runs[0]
