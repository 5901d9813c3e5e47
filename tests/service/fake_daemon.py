"""Test driver: the real ``Daemon`` in a real process, around a fake job.

Used by tests/service/test_daemon_process.py as ``python fake_daemon.py CONFIG RECORD``.
The configuration is loaded for real (``syncd.config.load``) at start and on SIGHUP; the
job appends what it does to RECORD, one line per event:

    start <run> full=<0|1> interval=<seconds>
    action <run> <k>
    end <run> stopped=<0|1> actions=<n>

Knobs (environment):
    FAKE_ACTIONS     actions per run (default 1); the job checks should_stop between them,
                     as the engine does
    FAKE_GATE_DIR    when set, action k of run n waits until the file ``gate-<n>-<k>`` exists
                     there, so a test knows exactly which action is in flight
    FAKE_TIME_SCALE  multiplies [sync] interval_seconds (whose minimum is 10 s) after
                     loading, so that tests need not wait 10 s per run (default 1)
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from syncd import config
from syncd.config import Settings
from syncd.errors import ConfigError
from syncd.logs import secret_values, setup_logging
from syncd.service.daemon import Daemon

_runs = itertools.count(1)


def main() -> int:
    config_path, record_path = Path(sys.argv[1]), Path(sys.argv[2])
    actions = int(os.environ.get("FAKE_ACTIONS", "1"))
    gate_dir = os.environ.get("FAKE_GATE_DIR", "")
    scale = float(os.environ.get("FAKE_TIME_SCALE", "1"))

    def record(line: str) -> None:
        with record_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def load_settings() -> Settings:
        settings = config.load(config_path, env={})
        seconds = max(1, round(settings.sync.interval_seconds * scale))
        return settings.model_copy(update={"sync": settings.sync.model_copy(update={"interval_seconds": seconds})})

    def job(settings: Settings, full: bool, should_stop: Callable[[], bool]) -> object:
        run = next(_runs)
        record(f"start {run} full={int(full)} interval={settings.sync.interval_seconds}")
        done = 0
        for k in range(1, actions + 1):
            if should_stop():
                break
            if gate_dir:
                gate = Path(gate_dir) / f"gate-{run}-{k}"
                while not gate.exists():  # the action in flight: it finishes even when asked to stop
                    time.sleep(0.02)
            record(f"action {run} {k}")
            done += 1
        record(f"end {run} stopped={int(should_stop())} actions={done}")
        return None

    try:  # as the CLI does: logging first, with the secrets known so far
        secrets = secret_values(config.load(config_path, env={}))
    except ConfigError:
        secrets = []  # the Daemon reports the broken configuration itself
    setup_logging("INFO", "text", secrets=secrets)
    return Daemon(load_settings, job).run()


if __name__ == "__main__":
    sys.exit(main())
