"""What a run read is frozen out of the cycle collector's reach while it reads and plans, and
always given back.

``app._reads_frozen`` saves seconds of CPU per 100,000-user run (BENCHMARKS.md); these tests
prove what it must never do: leave a process (the daemon runs many runs) without its collector
or with the run's objects frozen after it, whether the run succeeds or a listing fails.
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from syncd import app
from tests.faults.world import World


@pytest.fixture(autouse=True)
def _often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "FREEZE_EVERY_SECONDS", 0.005)


def _state_when_listed(world: World) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def hook(method: str, _result: object) -> None:
        if method == "snapshot":
            deadline = time.monotonic() + 5
            while not gc.get_freeze_count() and time.monotonic() < deadline:
                time.sleep(0.001)  # the freezer runs every few milliseconds here
            seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count() > 0)

    world.wp_hook = hook
    return seen


def test_a_run_freezes_what_it_read_and_gives_it_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("a@example.com", "A", "Client")
    seen = _state_when_listed(world)
    outcome = world.run()
    assert outcome.code == 0, outcome.text()
    assert outcome.counts == {"create": 1}
    assert seen == {"enabled": True, "frozen": True}
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert not [t for t in threading.enumerate() if t.name == "gc-freeze"]


def test_a_failed_listing_gives_everything_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.maintenance = True  # WHMCS answers every call with its maintenance page
    outcome = world.run()
    assert outcome.code == 3, outcome.text()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_dry_run_gives_everything_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("a@example.com", "A", "Client")
    seen = _state_when_listed(world)
    outcome = world.run(dry_run=True)
    assert outcome.code == 0, outcome.text()
    assert seen == {"enabled": True, "frozen": True}
    assert gc.get_freeze_count() == 0


def test_a_process_without_a_collector_keeps_it_off(tmp_path: Path) -> None:
    world = World(tmp_path)
    gc.disable()
    try:
        assert world.run().code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
