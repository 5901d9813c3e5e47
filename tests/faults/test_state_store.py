"""The state store failing under a run: the SQLite file locked by another program, before the run
and in the middle of it, and its disk full. The run stops at once with exit 6 (``StateError``)
and a message naming the database and what it could not record; no later write is attempted,
so at most the writes in flight are unrecorded, and the next run settles them by matching the
account at first contact: nobody is duplicated or lost.

In process (``app.sync_once(store=...)`` opens the store with a short busy timeout, or a size
limit), and once as ``syncd sync`` for the exit code and the message an operator sees.
"""

from __future__ import annotations

import functools
from pathlib import Path

from syncd.state.store import SqlStateStore
from tests.faults.world import POPULATION, World, everything, page_count, populated
from tests.sqlite_holder import SqliteHolder


def _short_wait(url: str) -> SqlStateStore:
    return SqlStateStore.open(url, busy_timeout=0.2)


def _unlinked(world: World) -> set[str]:
    """Emails of accounts on either side that no link points at (the admin aside)."""
    links = world.links()
    linked_clients = {link.whmcs_id for link in links}
    linked_users = {link.wp_id for link in links}
    out = {c.email for cid, c in world.whmcs.clients.items() if cid not in linked_clients}
    out |= {u.email for uid, u in world.wp.users.items() if uid not in linked_users and uid != world.wp.admin_id}
    return out


def test_a_state_database_locked_before_the_run_stops_it_before_any_write(tmp_path: Path) -> None:
    world = populated(tmp_path)
    before, links = everything(world), world.links()
    holder = SqliteHolder(tmp_path / "state.db")
    try:
        stopped = world.run(store=_short_wait)
    finally:
        holder.release()
    assert stopped.code == 6
    assert stopped.error.startswith(f"the state database {tmp_path / 'state.db'} is locked by another program")
    assert "recording the start of a run" in stopped.error
    assert everything(world) == before and world.links() == links
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


def test_a_state_database_locked_in_the_middle_of_a_run_loses_nothing(tmp_path: Path) -> None:
    world = populated(tmp_path)
    holders: list[SqliteHolder] = []

    def lock_after_the_first_create(method: str, result: object) -> None:
        if method == "create" and not holders:
            holders.append(SqliteHolder(tmp_path / "state.db"))

    world.wp_hook = lock_after_the_first_create
    try:
        stopped = world.run(store=_short_wait)
    finally:
        for holder in holders:
            holder.release()

    assert stopped.code == 6
    assert "is locked by another program" in stopped.error and "saving the link of WHMCS client" in stopped.error
    assert any(line.startswith("ERROR") and "the state store failed while trying to create WordPress user "
               "newc@example.com" in line for line in stopped.logs)
    # The run stopped there: the one write in flight is the only one not recorded.
    assert _unlinked(world) == {"newc@example.com", "neww@example.com"}
    assert world.has_wp_user("newc@example.com") and not world.has_client("neww@example.com")

    world.wp_hook = None
    settled = world.run()
    assert settled.code == 0 and settled.counts.get("link") == 1 and "newc@example.com" not in {
        e for e in settled.failures()}, settled.text()
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


def test_a_full_state_disk_stops_the_run_and_the_next_run_loses_nothing(tmp_path: Path) -> None:
    world = populated(tmp_path)
    for i in range(40):
        world.whmcs.add_client(f"bulk{i:02d}@example.com", "Bulk", f"N{i:02d}")
    # A disk with room for one more page: some links fit, then it is full.
    tiny = functools.partial(SqlStateStore.open,
                             sqlite_pragmas={"max_page_count": page_count(tmp_path / "state.db") + 1})

    stopped = world.run(store=tiny)

    assert stopped.code == 6
    assert stopped.error.startswith(f"the state database {tmp_path / 'state.db'} is full")
    assert "Free some space and run again" in stopped.error
    created = [u.email for u in world.wp.users.values() if u.email.startswith("bulk")]
    assert created, "the disk should have held some links"
    unrecorded = {e for e in _unlinked(world) if e.startswith("bulk") and world.has_wp_user(e)}
    # The create whose commit failed, the ones in flight then (two at a time: the default
    # concurrency; the next goes out while one is committed), and nothing after them.
    assert 1 <= len(unrecorded) <= 3

    settled = world.run()  # a disk with room again
    assert settled.code == 0 and settled.counts.get("link") == len(unrecorded), settled.text()
    world.settle()
    bulk = {f"bulk{i:02d}@example.com": {"first_name": "Bulk", "last_name": f"N{i:02d}"} for i in range(40)}
    world.check({**POPULATION, **bulk}, edited_in_whmcs=["a2@example.com"])


def test_syncd_sync_says_the_state_database_is_locked_and_exits_6_without_writing(tmp_path: Path) -> None:
    world = populated(tmp_path)
    before = everything(world)
    with world.served() as sides:
        holder = SqliteHolder(tmp_path / "state.db")
        try:
            run = sides.syncd("sync")
        finally:
            holder.release()
    assert run.code == 6, run.stderr
    assert "syncd: the state database" in run.stderr and "is locked by another program (waited 5 s)" in run.stderr
    assert everything(world) == before
