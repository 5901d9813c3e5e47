"""A real ``kill -9`` of ``syncd sync`` in the middle of a run: both emulators answer slowly, the
process is SIGKILLed as soon as its first write reaches a side, and then the lock is free at
once (it never outlives its process, DESIGN §5.9) and the next runs converge with no duplicate
and nothing lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from syncd.service.lock import run_lock
from syncd.state.store import SqlStateStore
from tests.crash import scenario
from tests.faults.world import World

LATENCY = 0.15  # per call on both sides: the eight actions take seconds, the first write comes soon


def test_kill_9_in_the_middle_of_a_run(tmp_path: Path) -> None:
    world = World(tmp_path)
    scenario.prepare(world)
    writes = world.whmcs_writes() + world.wp_writes()
    world.whmcs.latency = world.wp.latency = LATENCY
    env = {k: v for k, v in os.environ.items() if k != "SYNCD_CONFIG"}
    with world.served() as sides:
        proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(sides.config), "sync"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
        try:
            # Not a timed assertion: a bound so that a hung process fails the test instead of hanging it.
            give_up = time.monotonic() + 120
            while world.whmcs_writes() + world.wp_writes() == writes:
                assert proc.poll() is None, f"syncd exited ({proc.returncode}) before it wrote anything"
                assert time.monotonic() < give_up, "syncd wrote nothing in 120 s"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    world.whmcs.latency = world.wp.latency = 0.0

    with run_lock(world.state_url, wait_seconds=0):
        pass  # the dead process holds no lock
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        assert store.runs(1)[0].outcome == "running"  # killed before it could record its end

    recovery = world.run()
    assert recovery.code == 0 and recovery.counts, recovery.text()  # the killed run left work behind
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        assert [r.outcome for r in store.runs(2)] == ["ok", "interrupted"]  # status no longer shows it running
    world.settle()
    scenario.check_converged(world)
    scenario.come_back(world)
