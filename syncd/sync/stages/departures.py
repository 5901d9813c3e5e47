"""Departures and comebacks (DESIGN §5.7): a link whose account is missing, or Closed, on a side.

A user who left is handled by ``on_delete`` (the survivor deactivated, or left as it is), the
link kept and marked gone there, and the missing account never recreated; a one-way run acts
only on deletions in its source. A user who comes back — the same account active again, or
an unlinked account with the user's key on the side it left — is re-linked, its fields
settled as at first contact, and a survivor syncd deactivated is re-activated.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import replace

from syncd.model import Link, Record, Side
from syncd.sync.actions import Action, Deactivate, MarkGone, Rebase, Relink, Skip
from syncd.sync.stages.common import SIDES, Claims, Context, Decision, active
from syncd.sync.stages.fields import first_contact, updates
from syncd.sync.stages.index import Index
from syncd.sync.stages.linked import reactivations

#: Per side, the keys of unlinked accounts an earlier decision took out of the pool.
Adopted = Mapping[Side, Set[str]]


def decide(ctx: Context, index: Index, claims: Claims, adopted: Adopted, link: Link, whmcs: Record | None,
           wp: Record | None, user: int) -> Decision:
    """A link whose user is missing or Closed on at least one side (the links stage has set aside
    protected and duplicated accounts)."""
    w_live = whmcs is not None and not whmcs.closed
    current: dict[Side, Record | None] = {Side.WHMCS: whmcs if w_live else None, Side.WORDPRESS: wp}
    # The same account is back (a Closed WHMCS client made active again).
    back = {side for side in SIDES if current[side] is not None and side in link.gone}
    listed: dict[Side, Record | None] = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
    returning: dict[Side, tuple[str, Record]] = {}
    for side in SIDES:
        # Someone must still be there to come back to (a Closed client counts: its account is
        # still listed): two new accounts where both old ones left are two new people, met by
        # first contact, and the old link stays, gone from both.
        survivor = listed[side.other]
        if current[side] is None and survivor is not None:
            found = _returning(index, adopted, side, link, survivor)
            if found is not None:
                returning[side] = found
    adopts = tuple((side, pool_key) for side, (pool_key, _record) in returning.items())
    if len(returning) + sum(1 for r in current.values() if r is not None) == 2:
        # Both sides are there again: re-link, taking the returning accounts out of the pool.
        frees = []
        for side, (_key, record) in returning.items():
            current[side] = record
            back.add(side)
            old = listed[side]
            if old is not None:
                frees.append(old)  # a Closed client another account takes the place of: unlinked now
        cw, cp = current[Side.WHMCS], current[Side.WORDPRESS]
        assert cw is not None and cp is not None
        return replace(_relink(ctx, index, claims, link, cw, cp, frozenset(back), user, adopts), frees=tuple(frees))
    if Side.WORDPRESS in returning and whmcs is not None and whmcs.closed:
        # The WordPress user is back while the client is Closed: linked again, gone from WHMCS,
        # nothing copied (as at first contact with a Closed client).
        _key, record = returning[Side.WORDPRESS]
        base = {n: record.fields.get(n, "") for n in ctx.fields if n in record.fields or not ctx.optional(n)}
        relink = Relink(user=user, key=record.key, link=link, whmcs=whmcs, wp=record, back=frozenset({Side.WORDPRESS}),
                        base=base, still_gone=frozenset({Side.WHMCS}))
        return Decision(actions=(relink,), users=1, adopts=adopts)
    # A returning account whose partner is gone too is left to first contact or creation.
    return _gone(ctx, link, current, frozenset(back), user)


def _returning(index: Index, adopted: Adopted, side: Side, link: Link, survivor: Record) -> tuple[str, Record] | None:
    """An unlinked account on ``side`` with the user's key: the user came back."""
    pool = index.pool[side]
    taken = adopted[side]
    for key in (survivor.key, link.key):
        if not key or key in taken:
            continue
        record = pool.get(key)
        if record is None or record.closed:
            continue
        if any(r is not survivor for r in index.holders(side.other, key)):
            continue  # that account has its own partner on the survivor's side: a first contact, not a return
        return key, record
    return None


def _relink(ctx: Context, index: Index, claims: Claims, link: Link, whmcs: Record, wp: Record,
            back: frozenset[Side], user: int, adopts: tuple[tuple[Side, str], ...]) -> Decision:
    """Both accounts are there again: point the link at them and settle them as at first contact."""
    key = whmcs.key
    settled = first_contact(ctx, index, claims, key, whmcs, wp)
    reactivate, deactivated_drop, skips = reactivations(ctx, user, key, link, {Side.WHMCS: whmcs, Side.WORDPRESS: wp})
    relink = Relink(user=user, key=key, link=link, whmcs=whmcs, wp=wp, back=back, base=settled.base_now,
                    dummy_fields=settled.dummy_fields, deactivated_drop=deactivated_drop)
    # The updates carry the link as the re-link leaves it: the engine saves each step on it.
    writes = updates(user, key, whmcs, wp, relink.link_after(link, None), settled)
    actions: tuple[Action, ...] = (relink, *reactivate, *writes)
    return Decision(actions=actions, conflicts=settled.conflicts, problems=settled.problems, skips=skips, users=1,
                    adopts=adopts)


def _gone(ctx: Context, link: Link, current: Mapping[Side, Record | None], back: frozenset[Side],
          user: int) -> Decision:
    """Deletions: the user is missing, or Closed, on one side or both."""
    missing = frozenset(s for s in SIDES if current[s] is None)
    survivor = next((r for r in current.values() if r is not None), None)
    key = survivor.key if survivor is not None else link.key
    new = missing - link.gone
    policy = ctx.policy
    if not new:
        if back:
            return Decision(actions=(Rebase(user=user, key=key, link=link, gone_drop=back),), users=1)
        return Decision(skips=(Skip(key, f"gone from {' and '.join(s.display for s in sorted(missing))} already"),))
    source = policy.source
    acted = new if source is None else new & {source}
    if not acted:
        return Decision(skips=(Skip(key, f"gone from {' and '.join(s.display for s in sorted(new))}, but a "
                                         f"{policy.direction.value} run acts only on deletions in {source}"),))
    action: Action
    if (policy.on_delete == "deactivate" and survivor is not None and active(survivor)
            and policy.may_write(survivor.side)):
        action = Deactivate(user=user, key=key, record=survivor, link=link, gone=acted, gone_drop=back)
    else:
        action = MarkGone(user=user, key=key, link=link, sides=acted, survivor=survivor, gone_drop=back)
    return Decision(actions=(action,), users=1, deletions=1)
