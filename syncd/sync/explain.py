"""What a run would do for one user, and why (``syncd explain``): pure, read-only.

It plans the whole run (the guard depends on everyone) and keeps what concerns one key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syncd.model import Link, Record, Side, Snapshot, normalise_email
from syncd.sync.actions import JSON
from syncd.sync.plan import Pending, active, plan
from syncd.sync.policy import Policy

__all__ = ["explain", "render_explain"]


def _record_json(record: Record) -> JSON:
    return {
        "side": record.side.value, "remote_id": record.remote_id, "fields": dict(record.fields),
        "status": record.status, "active": active(record), "closed": record.closed, "roles": list(record.roles),
        "username": record.username, "owner_user_id": record.owner_user_id,
    }


def _link_json(link: Link) -> JSON:
    return {
        "whmcs_id": link.whmcs_id, "wp_id": link.wp_id, "base": dict(link.base),
        "owner_user_id": link.owner_user_id, "gone": sorted(s.value for s in link.gone),
        "deactivated": sorted(s.value for s in link.deactivated), "saved_roles": list(link.saved_roles),
        "dummy_fields": sorted(link.dummy_fields),
    }


def explain(
    key: str, whmcs: Snapshot, wp: Snapshot, links: Sequence[Link], policy: Policy, pending: Pending | None = None
) -> JSON:
    """Both sides' records for one user (matched by key), its links, and what a run would do and why.

    Read-only and pure: it plans the whole run (the guard depends on everyone) and keeps
    what concerns this user. ``found`` is False when the email is on neither side nor in a link.
    """
    wanted = normalise_email(key)
    records = {snap.side: [r for r in snap.records if r.key == wanted] for snap in (whmcs, wp)}
    ids = {(s, r.remote_id) for s, rs in records.items() for r in rs}
    mine = [
        link for link in links
        if link.key == wanted or (Side.WHMCS, link.whmcs_id) in ids or (Side.WORDPRESS, link.wp_id) in ids
    ]
    for link in mine:
        ids |= {(Side.WHMCS, link.whmcs_id), (Side.WORDPRESS, link.wp_id)}
    result = plan(whmcs, wp, links, policy, pending)
    users = {a.user for a in result.actions if a.key == wanted or a.remote_ids() & ids}
    actions = [a for a in result.actions if a.user in users]
    keys = {wanted} | {a.key for a in actions}
    labels = keys | {r.label() for rs in records.values() for r in rs}
    out: JSON = {
        "key": wanted,
        "found": bool(ids),
        "whmcs": [_record_json(r) for r in records[Side.WHMCS]],
        "wordpress": [_record_json(r) for r in records[Side.WORDPRESS]],
        "links": [_link_json(link) for link in mine],
        "actions": [a.to_json() for a in actions],
        "conflicts": [c.to_json() for c in result.conflicts if c.key in keys],
        "problems": [p.to_json() for p in result.problems if p.key in labels],
        "duplicates": [d.to_json() for d in result.duplicates if d.key in keys],
        "skips": [s.to_json() for s in result.skips if s.key in keys],
        "guard": result.guard,
    }
    out["verdict"] = _verdict(out)
    return out


def _verdict(info: Mapping[str, Any]) -> str:
    if not info["found"]:
        return f"{info['key']} is on neither side and in no link."
    lines: list[str] = []
    for item in info["actions"]:
        lines.append(f"a run would {item['description']}")
    for item in info["conflicts"]:
        lines.append(f"conflict on {item['field']}: {item['winner']} wins with {item['winning']!r} over "
                     f"{item['losing']!r}")
    for item in info["problems"]:
        lines.append(f"problem on {item['side']}: {item['field']} {item['message']}")
    for item in info["duplicates"]:
        lines.append(f"duplicate: several {item['side']} accounts share this email ({item['remote_ids']}); left alone")
    for item in info["skips"]:
        lines.append(f"left alone: {item['reason']}")
    if not lines:
        lines.append("in sync: a run would do nothing for this user.")
    if info["guard"]:
        lines.append(f"note: the run as a whole would stop: {info['guard']}")
    return "\n".join(lines)


def render_explain(info: Mapping[str, Any]) -> str:
    """``explain()``'s answer as text for a terminal."""
    out = [f"user {info['key']}"]
    for side in ("whmcs", "wordpress"):
        if not info[side]:
            out.append(f"  {side}: no account with this email")
        for record in info[side]:
            fields = ", ".join(f"{k}={v!r}" for k, v in record["fields"].items())
            state = "active" if record["active"] else ("closed" if record["closed"] else "inactive")
            roles = f", roles {','.join(record['roles']) or '(none)'}" if side == "wordpress" else ""
            out.append(f"  {side} #{record['remote_id']} ({state}{roles}): {fields}")
    for link in info["links"]:
        extra = []
        if link["gone"]:
            extra.append(f"gone from {', '.join(link['gone'])}")
        if link["deactivated"]:
            extra.append(f"deactivated by syncd on {', '.join(link['deactivated'])}")
        if link["dummy_fields"]:
            extra.append(f"dummy {', '.join(link['dummy_fields'])}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        out.append(f"  link: WHMCS client #{link['whmcs_id']} ⇄ WordPress user #{link['wp_id']}{tail}")
    out.append(info["verdict"])
    return "\n".join(out)
