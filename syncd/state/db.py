"""The database under the state store: engines for SQLite and PostgreSQL, JSON columns, and
database failures turned into ``StateError`` messages an operator can act on."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from syncd.errors import StateError
from syncd.state import url as state_url

_SQLITE_KINDS = {5: "locked", 6: "locked", 8: "readonly", 10: "io", 11: "corrupt", 13: "full", 14: "cantopen",
                 26: "notadb"}
_PG_KINDS = {"55P03": "locked", "53100": "full", "25006": "readonly", "3D000": "cantopen", "57P03": "cantopen"}


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def failure_kind(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_KINDS.get(code & 0xFF, "other")
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_KINDS:
            return _PG_KINDS[sqlstate]
        if sqlstate.startswith(("08", "28")):  # connection exceptions, invalid authorization
            return "cantopen"
        return "other"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "cantopen"
    # psycopg reports a refused connection as an OperationalError without a sqlstate.
    if type(orig).__name__ == "OperationalError" and "connection" in str(orig).lower():
        return "cantopen"
    return "other"



def state_error(exc: BaseException, doing: str, *, where: str, busy_timeout: float, read_only: bool) -> StateError:
    """Any database failure as a StateError with a plain message naming the database (never a password)."""
    kind = failure_kind(exc)
    if kind == "locked":
        return StateError(
            f"the state database {where} is locked by another program (waited {busy_timeout:g} s) "
            f"while {doing}; nothing was recorded for this step. Find what holds it (another tool with an open "
            "transaction, a stuck backup) and run again."
        )
    if kind == "full":
        return StateError(
            f"the state database {where} is full (no space left on its disk, or its size limit reached) while "
            f"{doing}; nothing was recorded for this step. Free some space and run again."
        )
    if kind == "readonly":
        if read_only:
            return StateError(f"the state store {where} was opened read-only; {doing} needs write access")
        return StateError(
            f"the state database {where} is read-only while {doing}: syncd needs write access to the file "
            "and to its directory (SQLite keeps -wal and -shm files beside it)."
        )
    if kind == "cantopen":
        return StateError(f"cannot open the state database {where}: {first_line(_orig(exc))}")
    if kind == "notadb":
        return StateError(f"{where} is not an SQLite database (is state_url pointing at the right file?)")
    if kind == "corrupt":
        return StateError(f"the state database {where} is damaged ({first_line(_orig(exc))}); "
                          "restore it from a backup or move it away to start afresh")
    return StateError(f"the state database {where} failed while {doing}: {first_line(_orig(exc))}")


def json_loads(text: str | bytes) -> Any:
    # orjson takes str or bytes alike (psycopg hands SQLAlchemy undecoded bytes) and is
    # several times faster than json: every run decodes two JSON columns of every link.
    # Most links have no saved roles and no dummy fields: skip the decoder for those.
    if text == "[]" or text == b"[]":
        return []
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StateError(f"the state store holds a value that is not JSON ({exc}); was it edited by hand?") from exc


def _orig(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _json_dumps(value: Any) -> str:
    # Sorted keys: the same link always makes the same row (state.db.example is reproducible).
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def make_engine(
    url: URL, path: Path | None, *, read_only: bool, busy_timeout: float, pragmas: Mapping[str, int | str]
) -> Engine:
    if url.get_backend_name() == state_url.SQLITE:
        return _sqlite_engine(url, path, read_only=read_only, busy_timeout=busy_timeout, pragmas=pragmas)
    options = [f"-c lock_timeout={int(busy_timeout * 1000)}"]
    if read_only:
        options.append("-c default_transaction_read_only=on")
    try:
        return create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=json_loads,
            pool_pre_ping=True,
            connect_args={"options": " ".join(options), "connect_timeout": 10},
        )
    except ModuleNotFoundError:
        raise StateError(
            "a PostgreSQL state_url needs the psycopg package: pip install 'syncd[postgres]'"
        ) from None


def _wal(cursor: sqlite3.Cursor, busy_timeout: float) -> None:
    """Put the database in WAL mode (it stays so: set once, by the first connection ever).

    Changing the journal mode answers "database is locked" at once, without waiting for the busy
    timeout, while another connection (a thread or process opening a new store at the same moment)
    holds the file; so a database already in WAL mode is left alone, and the change is tried again
    until the busy timeout has passed."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.01
    while True:
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _sqlite_engine(
    url: URL, path: Path | None, *, read_only: bool, busy_timeout: float, pragmas: Mapping[str, int | str]
) -> Engine:
    common: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": json_loads,
        "connect_args": {"timeout": busy_timeout, "check_same_thread": False},
    }
    if path is None:
        # One shared connection, or every checkout would see a different empty memory database.
        engine = create_engine("sqlite://", poolclass=StaticPool, **common)
    elif read_only:
        ro = URL.create("sqlite", database=f"file:{path.as_posix()}", query={"mode": "ro", "uri": "true"})
        engine = create_engine(ro, **common)
    else:
        engine = create_engine(url.set(database=str(path)), **common)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # We emit BEGIN ourselves (below): the sqlite3 module's own transaction handling
        # skips BEGIN before SELECT and DDL, which breaks transactional migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            elif path is not None:
                _wal(cursor, busy_timeout)
                # FULL: a committed action survives a power cut too, not only a crash.
                cursor.execute("PRAGMA synchronous = FULL")
            for name, value in pragmas.items():
                if not name.replace("_", "").isalnum():
                    raise ValueError(f"not a pragma name: {name!r}")
                cursor.execute(f"PRAGMA {name} = {int(value) if isinstance(value, int) else repr(str(value))}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A write takes the write lock up front (IMMEDIATE): upgrading a read lock later
        # can fail at once with SQLITE_BUSY, without waiting for the busy timeout.
        write = connection.get_execution_options().get("syncd_write", False) and not read_only
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
