"""The JSON of the things an operator is shown one by one, and a run's counts in words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncd.model import Link, Record, Side
from syncd.ports import RunSummary, UserIssue
from syncd.sync.plan import active

JSON = dict[str, Any]

#: How each kind of action reads in a count ("3 updated").
COUNT_WORDS = {
    "create": "created", "update": "updated", "link": "linked at first contact", "relink": "re-linked",
    "rebase": "bases refreshed", "deactivate": "deactivated", "reactivate": "re-activated",
    "mark_gone": "marked gone", "forget_pending": "pending creates settled",
    "manual_link": "linked by hand", "manual_unlink": "unlinked by hand",
}


def side_name(side: Side | str) -> str:
    """WHMCS or WordPress."""
    return Side(side).display


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def counts_line(counts: Mapping[str, int], *, empty: str = "nothing to do") -> str:
    """``{"update": 3, "create": 1}`` → "1 created, 3 updated"."""
    parts = [f"{n} {COUNT_WORDS.get(kind, kind)}" for kind, n in sorted(counts.items()) if n]
    return ", ".join(parts) if parts else empty


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def record_json(record: Record) -> JSON:
    return {
        "side": record.side.value, "remote_id": record.remote_id, "fields": dict(record.fields),
        "status": record.status, "active": active(record), "closed": record.closed, "roles": list(record.roles),
        "username": record.username, "owner_user_id": record.owner_user_id,
    }


def link_json(link: Link) -> JSON:
    return {
        "whmcs_id": link.whmcs_id,
        "wp_id": link.wp_id,
        "owner_user_id": link.owner_user_id,
        "key": link.key,
        "base": dict(link.base),
        "digests": dict(link.digests),
        "gone": sorted(s.value for s in link.gone),
        "deactivated": sorted(s.value for s in link.deactivated),
        "saved_roles": list(link.saved_roles),
        "dummy_fields": sorted(link.dummy_fields),
    }


def run_json(run: RunSummary) -> JSON:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "finished_at": iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "direction": run.direction,
        "full": run.full,
        "outcome": run.outcome.value,
        "counts": dict(run.counts),
        "errors": run.errors,
        "conflicts": run.conflicts,
        "message": run.message,
        "user": run.user,  # the key of a one-user run (sync --user), else null
    }


def issue_json(issue: UserIssue) -> JSON:
    return {
        "key": issue.key,
        "side": issue.side,
        "kind": issue.kind,
        "message": issue.message,
        "first_seen": issue.first_seen.isoformat(),
        "last_seen": issue.last_seen.isoformat(),
        "run_id": issue.run_id,
    }


def pending_json(side: Side, key: str, since: datetime) -> JSON:
    return {"side": side.value, "key": key, "since": since.isoformat()}


def failure_json(exc: BaseException, message: str, exit_code: int) -> JSON:
    """``syncd sync --json`` when the run did not return a report (a side or the store failed,
    the guard stopped it, the lock was held, Ctrl-C): its outcome and the message, on stdout."""
    from syncd.errors import GuardTripped, LockHeld

    outcome = "failed"
    if isinstance(exc, GuardTripped):
        outcome = "guard"
    elif isinstance(exc, LockHeld):
        outcome = "locked"
    elif isinstance(exc, KeyboardInterrupt):
        outcome = "interrupted"
    return {"outcome": outcome, "message": message, "exit_code": exit_code, "dry_run": False}
