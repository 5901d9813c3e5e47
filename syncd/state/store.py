"""``SqlStateStore``: the ``StateStore`` of ``syncd.ports`` on SQLModel, SQLite by default, PostgreSQL by URL.

Every method is one transaction, committed before it returns, so a crash loses nothing that
was recorded. ``open()`` upgrades the schema to the newest migration. On SQLite the store
runs in WAL mode with a busy timeout and foreign keys on; every database failure (locked,
disk full, read-only, unreachable) becomes a ``StateError`` with a plain message that names
the database but never a password.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, or_
from sqlalchemy import select as core_select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from syncd.errors import ConfigError, StateError
from syncd.model import Fields, Link, Side, normalise_email
from syncd.ports import COMPLETED, Change, ChangeKind, HistoryEntry, LinkStats, RunOutcome, RunSummary, UserIssue
from syncd.state import db, migrate
from syncd.state import url as state_url
from syncd.state.tables import HistoryRow, IssueRow, LinkRow, PendingCreateRow, RunRow

#: History kept by the store: resolved issues and runs younger than this, and at least the latest KEEP_RUNS runs.
KEEP_DAYS = 90
KEEP_RUNS = 100
INTERRUPTED_MESSAGE = (
    "the run stopped without recording its end (the process was killed or the machine went down); "
    "a later run read both sides again and carried on"
)

def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlStateStore:
    """The state store. Build it with ``SqlStateStore.open(url)``; close it with ``close()``."""

    def __init__(
        self,
        engine: Engine,
        url: URL,
        *,
        read_only: bool,
        busy_timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._url = url
        self._read_only = read_only
        self._busy_timeout = busy_timeout
        self._clock = clock
        #: How messages name this database (a path, or a URL without its password).
        self.location = state_url.location(url)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for tools and tests that inspect the database itself."""
        return self._engine

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        url: str,
        *,
        create: bool = True,
        read_only: bool = False,
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        sqlite_pragmas: Mapping[str, int | str] | None = None,
    ) -> Self:
        """Open the store at ``url`` and upgrade its schema to the newest migration.

        ``create=False`` refuses a store that does not exist yet (StateError) instead of
        creating it. ``read_only=True`` never creates a file, never migrates and never
        writes; a missing store, or one whose schema is not the newest, is a StateError.
        ``busy_timeout`` (seconds) is how long a write waits for a lock held by another
        program before StateError. ``sqlite_pragmas`` are set on every SQLite connection
        (for tests: ``{"max_page_count": n}`` makes a small disk).
        """
        parsed = state_url.parse(url)
        where = state_url.location(parsed)
        path = state_url.sqlite_path(parsed)
        is_sqlite = parsed.get_backend_name() == state_url.SQLITE
        if is_sqlite and path is None and (read_only or not create):
            raise StateError(f"{where} cannot be opened {'read-only' if read_only else 'without creating it'}")
        if path is not None and (read_only or not create) and not path.is_file():
            raise StateError(f"no state database at {path} yet (syncd has not run here)")
        if path is not None and create and not read_only and not path.parent.is_dir():
            # A new store only where its directory exists: a mistyped state_url must not start afresh
            # (relinking everyone at first contact) in a directory tree made up for it.
            raise ConfigError("invalid configuration:", state_url.directory_problems(url))
        engine = db.make_engine(parsed, path, read_only=read_only, busy_timeout=busy_timeout,
                                pragmas=sqlite_pragmas or {})
        store = cls(engine, parsed, read_only=read_only, busy_timeout=busy_timeout, clock=clock)
        try:
            store._prepare(create=create and not read_only, read_only=read_only)
        except BaseException:
            engine.dispose()
            raise
        return store

    @staticmethod
    def exists(url: str) -> bool:
        """True if a syncd state store exists at ``url``; creates, migrates and writes nothing.

        A missing file or an empty database is False; an unreachable or broken one is a StateError.
        """
        parsed = state_url.parse(url)
        path = state_url.sqlite_path(parsed)
        if parsed.get_backend_name() == state_url.SQLITE and (path is None or not path.is_file()):
            return False
        engine = db.make_engine(parsed, path, read_only=True, busy_timeout=5.0, pragmas={})
        probe = SqlStateStore(engine, parsed, read_only=True, busy_timeout=5.0, clock=_utcnow)
        try:
            with probe._errors("reading the schema version"), engine.connect() as conn:
                return migrate.current(conn) is not None
        finally:
            engine.dispose()

    def _prepare(self, *, create: bool, read_only: bool) -> None:
        with self._errors("reading the schema version"), self._engine.connect() as conn:
            # Tables first, revision second: another process creating the store commits both at
            # once, so seen in this order a half-made schema can only be a real one (read the
            # other way round, its commit could fall between the two reads).
            ours = migrate.foreign_tables(conn)
            found = migrate.current(conn)
            if found is not None:
                ours = []
            conn.rollback()
        head = migrate.head()
        if found == head:
            return
        if found is not None and not migrate.known(found):
            raise StateError(
                f"the state database {self.location} is at schema revision {found}, which this syncd does not "
                f"know: it was written by a newer syncd. Upgrade syncd (this one knows up to {head})."
            )
        if found is None and ours:
            raise StateError(
                f"the state database {self.location} has tables {', '.join(ours)} but no schema revision: "
                "it was not made by syncd, or its creation was interrupted. Give syncd an empty database."
            )
        if read_only:
            if found is None:
                raise StateError(f"the state database {self.location} is empty (syncd has not run here yet)")
            raise StateError(
                f"the state database {self.location} is at schema revision {found}; this syncd needs {head}. "
                "The next run that writes (syncd sync or syncd run) upgrades it."
            )
        if found is None and not create:
            raise StateError(f"the state database {self.location} is empty (syncd has not run here yet)")
        try:
            writer = self._engine.execution_options(syncd_write=True)
            with self._errors("upgrading the schema"), writer.begin() as conn:
                migrate.upgrade(conn)
        except migrate.MigrationFailed as exc:
            raise StateError(f"cannot upgrade the state database {self.location}: {db.first_line(exc)}") from exc

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn any database failure into a StateError with a plain message."""
        try:
            yield
        except StateError:
            raise
        except SQLAlchemyError as exc:
            raise self._state_error(exc, doing) from exc
        except sqlite3.Error as exc:  # raised directly by our connect hook's pragmas
            raise self._state_error(exc, doing) from exc

    def _state_error(self, exc: BaseException, doing: str) -> StateError:
        return db.state_error(exc, doing, where=self.location, busy_timeout=self._busy_timeout,
                              read_only=self._read_only)

    @contextmanager
    def _session(self, doing: str, *, write: bool) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any failure."""
        if write and self._read_only:
            raise StateError(f"the state store {self.location} was opened read-only; {doing} needs write access")
        engine = self._engine.execution_options(syncd_write=write)
        with self._errors(doing), Session(engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # ----------------------------------------------------------------- links

    def links(self) -> list[Link]:
        """Every link, gone ones included, by WHMCS client id."""
        # Plain driver rows, decoded here: every run reads every link, and at 100,000 links
        # ORM objects or SQLAlchemy's per-value type processing cost more than the rest.
        # Streamed in batches rather than fetched all at once: 100,000 raw rows alive next to
        # the links made from them cost ~100 MB of peak memory that the process kept afterwards.
        with self._session("reading the links", write=False) as s:
            result = s.connection().exec_driver_sql(_LINKS_QUERY)
            return [_link(*row) for batch in result.partitions(_LINKS_BATCH) for row in batch]

    def links_of(self, *, whmcs_ids: Iterable[int] = (), wp_id: int | None = None) -> list[Link]:
        """The links of the WHMCS clients ``whmcs_ids``, or of WordPress user ``wp_id``, by WHMCS client
        id. Indexed lookups (both ids are unique), not a read of every link: the intake's password and
        login paths ask this for one person at a time."""
        ids = sorted({int(i) for i in whmcs_ids})
        column, values = ("wp_id", [int(wp_id)]) if wp_id is not None else ("whmcs_id", ids)
        if not values:
            return []
        with self._session("reading a link", write=False) as s:
            connection = s.connection()
            marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"  # as _insert_rows
            where = f" WHERE {column} IN ({', '.join([marker] * len(values))}) ORDER BY"
            rows = connection.exec_driver_sql(_LINKS_QUERY.replace(" ORDER BY", where, 1), tuple(values)).all()
        return [_link(*row) for row in rows]

    def save_link(self, link: Link, *, history: Sequence[Change] = ()) -> None:
        """Insert or replace the link of ``link.whmcs_id`` / ``link.wp_id``.

        A link that shared either id with ``link`` is replaced, so both ids stay unique;
        the row of the same WHMCS client keeps its creation time. ``history``, the changes of
        the write this link records, is kept in the same transaction (DESIGN §5.9).
        """
        with self._session(f"saving the link of WHMCS client {link.whmcs_id}", write=True) as s:
            _put_link(s.connection(), link, history, self._now())

    def save_links(self, links: Sequence[tuple[Link, Sequence[Change]]]) -> None:
        """``save_link`` for each (link, history) of ``links``, in one transaction: all are kept or none.

        Links whose ids no row holds yet (first contact, nearly always) are inserted together,
        their history too; the others are replaced one by one as ``save_link`` does."""
        if not links:
            return
        with self._session(f"saving the links of {len(links)} users", write=True) as s:
            connection = s.connection()
            now = self._now()
            w_ids, p_ids = [link.whmcs_id for link, _ in links], [link.wp_id for link, _ in links]
            held = connection.execute(_LINKS_HELD, {"w": w_ids, "p": p_ids}).all()
            if not held and len(set(w_ids)) == len(w_ids) and len(set(p_ids)) == len(p_ids):
                # Through untyped columns, the JSON serialised here once and the time converted
                # once for the batch: SQLAlchemy's per-value processing of the typed columns cost
                # about a third of a first run's CPU per link.
                at = _bound_time(now, connection)
                _insert_rows(connection, _LINKS_TABLE, [_lean_link_values(link, at) for link, _ in links])
                history = [_history_values(c, at) for _, changes in links for c in changes]
                if history:
                    _insert_rows(connection, _HISTORY_TABLE, history)
                return
            for link, changes in links:
                _put_link(connection, link, changes, now)

    # ----------------------------------------------------------------- history

    def record_history(self, history: Sequence[Change]) -> None:
        """Keep ``history`` rows on their own (a change with no link to save, e.g. ``syncd unlink``)."""
        if not history:
            return
        with self._session(f"recording the history of {history[0].key}", write=True) as s:
            now = self._now()
            s.connection().execute(_HISTORY_INSERT, [_history_values(c, now) for c in history])

    def history(self, email: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """What syncd changed for the person with ``email`` (current or past), newest first.

        The person is found by key, and by an email change to or from it; then every row of the
        WHMCS clients and WordPress users found there is taken too, so the whole history shows
        whichever of the person's emails is asked for."""
        key = normalise_email(email)
        with self._session(f"reading the history of {key}", write=False) as s:
            table = _HISTORY_TABLE.c
            named = or_(table.key == key, (table.field_name == "email") & (
                (func.lower(table.old_value) == key) | (func.lower(table.new_value) == key)))
            seen = s.connection().execute(core_select(table.whmcs_id, table.wp_id).where(named)).all()
            whmcs_ids = {r.whmcs_id for r in seen if r.whmcs_id is not None}
            wp_ids = {r.wp_id for r in seen if r.wp_id is not None}
            query = (core_select(_HISTORY_TABLE)
                     .where(or_(named, table.whmcs_id.in_(whmcs_ids), table.wp_id.in_(wp_ids)))
                     .order_by(table.at.desc(), table.id))  # newest write first; a write's fields in the order written
            if limit is not None:
                query = query.limit(max(0, limit))
            return [_history_entry(row) for row in s.connection().execute(query).all()]

    def delete_link(self, whmcs_id: int, wp_id: int, *, history: Sequence[Change] = ()) -> bool:
        """Forget the link of exactly this pair (``syncd unlink``); False if there was none. The
        next run sees the two accounts as unlinked, as if syncd had never paired them. ``history``
        is recorded in the same transaction."""
        with self._session(f"removing the link of WHMCS client {whmcs_id}", write=True) as s:
            connection = s.connection()
            result = connection.execute(
                _LINKS_TABLE.delete().where(_LINKS_TABLE.c.whmcs_id == whmcs_id, _LINKS_TABLE.c.wp_id == wp_id))
            if result.rowcount and history:
                now = self._now()
                connection.execute(_HISTORY_INSERT, [_history_values(c, now) for c in history])
            return bool(result.rowcount)

    def link_stats(self) -> LinkStats:
        """Counts of links: total, gone (either side), deactivated (either side), and per side."""
        with self._session("counting the links", write=False) as s:
            def count(*conditions: Any) -> int:
                query = select(func.count()).select_from(LinkRow)
                if conditions:
                    query = query.where(or_(*conditions))
                return int(s.exec(query).one())

            return LinkStats(
                total=count(),
                gone=count(col(LinkRow.gone_whmcs), col(LinkRow.gone_wordpress)),
                deactivated=count(col(LinkRow.deactivated_whmcs), col(LinkRow.deactivated_wordpress)),
                gone_whmcs=count(col(LinkRow.gone_whmcs)),
                gone_wordpress=count(col(LinkRow.gone_wordpress)),
                deactivated_whmcs=count(col(LinkRow.deactivated_whmcs)),
                deactivated_wordpress=count(col(LinkRow.deactivated_wordpress)),
            )

    # ----------------------------------------------------------------- pending creates

    def pending_creates(self) -> dict[tuple[Side, str], datetime]:
        """Creates sent but not confirmed, by (side, key), with when they were first sent."""
        with self._session("reading the pending creates", write=False) as s:
            rows = s.exec(select(PendingCreateRow)).all()
            return {(Side(r.side), r.key): r.since for r in rows}

    def mark_pending_create(self, side: Side, key: str) -> None:
        """Remember a create about to be sent; marking it again keeps the first time."""
        with self._session(f"marking a pending create for {key}", write=True) as s:
            if s.get(PendingCreateRow, (side.value, key)) is None:
                s.add(PendingCreateRow(side=side.value, key=key, since=self._now()))

    def clear_pending_create(self, side: Side, key: str) -> None:
        with self._session(f"clearing the pending create for {key}", write=True) as s:
            row = s.get(PendingCreateRow, (side.value, key))
            if row is not None:
                s.delete(row)

    # ----------------------------------------------------------------- runs

    def begin_run(self, *, direction: str, full: bool, user: str | None = None) -> int:
        """Record a run as started (outcome ``running``) and return its id; earlier runs still
        ``running`` (their process was killed, or the machine went down) become ``interrupted``,
        and history older than KEEP_DAYS is pruned (``_prune``). ``user``: the key of a one-user run."""
        with self._session("recording the start of a run", write=True) as s:
            now = self._now()
            self._prune(s, now)
            for stale in s.exec(select(RunRow).where(col(RunRow.outcome) == RunOutcome.RUNNING.value)).all():
                stale.outcome = RunOutcome.INTERRUPTED.value
                stale.message = INTERRUPTED_MESSAGE
                s.add(stale)
            row = RunRow(started_at=now, direction=direction, full_run=full, outcome=RunOutcome.RUNNING.value,
                         user_key=user)
            s.add(row)
            s.flush()
            assert row.id is not None
            return row.id

    def _prune(self, s: Session, now: datetime) -> None:
        """Forget old history, so a daemon running every few minutes does not grow the store
        forever: issues resolved more than KEEP_DAYS ago, and runs started before then, except
        the latest KEEP_RUNS runs and any run an open or kept issue points at; with each run, the
        history rows it wrote; and the rows of changes made by hand more than KEEP_DAYS ago."""
        cutoff = now - timedelta(days=KEEP_DAYS)
        s.execute(delete(IssueRow).where(col(IssueRow.resolved_at) < cutoff))
        s.execute(delete(HistoryRow).where(col(HistoryRow.run_id).is_(None), col(HistoryRow.at) < cutoff))
        floor = s.exec(select(RunRow.id).order_by(col(RunRow.id).desc()).offset(KEEP_RUNS - 1).limit(1)).first()
        if floor is not None:
            old = select(RunRow.id).where(
                col(RunRow.started_at) < cutoff, col(RunRow.id) < floor, col(RunRow.id).not_in(select(IssueRow.run_id)),
            )
            s.execute(delete(HistoryRow).where(col(HistoryRow.run_id).in_(old)))
            s.execute(delete(RunRow).where(col(RunRow.id).in_(old)))

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: RunOutcome | str,
        counts: Mapping[str, int],
        errors: int,
        conflicts: int,
        message: str = "",
    ) -> None:
        with self._session(f"recording the end of run {run_id}", write=True) as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise StateError(f"run {run_id} is not in the state database {self.location}")
            row.finished_at = self._now()
            row.outcome = RunOutcome(outcome).value  # one of the outcomes, or ValueError
            row.counts = {str(k): int(v) for k, v in counts.items()}
            row.errors = errors
            row.conflicts = conflicts
            row.message = message
            s.add(row)

    def runs(self, limit: int = 10, *, whole: bool = False) -> list[RunSummary]:
        """The latest runs, newest first; ``whole``: only runs over every user (not a one-user run,
        not a manual link or unlink, not one still going)."""
        with self._session("reading the runs", write=False) as s:
            query = select(RunRow)
            if whole:
                query = query.where(col(RunRow.user_key).is_(None), col(RunRow.outcome).not_in(
                    [RunOutcome.MANUAL.value, RunOutcome.RUNNING.value]))
            rows = s.exec(query.order_by(col(RunRow.id).desc()).limit(max(0, limit))).all()
            return [_run(r) for r in rows]

    def last_success(self) -> datetime | None:
        """When the latest run over every user that got to the end (outcome ``ok`` or ``errors``)
        finished: a one-user run (an event's) says nothing of the polls that keep everyone in step."""
        with self._session("reading the runs", write=False) as s:
            found = s.exec(
                select(func.max(RunRow.finished_at)).where(col(RunRow.outcome).in_([str(o) for o in COMPLETED]),
                                                           col(RunRow.user_key).is_(None))
            ).one()
            # func.max bypasses the column type on some dialects: normalise to aware UTC here.
            if found is None:
                return None
            if isinstance(found, str):
                found = datetime.fromisoformat(found)
            assert isinstance(found, datetime)
            return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)

    # ----------------------------------------------------------------- issues

    def record_issue(self, run_id: int, *, key: str, side: str, kind: str, message: str) -> None:
        """Record an error or conflict for one user, or refresh the open one of the same key, side and kind."""
        with self._session(f"recording an issue for {key}", write=True) as s:
            now = self._now()
            row = s.exec(
                select(IssueRow).where(
                    col(IssueRow.key) == key,
                    col(IssueRow.side) == side,
                    col(IssueRow.kind) == kind,
                    col(IssueRow.resolved_at).is_(None),
                )
            ).first()
            if row is None:
                row = IssueRow(key=key, side=side, kind=kind, message=message, first_seen=now, last_seen=now,
                               run_id=run_id)
            else:
                row.message = message
                row.last_seen = now
                row.run_id = run_id
            s.add(row)

    def resolve_issues(self, key: str, *, kind: str | None = None) -> None:
        """Mark a user's open issues resolved (after a clean action for them); ``kind`` narrows it."""
        with self._session(f"resolving the issues of {key}", write=True) as s:
            query = select(IssueRow).where(col(IssueRow.key) == key, col(IssueRow.resolved_at).is_(None))
            if kind is not None:
                query = query.where(col(IssueRow.kind) == kind)
            now = self._now()
            for row in s.exec(query).all():
                row.resolved_at = now
                s.add(row)

    def open_issues(self) -> list[UserIssue]:
        """Unresolved errors and conflicts, oldest first."""
        with self._session("reading the open issues", write=False) as s:
            rows = s.exec(
                select(IssueRow)
                .where(col(IssueRow.resolved_at).is_(None))
                .order_by(col(IssueRow.first_seen), col(IssueRow.key), col(IssueRow.id))
            ).all()
            return [_issue(r) for r in rows]

    def oldest_open_issue(self) -> UserIssue | None:
        """The unresolved issue seen first, or None."""
        issues = self.open_issues()
        return issues[0] if issues else None

    # ----------------------------------------------------------------- whole-store views

    def schema_revision(self) -> str | None:
        """The database's migration revision."""
        with self._errors("reading the schema version"), self._engine.connect() as conn:
            return migrate.current(conn)

    def close(self) -> None:
        """Release the database connections (a closed store cannot be used again)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStateStore({self.location!r}{', read-only' if self._read_only else ''})"


# --------------------------------------------------------------------- conversions


_SIDES = {
    (False, False): frozenset[Side](),
    (True, False): frozenset({Side.WHMCS}),
    (False, True): frozenset({Side.WORDPRESS}),
    (True, True): frozenset({Side.WHMCS, Side.WORDPRESS}),
}


def _sides(whmcs: bool, wordpress: bool) -> frozenset[Side]:
    return _SIDES[bool(whmcs), bool(wordpress)]


_LINKS_BATCH = 2000
_LINKS_TABLE: Table = LinkRow.__table__  # type: ignore[attr-defined]
# save_link's statements, built once (their parameters are given at execution).
_LINK_ROWS = (
    select(_LINKS_TABLE.c.id, _LINKS_TABLE.c.whmcs_id)
    .where(or_(_LINKS_TABLE.c.whmcs_id == bindparam("whmcs_id"), _LINKS_TABLE.c.wp_id == bindparam("wp_id")))
    .order_by(_LINKS_TABLE.c.id)
)
_LINK_DELETE = _LINKS_TABLE.delete().where(_LINKS_TABLE.c.id == bindparam("row_id"))
_LINK_INSERT = _LINKS_TABLE.insert()
_LINK_UPDATE = _LINKS_TABLE.update().where(_LINKS_TABLE.c.id == bindparam("row_id"))

_LINKS_HELD = select(_LINKS_TABLE.c.id).where(or_(
    _LINKS_TABLE.c.whmcs_id.in_(bindparam("w", expanding=True)),
    _LINKS_TABLE.c.wp_id.in_(bindparam("p", expanding=True)),
)).limit(1)


def _put_link(connection: Connection, link: Link, history: Sequence[Change], now: datetime) -> None:
    """Insert or replace the link of ``link.whmcs_id`` / ``link.wp_id`` (see ``save_link``)."""
    # SQLAlchemy Core, not ORM objects: building a LinkRow costs ~1 ms of CPU (pydantic
    # inspects its default factories on every construction), and every action saves a link.
    values = link_values(link)
    rows = connection.execute(_LINK_ROWS, {"whmcs_id": link.whmcs_id, "wp_id": link.wp_id}).all()
    keep = next((r.id for r in rows if r.whmcs_id == link.whmcs_id), rows[0].id if rows else None)
    for row in rows:  # deleted first, so the unique constraints see them gone before the update
        if row.id != keep:
            connection.execute(_LINK_DELETE, {"row_id": row.id})
    if keep is None:
        connection.execute(_LINK_INSERT, {**values, "created_at": now, "updated_at": now})
    else:
        connection.execute(_LINK_UPDATE, {**values, "updated_at": now, "row_id": keep})
    if history:
        connection.execute(_HISTORY_INSERT, [_history_values(c, now) for c in history])


_HISTORY_TABLE: Table = HistoryRow.__table__  # type: ignore[attr-defined]
_HISTORY_INSERT = _HISTORY_TABLE.insert()

# The same tables without column types: values go to the driver as given (``save_links``).
def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (values ready for the driver, every row the same columns in the same order)
    into ``table`` in one ``executemany``, straight to the driver: no per-value processing. The
    drivers syncd accepts (``url.py``) take positional markers: sqlite3 ``?``, psycopg ``%s``."""
    names = list(rows[0])
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) "  # names from our own table definitions
                 f"VALUES ({', '.join([marker] * len(names))})")
    connection.exec_driver_sql(statement, [tuple(row.values()) for row in rows])


def _bound_time(now: datetime, connection: Connection) -> datetime | str:
    """``now`` (UTC) as the database gets it through ``UtcDateTime``: for SQLite the text
    SQLAlchemy writes there (naive, microseconds always shown, so rows sort and compare as text
    with the others), elsewhere the aware datetime."""
    if connection.dialect.name == "sqlite":
        return now.replace(tzinfo=None).isoformat(" ", "microseconds")
    return now


def _json_text(value: Any) -> str:
    # As the engine's JSON serialiser writes it (sorted keys, no spaces, UTF-8 as is).
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _lean_link_values(link: Link, at: datetime | str) -> dict[str, Any]:
    """``link_values`` with the JSON columns as text and ``at`` (already bound) as both times."""
    gone, deactivated = link.gone, link.deactivated
    return {
        "whmcs_id": link.whmcs_id, "wp_id": link.wp_id, "owner_user_id": link.owner_user_id,
        "base": _json_text(link.base.as_dict() if type(link.base) is Fields else dict(link.base)),
        "digests": _json_text(dict(link.digests)),
        "gone_whmcs": Side.WHMCS in gone, "gone_wordpress": Side.WORDPRESS in gone,
        "deactivated_whmcs": Side.WHMCS in deactivated, "deactivated_wordpress": Side.WORDPRESS in deactivated,
        "saved_roles": _json_text(list(link.saved_roles)), "dummy_fields": _json_text(sorted(link.dummy_fields)),
        "created_at": at, "updated_at": at,
    }


def _history_values(change: Change, at: datetime | str) -> dict[str, Any]:
    return {
        "run_id": change.run_id, "at": at, "key": change.key, "whmcs_id": change.whmcs_id, "wp_id": change.wp_id,
        "side": change.side, "kind": change.kind.value, "field_name": change.field,
        "old_value": change.before, "new_value": change.after,
    }


def _history_entry(row: Any) -> HistoryEntry:
    return HistoryEntry(at=row.at, change=Change(
        key=row.key, side=row.side, kind=ChangeKind(row.kind), field=row.field_name, before=row.old_value,
        after=row.new_value, run_id=row.run_id, whmcs_id=row.whmcs_id, wp_id=row.wp_id,
    ))


_LINKS_QUERY = (
    "SELECT whmcs_id, wp_id, base, owner_user_id, digests, gone_whmcs, gone_wordpress, deactivated_whmcs, "
    "deactivated_wordpress, saved_roles, dummy_fields FROM links ORDER BY whmcs_id"
)


def link_values(link: Link) -> dict[str, Any]:
    """The column values of ``link``'s row in the links table (its times aside)."""
    return {
        "whmcs_id": link.whmcs_id, "wp_id": link.wp_id, "owner_user_id": link.owner_user_id,
        "base": dict(link.base), "digests": dict(link.digests),
        "gone_whmcs": Side.WHMCS in link.gone, "gone_wordpress": Side.WORDPRESS in link.gone,
        "deactivated_whmcs": Side.WHMCS in link.deactivated,
        "deactivated_wordpress": Side.WORDPRESS in link.deactivated,
        "saved_roles": list(link.saved_roles), "dummy_fields": sorted(link.dummy_fields),
    }


def _json(value: Any) -> Any:
    # SQLite gives JSON columns as text; psycopg under SQLAlchemy as undecoded bytes.
    return db.json_loads(value) if type(value) is str or isinstance(value, bytes) else value


def _link(
    whmcs_id: int,
    wp_id: int,
    base: Any,
    owner_user_id: int | None,
    digests: Any,
    gone_whmcs: Any,
    gone_wordpress: Any,
    deactivated_whmcs: Any,
    deactivated_wordpress: Any,
    saved_roles: Any,
    dummy_fields: Any,
) -> Link:
    """A Link from one row of ``_LINKS_QUERY`` (booleans as 0/1 on SQLite)."""
    return Link(
        whmcs_id=whmcs_id,
        wp_id=wp_id,
        base=_json(base),
        owner_user_id=owner_user_id,
        digests=_json(digests),
        gone=_sides(gone_whmcs, gone_wordpress),
        deactivated=_sides(deactivated_whmcs, deactivated_wordpress),
        saved_roles=tuple(_json(saved_roles)),
        dummy_fields=frozenset(_json(dummy_fields)),
    )


def _run(row: RunRow) -> RunSummary:
    assert row.id is not None
    return RunSummary(
        run_id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        direction=row.direction,
        full=row.full_run,
        outcome=RunOutcome(row.outcome),
        counts=dict(row.counts),
        errors=row.errors,
        conflicts=row.conflicts,
        message=row.message,
        user=row.user_key,
    )


def _issue(row: IssueRow) -> UserIssue:
    return UserIssue(
        key=row.key,
        side=row.side,
        kind=row.kind,
        message=row.message,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        run_id=row.run_id,
    )
