"""One user's part of the world (``syncd sync --user``, ``link``, ``unlink``; DESIGN §3.1, §10).

A one-user run plans with the same planner as any run, fed partial snapshots: the accounts of
that user on both sides (by link first, then by key), only the links involved and only their
pending creates. A partial snapshot says nothing about anyone else, so:

- ``gather`` follows the user from the email (or ids) given: the accounts with that key, the
  links that hold any of them, the accounts those links point at, and their keys in turn, a few
  steps at most (an email change or a swap involves two or three accounts, never the site);
- ``involved`` keeps only the links (and ``pending_of`` the pending creates) of what was read,
  so nobody else's link can look like an account that disappeared;
- ``one_user`` takes every deletion out of the plan: deletions are decided only from complete
  listings, under the guard (DESIGN §10). A linked account missing on one side is reported
  instead ("the next full run decides"); with nothing deleted the guard has nothing to weigh,
  and a side with no account for this user is not "a side that listed nobody".

``protection`` and ``manual_link`` are the rules of ``syncd link``. No IO of its own: the side
adapters are the Protocol of ``syncd.ports``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from syncd import mapping
from syncd.model import Link, Record, Side, Snapshot, normalise_email
from syncd.ports import SideAdapter
from syncd.sync.actions import Deactivate, MarkGone, Skip
from syncd.sync.plan import Plan
from syncd.sync.policy import Policy
from syncd.sync.stages.common import Pending

#: How many emails one user's search may look up per side: a chain of email changes longer than
#: this is settled by the next full run.
MAX_KEYS = 8
#: How many times the search follows links to the accounts they point at, and their keys.
MAX_STEPS = 4


@dataclass(frozen=True)
class Scope:
    """One user's accounts on both sides (partial snapshots), the links involved, and the keys
    that were looked up (``keys``)."""

    whmcs: Snapshot
    wp: Snapshot
    links: tuple[Link, ...]
    keys: frozenset[str]

    @property
    def found(self) -> bool:
        """False when neither side has an account for this user and no link holds it."""
        return bool(self.whmcs.records or self.wp.records or self.links)

    def snapshot(self, side: Side) -> Snapshot:
        return self.whmcs if side is Side.WHMCS else self.wp

    def all_keys(self) -> frozenset[str]:
        """Every key this scope concerns: the ones looked up, its accounts' and its links'."""
        keys = set(self.keys)
        keys |= {r.key for snap in (self.whmcs, self.wp) for r in snap.records}
        keys |= {link.key for link in self.links}
        return frozenset(k for k in keys if k)


def merged(first: Snapshot, second: Snapshot) -> Snapshot:
    """Two partial snapshots of one side as one (an account read twice is kept once)."""
    records = {r.remote_id: r for r in first.records}
    records.update((r.remote_id, r) for r in second.records)
    return Snapshot(side=first.side, records=tuple(records[i] for i in sorted(records)),
                    admin_emails=first.admin_emails | second.admin_emails, fields=second.fields)


def involved(links: Iterable[Link], whmcs: Snapshot, wp: Snapshot, keys: Collection[str],
             ids: Mapping[Side, Collection[int]] | None = None) -> tuple[Link, ...]:
    """The links that hold an account of ``whmcs`` / ``wp`` (or one of ``ids``), or whose agreed
    email is one of ``keys``."""
    held = {side: {r.remote_id for r in snap.records} for side, snap in ((Side.WHMCS, whmcs), (Side.WORDPRESS, wp))}
    for side, more in (ids or {}).items():
        held[side] |= set(more)
    return tuple(
        link for link in links
        if link.whmcs_id in held[Side.WHMCS] or link.wp_id in held[Side.WORDPRESS] or (link.key and link.key in keys)
    )


def pending_of(pending: Pending, keys: Collection[str]) -> Pending:
    """The pending creates of ``keys`` only: the planner forgets a pending create whose account it
    does not see, and a one-user run sees nobody else's."""
    return {(side, key): since for (side, key), since in pending.items() if key in keys}


def gather(whmcs: SideAdapter, wp: SideAdapter, links: Sequence[Link], *, email: str | None = None,
           whmcs_id: int | None = None, wp_id: int | None = None) -> Scope:
    """One user's accounts on both sides and the links involved, from an email and/or ids: by
    link first (the links holding what was found point at the partner, read by id), then by key
    on each side, following what is found a few steps (``MAX_STEPS``, ``MAX_KEYS``)."""
    adapters = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
    snaps = {side: Snapshot(side=side, records=()) for side in adapters}
    first_key = normalise_email(email) if email else ""
    todo_keys = {first_key} if first_key else set()
    todo_ids: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    if whmcs_id is not None:
        todo_ids[Side.WHMCS].add(whmcs_id)
    if wp_id is not None:
        todo_ids[Side.WORDPRESS].add(wp_id)
    given = {side: set(ids) for side, ids in todo_ids.items()}
    looked: set[str] = set()
    read: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    mine: tuple[Link, ...] = ()
    for step in range(MAX_STEPS):
        if step and not todo_keys and not any(todo_ids.values()):
            break
        for side, adapter in adapters.items():
            # The first step asks both sides even with nothing to ask one of them: WHMCS's lookup
            # also brings the admins' emails, which protect this user's accounts on both sides.
            if step == 0 or todo_keys or todo_ids[side]:
                snaps[side] = merged(snaps[side], adapter.lookup(sorted(todo_keys), sorted(todo_ids[side])))
            read[side] |= todo_ids[side]
        looked |= todo_keys
        mine = involved(links, snaps[Side.WHMCS], snaps[Side.WORDPRESS], looked, given)
        have = {side: {r.remote_id for r in snaps[side].records} | read[side] for side in adapters}
        todo_ids = {Side.WHMCS: {link.whmcs_id for link in mine} - have[Side.WHMCS],
                    Side.WORDPRESS: {link.wp_id for link in mine} - have[Side.WORDPRESS]}
        found_keys = {r.key for snap in snaps.values() for r in snap.records} | {link.key for link in mine}
        todo_keys = set(sorted(k for k in found_keys - looked if k)[: max(0, MAX_KEYS - len(looked))])
    return Scope(whmcs=snaps[Side.WHMCS], wp=snaps[Side.WORDPRESS], links=mine, keys=frozenset(looked))


@dataclass(frozen=True)
class LeftToFullRun(Skip):
    """A deletion a one-user run saw and left to the next full run (its ``reason`` says which)."""


def left_to_full_run(plan: Plan) -> tuple[str, ...]:
    """What a one-user plan left to the next full run, in words."""
    return tuple(skip.reason for skip in plan.skips if isinstance(skip, LeftToFullRun))


def one_user(plan: Plan) -> tuple[Plan, tuple[str, ...]]:
    """The plan of a one-user run: every deletion taken out (each said in a note instead, and
    kept as a skip), no guard (nothing is deleted), deletions 0."""
    kept = []
    notes: list[str] = []
    skips: list[LeftToFullRun] = []
    for action in plan.actions:
        if isinstance(action, Deactivate | MarkGone):
            sides = action.gone if isinstance(action, Deactivate) else action.sides
            where = " and ".join(f"{s.display} ({s.account} #{action.link.remote_id(s)})" for s in sorted(sides))
            note = (f"{action.key}: gone from {where}; a one-user run deactivates nobody and marks nothing gone: "
                    "the next full run decides")
            notes.append(note)
            skips.append(LeftToFullRun(action.key, note))
        else:
            kept.append(action)
    return replace(plan, actions=tuple(kept), skips=plan.skips + tuple(skips), deletions=0, guard=None), tuple(notes)


def protection(record: Record, whmcs: Snapshot, wp: Snapshot, policy: Policy) -> str:
    """Why ``syncd link`` must not pair ``record`` ("" if it may): an admin's or an excluded
    account's email on either side (DESIGN §5.6), an excluded role, no valid email, or a
    Closed client. ``whmcs`` and ``wp`` hold at least the accounts with this record's email."""
    key = record.key
    if record.side is Side.WORDPRESS:
        roles = sorted(policy.exclude_roles.intersection(record.roles))
        if roles:
            return f"it has the excluded role {', '.join(roles)}"
    if not mapping.is_matchable_email(record.email):
        return f"its email {record.email.strip()!r} is not a valid email address"
    if key in whmcs.admin_emails:
        return "its email belongs to a WHMCS admin"
    protected_wp = set(wp.admin_emails) | {r.key for r in wp.records if policy.exclude_roles.intersection(r.roles)}
    if key in protected_wp:
        return ("its email belongs to a protected WordPress account (an administrator, an excluded role, "
                "or the account syncd uses)")
    if record.closed:
        return "it is Closed in WHMCS (a deleted client)"
    return ""


def manual_link(whmcs: Record, wp: Record) -> Link:
    """The link ``syncd link`` saves: the pair, with no agreed values yet (an empty base), so the
    next run settles the two as at first contact (DESIGN §5.4): a field empty on one side gets
    the other's value, differing fields are settled by ``priority`` (the source side's value in a
    one-way direction) — the email too, when the operator paired two different emails."""
    return Link(whmcs_id=whmcs.remote_id, wp_id=wp.remote_id, base={}, owner_user_id=whmcs.owner_user_id)
