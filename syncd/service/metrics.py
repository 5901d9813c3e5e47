"""Prometheus metrics of the daemon, on an optional endpoint (``[metrics] listen``).

What an operator alerts on: the time of the last completed run, actions by type, errors,
users in conflict, run durations and run outcomes. The metrics live in their own
``CollectorRegistry`` (not the process-wide default), so tests and two daemons in one
process never share counters. A run report is read through ``syncd.ports.RunReportLike``
only, so this module does not depend on the engine's classes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from syncd.errors import ConfigError
from syncd.ports import COMPLETED, RunOutcome, RunReportLike, count_of

__all__ = ["METRICS", "MetricsServer", "RunReportLike", "SyncMetrics", "count_of", "parse_listen", "record_run",
           "start_metrics_server"]

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
#: From an event's arrival to the end of its one-user run: the target is a p95 under 5 s (DESIGN §10).
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300)


class SyncMetrics:
    """The daemon's metrics on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self._clock = clock
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "Unix time at which the last run completed (outcome ok or errors)",
            registry=self.registry,
        )
        self.actions = Counter("syncd_actions", "Actions executed, by type", ["action"], registry=self.registry)
        self.errors = Counter("syncd_errors", "Users whose action failed in a run", registry=self.registry)
        self.conflicts = Gauge(
            "syncd_conflicts", "Users in conflict after the last completed run", registry=self.registry
        )
        self.duration = Histogram(
            "syncd_run_duration_seconds", "Duration of runs", buckets=DURATION_BUCKETS, registry=self.registry
        )
        self.last_duration = Gauge(
            "syncd_last_run_duration_seconds", "Duration of the last run", registry=self.registry
        )
        self.runs = Counter("syncd_runs", "Runs, by outcome", ["outcome"], registry=self.registry)
        # The event intake (DESIGN §10): every request, what was refused (by HTTP status), what waits.
        self.events_received = Counter(
            "syncd_events_received", "Requests received by the event intake, accepted or refused",
            registry=self.registry)
        self.events_accepted = Counter("syncd_events_accepted", "Events accepted (202)", registry=self.registry)
        self.events_refused = Counter(
            "syncd_events_refused", "Requests refused by the intake, by HTTP status (400 shape, 401 signature, "
            "403 password without TLS, 404, 405, 413 size)", ["status"], registry=self.registry)
        self.events_coalesced = Counter(
            "syncd_events_coalesced", "Events folded into a one-user run already waiting", registry=self.registry)
        self.events_dropped = Counter(
            "syncd_events_dropped", "Waiting users dropped because the queue was full (a poll was run instead)",
            registry=self.registry)
        self.events_queued = Gauge("syncd_events_queued", "Users waiting for their one-user run",
                                   registry=self.registry)
        self.event_latency = Histogram(
            "syncd_event_latency_seconds", "From an event's arrival to the end of its one-user run",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.login_checks = Counter(
            "syncd_login_checks", "Login checks answered on /v1/verify (DESIGN §11), by answer: ok or refused",
            ["answer"], registry=self.registry)

    def record_run(self, report: RunReportLike) -> None:
        """Account for one finished run."""
        for action, n in report.counts.items():
            if n > 0:
                self.actions.labels(action=action).inc(n)
        self.errors.inc(count_of(report.errors))
        duration = report.duration_seconds
        if duration is not None:
            self.duration.observe(duration)
            self.last_duration.set(duration)
        self.runs.labels(outcome=str(report.outcome)).inc()
        if report.outcome in COMPLETED:
            self.conflicts.set(count_of(report.conflicts))
            self.last_success.set(self._clock())

    def record_outcome(self, outcome: RunOutcome, duration_seconds: float | None = None) -> None:
        """Account for a run that produced no report (``failed``, ``locked``, ``guard``)."""
        self.runs.labels(outcome=outcome.value).inc()
        if duration_seconds is not None:
            self.duration.observe(duration_seconds)
            self.last_duration.set(duration_seconds)


#: The daemon's metrics; ``record_run`` below updates them.
METRICS = SyncMetrics()


def record_run(report: RunReportLike) -> None:
    """Account for one finished run in the daemon's metrics."""
    METRICS.record_run(report)


@dataclass
class MetricsServer:
    """A running metrics endpoint; ``close()`` stops it."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"`` or ``":9464"`` (all addresses) → (host, port)."""
    host, sep, port_text = listen.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"[metrics] listen = {listen!r}: give host:port, e.g. 127.0.0.1:9464")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


def start_metrics_server(listen: str, metrics: SyncMetrics | None = None) -> MetricsServer:
    """Serve ``/metrics`` on ``listen`` (port 0 picks a free port; see ``.port``).

    Raises ConfigError for a malformed address, OSError when it cannot be bound.
    """
    host, port = parse_listen(listen)
    chosen = METRICS if metrics is None else metrics
    server, thread = start_http_server(port, addr=host, registry=chosen.registry)
    return MetricsServer(host=host, port=int(server.server_address[1]), _server=server, _thread=thread)
