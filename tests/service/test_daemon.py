"""The Daemon in this process: schedule, failures, reload, stop, watchdog, status lines.

The daemon runs in a thread (so it installs no signal handlers; the tests call
``request_stop()``/``request_reload()`` as the handlers would) with a fake job, a real
notify socket and a real configuration file. Every wait is on an event, with a generous
bound; no duration is asserted. tests/service/test_daemon_process.py does the same
through real signals in a real process.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger

from syncd import config, logs
from syncd.config import Settings
from syncd.errors import ConfigError, GuardTripped, LockHeld, Unreachable
from syncd.render.daemon import run_status_line
from syncd.service import notify as sd
from syncd.service.daemon import FULL_JOB, INTERVAL_JOB, Daemon, crontab_day_of_week, crontab_trigger
from syncd.service.metrics import SyncMetrics
from tests.service.helpers import SECRET, WAIT, NotifyListener, config_text


@dataclass
class Report:
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: int = 0
    conflicts: int = 0
    duration_seconds: float | None = 0.5
    outcome: str = "ok"


Step = Callable[[Callable[[], bool]], object]


class FakeJob:
    """Runs scripted steps (one per run; afterwards, an empty ok report) and records calls."""

    def __init__(self, *steps: Step) -> None:
        self.steps: deque[Step] = deque(steps)
        self.calls: list[tuple[bool, int]] = []  # (full, interval_seconds seen)
        self.active = 0
        self.max_active = 0
        self.cond = threading.Condition()

    def __call__(self, settings: Settings, full: bool, should_stop: Callable[[], bool]) -> object:
        with self.cond:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            step = self.steps.popleft() if self.steps else None
        try:
            return step(should_stop) if step is not None else Report()
        finally:
            with self.cond:
                self.active -= 1
                self.calls.append((full, settings.sync.interval_seconds))
                self.cond.notify_all()

    def wait_calls(self, n: int) -> list[tuple[bool, int]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.calls) >= n, WAIT), f"only {self.calls} of {n} runs"
            return list(self.calls)


def raises(exc: BaseException) -> Step:
    def step(should_stop: Callable[[], bool]) -> object:
        raise exc

    return step


def returns(report: object) -> Step:
    return lambda should_stop: report


class Gate:
    """A step that blocks until opened, so a test knows a run is in flight."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.saw_stop: bool | None = None

    def __call__(self, should_stop: Callable[[], bool]) -> object:
        self.entered.set()
        assert self.opened.wait(WAIT), "gate never opened"
        self.saw_stop = should_stop()
        return Report(counts={"updated": 1})


class Harness:
    def __init__(self, tmp_path: Path, listener: NotifyListener, job: FakeJob, **daemon_kwargs: Any) -> None:
        self.path = tmp_path / "syncd.toml"
        self.listener = listener
        self.job = job
        self.log = io.StringIO()
        self.metrics = SyncMetrics()
        self.loads = 0
        logs.setup_logging("INFO", "text", stream=self.log)
        self.daemon = Daemon(
            self.load,
            job,
            notify=lambda *lines: sd.notify(*lines, env={"NOTIFY_SOCKET": listener.address}),
            metrics=self.metrics,
            **{"watchdog_interval": lambda: None, **daemon_kwargs},
        )
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def load(self) -> Settings:
        self.loads += 1
        return config.load(self.path, env={})

    def _run(self) -> None:
        self.exit_code = self.daemon.run()

    def write(self, **kwargs: Any) -> None:
        self.path.write_text(config_text(**kwargs))

    def stop(self) -> int | None:
        self.daemon.request_stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the daemon did not stop"
        return self.exit_code

    def reload(self) -> None:
        before = self.listener.lines.count("RELOADING=1")
        self.daemon.request_reload()
        # READY=1 follows RELOADING=1 whether the reload worked or not.
        self.listener.wait_for(
            lambda lines: (
                lines.count("RELOADING=1") > before
                and lines.count("READY=1") > lines[: _nth_index(lines, "RELOADING=1", before + 1)].count("READY=1")
            ),
            "the end of the reload",
        )


def _nth_index(lines: list[str], line: str, n: int) -> int:
    seen = 0
    for i, current in enumerate(lines):
        if current == line:
            seen += 1
            if seen == n:
                return i
    return len(lines)


@pytest.fixture()
def listener() -> Iterator[NotifyListener]:
    with NotifyListener() as sock:
        yield sock


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    import sys

    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr)


@contextmanager
def started(tmp_path: Path, listener: NotifyListener, job: FakeJob, **kwargs: Any) -> Iterator[Harness]:
    config_kwargs = kwargs.pop("config", {})
    h = Harness(tmp_path, listener, job, **kwargs)
    h.write(**config_kwargs)
    h.thread.start()
    try:
        assert h.daemon.ready.wait(WAIT) or h.exit_code is not None
        yield h
    finally:
        if h.thread.is_alive():
            h.stop()


def test_ready_first_run_at_once_and_a_clean_stop(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob(returns(Report(counts={"updated": 3, "created": 1})))
    with started(tmp_path, listener, job) as h:
        assert job.wait_calls(1) == [(False, 3600)]
        listener.wait_for(lambda lines: any(ln.startswith("STATUS=last sync ok") for ln in lines), "a run status")
        assert h.stop() == 0
    assert listener.datagrams[0][0] == "READY=1"
    assert listener.datagrams[0][1] == "STATUS=sync every 3600 seconds, full resync at cron '0 3 * * *'"
    last_run = [s for s in listener.statuses() if s.startswith("last sync")]
    assert last_run and last_run[0].endswith(": 1 created, 3 updated")
    listener.wait_for(lambda lines: "STOPPING=1" in lines, "STOPPING=1")  # sent before stop() returned
    assert h.metrics.registry.get_sample_value("syncd_actions_total", {"action": "updated"}) == 3


def test_the_schedule_follows_the_configuration(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job, config={"interval": 120, "cron": "30 4 * * 1"}) as h:
        scheduler = h.daemon.scheduler
        assert scheduler is not None
        interval_job, full_job = scheduler.get_job(INTERVAL_JOB), scheduler.get_job(FULL_JOB)
        assert interval_job.trigger.interval == timedelta(seconds=120)
        assert (interval_job.max_instances, interval_job.coalesce, interval_job.misfire_grace_time) == (1, True, 120)
        fields = {f.name: str(f) for f in full_job.trigger.fields}
        assert (fields["minute"], fields["hour"], fields["day_of_week"]) == ("30", "4", "mon")  # crontab's 1
        assert full_job.coalesce and full_job.max_instances == 1 and full_job.misfire_grace_time


def test_full_resync_job_runs_with_full(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        h.daemon.run_now(full=True)
        assert job.wait_calls(2)[1] == (True, 3600)
        listener.wait_for(lambda lines: any(ln.startswith("STATUS=last full resync ok") for ln in lines), "status")


def test_runs_never_overlap(tmp_path: Path, listener: NotifyListener) -> None:
    gate = Gate()
    job = FakeJob(gate)
    with started(tmp_path, listener, job) as h:
        assert gate.entered.wait(WAIT)
        h.daemon.run_now(full=True)  # a full resync requested while a run is in flight
        h.daemon.run_now(full=False)  # and another sync
        gate.opened.set()
        assert job.wait_calls(3) == [(False, 3600), (True, 3600), (False, 3600)]  # one after the other
        assert job.max_active == 1


def test_lock_held_is_a_warning_and_the_daemon_goes_on(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob(raises(LockHeld("another run holds the lock on /var/lib/syncd/state.db.lock")))
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        listener.wait_for(lambda lines: any("skipped" in ln for ln in lines), "the skipped status")
        h.daemon.run_now()
        job.wait_calls(2)
        listener.wait_for(lambda lines: any(ln.startswith("STATUS=last sync ok") for ln in lines), "ok status")
        assert h.stop() == 0
    assert "WARNING  sync skipped: another run holds the lock" in h.log.getvalue()
    skipped = [s for s in listener.statuses() if s.startswith("last sync skipped at ")]
    assert skipped and skipped[0].endswith("another run held the lock")
    assert h.metrics.registry.get_sample_value("syncd_runs_total", {"outcome": "locked"}) == 1


@pytest.mark.parametrize(
    ("exc", "logged"),
    [
        (Unreachable(f"cannot reach WHMCS with {SECRET}", side="whmcs"), "ERROR    sync failed, will retry"),
        (GuardTripped("the run would deactivate 40 users"), "ERROR    sync stopped by a safety guard"),
        (ConfigError("invalid configuration:", ["[whmcs] url: bad"]), "ERROR    sync failed, will retry"),
        (KeyError(SECRET), "ERROR    sync failed with an unexpected error, will retry at the next run: KeyError"),
    ],
)
def test_a_failed_run_is_logged_plainly_and_retried(
    tmp_path: Path, listener: NotifyListener, exc: Exception, logged: str
) -> None:
    job = FakeJob(raises(exc))
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        listener.wait_for(lambda lines: any("STATUS=last sync" in ln and "at" in ln for ln in lines), "failure status")
        h.daemon.run_now()
        job.wait_calls(2)
        listener.wait_for(lambda lines: any(ln.startswith("STATUS=last sync ok") for ln in lines), "recovery")
        assert h.stop() == 0
    text = h.log.getvalue()
    assert logged in text
    assert "Traceback" not in text  # at INFO: plain words only
    assert SECRET not in text and SECRET not in "\n".join(listener.lines)
    failed = [s for s in listener.statuses() if s.startswith(("last sync failed", "last sync stopped"))]
    assert len(failed) == 1


def test_the_traceback_of_a_bug_is_at_debug(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob(returns(Report()), raises(ZeroDivisionError("division by zero")))
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        logs.setup_logging("DEBUG", "text", stream=h.log)
        h.daemon.run_now()
        job.wait_calls(2)
        listener.wait_for(lambda lines: any("ZeroDivisionError" in ln for ln in lines), "the failure status")
    text = h.log.getvalue()
    assert "ERROR    sync failed with an unexpected error, will retry at the next run: ZeroDivisionError" in text
    assert "DEBUG    traceback of the unexpected error\nTraceback (most recent call last):" in text


def test_stop_lets_the_run_in_flight_finish(tmp_path: Path, listener: NotifyListener) -> None:
    gate = Gate()
    job = FakeJob(gate)
    h = Harness(tmp_path, listener, job)
    h.write()
    h.thread.start()
    assert gate.entered.wait(WAIT)
    h.daemon.request_stop()
    listener.wait_line("STOPPING=1")
    assert h.thread.is_alive()  # still waiting for the run: the gate is shut
    assert "STATUS=stopping: letting the run in flight finish its current action" in listener.lines
    gate.opened.set()
    h.thread.join(WAIT)
    assert h.exit_code == 0
    assert gate.saw_stop is True  # the job was told to stop after its current action
    assert len(job.calls) == 1


def test_reload_applies_a_new_schedule(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        h.write(interval=60, cron="15 2 * * *")
        h.reload()
        scheduler = h.daemon.scheduler
        assert scheduler is not None
        assert scheduler.get_job(INTERVAL_JOB).trigger.interval == timedelta(seconds=60)
        fields = {f.name: str(f) for f in scheduler.get_job(FULL_JOB).trigger.fields}
        assert (fields["minute"], fields["hour"]) == ("15", "2")
        assert h.daemon.settings.sync.interval_seconds == 60
        h.daemon.run_now()
        assert job.wait_calls(2)[1] == (False, 60)  # the next run sees the new configuration
        h.write(interval=60, cron="")
        h.reload()
        assert scheduler.get_job(FULL_JOB) is None
    assert any(s.startswith("configuration reloaded at ") and "sync every 60 seconds" in s for s in listener.statuses())
    assert "INFO     configuration reloaded: sync every 60 seconds" in h.log.getvalue()


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("[whmcs\nurl = ", "is not valid TOML"),
        (config_text(interval=0), "interval_seconds"),
        (config_text(cron="61 * * * *"), "full_resync_cron"),
        (config_text().replace("[sync]", "[sync]\nsurprise = 1"), "unknown key 'surprise'"),
        (config_text(metrics_listen="nowhere"), "[metrics] listen"),
    ],
)
def test_a_bad_reload_keeps_the_old_configuration(
    tmp_path: Path, listener: NotifyListener, broken: str, reason: str
) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        old = h.daemon.settings
        h.path.write_text(broken)
        h.reload()
        assert h.daemon.settings is old
        scheduler = h.daemon.scheduler
        assert scheduler is not None
        assert scheduler.get_job(INTERVAL_JOB).trigger.interval == timedelta(seconds=3600)
        h.daemon.run_now()
        assert job.wait_calls(2)[1] == (False, 3600)  # still syncing, with the old settings
    text = h.log.getvalue()
    assert "ERROR    the configuration was not reloaded; keeping the previous one:" in text
    assert reason in text
    assert any(s.startswith("reload failed at ") and "previous configuration kept" in s for s in listener.statuses())


def test_disabled_sync_stays_up_runs_nothing_and_can_be_enabled(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job, config={"enabled": False}) as h:
        listener.wait_line("READY=1")
        assert listener.datagrams[0] == ["READY=1", "STATUS=sync disabled in configuration"]
        scheduler = h.daemon.scheduler
        assert scheduler is not None and scheduler.get_jobs() == []
        with pytest.raises(RuntimeError, match="sync is disabled"):
            h.daemon.run_now()
        assert job.calls == []
        h.write(enabled=True)
        h.reload()
        assert job.wait_calls(1) == [(False, 3600)]  # enabling runs at once
        h.write(enabled=False)
        h.reload()
        assert scheduler.get_jobs() == []


def test_a_configuration_unusable_at_start_exits_2(tmp_path: Path, listener: NotifyListener) -> None:
    for text in ("not = [toml", config_text(cron="0 25 * * *")):
        job = FakeJob()
        h = Harness(tmp_path, listener, job)
        h.path.write_text(text)
        h.thread.start()
        h.thread.join(WAIT)
        assert h.exit_code == 2
        assert not h.daemon.ready.is_set() and job.calls == []
    assert "READY=1" not in listener.lines
    assert any(s.startswith("cannot start: ") for s in listener.statuses())


def test_watchdog_pings_while_the_scheduler_lives(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job, watchdog_interval=lambda: 0.05) as h:
        listener.wait_line("WATCHDOG=1", count=3)
        assert h.stop() == 0


def test_no_watchdog_pings_without_watchdog_usec(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob()
    with started(tmp_path, listener, job) as h:
        job.wait_calls(1)
        assert h.stop() == 0
    assert "WATCHDOG=1" not in listener.lines


def test_metrics_endpoint_follows_the_configuration(tmp_path: Path, listener: NotifyListener) -> None:
    job = FakeJob(returns(Report(counts={"created": 2})))
    with started(tmp_path, listener, job, config={"metrics_listen": "127.0.0.1:0"}) as h:
        job.wait_calls(1)
        listener.wait_for(lambda lines: any(ln.startswith("STATUS=last sync ok") for ln in lines), "run status")
        port = h.daemon.metrics_port
        assert port
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert 'syncd_actions_total{action="created"} 2.0' in body
        h.write(metrics_listen="")
        h.reload()
        assert h.daemon.metrics_port is None


def test_run_status_line() -> None:
    assert run_status_line(object(), "sync", "T") == "last sync ok at T"
    assert run_status_line(Report(), "sync", "T") == "last sync ok at T: no changes"
    assert (
        run_status_line(Report(counts={"updated": 3}, errors=1, conflicts=2, outcome="errors"), "full resync", "T")
        == "last full resync at T: 3 updated; 1 user failed (retried next run); 2 users in conflict"
    )
    assert run_status_line(Report(outcome="stopped"), "sync", "T") == "last sync at T ended stopped: no changes"
    # the engine's action kinds read as words, as in the run report of `syncd sync`
    words = run_status_line(Report(counts={"update": 3, "create": 1}), "sync", "T")
    assert words == "last sync ok at T: 1 created, 3 updated"


@pytest.mark.parametrize(
    ("expr", "weekday"),
    [
        ("30 4 * * 1", "Mon"),  # APScheduler 3's own from_crontab would say Tuesday
        ("30 4 * * 0", "Sun"),
        ("30 4 * * 7", "Sun"),
        ("30 4 * * 5", "Fri"),
        ("30 4 * * sat", "Sat"),
    ],
)
def test_crontab_weekdays_mean_what_crontab_says(expr: str, weekday: str) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday, at midnight
    fire = crontab_trigger(expr, UTC).get_next_fire_time(None, start)
    assert fire is not None and fire.strftime("%a %H:%M") == f"{weekday} 04:30"


def test_crontab_day_of_week_ranges_and_steps() -> None:
    assert crontab_day_of_week("*") == "*"
    assert crontab_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_day_of_week("5-7") == "sun,fri,sat"
    assert crontab_day_of_week("*/2") == "sun,tue,thu,sat"
    assert crontab_day_of_week("0-1,mon-tue") == "sun,mon,tue"


@pytest.mark.parametrize("expr", ["0 3 * * 8", "0 3 * * 3-1", "0 3 * * */0", "0 3 1 * 1", "0 25 * * *", "0 3 * *"])
def test_crontab_refusals(expr: str) -> None:
    with pytest.raises(ValueError):
        crontab_trigger(expr, UTC)
