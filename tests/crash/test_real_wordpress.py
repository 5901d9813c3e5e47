"""The crash case against the real WordPress: ``syncd sync`` dies (exit 137, injected by
``tests/crash/launcher.py``) right after WordPress created a user and before syncd recorded
it; the next runs link that user instead of creating it again, carry over the rest, and then
write nothing.
"""

from __future__ import annotations

from syncd import app
from syncd.config import load
from syncd.model import Side
from syncd.state.store import SqlStateStore
from syncd.sync.actions import Create
from tests.crash.inject import point_for
from tests.e2e.harness import Sides
from tests.faults.real import all_users, emails_held_twice


def test_killed_between_a_wordpress_create_and_its_commit(sides: Sides) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer", company="Archer Ltd")
    sides.wp_add("ben", "ben@example.com", "Ben", "Baker")
    sides.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    sides.wp_add("cat", "Cat@Example.com", "Cat", "Cole")
    settings = load(sides.write_config(), env={})
    planned = app.sync_once(settings, dry_run=True).plan
    assert planned is not None
    k = 1 + next(i for i, a in enumerate(planned.actions) if isinstance(a, Create) and a.target is Side.WORDPRESS)
    point = point_for([a.kind for a in planned.actions], k, before_commit=True)

    crashed = sides.syncd("sync", crash_at=str(point))

    assert crashed.code == 137, crashed.stderr
    assert "ann@example.com" in sides.wp_users()  # WordPress has it ...
    with SqlStateStore.open(f"sqlite:///{sides.state_db}", create=False, read_only=True) as store:
        assert not any(link.key == "ann@example.com" for link in store.links())  # ... syncd did not record it

    after = sides.syncd("sync", "--json")
    assert after.code == 0, after.stderr
    assert after.json()["counts"].get("link", 0) >= 1 and after.json()["counts"].get("create", 0) <= 1
    quiet = sides.syncd("sync", "--json")
    assert quiet.code == 0 and quiet.json()["counts"] == {}, quiet.stdout

    users = all_users(sides.site)
    assert not emails_held_twice(users)
    assert sorted(c.email.lower() for c in sides.whmcs.clients.values()) == [
        "ann@example.com", "ben@example.com", "cat@example.com"]
    wp = sides.wp_users()
    assert (wp["ann@example.com"]["first_name"], wp["ann@example.com"]["meta"]["billing_company"]) == (
        "Ann", "Archer Ltd")
    assert wp["cat@example.com"]["first_name"] == "Catherine"
    assert sides.client("ben@example.com").firstname == "Ben"
    with SqlStateStore.open(f"sqlite:///{sides.state_db}", create=False, read_only=True) as store:
        links = store.links()
    assert sorted(link.key for link in links) == ["ann@example.com", "ben@example.com", "cat@example.com"]
    for link in links:
        assert sides.whmcs.clients[link.whmcs_id].email.lower() == link.key
        assert wp[link.key]["id"] == link.wp_id
