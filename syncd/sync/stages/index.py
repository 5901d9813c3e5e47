"""Stage 1, exclude and match (DESIGN §5.1 step 2, §5.6): both listings indexed by remote id and key.

Protected accounts (an excluded WordPress role, an admin's email on either side) and
accounts with no valid email are set aside here, each with its skip or problem, and never
reach a later stage. A key two accounts of one side share is a duplicate: reported once,
and those accounts are left alone. What no link claims goes to the pool, where the
unlinked stage meets partners by key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from syncd import mapping
from syncd.model import Link, Record, Side, Snapshot, normalise_email
from syncd.sync.actions import Duplicate, Problem, Skip
from syncd.sync.policy import Policy
from syncd.sync.stages.common import SIDES


@dataclass(frozen=True, slots=True)
class Index:
    """Both listings, indexed. Per side: ``by_id`` every listed account (the first of an id
    listed twice); ``keys`` the first account of each key (protected and invalid ones aside);
    ``dup`` every account of a key two or more share; ``blocked`` the ids never to touch
    (protected or invalid); ``pool`` the unlinked accounts of keys that are not duplicated."""

    by_id: Mapping[Side, Mapping[int, Record]]
    keys: Mapping[Side, Mapping[str, Record]]
    dup: Mapping[Side, Mapping[str, Sequence[Record]]]
    blocked: Mapping[Side, Set[int]]
    pool: Mapping[Side, Mapping[str, Record]]
    problems: tuple[Problem, ...]
    skips: tuple[Skip, ...]
    duplicates: tuple[Duplicate, ...]

    def holders(self, side: Side, key: str) -> Sequence[Record]:
        """Every account of ``side`` with ``key`` (protected and invalid ones aside)."""
        shared = self.dup[side].get(key)
        if shared is not None:
            return shared
        first = self.keys[side].get(key)
        return () if first is None else (first,)

    def untouchable(self, record: Record) -> bool:
        """Protected, invalid or duplicated: reported by this stage, and left as it is by the others."""
        side = record.side
        return record.remote_id in self.blocked[side] or record.key in self.dup[side]


def _protected_keys(whmcs: Snapshot, wp: Snapshot, policy: Policy) -> dict[str, str]:
    """Keys that belong to an admin on either side, with the reason (DESIGN §5.6)."""
    reasons: dict[str, str] = {}
    for key in wp.admin_emails:
        reasons[key] = "the email belongs to a protected WordPress account (an administrator or excluded role)"
    excluded = policy.exclude_roles
    for record in wp.records:
        if record.roles and not excluded.isdisjoint(record.roles):
            reasons[record.key] = "the email belongs to a WordPress user with an excluded role"
    for key in whmcs.admin_emails:
        reasons[key] = "the email belongs to a WHMCS admin"
    return reasons


def index(whmcs: Snapshot, wp: Snapshot, links: Sequence[Link], policy: Policy) -> Index:
    """Index both listings; set aside protected and invalid accounts, and the keys two accounts
    share on one side; put the unlinked rest in the pool."""
    snapshots = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
    protected = _protected_keys(whmcs, wp, policy)
    excluded = policy.exclude_roles
    valid_email = mapping.is_matchable_email
    transit = "@" + mapping.TRANSIT_DOMAIN
    claimed = {Side.WHMCS: {link.whmcs_id for link in links}, Side.WORDPRESS: {link.wp_id for link in links}}
    problems: list[Problem] = []
    skips: list[Skip] = []
    duplicates: list[Duplicate] = []
    by_ids: dict[Side, dict[int, Record]] = {}
    all_keys: dict[Side, dict[str, Record]] = {}
    dups: dict[Side, dict[str, list[Record]]] = {}
    blocks: dict[Side, set[int]] = {}
    pools: dict[Side, dict[str, Record]] = {}
    for side in SIDES:
        # No list per key: allocating 200,000 small lists makes the garbage collector walk every
        # record several times. The first account of a key is in ``keys``; a list only for a duplicate.
        by_id: dict[int, Record] = {}
        keys: dict[str, Record] = {}
        dup: dict[str, list[Record]] = {}
        blocked: set[int] = set()
        pool: dict[str, Record] = {}
        mine = claimed[side]
        is_wp = side is Side.WORDPRESS
        for record in snapshots[side].records:
            remote_id = record.remote_id
            if remote_id in by_id:
                problems.append(Problem(record.key, side, "id", f"{side.display} listed #{remote_id} "
                                        "twice; the second entry is ignored"))
                continue
            by_id[remote_id] = record
            email = record.email  # read once: record.key would cut it out of the values again
            key = normalise_email(email)
            if is_wp and record.roles and not excluded.isdisjoint(record.roles):
                roles = ", ".join(sorted(excluded.intersection(record.roles)))
                skips.append(Skip(key, f"{record.label()} has the excluded role {roles}; never synchronised"))
                blocked.add(remote_id)
            elif key in protected:
                skips.append(Skip(key, f"{side.account} #{remote_id}: {protected[key]}; never synchronised"))
                blocked.add(remote_id)
            elif not valid_email(email):
                problems.append(Problem(record.label(), side, "email",
                                        f"{email.strip()!r} is not a valid email address; "
                                        f"{side.account} #{remote_id} is not synchronised"))
                blocked.add(remote_id)
            else:
                first = keys.get(key)
                if first is None:
                    keys[key] = record
                    if remote_id not in mine:
                        if not key.endswith(transit):
                            pool[key] = record
                        else:
                            # Parked by syncd while linked users swapped emails, then unlinked by hand:
                            # that address is nobody's, so it is never matched or created elsewhere.
                            skips.append(Skip(key, f"{side.account} #{remote_id} is on a temporary address "
                                                   "syncd gave it while users swapped emails, and is not linked: "
                                                   "it is not matched or created elsewhere (give it its email "
                                                   "back)"))
                else:
                    dup.setdefault(key, [first]).append(record)
        for key in sorted(dup):
            pool.pop(key, None)
            duplicates.append(Duplicate(key, side, tuple(sorted(r.remote_id for r in dup[key]))))
        by_ids[side], all_keys[side], dups[side], blocks[side], pools[side] = by_id, keys, dup, blocked, pool
    return Index(by_id=by_ids, keys=all_keys, dup=dups, blocked=blocks, pool=pools, problems=tuple(problems),
                 skips=tuple(skips), duplicates=tuple(duplicates))
