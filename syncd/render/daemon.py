"""What systemd shows of the daemon (``STATUS=``) after each scheduled run."""

from __future__ import annotations

from syncd.ports import RunOutcome, RunReportLike, count_of
from syncd.render.items import counts_line, plural


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
