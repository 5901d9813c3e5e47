"""The cycle collector is paused while a run reads and plans, and always turned back on.

``app._collector_paused`` saves ~2 s of CPU per 100,000-user run (BENCHMARKS.md); these tests
prove what it must never do: leave a process (the daemon runs many runs) without its collector,
or with the run's objects frozen after it, whether the run succeeds or a listing fails.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from tests.faults.world import World


def _state_when_listed(world: World) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def hook(method: str, _result: object) -> None:
        if method == "snapshot":
            seen["enabled"] = gc.isenabled()

    world.wp_hook = hook
    return seen


def test_a_run_lists_with_the_collector_paused_and_restores_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("a@example.com", "A", "Client")
    seen = _state_when_listed(world)
    assert gc.isenabled()
    outcome = world.run()
    assert outcome.code == 0, outcome.text()
    assert outcome.counts == {"create": 1}
    assert seen == {"enabled": False}
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_failed_listing_restores_the_collector(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.maintenance = True  # WHMCS answers every call with its maintenance page
    outcome = world.run()
    assert outcome.code == 3, outcome.text()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_dry_run_restores_the_collector(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("a@example.com", "A", "Client")
    seen = _state_when_listed(world)
    outcome = world.run(dry_run=True)
    assert outcome.code == 0, outcome.text()
    assert seen == {"enabled": False}
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_process_without_a_collector_keeps_it_off(tmp_path: Path) -> None:
    world = World(tmp_path)
    gc.disable()
    try:
        assert world.run().code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
