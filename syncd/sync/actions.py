"""The items of a plan: actions the engine executes, and report-only items. Pure data.

Every action belongs to one user of the plan (``user``, a number local to the plan; the
engine runs a user's actions in order and stops that user at its first failure) and names
the user by ``key``. An action carries what the engine needs to execute it and, through
``link_after``, how the link looks once it succeeded, so each success is committed at once
(DESIGN §5.9). ``describe()`` says it in plain words; ``to_json()`` is for ``--dry-run --json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

from syncd.model import Link, Record, Side

JSON = dict[str, Any]


def _q(value: str) -> str:
    return repr(value)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _who(record: Record) -> str:
    return f"{record.side.account} {record.label()} (#{record.remote_id})"


def _sides(sides: frozenset[Side]) -> str:
    return " and ".join(s.display for s in sorted(sides))


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    """Something a run does for one user.

    Slotted: a first run plans one action per user, and 100,000 instance dictionaries would
    cost the garbage collector more than the planning itself. (Hence ``Action.to_json(self)``
    below rather than ``super()``, which slotted dataclasses do not support on Python 3.11.)
    """

    kind: ClassVar[str] = "action"
    user: int
    key: str

    @property
    def side(self) -> Side | None:
        """The side this action writes to; None when it only changes the state store."""
        return None

    def records(self) -> Mapping[Side, Record]:
        """The user's records as the plan saw them, by side."""
        return {}

    def describe(self) -> str:
        raise NotImplementedError

    def link_after(self, link: Link | None, result: Record | None) -> Link | None:
        """The link once this action succeeded (``result`` is what the side returned), or None
        when the action has no link to save."""
        raise NotImplementedError

    def remote_ids(self) -> set[tuple[Side, int]]:
        return {(s, r.remote_id) for s, r in self.records().items()}

    def to_json(self) -> JSON:
        out: JSON = {"action": self.kind, "description": self.describe()}
        if self.side is not None:
            out["side"] = self.side.value
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Create(Action):
    """Create the account of ``source`` on ``side`` (the other side) and link the two."""

    kind: ClassVar[str] = "create"
    target: Side
    source: Record
    send: Mapping[str, str]
    base: Mapping[str, str]
    dummy_fields: frozenset[str] = frozenset()
    pending: bool = False  # an earlier create's outcome is unknown: look the key up first

    def __post_init__(self) -> None:
        object.__setattr__(self, "send", _frozen(self.send))
        object.__setattr__(self, "base", _frozen(self.base))

    @property
    def side(self) -> Side:
        return self.target

    def records(self) -> Mapping[Side, Record]:
        return {self.source.side: self.source}

    def describe(self) -> str:
        shown = ", ".join(f"{k} {_q(v)}" for k, v in self.send.items() if k != "email" and v)
        text = f"create {self.target.account} {self.send.get('email', self.key)} from {_who(self.source)}"
        if shown:
            text += f": {shown}"
        if self.dummy_fields:
            text += f" ({', '.join(sorted(self.dummy_fields))} filled with the configured dummy)"
        if self.pending:
            text += "; an earlier attempt's outcome is unknown, so it is looked up first"
        return text

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        assert result is not None, "a create returns the new record"
        whmcs, wp = (self.source, result) if self.source.side is Side.WHMCS else (result, self.source)
        return Link(
            whmcs_id=whmcs.remote_id,
            wp_id=wp.remote_id,
            base=self.base,
            owner_user_id=whmcs.owner_user_id,
            dummy_fields=self.dummy_fields,
        )

    def to_json(self) -> JSON:
        out = Action.to_json(self)
        out.update(
            source={"side": self.source.side.value, "remote_id": self.source.remote_id},
            fields=dict(self.send),
            dummy_fields=sorted(self.dummy_fields),
            pending=self.pending,
        )
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Update(Action):
    """Write changed common fields to ``record`` on its side. ``changes``: field → (before, after).

    ``base`` holds the base values those fields get once written; ``dummy_add``/``dummy_drop``
    the fields whose WHMCS value becomes, or stops being, a configured dummy.
    """

    kind: ClassVar[str] = "update"
    record: Record
    other: Record
    changes: Mapping[str, tuple[str, str]]
    base: Mapping[str, str]
    link: Link
    dummy_add: frozenset[str] = frozenset()
    dummy_drop: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", _frozen(self.changes))
        object.__setattr__(self, "base", _frozen(self.base))

    @property
    def side(self) -> Side:
        return self.record.side

    def send(self) -> dict[str, str]:
        """The values to write: the new value of each changed field, as it is."""
        return {name: after for name, (_before, after) in self.changes.items()}

    def records(self) -> Mapping[Side, Record]:
        return {self.record.side: self.record, self.other.side: self.other}

    def describe(self) -> str:
        parts = "; ".join(f"{k} {_q(b)} → {_q(a)}" for k, (b, a) in self.changes.items())
        return f"update {_who(self.record)}: {parts}"

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        owner = link.owner_user_id
        if self.side is Side.WHMCS and result is not None and result.owner_user_id is not None:
            owner = result.owner_user_id
        return replace(
            link,
            base={**link.base, **self.base},
            dummy_fields=(link.dummy_fields - self.dummy_drop) | self.dummy_add,
            owner_user_id=owner,
        )

    def to_json(self) -> JSON:
        out = Action.to_json(self)
        out.update(
            remote_id=self.record.remote_id,
            changes={k: {"before": b, "after": a} for k, (b, a) in self.changes.items()},
        )
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Park(Update):
    """Move ``record`` to its temporary address (``mapping.transit_email``) so that another linked
    account can take its email: the first step of an email swap or cycle (DESIGN §5.3, issue 10).
    The base is left as it is (``base`` is empty): the address is in transit, never a value both
    sides agree on, and a run that finds it there takes it for the base. ``final`` is the email
    the account gets later in the same plan, once its own new email is free."""

    final: str

    def describe(self) -> str:
        before, after = self.changes["email"]
        return (f"park {_who(self.record)} on the temporary address {_q(after)} while users swap emails: "
                f"it gives {_q(before)} up now and gets {_q(self.final)} later in this run")


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkPair(Action):
    """First contact (DESIGN §5.4): link two existing accounts with the same key."""

    kind: ClassVar[str] = "link"
    whmcs: Record
    wp: Record
    base: Mapping[str, str]
    dummy_fields: frozenset[str] = frozenset()
    gone: frozenset[Side] = frozenset()
    settles: Side | None = None  # the side of an unconfirmed create this link settles

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _frozen(self.base))

    def records(self) -> Mapping[Side, Record]:
        return {Side.WHMCS: self.whmcs, Side.WORDPRESS: self.wp}

    def describe(self) -> str:
        text = f"link {_who(self.whmcs)} with {_who(self.wp)}"
        if Side.WHMCS in self.gone:
            text += " (the client is Closed: nothing is copied until it is active again)"
        if self.settles is not None:
            text += f" (settles an earlier {self.settles.display} create whose outcome was unknown)"
        return text

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        return Link(
            whmcs_id=self.whmcs.remote_id,
            wp_id=self.wp.remote_id,
            base=self.base,
            owner_user_id=self.whmcs.owner_user_id,
            gone=self.gone,
            dummy_fields=self.dummy_fields,
        )

    def to_json(self) -> JSON:
        out = Action.to_json(self)
        out.update(whmcs_id=self.whmcs.remote_id, wp_id=self.wp.remote_id)
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Relink(Action):
    """A user who had left a side is back (DESIGN §5.7): point the link at the current records."""

    kind: ClassVar[str] = "relink"
    link: Link
    whmcs: Record
    wp: Record
    back: frozenset[Side]
    base: Mapping[str, str]
    dummy_fields: frozenset[str] = frozenset()
    deactivated_drop: frozenset[Side] = frozenset()
    still_gone: frozenset[Side] = frozenset()  # a side still gone after the re-link (a Closed client)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _frozen(self.base))

    def records(self) -> Mapping[Side, Record]:
        return {Side.WHMCS: self.whmcs, Side.WORDPRESS: self.wp}

    def describe(self) -> str:
        changes = []
        for side, record in self.records().items():
            if side in self.back:
                old = self.link.remote_id(side)
                if old == record.remote_id:
                    changes.append(f"{_who(record)} is active again")
                else:
                    changes.append(f"{_who(record)} takes the place of #{old}")
        if self.still_gone:
            changes.append(f"still gone from {_sides(self.still_gone)}: nothing is copied")
        return f"re-link {self.key}: " + "; ".join(changes)

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        deactivated = link.deactivated - self.deactivated_drop
        return replace(
            link,
            whmcs_id=self.whmcs.remote_id,
            wp_id=self.wp.remote_id,
            owner_user_id=self.whmcs.owner_user_id or link.owner_user_id,
            base=self.base,
            gone=(link.gone - self.back) | self.still_gone,
            deactivated=deactivated,
            saved_roles=link.saved_roles if Side.WORDPRESS in deactivated else (),
            dummy_fields=self.dummy_fields,
        )

    def to_json(self) -> JSON:
        out = Action.to_json(self)
        out.update(whmcs_id=self.whmcs.remote_id, wp_id=self.wp.remote_id, back=sorted(s.value for s in self.back))
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Rebase(Action):
    """Only the state store changes: both sides already agree (e.g. both changed a field the
    same way), a dummy stopped being one, a survivor is active again, or a Closed client is back."""

    kind: ClassVar[str] = "rebase"
    link: Link
    base: Mapping[str, str] = field(default_factory=dict)
    dummy_drop: frozenset[str] = frozenset()
    deactivated_drop: frozenset[Side] = frozenset()
    gone_drop: frozenset[Side] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _frozen(self.base))

    def describe(self) -> str:
        parts = []
        if self.base:
            parts.append("both sides agree on " + ", ".join(f"{k} {_q(v)}" for k, v in self.base.items()))
        if self.dummy_drop:
            parts.append(f"WHMCS holds real values for {', '.join(sorted(self.dummy_drop))} now")
        if self.deactivated_drop:
            parts.append(f"already active again on {_sides(self.deactivated_drop)}")
        if self.gone_drop:
            parts.append(f"back on {_sides(self.gone_drop)}")
        return f"record for {self.key}: " + "; ".join(parts)

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        deactivated = link.deactivated - self.deactivated_drop
        return replace(
            link,
            base={**link.base, **self.base},
            dummy_fields=link.dummy_fields - self.dummy_drop,
            deactivated=deactivated,
            saved_roles=link.saved_roles if Side.WORDPRESS in deactivated else (),
            gone=link.gone - self.gone_drop,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Deactivate(Action):
    """The user left ``gone``; deactivate the survivor ``record`` (on_delete = "deactivate")."""

    kind: ClassVar[str] = "deactivate"
    record: Record
    link: Link
    gone: frozenset[Side]
    gone_drop: frozenset[Side] = frozenset()

    @property
    def side(self) -> Side:
        return self.record.side

    def records(self) -> Mapping[Side, Record]:
        return {self.record.side: self.record}

    def describe(self) -> str:
        what = "set its status to Inactive" if self.side is Side.WHMCS else (
            f"take its roles away ({', '.join(self.record.roles)} remembered)"
        )
        return f"deactivate {_who(self.record)}: it is gone from {_sides(self.gone)}; {what}"

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        return replace(
            link,
            gone=(link.gone - self.gone_drop) | self.gone,
            deactivated=link.deactivated | {self.side},
            saved_roles=tuple(self.record.roles) if self.side is Side.WORDPRESS else link.saved_roles,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Reactivate(Action):
    """Re-activate a survivor syncd deactivated, now that its partner is back."""

    kind: ClassVar[str] = "reactivate"
    record: Record
    link: Link
    roles: tuple[str, ...] = ()

    @property
    def side(self) -> Side:
        return self.record.side

    def records(self) -> Mapping[Side, Record]:
        return {self.record.side: self.record}

    def describe(self) -> str:
        what = "status Active" if self.side is Side.WHMCS else f"roles {', '.join(self.roles)}"
        return f"re-activate {_who(self.record)}: {what}"

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        deactivated = link.deactivated - {self.side}
        return replace(
            link,
            deactivated=deactivated,
            saved_roles=link.saved_roles if Side.WORDPRESS in deactivated else (),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class MarkGone(Action):
    """The user left ``sides``; keep the link, marked gone there (on_delete = "ignore", or no
    survivor to deactivate). The missing account is never recreated."""

    kind: ClassVar[str] = "mark_gone"
    link: Link
    sides: frozenset[Side]
    survivor: Record | None = None
    gone_drop: frozenset[Side] = frozenset()

    def records(self) -> Mapping[Side, Record]:
        return {} if self.survivor is None else {self.survivor.side: self.survivor}

    def remote_ids(self) -> set[tuple[Side, int]]:
        return {(Side.WHMCS, self.link.whmcs_id), (Side.WORDPRESS, self.link.wp_id)}

    def describe(self) -> str:
        text = f"mark {self.key} gone from {_sides(self.sides)}"
        if self.survivor is not None:
            text += f"; {_who(self.survivor)} is left as it is"
        return text

    def link_after(self, link: Link | None, result: Record | None) -> Link:
        link = link or self.link
        return replace(link, gone=(link.gone - self.gone_drop) | self.sides)


@dataclass(frozen=True, kw_only=True, slots=True)
class ForgetPending(Action):
    """An unconfirmed create on ``target`` is no longer wanted and its account does not exist."""

    kind: ClassVar[str] = "forget_pending"
    target: Side

    def describe(self) -> str:
        return f"forget the unconfirmed {self.target.display} create of {self.key}: there is no such account to settle"

    def link_after(self, link: Link | None, result: Record | None) -> Link | None:
        return None


# --- report-only items --------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """Both sides held different values for ``field``; ``winner``'s value was kept."""

    key: str
    field: str
    winner: Side
    winning: str
    losing: str
    first_contact: bool = False

    def describe(self) -> str:
        when = "at first contact " if self.first_contact else "both sides changed it; "
        return (
            f"conflict on {self.field} of {self.key}: {when}{self.winner.display} wins with {_q(self.winning)}, "
            f"{self.winner.other.display}'s {_q(self.losing)} is overwritten"
        )

    def to_json(self) -> JSON:
        return {
            "key": self.key, "field": self.field, "winner": self.winner.value, "winning": self.winning,
            "losing": self.losing, "first_contact": self.first_contact,
        }


@dataclass(frozen=True)
class Problem:
    """Input that cannot be synchronised as it is (an invalid email, a value too long…)."""

    key: str
    side: Side
    field: str
    message: str

    def describe(self) -> str:
        return f"{self.side.display}: {self.key}: {self.field} {self.message}"

    def to_json(self) -> JSON:
        return {"key": self.key, "side": self.side.value, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Duplicate:
    """Several accounts share one key on one side: all are left alone until it is fixed."""

    key: str
    side: Side
    remote_ids: tuple[int, ...]

    def describe(self) -> str:
        ids = ", ".join(f"#{i}" for i in self.remote_ids)
        return (
            f"{len(self.remote_ids)} {self.side.account}s share the email {self.key} ({ids}); "
            "they are left alone until only one has it"
        )

    def to_json(self) -> JSON:
        return {"key": self.key, "side": self.side.value, "remote_ids": list(self.remote_ids)}


@dataclass(frozen=True)
class Skip:
    """A user the plan deliberately leaves alone, and why (logged at DEBUG)."""

    key: str
    reason: str

    def describe(self) -> str:
        return f"skip {self.key}: {self.reason}"

    def to_json(self) -> JSON:
        return {"key": self.key, "reason": self.reason}
