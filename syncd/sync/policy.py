"""What a run may do: direction, priority, exclusions, deletions, and the safety guard (DESIGN §5.6-5.7).

``Policy`` is plain data built by the caller from the settings and the command line
(``syncd.app.policy_of``): the core never imports the configuration layer. ``guard_message``
is the safety guard: it says, in plain words, why a plan must not run, or None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

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
    what a re-activated WordPress user gets when its old roles are unknown.
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


def guard_message(
    *, deletions: int, links: int, live_links: Mapping[Side, int], empty_sides: Sequence[Side], policy: Policy
) -> str | None:
    """Why this plan must stop before any write (DESIGN §5.7), or None if it may run.

    ``deletions`` counts the users the plan would deactivate or mark gone; ``links`` all
    links; ``live_links`` the links whose record on that side is not gone yet;
    ``empty_sides`` the sides whose listing came back empty. ``force`` is not looked at
    here: the caller decides whether a tripped guard is overridden.
    """
    reasons: list[str] = []
    for side in empty_sides:
        if live_links.get(side, 0) > 0:
            reasons.append(
                f"{side.display} listed no users at all while {live_links[side]} linked users should be there "
                "(a failed or filtered read must never look like 'everyone was deleted')"
            )
    if deletions > policy.max_deletes:
        reasons.append(f"it would deactivate or unlink {deletions} users, more than max_deletes = {policy.max_deletes}")
    if links >= 10 and deletions * 100 > policy.max_delete_percent * links:
        share = deletions * 100 / links
        reasons.append(
            f"it would deactivate or unlink {deletions} of {links} linked users ({share:.0f}%), more than "
            f"max_delete_percent = {policy.max_delete_percent:g}%"
        )
    if not reasons:
        return None
    return (
        "safety guard: the run was stopped before writing anything, because "
        + "; and ".join(reasons)
        + ". Check both sides; if this is really intended, run `syncd sync --force` once to let it through."
    )
