"""``syncd sync``: the dry run's plan and the run report, as text and as one JSON object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from syncd.ports import RunOutcome
from syncd.render.fields import action_json, action_line, conflict_line, mapped_lines, problem_line
from syncd.render.items import JSON, counts_line, plural
from syncd.sync.engine import RunReport
from syncd.sync.fieldview import MappedField
from syncd.sync.plan import Plan
from syncd.sync.stages.guard import STOPPED

if TYPE_CHECKING:
    from syncd.app import SyncResult


def unlinked_start_notice(plan: Plan, store: str) -> str | None:
    """What to say when a run starts from an empty state store while both sides have users."""
    if not plan.unlinked_start:
        return None
    where = f" ({store})" if store else ""
    return (
        f"The state store{where} holds no link yet, and both sides have users: everyone on both sides is "
        "matched by email at first contact. That is expected the first time syncd runs here. If it has run "
        "here before, the state store was lost or [sync] state_url points at the wrong place: stop, and "
        "check state_url before a real run."
    )


def plan_text(plan: Plan, store: str = "") -> str:
    """The dry run: every planned action in plain words, then what the run would only report."""
    p = plan.policy
    lines = [
        f"Dry run (direction {p.direction.value}, priority {p.priority.value}, on_delete {p.on_delete}): "
        f"{plural(len(plan.actions), 'planned action')}, nothing written.",
    ]
    notice = unlinked_start_notice(plan, store)
    if notice:
        lines.append(f"  note: {notice}")
    mapped = plan.mapped
    lines += [f"  {line}" for line in mapped_lines(mapped, plan.unread)]
    lines += [f"  would {action_line(a, plan.actions, plan.conflicts, mapped, p.direction)}" for a in plan.actions]
    lines += [f"  conflict: {conflict_line(c, mapped)}" for c in plan.conflicts]
    lines += [f"  problem: {problem_line(pr, mapped)}" for pr in plan.problems]
    lines += [f"  duplicate: {d.describe()}" for d in plan.duplicates]
    if plan.guard:
        lines.append("  " + _guard_would(plan.guard, forced=p.force))
    return "\n".join(lines)


def _guard_would(guard: str, *, forced: bool) -> str:
    """The guard's verdict as a dry run says it: the run *would* stop (or, with --force, would be let through)."""
    if forced:
        without = "a run without --force would stop before writing anything"
        return "(--force would let it through) " + guard.replace(STOPPED, without)
    return guard.replace(STOPPED, "a real run would stop here, before writing anything")


def plan_json(plan: Plan) -> JSON:
    """The plan as one JSON object: per user, its actions with per-field before → after."""
    users: dict[int, JSON] = {}
    mapped = plan.mapped
    for action in plan.actions:
        entry = users.setdefault(action.user, {"key": action.key, "actions": []})
        entry["actions"].append(action_json(action, plan.actions, plan.conflicts, mapped, plan.policy.direction))
    return {
        "dry_run": True,
        "direction": plan.policy.direction.value,
        "priority": plan.policy.priority.value,
        "on_delete": plan.policy.on_delete,
        "full": plan.policy.full,
        "force": plan.policy.force,
        "fields": list(plan.fields),
        "links": plan.links,
        "deletions": plan.deletions,
        "guard": plan.guard,
        "blocked": plan.blocked,
        "counts": plan.counts(),
        "users": list(users.values()),
        "conflicts": [c.to_json() for c in plan.conflicts],
        "problems": [p.to_json() for p in plan.problems],
        "duplicates": [d.to_json() for d in plan.duplicates],
        "skips": [s.to_json() for s in plan.skips],
        "unlinked_start": plan.unlinked_start,
        "mapped_fields": [f.to_json() for f in mapped],
        "mapped_not_read": {"whmcs": plan.unread[0], "wordpress": plan.unread[1]},
    }


def report_text(report: RunReport, mapped: Sequence[MappedField] = ()) -> str:
    """The run report: one line of counts, then each failure, problem, conflict and duplicate
    (a mapped field by its label, ``mapped``: the plan's field map), and the mapped fields the
    run could not carry."""
    head = (
        f"Run {report.run_id} {report.outcome}: {counts_line(report.counts)}; "
        f"{report.failed_users} failed, {plural(len(report.conflicts), 'conflict')}, "
        f"{plural(len(report.duplicates), 'duplicate email')}, in {report.duration_seconds:.1f}s."
    )
    lines = [head]
    lines += [f"  failed: {e.key} ({e.side}): {e.message}" for e in report.errors]
    lines += [f"  problem: {problem_line(p, mapped)}" for p in report.problems]
    lines += [f"  conflict: {conflict_line(c, mapped)}" for c in report.conflicts]
    lines += [f"  {f.describe()}" for f in mapped if f.blocked is not None]
    lines += [f"  duplicate: {d.describe()}" for d in report.duplicates]
    if report.message and not report.outcome.completed:
        lines.append(f"  {report.message}")
    return "\n".join(lines)


def report_json(report: RunReport) -> JSON:
    return {
        "run_id": report.run_id,
        "outcome": RunOutcome(report.outcome).value,
        "dry_run": report.dry_run,
        "counts": dict(report.counts),
        "errors": [{"key": e.key, "side": e.side, "message": e.message} for e in report.errors],
        "conflicts": [c.to_json() for c in report.conflicts],
        "problems": [p.to_json() for p in report.problems],
        "duplicates": [d.to_json() for d in report.duplicates],
        "actions_planned": report.planned,
        "actions_done": report.done,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "duration_seconds": round(report.duration_seconds, 3),
        "message": report.message,
    }


def sync_text(result: SyncResult) -> str:
    """What ``syncd sync`` prints: the plan of a dry run, or the report of a run."""
    if result.dry_run or result.report is None:
        return plan_text(result.plan, result.store)
    text = report_text(result.report, result.plan.mapped)
    notice = unlinked_start_notice(result.plan, result.store)
    return f"{text}\n  note: {notice}" if notice else text


def sync_json(result: SyncResult) -> JSON:
    if result.dry_run or result.report is None:
        return plan_json(result.plan)
    return {**report_json(result.report), "unlinked_start": result.plan.unlinked_start,
            "mapped_fields": [f.to_json() for f in result.plan.mapped]}
