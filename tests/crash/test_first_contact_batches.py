"""First contact commits its links in batches (issue 15), and a crash between two batches loses
nothing the next run does not redo.

Linking two existing accounts writes nothing remote, so ``LINK_BATCH`` such links share one
transaction instead of one fsync each (DESIGN §5.9). ``syncd sync`` is stopped hard (exit 137,
through ``tests/crash/launcher.py``) in the middle of a first run of 1,200 pairs: the store then
holds whole batches only, neither side was written, and the next run links the rest.
"""

from __future__ import annotations

import math
from pathlib import Path

from syncd.state.store import SqlStateStore
from syncd.sync.engine import LINK_BATCH, LINKS_PER_LINE
from tests.crash.inject import CrashPoint
from tests.faults.world import World

KILLED = 137
PAIRS = 1200


def _pairs(world: World, n: int) -> None:
    for i in range(n):
        world.whmcs.add_client(f"user{i:05d}@example.com", f"First{i}", f"Last{i}")
    world.wp.add_users({"login": f"user{i:05d}", "email": f"user{i:05d}@example.com", "first_name": f"First{i}",
                        "last_name": f"Last{i}"} for i in range(n))


def _links(world: World) -> int:
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        return len(store.links())


def test_a_crash_between_batches_keeps_whole_batches_and_the_next_run_links_the_rest(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync.update({"direction": "both"})
    _pairs(world, PAIRS)
    writes = world.whmcs_writes() + world.wp_writes()
    # Dies at the first step after the link that is halfway through the second batch was saved.
    point = CrashPoint.before_next_step(saves=LINK_BATCH + LINK_BATCH // 2)
    with world.served() as sides:
        crashed = sides.syncd("sync", crash_at=str(point))
    assert crashed.code == KILLED, crashed.stderr
    assert _links(world) == 2 * LINK_BATCH  # the second batch was one commit: kept whole
    assert world.whmcs_writes() + world.wp_writes() == writes  # linking writes nothing remote

    after = world.run()
    assert after.code == 0 and after.counts == {"link": PAIRS - 2 * LINK_BATCH}, after.text()
    assert _links(world) == PAIRS
    quiet = world.run()
    assert quiet.code == 0 and not quiet.counts and quiet.writes == 0, quiet.text()
    assert world.whmcs_writes() + world.wp_writes() == writes


def test_a_first_run_links_every_pair_in_a_few_transactions(tmp_path: Path) -> None:
    world = World(tmp_path)
    _pairs(world, PAIRS)
    commits: list[int] = []

    def counting(url: str) -> SqlStateStore:
        store = SqlStateStore.open(url, create=True)
        real = store.save_links

        def save_links(links: object) -> None:
            commits.append(len(links))  # type: ignore[arg-type]
            real(links)  # type: ignore[arg-type]

        store.save_links = save_links  # type: ignore[method-assign]
        return store

    closed = world.whmcs.add_client("closed@example.com", "Cleo", "Closed", status="Closed")
    world.wp.add_users([{"login": "closed", "email": "closed@example.com", "first_name": "Cleo",
                         "last_name": "Closed"}])
    done = world.run(store=counting)
    assert done.code == 0 and done.counts == {"link": PAIRS + 1}, done.text()
    assert commits == [LINK_BATCH, LINK_BATCH, PAIRS + 1 - 2 * LINK_BATCH]
    assert _links(world) == PAIRS + 1
    # The Closed client's link keeps its own line, with why nothing is copied.
    assert sum(f"(#{closed})" in line and "nothing is copied" in line for line in done.logs) == 1, done.logs
    # Said per batch, LINKS_PER_LINE pairs a line; each linked user is still findable by email.
    said = [line for line in done.logs if line.startswith("INFO: run 1: linked ")]
    per_batch = math.ceil(LINK_BATCH / LINKS_PER_LINE)
    assert len(said) == 2 * per_batch + math.ceil((PAIRS - 2 * LINK_BATCH) / LINKS_PER_LINE)
    text = "\n".join(said)
    assert all(text.count(f"user{i:05d}@example.com (client #") == 1 for i in range(PAIRS))
    # Both records of a pair hold the same values: one digest, stored for both sides, one per person.
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        digests = [(link.digests["whmcs"], link.digests["wordpress"]) for link in store.links()]
    assert all(w == p and len(w) == 32 for w, p in digests) and len({w for w, _ in digests}) == PAIRS + 1
    quiet = world.run()
    assert quiet.code == 0 and not quiet.counts, quiet.text()


def test_a_single_new_pair_is_said_as_any_other_action(tmp_path: Path) -> None:
    """After the first run, first contacts come one at a time: their line reads like every other action's."""
    world = World(tmp_path)
    _pairs(world, 1)
    done = world.run()
    assert done.code == 0 and done.counts == {"link": 1}, done.text()
    assert not [line for line in done.logs if "linked 1" in line], done.logs
    assert sum(line.startswith("INFO: run 1: link ") and "user00000@example.com" in line for line in done.logs) == 1, \
        done.logs
