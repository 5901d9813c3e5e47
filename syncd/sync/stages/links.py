"""Stage 2, every link in turn (DESIGN §5.1 step 3 for links): set aside what has nothing to do,
order the rest, and route each to its rule: ``linked.decide`` when both accounts are there,
``departures.decide`` when one left or came back.

One pass, because decisions claim things later ones must see: an update that changes an
account's email gives its old email up and takes the new one (``Claims``), and a user who came
back takes an unlinked account out of the pool (``adopted``). The order is the links' own,
except that email changes wait for the emails they take to be given up (``emails.py``). This
stage's output carries both claims to the unlinked stage, and counts what the guard needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd.model import Fields, Link, Record, Side
from syncd.sync.actions import Action, Conflict, Problem, Skip
from syncd.sync.stages import departures, emails, linked
from syncd.sync.stages.common import Claims, Context, email_move
from syncd.sync.stages.index import Index


@dataclass(frozen=True, slots=True)
class LinksOutcome:
    """What the links stage decided, with the claims the unlinked stage reads.

    ``users``: the user numbers taken; ``deletions``: users deactivated or marked gone;
    ``live``: per side, the links not gone there (the guard compares them with an empty listing);
    ``claims``: the emails this stage's updates give up and take;
    ``adopted``: per side, the keys of unlinked accounts re-linked to a user who came back;
    ``freed``: accounts a re-link unlinked (another account took their place).
    """

    actions: tuple[Action, ...]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    skips: tuple[Skip, ...]
    users: int
    deletions: int
    live: Mapping[Side, int]
    claims: Claims
    adopted: Mapping[Side, frozenset[str]]
    freed: tuple[Record, ...]


def plan_links(ctx: Context, index: Index, links: Sequence[Link]) -> LinksOutcome:
    """Decide for every link (``links`` sorted by WHMCS id: the store keeps one link per client)."""
    by_w, by_p = index.by_id[Side.WHMCS], index.by_id[Side.WORDPRESS]
    fields = ctx.fields
    wanted = frozenset(fields)
    optional = ctx.rules  # mapped fields: one a side did not read this run is no change
    gone_w = gone_p = 0
    changed: list[Link] = []
    for link in links:
        gone = link.gone
        if gone:
            gone_w += Side.WHMCS in gone
            gone_p += Side.WORDPRESS in gone
        else:
            whmcs = by_w.get(link.whmcs_id)
            wp = by_p.get(link.wp_id)
            if whmcs is not None and wp is not None and not link.deactivated and not whmcs.closed:
                # The common case, first and cheap: nothing changed on either side since the last
                # sync (values as they are equal to the base). Nothing to do, whoever it is.
                base, wf, pf = link.base, whmcs.fields, wp.fields
                # Cheaper still when both records and the base hold the same values under the same
                # names (syncd's own writes and listings keep one order): one comparison each.
                if type(base) is Fields and base.same(wf) and base.same(pf) and base.covers(wanted):
                    continue
                for name in fields:
                    value = base.get(name)
                    if value is None:
                        break
                    absent = value if name in optional else ""
                    if wf.get(name, absent) != value or pf.get(name, absent) != value:
                        break
                else:
                    continue
        changed.append(link)

    actions: list[Action] = []
    conflicts: list[Conflict] = []
    problems: list[Problem] = []
    skips: list[Skip] = []
    released: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    taken: dict[Side, dict[str, int]] = {Side.WHMCS: {}, Side.WORDPRESS: {}}
    claims = Claims(released, taken)  # a read-only view for the decisions; grown here, after each
    adopted: dict[Side, set[str]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    freed: list[Record] = []
    users = deletions = 0

    def claim(planned: Sequence[Action]) -> None:
        for action in planned:
            move = email_move(action)
            if move is not None:
                side, remote_id, key = move
                released[side].add(remote_id)
                taken[side][key] = remote_id

    # Users taking an email another account holds now go after those that wait for nobody, each
    # chain from its free end, the first account of a cycle parked before (``emails``): every
    # email is given up before it is taken. A stable sort: the order is otherwise the links' own.
    moves = emails.plan_moves(ctx, index, changed)
    rank = moves.rank
    parked = moves.parked()
    parked_users: dict[int, int] = {}
    for link in sorted(changed, key=lambda li: rank.get(li.whmcs_id, 0)) if rank else changed:
        if parked and not parked_users and rank.get(link.whmcs_id, 0) > 0:
            for parking in moves.parks:
                users += 1
                parked_users[parking.link.whmcs_id] = users
                park = parking.action(users)
                actions.append(park)
                claim((park,))
        whmcs = by_w.get(link.whmcs_id)
        wp = by_p.get(link.wp_id)
        if (whmcs is not None and index.untouchable(whmcs)) or (wp is not None and index.untouchable(wp)):
            continue  # protected, invalid or duplicated: already reported; the link is left as it is
        user = parked_users.get(link.whmcs_id)
        if whmcs is not None and not whmcs.closed and wp is not None and not link.gone:
            decision = linked.decide(ctx, index, claims, link, whmcs, wp, user or users + 1,
                                     parked.get(link.whmcs_id))
        else:
            decision = departures.decide(ctx, index, claims, adopted, link, whmcs, wp, users + 1)
        actions += decision.actions
        conflicts += decision.conflicts
        problems += decision.problems
        skips += decision.skips
        if user is None:
            users += decision.users
        deletions += decision.deletions
        claim(decision.actions)
        for side, key in decision.adopts:
            adopted[side].add(key)
        freed += decision.frees
    return LinksOutcome(
        actions=tuple(actions), conflicts=tuple(conflicts), problems=tuple(problems), skips=tuple(skips),
        users=users, deletions=deletions,
        live={Side.WHMCS: len(links) - gone_w, Side.WORDPRESS: len(links) - gone_p},
        claims=Claims({side: frozenset(ids) for side, ids in released.items()},
                      {side: dict(keys) for side, keys in taken.items()}),
        adopted={side: frozenset(keys) for side, keys in adopted.items()},
        freed=tuple(freed),
    )
