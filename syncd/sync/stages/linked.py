"""Linked users (DESIGN §5.3): the per-field three-way merge of a link whose two accounts are
both there, the base moves that need no write (rebase), and re-activation of a survivor syncd
deactivated once its partner is back (§5.7).

The links stage (``links.py``) calls ``decide`` only for a link with something to settle:
it has already set aside the links whose values all equal the base.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from syncd import mapping
from syncd.model import Link, Record, Side, normalise_email
from syncd.sync import merge
from syncd.sync.actions import Action, Reactivate, Rebase, Skip
from syncd.sync.merge import FieldOutcome
from syncd.sync.stages.common import Claims, Context, Decision, active
from syncd.sync.stages.fields import as_wp_keeps, mapped_outcome, settle, updates
from syncd.sync.stages.index import Index


def reactivations(ctx: Context, user: int, key: str, link: Link,
                  current: Mapping[Side, Record]) -> tuple[tuple[Reactivate, ...], frozenset[Side], tuple[Skip, ...]]:
    """Survivors syncd deactivated whose partner is back: re-activate them, or, if someone already
    did, only forget the flag (the sides returned second). A side the direction may not write to
    waits for a run that may (a skip says so)."""
    actions: list[Reactivate] = []
    drop: set[Side] = set()
    skips: list[Skip] = []
    policy = ctx.policy
    for side in sorted(link.deactivated):
        record = current[side]
        if active(record):
            drop.add(side)
        elif policy.may_write(side):
            roles: tuple[str, ...] = ()
            if side is Side.WORDPRESS:
                roles = tuple(link.saved_roles) or (policy.new_user_role,)
            actions.append(Reactivate(user=user, key=key, record=record, link=link, roles=roles))
        else:
            skips.append(Skip(key, f"re-activating {record.side.account} #{record.remote_id} waits "
                                   f"for a run that may write to {side.display}"))
    return tuple(actions), frozenset(drop), tuple(skips)


def _merge(ctx: Context, link: Link, name: str, wv: str, pv: str) -> tuple[FieldOutcome | None, bool]:
    """One field against the base: its outcome, and whether the WHMCS value is a dummy syncd put there."""
    policy = ctx.policy
    value = link.base.get(name)
    if value is None:  # a common field added since the link was made: settled as at first contact
        is_dummy = ctx.is_dummy(name, wv)
        return merge.first_contact_field(name, wv, pv, direction=policy.direction, priority=policy.priority,
                                         whmcs_dummy=is_dummy), is_dummy
    # A WHMCS value that is the configured dummy stands for WordPress's value, whether or not the
    # link remembers putting it there: a run that stopped between writing a dummy and committing
    # it leaves no trace of it, and a dummy is never a change nor copied to WordPress (§5.2, §5.9).
    is_dummy = ctx.is_dummy(name, wv)
    return merge.merge_field(name, value, wv, pv, direction=policy.direction, priority=policy.priority,
                             whmcs_dummy=is_dummy), is_dummy


def email_outcomes(ctx: Context, link: Link, whmcs: Record, wp: Record) -> tuple[FieldOutcome, ...]:
    """The email's outcome for a live link: one, or none when nothing changes.

    An account on its temporary address (``mapping.is_transit_email``: parked by an earlier run
    while users swapped emails) is in transit: the address stands for the base, so it is never
    taken for an edit nor copied, and the account gets the email the merge settles on (two
    writes when both accounts are parked). A side this run may not write keeps it for now.
    """
    wv, pv = whmcs.email, wp.email
    base = link.base.get("email")
    parked = [side for side, v in ((Side.WHMCS, wv), (Side.WORDPRESS, pv)) if mapping.is_transit_email(v)]
    if not parked or not base:
        outcome, _dummy = _merge(ctx, link, "email", wv, as_wp_keeps("email", pv, wv, base))
        return () if outcome is None else (outcome,)
    outcome, _dummy = _merge(ctx, link, "email", base if Side.WHMCS in parked else wv,
                             base if Side.WORDPRESS in parked else pv)
    value = base if outcome is None else outcome.value
    found = [] if outcome is None or outcome.write is None else [outcome]
    for side in parked:
        if ctx.policy.may_write(side) and all(o.write is not side for o in found):
            found.append(FieldOutcome("email", value, write=side))
    if not found and outcome is not None:
        found.append(outcome)  # only the base moves
    return tuple(found)


def decide(ctx: Context, index: Index, claims: Claims, link: Link, whmcs: Record, wp: Record, user: int,
           parked: tuple[Side, str] | None = None) -> Decision:
    """A live link with something to settle: merge each field against the base, then say what
    moves the base only, who is re-activated, and what each side is written. ``parked``: the
    side and temporary address an earlier action of this plan parks this user's account on
    (its update then starts from that address)."""
    base = link.base
    wf, pf = whmcs.fields, wp.fields
    outcomes: list[FieldOutcome] = []
    dummy_now: set[str] = set()
    stale_dummy: set[str] = set()
    skips: list[Skip] = []
    for name in ctx.fields:
        if name == "email":
            found = email_outcomes(ctx, link, whmcs, wp)
            outcomes += found
            skips += _in_transit(ctx, link, whmcs, wp, found)
            continue
        if ctx.optional(name):
            mapped, is_dummy = mapped_outcome(ctx, name, base, whmcs, wp, link.dummy_fields)
            if is_dummy:
                dummy_now.add(name)
            elif name in link.dummy_fields and name in wf:
                stale_dummy.add(name)
            if mapped is not None:
                outcomes.append(mapped)
            continue
        wv = wf.get(name, "")
        outcome, is_dummy = _merge(ctx, link, name, wv, as_wp_keeps(name, pf.get(name, ""), wv, base.get(name)))
        if is_dummy:
            dummy_now.add(name)
        elif name in link.dummy_fields:
            stale_dummy.add(name)
        if outcome is not None:
            outcomes.append(outcome)
    # The user's key for logs and issues: the email both sides will agree on.
    email = next((o.value for o in outcomes if o.name == "email"), base.get("email", whmcs.email))
    key = normalise_email(email)
    if parked is not None:
        side, address = parked
        moved = replace(whmcs if side is Side.WHMCS else wp, fields={**(wf if side is Side.WHMCS else pf),
                                                                      "email": address})
        whmcs, wp = (moved, wp) if side is Side.WHMCS else (whmcs, moved)
    settled = settle(ctx, index, claims, key, whmcs, wp, outcomes, first_contact=False, base=base)
    rebase = {k: v for k, v in settled.base_now.items() if base.get(k) != v}
    stale_dummy -= settled.dummy_add | settled.dummy_drop
    reactivate, deactivated_drop, waits = reactivations(ctx, user, key, link, {Side.WHMCS: whmcs, Side.WORDPRESS: wp})
    actions: list[Action] = []
    if rebase or stale_dummy or deactivated_drop:
        actions.append(Rebase(user=user, key=key, link=link, base=rebase, dummy_drop=frozenset(stale_dummy),
                              deactivated_drop=deactivated_drop))
    actions += reactivate
    actions += updates(user, key, whmcs, wp, link, settled)
    return Decision(actions=tuple(actions), conflicts=settled.conflicts, problems=settled.problems,
                    skips=(*skips, *waits), users=1)


def _in_transit(ctx: Context, link: Link, whmcs: Record, wp: Record, found: tuple[FieldOutcome, ...]) -> list[Skip]:
    """Plain words for an account found on its temporary address: where it goes, or what it waits for."""
    skips = []
    for record in (whmcs, wp):
        if not mapping.is_transit_email(record.email):
            continue
        side = record.side
        going = next((o.value for o in found if o.write is side), None)
        key = normalise_email(link.base.get("email", "") or record.email)
        if going is not None:
            skips.append(Skip(key, f"{record.side.account} #{record.remote_id} is parked on a temporary address "
                                   f"while users swap emails; it gets {going.strip()!r} in this run"))
        else:
            skips.append(Skip(key, f"{record.side.account} #{record.remote_id} is parked on a temporary address "
                                   f"while users swap emails; it waits for a run that may write to {side.display}"))
    return skips
