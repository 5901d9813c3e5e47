"""The two seams between the pure core and the world: a side adapter and the state store.

The engine (``syncd.sync.engine``) talks only to these Protocols, so it runs the same
against the real adapters, the emulators, and the in-memory sides of the tests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from syncd.model import Link, Record, Side, Snapshot


class RunOutcome(StrEnum):
    """How a run ended, as the engine reports it, the store keeps it and JSON shows it (the
    values are those strings)."""

    OK = "ok"  # got to the end, nobody failed
    ERRORS = "errors"  # got to the end; some users failed (retried next run): exit 1
    REFUSED = "refused"  # a side refused a permission mid-run: its users failed, the others went on: exit 3
    GUARD = "guard"  # a safety guard stopped it before any write: exit 4
    FAILED = "failed"  # a side or the state store failed: it stopped there
    STOPPED = "stopped"  # a stop was requested (SIGTERM): the rest waits for the next run
    RUNNING = "running"  # begun and not finished (yet)
    INTERRUPTED = "interrupted"  # was still running when a later run began: the process died
    DRY_RUN = "dry-run"  # a dry run: nothing written, not even the run
    LOCKED = "locked"  # never began: another run held the lock (the daemon's metrics count it)
    MANUAL = "manual"  # not a run: an operator's `syncd link` / `syncd unlink`, recorded with the runs

    @property
    def completed(self) -> bool:
        """The run went through to the end (some users may have failed)."""
        return self in (RunOutcome.OK, RunOutcome.ERRORS)


#: The outcomes of runs that went through to the end.
COMPLETED = frozenset({RunOutcome.OK, RunOutcome.ERRORS})


@runtime_checkable
class RunReportLike(Protocol):
    """What the daemon's metrics and status line need from a run report. ``errors`` and
    ``conflicts`` may be counts or collections (their length is used)."""

    @property
    def counts(self) -> Mapping[str, int]: ...

    @property
    def errors(self) -> int | Sized: ...

    @property
    def conflicts(self) -> int | Sized: ...

    @property
    def duration_seconds(self) -> float | None: ...

    @property
    def outcome(self) -> str: ...


def count_of(value: int | Sized) -> int:
    """A count given as a number or as a collection."""
    return value if isinstance(value, int) else len(value)


@dataclass(frozen=True)
class Details:
    """What ``SideAdapter.details`` read: account id → the mapped fields read for it (a field left
    out was not read), and ``unreadable``: the mapped fields the side turned out not to have (a
    WHMCS custom field id the install does not define), never to be written or compared."""

    values: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    unreadable: frozenset[str] = frozenset()


class SideAdapter(Protocol):
    """One side (WHMCS or WordPress) as the engine sees it.

    Every method raises only ``syncd.errors`` classes. Listings are complete or raise
    (``IncompleteListing``, ``NotAnApi``, ``AccessDenied``, ``Unreachable``): a failed
    read is never an empty list. Writes refuse protected accounts with ``RefusedWrite``.
    A write whose reply was lost raises ``OutcomeUnknown``.
    """

    side: Side

    def snapshot(self) -> Snapshot:
        """Every user of this side, its admins' emails and the fields it can store."""
        ...

    def find_by_email(self, email: str) -> list[Record]:
        """The records whose email equals ``email`` exactly (case-insensitively)."""
        ...

    def lookup(self, emails: Collection[str], ids: Collection[int]) -> Snapshot:
        """A partial snapshot, for one user (``syncd sync --user``, ``link``): the accounts whose
        email is one of ``emails`` (case-insensitively) or whose id is one of ``ids`` (an id that
        no longer exists is simply absent), and the admins' emails as ``snapshot()`` gives them
        (all of them, or at least those of the accounts returned). Never a complete listing:
        nobody's absence from it means anything."""
        ...

    def details(self, ids: Collection[int]) -> Details:
        """The mapped fields (DESIGN §9) of the accounts ``ids``, which the listing does not carry
        (WHMCS: one GetClientsDetails per client, ``concurrency`` at a time). An account gone since
        the listing is simply absent; a failed read raises like a failed listing, never "no value".
        A side whose listing carries its mapped fields already (WordPress) returns an empty one."""
        ...

    def create(self, fields: Mapping[str, str]) -> Record:
        """Create an account from common fields; the adapter adds what its side requires
        (a WordPress username and role, WHMCS's required fields and owner user)."""
        ...

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        """Write changed common fields; WHMCS also updates the client's owner user."""
        ...

    def deactivate(self, record: Record) -> Record:
        """WHMCS: status Inactive. WordPress: no role left (the caller keeps the roles)."""
        ...

    def reactivate(self, record: Record, roles: Sequence[str] = ()) -> Record:
        """WHMCS: status Active. WordPress: give back ``roles`` (or the new-user role)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class RunSummary:
    """One finished run as the store keeps it."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    direction: str
    full: bool
    outcome: RunOutcome
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: int = 0
    conflicts: int = 0
    message: str = ""
    user: str | None = None  # the key of a one-user run (``syncd sync --user``); None for a whole run

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class LinkStats:
    """How many links the store holds: in all, gone from a side, deactivated by syncd on a side."""

    total: int = 0
    gone: int = 0  # from either side
    deactivated: int = 0  # on either side
    gone_whmcs: int = 0
    gone_wordpress: int = 0
    deactivated_whmcs: int = 0
    deactivated_wordpress: int = 0


@dataclass(frozen=True)
class UserIssue:
    """A user in error or in conflict, as ``syncd status`` shows it."""

    key: str
    side: str
    kind: str  # "error" | "conflict" | "duplicate" (an email several accounts share on one side)
    message: str
    first_seen: datetime
    last_seen: datetime
    run_id: int


class ChangeKind(StrEnum):
    """What kind of write a history row records (the values are what the store keeps and JSON shows)."""

    CREATE = "create"  # an account created on the side written
    UPDATE = "update"  # common fields written
    PARK = "park"  # an email moved to its transit address during a swap (the second step is an update)
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    LINK = "link"  # two existing accounts linked at first contact
    MANUAL_LINK = "manual link"  # ``syncd link``: paired by hand
    MANUAL_UNLINK = "manual unlink"  # ``syncd unlink``: a pair forgotten by hand


@dataclass(frozen=True)
class Change:
    """One field syncd changed for one person: a row of the per-user history (``syncd history``).

    ``field`` is a common profile field (email, names, company…), ``status`` or ``roles`` for a
    (re-)deactivation, or ``link`` for a pairing; ``before``/``after`` are its values. Never a
    password or a secret: only the common fields' values reach it. ``side`` is the side written
    ("whmcs" or "wordpress"), empty for a change of the link alone. ``run_id`` is None for a
    change made by hand outside a run (``syncd link``/``unlink``).
    """

    key: str
    side: str
    kind: ChangeKind
    field: str
    before: str
    after: str
    run_id: int | None = None
    whmcs_id: int | None = None
    wp_id: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """A ``Change`` as the store keeps it: with when it was recorded."""

    at: datetime
    change: Change


class StateStore(Protocol):
    """The state store (DESIGN §3.3). Every method commits before it returns, so a crash
    loses nothing that was recorded. It never stores a password or a secret."""

    def links(self) -> list[Link]:
        """Every link, gone ones included."""
        ...

    def save_link(self, link: Link, *, history: Sequence[Change] = ()) -> None:
        """Insert or replace the link of ``link.whmcs_id`` / ``link.wp_id``; ``history`` (the changes
        of the write this link records) is kept in the same transaction, so neither is lost alone."""
        ...

    def save_links(self, links: Sequence[tuple[Link, Sequence[Change]]]) -> None:
        """``save_link`` for each (link, history) of ``links``, in one transaction: all are kept
        or none. For actions that wrote nothing remote (first contact): a batch, one commit."""
        ...

    def pending_creates(self) -> dict[tuple[Side, str], datetime]:
        """Creates sent but not confirmed, by (side, key): settle by lookup before retrying."""
        ...

    def mark_pending_create(self, side: Side, key: str) -> None: ...

    def clear_pending_create(self, side: Side, key: str) -> None: ...

    def begin_run(self, *, direction: str, full: bool, user: str | None = None) -> int:
        """Record a run as started and return its id (``user``: the key of a one-user run). Runs still
        recorded as ``running`` become ``interrupted``: a run begins under the run lock, so none of
        them can still be going."""
        ...

    def delete_link(self, whmcs_id: int, wp_id: int, *, history: Sequence[Change] = ()) -> bool:
        """Forget the link of exactly this pair (``syncd unlink``); False if there was none."""
        ...

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: RunOutcome,
        counts: Mapping[str, int],
        errors: int,
        conflicts: int,
        message: str = "",
    ) -> None: ...

    def record_issue(self, run_id: int, *, key: str, side: str, kind: str, message: str) -> None:
        """Record (or refresh) an error or conflict for one user."""
        ...

    def resolve_issues(self, key: str, *, kind: str | None = None) -> None:
        """Mark a user's open issues resolved (after a clean action for them); ``kind`` narrows it."""
        ...

    def open_issues(self) -> list[UserIssue]: ...

    def runs(self, limit: int = 10) -> list[RunSummary]:
        """The latest runs, newest first."""
        ...

    def close(self) -> None: ...
