"""The daemon as a real process: READY, scheduled runs, SIGTERM mid-run, SIGHUP, watchdog.

tests/service/fake_daemon.py runs the real ``Daemon`` with a fake job that records what it
does. The test listens on a real notify socket, sends real signals, and waits on events
(datagrams, lines in the record, the exit) with generous bounds; no duration is asserted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.helpers import SECRET, WAIT, NotifyListener, config_text

DRIVER = Path(__file__).with_name("fake_daemon.py")


class DaemonProcess:
    def __init__(self, tmp_path: Path, listener: NotifyListener) -> None:
        self.tmp_path = tmp_path
        self.listener = listener
        self.config = tmp_path / "syncd.toml"
        self.record = tmp_path / "record.txt"
        self.stderr_path = tmp_path / "stderr.txt"
        self.gates = tmp_path / "gates"
        self.gates.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None

    def write(self, **kwargs: Any) -> None:
        self.config.write_text(config_text(**kwargs))

    def start(self, *, env: dict[str, str] | None = None, journal: bool = False) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
        full_env.update({"NOTIFY_SOCKET": self.listener.address, "FAKE_TIME_SCALE": "0.1", **(env or {})})
        stderr = self.stderr_path.open("wb")
        if journal:
            st = os.fstat(stderr.fileno())
            full_env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        with stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(DRIVER), str(self.config), str(self.record)],
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon did not exit; its stderr:\n{self.stderr}")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        return self.record.read_text(encoding="utf-8").splitlines() if self.record.exists() else []

    def wait_record(self, predicate: Callable[[list[str]], bool], what: str) -> list[str]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            lines = self.lines()
            if predicate(lines):
                return lines
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"never saw {what}; record: {self.lines()}; stderr:\n{self.stderr}")

    def open_gate(self, run: int, action: int) -> None:
        (self.gates / f"gate-{run}-{action}").touch()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


@pytest.fixture()
def listener() -> Iterator[NotifyListener]:
    with NotifyListener() as sock:
        yield sock


@pytest.fixture()
def daemon(tmp_path: Path, listener: NotifyListener) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path, listener)
    yield d
    d.kill()


def ends(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.startswith("end ")]


def test_ready_then_scheduled_runs_then_a_clean_stop(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.write(interval=10)  # 1 s with the driver's time scale
    daemon.start(journal=True)
    listener.wait_line("READY=1")
    lines = daemon.wait_record(lambda lines: len(ends(lines)) >= 3, "three scheduled runs")
    assert lines[0] == "start 1 full=0 interval=1"
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    notified = listener.lines
    assert notified.index("READY=1") < next(i for i, ln in enumerate(notified) if ln.startswith("STATUS=sync running"))
    assert "STOPPING=1" in notified
    assert any(ln.startswith("STATUS=last sync ok at ") for ln in notified)
    # stderr was "the journal": every line carries its syslog priority.
    stderr = daemon.stderr.splitlines()
    assert "<6>INFO     syncd daemon started: sync every 1 second, full resync at cron '0 3 * * *'" in stderr
    assert all(line.startswith("<") for line in stderr)
    assert SECRET not in daemon.stderr


def test_sigterm_mid_run_finishes_the_action_in_flight(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.write(interval=3600)
    daemon.start(env={"FAKE_ACTIONS": "5", "FAKE_GATE_DIR": str(daemon.gates)})
    listener.wait_line("READY=1")
    daemon.open_gate(1, 1)
    daemon.wait_record(lambda lines: "action 1 1" in lines, "the first action")
    # Action 2 is in flight (its gate is shut) when SIGTERM arrives.
    daemon.signal(signal.SIGTERM)
    listener.wait_line("STOPPING=1")
    assert daemon.proc is not None and daemon.proc.poll() is None  # waiting for the action in flight
    daemon.open_gate(1, 2)
    assert daemon.wait_exit() == 0
    assert daemon.lines() == ["start 1 full=0 interval=360", "action 1 1", "action 1 2", "end 1 stopped=1 actions=2"]
    assert "stopping: letting the run in flight finish its current action" in daemon.stderr


def test_sigint_stops_cleanly_too(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.write()
    daemon.start()
    listener.wait_line("READY=1")
    daemon.wait_record(lambda lines: len(ends(lines)) >= 1, "the first run")
    daemon.signal(signal.SIGINT)
    assert daemon.wait_exit() == 0
    assert "STOPPING=1" in listener.lines


def test_sighup_reloads_and_a_broken_file_keeps_the_old_configuration(
    daemon: DaemonProcess, listener: NotifyListener
) -> None:
    daemon.write(interval=3600)  # 360 s: no second run unless the reload takes effect
    daemon.start()
    listener.wait_line("READY=1")
    daemon.wait_record(lambda lines: len(ends(lines)) >= 1, "the first run")

    daemon.write(interval=10)  # 1 s
    daemon.signal(signal.SIGHUP)
    listener.wait_for(lambda ls: any(ln.startswith("STATUS=configuration reloaded") for ln in ls), "the reload")
    assert "RELOADING=1" in listener.lines
    lines = daemon.wait_record(
        lambda lines: sum(ln.endswith("interval=1") for ln in lines) >= 2, "runs at the new interval"
    )
    assert lines[0] == "start 1 full=0 interval=360"

    daemon.config.write_text("[whmcs]\nurl = 'https://b.example/'\n")  # incomplete: invalid
    daemon.signal(signal.SIGHUP)
    listener.wait_for(lambda ls: any(ln.startswith("STATUS=reload failed") for ln in ls), "the failed reload")
    runs_then = len(ends(daemon.lines()))
    daemon.wait_record(lambda lines: len(ends(lines)) >= runs_then + 2, "runs going on with the old configuration")
    assert daemon.lines()[-1].startswith("end ")
    assert all(ln.endswith("interval=1") for ln in daemon.lines()[1:] if ln.startswith("start "))

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "ERROR    the configuration was not reloaded; keeping the previous one:" in daemon.stderr
    assert "identifier is required" in daemon.stderr


def test_watchdog_pings_arrive_when_watchdog_usec_is_set(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.write()
    daemon.start(env={"WATCHDOG_USEC": "200000"})  # a ping every 0.1 s
    listener.wait_line("READY=1")
    listener.wait_line("WATCHDOG=1", count=3)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_watchdog_for_another_pid_is_ignored(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.write()
    daemon.start(env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    listener.wait_line("READY=1")
    daemon.wait_record(lambda lines: len(ends(lines)) >= 1, "the first run")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "WATCHDOG=1" not in listener.lines


def test_a_broken_configuration_at_start_exits_2_without_ready(daemon: DaemonProcess, listener: NotifyListener) -> None:
    daemon.config.write_text("[sync]\ninterval_seconds = 'often'\n")
    daemon.start()
    assert daemon.wait_exit() == 2
    statuses = listener.wait_for(lambda ls: any(ln.startswith("STATUS=cannot start") for ln in ls), "the status")
    assert "READY=1" not in statuses
    assert daemon.lines() == []
    assert "cannot start: invalid configuration" in daemon.stderr
