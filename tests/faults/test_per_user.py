"""Faults that concern one user, or one permission: the others go on (for a permission the
side takes away in the middle of a run, the users who need it fail and the run ends with exit 3
naming the permission, as a side that refused, DESIGN §3), nothing is duplicated, nobody is
wrongly deactivated, and the next run finishes the job.

- a create whose outcome is unknown (the side committed but the answer was lost) is looked
  up before any new attempt, so the next run links instead of creating a second account;
- a deactivation that fails is tried again, and what it took away is given back later;
- duplicate emails on one side are reported and left alone;
- a create the side rejects fails for that user only, with the side's own words.

In process against both emulators.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd import render
from syncd.state.store import SqlStateStore
from tests.faults.world import POPULATION, World, heal, populated

Fault = Callable[[World], object]  # what a switch returns (a planted fault) is not used


def nobody_deactivated(world: World) -> None:
    inactive = [c.email for c in world.whmcs.clients.values() if c.status != "Active"]
    roleless = [u.email for u in world.wp.users.values() if not u.roles]
    assert not inactive and not roleless, (inactive, roleless)


# --- creates with an unknown outcome ---------------------------------------------------------

# (fault, side written to, key, whether the account exists after the lost answer)
UNKNOWN: dict[str, tuple[Fault, str, str, bool]] = {
    "whmcs-empty-answer": (lambda w: w.whmcs.fail_on("AddClient", kind="empty_after_commit"),
                           "whmcs", "neww@example.com", True),
    "whmcs-null-answer": (lambda w: w.whmcs.fail_on("AddClient", kind="null_after_commit"),
                          "whmcs", "neww@example.com", True),
    "whmcs-timeout": (lambda w: w.whmcs.fail_on("AddClient", kind="timeout_after_commit"),
                      "whmcs", "neww@example.com", True),
    "whmcs-truncated-json": (lambda w: w.whmcs.fail_on("AddClient", kind="truncate"),
                             "whmcs", "neww@example.com", True),
    "whmcs-dropped-before-commit": (lambda w: w.whmcs.fail_on("AddClient", kind="drop"),
                                    "whmcs", "neww@example.com", False),
    "wp-empty-answer": (lambda w: w.wp.inject("create", "empty_after_commit"), "wordpress", "newc@example.com", True),
    "wp-disconnect": (lambda w: w.wp.inject("create", "disconnect_after_commit"),
                      "wordpress", "newc@example.com", True),
    "wp-truncated-json": (lambda w: w.wp.inject("create", "truncated"), "wordpress", "newc@example.com", True),
}


@pytest.mark.parametrize("name", list(UNKNOWN))
def test_a_create_with_an_unknown_outcome_is_looked_up_and_linked_never_made_twice(
    tmp_path: Path, name: str
) -> None:
    world = populated(tmp_path)
    fault, side, key, exists = UNKNOWN[name]
    fault(world)

    first = world.run()

    assert first.code == 1, first.text()
    assert first.counts == {"create": 1, "update": 1}  # everyone else went on
    [(failed, message)] = first.failures().items()
    assert failed == key and "may" in message and "looked up" in message
    assert world.pending() == {(side, key)}
    present = world.has_client(key) if side == "whmcs" else world.has_wp_user(key)
    assert present is exists

    second = world.run()
    assert second.code == 0, second.text()
    assert second.counts == ({"link": 1} if exists else {"create": 1}), second.text()
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])  # one account per side: no duplicate


# --- a deactivation that fails ---------------------------------------------------------------


@pytest.mark.parametrize("side", ["whmcs", "wordpress"])
def test_a_failed_deactivation_is_tried_again_and_undone_when_the_user_is_back(tmp_path: Path, side: str) -> None:
    world = populated(tmp_path)
    if side == "whmcs":  # a1 deleted from WordPress: its client is to be set Inactive
        del world.wp.users[world.wp_user("a1@example.com").id]
        world.whmcs.fail_on("UpdateClient", status=500)
    else:  # a1's client Closed: its WordPress user is to lose its role (editor here)
        world.wp.users[world.wp_user("a1@example.com").id].roles = ["editor"]
        assert world.run().counts == {"create": 2, "update": 1}
        world.client("a1@example.com").status = "Closed"
        world.wp.inject("update", "error", times=2)  # the first try and its one retry

    failed = world.run()
    assert failed.code == 1, failed.text()
    assert list(failed.failures()) == ["a1@example.com"]
    assert "deactivate" in failed.failures()["a1@example.com"]
    assert world.client("a1@example.com").status != "Inactive" and (side == "whmcs" or world.wp_user(
        "a1@example.com").roles == ["editor"])  # the failed write did not happen

    again = world.run()
    assert again.code == 0 and again.counts.get("deactivate") == 1, again.text()
    if side == "whmcs":
        assert world.client("a1@example.com").status == "Inactive"
        world.wp.add_user("a1-back", "a1@example.com", "A1", "Linked")  # a1 signs up again
    else:
        assert world.wp_user("a1@example.com").roles == []
        world.client("a1@example.com").status = "Active"  # the client is re-opened
    back = world.run()
    assert back.code == 0, back.text()
    assert world.client("a1@example.com").status == "Active"
    assert world.wp_user("a1@example.com").roles == (["subscriber"] if side == "whmcs" else ["editor"])
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


# --- duplicate emails on one side ------------------------------------------------------------


def _issues(world: World) -> dict[str, str]:
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        return {i.key: i.kind for i in store.open_issues()}


def test_duplicate_emails_in_whmcs_are_reported_and_left_alone(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.whmcs.add_client("Dup@Example.com", "Dup", "One")
    world.whmcs.add_client("dup@example.com ", "Dup", "Two")
    world.whmcs.add_client("A4@example.com", "Another", "Client")  # a linked user's email, on a second client
    world.client("a3@example.com").lastname = "Changed"  # an ordinary change goes on meanwhile
    a4_wp: Any = world.wp_user("a4@example.com")
    a4_before = (a4_wp.first_name, a4_wp.last_name, list(a4_wp.roles))

    done = world.run()

    assert done.code == 0, done.text()
    assert done.counts == {"create": 2, "update": 2}
    assert done.result is not None and done.result.report is not None
    dups = {d.key: (d.side.value, len(d.remote_ids)) for d in done.result.report.duplicates}
    assert dups == {"dup@example.com": ("whmcs", 2), "a4@example.com": ("whmcs", 2)}
    assert "2 WHMCS clients share the email dup@example.com" in render.sync_text(done.result)
    assert not world.has_wp_user("dup@example.com")  # neither copy made it to WordPress
    assert (a4_wp.first_name, a4_wp.last_name, list(a4_wp.roles)) == a4_before  # left alone, not deactivated
    # kept as duplicates, not conflicts (the run counts them apart, and so does syncd status)
    assert _issues(world) == {"dup@example.com": "duplicate", "a4@example.com": "duplicate"}
    nobody_deactivated(world)
    expected = {k: v for k, v in POPULATION.items() if k != "a4@example.com"}
    expected["a3@example.com"] = {"first_name": "A3", "last_name": "Changed"}
    world.check(expected, duplicates=["dup@example.com", "a4@example.com"],
                edited_in_whmcs=["a2@example.com", "a3@example.com"])
    # Fixed by hand in WHMCS: the second a4 client gets its own email; a4 syncs again, the new one is created.
    [extra] = [c for c in world.whmcs.clients.values() if c.email == "A4@example.com"]
    extra.email = "another@example.com"
    fixed = world.run()
    assert fixed.code == 0 and fixed.counts == {"create": 1}, fixed.text()
    assert "a4@example.com" not in _issues(world)


def test_duplicate_emails_in_wordpress_are_reported_and_left_alone(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.wp.add_user("dupw1", "dupw@example.com", "Dup", "W1")
    second = world.wp.add_user("dupw2", "placeholder@example.com", "Dup", "W2")
    world.wp.users[second].email = "DUPW@example.com"  # written behind WordPress's back (a plugin, SQL)
    done = world.run()
    assert done.code == 0 and done.counts == {"create": 2, "update": 1}, done.text()
    assert done.result is not None and done.result.report is not None
    [dup] = done.result.report.duplicates
    assert (dup.key, dup.side.value, len(dup.remote_ids)) == ("dupw@example.com", "wordpress", 2)
    assert not world.has_client("dupw@example.com")
    world.check(POPULATION, duplicates=["dupw@example.com"], edited_in_whmcs=["a2@example.com"])


def test_a_create_the_side_rejects_fails_for_that_user_only_and_says_why(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.whmcs.add_user("ghost@example.com", "Gh", "Ost")  # a WHMCS login with no client of its own
    world.wp.add_user("ghost", "ghost@example.com", "Gh", "Ost")
    done = world.run()
    assert done.code == 1, done.text()
    assert done.counts == {"create": 2, "update": 1}
    message = done.failures()["ghost@example.com"]
    assert "WHMCS rejected AddClient" in message and "A user already exists with that email address" in message
    assert _issues(world) == {"ghost@example.com": "error"}
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


# --- a permission taken away in the middle of a run ----------------------------------------------


def test_an_api_permission_removed_after_the_listing_fails_who_needs_it_and_names_it(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.wp.users[world.wp_user("a3@example.com").id].last_name = "Edited"  # needs UpdateClient

    def take_away(method: str, result: object) -> None:
        if method == "snapshot":
            world.whmcs.deny("UpdateClient")

    world.whmcs_hook = take_away
    stopped = world.run()

    assert stopped.code == 3, stopped.text()
    assert stopped.result is not None and stopped.result.report is not None
    assert stopped.result.report.outcome == "refused"
    assert 'does not allow "UpdateClient"' in stopped.result.report.message and "API Roles" in stopped.text()
    assert list(stopped.failures()) == ["a3@example.com"]  # the only user who needed UpdateClient
    world.check({})  # no duplicate, every link sound
    nobody_deactivated(world)
    assert world.client("a3@example.com").lastname == "Linked"
    # Everyone else went on: both new users were created, the WHMCS edit reached WordPress.
    assert stopped.counts == {"create": 2, "update": 1}, stopped.text()
    assert world.has_wp_user("newc@example.com")
    assert world.wp_user("a2@example.com").first_name == "Annie"

    heal(world)
    world.settle()
    world.check({**POPULATION, "a3@example.com": {"first_name": "A3", "last_name": "Edited"}},
                edited_in_whmcs=["a2@example.com"])


def test_a_refused_permission_is_tried_once_not_once_per_user(tmp_path: Path) -> None:
    world = populated(tmp_path)
    for email in ("a3@example.com", "a4@example.com", "a5@example.com"):  # three edits that need UpdateClient
        world.wp.users[world.wp_user(email).id].last_name = "Edited"

    def take_away(method: str, result: object) -> None:
        if method == "snapshot":
            world.whmcs.deny("UpdateClient")

    world.whmcs_hook = take_away
    before = world.whmcs.calls["UpdateClient"]
    stopped = world.run()

    assert stopped.code == 3, stopped.text()
    assert world.whmcs.calls["UpdateClient"] - before == 1  # WHMCS is not asked again for what it refused
    failures = stopped.failures()
    assert sorted(failures) == ["a3@example.com", "a4@example.com", "a5@example.com"]
    assert sum("did not try" in m and 'does not allow "UpdateClient"' in m for m in failures.values()) == 2
    assert stopped.counts == {"create": 2, "update": 1}, stopped.text()  # the others went on
    nobody_deactivated(world)

    heal(world)
    world.settle()
    world.check({**POPULATION, **{e: {"first_name": e[:2].upper(), "last_name": "Edited"}
                                  for e in ("a3@example.com", "a4@example.com", "a5@example.com")}},
                edited_in_whmcs=["a2@example.com"])


def test_creates_sent_at_once_stop_at_a_refused_permission_and_the_other_side_goes_on(tmp_path: Path) -> None:
    world = World(tmp_path, whmcs_conf={"concurrency": 2})
    for i in range(6):
        world.wp.add_user(f"w{i}", f"w{i}@example.com", f"W{i}", "Press")
    world.whmcs.add_client("c@example.com", "C", "Client")
    world.whmcs.deny("AddClient")

    outcome = world.run()

    assert outcome.code == 3, outcome.text()
    assert world.whmcs.calls["AddClient"] <= 2  # at most the ones already in flight when the first was refused
    assert sorted(outcome.failures()) == [f"w{i}@example.com" for i in range(6)]
    assert world.has_wp_user("c@example.com") and outcome.counts == {"create": 1}
    heal(world)
    world.settle()
    assert all(world.has_client(f"w{i}@example.com") for i in range(6))


def test_a_wordpress_role_taken_away_after_the_listing_fails_its_writes_and_names_the_capability(
    tmp_path: Path,
) -> None:
    world = populated(tmp_path)

    def demote(method: str, result: object) -> None:
        if method == "snapshot":
            world.wp.users[world.wp.admin_id].roles = ["editor"]

    world.wp_hook = demote
    stopped = world.run()

    assert stopped.code == 3, stopped.text()
    assert stopped.result is not None and stopped.result.report is not None
    # The first write it tried was an update, which re-reads the user in context=edit first.
    assert "lacks the list_users capability" in stopped.result.report.message
    assert "Administrator role" in stopped.result.report.message
    assert sorted(stopped.failures()) == ["a2@example.com", "newc@example.com"]  # both WordPress writes
    assert not world.has_wp_user("newc@example.com")
    assert stopped.counts == {"create": 1}, stopped.text()  # the WHMCS side went on: neww was created there
    world.check({})
    nobody_deactivated_but_admin = [u.email for u in world.wp.users.values() if not u.roles]
    assert not nobody_deactivated_but_admin

    heal(world)
    world.wp.users[world.wp.admin_id].roles = ["administrator"]
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])
