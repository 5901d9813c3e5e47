"""``syncd status``: the latest runs, the users in error or conflict, and the links."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from syncd.ports import RunOutcome
from syncd.render.items import JSON, counts_line, iso, issue_json, pending_json, run_json

if TYPE_CHECKING:
    from syncd.app import Status


def status_text(status: Status) -> str:
    if not status.exists:
        return f"State store {status.location}: syncd has not run here yet."
    lines = [f"State store: {status.location}"]
    s = asdict(status.link_stats)
    detail = ", ".join(f"{n} {k.replace('_', ' on ')}" for k, n in s.items() if k != "total" and n)
    lines.append(f"Links: {s['total']}" + (f" ({detail})" if detail else ""))
    last = status.last_success.isoformat(timespec="seconds") if status.last_success else "never"
    lines.append(f"Last successful run: {last}")
    lines.append("Last runs:")
    if not status.runs:
        lines.append("  none")
    for run in status.runs:
        took = f"{run.duration_seconds:.1f}s" if run.duration_seconds is not None else (
            "still going" if run.outcome is RunOutcome.RUNNING else "never finished")
        lines.append(
            f"  #{run.run_id} {run.started_at.isoformat(timespec='seconds')} {run.outcome.value:<7} "
            f"{run.direction}{' full' if run.full else ''}, {took}: {counts_line(run.counts)}; "
            f"{run.errors} failed, {run.conflicts} conflicts" + (f" — {run.message}" if run.message else "")
        )
    errors = [i for i in status.issues if i.kind == "error"]
    conflicts = [i for i in status.issues if i.kind != "error"]
    lines.append(f"Users in error: {len(errors)}")
    lines += [f"  {i.key} ({i.side}) since {i.first_seen.isoformat(timespec='seconds')}: {i.message}"
              for i in errors]
    if errors:
        oldest = min(errors, key=lambda i: i.first_seen)
        lines.append(f"Oldest unresolved failure: {oldest.key}, since {oldest.first_seen.isoformat()}")
    lines.append(f"Users in conflict: {len(conflicts)}")
    lines += [f"  {i.key} ({i.side}): {i.message}" for i in conflicts]
    return "\n".join(lines)


def status_json(status: Status) -> JSON:
    if not status.exists:
        return {"location": status.location, "runs": [], "open_issues": [], "link_stats": {}, "last_success": None}
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
    }
