"""What every stage of the planner shares: the run's context, and the shape of one decision.

``Context`` is the part of the input every rule reads (the policy, the common fields of this
site, the dummies that apply to them, the unconfirmed creates). ``Decision`` is what one
user's rule returns: its actions and report items, how many user numbers it took, and the
claims it makes on emails and unlinked accounts, which the stage that drives it adds to
what later decisions see. Nothing here is mutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncd import mapping
from syncd.model import Record, Side
from syncd.sync.actions import Action, Conflict, Problem, Skip
from syncd.sync.policy import Policy

SIDES = (Side.WHMCS, Side.WORDPRESS)

#: The (side, key) of creates whose outcome is unknown (``StateStore.pending_creates()``).
Pending = Mapping[tuple[Side, str], Any]

#: An account by its side and remote id: who gives up an email.
AccountId = tuple[Side, int]


@dataclass(frozen=True, slots=True)
class Context:
    """The inputs every rule reads. ``fields``: the configured common fields both sides can
    store (email always); ``dummy``: the configured dummies of those fields."""

    policy: Policy
    fields: tuple[str, ...]
    dummy: Mapping[str, str]
    pending: Pending

    @classmethod
    def of(cls, policy: Policy, whmcs_fields: tuple[str, ...], wp_fields: tuple[str, ...],
           pending: Pending) -> Context:
        fields = tuple(f for f in policy.fields if f == "email" or (f in whmcs_fields and f in wp_fields))
        dummy = {k: v for k, v in policy.dummy_values.items() if k in fields}
        return cls(policy, fields, dummy, pending)

    def is_dummy(self, name: str, value: str) -> bool:
        """True if ``value`` is the configured dummy of ``name`` (a WHMCS value standing for "empty")."""
        return name in self.dummy and mapping.is_dummy(name, value, self.dummy)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided for one user.

    ``users``: how many user numbers it took (the driver hands out the next one). ``releases``:
    accounts whose email an action of it changes, so their old key is free for the actions
    planned after it. ``adopts``: unlinked accounts (side, key) it took out of the pool (a user
    who came back), so first contact and creation never see them.
    """

    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    problems: tuple[Problem, ...] = ()
    skips: tuple[Skip, ...] = ()
    users: int = 0
    deletions: int = 0
    releases: tuple[AccountId, ...] = ()
    adopts: tuple[tuple[Side, str], ...] = ()


def account(record: Record) -> str:
    """How a message names an account: "WordPress user #12"."""
    return f"{record.side.account} #{record.remote_id}"


def active(record: Record) -> bool:
    """Active as syncd sees it: a WordPress user with a role, a WHMCS client neither Inactive nor Closed."""
    if record.side is Side.WORDPRESS:
        return bool(record.roles) and record.active
    return record.active and not record.closed
