"""The run lock: one run at a time, across the daemon and manual ``syncd sync`` (DESIGN §5.9).

SQLite store: an flock on ``<database>.lock`` beside the database file. PostgreSQL store: a
session advisory lock on a dedicated connection, so two hosts sharing one database have one
active. Either way the lock belongs to the process (or its database session): a run killed
with -9 never blocks the next one. The loser waits up to ``wait_seconds`` and then raises
``LockHeld`` without having read either side.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from syncd.errors import LockHeld, StateError
from syncd.state import url as urls

#: The advisory lock's key: fixed, so every syncd on one PostgreSQL database contends for it.
#: (Advisory locks are scoped to one database, so other databases on the server are unaffected.)
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"syncd run lock").digest()[:8], "big", signed=True)

#: How often a waiting run asks PostgreSQL again.
_PG_POLL_SECONDS = 0.2

# An in-memory SQLite store lives and dies with its process: a lock inside the process is enough.
_memory_lock = threading.Lock()


def run_lock(state_url: str, *, wait_seconds: float) -> AbstractContextManager[None]:
    """Hold the run lock of the store at ``state_url`` for the ``with`` block.

    Waits up to ``wait_seconds`` for another run to finish, then raises ``LockHeld``.
    Raises ``StateError`` when the lock itself cannot be taken (unwritable directory,
    PostgreSQL unreachable).
    """
    parsed = urls.parse(state_url)
    path = urls.sqlite_path(parsed)
    if parsed.get_backend_name() == urls.SQLITE:
        if path is None:
            return _memory(wait_seconds)
        return _file_lock(lock_path(path), wait_seconds)
    return _advisory_lock(parsed, wait_seconds)


def lock_path(database: Path) -> Path:
    """The lock file of an SQLite database: ``state.db`` → ``state.db.lock``."""
    return database.with_name(database.name + ".lock")


def _held(where: str, wait_seconds: float) -> LockHeld:
    return LockHeld(
        f"another syncd run holds the lock ({where}; waited {wait_seconds:g} s); this run did not read either side"
    )


@contextmanager
def _memory(wait_seconds: float) -> Iterator[None]:
    if not _memory_lock.acquire(timeout=max(wait_seconds, 0)):
        raise _held("an in-memory store, in this process", wait_seconds)
    try:
        yield
    finally:
        _memory_lock.release()


def _record_holder(fd: int) -> None:
    # Tell a waiting run who holds the lock; the flock, not this text, is the lock.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f"process {pid}, " if pid.isdigit() else ""


@contextmanager
def _file_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the directory {path.parent} for the run lock: {exc.strerror or exc}") from None
    # fallback_to_soft=False: a soft lock (a file that merely exists) would outlive a killed run.
    lock = FileLock(path, timeout=max(wait_seconds, 0), thread_local=False, fallback_to_soft=False,
                    on_acquired=_record_holder)
    try:
        lock.acquire()
    except Timeout:
        raise _held(f"{_holder(path)}{path}", wait_seconds) from None
    except OSError as exc:
        raise StateError(f"cannot take the run lock {path}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _advisory_lock(url: URL, wait_seconds: float) -> Iterator[None]:
    where = urls.location(url)
    # A dedicated connection outside any pool: the lock lives exactly as long as this session.
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    except ModuleNotFoundError:
        raise StateError("a PostgreSQL state_url needs the psycopg package: pip install 'syncd[postgres]'") from None
    try:
        try:
            # AUTOCOMMIT: no transaction stays open for the whole run (it would hold back vacuum).
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise StateError(f"cannot take the run lock on {where}: {_reason(exc)}") from exc
        try:
            _acquire_advisory(connection, where, wait_seconds)
            try:
                yield
            finally:
                _release_advisory(connection)
        finally:
            connection.close()
    finally:
        engine.dispose()


def _acquire_advisory(connection: Connection, where: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + max(wait_seconds, 0)
    while True:
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar_one()
        except SQLAlchemyError as exc:
            raise StateError(f"cannot take the run lock on {where}: {_reason(exc)}") from exc
        if got:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            holder = _advisory_holder(connection)
            raise _held(f"{holder}PostgreSQL advisory lock on {where}", wait_seconds)
        time.sleep(min(_PG_POLL_SECONDS, left))


def _advisory_holder(connection: Connection) -> str:
    try:
        row = connection.execute(
            text(
                "SELECT a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid) LIMIT 1"
            ),
            {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF},
        ).first()
    except SQLAlchemyError:
        return ""
    if row is None:
        return ""
    client = row[0] or "local socket"
    return f"session {row[1]} from {client}, "


def _release_advisory(connection: Connection) -> None:
    # If the session is gone, its lock went with it: nothing is left to release.
    with suppress(SQLAlchemyError):
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0][:300] if lines else type(orig).__name__
