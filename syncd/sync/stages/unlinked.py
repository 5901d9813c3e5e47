"""Stage 3, unlinked users: first contact (DESIGN §5.4) and users on one side only (§5.5).

An unlinked account with a partner of the same key on the other side is linked to it, their
differing fields settled by priority (a Closed client is linked as gone, nothing copied).
One without a partner is created on the other side when the direction allows and it is
eligible, unless the email is taken there by an account that keeps it: the links stage
says which emails its updates give up and take in this run (``Claims``), and which unlinked
accounts it already re-linked (``adopted``). A create whose earlier outcome is unknown is
looked up first; one no longer wanted is forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd import mapping
from syncd.model import Record, Side
from syncd.sync.actions import Action, Conflict, Create, ForgetPending, LinkPair, Problem, Skip
from syncd.sync.stages.common import SIDES, Claims, Context, active, email_move
from syncd.sync.stages.fields import first_contact, refusals, updates
from syncd.sync.stages.index import Index


@dataclass(frozen=True, slots=True)
class UnlinkedOutcome:
    """What the unlinked stage decided (its report items come after the links stage's)."""

    actions: tuple[Action, ...]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    skips: tuple[Skip, ...]


def plan_unlinked(ctx: Context, index: Index, claims: Claims, adopted: Mapping[Side, frozenset[str]],
                  freed: Sequence[Record], first_user: int) -> UnlinkedOutcome:
    """Link, create or leave each unlinked account (the pool's, and those a re-link ``freed``);
    user numbers start at ``first_user``."""
    actions: list[Action] = []
    conflicts: list[Conflict] = []
    problems: list[Problem] = []
    skips: list[Skip] = []
    # The emails the links stage gives up and takes; a first contact never changes a key (both
    # accounts have it), but what it would give up and take is added all the same.
    released = {side: set(ids) for side, ids in claims.released.items()}
    taken = {side: dict(keys) for side, keys in claims.taken.items()}
    mine = Claims(released, taken)
    settled: set[tuple[Side, str]] = set()  # unconfirmed creates this run settles
    user = first_user
    pending = ctx.pending

    def create(key: str, record: Record) -> None:
        nonlocal user
        result = _create(ctx, index, mine, key, record, user)
        if isinstance(result, Create):
            actions.append(result)
            user += 1
            if result.pending:
                settled.add((result.target, key))
        elif isinstance(result, Skip):
            skips.append(result)
        else:
            problems.extend(result)

    taken_w, taken_p = adopted[Side.WHMCS], adopted[Side.WORDPRESS]
    wp_pool = {k: r for k, r in index.pool[Side.WORDPRESS].items() if k not in taken_p} if taken_p \
        else dict(index.pool[Side.WORDPRESS])
    whmcs_pool: Mapping[str, Record] = index.pool[Side.WHMCS]
    if freed:  # rare: a copy, with the accounts a re-link let go (their keys are their own on their side)
        whmcs_pool = dict(whmcs_pool)
        for record in freed:
            (whmcs_pool if record.side is Side.WHMCS else wp_pool).setdefault(record.key, record)
    for key, whmcs in whmcs_pool.items():
        if key in taken_w:
            continue
        wp = wp_pool.pop(key, None)
        if wp is None:
            create(key, whmcs)
            continue
        settles = next((s for s in SIDES if (s, key) in pending), None)
        if settles is not None:
            settled.add((settles, key))
        if whmcs.closed:
            # A Closed client is linked (DESIGN §5.8) but counts as gone: nothing is copied.
            base = {n: wp.fields.get(n, "") for n in ctx.fields if n in wp.fields or not ctx.optional(n)}
            actions.append(LinkPair(user=user, key=key, whmcs=whmcs, wp=wp, base=base,
                                    gone=frozenset({Side.WHMCS}), settles=settles))
        else:
            fc = first_contact(ctx, index, mine, key, whmcs, wp)
            if fc.conflicts or fc.problems:
                conflicts += fc.conflicts
                problems += fc.problems
            pair = LinkPair(user=user, key=key, whmcs=whmcs, wp=wp, base=fc.base_now, dummy_fields=fc.dummy_fields,
                            settles=settles)
            actions.append(pair)
            if fc.writes[Side.WHMCS] or fc.writes[Side.WORDPRESS]:
                writes = updates(user, key, whmcs, wp, pair.link_after(None, None), fc)
                actions += writes
                for write in writes:
                    move = email_move(write)
                    if move is not None:
                        released[move[0]].add(move[1])
                        taken[move[0]][move[2]] = move[1]
        user += 1
    for key, wp in wp_pool.items():
        create(key, wp)
    for side, key in sorted(pending, key=lambda sk: (sk[0].value, sk[1])):
        if (side, key) not in settled:
            actions.append(ForgetPending(user=user, key=key, target=side))
            user += 1
    return UnlinkedOutcome(tuple(actions), tuple(conflicts), tuple(problems), tuple(skips))


def _create(ctx: Context, index: Index, claims: Claims, key: str,
            record: Record, user: int) -> Create | Skip | list[Problem]:
    """Create ``record``'s account on the other side, or say why not."""
    side = record.side
    target = side.other
    policy = ctx.policy
    if not policy.may_write(target):
        return Skip(key, f"only on {side.display}; a {policy.direction.value} run creates no {target.account}s")
    if side is Side.WHMCS and not active(record):
        return Skip(key, f"WHMCS client #{record.remote_id} is {record.status or 'not Active'}; "
                         "only Active clients are created in WordPress")
    if side is Side.WORDPRESS and not record.roles:
        return Skip(key, f"WordPress user #{record.remote_id} has no role; such users are not created in WHMCS")
    if key in index.dup[target]:
        return Skip(key, f"several {target.account}s have this email; nothing is created")
    leaving = claims.released[target]
    taken = [r for r in index.holders(target, key) if r.remote_id not in leaving]
    taker = claims.taken[target].get(key)
    if taker is not None:  # a linked account's new email, given to it earlier in this run
        return [Problem(key, target, "email", f"is taken in this run by {target.account} #{taker}, which is "
                                              f"linked to another account; {side.account} #{record.remote_id} "
                                              "is not created there")]
    if taken:
        ids = ", ".join(f"#{r.remote_id}" for r in taken)
        return [Problem(key, target, "email", f"is already used by {target.account} {ids}, which is linked to "
                                              f"another account; {side.account} #{record.remote_id} is not "
                                              "created there")]
    send = {name: record.fields.get(name, "") for name in ctx.fields if not ctx.optional(name)}
    send.update(_mapped_values(ctx, record))
    # A field set only on create (``apply = "on_create"``) is never compared again: no base.
    base = {name: value for name, value in send.items() if name in ctx.fields}
    dummy: frozenset[str] = frozenset()
    if target is Side.WHMCS:
        for name, rule in ctx.rules.items():
            if rule.required or rule.default:
                send.setdefault(name, "")  # a required field not read still gets its default, then its dummy
        send, dummy = mapping.fill_dummies(send, ctx.dummy)
    else:
        stand_ins = frozenset(n for n in ctx.rules if ctx.is_dummy(n, send.get(n)))
        for name in stand_ins:  # a WHMCS dummy or default stands for "no value": never copied to WordPress
            send[name] = ""
            if name in base:
                base[name] = ""
        dummy = stand_ins
    refused = refusals(key, target, send)
    if refused:
        return refused  # a refused field: the account would be incomplete, so it is not created
    pending = (target, key) in ctx.pending
    return Create(user=user, key=key, target=target, source=record, send=send, base=base, dummy_fields=dummy,
                  pending=pending)


def _mapped_values(ctx: Context, record: Record) -> dict[str, str]:
    """The mapped fields (DESIGN §9) a create sends from ``record``: those its side read in this
    run and whose direction lets them reach the other side, ``on_create`` ones included."""
    target = record.side.other
    return {name: record.fields[name] for name, rule in ctx.rules.items()
            if name in record.fields and rule.direction.allows_write_to(target)}
