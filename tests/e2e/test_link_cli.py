"""``syncd link WHMCS_CLIENT_ID WP_USER_ID`` and ``syncd unlink EMAIL`` as processes against both
served emulators (issue 11 item 17): only the state store changes; admins, unknown ids and
accounts already linked are refused (exit 2); the next run after a manual link settles a
mismatched pair instead of creating two accounts; unlink says what the next run will do; both
are recorded for ``status`` and logged; the lock held means exit 5."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.service.lock import run_lock
from tests.e2e.emulated import Emulated, emulated

SECRET = "link-cli-secret-8e2b7d"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        yield s


def _clean(*outs: str) -> None:
    for out in outs:
        assert "Traceback" not in out, out
        assert SECRET not in out


def _wp_id(sides: Emulated, email: str) -> int:
    return next(u.id for u in sides.wp.users.values() if u.email.lower() == email)


def _mismatched(sides: Emulated) -> tuple[int, int]:
    client = sides.whmcs.add_client("jane@old.example.com", "Jane", "Doe")
    user = sides.wp.add_user("janet", "jane@new.example.com", "Janet", "")
    return client, user


def test_link_pairs_a_mismatched_email_and_the_next_run_settles_it(sides: Emulated) -> None:
    client, user = _mismatched(sides)
    out = sides.syncd("link", str(client), str(user))
    _clean(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Linked WHMCS client #{client} <jane@old.example.com> and WordPress user #{user}")
    assert "nothing was written to either side" in out.stdout
    assert "The next run would:" in out.stdout and "email 'jane@new.example.com' → 'jane@old.example.com'" in out.stdout
    assert "linked by hand" in out.stderr  # the INFO line
    # Nothing written to either side by the link itself.
    assert sides.wp.users[user].email == "jane@new.example.com"
    assert sides.whmcs.clients[client].email == "jane@old.example.com"
    status = sides.syncd("status")
    assert "manual" in status.stdout and "linked by hand" in status.stdout, status.stdout
    run = sides.syncd("sync", "--json")
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout)["counts"]
    assert counts.get("update") == 1 and "create" not in counts, counts  # not two creates
    assert sides.wp.users[user].email == "jane@old.example.com"  # priority whmcs
    assert sides.wp.users[user].first_name == "Jane" and sides.wp.users[user].last_name == "Doe"
    assert len(sides.whmcs.clients) == 1
    again = sides.syncd("sync", "--json")
    assert json.loads(again.stdout)["counts"] == {}  # settled: the second run writes nothing


def test_without_the_link_the_same_pair_would_become_two_new_accounts(sides: Emulated) -> None:
    _mismatched(sides)
    dry = sides.syncd("sync", "--dry-run", "--json")
    assert json.loads(dry.stdout)["counts"] == {"create": 2}


def test_link_json_and_a_pair_already_linked_together(sides: Emulated) -> None:
    client, user = _mismatched(sides)
    out = sides.syncd("link", str(client), str(user), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["action"] == "link" and data["changed"] is True
    assert data["link"]["whmcs_id"] == client and data["link"]["wp_id"] == user
    assert data["whmcs"]["fields"]["email"] == "jane@old.example.com" and data["next_run"]
    same = sides.syncd("link", str(client), str(user))
    assert same.returncode == 0 and "Already linked together" in same.stdout


def test_accounts_already_linked_are_refused_with_what_to_do(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    ann_w, ann_p = sides.whmcs.client_by_email("ann@example.com"), _wp_id(sides, "ann@example.com")
    other = sides.wp.add_user("zed", "zed@example.com", "Zed", "Zee")
    out = sides.syncd("link", str(ann_w), str(other))
    _clean(out.stdout, out.stderr)
    assert out.returncode == 2, out.stderr
    assert f"already linked: WHMCS client #{ann_w} ⇄ WordPress user #{ann_p} (ann@example.com)" in out.stderr
    assert "syncd unlink" in out.stderr
    as_json = sides.syncd("link", str(ann_w), str(other), "--json")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["exit_code"] == 2


def test_unknown_ids_and_bad_arguments_are_refused(sides: Emulated) -> None:
    user = sides.wp.add_user("zed", "zed@example.com", "Zed", "Zee")
    out = sides.syncd("link", "99", str(user))
    _clean(out.stdout, out.stderr)
    assert out.returncode == 2 and "WHMCS has no client #99" in out.stderr
    client = sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    gone = sides.syncd("link", str(client), "999")
    assert gone.returncode == 2 and "WordPress has no user #999" in gone.stderr
    bad = sides.syncd("link", "abc", "1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert json.loads(sides.syncd("status", "--json").stdout)["link_stats"].get("total", 0) == 0


def test_admins_are_refused(sides: Emulated) -> None:
    client = sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    admin = _wp_id(sides, "admin@example.com")
    out = sides.syncd("link", str(client), str(admin))
    _clean(out.stdout, out.stderr)
    assert out.returncode == 2 and "excluded role administrator" in out.stderr, out.stderr
    sides.whmcs.add_admin("boss@example.com")
    boss = sides.whmcs.add_client("boss@example.com", "Big", "Boss")
    user = sides.wp.add_user("zed", "zed@example.com", "Zed", "Zee")
    refused = sides.syncd("link", str(boss), str(user))
    assert refused.returncode == 2 and "belongs to a WHMCS admin" in refused.stderr, refused.stderr
    # A WHMCS client whose email is the WordPress administrator's is protected too.
    twin = sides.whmcs.add_client("admin@example.com", "Site", "Admin")
    third = sides.syncd("link", str(twin), str(user))
    assert third.returncode == 2 and "protected WordPress account" in third.stderr, third.stderr
    assert "Linked" not in sides.syncd("status").stdout


def test_unlink_forgets_the_pair_and_says_what_the_next_run_does(sides: Emulated) -> None:
    client, user = _mismatched(sides)
    assert sides.syncd("link", str(client), str(user)).returncode == 0
    out = sides.syncd("unlink", "JANE@new.example.com")
    _clean(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Unlinked WHMCS client #{client} <jane@old.example.com> and WordPress user #{user}")
    assert "create WordPress user jane@old.example.com" in out.stdout, out.stdout
    assert "unlinked by hand" in out.stderr
    assert "unlinked by hand" in sides.syncd("status").stdout
    assert json.loads(sides.syncd("status", "--json").stdout)["link_stats"]["total"] == 0
    again = sides.syncd("unlink", "jane@new.example.com", "--json")
    assert again.returncode == 1 and "no link holds jane@new.example.com" in again.stderr
    assert json.loads(again.stdout)["exit_code"] == 1


def test_unlink_of_a_user_whose_emails_still_match_says_it_is_linked_again(sides: Emulated) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    out = sides.syncd("unlink", "ann@example.com", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["action"] == "unlink" and any(line.startswith("link WHMCS client") for line in data["next_run"])


def test_unlink_refuses_an_email_several_links_hold(sides: Emulated) -> None:
    a = sides.whmcs.add_client("a@example.com", "A", "A")
    b = sides.whmcs.add_client("b@example.com", "B", "B")
    pb = sides.wp.add_user("pb", "b@example.com", "B", "B")
    pc = sides.wp.add_user("pc", "c@example.com", "C", "C")
    assert sides.syncd("link", str(a), str(pb)).returncode == 0
    assert sides.syncd("link", str(b), str(pc)).returncode == 0
    out = sides.syncd("unlink", "b@example.com")
    _clean(out.stdout, out.stderr)
    assert out.returncode == 2, out.stderr
    assert "2 links hold b@example.com" in out.stderr
    assert f"#{a} ⇄ WordPress user #{pb}" in out.stderr and f"#{b} ⇄ WordPress user #{pc}" in out.stderr


def test_the_lock_held_means_exit_5_for_link_and_unlink(sides: Emulated) -> None:
    client, user = _mismatched(sides)
    assert sides.syncd("sync", "--dry-run").returncode == 0
    (sides.tmp / "state.db").touch()
    with run_lock(f"sqlite:///{sides.tmp / 'state.db'}", wait_seconds=0):
        linked = sides.syncd("link", str(client), str(user))
        unlinked = sides.syncd("unlink", "jane@old.example.com")
    _clean(linked.stdout, linked.stderr, unlinked.stdout, unlinked.stderr)
    assert linked.returncode == 5, linked.stderr
    assert unlinked.returncode == 5, unlinked.stderr


def test_a_manual_link_does_not_hide_a_guard_stop_from_status_check(sides: Emulated) -> None:
    sides.write_config(max_deletes=0)
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    assert sides.syncd("sync").returncode == 0
    del sides.wp.users[_wp_id(sides, "ann@example.com")]
    assert sides.syncd("sync").returncode == 4
    client, user = _mismatched(sides)
    assert sides.syncd("link", str(client), str(user)).returncode == 0
    check = sides.syncd("status", "--check")
    assert check.returncode == 2 and "guard" in check.stdout, check.stdout


def test_link_and_unlink_by_hand_are_in_the_persons_history(sides: Emulated) -> None:
    client, user = _mismatched(sides)
    assert sides.syncd("link", str(client), str(user)).returncode == 0
    assert sides.syncd("unlink", "jane@old.example.com").returncode == 0
    shown = sides.syncd("history", "jane@old.example.com", "--json")
    assert shown.returncode == 0, shown.stderr
    kinds = [change["kind"] for change in json.loads(shown.stdout)["changes"]]
    assert kinds[:2] == ["manual unlink", "manual link"], kinds  # newest first
    text = sides.syncd("history", "jane@old.example.com")
    assert f"#{client}" in text.stdout and f"#{user}" in text.stdout, text.stdout
