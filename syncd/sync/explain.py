"""What a run would do for one user, and why (``syncd explain``): pure, read-only.

It plans the whole run (the guard depends on everyone) and keeps what concerns one key.
``syncd.render`` shows the answer (text and JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.model import Direction, Link, Record, Side, Snapshot, normalise_email
from syncd.sync.actions import Action, Conflict, Create, Duplicate, Problem, Skip, Update
from syncd.sync.fieldview import MappedField, user_field_states
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
    #: The field map as this run sees it (DESIGN §9), and this user's mapped fields: both values
    #: (None: not read), the agreed base and what a run does with each (``fieldview.user_field_states``).
    mapped: tuple[MappedField, ...] = ()
    fields: tuple[dict[str, object], ...] = ()
    direction: Direction = Direction.BOTH

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
        mapped=result.mapped,
        fields=tuple(_field_states(result.mapped, records, mine, actions)),
        direction=policy.direction,
    )


def _field_states(mapped: tuple[MappedField, ...], records: dict[Side, tuple[Record, ...]],
                  links: tuple[Link, ...], actions: tuple[Action, ...]) -> list[dict[str, object]]:
    """This user's mapped fields, read from its first account on each side and its first link."""
    if not mapped:
        return []
    writes: dict[str, Side] = {}
    for action in actions:
        if isinstance(action, Update):
            writes.update(dict.fromkeys(action.changes, action.side))
        elif isinstance(action, Create):
            writes.update({n: action.target for n, v in action.send.items() if v})
    whmcs = records[Side.WHMCS][0].fields if records[Side.WHMCS] else None
    wp = records[Side.WORDPRESS][0].fields if records[Side.WORDPRESS] else None
    base = links[0].base if links else None
    return user_field_states(mapped, whmcs, wp, base, writes)
