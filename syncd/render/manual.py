"""``syncd sync --user``, ``syncd link`` and ``syncd unlink``: one user's run, a pair made or
forgotten by hand, as text and as one JSON object."""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncd.model import Record, Side
from syncd.render.fields import action_line, conflict_line, problem_line
from syncd.render.items import JSON, link_json, plural, record_json
from syncd.render.run import plan_json, report_json, report_text

if TYPE_CHECKING:
    from syncd.app import ManualResult, UserSyncResult


def user_sync_text(result: UserSyncResult) -> str:
    """The one-user run's report (or its dry run's plan), then what it left to the next full run."""
    if not result.found:
        return (f"{result.user}: no account on either side and in no link; nothing was done "
                "(check the spelling; `syncd explain EMAIL` shows what each side has).")
    if result.dry_run or result.report is None:
        p = result.plan
        lines = [f"Dry run for {result.user} (one user; direction {p.policy.direction.value}, priority "
                 f"{p.policy.priority.value}): {plural(len(p.actions), 'planned action')}, nothing written."]
        mapped = p.mapped
        lines += [f"  would {action_line(a, p.actions, p.conflicts, mapped, p.policy.direction)}" for a in p.actions]
        lines += [f"  conflict: {conflict_line(c, mapped)}" for c in p.conflicts]
        lines += [f"  problem: {problem_line(pr, mapped)}" for pr in p.problems]
        lines += [f"  duplicate: {d.describe()}" for d in p.duplicates]
        if not p.actions and not p.conflicts and not p.problems and not p.duplicates:
            lines.append("  in sync: nothing to do for this user")
    else:
        head, *rest = report_text(result.report, result.plan.mapped).splitlines()
        lines = [head.replace(f"Run {result.report.run_id} ", f"Run {result.report.run_id} (one user, "
                                                              f"{result.user}) ", 1), *rest]
    lines += [f"  left to the next full run: {note}" for note in result.notes]
    return "\n".join(lines)


def user_sync_json(result: UserSyncResult) -> JSON:
    """The run report (or the dry run's plan) of ``sync --user``, with the user's accounts and links."""
    body = plan_json(result.plan) if result.dry_run or result.report is None else report_json(result.report)
    scope = result.scope
    body.update({
        "user": result.user,
        "one_user": True,
        "found": result.found,
        "whmcs": [record_json(r) for r in scope.whmcs.records],
        "wordpress": [record_json(r) for r in scope.wp.records],
        "links": [link_json(link) for link in scope.links],
        "left_to_full_run": list(result.notes),
    })
    return body


def _account(side: Side, record: Record | None, remote_id: int) -> str:
    if record is None:
        return f"{side.account} #{remote_id} (not found on {side.display} now)"
    return f"{side.account} #{remote_id} <{record.email}>"


def manual_text(result: ManualResult) -> str:
    """What ``syncd link`` / ``syncd unlink`` did, and what the next run will do for the two accounts."""
    link = result.link
    pair = (f"{_account(Side.WHMCS, result.whmcs, link.whmcs_id)} and "
            f"{_account(Side.WORDPRESS, result.wp, link.wp_id)}")
    if result.unchanged:
        lines = [f"Already linked together: WHMCS client #{link.whmcs_id} and WordPress user #{link.wp_id}; "
                 "nothing changed."]
    elif result.action == "link":
        lines = [f"Linked {pair} (recorded as #{result.run_id}; nothing was written to either side).",
                 "The next run settles their fields as at first contact: an empty field gets the other side's "
                 "value, differing fields (the email too) take the priority side's value."]
    else:
        lines = [f"Unlinked {pair} (recorded as #{result.run_id}; nothing was written to either side).",
                 "The next run treats them as unlinked: linked again at first contact if their emails match, "
                 "otherwise each one on its own."]
    lines.append("The next run would:")
    lines += [f"  {line}" for line in result.next_run]
    return "\n".join(lines)


def manual_json(result: ManualResult) -> JSON:
    return {
        "action": result.action,
        "changed": not result.unchanged,
        "run_id": result.run_id or None,
        "link": link_json(result.link),
        "whmcs": record_json(result.whmcs) if result.whmcs is not None else None,
        "wordpress": record_json(result.wp) if result.wp is not None else None,
        "next_run": list(result.next_run),
    }
