"""The per-user history of one successful action: which fields syncd changed, before → after. Pure.

The engine calls ``changes_of`` at commit and hands the result to the store with the link, in
one transaction (DESIGN §5.9). Only common profile fields (``fields``: what the plan
synchronises; for a create also a mapped field set on create only, which its source account holds)
are taken from what was sent, so a value an adapter adds on its own — a create's random password,
a WHMCS dummy key the plan did not choose — can never reach the history.
Actions that change only the state store (rebase, re-link, mark gone) wrote nothing to a side
and leave no row, except a first-contact link, which is how a person's history begins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from syncd.model import Link, Record, Side
from syncd.ports import Change, ChangeKind
from syncd.sync.actions import Action, Create, Deactivate, LinkPair, Park, Reactivate, Update

#: What a WHMCS client's status field is called in the history, and its two values syncd writes.
STATUS, ACTIVE, INACTIVE = "status", "Active", "Inactive"
#: What a WordPress user's roles are called in the history (given as "role, role").
ROLES = "roles"
#: The pseudo-field of a link made at first contact or by hand.
LINK = "link"

#: ``changes_of``'s maker of one row: (kind, side, field, before, after) → Change.
_Make = Callable[[ChangeKind, str, str, str, str], Change]


def link_text(whmcs_id: int, wp_id: int) -> str:
    """How a pairing reads in the history."""
    return f"{Side.WHMCS.account} #{whmcs_id} with {Side.WORDPRESS.account} #{wp_id}"


def changes_of(action: Action, link: Link, result: Record | None, *, run_id: int,
               fields: Sequence[str]) -> list[Change]:
    """The history rows of ``action``, which succeeded and left ``link``; ``result`` is what its side returned."""

    def change(kind: ChangeKind, side: str, name: str, before: str, after: str) -> Change:
        return Change(key=action.key, side=side, kind=kind, field=name, before=before, after=after, run_id=run_id,
                      whmcs_id=link.whmcs_id, wp_id=link.wp_id)

    common = set(fields)
    if isinstance(action, Create):
        # A mapped field set on create only (DESIGN §9) is not compared later, so not in ``fields``:
        # it is recorded too, as a value the source account holds (never a value the adapter adds).
        held = action.source.fields
        return [change(ChangeKind.CREATE, action.target.value, name, "", value)
                for name, value in action.send.items() if value and (name in common or name in held)]
    if isinstance(action, Update):  # a Park too
        kind = ChangeKind.PARK if isinstance(action, Park) else ChangeKind.UPDATE
        return [change(kind, action.side.value, name, before, after)
                for name, (before, after) in action.changes.items() if name in common]
    if isinstance(action, Deactivate | Reactivate):
        return [_activation(action, result, change)]
    if isinstance(action, LinkPair):
        return [change(ChangeKind.LINK, "", LINK, "", link_text(link.whmcs_id, link.wp_id))]
    return []


def _activation(action: Deactivate | Reactivate, result: Record | None, change: _Make) -> Change:
    side = action.side
    if side is Side.WHMCS:
        before, after = (ACTIVE, INACTIVE) if isinstance(action, Deactivate) else (INACTIVE, ACTIVE)
        kind = ChangeKind.DEACTIVATE if isinstance(action, Deactivate) else ChangeKind.REACTIVATE
        return change(kind, side.value, STATUS, before, after)
    if isinstance(action, Deactivate):
        return change(ChangeKind.DEACTIVATE, side.value, ROLES, ", ".join(action.record.roles), "")
    # The roles given back: what the side reports, else those asked for (empty: the new-user role).
    roles = result.roles if result is not None and result.roles else action.roles
    return change(ChangeKind.REACTIVATE, side.value, ROLES, "", ", ".join(roles))


def manual_link(key: str, whmcs_id: int, wp_id: int) -> list[Change]:
    """The history row of ``syncd link``: two records paired by hand, outside any run."""
    return [Change(key=key, side="", kind=ChangeKind.MANUAL_LINK, field=LINK, before="",
                   after=link_text(whmcs_id, wp_id), whmcs_id=whmcs_id, wp_id=wp_id)]


def manual_unlink(key: str, whmcs_id: int, wp_id: int) -> list[Change]:
    """The history row of ``syncd unlink``: a pair forgotten by hand, outside any run."""
    return [Change(key=key, side="", kind=ChangeKind.MANUAL_UNLINK, field=LINK, before=link_text(whmcs_id, wp_id),
                   after="", whmcs_id=whmcs_id, wp_id=wp_id)]
