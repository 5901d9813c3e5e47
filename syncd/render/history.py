"""``syncd history EMAIL``: what syncd changed for one person, field by field, newest first, as text and JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from syncd.model import Side
from syncd.ports import ChangeKind, HistoryEntry

JSON = dict[str, Any]

#: How each kind of change reads in a sentence.
_VERBS = {
    ChangeKind.CREATE: "created",
    ChangeKind.UPDATE: "updated",
    ChangeKind.PARK: "parked on a temporary address (email swap)",
    ChangeKind.DEACTIVATE: "deactivated",
    ChangeKind.REACTIVATE: "re-activated",
    ChangeKind.LINK: "linked at first contact",
    ChangeKind.MANUAL_LINK: "linked by hand (syncd link)",
    ChangeKind.MANUAL_UNLINK: "unlinked by hand (syncd unlink)",
}


def _where(entry: HistoryEntry) -> str:
    change = entry.change
    if not change.side:
        return ""
    side = Side(change.side)
    remote = change.whmcs_id if side is Side.WHMCS else change.wp_id
    return f" {side.account}" + (f" #{remote}" if remote is not None else "")


def change_line(entry: HistoryEntry, labels: Mapping[str, str] = MappingProxyType({})) -> str:
    """One change in one line: when, which run, what was written where, before → after; a mapped
    field by its label (``labels``: the field map's, ``phonenumber ↔ meta.billing_phone``)."""
    change = entry.change
    when = entry.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    run = f"run {change.run_id}" if change.run_id is not None else "by hand"
    if change.kind in (ChangeKind.LINK, ChangeKind.MANUAL_LINK, ChangeKind.MANUAL_UNLINK):
        what = change.after or change.before
        return f"{when}  {run}: {_VERBS[change.kind]}: {what}"
    name = labels.get(change.field, change.field)
    if change.kind is ChangeKind.CREATE:
        values = f"{name} {change.after!r}"
    else:
        values = f"{name} {change.before!r} → {change.after!r}"
    return f"{when}  {run}:{_where(entry)} {_VERBS[change.kind]}: {values}"


def history_text(email: str, entries: Sequence[HistoryEntry], *, limited: bool = False,
                 labels: Mapping[str, str] = MappingProxyType({})) -> str:
    """The history of ``email``, or a plain sentence when there is none (``labels``: see ``change_line``)."""
    if not entries:
        return (f"No history for {email}: syncd has recorded no change for that email, current or past. "
                "Check the spelling; a change older than the kept runs (90 days) is forgotten.")
    runs = {e.change.run_id for e in entries if e.change.run_id is not None}
    head = (f"What syncd changed for {email}: {len(entries)} change{'' if len(entries) == 1 else 's'} "
            f"in {len(runs)} run{'' if len(runs) == 1 else 's'}, newest first")
    if limited:
        head += " (only the latest shown: --limit)"
    return "\n".join([head + ":", *(f"  {change_line(e, labels)}" for e in entries)])


def entry_json(entry: HistoryEntry, labels: Mapping[str, str] = MappingProxyType({})) -> JSON:
    change = entry.change
    label = {"label": labels[change.field]} if change.field in labels else {}  # a mapped field's
    return {**label,
        "at": entry.at.isoformat(), "run_id": change.run_id, "key": change.key, "side": change.side or None,
        "kind": change.kind.value, "field": change.field, "before": change.before, "after": change.after,
        "whmcs_id": change.whmcs_id, "wp_id": change.wp_id,
    }


def history_json(email: str, entries: Sequence[HistoryEntry], *, limited: bool = False,
                 labels: Mapping[str, str] = MappingProxyType({})) -> JSON:
    return {"email": email, "found": bool(entries), "limited": limited,
            "changes": [entry_json(e, labels) for e in entries]}
