"""How the field map (DESIGN §9) reads to an operator: each mapped field by the names the
operator wrote, whether a run carries it and why not, and, per write, which side wins and why.
Pure: derived from the plan's policy, the fields each side reported and the plan's actions.

``syncd.render`` turns these into the lines and JSON of ``explain``, the dry run and the run
report. A mapped field's name in the core is its WHMCS name (``phonenumber``); here it reads as
``phonenumber ↔ meta.billing_phone``. A value a side did not read in this run (WHMCS lists no
details in a normal poll; WordPress meta not exposed) is ``None`` — "not read", never empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd.fieldmap import FieldRule, narrow
from syncd.model import Direction, Side
from syncd.sync.actions import Action, Conflict, Create, LinkPair, Update

#: The word shown for a value its side did not read in this run.
NOT_READ = "not read"


def label(rule: FieldRule) -> str:
    """A mapped field as the operator wrote it: ``phonenumber ↔ meta.billing_phone``."""
    return f"{rule.name} ↔ {rule.wordpress}"


def labels(rules: Sequence[FieldRule]) -> dict[str, str]:
    """The label of each mapped field, by its common (WHMCS) name; core fields have none."""
    return {rule.name: label(rule) for rule in rules}


@dataclass(frozen=True, slots=True)
class MappedField:
    """One rule of the field map as a run sees it. ``blocked`` says why the run carries it
    nowhere (a side cannot store it, or its direction lets nothing through), None when carried;
    ``direction`` is its own narrowed to the run's."""

    rule: FieldRule
    blocked: str | None
    direction: Direction | None

    @property
    def label(self) -> str:
        return label(self.rule)

    @property
    def on_create(self) -> bool:
        return self.rule.apply == "on_create"

    def describe(self) -> str:
        """How the field is carried, in a few words."""
        if self.blocked is not None:
            return f"{self.label}: not carried: {self.blocked}"
        way = {Direction.BOTH: "both ways", Direction.WHMCS_TO_WP: "WHMCS → WordPress",
               Direction.WP_TO_WHMCS: "WordPress → WHMCS"}[self.direction or Direction.BOTH]
        when = "set when the account is created, then left alone" if self.on_create else "compared at every run"
        return f"{self.label} ({self.rule.kind}, {way}): {when}"

    def to_json(self) -> dict[str, object]:
        rule = self.rule
        return {"whmcs": rule.name, "wordpress": rule.wordpress, "label": self.label, "kind": rule.kind,
                "apply": rule.apply, "direction": self.direction.value if self.direction else None,
                "default": rule.default, "carried": self.blocked is None, "not_carried_because": self.blocked}


def mapped_fields(rules: Sequence[FieldRule], direction: Direction, whmcs_fields: Sequence[str],
                  wp_fields: Sequence[str]) -> tuple[MappedField, ...]:
    """Every rule of the map, with why a run that may go ``direction`` would not carry it."""
    out = []
    for rule in rules:
        narrowed = narrow(direction, rule.direction)
        blocked = None
        if rule.name not in wp_fields:
            key = rule.meta_key or rule.wordpress
            blocked = (f"WordPress does not expose the user meta {key} in its REST API (install the syncd "
                       "companion, or register the meta; `syncd test-connection` says how)")
        elif rule.name not in whmcs_fields:
            what = ("WHMCS has no such custom client field (check its id under Setup > Custom Client Fields)"
                    if rule.name.startswith("customfield.") else "the WHMCS side does not read it")
            blocked = f"{what} (`syncd test-connection` checks the WHMCS side)"
        elif narrowed is None:
            blocked = (f"its direction {rule.direction.value} lets nothing through in a "
                       f"{direction.value} run")
        out.append(MappedField(rule, blocked, narrowed))
    return tuple(out)


def value_text(value: str | None) -> str:
    """A value as the lines show it: quoted, or "not read"."""
    return NOT_READ if value is None else repr(value)


def why(name: str, update: Update, *, first_contact: bool, conflict: Conflict | None,
        direction: Direction) -> str:
    """Why ``update`` writes field ``name`` to its side: which side wins and on what ground.

    ``first_contact``: the update settles a link made in the same run; ``conflict``: the conflict
    reported on this field, if any; ``direction``: the field's own (a mapped one's, narrowed)."""
    source = update.other.side
    target = update.record.side
    if conflict is not None:
        if conflict.first_contact:
            return f"the two sides differ at first contact: {conflict.winner.display} wins by [sync] priority"
        return f"both sides changed it: {conflict.winner.display} wins by [sync] priority"
    if direction.source is source:
        return f"{source.display} is the source ({direction.value})"
    held = update.changes[name][0]
    if first_contact:
        if not held.strip():
            return f"first contact: {target.display} has no value, {source.display}'s is copied"
        return f"first contact: {source.display}'s value is kept"
    base = update.link.base.get(name)
    if base is None:
        return f"not compared before: {source.display}'s value is copied"
    if not update.other.fields.get(name, "").strip() and base.strip():
        return f"emptied on {source.display} since the last sync, was {base!r}"
    was = repr(base) if base.strip() else "empty"
    return f"changed on {source.display} since the last sync, was {was}"


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """One field of one planned write: its label, before (None: not read) → after, and why
    (``mapped``: a field of the field map; a core field's line stays the action's own words)."""

    name: str
    label: str
    before: str | None
    after: str
    why: str
    mapped: bool = True

    def describe(self) -> str:
        text = f"{self.label} {value_text(self.before)} → {self.after!r}"
        return f"{text} ({self.why})" if self.mapped else text

    def to_json(self) -> dict[str, object]:
        return {"field": self.name, "label": self.label, "before": self.before, "after": self.after,
                "before_read": self.before is not None, "why": self.why}


def field_writes(action: Update, actions: Sequence[Action], conflicts: Sequence[Conflict],
                 fields: Sequence[MappedField], run_direction: Direction) -> tuple[FieldWrite, ...]:
    """The fields ``action`` writes, each with its label and why (``actions``: the plan's, to tell
    a first contact; ``fields``: the mapped fields of the run)."""
    first = any(isinstance(a, LinkPair) and a.user == action.user for a in actions)
    mapped = {f.rule.name: f for f in fields}
    out = []
    for name, (before, after) in action.changes.items():
        field = mapped.get(name)
        direction = field.direction if field is not None and field.direction is not None else run_direction
        conflict = next((c for c in conflicts if c.key == action.key and c.field == name), None)
        unread = field is not None and name not in action.record.fields
        out.append(FieldWrite(name, field.label if field is not None else name, None if unread else before, after,
                              why(name, action, first_contact=first, conflict=conflict, direction=direction),
                              mapped=field is not None))
    return tuple(out)


def create_values(action: Create, fields: Sequence[MappedField]) -> list[tuple[str, str, str]]:
    """What a create sends, as (label, value, note): the note says a mapped field is set on create
    only, or that a value stands in for an empty one (the field's ``default``, or the dummy)."""
    mapped = {f.rule.name: f for f in fields}
    out = []
    for name, value in action.send.items():
        if name == "email" or not value:
            continue
        field = mapped.get(name)
        notes = []
        if name in action.dummy_fields:  # (a WordPress create sends no stand-in: it is skipped above, empty)
            notes.append(f"empty on {action.source.side.display}: the field's default or the dummy")
        if field is not None and field.on_create:
            notes.append("set on create only")
        out.append((field.label if field is not None else name, value, "; ".join(notes)))
    return out


def user_field_states(fields: Sequence[MappedField], whmcs: Mapping[str, str] | None,
                      wp: Mapping[str, str] | None, base: Mapping[str, str] | None,
                      writes: Mapping[str, Side]) -> list[dict[str, object]]:
    """Each mapped field of one user (``explain``): both values (None: not read, or no account),
    the agreed base, and what a run does with it in words (``writes``: field → side written)."""
    out: list[dict[str, object]] = []
    for field in fields:
        name = field.rule.name
        wv = None if whmcs is None else whmcs.get(name)
        pv = None if wp is None else wp.get(name)
        agreed = None if base is None else base.get(name)
        if name in writes:
            verdict = f"a run would write it to {writes[name].display} (see below)"
        elif field.blocked is not None:
            verdict = f"not carried: {field.blocked}"
        elif field.on_create and base is not None:
            verdict = "set on create only: left alone now that both accounts exist"
        elif whmcs is not None and wp is not None and (wv is None or pv is None):
            unread = "WHMCS" if wv is None else "WordPress"
            verdict = f"not read on {unread} in this run: nothing to do until it is read"
        elif whmcs is None or wp is None:
            verdict = f"no {Side.WHMCS.account if whmcs is None else Side.WORDPRESS.account} to compare it with"
        else:
            verdict = "nothing to do"
        out.append({"field": name, "label": field.label, "whmcs": wv, "wordpress": pv, "base": agreed,
                    "apply": field.rule.apply, "verdict": verdict, "accounts": [
                        s.value for s, fields in ((Side.WHMCS, whmcs), (Side.WORDPRESS, wp)) if fields is not None]})
    return out
