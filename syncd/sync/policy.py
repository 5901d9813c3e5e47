"""What a run may do: direction, priority, exclusions, deletions and the guard's limits (DESIGN §5.6-5.7).

``Policy`` is plain data built by the caller from the settings and the command line
(``syncd.app.policy_of``): the core never imports the configuration layer. The safety guard
that applies the limits is the planner's last stage, ``syncd.sync.stages.guard``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from syncd.fieldmap import FieldRule
from syncd.model import DEFAULT_FIELDS, Direction, Side

OnDelete = Literal["ignore", "deactivate"]

#: Excluded whatever the configuration says (DESIGN §1, §5.6).
ALWAYS_EXCLUDED_ROLES = frozenset({"administrator", "super_admin"})


@dataclass(frozen=True)
class Policy:
    """The knobs of one run.

    ``fields`` are the configured common fields (each side's ``Snapshot.fields`` narrows
    them further). ``dummy_values`` maps a common field to the dummy sent to WHMCS when the
    value is empty (empty with ``missing_fields = "skip_validation"``). ``new_user_role`` is
    what a re-activated WordPress user gets when its old roles are unknown. ``mapped`` are the
    extra fields of the field map (DESIGN §9), each under its WHMCS name; ``phone_region`` the
    country a national phone number is read in when the record has no country of its own.
    """

    direction: Direction = Direction.BOTH
    priority: Side = Side.WHMCS
    on_delete: OnDelete = "ignore"
    exclude_roles: frozenset[str] = ALWAYS_EXCLUDED_ROLES
    max_deletes: int = 10
    max_delete_percent: float = 50.0
    force: bool = False
    full: bool = False
    fields: tuple[str, ...] = DEFAULT_FIELDS
    dummy_values: Mapping[str, str] = field(default_factory=dict)
    new_user_role: str = "subscriber"
    mapped: tuple[FieldRule, ...] = ()
    phone_region: str = "US"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_roles", frozenset(self.exclude_roles) | ALWAYS_EXCLUDED_ROLES)
        object.__setattr__(self, "dummy_values", MappingProxyType(dict(self.dummy_values)))
        if "email" not in self.fields:
            object.__setattr__(self, "fields", ("email", *self.fields))

    @property
    def source(self) -> Side | None:
        """The authoritative side of a one-way run, None with direction ``both``."""
        return self.direction.source

    def may_write(self, side: Side) -> bool:
        return self.direction.allows_write_to(side)

