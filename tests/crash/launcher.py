"""syncd's real command line, its ports wrapped to die at a crash point (exit 137, as if killed).

    python -m tests.crash.launcher write:3 --config syncd.toml sync --json

The first argument is a ``CrashPoint`` (``tests/crash/inject.py``); the others are syncd's own.
Every run of ``syncd.app.sync_once`` gets the adapters and the store it would have had,
wrapped by ``DyingSide`` and ``DyingStore``; everything else is the production code path.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from syncd import app, cli
from syncd.config import Settings
from syncd.ports import SideAdapter, StateStore
from syncd.state.store import SqlStateStore
from tests.crash.inject import CrashPoint, DyingSide, DyingStore, Tripwire

KILLED = 137


def _die() -> None:
    os._exit(KILLED)


def main(argv: list[str]) -> None:
    point = CrashPoint.parse(argv[0])
    tripwire = Tripwire(point, _die)
    real_sync_once = app.sync_once

    def adapters(settings: Settings) -> tuple[SideAdapter, SideAdapter]:
        whmcs, wp = app.default_adapters(settings)
        return DyingSide(whmcs, tripwire), DyingSide(wp, tripwire)  # type: ignore[return-value]

    def store(url: str) -> StateStore:
        return DyingStore(SqlStateStore.open(url), tripwire)  # type: ignore[return-value]

    def sync_once(settings: Settings, **options: Any) -> app.SyncResult:
        return real_sync_once(settings, **{"adapters": adapters, "store": store, **options})

    app.sync_once = sync_once  # type: ignore[assignment]
    cli.main(args=argv[1:], prog_name="syncd")


if __name__ == "__main__":
    main(sys.argv[1:])
