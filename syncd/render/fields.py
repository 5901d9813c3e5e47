"""The field map in what an operator reads (DESIGN §9): mapped fields named as the operator wrote
them (``phonenumber ↔ meta.billing_phone``), each write's before → after and why, a value not read
shown as "not read", and the map's fields a run does not carry with the reason.

Used by the dry run and the run report (``render.run``) and ``explain`` (``render.explain``).
Core fields go through the same lines, so both read alike; without a field map the action lines
are the actions' own sentences plus, for an update, why each field is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from syncd.model import Direction, Record
from syncd.render.items import JSON, plural
from syncd.sync.actions import Action, Conflict, Create, Problem, Update
from syncd.sync.fieldview import MappedField, create_values, field_writes, value_text


def _who(record: Record) -> str:
    return f"{record.side.account} {record.label()} (#{record.remote_id})"


def _labels(mapped: Sequence[MappedField]) -> dict[str, str]:
    return {f.rule.name: f.label for f in mapped}


def action_line(action: Action, actions: Sequence[Action], conflicts: Sequence[Conflict],
                mapped: Sequence[MappedField], direction: Direction) -> str:
    """One planned action in words: an update field by field (before → after, and why), a create
    with mapped fields by their labels; any other action as it describes itself."""
    if type(action) is Update:  # a Park (an email in transit) says it its own way
        writes = field_writes(action, actions, conflicts, mapped, direction)
        return f"update {_who(action.record)}: " + "; ".join(w.describe() for w in writes)
    if isinstance(action, Create) and mapped:
        return _create_line(action, mapped)
    return action.describe()


def _create_line(action: Create, mapped: Sequence[MappedField]) -> str:
    shown = ", ".join(f"{name} {value!r}" + (f" ({note})" if note else "")
                      for name, value, note in create_values(action, mapped))
    text = f"create {action.target.account} {action.send.get('email', action.key)} from {_who(action.source)}"
    if shown:
        text += f": {shown}"
    if action.pending:
        text += "; an earlier attempt's outcome is unknown, so it is looked up first"
    return text


def action_json(action: Action, actions: Sequence[Action], conflicts: Sequence[Conflict],
                mapped: Sequence[MappedField], direction: Direction) -> JSON:
    """The action's own JSON, with each field an update writes (label, before — null when not
    read —, after, why) and, for a create, the label of each mapped field it sends."""
    out = action.to_json()
    if type(action) is Update:
        out["fields"] = [w.to_json() for w in field_writes(action, actions, conflicts, mapped, direction)]
    elif isinstance(action, Create) and mapped:
        out["description"] = _create_line(action, mapped)
        labels = _labels(mapped)
        out["labels"] = {name: labels[name] for name in action.send if name in labels}
        out["on_create"] = sorted(f.rule.name for f in mapped if f.on_create and f.rule.name in action.send)
    return out


def conflict_line(conflict: Conflict, mapped: Sequence[MappedField]) -> str:
    """A conflict, its field by its label."""
    text = conflict.describe()
    label = _labels(mapped).get(conflict.field)
    return text.replace(f"conflict on {conflict.field} ", f"conflict on {label} ", 1) if label else text


def problem_line(problem: Problem, mapped: Sequence[MappedField]) -> str:
    """A problem, its field by its label."""
    label = _labels(mapped).get(problem.field)
    if label is None:
        return problem.describe()
    return f"{problem.side.display}: {problem.key}: {label} {problem.message}"


def mapped_lines(mapped: Sequence[MappedField], unread: tuple[int, int] = (0, 0)) -> list[str]:
    """The field map as a run sees it: each field and how it is carried (or why not), and the
    records whose mapped values were not read in this run."""
    if not mapped:
        return []
    lines = [f"mapped fields ([[fields]], preset): {plural(len(mapped), 'field')}"]
    lines += [f"  {f.describe()}" for f in mapped]
    whmcs, wp = unread
    if whmcs:
        lines.append(
            f"  not read in this run for {plural(whmcs, 'WHMCS client')}: WHMCS lists no client details, so they "
            "are read in full passes (sync --full, [sync] full_resync_cron) and for new and first-contact "
            "clients; WordPress-side edits are carried now, WHMCS-side edits at the next full pass")
    if wp:
        lines.append(f"  not read in this run for {plural(wp, 'WordPress user')}: left as they are")
    return lines


def _held(value: object, account: bool) -> str:
    """A side's value of a mapped field: quoted, "not read", or "no account" on that side."""
    return value_text(value if isinstance(value, str) else None) if account else "no account"


def field_state_lines(states: Sequence[Mapping[str, object]]) -> list[str]:
    """``explain``: each mapped field of one user, both values and what a run does with it."""
    lines = []
    for s in states:
        whmcs, wp, base, accounts = s["whmcs"], s["wordpress"], s["base"], s["accounts"]
        held = accounts if isinstance(accounts, list) else []
        values = f"WHMCS {_held(whmcs, 'whmcs' in held)}, WordPress {_held(wp, 'wordpress' in held)}"
        if isinstance(base, str):
            values += f", agreed {base!r}"
        lines.append(f"{s['label']}: {values}: {s['verdict']}")
    if any(s["whmcs"] is None and str(s["verdict"]).startswith("not read on WHMCS") for s in states):
        lines.append("(WHMCS lists no client details: they are read in full passes — sync --full, [sync] "
                     "full_resync_cron — and for new and first-contact clients)")
    return lines
