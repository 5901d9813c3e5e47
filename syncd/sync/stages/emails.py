"""Email changes among linked users (DESIGN §5.3, issue 10): the order that lets them all land,
and a temporary address for the ones that can only land in a cycle.

A side refuses an email another account holds, so an update that gives account X the email
account H holds now can only run after H's own update has moved H elsewhere. Each account
wants one email, so "X waits for H" makes chains and simple cycles (no other shapes):

- a chain (A takes B's email, B takes C's, C a new one) runs from its free end: C, B, A;
- a cycle (two users swap emails, or three rotate them) has no free end: one account of it,
  the one whose link comes first, is parked on its temporary address (``mapping.transit_email``)
  first, which frees its email; the cycle is then a chain, and the parked account gets its
  final email last, in the same run;
- an account waiting for one that keeps its email (it does not change in this run, or it is
  not linked) waits: the links stage reports it, and nothing is written until that changes;
- a user who comes back in this run (a link gone from a side whose account is there again,
  re-linked by ``departures`` and settled as at first contact) takes part in the order with the
  email first contact gives it, but is never the one parked: another account of its cycle is (a
  cycle of returning users only waits, and the next run, with their links live, parks one).

Crash-safe without any state of its own: every step is a write committed at once, a parked
account is recognised by its address alone, which stands for the base (never an edit, never
copied), so whatever run comes next recomputes the moves left from what the sides hold.

The output is a rank per link (the links stage sorts by it: links with no email to wait for
first, in their own order, then each chain from its free end) and the accounts to park.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd import mapping
from syncd.model import Link, Record, Side, normalise_email
from syncd.sync import merge
from syncd.sync.actions import Park
from syncd.sync.merge import FieldOutcome
from syncd.sync.stages.common import SIDES, Context
from syncd.sync.stages.fields import as_wp_keeps
from syncd.sync.stages.index import Index
from syncd.sync.stages.linked import email_outcomes

_FREE = -1  # the wanted email is free (or held only by the account itself)
_KEPT = -2  # held by an account that does not give it up in this run
_PARKED = -3  # held by an account of a cycle that is parked first


@dataclass(frozen=True, slots=True)
class Parking:
    """One account of a cycle, parked on ``address`` before the cycle's other updates; it gets
    ``final`` at the end."""

    link: Link
    record: Record
    other: Record
    address: str
    final: str

    def action(self, user: int) -> Park:
        return Park(user=user, key=normalise_email(self.final), record=self.record, other=self.other,
                    changes={"email": (self.record.email, self.address)}, base={}, link=self.link, final=self.final)


@dataclass(frozen=True, slots=True)
class Moves:
    """``rank``: per link (by WHMCS id), 0 when its update waits for nobody, else one more than
    the update it waits for; ``parks``: the accounts parked first, in link order."""

    rank: Mapping[int, int]
    parks: tuple[Parking, ...]

    def parked(self) -> dict[int, tuple[Side, str]]:
        """Per link (by WHMCS id), the side and temporary address of its parked account."""
        return {p.link.whmcs_id: (p.record.side, p.address) for p in self.parks}


@dataclass(frozen=True, slots=True)
class _Move:
    position: int  # of the link in the links stage's order
    link: Link
    record: Record  # the account that changes its email
    other: Record
    email: str  # as it will be written
    wanted: str  # its key
    comeback: bool = False  # of a link re-linked in this run: settled as at first contact, never parked


def _comeback_email(ctx: Context, whmcs: Record, wp: Record) -> tuple[FieldOutcome, ...]:
    """The email outcome of a user who came back (``departures._relink`` settles it as at first
    contact), as far as the order of moves needs it; an account in transit is left to the re-link."""
    wv, pv = whmcs.email, wp.email
    if mapping.is_transit_email(wv) or mapping.is_transit_email(pv) or normalise_email(wv) == normalise_email(pv):
        return ()
    policy = ctx.policy
    return (merge.first_contact_field("email", wv, as_wp_keeps("email", pv, wv), direction=policy.direction,
                                      priority=policy.priority),)


def plan_moves(ctx: Context, index: Index, links: Sequence[Link]) -> Moves:
    """The order of the email updates ``links`` (the links with something to settle) need, and the
    accounts to park; empty when no update takes an email another account holds now."""
    moves: dict[Side, dict[int, _Move]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
    by_w, by_p = index.by_id[Side.WHMCS], index.by_id[Side.WORDPRESS]
    held = False
    for position, link in enumerate(links):
        whmcs, wp = by_w.get(link.whmcs_id), by_p.get(link.wp_id)
        if whmcs is None or wp is None or whmcs.closed or index.untouchable(whmcs) or index.untouchable(wp):
            continue  # not a live link: its rules write no email change
        # A link gone from a side whose account is there again is re-linked (``departures``), its
        # email settled as at first contact: its move takes part in the order, but is never parked.
        comeback = bool(link.gone)
        found = _comeback_email(ctx, whmcs, wp) if comeback else email_outcomes(ctx, link, whmcs, wp)
        for outcome in found:
            if outcome.write is None:
                continue
            record, other = (whmcs, wp) if outcome.write is Side.WHMCS else (wp, whmcs)
            wanted = normalise_email(outcome.value)
            if wanted == record.key or mapping.problems(record.side, {"email": outcome.value}):
                continue  # no change of key, or a refused email: no move
            moves[record.side][record.remote_id] = _Move(position, link, record, other, outcome.value, wanted,
                                                         comeback)
            held = held or any(r is not record for r in index.holders(record.side, wanted))
    if not held:
        return Moves({}, ())  # the common case: nobody takes an email another account holds
    rank: dict[int, int] = {}
    parks: list[Parking] = []
    for side in SIDES:
        _rank_side(index, side, moves[side], rank, parks)
    parks.sort(key=lambda p: p.link.whmcs_id)
    return Moves(rank, tuple(parks))


def _rank_side(index: Index, side: Side, moves: Mapping[int, _Move], rank: dict[int, int],
               parks: list[Parking]) -> None:
    """Rank the moves of one side (a side's emails are unique on that side only), parking one
    account of each cycle; ``rank`` and ``parks`` collect the results."""
    waits: dict[int, int] = {}  # account → the account it waits for, or _FREE / _KEPT / _PARKED
    for remote_id, move in moves.items():
        holders = [r.remote_id for r in index.holders(side, move.wanted) if r.remote_id != remote_id]
        if not holders:
            waits[remote_id] = _FREE
        elif len(holders) == 1 and holders[0] in moves:
            waits[remote_id] = holders[0]
        else:
            waits[remote_id] = _KEPT
    # Find the cycles: follow each account's waits until a known end, or back into the path.
    done: set[int] = set()
    for start in sorted(moves, key=lambda i: moves[i].position):
        path: list[int] = []
        on_path: set[int] = set()
        current = start
        while current >= 0 and current not in done and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = waits[current]
        if current >= 0 and current in on_path:
            cycle = path[path.index(current):]
            parkable = [i for i in cycle if not moves[i].comeback]
            if not parkable:  # only users coming back: each waits (reported), the next run parks one
                for account in cycle:
                    waits[account] = _KEPT
                done.update(path)
                continue
            first = min(parkable, key=lambda i: moves[i].position)
            # The account waiting for the parked one finds its email free: the cycle is a chain.
            waits[cycle[cycle.index(first) - 1]] = _PARKED
            move = moves[first]
            parks.append(Parking(move.link, move.record, move.other, mapping.transit_email(side, first), move.email))
        done.update(path)
    # Rank each move by the length of the chain it waits at the end of (no cycles are left).
    depth: dict[int, int] = {}
    for start in moves:
        path = []
        current = start
        while current >= 0 and current not in depth:
            path.append(current)
            current = waits[current]
        for account in reversed(path):
            wait = waits[account]
            depth[account] = 1 + depth[wait] if wait >= 0 else (0 if wait == _FREE else 1)
        for account in path:
            whmcs_id = moves[account].link.whmcs_id
            rank[whmcs_id] = max(rank.get(whmcs_id, 0), depth[account])
