"""Prometheus metrics: what a run report does to them, and the endpoint on loopback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import pytest

from syncd.errors import ConfigError
from syncd.ports import RunOutcome
from syncd.service import metrics as m


@dataclass
class Report:
    """Shaped like the engine's report, not imported from it."""

    counts: Mapping[str, int] = field(default_factory=dict)
    errors: int | list[str] = 0
    conflicts: int | list[str] = 0
    duration_seconds: float | None = 1.5
    outcome: str = "ok"


def value(metrics: m.SyncMetrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return metrics.registry.get_sample_value(name, labels or {})


def test_a_report_satisfies_the_protocol() -> None:
    assert isinstance(Report(), m.RunReportLike)
    assert not isinstance(object(), m.RunReportLike)


def test_record_run_updates_every_metric() -> None:
    now = [1000.0]
    metrics = m.SyncMetrics(clock=lambda: now[0])
    metrics.record_run(Report(counts={"updated": 3, "created": 1, "linked": 0}, errors=2, conflicts=["a", "b", "c"]))
    now[0] = 2000.0
    metrics.record_run(Report(counts={"updated": 1}, errors=0, conflicts=1, duration_seconds=30.0, outcome="ok"))
    assert value(metrics, "syncd_actions_total", {"action": "updated"}) == 4
    assert value(metrics, "syncd_actions_total", {"action": "created"}) == 1
    assert value(metrics, "syncd_actions_total", {"action": "linked"}) is None  # zero counts add no series
    assert value(metrics, "syncd_errors_total") == 2
    assert value(metrics, "syncd_conflicts") == 1
    assert value(metrics, "syncd_last_success_timestamp_seconds") == 2000.0
    assert value(metrics, "syncd_runs_total", {"outcome": "ok"}) == 2
    assert value(metrics, "syncd_run_duration_seconds_count") == 2
    assert value(metrics, "syncd_run_duration_seconds_sum") == 31.5
    assert value(metrics, "syncd_last_run_duration_seconds") == 30.0


def test_a_failed_run_leaves_the_last_success_alone() -> None:
    metrics = m.SyncMetrics(clock=lambda: 50.0)
    metrics.record_run(Report(outcome="ok", conflicts=4))
    metrics.record_run(Report(outcome="guard", conflicts=0))
    metrics.record_outcome(RunOutcome.LOCKED)
    metrics.record_outcome(RunOutcome.FAILED, 2.0)
    assert value(metrics, "syncd_last_success_timestamp_seconds") == 50.0
    assert value(metrics, "syncd_conflicts") == 4  # as of the last completed run
    assert value(metrics, "syncd_runs_total", {"outcome": "guard"}) == 1
    assert value(metrics, "syncd_runs_total", {"outcome": "locked"}) == 1
    assert value(metrics, "syncd_runs_total", {"outcome": "failed"}) == 1
    assert value(metrics, "syncd_last_run_duration_seconds") == 2.0


def test_a_run_with_user_errors_still_completed() -> None:
    metrics = m.SyncMetrics(clock=lambda: 7.0)
    metrics.record_run(Report(outcome="errors", errors=["ann@example.com"]))
    assert value(metrics, "syncd_last_success_timestamp_seconds") == 7.0
    assert value(metrics, "syncd_errors_total") == 1


def test_registries_are_separate() -> None:
    a, b = m.SyncMetrics(), m.SyncMetrics()
    a.record_outcome(RunOutcome.FAILED)
    assert value(b, "syncd_runs_total", {"outcome": "failed"}) is None


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464)), (":9464", ("0.0.0.0", 9464))],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert m.parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9464", "localhost", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_parse_listen_refuses(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"\[metrics\] listen"):
        m.parse_listen(listen)


def test_endpoint_serves_the_metrics_on_loopback() -> None:
    metrics = m.SyncMetrics(clock=lambda: 1234.0)
    metrics.record_run(Report(counts={"created": 5}))
    server = m.start_metrics_server("127.0.0.1:0", metrics)
    try:
        assert server.port > 0
        body = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=30).text
    finally:
        server.close()
    assert 'syncd_actions_total{action="created"} 5.0' in body
    assert "syncd_last_success_timestamp_seconds 1234.0" in body
    assert "# TYPE syncd_run_duration_seconds histogram" in body
    assert "python_gc" not in body  # a dedicated registry, not the process-wide default


def test_module_level_record_run_feeds_the_daemon_metrics() -> None:
    before = value(m.METRICS, "syncd_runs_total", {"outcome": "ok"}) or 0
    m.record_run(Report())
    assert value(m.METRICS, "syncd_runs_total", {"outcome": "ok"}) == before + 1
