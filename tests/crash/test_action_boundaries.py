"""`syncd sync` stopped hard (exit 137, as by kill -9) at every action boundary of an
eight-action run, and between the remote write of each action and its commit; the next runs
converge: no duplicate on either side, nothing lost, one link per pair, then a quiet run.

The crash is injected from outside syncd: the real CLI runs through ``tests/crash/launcher.py``,
whose wrapped ports (``tests/crash/inject.py``) exit 137 after the k-th action of the plan (or
after its remote write, before its commit), so it falls at the same place on every machine.
The crashed run is a real process against both emulators served on loopback; the runs after
it are in process (a process would add nothing there).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.ports import RunSummary
from syncd.state.store import SqlStateStore
from tests.crash import scenario
from tests.crash.inject import point_for
from tests.faults.world import World

KILLED = 137


def test_the_scenario_plans_eight_actions_of_every_writing_kind(tmp_path: Path) -> None:
    world = World(tmp_path)
    scenario.prepare(world)
    plan = world.run(dry_run=True)
    assert plan.result is not None and plan.result.plan is not None
    kinds = [a.kind for a in plan.result.plan.actions]
    assert len(kinds) == scenario.PLANNED == 8
    assert sorted(kinds) == sorted(scenario.KINDS.elements())
    done = world.run()
    assert done.code == 0 and done.counts == dict(scenario.KINDS), done.text()
    world.settle()
    scenario.check_converged(world)
    scenario.come_back(world)


@pytest.mark.parametrize("before_commit", [False, True], ids=["after-commit", "before-commit"])
@pytest.mark.parametrize("k", range(1, scenario.PLANNED + 1))
def test_killed_after_action_k_the_next_runs_converge(tmp_path: Path, k: int, before_commit: bool) -> None:
    world = World(tmp_path)
    scenario.prepare(world)
    planned = world.run(dry_run=True).result
    assert planned is not None and planned.plan is not None
    point = point_for([a.kind for a in planned.plan.actions], k, before_commit)
    runs_before = len(_runs(world))
    writes_before = world.whmcs_writes() + world.wp_writes()
    with world.served() as sides:
        crashed = sides.syncd("sync", "--json", crash_at=str(point))
    assert crashed.code == KILLED, crashed.stderr
    assert crashed.stdout == ""  # it never got to print a report
    assert world.whmcs_writes() + world.wp_writes() > writes_before  # it did write before it died
    runs = _runs(world)
    assert len(runs) == runs_before + 1 and runs[0].outcome == "running"  # killed: never recorded as finished

    world.settle()  # takes the lock at once: the dead process left none behind
    scenario.check_converged(world)
    scenario.come_back(world)


def _runs(world: World) -> list[RunSummary]:
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        return list(store.runs(50))
