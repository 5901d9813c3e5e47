"""What every stage of the planner shares: the run's context, and the shape of one decision.

``Context`` is the part of the input every rule reads (the policy, the common fields of this
site, the dummies that apply to them, the unconfirmed creates). ``Decision`` is what one
user's rule returns: its actions and report items, how many user numbers it took, and the
claims it makes on emails and unlinked accounts, which the stage that drives it adds to
what later decisions see. Nothing here is mutable.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from syncd import mapping
from syncd.fieldmap import FieldRule, narrow
from syncd.model import Record, Side, normalise, normalise_email, phone_region
from syncd.sync.actions import Action, Conflict, Problem, Skip, Update
from syncd.sync.policy import Policy

SIDES = (Side.WHMCS, Side.WORDPRESS)

#: The (side, key) of creates whose outcome is unknown (``StateStore.pending_creates()``).
Pending = Mapping[tuple[Side, str], Any]



@dataclass(frozen=True, slots=True)
class Claims:
    """The claims on emails the actions planned so far make, per side: ``released`` the accounts
    whose email they change (each gives its old key up by the time the next actions run);
    ``taken`` the keys they give an account, with its id (no other account may take it too)."""

    released: Mapping[Side, Set[int]]
    taken: Mapping[Side, Mapping[str, int]]


def email_move(action: Action) -> tuple[Side, int, str] | None:
    """(side, account, new key) if ``action`` gives an account another email, else None."""
    if isinstance(action, Update) and "email" in action.changes:
        new = normalise_email(action.changes["email"][1])
        if new != action.record.key:
            return action.record.side, action.record.remote_id, new
    return None




@dataclass(frozen=True, slots=True)
class Context:
    """The inputs every rule reads. ``fields``: the configured common fields both sides can
    store (email always), then the mapped fields compared at every run; ``dummy``: the
    configured dummies of those fields, and for a mapped field its ``default`` (a stand-in for
    "no value", like a dummy); ``rules``: the mapped fields both sides can store and this run's
    direction lets through (``apply = "on_create"`` ones too), each with its direction narrowed
    to the run's; ``kinds``: their kinds, by name."""

    policy: Policy
    fields: tuple[str, ...]
    dummy: Mapping[str, str]
    pending: Pending
    rules: Mapping[str, FieldRule] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, policy: Policy, whmcs_fields: tuple[str, ...], wp_fields: tuple[str, ...],
           pending: Pending) -> Context:
        fields = tuple(f for f in policy.fields if f == "email" or (f in whmcs_fields and f in wp_fields))
        dummy = {k: v for k, v in policy.dummy_values.items() if k in fields}
        if not policy.mapped:
            return cls(policy, fields, dummy, pending)
        rules: dict[str, FieldRule] = {}
        for rule in policy.mapped:
            direction = narrow(policy.direction, rule.direction)
            # A side that cannot store the field (meta not exposed, say) never has it written,
            # and never blanks the other side with it (DESIGN §9).
            if direction is not None and rule.name in whmcs_fields and rule.name in wp_fields:
                rules[rule.name] = FieldRule(rule.name, rule.wordpress, rule.kind, direction=direction,
                                             apply=rule.apply, default=rule.default)
        for name, rule in rules.items():
            stand_in = rule.default or policy.dummy_values.get(name, "")
            if stand_in:
                dummy[name] = stand_in
        fields += tuple(n for n, r in rules.items() if r.apply == "always" and n not in fields)
        return cls(policy, fields, dummy, pending, rules, {n: r.kind for n, r in rules.items()})

    def optional(self, name: str) -> bool:
        """True for a mapped field: one a record may lack when its side did not read it this run."""
        return name in self.rules

    def region(self, fields: Mapping[str, str]) -> str:
        """The region a national phone number of these values is read in: their own country
        when the country is mapped and known, else the configured default."""
        country = fields.get("country", "") if "country" in self.rules else ""
        return phone_region(country, self.policy.phone_region)

    def norm(self, name: str, value: str, fields: Mapping[str, str]) -> str:
        """``value`` of field ``name`` normalised by its kind (``fields``: the values it sits among)."""
        kind = self.kinds.get(name)
        if kind is None:
            return normalise(name, value)
        return normalise(name, value, kind, self.region(fields) if kind == "phone" else "")

    def is_dummy(self, name: str, value: str | None, remembered: Set[str] = frozenset()) -> bool:
        """True if ``value`` is the configured dummy of ``name`` (a WHMCS value standing for "empty").

        A dummy country is a real country too ("US"): for a country field the value is a stand-in
        only where syncd remembers writing it (``remembered``, the link's dummy fields)."""
        if name in self.kinds:
            if self.kinds[name] == "country" and name not in remembered:
                return False
            return value is not None and name in self.dummy and normalise(
                name, value, self.kinds[name], self.policy.phone_region) == normalise(
                name, self.dummy[name], self.kinds[name], self.policy.phone_region)
        return name in self.dummy and mapping.is_dummy(name, value, self.dummy)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided for one user.

    ``users``: how many user numbers it took (the driver hands out the next one). ``adopts``:
    unlinked accounts (side, key) it took out of the pool (a user who came back), so first
    contact and creation never see them; ``frees``: accounts a re-link put another account in
    the place of (a Closed client), unlinked from then on, so first contact sees them. The
    emails its updates give up and take are read from its actions (``email_move``).
    """

    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    problems: tuple[Problem, ...] = ()
    skips: tuple[Skip, ...] = ()
    users: int = 0
    deletions: int = 0
    adopts: tuple[tuple[Side, str], ...] = ()
    frees: tuple[Record, ...] = ()


def account(record: Record) -> str:
    """How a message names an account: "WordPress user #12"."""
    return f"{record.side.account} #{record.remote_id}"


def active(record: Record) -> bool:
    """Active as syncd sees it: a WordPress user with a role, a WHMCS client neither Inactive nor Closed."""
    if record.side is Side.WORDPRESS:
        return bool(record.roles) and record.active
    return record.active and not record.closed
