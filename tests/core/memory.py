"""In-memory fakes of a side (``SideAdapter``) and of the state store (``StateStore``).

Fakes, not mocks: they keep real state and enforce what the real sides enforce, as far as
the engine can tell — unique emails in any case, ids assigned by the side, required WHMCS
names (the adapter fills the configured dummies, as the real one does), WordPress's field
limits, logins unique in any case, admins refused. Every write is counted (``writes``), and
the test environment edits the sides behind syncd's back with the ``external_*`` methods,
which are not counted. Failures are injected with ``fail_next``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from syncd import mapping
from syncd.errors import (
    DuplicateEmail,
    InvalidRecord,
    NotFound,
    RefusedWrite,
    RemoteRejected,
    SideError,
    StateError,
    SyncdError,
)
from syncd.model import DEFAULT_FIELDS, Link, Record, Side, Snapshot, normalise_email
from syncd.ports import Change, Details, RunSummary, UserIssue

DUMMY = {"first_name": "Not provided", "last_name": "Not provided"}


@dataclass
class Account:
    """One account as the side itself keeps it."""

    remote_id: int
    fields: dict[str, str]
    status: str = "Active"  # WHMCS: Active | Inactive | Closed
    roles: list[str] = field(default_factory=list)  # WordPress
    owner_user_id: int | None = None  # WHMCS 8
    username: str = ""  # WordPress login

    @property
    def key(self) -> str:
        return normalise_email(self.fields.get("email", ""))


@dataclass
class _Failure:
    op: str
    exc: SyncdError
    key: str | None
    after_write: bool
    times: int


class MemorySide:
    """One side in memory, implementing ``syncd.ports.SideAdapter`` (and the adapter's own duties:
    WordPress usernames and role on create, WHMCS dummies and owner user)."""

    def __init__(
        self,
        side: Side,
        *,
        fields: Sequence[str] = DEFAULT_FIELDS,
        exclude_roles: Sequence[str] = ("administrator",),
        new_user_role: str = "subscriber",
        username_scheme: Literal["email", "name"] = "email",
        missing_fields: Literal["dummy", "skip_validation"] = "dummy",
        dummy: Mapping[str, str] = DUMMY,
    ) -> None:
        self.side = side
        self.fields = tuple(fields)
        self.exclude_roles = frozenset(exclude_roles)
        self.new_user_role = new_user_role
        self.username_scheme: Literal["email", "name"] = username_scheme
        self.missing_fields = missing_fields
        self.dummy = dict(dummy)
        self.accounts: dict[int, Account] = {}
        self.admins: set[str] = set()  # WHMCS admin users' emails (normalised)
        self.owner_users: dict[int, dict[str, str]] = {}  # WHMCS 8 users: id -> email/first/last
        self.next_id = 1 if side is Side.WHMCS else 101
        self.writes: list[tuple[str, int]] = []
        self.calls: Counter[str] = Counter()
        self.listing_error: SideError | None = None
        #: Mapped fields this side's listing does not read (WHMCS's GetClients lists no details):
        #: absent from its records, as DESIGN §9's "not read in this run".
        self.unread: set[str] = set()
        #: Whether ``details`` reads the ``unread`` fields (as WHMCS's GetClientsDetails does);
        #: off, every account looks gone by the time its details are asked for.
        self.details_readable = False
        self.details_error: SideError | None = None
        self._failures: list[_Failure] = []

    # -- the environment (behind syncd's back; not counted) --------------------------------

    def external_add(
        self, email: str, first_name: str = "", last_name: str = "", company: str = "", *,
        status: str = "Active", roles: Sequence[str] | None = None,
    ) -> int:
        values = {"email": email, "first_name": first_name, "last_name": last_name, "company": company}
        account = self._new(values)
        account.status = status
        if self.side is Side.WORDPRESS:
            account.roles = list(["subscriber"] if roles is None else roles)
        return account.remote_id

    def external_edit(self, remote_id: int, **values: str) -> None:
        account = self.accounts[remote_id]
        account.fields.update(values)
        self._sync_owner(account, values)

    def external_delete(self, remote_id: int) -> None:
        del self.accounts[remote_id]

    def external_status(self, remote_id: int, status: str) -> None:
        self.accounts[remote_id].status = status

    def external_roles(self, remote_id: int, roles: Sequence[str]) -> None:
        self.accounts[remote_id].roles = list(roles)

    def fail_next(
        self, op: str, exc: SyncdError, *, email: str | None = None, after_write: bool = False, times: int = 1
    ) -> None:
        """Make the next ``op`` ("create", "update", "deactivate", "reactivate", "find") for
        ``email`` (any, if None) raise ``exc`` — after doing the write, with ``after_write``
        (a reply lost on the way back)."""
        key = normalise_email(email) if email else None
        self._failures.append(_Failure(op, exc, key, after_write, times))

    def by_email(self, email: str) -> list[Account]:
        key = normalise_email(email)
        return [a for a in self.accounts.values() if a.key == key]

    def reset_counts(self) -> None:
        self.writes.clear()
        self.calls.clear()

    # -- SideAdapter -----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.calls["snapshot"] += 1
        if self.listing_error is not None:
            raise self.listing_error
        return Snapshot(
            side=self.side,
            records=tuple(self._record(a) for a in sorted(self.accounts.values(), key=lambda a: a.remote_id)),
            admin_emails=frozenset(self._admin_keys()),
            fields=self.fields,
        )

    def details(self, ids: Collection[int]) -> Details:
        """The ``unread`` fields of the accounts ``ids`` (one call each, counted as "details")."""
        self.calls["details"] += len(ids)
        if self.details_error is not None:
            raise self.details_error
        if not self.details_readable:
            return Details()
        return Details(values={i: {k: v for k, v in self.accounts[i].fields.items() if k in self.unread}
                               for i in ids if i in self.accounts})

    def find_by_email(self, email: str) -> list[Record]:
        self.calls["find"] += 1
        self._maybe_fail("find", email, before=True)
        return [self._record(a) for a in self.by_email(email)]

    def create(self, fields: Mapping[str, str]) -> Record:
        self.calls["create"] += 1
        email = fields.get("email", "")
        self._maybe_fail("create", email, before=True)
        values = {k: v for k, v in fields.items() if k in self.fields}
        if self.side is Side.WHMCS and self.missing_fields == "dummy":
            values, _ = mapping.fill_dummies(values, self.dummy)
        self._refuse_admin(email)
        self._validate(values, "a new account")
        if self.by_email(email):
            raise DuplicateEmail(f"{self.side.display} already has an account with the email {email}",
                                 side=self.side.value, code="duplicate")
        account = self._new(values)
        if self.side is Side.WORDPRESS:
            account.roles = [self.new_user_role]
        self.writes.append(("create", account.remote_id))
        self._maybe_fail("create", email, before=False)
        return self._record(account)

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        self.calls["update"] += 1
        self._maybe_fail("update", record.email, before=True)
        account = self._existing(record)
        self._refuse_protected(account)
        unknown = sorted(set(changes) - set(self.fields))
        if unknown:
            raise InvalidRecord(f"{self.side.display} has no field {unknown[0]}", user=record.label(), field=unknown[0])
        if "email" in changes:
            self._refuse_admin(changes["email"])
            if any(a.remote_id != account.remote_id for a in self.by_email(changes["email"])):
                raise DuplicateEmail(f"{changes['email']} is used by another account", side=self.side.value)
        self._validate({**account.fields, **changes}, record.label())
        account.fields.update(changes)
        self._sync_owner(account, changes)
        self.writes.append(("update", account.remote_id))
        self._maybe_fail("update", record.email, before=False)
        return self._record(account)

    def deactivate(self, record: Record) -> Record:
        self.calls["deactivate"] += 1
        self._maybe_fail("deactivate", record.email, before=True)
        account = self._existing(record)
        self._refuse_protected(account)
        if self.side is Side.WHMCS:
            if account.status != "Closed":
                account.status = "Inactive"
        else:
            account.roles = []
        self.writes.append(("deactivate", account.remote_id))
        self._maybe_fail("deactivate", record.email, before=False)
        return self._record(account)

    def reactivate(self, record: Record, roles: Sequence[str] = ()) -> Record:
        self.calls["reactivate"] += 1
        self._maybe_fail("reactivate", record.email, before=True)
        account = self._existing(record)
        self._refuse_protected(account)
        if self.side is Side.WHMCS:
            account.status = "Active"
        else:
            wanted = list(roles) or [self.new_user_role]
            if self.exclude_roles.intersection(wanted):
                raise RefusedWrite(f"refusing to grant {wanted} to {record.label()}")
            account.roles = wanted
        self.writes.append(("reactivate", account.remote_id))
        self._maybe_fail("reactivate", record.email, before=False)
        return self._record(account)

    def close(self) -> None:
        self.calls["close"] += 1

    # -- inside ----------------------------------------------------------------------------

    def _new(self, values: Mapping[str, str]) -> Account:
        account = Account(remote_id=self.next_id, fields={k: values.get(k, "") for k in self.fields})
        self.next_id += 1
        if self.side is Side.WHMCS:
            owner = 5000 + account.remote_id
            account.owner_user_id = owner
            self.owner_users[owner] = {k: account.fields.get(k, "") for k in ("email", "first_name", "last_name")}
        else:
            taken = {a.username.lower() for a in self.accounts.values()}
            account.username = mapping.unique_username(self.username_scheme, account.fields, taken)
        self.accounts[account.remote_id] = account
        return account

    def _sync_owner(self, account: Account, changes: Mapping[str, str]) -> None:
        # WHMCS 8: the client's owner user carries the login email and names (DESIGN §5.8).
        if account.owner_user_id is not None:
            user = self.owner_users[account.owner_user_id]
            user.update({k: v for k, v in changes.items() if k in user})

    def _record(self, account: Account) -> Record:
        fields = {k: v for k, v in account.fields.items() if k not in self.unread}
        if self.side is Side.WHMCS:
            return Record(
                side=self.side, remote_id=account.remote_id, fields=fields,
                active=account.status == "Active", closed=account.status == "Closed",
                owner_user_id=account.owner_user_id, status=account.status,
            )
        return Record(
            side=self.side, remote_id=account.remote_id, fields=fields, active=bool(account.roles),
            roles=tuple(account.roles), username=account.username,
        )

    def _admin_keys(self) -> set[str]:
        if self.side is Side.WHMCS:
            return set(self.admins)
        return {a.key for a in self.accounts.values() if self.exclude_roles.intersection(a.roles)}

    def _existing(self, record: Record) -> Account:
        account = self.accounts.get(record.remote_id)
        if account is None:
            raise NotFound(f"{self.side.account} #{record.remote_id} does not exist", side=self.side.value)
        return account

    def _refuse_admin(self, email: str) -> None:
        if normalise_email(email) in self._admin_keys():
            raise RefusedWrite(f"refusing to write {email}: it belongs to an admin of {self.side.display}")

    def _refuse_protected(self, account: Account) -> None:
        if self.exclude_roles.intersection(account.roles):
            raise RefusedWrite(f"refusing to write {self.side.account} #{account.remote_id}: excluded role")
        self._refuse_admin(account.fields.get("email", ""))

    def _validate(self, values: Mapping[str, str], who: str) -> None:
        found = mapping.problems(self.side, values)
        if found:
            name, message = found[0]
            raise InvalidRecord(f"{who}: {name} {message}", user=who, field=name)
        if self.side is Side.WHMCS and self.missing_fields == "dummy":
            for name in ("first_name", "last_name"):
                if name in values and not values[name].strip():
                    raise RemoteRejected(f"You did not enter your {name.replace('_', ' ')}", side=self.side.value,
                                         code="validation")

    def _maybe_fail(self, op: str, email: str, *, before: bool) -> None:
        key = normalise_email(email)
        for failure in self._failures:
            if failure.op == op and failure.after_write is not before and failure.key in (None, key):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise failure.exc


def _clock() -> Callable[[], datetime]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ticks = iter(range(10**9))
    return lambda: start + timedelta(seconds=next(ticks))


@dataclass
class _Issue:
    key: str
    side: str
    kind: str
    message: str
    first_seen: datetime
    last_seen: datetime
    run_id: int
    resolved: bool = False


class MemoryStore:
    """The state store in memory, implementing ``syncd.ports.StateStore``; ``saves`` counts link writes."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or _clock()
        self._links: dict[int, Link] = {}
        self._pending: dict[tuple[Side, str], datetime] = {}
        self._runs: list[RunSummary] = []
        self._issues: list[_Issue] = []
        self.saves = 0
        self.history: list[Change] = []  # every change the engine recorded with a link, in order
        self.fail_saves: StateError | None = None

    def links(self) -> list[Link]:
        return list(self._links.values())

    def save_link(self, link: Link, *, history: Sequence[Change] = ()) -> None:
        if self.fail_saves is not None:
            raise self.fail_saves
        self.history.extend(history)
        for whmcs_id, old in list(self._links.items()):
            if old.whmcs_id == link.whmcs_id or old.wp_id == link.wp_id:
                del self._links[whmcs_id]
        self._links[link.whmcs_id] = link
        self.saves += 1

    def save_links(self, links: Sequence[tuple[Link, Sequence[Change]]]) -> None:
        if self.fail_saves is not None:  # all or none, as in one transaction
            raise self.fail_saves
        for link, history in links:
            self.save_link(link, history=history)

    def pending_creates(self) -> dict[tuple[Side, str], datetime]:
        return dict(self._pending)

    def mark_pending_create(self, side: Side, key: str) -> None:
        self._pending.setdefault((side, key), self.now())

    def clear_pending_create(self, side: Side, key: str) -> None:
        self._pending.pop((side, key), None)

    def begin_run(self, *, direction: str, full: bool, user: str | None = None) -> int:
        self._runs = [replace(r, outcome="interrupted") if r.outcome == "running" else r for r in self._runs]
        run_id = len(self._runs) + 1
        self._runs.append(RunSummary(run_id=run_id, started_at=self.now(), finished_at=None, direction=direction,
                                     full=full, outcome="running", user=user))
        return run_id

    def finish_run(
        self, run_id: int, *, outcome: str, counts: Mapping[str, int], errors: int, conflicts: int, message: str = ""
    ) -> None:
        run = self._runs[run_id - 1]
        self._runs[run_id - 1] = replace(run, finished_at=self.now(), outcome=outcome, counts=dict(counts),
                                         errors=errors, conflicts=conflicts, message=message)

    def record_issue(self, run_id: int, *, key: str, side: str, kind: str, message: str) -> None:
        now = self.now()
        for issue in self._issues:
            if (issue.key, issue.side, issue.kind, issue.resolved) == (key, side, kind, False):
                issue.message, issue.last_seen, issue.run_id = message, now, run_id
                return
        self._issues.append(_Issue(key, side, kind, message, now, now, run_id))

    def resolve_issues(self, key: str, *, kind: str | None = None) -> None:
        for issue in self._issues:
            if issue.key == key and (kind is None or issue.kind == kind):
                issue.resolved = True

    def open_issues(self) -> list[UserIssue]:
        return [
            UserIssue(key=i.key, side=i.side, kind=i.kind, message=i.message, first_seen=i.first_seen,
                      last_seen=i.last_seen, run_id=i.run_id)
            for i in self._issues if not i.resolved
        ]

    def runs(self, limit: int = 10) -> list[RunSummary]:
        return list(reversed(self._runs))[:limit]

    def close(self) -> None:
        pass
