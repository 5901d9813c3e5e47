"""Linked users (DESIGN §5.3): the per-field three-way merge of a link whose two accounts are
both there, the base moves that need no write (rebase), and re-activation of a survivor syncd
deactivated once its partner is back (§5.7).

The links stage (``links.py``) calls ``decide`` only for a link with something to settle:
it has already set aside the links whose values all equal the base.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncd.model import Link, Record, Side, normalise_email
from syncd.sync import merge
from syncd.sync.actions import Action, Reactivate, Rebase, Skip
from syncd.sync.merge import FieldOutcome
from syncd.sync.stages.common import Context, Decision, active
from syncd.sync.stages.fields import Released, as_wp_keeps, settle, updates
from syncd.sync.stages.index import Index


def reactivations(ctx: Context, user: int, key: str, link: Link,
                  current: Mapping[Side, Record]) -> tuple[tuple[Reactivate, ...], frozenset[Side], tuple[Skip, ...]]:
    """Survivors syncd deactivated whose partner is back: re-activate them, or just forget the flag
    (the sides returned) if someone already did. A side the direction may not write to waits for
    a run that may (a skip says so)."""
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


def decide(ctx: Context, index: Index, released: Released, link: Link, whmcs: Record, wp: Record,
           user: int) -> Decision:
    """A live link with something to settle: merge each field against the base, then say what
    moves the base only, who is re-activated, and what each side is written."""
    base = link.base
    wf, pf = whmcs.fields, wp.fields
    policy = ctx.policy
    outcomes: list[FieldOutcome] = []
    dummy_now: set[str] = set()
    stale_dummy: set[str] = set()
    for name in ctx.fields:
        wv = wf.get(name, "")
        value = base.get(name)
        pv = as_wp_keeps(name, pf.get(name, ""), wv, value)
        if value is None:  # a common field added since the link was made: settled as at first contact
            is_dummy = ctx.is_dummy(name, wv)
            outcome: FieldOutcome | None = merge.first_contact_field(
                name, wv, pv, direction=policy.direction, priority=policy.priority, whmcs_dummy=is_dummy)
        else:
            # A dummy counts only where syncd put it (the link remembers): a person may type it.
            is_dummy = name in link.dummy_fields and ctx.is_dummy(name, wv)
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
    settled = settle(ctx, index, released, key, whmcs, wp, outcomes, first_contact=False)
    rebase = {k: v for k, v in settled.base_now.items() if base.get(k) != v}
    stale_dummy -= settled.dummy_add | settled.dummy_drop
    reactivate, deactivated_drop, skips = reactivations(ctx, user, key, link, {Side.WHMCS: whmcs, Side.WORDPRESS: wp})
    actions: list[Action] = []
    if rebase or stale_dummy or deactivated_drop:
        actions.append(Rebase(user=user, key=key, link=link, base=rebase, dummy_drop=frozenset(stale_dummy),
                              deactivated_drop=deactivated_drop))
    actions += reactivate
    writes, releases = updates(user, key, whmcs, wp, link, settled)
    actions += writes
    return Decision(actions=tuple(actions), conflicts=settled.conflicts, problems=settled.problems, skips=skips,
                    users=1, releases=releases)
