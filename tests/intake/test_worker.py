"""The event worker and the daemon's intake, in this process: each waiting user gets one one-user
run through the run mutex (after a scheduled run in progress); a lock held elsewhere or a side
down is retried, then left to the poll; the intake starts, restarts on reload, survives a busy
port, and stops with the daemon."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger

from syncd import config, logs
from syncd.config import Settings
from syncd.errors import LockHeld, Unreachable
from syncd.model import Side
from syncd.service.daemon import Daemon
from syncd.service.events import EventQueue, Pending
from syncd.service.metrics import SyncMetrics
from syncd.service.worker import MAX_ATTEMPTS, EventWorker
from tests.companions.live import free_port
from tests.intake.harness import SECRET, body_of, captured_logs, headers
from tests.service.helpers import WAIT, config_text

SETTINGS = config.parse({
    "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-123"},
    "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
    "intake": {"listen": "127.0.0.1:0", "secret": SECRET},
}, env={})


def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Job:
    """An event job that raises the scripted errors first, then succeeds; records every call."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[Pending] = []

    def __call__(self, settings: Settings, pending: Pending, should_stop: Callable[[], bool]) -> object:
        self.calls.append(pending)
        if self.errors:
            raise self.errors.pop(0)
        return None


@pytest.fixture
def make_worker(tmp_path: Path) -> Iterator[Callable[..., tuple[EventWorker, EventQueue, SyncMetrics]]]:
    stops: list[threading.Event] = []
    workers: list[EventWorker] = []

    def make(job: Job, *, settings: Settings = SETTINGS, mutex: threading.Lock | None = None,
             polls: list[int] | None = None, capacity: int = 100) -> tuple[EventWorker, EventQueue, SyncMetrics]:
        metrics = SyncMetrics()
        queue = EventQueue(capacity, on_drop=metrics.events_dropped.inc)
        stop = threading.Event()
        asked = polls if polls is not None else []
        worker = EventWorker(queue, job, settings=lambda: settings, run_mutex=mutex or threading.Lock(),
                             metrics=metrics, stop=stop, request_poll=lambda: asked.append(1),
                             report_path=lambda: tmp_path / "intake-stats.json", first_pause_seconds=0.01)
        stops.append(stop)
        workers.append(worker)
        worker.start()
        return worker, queue, metrics

    yield make
    for stop in stops:
        stop.set()
    for worker in workers:
        worker.join(WAIT)


def test_each_waiting_user_gets_one_run_and_its_latency_is_measured(make_worker: Any, tmp_path: Path) -> None:
    job = Job()
    _worker, queue, metrics = make_worker(job)
    queue.put(Side.WORDPRESS, 5, "ann@example.com")
    _until(lambda: len(job.calls) == 1, "the run")
    assert (job.calls[0].wp_id, job.calls[0].email) == (5, "ann@example.com")
    _until(lambda: (metrics.registry.get_sample_value("syncd_event_latency_seconds_count") or 0) == 1, "latency")
    _until(lambda: (tmp_path / "intake-stats.json").exists(), "the report for status")
    report = json.loads((tmp_path / "intake-stats.json").read_text())
    assert report["event_runs"] == 1 and report["latency_seconds"]["samples"] == 1


def test_a_lock_held_elsewhere_is_retried_and_the_event_not_lost(make_worker: Any) -> None:
    job = Job(LockHeld("another run holds the lock"), LockHeld("another run holds the lock"))
    _worker, queue, metrics = make_worker(job)
    queue.put(Side.WHMCS, 3)
    _until(lambda: len(job.calls) == 3, "the third try")
    _until(lambda: (metrics.registry.get_sample_value("syncd_event_latency_seconds_count") or 0) == 1, "success")
    assert all(call.whmcs_id == 3 for call in job.calls)


def test_a_side_down_is_tried_a_few_times_then_left_to_the_poll(make_worker: Any) -> None:
    job = Job(*[Unreachable("WHMCS is not reachable", side=Side.WHMCS)] * (MAX_ATTEMPTS + 3))
    with captured_logs() as lines:
        make_worker(job)[1].put(Side.WHMCS, 3)
        _until(lambda: any("gave up on" in line for line in lines), "the worker to give up")
    time.sleep(0.2)
    assert len(job.calls) == MAX_ATTEMPTS
    assert any("the next poll looks at it" in line for line in lines)


def test_sync_disabled_runs_nothing(make_worker: Any) -> None:
    job = Job()
    disabled = SETTINGS.model_copy(update={"sync": SETTINGS.sync.model_copy(update={"enabled": False})})
    _worker, queue, _metrics = make_worker(job, settings=disabled)
    queue.put(Side.WHMCS, 3)
    _until(lambda: len(queue) == 0, "the queue to be drained")
    time.sleep(0.2)
    assert job.calls == []


def test_an_event_run_waits_for_a_scheduled_run_in_progress(make_worker: Any) -> None:
    job = Job()
    mutex = threading.Lock()
    mutex.acquire()  # a scheduled run (a full pass) is going
    _worker, queue, _metrics = make_worker(job, mutex=mutex)
    queue.put(Side.WHMCS, 3)
    _until(lambda: len(queue) == 0, "the worker to take the user")
    time.sleep(0.3)
    assert job.calls == []
    mutex.release()
    _until(lambda: len(job.calls) == 1, "the event run after the scheduled one")


def test_a_full_queue_asks_the_daemon_for_a_poll(make_worker: Any) -> None:
    polls: list[int] = []
    gate = threading.Lock()
    gate.acquire()  # the worker waits: the queue fills
    _worker, queue, _metrics = make_worker(Job(), mutex=gate, polls=polls, capacity=2)
    for i in range(1, 6):
        queue.put(Side.WHMCS, i)
    gate.release()
    _until(lambda: polls == [1], "a poll to be asked for")


# ---- the daemon's intake, in this process ------------------------------------------------------



class Running:
    def __init__(self, tmp_path: Path, port: int) -> None:
        self.path = tmp_path / "syncd.toml"
        self.write(port)
        self.log = io.StringIO()
        logs.setup_logging("DEBUG", "text", stream=self.log)
        self.event_job = Job()
        self.daemon = Daemon(lambda: config.load(self.path, env={}), lambda s, f, stop: None,
                             notify=lambda *lines: True, metrics=SyncMetrics(), watchdog_interval=lambda: None,
                             event_job=self.event_job)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.thread.start()
        assert self.daemon.ready.wait(WAIT)

    def write(self, port: int, secret: str = SECRET) -> None:
        text = config_text(state_url=f"sqlite:///{self.path.parent / 'state.db'}")
        self.path.write_text(text + f'\n[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{secret}"\n')

    def post(self, port: int, data: object, secret: str = SECRET) -> httpx.Response:
        body = body_of(data)
        return httpx.post(f"http://127.0.0.1:{port}/v1/events", content=body, headers=headers(body, secret=secret),
                          timeout=10)


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    yield
    import sys

    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr)


@pytest.mark.usefixtures("_restore_logging")
def test_the_daemon_serves_the_intake_restarts_it_on_reload_and_closes_it_at_stop(tmp_path: Path) -> None:
    port = free_port()
    running = Running(tmp_path, port)
    try:
        assert running.daemon.intake_port == port
        assert running.post(port, {"side": "wordpress", "event": "changed", "id": 7}).status_code == 202
        _until(lambda: len(running.event_job.calls) == 1, "the event run")
        # A reload with a new address and a new secret: the intake moves.
        new_port, new_secret = free_port(), SECRET + "-rotated"
        running.write(new_port, new_secret)
        running.daemon.request_reload()
        _until(lambda: running.daemon.intake_port == new_port, "the intake to move")
        with pytest.raises(httpx.ConnectError):
            running.post(port, {"side": "wordpress", "event": "changed", "id": 8})
        assert running.post(new_port, {"side": "wordpress", "event": "changed", "id": 8}).status_code == 401
        assert running.post(new_port, {"side": "wordpress", "event": "changed", "id": 8},
                            secret=new_secret).status_code == 202
        _until(lambda: len(running.event_job.calls) == 2, "the second event run")
    finally:
        running.daemon.request_stop()
        running.thread.join(WAIT)
    assert not running.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        running.post(new_port, {"side": "wordpress", "event": "changed", "id": 9}, secret=new_secret)
    text = running.log.getvalue()
    assert SECRET not in text and "Traceback" not in text


@pytest.mark.usefixtures("_restore_logging")
def test_a_busy_port_is_said_and_the_daemon_goes_on_polling(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        running = Running(tmp_path, port)
        try:
            assert running.daemon.intake_port is None
            assert running.thread.is_alive()
        finally:
            running.daemon.request_stop()
            running.thread.join(WAIT)
    text = running.log.getvalue()
    assert "the event intake could not start" in text and "still finds every change" in text
    assert "Traceback" not in text


def test_a_password_whose_runs_fail_is_dropped_when_the_worker_gives_up(make_worker: Any) -> None:
    """Issue 14: a password is kept through the retries, then forgotten with an INFO line naming the
    user, never the password."""
    from syncd.passwords import Password

    secret_password = "Given-Up-Pa55-31c7"
    job = Job(*[Unreachable("WordPress is not reachable", side=Side.WORDPRESS)] * (MAX_ATTEMPTS + 3))
    password = Password(secret_password)
    with captured_logs() as lines:
        make_worker(job)[1].put(Side.WHMCS, 3, "ann@example.com", password)
        _until(lambda: any("was not carried" in line for line in lines), "the password to be dropped")
    assert len(job.calls) == MAX_ATTEMPTS and not password.held
    gave_up = next(n for n, line in enumerate(lines) if "gave up on" in line)
    (said,) = [line for line in lines[gave_up:] if "was not carried" in line]  # held until then
    assert said.startswith("INFO") and "WHMCS client #3 (ann@example.com)" in said
    assert all(secret_password not in line for line in lines)


def test_a_password_the_job_did_not_take_is_forgotten_after_a_successful_run(make_worker: Any) -> None:
    from syncd.passwords import Password

    password = Password("Left-Over-Pa55-9b0d")
    job = Job()
    _worker, queue, _metrics = make_worker(job)
    queue.put(Side.WHMCS, 3, "", password)
    _until(lambda: not password.held, "the password to be forgotten")
    assert len(job.calls) == 1
