"""Creates at once (``execute(start=..., concurrency=...)``): within each side's limit, each
create isolated and committed in plan order, a whole-side failure or a stop request starting
nothing new but committing what was sent, and a crash with creates in flight losing nothing.
Also what a write costs the store: a resolve only for a user with an open issue.

``Deferred`` stands for the thread pool: a write "in flight" runs only when the engine asks
for its result, so what is in flight at any moment is exact, with no thread and no timing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syncd.errors import OutcomeUnknown, RemoteRejected, Unreachable
from syncd.model import Record
from syncd.sync.engine import execute
from tests.core.memory import MemoryStore
from tests.core.scenario import P, W, World, now
from tests.crash.inject import Crashed, CrashPoint, DyingSide, DyingStore, Tripwire, raise_crashed

NAMES = ("ann", "bob", "cy", "dan", "eve")


class _Handle:
    def __init__(self, owner: Deferred, write: Callable[[], Record | None]) -> None:
        self.owner = owner
        self.write = write

    def result(self) -> Record | None:
        self.owner.in_flight -= 1
        return self.write()


class Deferred:
    """A ``Start`` whose writes run when their result is asked for; it counts what is in flight."""

    def __init__(self) -> None:
        self.started = 0
        self.in_flight = 0
        self.most = 0

    def __call__(self, write: Callable[[], Record | None]) -> _Handle:
        self.started += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        return _Handle(self, write)


def clients(world: World, names: tuple[str, ...] = NAMES) -> None:
    for i, name in enumerate(names, start=1):
        world.client(i, f"{name}@x.io", name.title(), "Lee")


def test_creates_run_at_once_within_the_sides_limit_and_all_are_linked() -> None:
    world = World()
    clients(world)
    start = Deferred()
    result = world.plan()
    report = world.execute(result, start=start, concurrency={P: 2, W: 1})
    assert report.outcome == "ok" and report.counts == {"create": 5} and report.done == 5
    assert start.started == 5 and start.most == 2 and start.in_flight == 0
    assert sorted(a.key for a in world.wp.accounts.values()) == [f"{n}@x.io" for n in sorted(NAMES)]
    assert len(world.store.links()) == 5 and world.agree() == []
    _plan, again = world.sync()
    assert again.counts == {} and world.wp.calls["create"] == 5  # linked: nothing is created twice


def test_without_a_limit_one_create_is_in_flight_at_a_time() -> None:
    world = World()
    clients(world)
    start = Deferred()
    report = world.execute(world.plan(), start=start)
    assert report.counts == {"create": 5} and start.most == 1


def test_a_per_user_failure_among_creates_at_once_is_isolated() -> None:
    world = World()
    clients(world)
    world.wp.fail_next("create", RemoteRejected("WordPress refused the role", side="wordpress"), email="bob@x.io")
    report = world.execute(world.plan(), start=Deferred(), concurrency={P: 3})
    assert report.outcome == "errors" and report.counts == {"create": 4}
    assert [e.key for e in report.errors] == ["bob@x.io"]
    assert "bob@x.io" not in {a.key for a in world.wp.accounts.values()} and len(world.store.links()) == 4
    _plan, again = world.sync()
    assert again.outcome == "ok" and again.counts == {"create": 1} and world.store.open_issues() == []


def test_an_unknown_outcome_among_creates_at_once_is_settled_without_a_duplicate() -> None:
    world = World()
    clients(world)
    world.wp.fail_next("create", OutcomeUnknown("the reply was lost", side="wordpress"), email="cy@x.io",
                       after_write=True)
    report = world.execute(world.plan(), start=Deferred(), concurrency={P: 2})
    assert report.counts == {"create": 4} and [e.key for e in report.errors] == ["cy@x.io"]
    assert len(world.wp.by_email("cy@x.io")) == 1  # it was created; the store does not know yet
    again = world.execute(world.plan(), start=Deferred(), concurrency={P: 2})
    assert again.outcome == "ok" and again.counts == {"link": 1}  # found by its email, linked, not re-created
    assert len(world.wp.by_email("cy@x.io")) == 1 and len(world.store.links()) == 5


def test_a_whole_side_failure_starts_nothing_new_and_commits_what_was_sent() -> None:
    world = World()
    clients(world)
    world.wp.fail_next("create", Unreachable("WordPress went away", side="wordpress"), email="cy@x.io")
    start = Deferred()
    with pytest.raises(Unreachable):
        world.execute(world.plan(), start=start, concurrency={P: 2})
    # ann and bob were done, cy failed while dan was in flight; eve was never started.
    assert start.started == 4 and start.in_flight == 0
    assert sorted(a.key for a in world.wp.accounts.values()) == ["ann@x.io", "bob@x.io", "dan@x.io"]
    assert len(world.store.links()) == 3  # dan's create was sent, so it is committed too
    assert world.store.runs()[0].outcome == "failed" and "WordPress went away" in world.store.runs()[0].message
    _plan, again = world.sync()
    assert again.outcome == "ok" and again.counts == {"create": 2} and world.agree() == []


def test_a_stop_request_waits_for_the_creates_in_flight_and_commits_them() -> None:
    world = World()
    clients(world)
    start = Deferred()
    report = world.execute(world.plan(), start=start, concurrency={P: 2}, should_stop=lambda: start.started >= 2)
    assert report.outcome == "stopped" and report.counts == {"create": 2}
    assert len(world.wp.accounts) == 2 and len(world.store.links()) == 2
    assert any("stopping on request; 3 planned actions wait" in msg for _level, msg in world.logs)
    _plan, again = world.sync()
    assert again.counts == {"create": 3}


def test_a_crash_with_creates_in_flight_loses_nothing_and_the_next_run_converges() -> None:
    world = World()
    clients(world)
    planned = world.plan()
    run_id = world.store.begin_run(direction=planned.policy.direction.value, full=False)
    tripwire = Tripwire(CrashPoint.after_write(2), raise_crashed)  # the second create dies before its commit
    with pytest.raises(Crashed):
        execute(planned, whmcs=DyingSide(world.whmcs, tripwire), wp=DyingSide(world.wp, tripwire),  # type: ignore[arg-type]
                store=DyingStore(world.store, tripwire), run_id=run_id, log=lambda *_: None, now=now,  # type: ignore[arg-type]
                start=Deferred(), concurrency={P: 2})
    assert len(world.wp.accounts) == 2 and len(world.store.links()) == 1
    assert world.store.runs()[0].outcome == "running"
    again, _report = world.sync()
    assert sorted(a.kind for a in again.actions) == ["create", "create", "create", "link"]
    assert len(world.wp.accounts) == 5 and len(world.store.links()) == 5 and world.agree() == []


def test_creates_of_both_sides_and_other_actions_keep_plan_order() -> None:
    world = World()
    clients(world, ("ann", "bob"))
    world.user(101, "cy@x.io", "Cy", "Lee")
    world.user(102, "dan@x.io", "Dan", "Lee")
    world.client(9, "eve@x.io", "Eve", "Lee")
    world.user(109, "eve@x.io", "Eve", "Lea")  # first contact: a link, and an update
    result = world.plan()
    start = Deferred()
    report = world.execute(result, start=start, concurrency={P: 2, W: 2})
    assert report.outcome == "ok"
    assert report.counts.get("create") == 4 and start.started == 4
    assert world.agree() == [] and len(world.store.links()) == 5
    _plan, again = world.sync()
    assert again.counts == {}


class CountingStore(MemoryStore):
    """A store that counts ``resolve_issues`` calls (each is a write transaction in SQLite)."""

    def __init__(self) -> None:
        super().__init__()
        self.resolved: list[str] = []

    def resolve_issues(self, key: str, *, kind: str | None = None) -> None:
        self.resolved.append(key)
        super().resolve_issues(key, kind=kind)


def test_only_a_user_with_an_open_issue_costs_a_resolve_after_a_write() -> None:
    world = World()
    world.store = CountingStore()
    clients(world)
    world.wp.fail_next("create", RemoteRejected("WordPress refused the role", side="wordpress"), email="bob@x.io")
    _plan, report = world.sync()
    assert report.counts == {"create": 4} and world.store.resolved == []  # nobody had an issue to resolve
    world.client(6, "fay@x.io", "Fay", "Lee")
    _plan, report = world.sync()
    assert report.counts == {"create": 2} and world.store.resolved == ["bob@x.io"]
    assert world.store.open_issues() == []
