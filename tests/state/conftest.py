"""Fixtures of the state store's tests: a fake clock, store URLs for each backend, and a
private PostgreSQL server on a unix socket, started by the tests themselves.

PostgreSQL comes from Debian's ``postgresql`` package. When its binaries or psycopg are
missing the PostgreSQL tests are skipped, with the reason in pytest's summary.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


class StepClock:
    """A clock that moves one second per reading, so every timestamp differs and is known."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PgServer:
    """A private PostgreSQL cluster reached through a unix socket in ``socket_dir``."""

    socket_dir: Path
    user: str
    _shared: str = ""

    def url(self, database: str, password: str = "") -> str:
        auth = f"{self.user}:{password}" if password else self.user
        return f"postgresql+psycopg://{auth}@/{database}?host={self.socket_dir}"

    def new_database(self) -> str:
        """A new, empty database; its URL. (CREATE DATABASE costs ~0.4 s: prefer ``empty_database``.)"""
        return self.url(self._create())

    def _create(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def empty_database(self) -> str:
        """The URL of the shared test database, emptied: other sessions ended, every table dropped."""
        import psycopg

        if not self._shared:
            self._shared = self._create()
        with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname=self._shared, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            conn.execute("SET lock_timeout = '10s'")
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self.url(self._shared)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests skipped: psycopg is not installed (pip install -e '.[test]')")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL tests skipped: no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="syncd-pg-"))
    # initdb refuses to run as root: run the cluster as nobody, in a directory nobody owns.
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "nobody", "--"]
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
    data, log = root / "data", root / "log"
    user = "syncd"
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        options = f"-c listen_addresses='' -c unix_socket_directories={root} -c fsync=off -c full_page_writes=off"
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                        "-o", options, "start"], check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL tests skipped: cannot start a private server ({exc}; "
                    f"{detail.decode(errors='replace')[-300:]} {tail})")
    try:
        yield PgServer(socket_dir=root, user=user)
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL where no store exists yet, for each backend."""
    if request.param == "sqlite":
        (tmp_path / "state").mkdir()  # syncd creates the database, never its directory
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.empty_database()
