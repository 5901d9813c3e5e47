"""What systemd shows of the daemon (``STATUS=``): its schedule, each run, reloads and the stop.

``when`` is the local time as the daemon formats it; ``reason`` the first line of an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncd.ports import RunOutcome, RunReportLike, count_of
from syncd.render.items import counts_line, plural

if TYPE_CHECKING:
    from syncd.config import SyncSettings

RELOADING = "reloading the configuration"


def schedule_line(sync: SyncSettings) -> str:
    """At start and after a reload: "sync every 300 seconds, full resync at cron '0 3 * * *'"."""
    if not sync.enabled:
        return "sync disabled in configuration"
    text = f"sync every {plural(sync.interval_seconds, 'second')}"
    cron = sync.full_resync_cron.strip()
    return text + (f", full resync at cron {cron!r}" if cron else ", no scheduled full resync")


def cannot_start_line(reason: str) -> str:
    return f"cannot start: {reason}"


def reload_failed_line(when: str, reason: str) -> str:
    return f"reload failed at {when}, previous configuration kept: {reason}"


def reloaded_line(when: str, schedule: str) -> str:
    return f"configuration reloaded at {when}; {schedule}"


def stopping_line(*, in_flight: bool) -> str:
    return "stopping: letting the run in flight finish its current action" if in_flight else "stopping"


def run_status_line(report: object, kind: str, when: str) -> str:
    """After a run: "last sync ok at …: 1 created, 3 updated" (``kind``: sync or full resync)."""
    if not isinstance(report, RunReportLike):
        return f"last {kind} ok at {when}"
    parts = counts_line(report.counts, empty="no changes")
    errors, conflicts = count_of(report.errors), count_of(report.conflicts)
    outcome = report.outcome
    if outcome == RunOutcome.OK and not errors:
        text = f"last {kind} ok at {when}: {parts}"
    elif outcome in (RunOutcome.OK, RunOutcome.ERRORS):
        text = f"last {kind} at {when}: {parts}; {plural(errors, 'user')} failed (retried next run)"
    else:
        text = f"last {kind} at {when} ended {outcome}: {parts}"
    if conflicts:
        text += f"; {plural(conflicts, 'user')} in conflict"
    return text


def skipped_line(kind: str, when: str) -> str:
    """A run that did not start: another one held the lock."""
    return f"last {kind} skipped at {when}: another run held the lock"


def guard_line(kind: str, when: str, reason: str) -> str:
    return f"last {kind} stopped by a safety guard at {when}: {reason}"


def failed_line(kind: str, when: str, reason: str) -> str:
    return f"last {kind} failed at {when}: {reason}"


def running_line(kind: str, when: str) -> str:
    return f"{kind} running since {when}"
