"""The daemon's event worker: drains the event queue, one one-user run per waiting user.

Each run goes through the daemon's run mutex, so it waits for a scheduled run (a full pass)
in progress in this process, and takes the run lock like any run. A lock held by another
process, or a side that does not answer, puts the user back at the head of the queue after a
pause (the event is not lost); after ``MAX_ATTEMPTS`` the user is left to the next poll, which
finds every change anyway. A full queue asks the daemon for a poll (``request_poll``). A password
the entry holds (DESIGN §11) is written by the job; whenever the entry is given up instead, the
password is dropped here with an INFO line naming the user (the poll can never carry it). The
worker also writes the intake's report for ``syncd status`` (``syncd.service.intake_stats``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from syncd.config import Settings
from syncd.errors import SyncdError
from syncd.service import intake_stats
from syncd.service.events import EventQueue, Pending
from syncd.service.metrics import SyncMetrics

ShouldStop = Callable[[], bool]
#: ``event_job(settings, pending, should_stop)``: one one-user run for ``pending`` (``app.event_job``).
EventJob = Callable[[Settings, Pending, ShouldStop], object]

#: One-user runs tried for one user before it is left to the next poll.
MAX_ATTEMPTS = 5
#: The longest pause before trying a user again (the pause doubles from 1 s).
MAX_PAUSE_SECONDS = 30.0
#: How often the report for ``syncd status`` is rewritten while something changes.
REPORT_EVERY_SECONDS = 2.0
#: How many recent latencies the report's percentiles are taken over.
LATENCY_SAMPLES = 1000


class EventWorker:
    """A thread running ``job`` for each user the queue hands out, until ``stop`` is set."""

    def __init__(
        self,
        queue: EventQueue,
        job: EventJob,
        *,
        settings: Callable[[], Settings],
        run_mutex: threading.Lock,
        metrics: SyncMetrics,
        stop: threading.Event,
        request_poll: Callable[[], None],
        report_path: Callable[[], Path | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        first_pause_seconds: float = 1.0,
        running: threading.Event | None = None,
    ) -> None:
        self._queue = queue
        self._job = job
        self._settings = settings
        self._run_mutex = run_mutex
        self._metrics = metrics
        self._stop = stop
        self._request_poll = request_poll
        self._report_path = report_path
        self._clock = clock
        self._first_pause = first_pause_seconds
        self._running = running  # set while an event run is in flight (the daemon's stop line says so)
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._runs = 0
        self._last_report: tuple[object, ...] | None = None
        self._reported_at = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="syncd-events", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def latencies(self) -> list[float]:
        return list(self._latencies)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._queue.take_poll_request():
                    logger.warning("intake: the event queue was full ({} users waiting); the oldest hints were "
                                   "dropped and a poll was started instead, which finds every change",
                                   self._queue.capacity)
                    self._request_poll()
                entry = self._queue.get(timeout=0.5)
                if entry is not None:
                    self._handle(entry)
                self.write_report()
            except Exception as exc:  # a bug: keep draining, say where to look
                logger.error("intake: the event worker hit an unexpected error: {}: {} (traceback at DEBUG)",
                             type(exc).__name__, exc)
                logger.opt(exception=exc).debug("traceback of the event worker's error")
                self._stop.wait(1.0)
        self.write_report(force=True)

    def _handle(self, entry: Pending) -> None:
        settings = self._settings()
        if not settings.sync.enabled:
            logger.debug("intake: sync is disabled in the configuration; {} not looked at", entry.label())
            self._drop_password(entry, "sync is disabled in the configuration")
            return
        with self._run_mutex:  # waits for a scheduled run in flight in this process
            if self._stop.is_set():
                self._drop_password(entry, "syncd is stopping")
                return  # stopping: the next poll finds the change
            entry.attempts += 1
            if self._running is not None:
                self._running.set()
            try:
                self._job(settings, entry, self._stop.is_set)
            except SyncdError as exc:  # LockHeld (another process runs), a side down, the store busy
                failure: SyncdError | None = exc
            except Exception as exc:  # a bug in one run: that user is left to the poll
                logger.error("intake: the one-user run for {} failed with an unexpected error: {}: {}; the next "
                             "poll looks at it (traceback at DEBUG)", entry.label(), type(exc).__name__, exc)
                logger.opt(exception=exc).debug("traceback of the one-user run's error")
                self._drop_password(entry, "its run failed")
                return
            else:
                failure = None
            finally:
                if self._running is not None:
                    self._running.clear()
        if failure is None:
            self._drop_password(entry, "the job did not take it")  # never left held: the job forgets it
            self._runs += 1
            latency = max(0.0, self._clock() - entry.received)
            self._latencies.append(latency)
            self._metrics.event_latency.observe(latency)
            return
        self._again(entry, failure)

    def _again(self, entry: Pending, failure: SyncdError) -> None:
        first = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        if entry.attempts >= MAX_ATTEMPTS:
            logger.warning("intake: gave up on {} after {} tries ({}); the next poll looks at it",
                           entry.label(), entry.attempts, first)
            self._drop_password(entry, "its one-user run could not be made")
            return
        pause = min(MAX_PAUSE_SECONDS, self._first_pause * 2.0 ** (entry.attempts - 1))
        logger.info("intake: the one-user run for {} could not be made now ({}); trying again in {:g} s",
                    entry.label(), first, pause)
        self._queue.retry(entry)
        self._stop.wait(pause)

    @staticmethod
    def _drop_password(entry: Pending, why: str) -> None:
        """Forget the password ``entry`` holds (if any), saying so once, without the password."""
        if entry.drop_password():
            logger.info("intake: the new password for {} was not carried ({}); dropped", entry.label(), why)

    def write_report(self, *, force: bool = False) -> None:
        """Rewrite the report for ``syncd status`` when something changed (at most every few seconds)."""
        path = self._report_path()
        if path is None:
            return
        registry = self._metrics.registry
        refused = {status: int(registry.get_sample_value("syncd_events_refused_total", {"status": status}) or 0)
                   for status in intake_stats.REFUSAL_STATUSES}
        counts = self._queue.counts()
        received = int(registry.get_sample_value("syncd_events_received_total") or 0)
        accepted = int(registry.get_sample_value("syncd_events_accepted_total") or 0)
        key = (received, accepted, tuple(refused.values()), counts, self._runs)
        now = self._clock()
        if not force and (key == self._last_report or now - self._reported_at < REPORT_EVERY_SECONDS):
            return
        data = intake_stats.report(
            listen=self._settings().intake.listen, received=received, accepted=accepted, refused=refused,
            queued=counts.queued, coalesced=counts.coalesced, dropped=counts.dropped, runs=self._runs,
            latencies=list(self._latencies))
        try:
            intake_stats.write(path, data)
        except OSError as exc:
            if self._last_report is None:
                logger.warning("intake: cannot write its report for `syncd status` to {}: {}", path,
                               exc.strerror or exc)
        self._last_report = key
        self._reported_at = now
