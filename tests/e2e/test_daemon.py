"""The daemon as a real process (`syncd run`) with its real job, against both emulators:
READY on a notify socket, scheduled runs that sync, a manual `syncd sync` during a daemon run
(exit 5 after lock_wait_seconds), SIGTERM mid-run (exit 0, consistent state), SIGHUP reload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated
from tests.service.helpers import NotifyListener

SECRET = "daemon-test-secret"
WAIT = 60.0


World = Emulated


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with emulated(tmp_path, SECRET, interval_seconds=2, full_resync_cron="") as w:
        yield w


@pytest.fixture
def daemon(world: World) -> Iterator[tuple[subprocess.Popen[str], NotifyListener]]:
    listener = NotifyListener()
    env = {**os.environ, "NOTIFY_SOCKET": listener.address}
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(world.config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc, listener
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        listener.close()


def _wait(predicate: object, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_ready_then_scheduled_runs_sync_new_clients(world: World, daemon: tuple[subprocess.Popen[str], NotifyListener]
                                                     ) -> None:
    proc, listener = daemon
    world.whmcs.add_client("first@example.com", "First", "Client")
    listener.wait_line("READY=1", timeout=WAIT)
    _wait(lambda: "first@example.com" in world.wp_emails(), "the first run to create first@example.com")
    world.whmcs.add_client("later@example.com", "Later", "Client")
    _wait(lambda: "later@example.com" in world.wp_emails(), "a scheduled run to create later@example.com")
    assert any(s.startswith("last sync ok") for s in listener.statuses()), listener.statuses()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT) == 0
    assert "STOPPING=1" in listener.lines


SLOW = 20  # clients the daemon creates slowly while a manual sync tries to run


def test_manual_sync_during_a_daemon_run_exits_5_and_sigterm_mid_run_is_clean(
    world: World, daemon: tuple[subprocess.Popen[str], NotifyListener]
) -> None:
    proc, listener = daemon
    for i in range(SLOW):
        world.whmcs.add_client(f"slow{i}@example.com", "Slow", f"N{i}")
    # Each create takes a while: the daemon's first run would last 15 s (creates run two at a
    # time, at the default concurrency, so 20 of them take 10 × 1.5 s), time enough for the
    # manual `syncd sync` to start even on a loaded machine; SIGTERM ends it long before.
    world.wp.latency = 1.5
    listener.wait_line("READY=1", timeout=WAIT)
    _wait(lambda: world.wp.calls["create"] >= 1, "the daemon's run to start writing")
    manual = world.syncd("sync")
    assert manual.returncode == 5, manual.stderr
    assert "lock" in manual.stderr
    proc.send_signal(signal.SIGTERM)  # mid-run: the action in flight finishes and is committed
    assert proc.wait(timeout=WAIT) == 0
    world.wp.latency = 0
    # The state is consistent: a new run finishes the job without duplicating anyone.
    again = world.syncd("sync", "--json")
    assert again.returncode == 0, again.stderr
    emails = world.wp_emails()
    assert len(emails) == len(set(emails))
    assert all(f"slow{i}@example.com" in emails for i in range(SLOW))
    assert world.syncd("sync", "--json").stdout.count('"counts": {}') == 1


def test_sighup_reloads_and_a_broken_config_keeps_the_old_one(
    world: World, daemon: tuple[subprocess.Popen[str], NotifyListener]
) -> None:
    proc, listener = daemon
    listener.wait_line("READY=1", timeout=WAIT)
    good = world.config.read_text()
    world.config.write_text("[whmcs]\nurl = 3\n")
    proc.send_signal(signal.SIGHUP)
    # The daemon reloads between runs: wait for its answer before the file changes again, or a
    # run in progress could postpone the reload until the good file is back (two SIGHUPs, one reload).
    listener.wait_for(lambda lines: any("reload failed" in ln for ln in lines if ln.startswith("STATUS=")),
                      "a status saying the reload failed")
    world.whmcs.add_client("afterbad@example.com", "After", "Bad")
    _wait(lambda: "afterbad@example.com" in world.wp_emails(), "runs to go on with the old configuration")
    assert proc.poll() is None
    world.config.write_text(good.replace('interval_seconds = 2', 'interval_seconds = 2\nenabled = false'))
    proc.send_signal(signal.SIGHUP)
    listener.wait_for(lambda lines: any("disabled" in ln for ln in lines if ln.startswith("STATUS=")),
                      "a status saying sync is disabled")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT) == 0
    _, stderr = proc.communicate()
    assert "[whmcs] url" in stderr  # the bad reload was reported, naming the problem
    assert SECRET not in stderr and world.wp_password not in stderr
