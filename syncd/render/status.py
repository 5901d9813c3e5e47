"""``syncd status``: the latest runs, the users in error or conflict, and the links."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from syncd.exits import ERROR_AGE, STALE_INTERVALS, CheckCode, Finding
from syncd.ports import RunOutcome, RunSummary
from syncd.render.intake import intake_json, intake_lines
from syncd.render.items import JSON, counts_line, iso, issue_json, pending_json, plural, run_json

if TYPE_CHECKING:
    from syncd.app import Status


def _run_counts(run: RunSummary) -> str:
    """What a run did; "nothing to do" only for a run that got to the end without a failure."""
    if run.outcome is RunOutcome.OK:
        return counts_line(run.counts)
    return counts_line(run.counts, empty="nothing done")


def status_text(status: Status) -> str:
    if not status.exists:
        return "\n".join([f"State store {status.location}: syncd has not run here yet.",
                          *intake_lines(status.intake)])
    lines = [f"State store: {status.location}"]
    s = asdict(status.link_stats)
    detail = ", ".join(f"{n} {k.replace('_', ' on ')}" for k, n in s.items() if k != "total" and n)
    lines.append(f"Links: {s['total']}" + (f" ({detail})" if detail else ""))
    last = status.last_success.isoformat(timespec="seconds") if status.last_success else "never"
    lines.append(f"Last successful run over every user: {last}")
    lines.append("Last runs:")
    if not status.runs:
        lines.append("  none")
    for run in status.runs:
        took = f"{run.duration_seconds:.1f}s" if run.duration_seconds is not None else (
            "still going" if run.outcome is RunOutcome.RUNNING else "never finished")
        one_user = f" (one-user run for {run.user})" if run.user else ""
        lines.append(
            f"  #{run.run_id} {run.started_at.isoformat(timespec='seconds')} {run.outcome.value:<7} "
            f"{run.direction}{' full' if run.full else ''}{one_user}, {took}: {_run_counts(run)}; "
            f"{run.errors} failed, {plural(run.conflicts, 'conflict')}" + (f" — {run.message}" if run.message else "")
        )
    errors = [i for i in status.issues if i.kind == "error"]
    duplicates = [i for i in status.issues if i.kind == "duplicate"]
    conflicts = [i for i in status.issues if i.kind not in ("error", "duplicate")]
    lines.append(f"Users in error: {len(errors)}")
    lines += [f"  {i.key} ({i.side}) since {i.first_seen.isoformat(timespec='seconds')}: {i.message}"
              for i in errors]
    if errors:
        oldest = min(errors, key=lambda i: i.first_seen)
        lines.append(f"Oldest unresolved failure: {oldest.key}, since {oldest.first_seen.isoformat()}")
    lines.append(f"Users in conflict: {len(conflicts)}")
    lines += [f"  {i.key} ({i.side}): {i.message}" for i in conflicts]
    if duplicates:
        lines.append(f"Duplicate emails: {len(duplicates)}")
        lines += [f"  {i.key} ({i.side}): {i.message}" for i in duplicates]
    lines += intake_lines(status.intake)
    return "\n".join(lines)


def status_json(status: Status) -> JSON:
    if not status.exists:
        return {"location": status.location, "runs": [], "open_issues": [], "link_stats": {}, "last_success": None,
                "intake": intake_json(status.intake)}
    oldest = min(status.issues, key=lambda i: i.first_seen, default=None)
    return {
        "location": status.location,
        "schema_revision": status.schema_revision,
        "link_stats": asdict(status.link_stats),
        "pending_creates": [pending_json(side, key, since)
                            for (side, key), since in sorted(status.pending_creates.items())],
        "runs": [run_json(r) for r in status.runs],
        "open_issues": [issue_json(i) for i in status.issues],
        "last_success": iso(status.last_success),
        "oldest_open_issue": None if oldest is None else {
            "key": oldest.key, "side": oldest.side, "kind": oldest.kind, "message": oldest.message,
            "since": oldest.first_seen.isoformat(),
        },
        "intake": intake_json(status.intake),
    }


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return plural(seconds, "second")
    if seconds < 7200:
        return plural(seconds // 60, "minute")
    if seconds < 172800:
        return plural(seconds // 3600, "hour")
    return plural(seconds // 86400, "day")


def check_line(status: Status, code: CheckCode, findings: list[Finding], *, interval_seconds: int,
               now: datetime) -> str:
    """``syncd status --check``: one line for a monitoring system, worst finding first."""
    last = status.last_whole_run
    errors = [i for i in status.issues if i.kind == "error"]
    old = [i for i in errors if now - i.first_seen > ERROR_AGE]
    words = {
        Finding.NEVER: "no run has ever finished here" + (
            "" if status.exists else f" (no state store at {status.location} yet)"),
        Finding.STALE: (f"no successful run for {_ago(status.last_success, now)} "
                        f"(expected every {plural(interval_seconds, 'second')}, "
                        f"critical after {STALE_INTERVALS} intervals)") if status.last_success else "",
        Finding.GUARD: f"the last run (#{last.run_id}) was stopped by the safety guard: "
                       f"{last.message.removeprefix('safety guard: ') or 'see syncd sync --dry-run'}" if last else "",
        Finding.SIDE: f"the last run (#{last.run_id}) failed: {last.message or last.outcome.value} "
                      "(syncd test-connection says what to fix)" if last else "",
        Finding.FAILURES: f"the last run (#{last.run_id}) had {plural(last.errors, 'user')} failing "
                          "(syncd status lists them)" if last else "",
        Finding.OLD_ERROR: f"{plural(len(old), 'user')} in error for over a day"
                           + (f", the oldest {old[0].key} since {old[0].first_seen.isoformat(timespec='seconds')}"
                              if old else ""),
    }
    if code is CheckCode.OK:
        assert status.last_success is not None
        text = (f"last successful run {_ago(status.last_success, now)} ago; "
                f"{plural(len(errors), 'user')} in error")
    else:
        text = "; ".join(words[f] for f in findings)
    return f"SYNCD {code.name} - {text}"


def check_unknown(message: str) -> str:
    """``syncd status --check`` when the state (or the configuration) cannot be read: one line,
    a configuration error's list of problems joined with "; "."""
    head, *items = [line.strip() for line in message.splitlines() if line.strip()]
    problems = [item.removeprefix("- ") for item in items]
    if problems:
        head = f"{head.rstrip(':')}: {'; '.join(problems)}"
    return f"SYNCD UNKNOWN - {head}"
