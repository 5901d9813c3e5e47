"""The run lock: one run at a time across processes, and a killed run never blocks the next.

Each backend gets the same tests: a file lock beside an SQLite store, an advisory lock on
a real PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncd import exits
from syncd.errors import LockHeld, StateError
from syncd.service.lock import lock_path, run_lock

# Holds the run lock in another process until its stdin closes.
_HOLD = """
import sys
from syncd.service.lock import run_lock
with run_lock(sys.argv[1], wait_seconds=0):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def held_by_another_process(url: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "held", proc.stderr.read() if proc.stderr else ""
        yield proc
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def lock_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    from tests.state.conftest import PgServer

    server: PgServer = request.getfixturevalue("pg_server")
    return server.empty_database()


def test_a_second_process_gets_lock_held_and_a_run_killed_with_sigkill_blocks_nobody(lock_url: str) -> None:
    acquired = threading.Event()
    failure: list[BaseException] = []

    def wait_for_it() -> None:
        try:
            # PostgreSQL ends a killed client's session as soon as it sees the socket closed;
            # a generous wait, which returns at once when the lock is free.
            with run_lock(lock_url, wait_seconds=60):
                acquired.set()
        except BaseException as exc:  # reported by the assertion below
            failure.append(exc)

    with held_by_another_process(lock_url) as holder:
        with pytest.raises(LockHeld) as caught, run_lock(lock_url, wait_seconds=0.3):
            pytest.fail("the lock was taken twice")
        message = str(caught.value)
        assert message.startswith("another syncd run holds the lock (")
        assert message.endswith("; waited 0.3 s); this run did not read either side")
        assert exits.of_error(caught.value) == 5
        if lock_url.startswith("sqlite"):
            assert f"process {holder.pid}, " in message and "state.db.lock" in message
        else:
            assert "PostgreSQL advisory lock on postgresql+psycopg://" in message and "session " in message
        # A run waiting meanwhile gets the lock once the holder is killed with -9.
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not acquired.is_set()  # the holder is still alive: nobody else can have it
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        waiter.join(timeout=90)
    assert holder.returncode == -signal.SIGKILL
    assert failure == [] and acquired.is_set()


def test_the_lock_is_released_when_the_block_ends(lock_url: str) -> None:
    with run_lock(lock_url, wait_seconds=0):
        pass
    with run_lock(lock_url, wait_seconds=0):
        pass
    with pytest.raises(RuntimeError), run_lock(lock_url, wait_seconds=0):
        raise RuntimeError("the run failed")
    with run_lock(lock_url, wait_seconds=0):  # released after an exception too
        pass


def test_two_runs_in_one_process_exclude_each_other_too(lock_url: str) -> None:
    with run_lock(lock_url, wait_seconds=0), pytest.raises(LockHeld), run_lock(lock_url, wait_seconds=0):
        pass


def test_the_sqlite_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "lib" / "state.db"
    with run_lock(f"sqlite:///{database}", wait_seconds=0):
        assert lock_path(database) == tmp_path / "lib" / "state.db.lock"
        assert lock_path(database).read_text().strip() == str(os.getpid())


def test_an_in_memory_store_has_an_in_process_lock() -> None:
    with run_lock("sqlite://", wait_seconds=0), pytest.raises(LockHeld), run_lock("sqlite://", wait_seconds=0):
        pass
    with run_lock("sqlite://", wait_seconds=0):
        pass


def test_an_unreachable_postgresql_is_a_state_error_not_lock_held(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://syncd:hunter2-pw@/db?host={tmp_path}"
    with pytest.raises(StateError, match="cannot take the run lock on postgresql") as caught, \
            run_lock(url, wait_seconds=0):
        pass
    assert "hunter2" not in str(caught.value)


def test_an_unusable_lock_directory_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match="cannot create the directory"), \
            run_lock(f"sqlite:///{blocker / 'sub' / 'state.db'}", wait_seconds=0):
        pass
