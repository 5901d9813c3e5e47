"""From per-field outcomes to writes (DESIGN §5.2-§5.4): what linked users, users who come back
and first contacts share once ``merge`` has decided each field.

A write is refused here, and reported, when the side would refuse it (``mapping.problems``)
or when another account there already holds the email (two accounts with one key are never
made by sync). WHMCS gets the configured dummy for an empty required value; WordPress's own
rewriting of names is recognised so it never looks like an edit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from syncd import mapping
from syncd.model import Fields, Link, Record, Side, normalise, normalise_email
from syncd.sync import merge
from syncd.sync.actions import Conflict, Problem, Update
from syncd.sync.merge import FieldOutcome
from syncd.sync.stages.common import SIDES, Claims, Context, account
from syncd.sync.stages.index import Index

_NONE: frozenset[str] = frozenset()
_NO_WRITES: Mapping[Side, Mapping[str, Any]] = MappingProxyType({Side.WHMCS: MappingProxyType({}),
                                                                  Side.WORDPRESS: MappingProxyType({})})


@dataclass(frozen=True, slots=True)
class Settled:
    """Field outcomes turned into what a user's actions carry.

    ``base_now``: base values to record now (no write needed, or a new link's values until its
    write succeeds); ``writes``: per side, field → (before, after); ``base_on``: per side, the
    base each write sets on success; ``dummy_add``/``dummy_drop``: the fields a WHMCS write turns
    into, or out of, a configured dummy; ``dummy_fields``: at first contact, the fields whose
    WHMCS value is a dummy now.
    """

    base_now: dict[str, str]
    writes: Mapping[Side, Mapping[str, tuple[str, str]]]
    base_on: Mapping[Side, Mapping[str, str]]
    dummy_add: frozenset[str]
    dummy_drop: frozenset[str]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    dummy_fields: frozenset[str] = _NONE


def as_wp_keeps(name: str, wp_value: str, *sources: str | None) -> str:
    """WordPress rewrites some names as it stores them (``mapping.as_stored``: tags stripped,
    spaces collapsed, …). A WordPress value that is what WordPress made of a source value
    stands for that value, so the rewrite never looks like an edit and is never written back
    or rewritten forever."""
    seen = normalise(name, wp_value)
    for source in sources:
        if (source is not None and normalise(name, source) != seen
                and normalise(name, mapping.as_stored(Side.WORDPRESS, name, source)) == seen):
            return source
    return wp_value


def mapped_outcome(ctx: Context, name: str, base: Mapping[str, str] | None, whmcs: Record,
                   wp: Record, remembered: frozenset[str] = _NONE) -> tuple[FieldOutcome | None, bool]:
    """One mapped field (DESIGN §9) through ``merge.merge_mapped``: its outcome, and whether the
    WHMCS value is a stand-in (a dummy or the field's default). ``base`` None: no link yet;
    ``remembered``: the link's dummy fields."""
    rule = ctx.rules[name]
    wv = whmcs.fields.get(name)
    is_dummy = ctx.is_dummy(name, wv, remembered)
    values = {Side.WHMCS: whmcs.fields, Side.WORDPRESS: wp.fields, None: base or {}}

    def norm(value: str, side: Side | None) -> str:
        return ctx.norm(name, value, values[side])

    outcome = merge.merge_mapped(name, None if base is None else base.get(name), wv, wp.fields.get(name),
                                 direction=rule.direction, priority=ctx.policy.priority, norm=norm,
                                 whmcs_dummy=is_dummy)
    return outcome, is_dummy


def refusals(key: str, side: Side, values: Mapping[str, str]) -> list[Problem]:
    """What ``side`` would refuse of ``values``, each as a problem (empty when all may be written)."""
    return [Problem(key, side, name, f"{message}; not written to {side.display}")
            for name, message in mapping.problems(side, values)]


def email_taken(key: str, record: Record, email: str, index: Index, claims: Claims) -> Problem | None:
    """The problem if ``record`` cannot take ``email`` now: another account on its side holds it
    and does not give it up in this run, or an action planned before gives it to another
    account. Its side would refuse the write, and two accounts with one key are never made by sync."""
    side = record.side
    wanted = normalise_email(email)
    gone = claims.released[side]
    holders = [r.remote_id for r in index.holders(side, wanted)
               if r.remote_id != record.remote_id and r.remote_id not in gone]
    if holders:
        ids = ", ".join(f"#{i}" for i in holders)
        return Problem(key, side, "email", f"cannot become {email.strip()!r} on {account(record)} yet: "
                                           f"{side.account} {ids} already has that email; waiting for {ids} to "
                                           "give up the email (until then the email is left as it is)")
    taker = claims.taken[side].get(wanted)
    if taker is not None and taker != record.remote_id:
        return Problem(key, side, "email", f"cannot become {email.strip()!r} on {account(record)}: {side.account} "
                                           f"#{taker} takes that email in this run; the email is left as it is "
                                           "until one of them changes")
    return None


def settle(ctx: Context, index: Index, claims: Claims, key: str, whmcs: Record, wp: Record,
           outcomes: Sequence[FieldOutcome], *, first_contact: bool, dummy_fields: frozenset[str] = _NONE,
           base: Mapping[str, str] | None = None) -> Settled:
    """Turn field outcomes into base values, writes and report items (see ``Settled``). ``base``:
    the link's, shown as the "before" of a mapped field its target side did not read this run."""
    for outcome in outcomes:
        if outcome.write is not None:
            break
    else:  # nothing to write (most first contacts of a first run): only the base, nothing allocated
        return Settled({o.name: o.value for o in outcomes}, _NO_WRITES, _NO_WRITES, _NONE, _NONE, (), (),
                       dummy_fields)
    records = {Side.WHMCS: whmcs, Side.WORDPRESS: wp}
    dummy = ctx.dummy
    base_now: dict[str, str] = {}
    writes: dict[Side, dict[str, tuple[str, str]]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
    base_on: dict[Side, dict[str, str]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
    dummy_add: set[str] = set()
    dummy_drop: set[str] = set()
    conflicts: list[Conflict] = []
    problems: list[Problem] = []
    for outcome in outcomes:
        name = outcome.name
        target = outcome.write
        if target is None:
            base_now[name] = outcome.value
            continue
        held = records[target].fields.get(name)
        unread = held is None and ctx.optional(name)  # a mapped field not read on the target this run
        before = (base or {}).get(name, "") if unread else (held or "")
        sent = outcome.value
        filled = False
        if target is Side.WHMCS and name in dummy and not sent.strip():
            sent, filled = dummy[name], True
        if not unread and ctx.norm(name, before, records[target].fields) == ctx.norm(name, sent,
                                                                                  records[target].fields):
            # The side already holds it (e.g. the dummy is there already): only the base moves.
            base_now[name] = outcome.value
            continue
        refused = refusals(key, target, {name: sent})
        if refused:
            problems += refused
            continue
        if name == "email":
            taken = email_taken(key, records[target], sent, index, claims)
            if taken is not None:
                problems.append(taken)
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
            conflicts.append(Conflict(key, name, outcome.winner, outcome.value, outcome.losing,
                                      first_contact=first_contact))
    return Settled(base_now, writes, base_on, frozenset(dummy_add), frozenset(dummy_drop), tuple(conflicts),
                   tuple(problems), dummy_fields)


def first_contact(ctx: Context, index: Index, claims: Claims, key: str, whmcs: Record, wp: Record) -> Settled:
    """Settle two accounts meeting with no base (DESIGN §5.4): the base and dummy fields to link
    with (``dummy_fields``), and the writes."""
    policy = ctx.policy
    outcomes = []
    dummy_now: set[str] = set()
    # Each record's values cut out of its Fields once, not once per name: every pair of a first run comes here.
    wf, pf = _plain(whmcs.fields), _plain(wp.fields)
    dummy = ctx.dummy
    for name in ctx.fields:
        if ctx.optional(name):
            mapped, is_dummy = mapped_outcome(ctx, name, None, whmcs, wp)
            if is_dummy and name in wf:
                dummy_now.add(name)
            if mapped is not None:
                outcomes.append(mapped)
            continue
        wv = wf.get(name, "")
        pv = pf.get(name, "")
        is_dummy = name in dummy and ctx.is_dummy(name, wv)  # the cheap test first: one pair per user
        if is_dummy:
            dummy_now.add(name)
        elif wv == pv:
            outcomes.append(FieldOutcome(name, wv))  # the same value as it is: nothing to settle
            continue
        if name == "email" and (mapping.is_transit_email(wv) or mapping.is_transit_email(pv)):
            outcomes.append(_transit_first_contact(ctx, wv, pv))
            continue
        outcomes.append(merge.first_contact_field(
            name, wv, as_wp_keeps(name, pv, wv), direction=policy.direction,
            priority=policy.priority, whmcs_dummy=is_dummy,
        ))
    return settle(ctx, index, claims, key, whmcs, wp, outcomes, first_contact=True,
                  dummy_fields=frozenset(dummy_now) if dummy_now else _NONE)


def _plain(fields: Mapping[str, str]) -> Mapping[str, str]:
    return fields.as_dict() if type(fields) is Fields else fields


def _transit_first_contact(ctx: Context, whmcs: str, wp: str) -> FieldOutcome:
    """An account met again while parked on its temporary address (a user who came back in the
    middle of an email swap): the address stands for its partner's email, which it gets back
    where the run may write; it is never copied to the partner."""
    parked = Side.WHMCS if mapping.is_transit_email(whmcs) else Side.WORDPRESS
    value = wp if parked is Side.WHMCS else whmcs
    if mapping.is_transit_email(value):
        return FieldOutcome("email", whmcs)  # both parked: nothing sensible to copy either way
    return FieldOutcome("email", value, write=parked if ctx.policy.may_write(parked) else None)


def updates(user: int, key: str, whmcs: Record, wp: Record, link: Link, settled: Settled) -> tuple[Update, ...]:
    """The Update of each side ``settled`` writes to, WHMCS first."""
    out: list[Update] = []
    for side in SIDES:
        changes = settled.writes[side]
        if not changes:
            continue
        record, other = (whmcs, wp) if side is Side.WHMCS else (wp, whmcs)
        on_whmcs = side is Side.WHMCS
        out.append(Update(
            user=user, key=key, record=record, other=other, changes=changes, base=settled.base_on[side], link=link,
            dummy_add=settled.dummy_add if on_whmcs else _NONE, dummy_drop=settled.dummy_drop if on_whmcs else _NONE,
        ))
    return tuple(out)
