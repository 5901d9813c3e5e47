"""The decision table of DESIGN §5: two complete listings, the links and a policy in, a plan out.

Pure and deterministic: it never calls a side or the store, and the same inputs give the
same plan. ``plan()`` is a pipeline of stages in the order of §5.1, each a module of
``syncd.sync.stages`` with frozen inputs and outputs:

1. ``index``      exclude (§5.6) and match: both listings by remote id and key; duplicates;
2. ``links``      every link in turn, routed to ``linked`` (§5.3 three-way merge, rebase,
                  re-activation) or ``departures`` (§5.7 deletions and comebacks), email changes
                  ordered by ``emails`` (chains from their free end, a cycle through a temporary
                  address); it says which emails its updates give up and take, and which
                  unlinked accounts it re-linked or let go;
3. ``unlinked``   first contact (§5.4) and creates (§5.5), reading those claims;
4. ``guard``      the safety guard (§5.7).

``fields`` turns merged field outcomes into writes for stages 2 and 3. Everything is keyed
by dicts, so 100,000 users per side plan in about a second; a linked user whose values all
equal the base costs a few comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from syncd.model import Link, Side, Snapshot, digest
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
from syncd.sync.fieldview import MappedField, mapped_fields
from syncd.sync.policy import Policy
from syncd.sync.stages.common import Context, Pending, active
from syncd.sync.stages.guard import guard
from syncd.sync.stages.index import index
from syncd.sync.stages.links import plan_links
from syncd.sync.stages.unlinked import plan_unlinked

__all__ = [
    "Action", "Conflict", "Create", "Deactivate", "Duplicate", "ForgetPending", "LinkPair", "MarkGone", "Pending",
    "Plan", "Problem", "Reactivate", "Rebase", "Relink", "Skip", "Update", "active", "plan",
]


@dataclass(frozen=True)
class Plan:
    """What one run decided: actions to execute, in order, and report-only items.

    ``guard`` is the safety guard's message when it trips (set even when ``policy.force``
    lets the run through); ``blocked`` says whether the engine must refuse to run it.
    ``deletions`` counts the users it would deactivate or mark gone; ``links`` the links
    it started from; ``listed`` how many users of each listing it may synchronise (WHMCS, WordPress;
    admins, excluded roles and invalid emails aside).
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
    listed: tuple[int, int] = (0, 0)

    @property
    def unlinked_start(self) -> bool:
        """No link to start from while both sides have users: every pair is a first contact.
        Expected the first time syncd runs somewhere; after that, the sign of a state store
        lost or a ``state_url`` pointing at the wrong place."""
        return self.links == 0 and all(self.listed)
    kinds: Mapping[str, str] = field(default_factory=dict)  # the kinds of the mapped fields (DESIGN §9)
    #: The fields each listing reported it can store (WHMCS, WordPress), and how many of its records
    #: lack a mapped field it can store (not read in this run: WHMCS details outside a full pass).
    stored: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    unread: tuple[int, int] = (0, 0)

    @property
    def mapped(self) -> tuple[MappedField, ...]:
        """Every rule of the field map, and whether (and why not) this run carries it."""
        return mapped_fields(self.policy.mapped, self.policy.direction, *self.stored)

    def digest(self, fields: Mapping[str, str]) -> str:
        """The digest of one record's values over this plan's fields, mapped fields by their kind."""
        return digest(fields, self.fields, self.kinds, self.policy.phone_region)

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
    ctx = Context.of(policy, whmcs.fields, wp.fields, pending or {})
    ordered = sorted(links, key=attrgetter("whmcs_id"))  # the store keeps one link per client
    found = index(whmcs, wp, ordered, policy)
    linked = plan_links(ctx, found, ordered)
    unlinked = plan_unlinked(ctx, found, linked.claims, linked.adopted, linked.freed, first_user=linked.users + 1)
    return Plan(
        actions=linked.actions + unlinked.actions,
        conflicts=linked.conflicts + unlinked.conflicts,
        problems=found.problems + linked.problems + unlinked.problems,
        duplicates=found.duplicates,
        skips=found.skips + linked.skips + unlinked.skips,
        fields=ctx.fields,
        policy=policy,
        links=len(ordered),
        deletions=linked.deletions,
        guard=guard(whmcs, wp, links=len(ordered), live=linked.live, deletions=linked.deletions, policy=policy),
        listed=(len(found.keys[Side.WHMCS]), len(found.keys[Side.WORDPRESS])),
        kinds=ctx.kinds,
        stored=(whmcs.fields, wp.fields),
        unread=(_unread(whmcs, ctx.rules), _unread(wp, ctx.rules)) if ctx.rules else (0, 0),
    )


def _unread(snapshot: Snapshot, names: Mapping[str, object]) -> int:
    """How many records of ``snapshot`` lack a mapped field of ``names`` (not read in this run)."""
    return sum(1 for r in snapshot.records if any(n not in r.fields for n in names))
