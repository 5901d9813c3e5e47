"""Stage 2, every link in turn (DESIGN §5.1 step 3 for links): set aside what has nothing to do,
order the rest, and route each to its rule: ``linked.decide`` when both accounts are there,
``departures.decide`` when one left or came back.

One pass in link order, because decisions claim things later ones must see: an account whose
email an earlier update changes gives that email up (``released``), and a user who came back
takes an unlinked account out of the pool (``adopted``). This stage's output carries both
claims to the unlinked stage, and counts what the guard needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd.model import Link, Side, normalise_email
from syncd.sync import merge
from syncd.sync.actions import Action, Conflict, Problem, Skip
from syncd.sync.stages import departures, linked
from syncd.sync.stages.common import Context
from syncd.sync.stages.index import Index


@dataclass(frozen=True, slots=True)
class LinksOutcome:
    """What the links stage decided, with the claims the unlinked stage reads.

    ``users``: the user numbers taken; ``deletions``: users deactivated or marked gone;
    ``live``: per side, the links not gone there (the guard compares them with an empty listing);
    ``released``: per side, the accounts giving up their email to an update of this stage;
    ``adopted``: per side, the keys of unlinked accounts re-linked to a user who came back.
    """

    actions: tuple[Action, ...]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    skips: tuple[Skip, ...]
    users: int
    deletions: int
    live: Mapping[Side, int]
    released: Mapping[Side, frozenset[int]]
    adopted: Mapping[Side, frozenset[str]]


def plan_links(ctx: Context, index: Index, links: Sequence[Link]) -> LinksOutcome:
    """Decide for every link (``links`` sorted by WHMCS id: the store keeps one link per client)."""
    by_w, by_p = index.by_id[Side.WHMCS], index.by_id[Side.WORDPRESS]
    fields = ctx.fields
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
                for name in fields:
                    value = base.get(name)
                    if value is None or wf.get(name, "") != value or pf.get(name, "") != value:
                        break
                else:
                    continue
        changed.append(link)

    actions: list[Action] = []
    conflicts: list[Conflict] = []
    problems: list[Problem] = []
    skips: list[Skip] = []
    released: dict[Side, set[int]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    adopted: dict[Side, set[str]] = {Side.WHMCS: set(), Side.WORDPRESS: set()}
    users = deletions = 0
    # Users taking an email another account holds now go last: that account may give it up in
    # this same run (its Update, planned first, then runs first). A stable sort: the order is
    # otherwise the links' own.
    for link in sorted(changed, key=lambda li: _takes_a_held_email(ctx, index, li)):
        whmcs = by_w.get(link.whmcs_id)
        wp = by_p.get(link.wp_id)
        if (whmcs is not None and index.untouchable(whmcs)) or (wp is not None and index.untouchable(wp)):
            continue  # protected, invalid or duplicated: already reported; the link is left as it is
        if whmcs is not None and not whmcs.closed and wp is not None and not link.gone:
            decision = linked.decide(ctx, index, released, link, whmcs, wp, users + 1)
        else:
            decision = departures.decide(ctx, index, released, adopted, link, whmcs, wp, users + 1)
        actions += decision.actions
        conflicts += decision.conflicts
        problems += decision.problems
        skips += decision.skips
        users += decision.users
        deletions += decision.deletions
        for side, remote_id in decision.releases:
            released[side].add(remote_id)
        for side, key in decision.adopts:
            adopted[side].add(key)
    return LinksOutcome(
        actions=tuple(actions), conflicts=tuple(conflicts), problems=tuple(problems), skips=tuple(skips),
        users=users, deletions=deletions,
        live={Side.WHMCS: len(links) - gone_w, Side.WORDPRESS: len(links) - gone_p},
        released={side: frozenset(ids) for side, ids in released.items()},
        adopted={side: frozenset(keys) for side, keys in adopted.items()},
    )


def _takes_a_held_email(ctx: Context, index: Index, link: Link) -> bool:
    """True if this run would give one of the link's accounts an email another account on that
    side has now (a cheap look at the email field alone; ``linked.decide`` decides for real)."""
    whmcs = index.by_id[Side.WHMCS].get(link.whmcs_id)
    wp = index.by_id[Side.WORDPRESS].get(link.wp_id)
    base = link.base.get("email")
    if whmcs is None or wp is None or link.gone or base is None:
        return False
    outcome = merge.merge_field("email", base, whmcs.email, wp.email, direction=ctx.policy.direction,
                                priority=ctx.policy.priority)
    if outcome is None or outcome.write is None:
        return False
    target = whmcs if outcome.write is Side.WHMCS else wp
    wanted = normalise_email(outcome.value)
    return wanted != target.key and any(r is not target for r in index.holders(target.side, wanted))
