"""The daemon behind ``syncd run``: a schedule of runs, signals, and what systemd is told.

APScheduler (3.x) fires two jobs: the interval job (``[sync] interval_seconds``, the first
run right at start) and the full-resync cron job (``[sync] full_resync_cron``). Both go
through one single-worker executor and a process-local mutex, so two runs never overlap
in this process; other processes (a manual ``syncd sync``, a standby host) are kept out
by the run lock that the injected job takes, which raises ``LockHeld`` when it loses.

The job is injected (``job(settings, full, should_stop)``, in production the app's
``run_once``) so this module knows nothing of adapters or the store. A failed run is
logged in plain words and retried at the next tick; the daemon keeps running. Signals:
SIGTERM/SIGINT ask the run in flight to stop after its current action (``should_stop``),
wait for it and exit 0; SIGHUP reloads the configuration, keeping the old one if the new
one is bad. systemd hears ``READY=1``, ``STATUS=`` after each run, ``WATCHDOG=1`` while
the scheduler lives, ``RELOADING=1`` and ``STOPPING=1``.

With ``[intake] listen`` set (and an ``event_job``), the event intake serves companions' events
(``syncd.service.intake``) into a bounded queue that an event worker drains, one one-user run
per user, through the same run mutex (``syncd.service.worker``); a reload that changes
``[intake]`` restarts the intake; a stop closes it first and leaves what waits to the next poll.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from syncd import exits, logs
from syncd.config import Settings
from syncd.errors import ConfigError, GuardTripped, LockHeld, SyncdError
from syncd.ports import RunOutcome, RunReportLike
from syncd.render import daemon as status_lines
from syncd.service import intake_stats
from syncd.service import notify as sd
from syncd.service.events import EventQueue
from syncd.service.intake import IntakeApp, IntakeServer, RefusalLog
from syncd.service.metrics import (
    METRICS,
    MetricsServer,
    SyncMetrics,
    parse_listen,
    start_metrics_server,
)
from syncd.service.verify import LoginJob, Verifier
from syncd.service.worker import EventJob, EventWorker
from syncd.sync.engine import said_by_run

ShouldStop = Callable[[], bool]
Job = Callable[[Settings, bool, ShouldStop], object]
Notify = Callable[..., bool]

INTERVAL_JOB = "sync"
FULL_JOB = "full-resync"

#: A full resync that the scheduler could not start on time (host suspended, process
#: frozen) still runs if it is at most this late; later, it waits for the next one.
FULL_RESYNC_GRACE_SECONDS = 3600

#: How often the main thread checks that the scheduler thread is still alive.
HEALTH_CHECK_SECONDS = 1.0


def _local_now() -> datetime:
    return datetime.now().astimezone()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_number(token: str, *, range_end: bool = False) -> int:
    token = token.strip().lower()
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    if not token.isdigit() or int(token) > 7:
        raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")
    n = int(token)
    return n if (range_end or n != 7) else 0


def crontab_day_of_week(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler 3 day names.

    APScheduler 3's ``CronTrigger.from_crontab`` counts weekdays from Monday = 0, so
    crontab's "1" (Monday) would fire on Tuesdays; names are unambiguous.
    """
    if field.strip() == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ValueError(f"{item!r}: the step must be a positive number")
        if span.strip() == "*":
            first, last = 0, 6
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _weekday_number(start), _weekday_number(end, range_end=True)
            if first > last:
                raise ValueError(f"{item!r}: the range runs backwards")
        else:
            first = _weekday_number(span)
            last = 6 if step_text else first
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def crontab_trigger(expr: str, timezone: Any = None) -> CronTrigger:
    """A CronTrigger for a standard 5-field crontab expression (crontab's weekday numbers)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields: {len(fields)}, expected 5")
    minute, hour, day, month, day_of_week = fields
    if day.strip() != "*" and day_of_week.strip() != "*":
        # crontab fires when either matches; APScheduler only when both do. Refuse the ambiguity.
        raise ValueError("give a day of the month or a day of the week, not both")
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_day_of_week(day_of_week),
        timezone=timezone,
    )


def _build_triggers(settings: Settings, timezone: Any) -> tuple[IntervalTrigger, CronTrigger | None]:
    """The two triggers of a configuration; ConfigError for a cron expression that is refused."""
    interval = IntervalTrigger(seconds=settings.sync.interval_seconds, timezone=timezone)
    cron_text = settings.sync.full_resync_cron.strip()
    if not cron_text:
        return interval, None
    try:
        cron = crontab_trigger(cron_text, timezone)
    except ValueError as exc:
        raise ConfigError("invalid configuration:", [f"[sync] full_resync_cron = {cron_text!r}: {exc}"]) from None
    return interval, cron


class Daemon:
    """``syncd run``: schedules ``job`` until told to stop; ``run()`` returns the exit code.

    ``load_settings`` is called at start and on every SIGHUP (or ``request_reload()``);
    ``job(settings, full, should_stop)`` performs one run and returns its report.
    ``notify`` sends systemd notification lines (``syncd.service.notify.notify``);
    ``watchdog_interval`` says how often to ping (half of ``$WATCHDOG_USEC``), None for never.
    With ``manage_logging``, a reload that changes ``[log]`` re-applies it, and every
    loaded configuration's secrets are added to the log redaction.
    """

    def __init__(
        self,
        load_settings: Callable[[], Settings],
        job: Job,
        *,
        notify: Notify = sd.notify,
        clock: Callable[[], datetime] = _local_now,
        metrics: SyncMetrics | None = None,
        watchdog_interval: Callable[[], float | None] = sd.watchdog_interval,
        manage_logging: bool = True,
        source: str = "",
        event_job: EventJob | None = None,
        login_job: LoginJob | None = None,
    ) -> None:
        self._load_settings = load_settings
        self._source = source  # the configuration file, named in "cannot start" and reload errors
        self._job = job
        self._notify_raw = notify
        self._clock = clock
        self._metrics = METRICS if metrics is None else metrics
        self._watchdog_interval = watchdog_interval
        self._manage_logging = manage_logging
        self._event_job = event_job  # the one-user run of an event (``app.event_job``); None: no intake

        self._settings: Settings | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._metrics_server: MetricsServer | None = None
        self._schedule_key: tuple[bool, int, str] | None = None
        self._log_key: tuple[str, str] | None = None
        self._intake: IntakeServer | None = None
        self._intake_key: tuple[str, str, str, str] | None = None
        self.events = EventQueue(on_drop=self._metrics.events_dropped.inc)
        self._metrics.events_queued.set_function(lambda: len(self.events))
        self._worker: EventWorker | None = None
        self._refusals = RefusalLog()

        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self._watchdog_stop = threading.Event()
        self._run_mutex = threading.Lock()
        self._running = threading.Event()
        self._overlap_said = False
        self.ready = threading.Event()  # set once READY=1 was sent
        self.status_text = ""
        # /v1/verify (DESIGN §11), served with the intake; one for the daemon's life, so that a reload
        # restarting the intake does not reset the failed tries it counts.
        self._verifier = None if login_job is None else Verifier(
            login_job, settings=lambda: self.settings, run_mutex=self._run_mutex, stopping=self.should_stop,
            say=self._refusals.say)

    # ---- public controls -------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The configuration in force."""
        if self._settings is None:
            raise RuntimeError("the daemon has not loaded its configuration yet")
        return self._settings

    @property
    def scheduler(self) -> BackgroundScheduler | None:
        return self._scheduler

    def should_stop(self) -> bool:
        """True once a stop was requested; the job checks it between actions."""
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Finish the run in flight after its current action, then leave ``run()``. Thread- and signal-safe."""
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Reload the configuration from the main loop. Thread- and signal-safe."""
        self._reload.set()
        self._wake.set()

    def run_now(self, *, full: bool = False) -> None:
        """Queue one extra run (a full resync with ``full``) to start as soon as no run is in flight."""
        scheduler = self._scheduler
        if scheduler is None:
            raise RuntimeError("the daemon is not running")
        if not self.settings.sync.enabled:
            raise RuntimeError("no sync job is scheduled: sync is disabled in the configuration")
        # A one-off job of its own: the interval job's max_instances would drop it if a run is in flight.
        scheduler.add_job(
            self._run_job,
            DateTrigger(datetime.now(scheduler.timezone), timezone=scheduler.timezone),
            args=(full,),
            name="full resync (requested)" if full else "sync (requested)",
            misfire_grace_time=None,
        )

    # ---- the main loop -----------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or ``request_stop()``): 0 after a clean stop, 2 for a
        configuration unusable at start, 1 if the scheduler died."""
        try:
            self._settings = self._load()
        except SyncdError as exc:
            logger.error("cannot start: {}", self._with_source(exc))
            self._notify(f"STATUS={status_lines.cannot_start_line(_first_line(exc))}")
            return exits.of_error(exc)
        if self._manage_logging:
            self._apply_logging(self.settings)
        previous_handlers = self._install_signal_handlers()
        watchdog: threading.Thread | None = None
        exit_code = 0
        try:
            self._start_metrics(self.settings)
            self._apply_intake(self.settings)
            scheduler = BackgroundScheduler(
                executors={"default": ThreadPoolExecutor(max_workers=1)},
                job_defaults={"coalesce": True, "max_instances": 1},
            )
            self._scheduler = scheduler
            scheduler.add_listener(self._on_overlap, EVENT_JOB_MAX_INSTANCES)
            # Paused until READY=1 is sent, so the first run (due at once) starts after it.
            scheduler.start(paused=True)
            self._apply_schedule(self.settings, run_at_once=True)
            ready_status = status_lines.schedule_line(self.settings.sync)
            self._notify("READY=1", f"STATUS={ready_status}")
            self.ready.set()
            logger.info("syncd daemon started: {}", ready_status)
            scheduler.resume()
            self._start_worker()
            watchdog = self._start_watchdog()
            while not self._stop.is_set():
                self._wake.wait(HEALTH_CHECK_SECONDS)
                self._wake.clear()
                if self._reload.is_set() and not self._stop.is_set():
                    self._reload.clear()
                    self._do_reload()
                if not self._scheduler_alive():
                    logger.error("the scheduler stopped unexpectedly; exiting so that systemd restarts syncd")
                    exit_code = exits.ExitCode.ERRORS
                    break
        finally:
            self._shutdown()
            if watchdog is not None:
                self._watchdog_stop.set()
                watchdog.join(timeout=5)
            self._restore_signal_handlers(previous_handlers)
        return exit_code

    def _shutdown(self) -> None:
        self._stop.set()
        in_flight = self._running.is_set()
        message = status_lines.stopping_line(in_flight=in_flight)
        # STOPPING=1 as soon as shutdown begins (sd_notify(3)); the wait below may take an action's time.
        self._notify("STOPPING=1", f"STATUS={message}")
        logger.info("{}", message)
        self._stop_intake()  # no new event while the rest stops
        if self._worker is not None:
            self._worker.join(timeout=None)  # its run in flight stops after its current action
            self._worker = None
        left = self.events.clear()
        if left:
            logger.info("intake: {} waiting at the stop: the next poll finds their changes",
                        f"{left} user{'' if left == 1 else 's'} {'was' if left == 1 else 'were'}")
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=True)
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        logger.info("syncd daemon stopped")

    # ---- signals -----------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only flags here: logging from a signal handler could deadlock on the sink's lock.
        if signum == signal.SIGHUP:
            self.request_reload()
        else:
            self.request_stop()

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # embedded (tests): the owner calls request_stop()/request_reload()
        previous: dict[int, Any] = {}
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    # ---- configuration -----------------------------------------------------------------

    def _load(self) -> Settings:
        """Load and check a configuration, without applying it."""
        settings = self._load_settings()
        _build_triggers(settings, self._timezone())
        if settings.metrics.listen:
            parse_listen(settings.metrics.listen)
        if self._manage_logging:
            logs.add_secrets(logs.secret_values(settings))
        return settings

    def _with_source(self, exc: BaseException) -> str:
        """The error's text, naming the configuration file unless it already does."""
        text = str(exc)
        if not self._source or self._source in text:
            return text
        return f"{self._source}: {text}"

    def _do_reload(self) -> None:
        logger.info("reloading the configuration")
        self._notify(*self._reloading_lines())
        try:
            new = self._load()
        except Exception as exc:  # any failure keeps the old configuration in force
            logger.error("the configuration was not reloaded; keeping the previous one: {}", self._with_source(exc))
            if not isinstance(exc, SyncdError):
                logger.opt(exception=exc).debug("details of the reload failure")
            self._notify(
                "READY=1", f"STATUS={status_lines.reload_failed_line(self._now(), _first_line(exc))}"
            )
            return
        old = self.settings
        self._settings = new
        if self._manage_logging:
            self._apply_logging(new)
        if new.metrics.listen != old.metrics.listen:
            self._start_metrics(new)
        self._apply_intake(new)
        self._apply_schedule(new, run_at_once=not old.sync.enabled)
        summary = status_lines.schedule_line(new.sync)
        logger.info("configuration reloaded: {}", summary)
        self._notify("READY=1", f"STATUS={status_lines.reloaded_line(self._now(), summary)}")

    def _apply_logging(self, settings: Settings) -> None:
        key = (settings.log.level, settings.log.format)
        if self._log_key is not None and key != self._log_key:
            logs.setup_logging(settings.log.level, settings.log.format)
        self._log_key = key

    def _start_metrics(self, settings: Settings) -> None:
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        if not settings.metrics.listen:
            return
        try:
            self._metrics_server = start_metrics_server(settings.metrics.listen, self._metrics)
        except (OSError, ConfigError) as exc:
            # Metrics are optional: a busy port must not stop the sync.
            logger.error("metrics endpoint not started on {}: {}", settings.metrics.listen, exc)
            return
        logger.info("metrics on http://{}:{}/metrics", self._metrics_server.host, self._metrics_server.port)

    # ---- the event intake ----------------------------------------------------------------

    @staticmethod
    def _intake_key_of(settings: Settings) -> tuple[str, str, str, str]:
        intake = settings.intake
        secret = intake.secret.get_secret_value() if intake.secret is not None else ""
        return intake.listen, secret, intake.tls_cert, intake.tls_key

    def _apply_intake(self, settings: Settings) -> None:
        """Start, restart or stop the intake when ``[intake]`` changed (at start and on reload)."""
        if self._event_job is None:
            return
        key = self._intake_key_of(settings)
        if key == self._intake_key:
            return
        self._stop_intake()
        self._intake_key = key
        intake = settings.intake
        if not intake.enabled or intake.secret is None:
            return
        app = IntakeApp(intake.secret.get_secret_value().encode("utf-8"), self.events, self._metrics,
                        carry=lambda: self.settings.passwords.carry, refusals=self._refusals,
                        verifier=self._verifier)
        try:
            self._intake = IntakeServer(intake, app)
        except (OSError, ConfigError) as exc:
            # Polling is the safety net: the daemon goes on without the intake.
            logger.error("the event intake could not start on {}: {}; events are not received, the poll every "
                         "{} s still finds every change (free the port or change [intake] listen, then reload)",
                         intake.listen, getattr(exc, "strerror", None) or exc, settings.sync.interval_seconds)
            return
        logger.info("event intake on {}/v1/events", self._intake.url)

    def _stop_intake(self) -> None:
        if self._intake is not None:
            self._intake.close()
            self._intake = None
            self._intake_key = None

    def _start_worker(self) -> None:
        if self._event_job is None:
            return
        self._worker = EventWorker(
            self.events, self._event_job, settings=lambda: self.settings, run_mutex=self._run_mutex,
            metrics=self._metrics, stop=self._stop, request_poll=self._poll_soon,
            report_path=self._report_path, running=self._running)
        self._worker.start()

    def _report_path(self) -> Path | None:
        settings = self.settings
        return intake_stats.path_for(settings.sync.state_url) if settings.intake.enabled else None

    def _poll_soon(self) -> None:
        """A poll instead of the hints a full queue dropped."""
        try:
            self.run_now()
        except RuntimeError as exc:  # stopping, or sync disabled
            logger.info("intake: no poll started: {}", exc)

    @property
    def intake_port(self) -> int | None:
        """The port of the event intake, if it is serving."""
        return None if self._intake is None else self._intake.port

    @property
    def metrics_port(self) -> int | None:
        """The port of the metrics endpoint, if one is serving."""
        return None if self._metrics_server is None else self._metrics_server.port

    # ---- the schedule ------------------------------------------------------------------

    def _timezone(self) -> Any:
        return self._scheduler.timezone if self._scheduler is not None else None

    def _apply_schedule(self, settings: Settings, *, run_at_once: bool) -> None:
        scheduler = self._scheduler
        assert scheduler is not None
        sync = settings.sync
        key = (sync.enabled, sync.interval_seconds, sync.full_resync_cron.strip())
        if key == self._schedule_key:
            return
        interval, cron = _build_triggers(settings, scheduler.timezone)
        if not sync.enabled:
            for job_id in (INTERVAL_JOB, FULL_JOB):
                if scheduler.get_job(job_id) is not None:
                    scheduler.remove_job(job_id)
            self._schedule_key = key
            return
        old = self._schedule_key
        if scheduler.get_job(INTERVAL_JOB) is None:
            scheduler.add_job(
                self._run_job,
                interval,
                args=(False,),
                id=INTERVAL_JOB,
                name="sync",
                misfire_grace_time=sync.interval_seconds,
                **({"next_run_time": datetime.now(scheduler.timezone)} if run_at_once else {}),
            )
        elif old is not None and old[1] != sync.interval_seconds:
            scheduler.reschedule_job(INTERVAL_JOB, trigger=interval)
            scheduler.modify_job(INTERVAL_JOB, misfire_grace_time=sync.interval_seconds)
        if cron is None:
            if scheduler.get_job(FULL_JOB) is not None:
                scheduler.remove_job(FULL_JOB)
        elif scheduler.get_job(FULL_JOB) is None:
            scheduler.add_job(
                self._run_job,
                cron,
                args=(True,),
                id=FULL_JOB,
                name="full resync",
                misfire_grace_time=FULL_RESYNC_GRACE_SECONDS,
            )
        elif old is not None and old[2] != key[2]:
            scheduler.reschedule_job(FULL_JOB, trigger=cron)
        self._schedule_key = key

    def _scheduler_alive(self) -> bool:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return False
        # BackgroundScheduler keeps its thread in _thread; no public accessor in 3.x.
        thread = getattr(scheduler, "_thread", None)
        return isinstance(thread, threading.Thread) and thread.is_alive()

    # ---- one run -----------------------------------------------------------------------

    def _on_overlap(self, event: JobSubmissionEvent) -> None:
        """A scheduled run came due while the previous one was still going: APScheduler drops it
        (its own line is not logged, see ``logs.SAID_BY_SYNCD``). Said at INFO once per run in
        flight, then at DEBUG."""
        level = "DEBUG" if self._overlap_said else "INFO"
        self._overlap_said = True
        logger.log(level, "a scheduled run came due while the previous run was still going; it was skipped, "
                          "the schedule goes on (a longer interval_seconds avoids this)")

    def _run_job(self, full: bool) -> None:
        """The scheduled job: one run of the injected job, its failures contained."""
        if self._stop.is_set():
            return
        with self._run_mutex:
            if self._stop.is_set():
                return
            settings = self.settings
            if not settings.sync.enabled:
                return
            self._running.set()
            self._overlap_said = False
            try:
                status = self._run_once(settings, full)
            finally:
                self._running.clear()
        self.status_text = status
        self._notify(f"STATUS={status}")

    def _run_once(self, settings: Settings, full: bool) -> str:
        kind = "full resync" if full else "sync"
        self._notify(f"STATUS={status_lines.running_line(kind, self._now())}")
        started = time.monotonic()
        try:
            report = self._job(settings, full, self._stop.is_set)
        except LockHeld as exc:
            logger.warning("{} skipped: {}", kind, exc)
            self._metrics.record_outcome(RunOutcome.LOCKED)
            return status_lines.skipped_line(kind, self._now())
        except GuardTripped as exc:
            run_id = said_by_run(exc)
            if run_id is None:
                logger.error("{} stopped by a safety guard: {}", kind, exc)
            else:  # the run said the guard's verdict at ERROR: one line per failed poll
                logger.info("{} (run {}) stopped by the safety guard above; it will be checked again at the next run",
                            kind, run_id)
            self._metrics.record_outcome(RunOutcome.GUARD, time.monotonic() - started)
            return status_lines.guard_line(kind, self._now(), _first_line(exc))
        except SyncdError as exc:
            run_id = said_by_run(exc)
            if run_id is None:
                logger.error("{} failed, will retry at the next run: {}", kind, exc)
            else:  # the run logged the error at ERROR already: one line per failed poll
                logger.info("{} (run {}) failed with the error above; will retry at the next run", kind, run_id)
            logger.opt(exception=exc).debug("details of the failure")
            self._metrics.record_outcome(RunOutcome.FAILED, time.monotonic() - started)
            return status_lines.failed_line(kind, self._now(), _first_line(exc))
        except Exception as exc:  # a bug: keep the daemon up, and say where to look
            logger.error(
                "{} failed with an unexpected error, will retry at the next run: {}: {} "
                "(the traceback is logged at level DEBUG)",
                kind,
                type(exc).__name__,
                exc,
            )
            logger.opt(exception=exc).debug("traceback of the unexpected error")
            self._metrics.record_outcome(RunOutcome.FAILED, time.monotonic() - started)
            return status_lines.failed_line(kind, self._now(), f"{type(exc).__name__}: {_first_line(exc)}")
        if isinstance(report, RunReportLike):
            self._metrics.record_run(report)
        status = status_lines.run_status_line(report, kind, self._now())
        logger.info("{}", status)
        return status

    # ---- systemd -----------------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().strftime("%Y-%m-%d %H:%M:%S %Z").strip()

    def _notify(self, *lines: str) -> bool:
        # Status lines quote exception messages: redact them like any log line.
        return self._notify_raw(*(logs.redact_text(line) for line in lines))

    @staticmethod
    def _reloading_lines() -> tuple[str, ...]:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return ("RELOADING=1", f"MONOTONIC_USEC={usec}", f"STATUS={status_lines.RELOADING}")

    def _start_watchdog(self) -> threading.Thread | None:
        interval = self._watchdog_interval()
        if interval is None:
            return None
        thread = threading.Thread(target=self._watchdog_loop, args=(interval,), name="syncd-watchdog", daemon=True)
        thread.start()
        return thread

    def _watchdog_loop(self, interval: float) -> None:
        """Ping while the scheduler lives (and while a stop waits for the run in flight)."""
        while True:
            if self._scheduler_alive() or self._stop.is_set():
                self._notify("WATCHDOG=1")
            if self._watchdog_stop.wait(interval):
                return
