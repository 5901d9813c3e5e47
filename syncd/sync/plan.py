"""The decision table of DESIGN §5: two complete listings, the links and a policy in, a plan out.

Pure and deterministic: it never calls a side or the store, and the same inputs give the
same plan. The order of work is the order of §5.1: exclude (§5.6), match (links by remote
id first, then unlinked records by key; duplicate keys are left alone), decide per link
(three-way merge, deletions, returns) and per unlinked record (first contact, creates),
then guard (§5.7). Everything is keyed by dicts, so 100,000 users per side plan in about a
second; a linked user whose values all equal the base costs a few comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from syncd import mapping
from syncd.model import Link, Record, Side, Snapshot, normalise, normalise_email
from syncd.sync import merge
from syncd.sync.actions import (
    Action,
    Conflict,
    Create,
    Deactivate,
    Duplicate,
    ForgetPending,
    LinkPair,
    MarkGone,
    Problem,
    Reactivate,
    Rebase,
    Relink,
    Skip,
    Update,
)
from syncd.sync.merge import FieldOutcome
from syncd.sync.policy import Policy, guard_message

__all__ = [
    "Action", "Conflict", "Create", "Deactivate", "Duplicate", "ForgetPending", "LinkPair", "MarkGone", "Plan",
    "Problem", "Reactivate", "Rebase", "Relink", "Skip", "Update", "active", "plan",
]

SIDES = (Side.WHMCS, Side.WORDPRESS)
_NONE: frozenset[str] = frozenset()
Pending = Mapping[tuple[Side, str], Any]


@dataclass(frozen=True)
class Plan:
    """What one run decided: actions to execute, in order, and report-only items.

    ``guard`` is the safety guard's message when it trips (set even when ``policy.force``
    lets the run through); ``blocked`` says whether the engine must refuse to run it.
    ``deletions`` counts the users it would deactivate or mark gone; ``links`` the links
    it started from.
    """

    actions: tuple[Action, ...]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    duplicates: tuple[Duplicate, ...]
    skips: tuple[Skip, ...]
    fields: tuple[str, ...]
    policy: Policy
    links: int
    deletions: int
    guard: str | None = None

    @property
    def blocked(self) -> bool:
        return self.guard is not None and not self.policy.force

    def counts(self) -> dict[str, int]:
        """Actions by kind (create, update, link, relink, rebase, deactivate, reactivate, mark_gone,
        forget_pending), plus conflicts, problems and duplicates; kinds with none are left out."""
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind] = out.get(action.kind, 0) + 1
        for name, items in (("conflicts", self.conflicts), ("problems", self.problems),
                            ("duplicates", self.duplicates)):
            if items:
                out[name] = len(items)
        return out

    def writes(self) -> int:
        """How many actions write to a side (the rest only change the state store)."""
        return sum(1 for a in self.actions if a.side is not None)

    def describe(self) -> list[str]:
        """Every action in plain words, then the conflicts, problems and duplicates."""
        lines = [a.describe() for a in self.actions]
        lines += [c.describe() for c in self.conflicts]
        lines += [p.describe() for p in self.problems]
        lines += [d.describe() for d in self.duplicates]
        if self.guard:
            lines.append(self.guard + (" (overridden by --force)" if self.policy.force else ""))
        return lines


def plan(
    whmcs: Snapshot, wp: Snapshot, links: Sequence[Link], policy: Policy, pending: Pending | None = None
) -> Plan:
    """Decide what a run does (DESIGN §5). ``pending`` holds the (side, key) of creates whose
    outcome is unknown (``StateStore.pending_creates()``). Never raises for bad data: it is
    reported as problems, duplicates and skips. The guard's verdict is ``Plan.guard``."""
    return _Planner(whmcs, wp, links, policy, pending or {}).run()


def _account(record: Record) -> str:
    return f"{record.side.account} #{record.remote_id}"


def active(record: Record) -> bool:
    """Active as syncd sees it: a WordPress user with a role, a WHMCS client neither Inactive nor Closed."""
    if record.side is Side.WORDPRESS:
        return bool(record.roles) and record.active
    return record.active and not record.closed


class _Planner:
    def __init__(self, whmcs: Snapshot, wp: Snapshot, links: Sequence[Link], policy: Policy, pending: Pending):
        self.snap = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
        self.links = sorted(links, key=attrgetter("whmcs_id"))  # the store keeps one link per client
        self.policy = policy
        self.pending = pending
        self.fields = tuple(f for f in policy.fields if f == "email" or (f in whmcs.fields and f in wp.fields))
        self.dummy = {k: v for k, v in policy.dummy_values.items() if k in self.fields}
        self.actions: list[Action] = []
        self.conflicts: list[Conflict] = []
        self.problems: list[Problem] = []
        self.duplicates: list[Duplicate] = []
        self.skips: list[Skip] = []
        self.deletions = 0
        self.users = 0
        self.settled: set[tuple[Side, str]] = set()
        self.by_id: dict[Side, dict[int, Record]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        self.blocked: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
        # The (first) account of each key; every account of a key two or more share, in ``dup``.
        # No list per key: allocating 200,000 small lists makes the garbage collector walk
        # every record several times.
        self.keys: dict[Side, dict[str, Record]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        self.dup: dict[Side, dict[str, list[Record]]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        self.pool: dict[Side, dict[str, Record]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        # Accounts whose email an earlier action of this plan changes: their old key is free by
        # the time the creates (which come last) run.
        self.vacating: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}

    # -- 1. exclude and index ---------------------------------------------------------------

    def _protected_keys(self) -> dict[str, str]:
        """Keys that belong to an admin on either side, with the reason (DESIGN §5.6)."""
        reasons: dict[str, str] = {}
        for key in self.snap[Side.WORDPRESS].admin_emails:
            reasons[key] = "the email belongs to a protected WordPress account (an administrator or excluded role)"
        excluded = self.policy.exclude_roles
        for record in self.snap[Side.WORDPRESS].records:
            if record.roles and not excluded.isdisjoint(record.roles):
                reasons[record.key] = "the email belongs to a WordPress user with an excluded role"
        for key in self.snap[Side.WHMCS].admin_emails:
            reasons[key] = "the email belongs to a WHMCS admin"
        return reasons

    def _index(self) -> None:
        """Index both listings by remote id and key; set aside protected and invalid accounts,
        and the keys two accounts share on one side; put the unlinked rest in the pools."""
        protected = self._protected_keys()
        excluded = self.policy.exclude_roles
        valid_email = mapping.is_matchable_email
        claimed = {
            Side.WHMCS: {link.whmcs_id for link in self.links},
            Side.WORDPRESS: {link.wp_id for link in self.links},
        }
        for side in SIDES:
            by_id = self.by_id[side]
            keys = self.keys[side]
            blocked = self.blocked[side]
            pool = self.pool[side]
            mine = claimed[side]
            is_wp = side is Side.WORDPRESS
            for record in self.snap[side].records:
                remote_id = record.remote_id
                if remote_id in by_id:
                    self.problems.append(Problem(record.key, side, "id", f"{side.display} listed #{remote_id} "
                                                 "twice; the second entry is ignored"))
                    continue
                by_id[remote_id] = record
                key = record.key
                if is_wp and record.roles and not excluded.isdisjoint(record.roles):
                    roles = ", ".join(sorted(excluded.intersection(record.roles)))
                    self.skips.append(Skip(key, f"{record.label()} has the excluded role {roles}; never synchronised"))
                    blocked.add(remote_id)
                elif key in protected:
                    self.skips.append(Skip(key, f"{side.account} #{remote_id}: {protected[key]}; never synchronised"))
                    blocked.add(remote_id)
                elif not valid_email(record.email):
                    self.problems.append(Problem(record.label(), side, "email",
                                                 f"{record.email.strip()!r} is not a valid email address; "
                                                 f"{side.account} #{remote_id} is not synchronised"))
                    blocked.add(remote_id)
                else:
                    first = keys.get(key)
                    if first is None:
                        keys[key] = record
                        if remote_id not in mine:
                            pool[key] = record
                    else:
                        self.dup[side].setdefault(key, [first]).append(record)
            for key in sorted(self.dup[side]):
                pool.pop(key, None)
                self.duplicates.append(Duplicate(key, side, tuple(sorted(r.remote_id for r in self.dup[side][key]))))

    def _holders(self, side: Side, key: str) -> list[Record]:
        """Every account of ``side`` with ``key`` (protected and invalid ones aside)."""
        if key in self.dup[side]:
            return self.dup[side][key]
        first = self.keys[side].get(key)
        return [] if first is None else [first]

    # -- helpers ---------------------------------------------------------------------------

    def _user(self) -> int:
        self.users += 1
        return self.users

    def _is_dummy(self, name: str, value: str) -> bool:
        return name in self.dummy and mapping.is_dummy(name, value, self.dummy)

    @staticmethod
    def _as_wp_keeps(name: str, wp_value: str, *sources: str | None) -> str:
        """WordPress rewrites some names as it stores them (``mapping.as_stored``: tags stripped,
        spaces collapsed, …). A WordPress value that is what WordPress made of a source value
        stands for that value, so the rewrite never looks like an edit and is never written
        back or rewritten forever."""
        seen = normalise(name, wp_value)
        for source in sources:
            if (source is not None and normalise(name, source) != seen
                    and normalise(name, mapping.as_stored(Side.WORDPRESS, name, source)) == seen):
                return source
        return wp_value

    def _validated(self, key: str, side: Side, values: dict[str, str]) -> dict[str, str]:
        """``values`` without the fields ``side`` would refuse; each refusal reported as a problem."""
        for name, message in mapping.problems(side, values):
            self.problems.append(Problem(key, side, name, f"{message}; not written to {side.display}"))
            values.pop(name, None)
        return values

    def _email_taken(self, key: str, record: Record, email: str) -> bool:
        """True (and reported) if another account on ``record``'s side already has ``email``: the
        side would refuse the write, and two accounts with one key are never made by sync."""
        side = record.side
        holders = [r for r in self._holders(side, normalise_email(email))
                   if r.remote_id != record.remote_id and r.remote_id not in self.vacating[side]]
        if holders:
            ids = ", ".join(f"#{r.remote_id}" for r in holders)
            self.problems.append(Problem(key, side, "email", f"cannot become {email.strip()!r} on "
                                         f"{_account(record)}: {side.account} {ids} already has that email; "
                                         "the email is left as it is until one of them changes"))
        return bool(holders)

    def _settle(
        self, key: str, whmcs: Record, wp: Record, outcomes: Sequence[FieldOutcome], dummy_now: set[str],
        *, first_contact: bool,
    ) -> tuple[dict[str, str], dict[Side, dict[str, tuple[str, str]]], dict[Side, dict[str, str]], set[str], set[str]]:
        """Turn field outcomes into: base values to record now, writes per side (field → (before,
        after)), the base each write sets on success, and the dummy fields each WHMCS write adds
        and drops. ``dummy_now``: fields whose WHMCS value is an effective dummy."""
        records = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
        base_now: dict[str, str] = {}
        writes: dict[Side, dict[str, tuple[str, str]]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        base_on: dict[Side, dict[str, str]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
        dummy_add: set[str] = set()
        dummy_drop: set[str] = set()
        for outcome in outcomes:
            name = outcome.name
            target = outcome.write
            if target is None:
                base_now[name] = outcome.value
                continue
            before = records[target].fields.get(name, "")
            sent = outcome.value
            filled = False
            if target is Side.WHMCS and name in self.dummy and not sent.strip():
                sent, filled = self.dummy[name], True
            if normalise(name, before) == normalise(name, sent):
                # The side already holds it (e.g. the dummy is there already): only the base moves.
                base_now[name] = outcome.value
                continue
            if not self._validated(key, target, {name: sent}):
                continue
            if name == "email" and self._email_taken(key, records[target], sent):
                continue
            if first_contact:
                # A new link records the target's current value as the base until the write
                # succeeds: a failed write is then decided the same way next run, instead of
                # the target's old value being taken for an edit made there.
                base_now[name] = before
            writes[target][name] = (before, sent)
            base_on[target][name] = outcome.value
            if target is Side.WHMCS:
                (dummy_add if filled else dummy_drop).add(name)
            if outcome.winner is not None:
                self.conflicts.append(Conflict(key, name, outcome.winner, outcome.value, outcome.losing,
                                               first_contact=first_contact))
        return base_now, writes, base_on, dummy_add, dummy_drop

    def _updates(
        self, user: int, key: str, whmcs: Record, wp: Record, link: Link,
        writes: dict[Side, dict[str, tuple[str, str]]], base_on: dict[Side, dict[str, str]],
        dummy_add: set[str], dummy_drop: set[str],
    ) -> None:
        for side in SIDES:
            if not writes[side]:
                continue
            record, other = (whmcs, wp) if side is Side.WHMCS else (wp, whmcs)
            if "email" in writes[side] and normalise_email(writes[side]["email"][1]) != record.key:
                self.vacating[side].add(record.remote_id)
            self.actions.append(Update(
                user=user, key=key, record=record, other=other, changes=writes[side], base=base_on[side], link=link,
                dummy_add=frozenset(dummy_add) if side is Side.WHMCS else frozenset(),
                dummy_drop=frozenset(dummy_drop) if side is Side.WHMCS else frozenset(),
            ))

    def _first_contact(
        self, key: str, whmcs: Record, wp: Record
    ) -> tuple[dict[str, str], frozenset[str], dict[Side, dict[str, tuple[str, str]]], dict[Side, dict[str, str]],
               set[str], set[str]]:
        """Settle two accounts meeting with no base: the base and dummy fields to link with, and the writes."""
        policy = self.policy
        outcomes = []
        dummy_now: set[str] = set()
        wf, pf = whmcs.fields, wp.fields
        for name in self.fields:
            wv = wf.get(name, "")
            is_dummy = name in self.dummy and self._is_dummy(name, wv)
            if is_dummy:
                dummy_now.add(name)
            elif wv == pf.get(name, ""):
                outcomes.append(FieldOutcome(name, wv))  # the same value as it is: nothing to settle
                continue
            outcomes.append(merge.first_contact_field(
                name, wv, self._as_wp_keeps(name, wp.fields.get(name, ""), wv), direction=policy.direction,
                priority=policy.priority, whmcs_dummy=is_dummy,
            ))
        base, writes, base_on, add, drop = self._settle(key, whmcs, wp, outcomes, dummy_now, first_contact=True)
        return base, frozenset(dummy_now) if dummy_now else _NONE, writes, base_on, add, drop

    # -- 2. linked users -------------------------------------------------------------------

    def _link(self, link: Link) -> None:
        whmcs = self.by_id[Side.WHMCS].get(link.whmcs_id)
        wp = self.by_id[Side.WORDPRESS].get(link.wp_id)
        for record in (whmcs, wp):
            if record is not None and (record.remote_id in self.blocked[record.side]
                                       or record.key in self.dup[record.side]):
                # Protected, invalid or duplicated: already reported; the link is left as it is.
                return
        w_live = whmcs is not None and not whmcs.closed
        if w_live and wp is not None and not link.gone:
            assert whmcs is not None
            self._linked(link, whmcs, wp)
            return
        current: dict[Side, Record | None] = {Side.WHMCS: whmcs if w_live else None, Side.WORDPRESS: wp}
        back: set[Side] = set()
        for side in SIDES:
            if current[side] is not None and side in link.gone:
                back.add(side)  # the same account is back (a Closed WHMCS client made active again)
        listed: dict[Side, Record | None] = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
        returning: dict[Side, tuple[str, Record]] = {}
        for side in SIDES:
            # Someone must still be there to come back to (a Closed client counts: its account
            # is still listed): two new accounts where both old ones left are two new people,
            # met by first contact, and the old link stays, gone from both.
            if current[side] is None and listed[side.other] is not None:
                found = self._returning(side, link, listed[side.other])
                if found is not None:
                    returning[side] = found
        if len(returning) + sum(1 for r in current.values() if r is not None) == 2:
            # Both sides are there again: re-link, taking the returning accounts out of the pool.
            for side, (pool_key, record) in returning.items():
                del self.pool[side][pool_key]
                current[side] = record
                back.add(side)
            cw, cp = current[Side.WHMCS], current[Side.WORDPRESS]
            assert cw is not None and cp is not None
            self._relink(link, cw, cp, frozenset(back))
        elif Side.WORDPRESS in returning and whmcs is not None and whmcs.closed:
            # The WordPress user is back while the client is Closed: linked again, gone from
            # WHMCS, nothing copied (as at first contact with a Closed client).
            pool_key, record = returning[Side.WORDPRESS]
            del self.pool[Side.WORDPRESS][pool_key]
            base = {n: record.fields.get(n, "") for n in self.fields}
            self.actions.append(Relink(user=self._user(), key=record.key, link=link, whmcs=whmcs, wp=record,
                                       back=frozenset({Side.WORDPRESS}), base=base,
                                       still_gone=frozenset({Side.WHMCS})))
        else:
            # A returning account whose partner is gone too is left to first contact or creation.
            self._gone(link, current, frozenset(back & link.gone))

    def _returning(self, side: Side, link: Link, survivor: Record | None) -> tuple[str, Record] | None:
        """An unlinked account on ``side`` with the user's key: the user came back (DESIGN §5.7)."""
        pool = self.pool[side]
        for key in (survivor.key if survivor is not None else None, link.key):
            if not key:
                continue
            record = pool.get(key)
            if record is None or record.closed:
                continue
            others = [r for r in self._holders(side.other, key) if survivor is None or r is not survivor]
            if others:
                continue  # that account has its own partner on the survivor's side: a first contact, not a return
            return key, record
        return None

    def _linked(self, link: Link, whmcs: Record, wp: Record) -> None:
        """A live link with something to settle (``_all_links`` has set aside the unchanged ones)."""
        base = link.base
        wf, pf = whmcs.fields, wp.fields
        policy = self.policy
        outcomes: list[FieldOutcome] = []
        dummy_now: set[str] = set()
        stale_dummy: set[str] = set()
        for name in self.fields:
            wv = wf.get(name, "")
            value = base.get(name)
            pv = self._as_wp_keeps(name, pf.get(name, ""), wv, value)
            if value is None:  # a common field added since the link was made
                is_dummy = self._is_dummy(name, wv)
                outcome: FieldOutcome | None = merge.first_contact_field(
                    name, wv, pv, direction=policy.direction, priority=policy.priority, whmcs_dummy=is_dummy)
            else:
                is_dummy = name in link.dummy_fields and self._is_dummy(name, wv)
                outcome = merge.merge_field(name, value, wv, pv, direction=policy.direction, priority=policy.priority,
                                            whmcs_dummy=is_dummy)
            if is_dummy:
                dummy_now.add(name)
            elif name in link.dummy_fields:
                stale_dummy.add(name)
            if outcome is not None:
                outcomes.append(outcome)
        # The user's key for logs and issues: the email both sides will agree on.
        email = next((o.value for o in outcomes if o.name == "email"), base.get("email", whmcs.email))
        key = normalise_email(email)
        base_now, writes, base_on, dummy_add, dummy_drop = self._settle(
            key, whmcs, wp, outcomes, dummy_now, first_contact=False)
        rebase = {k: v for k, v in base_now.items() if base.get(k) != v}
        stale_dummy -= dummy_add | dummy_drop
        user = self._user()
        current = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
        reactivate, deactivated_drop = self._reactivations(user, key, link, current)
        if rebase or stale_dummy or deactivated_drop:
            self.actions.append(Rebase(user=user, key=key, link=link, base=rebase, dummy_drop=frozenset(stale_dummy),
                                       deactivated_drop=deactivated_drop))
        self.actions.extend(reactivate)
        self._updates(user, key, whmcs, wp, link, writes, base_on, dummy_add, dummy_drop)

    def _reactivations(
        self, user: int, key: str, link: Link, current: Mapping[Side, Record]
    ) -> tuple[list[Reactivate], frozenset[Side]]:
        """Survivors syncd deactivated whose partner is back: re-activate them, or just forget the
        flag if someone already did. A side the direction may not write to waits for a run that may."""
        actions: list[Reactivate] = []
        drop: set[Side] = set()
        for side in sorted(link.deactivated):
            record = current[side]
            if active(record):
                drop.add(side)
            elif self.policy.may_write(side):
                roles: tuple[str, ...] = ()
                if side is Side.WORDPRESS:
                    roles = tuple(link.saved_roles) or (self.policy.new_user_role,)
                actions.append(Reactivate(user=user, key=key, record=record, link=link, roles=roles))
            else:
                self.skips.append(Skip(key, f"re-activating {record.side.account} #{record.remote_id} waits "
                                            f"for a run that may write to {side.display}"))
        return actions, frozenset(drop)

    def _relink(self, link: Link, whmcs: Record, wp: Record, back: frozenset[Side]) -> None:
        key = whmcs.key
        user = self._user()
        base, dummy, writes, base_on, add, drop = self._first_contact(key, whmcs, wp)
        current = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
        reactivate, deactivated_drop = self._reactivations(user, key, link, current)
        relink = Relink(user=user, key=key, link=link, whmcs=whmcs, wp=wp, back=back, base=base, dummy_fields=dummy,
                        deactivated_drop=deactivated_drop)
        self.actions.append(relink)
        after = relink.link_after(link, None)
        self.actions.extend(reactivate)
        self._updates(user, key, whmcs, wp, after, writes, base_on, add, drop)

    def _gone(self, link: Link, current: Mapping[Side, Record | None], back: frozenset[Side]) -> None:
        """Deletions (DESIGN §5.7): the user is missing, or Closed, on one side or both."""
        missing = frozenset(s for s in SIDES if current[s] is None)
        survivor = next((r for r in current.values() if r is not None), None)
        key = survivor.key if survivor is not None else link.key
        new = missing - link.gone
        if not new:
            if back:
                self.actions.append(Rebase(user=self._user(), key=key, link=link, gone_drop=back))
            else:
                self.skips.append(Skip(key, f"gone from {' and '.join(s.display for s in sorted(missing))} already"))
            return
        source = self.policy.source
        acted = new if source is None else new & {source}
        if not acted:
            self.skips.append(Skip(key, f"gone from {' and '.join(s.display for s in sorted(new))}, but a "
                                        f"{self.policy.direction.value} run acts only on deletions in {source}"))
            return
        self.deletions += 1
        user = self._user()
        if (self.policy.on_delete == "deactivate" and survivor is not None and active(survivor)
                and self.policy.may_write(survivor.side)):
            self.actions.append(Deactivate(user=user, key=key, record=survivor, link=link, gone=acted, gone_drop=back))
        else:
            self.actions.append(MarkGone(user=user, key=key, link=link, sides=acted, survivor=survivor,
                                         gone_drop=back))

    # -- 3. unlinked users -----------------------------------------------------------------

    def _unlinked(self) -> None:
        wp_pool = self.pool[Side.WORDPRESS]
        for key, whmcs in self.pool[Side.WHMCS].items():
            wp = wp_pool.pop(key, None)
            if wp is not None:
                self._link_pair(key, whmcs, wp)
            else:
                self._maybe_create(key, whmcs)
        for key, wp in wp_pool.items():
            self._maybe_create(key, wp)

    def _link_pair(self, key: str, whmcs: Record, wp: Record) -> None:
        user = self._user()
        settles = next((s for s in SIDES if (s, key) in self.pending), None)
        if settles is not None:
            self.settled.add((settles, key))
        if whmcs.closed:
            # A Closed client is linked (DESIGN §5.8) but counts as gone: nothing is copied.
            base = {n: wp.fields.get(n, "") for n in self.fields}
            self.actions.append(LinkPair(user=user, key=key, whmcs=whmcs, wp=wp, base=base,
                                         gone=frozenset({Side.WHMCS}), settles=settles))
            return
        base, dummy, writes, base_on, add, drop = self._first_contact(key, whmcs, wp)
        pair = LinkPair(user=user, key=key, whmcs=whmcs, wp=wp, base=base, dummy_fields=dummy, settles=settles)
        self.actions.append(pair)
        if writes[Side.WHMCS] or writes[Side.WORDPRESS]:
            self._updates(user, key, whmcs, wp, pair.link_after(None, None), writes, base_on, add, drop)

    def _maybe_create(self, key: str, record: Record) -> None:
        side = record.side
        target = side.other
        if not self.policy.may_write(target):
            self.skips.append(Skip(key, f"only on {side.display}; a {self.policy.direction.value} run creates no "
                                        f"{target.account}s"))
            return
        if side is Side.WHMCS and not active(record):
            self.skips.append(Skip(key, f"WHMCS client #{record.remote_id} is {record.status or 'not Active'}; "
                                        "only Active clients are created in WordPress"))
            return
        if side is Side.WORDPRESS and not record.roles:
            self.skips.append(Skip(key, f"WordPress user #{record.remote_id} has no role; such users are not "
                                        "created in WHMCS"))
            return
        if key in self.dup[target]:
            self.skips.append(Skip(key, f"several {target.account}s have this email; nothing is created"))
            return
        taken = [r for r in self._holders(target, key) if r.remote_id not in self.vacating[target]]
        if taken:
            ids = ", ".join(f"#{r.remote_id}" for r in taken)
            self.problems.append(Problem(key, target, "email", f"is already used by {target.account} {ids}, which is "
                                         f"linked to another account; {side.account} #{record.remote_id} is not "
                                         "created there"))
            return
        send = {name: record.fields.get(name, "") for name in self.fields}
        base = dict(send)
        dummy: frozenset[str] = frozenset()
        if target is Side.WHMCS:
            send, dummy = mapping.fill_dummies(send, self.dummy)
        if len(self._validated(key, target, send)) != len(base):
            return  # a refused field: the account would be incomplete, so it is not created
        pending = (target, key) in self.pending
        if pending:
            self.settled.add((target, key))
        self.actions.append(Create(user=self._user(), key=key, target=target, source=record, send=send, base=base,
                                   dummy_fields=dummy, pending=pending))

    def _forget_pending(self) -> None:
        for side, key in sorted(self.pending, key=lambda sk: (sk[0].value, sk[1])):
            if (side, key) not in self.settled:
                self.actions.append(ForgetPending(user=self._user(), key=key, target=side))

    # -- 4. guard --------------------------------------------------------------------------

    def _all_links(self) -> dict[Side, int]:
        """Decide for every link; return how many links are not gone on each side (for the guard)."""
        by_w, by_p = self.by_id[Side.WHMCS], self.by_id[Side.WORDPRESS]
        fields = self.fields
        gone_w = gone_p = 0
        changed: list[Link] = []
        for link in self.links:
            gone = link.gone
            if gone:
                gone_w += Side.WHMCS in gone
                gone_p += Side.WORDPRESS in gone
            else:
                whmcs = by_w.get(link.whmcs_id)
                wp = by_p.get(link.wp_id)
                if whmcs is not None and wp is not None and not link.deactivated and not whmcs.closed:
                    # The common case, first and cheap: nothing changed on either side since the
                    # last sync (values as they are equal to the base). Nothing to do, whoever it is.
                    base, wf, pf = link.base, whmcs.fields, wp.fields
                    for name in fields:
                        value = base.get(name)
                        if value is None or wf.get(name, "") != value or pf.get(name, "") != value:
                            break
                    else:
                        continue
            changed.append(link)
        # Users taking an email another account holds now go last: that account may give it up
        # in this same run (its Update, planned first, then runs first). A stable sort: the
        # order is otherwise the links' own.
        for link in sorted(changed, key=self._takes_a_held_email):
            self._link(link)
        return {Side.WHMCS: len(self.links) - gone_w, Side.WORDPRESS: len(self.links) - gone_p}

    def _takes_a_held_email(self, link: Link) -> bool:
        """True if this run would give one of the link's accounts an email another account on
        that side has now (a cheap look at the email field alone; ``_linked`` decides for real)."""
        whmcs = self.by_id[Side.WHMCS].get(link.whmcs_id)
        wp = self.by_id[Side.WORDPRESS].get(link.wp_id)
        base = link.base.get("email")
        if whmcs is None or wp is None or link.gone or base is None:
            return False
        outcome = merge.merge_field("email", base, whmcs.email, wp.email, direction=self.policy.direction,
                                    priority=self.policy.priority)
        if outcome is None or outcome.write is None:
            return False
        target = whmcs if outcome.write is Side.WHMCS else wp
        wanted = normalise_email(outcome.value)
        return wanted != target.key and any(r is not target for r in self._holders(target.side, wanted))

    def run(self) -> Plan:
        self._index()
        live = self._all_links()
        self._unlinked()
        self._forget_pending()
        empty = [s for s in SIDES if not self.snap[s].records]
        guard = guard_message(deletions=self.deletions, links=len(self.links), live_links=live, empty_sides=empty,
                              policy=self.policy)
        return Plan(
            actions=tuple(self.actions), conflicts=tuple(self.conflicts), problems=tuple(self.problems),
            duplicates=tuple(self.duplicates), skips=tuple(self.skips), fields=self.fields, policy=self.policy,
            links=len(self.links), deletions=self.deletions, guard=guard,
        )
