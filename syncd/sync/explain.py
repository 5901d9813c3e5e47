"""What a run would do for one user, and why (``syncd explain``): pure, read-only.

It plans the whole run (the guard depends on everyone) and keeps what concerns one key.
``syncd.render`` shows the answer (text and JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.model import Link, Record, Side, Snapshot, normalise_email
from syncd.sync.actions import Action, Conflict, Duplicate, Problem, Skip
from syncd.sync.plan import Pending, plan
from syncd.sync.policy import Policy

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True)
class Explanation:
    """One user as both sides and the store hold it, and what a run would do for it.

    ``found`` is False when the email is on neither side nor in a link. ``guard`` is the
    safety guard's message when the run as a whole would trip it.
    """

    key: str
    found: bool
    whmcs: tuple[Record, ...] = ()
    wordpress: tuple[Record, ...] = ()
    links: tuple[Link, ...] = ()
    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    problems: tuple[Problem, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    skips: tuple[Skip, ...] = ()
    guard: str | None = None

    def records(self, side: Side) -> tuple[Record, ...]:
        return self.whmcs if side is Side.WHMCS else self.wordpress


def explain(
    key: str, whmcs: Snapshot, wp: Snapshot, links: Sequence[Link], policy: Policy, pending: Pending | None = None
) -> Explanation:
    """Both sides' records for one user (matched by key), its links, and what a run would do and why.

    Read-only and pure: it plans the whole run (the guard depends on everyone) and keeps
    what concerns this user.
    """
    wanted = normalise_email(key)
    records = {snap.side: tuple(r for r in snap.records if r.key == wanted) for snap in (whmcs, wp)}
    ids = {(s, r.remote_id) for s, rs in records.items() for r in rs}
    mine = tuple(
        link for link in links
        if link.key == wanted or (Side.WHMCS, link.whmcs_id) in ids or (Side.WORDPRESS, link.wp_id) in ids
    )
    for link in mine:
        ids |= {(Side.WHMCS, link.whmcs_id), (Side.WORDPRESS, link.wp_id)}
    result = plan(whmcs, wp, links, policy, pending)
    users = {a.user for a in result.actions if a.key == wanted or a.remote_ids() & ids}
    actions = tuple(a for a in result.actions if a.user in users)
    keys = {wanted} | {a.key for a in actions}
    labels = keys | {r.label() for rs in records.values() for r in rs}
    return Explanation(
        key=wanted,
        found=bool(ids),
        whmcs=records[Side.WHMCS],
        wordpress=records[Side.WORDPRESS],
        links=mine,
        actions=actions,
        conflicts=tuple(c for c in result.conflicts if c.key in keys),
        problems=tuple(p for p in result.problems if p.key in labels),
        duplicates=tuple(d for d in result.duplicates if d.key in keys),
        skips=tuple(s for s in result.skips if s.key in keys),
        guard=result.guard,
    )
