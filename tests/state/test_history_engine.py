"""The engine records a write's history at commit, with the link (DESIGN §5.9): one row per field
it changed, the kind of write, the side, the run; nothing for a dry run; never a password. Run on
the memory sides of tests/core with the real SQLite store, and through the crash harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.model import DEFAULT_FIELDS
from syncd.ports import Change, ChangeKind
from syncd.state.store import SqlStateStore
from syncd.sync.actions import Create
from tests.core.memory import MemoryStore
from tests.core.scenario import P, W, World
from tests.state.conftest import StepClock


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A World whose state store is the real SQLite store."""
    world = World()
    store = SqlStateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=StepClock())
    world.store = store  # type: ignore[assignment]
    yield world
    store.close()


def _rows(world: World, email: str) -> list[tuple[str, str, str, str, str]]:
    store = world.store
    assert isinstance(store, SqlStateStore)
    return [(e.change.kind.value, e.change.side, e.change.field, e.change.before, e.change.after)
            for e in store.history(email)]


def test_an_update_of_two_fields_writes_two_rows(world: World) -> None:
    world.client(1, "ann@x.io", "Ann", "Lee")
    world.user(101, "ann@x.io", "Ann", "Lee")
    world.link(1, 101)
    world.whmcs.accounts[1].fields.update(first_name="Anna", last_name="Lee-Ng")
    _plan, report = world.sync()
    assert report.counts == {"update": 1}
    assert _rows(world, "ann@x.io") == [
        ("update", "wordpress", "first_name", "Ann", "Anna"), ("update", "wordpress", "last_name", "Lee", "Lee-Ng"),
    ]
    store = world.store
    assert isinstance(store, SqlStateStore)
    assert {(e.change.run_id, e.change.whmcs_id, e.change.wp_id) for e in store.history("ann@x.io")} == {
        (report.run_id, 1, 101)}


def test_first_contact_and_a_create_begin_the_history(world: World) -> None:
    world.client(1, "ann@x.io", "Ann", "Lee")
    world.user(101, "ann@x.io", "Annie", "Lee")
    world.client(2, "bob@x.io", "Bob", "Ng", company="Ng & Co")
    world.sync()
    assert _rows(world, "ann@x.io") == [
        ("update", "wordpress", "first_name", "Annie", "Ann"),
        ("link", "", "link", "", "WHMCS client #1 with WordPress user #101"),
    ]
    created = _rows(world, "bob@x.io")
    assert created == [("create", "wordpress", name, "", value) for name, value in
                       (("email", "bob@x.io"), ("first_name", "Bob"), ("last_name", "Ng"), ("company", "Ng & Co"))]


def test_deactivation_and_reactivation_are_recorded(world: World) -> None:
    world.client(1, "ann@x.io")
    world.user(101, "ann@x.io", roles=("customer", "subscriber"))
    world.client(9, "zed@x.io", "Zed", "Zu")  # a bystander: a deletion does not leave a side empty
    world.user(109, "zed@x.io", "Zed", "Zu")
    world.link(9, 109)
    world.sync(on_delete="deactivate")
    world.whmcs.external_status(1, "Closed")
    world.sync(on_delete="deactivate")
    world.whmcs.external_status(1, "Active")
    world.sync(on_delete="deactivate")
    rows = _rows(world, "ann@x.io")
    assert rows[:2] == [("reactivate", "wordpress", "roles", "", "customer, subscriber"),
                        ("deactivate", "wordpress", "roles", "customer, subscriber", "")]


def test_an_email_swap_records_the_park_and_both_moves() -> None:
    world = World()  # the memory store keeps every change given with a link, in order
    for i, email in enumerate(("ann@x.io", "bob@x.io"), start=1):
        world.client(i, email, first=f"F{i}", last=f"L{i}")
        world.user(100 + i, email, first=f"F{i}", last=f"L{i}")
        world.link(i, 100 + i)
    world.whmcs.accounts[1].fields["email"], world.whmcs.accounts[2].fields["email"] = "bob@x.io", "ann@x.io"
    world.sync()
    assert isinstance(world.store, MemoryStore)
    moves = [(c.kind, c.side, c.wp_id, c.before, c.after) for c in world.store.history]
    assert [m[:3] for m in moves] == [(ChangeKind.PARK, "wordpress", 101), (ChangeKind.UPDATE, "wordpress", 102),
                                      (ChangeKind.UPDATE, "wordpress", 101)]
    assert moves[0][3] == "ann@x.io" and moves[2][4] == "bob@x.io" and moves[1][3:] == ("bob@x.io", "ann@x.io")


def test_a_dry_run_records_no_history() -> None:
    world = World()
    world.client(1, "ann@x.io")
    world.client(2, "bob@x.io")
    world.execute(world.plan(), dry_run=True)
    assert isinstance(world.store, MemoryStore)
    assert world.store.history == [] and world.store.links() == []


def test_a_create_sends_and_records_only_common_fields() -> None:
    # The password of a new account is the adapter's (made and sent there, never returned): the
    # plan's create carries only common fields, and the history takes only those.
    world = World()
    world.client(1, "ann@x.io", company="Lee & Co")
    world.user(102, "bob@x.io")
    planned = world.plan()
    creates = [a for a in planned.actions if isinstance(a, Create)]
    assert {a.target for a in creates} == {W, P}
    assert all(set(a.send) <= set(DEFAULT_FIELDS) for a in creates)
    world.execute(planned)
    assert isinstance(world.store, MemoryStore)
    history: list[Change] = world.store.history
    assert history and {c.field for c in history} <= set(DEFAULT_FIELDS)


def _two_updates() -> World:
    world = World()
    for i in (1, 2):
        world.client(i, f"u{i}@x.io", "Ann", "Lee")
        world.user(100 + i, f"u{i}@x.io", "Ann", "Lee")
        world.link(i, 100 + i)
        world.whmcs.accounts[i].fields["first_name"] = "Anna"
    return world


def test_a_crash_after_the_commit_keeps_the_history_and_before_it_keeps_neither() -> None:
    # The history rides in the link's own save: a write's commit and its history are both there, or neither.
    before = _two_updates()
    before.crash(before.plan(), 1, before_commit=True)  # the first update written, its commit never made
    assert isinstance(before.store, MemoryStore)
    assert before.store.history == [] and before.store.saves == 0
    after = _two_updates()
    after.crash(after.plan(), 1)  # the first update committed, then the crash
    assert isinstance(after.store, MemoryStore)
    assert [(c.key, c.field, c.before, c.after) for c in after.store.history] == [
        ("u1@x.io", "first_name", "Ann", "Anna")]
    assert next(li for li in after.store.links() if li.whmcs_id == 1).base["first_name"] == "Anna"
