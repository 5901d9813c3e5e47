"""The ``state_url`` setting, parsed once: which database, where, and how to name it safely.

A PostgreSQL URL may carry a password, so a URL is only ever shown through ``location()``,
which masks it, and a URL that fails to parse is never echoed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from syncd.errors import StateError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

_HELP = "state_url must look like sqlite:////var/lib/syncd/state.db or postgresql+psycopg://USER@HOST/DATABASE"


def parse(url: str) -> URL:
    """The URL as SQLAlchemy needs it; StateError (without the URL, it may hold a password) if invalid."""
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        raise StateError(f"the state_url setting cannot be parsed; {_HELP}") from None
    # From the scheme itself: asking SQLAlchemy for the driver would import the default one.
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":  # Heroku-style scheme that SQLAlchemy does not know
        backend = POSTGRESQL
    if backend == POSTGRESQL and driver in ("", "psycopg2"):
        # syncd ships psycopg 3 only; a bare postgresql:// would otherwise ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif (backend == POSTGRESQL and driver != "psycopg") or (backend == SQLITE and driver not in ("", "pysqlite")):
        raise StateError(f"the state_url uses the driver {driver!r}, which syncd does not support; {_HELP}")
    elif backend not in (SQLITE, POSTGRESQL):
        raise StateError(f"the state_url names a {backend!r} database, which syncd does not support; {_HELP}")
    if backend == SQLITE and (parsed.database or "").startswith("file:"):
        raise StateError(f"the state_url must name the SQLite file as a path, not a file: URI; {_HELP}")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite URL (relative paths from the working directory); None for memory or not SQLite."""
    if url.get_backend_name() != SQLITE:
        return None
    database = url.database or ""
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser().absolute()


def location(url: URL) -> str:
    """How messages name the database: the file path for SQLite, the URL without its password otherwise."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    if url.get_backend_name() == SQLITE:
        return "an in-memory SQLite database"
    return url.render_as_string(hide_password=True)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def value_problems(url: str) -> list[str]:
    """What is wrong with a ``state_url`` setting as a value, found without opening anything: a URL
    that does not parse, a database or driver syncd does not support, PostgreSQL without its
    driver installed. Never echoes the URL (it may hold a password)."""
    try:
        parsed = parse(url)
    except StateError as exc:
        return [str(exc)]
    if parsed.get_backend_name() == POSTGRESQL and not _installed("psycopg"):
        return ["a PostgreSQL state_url needs the psycopg package, which is not installed: "
                "pip install 'syncd[postgres]' (in syncd's own environment)"]
    return []


def directory_problems(url: str) -> list[str]:
    """What is wrong with where an SQLite ``state_url`` points on this host: a directory that does
    not exist (syncd never makes one up) or a directory given for the file. Creates nothing."""
    try:
        parsed = parse(url)
    except StateError as exc:
        return [str(exc)]
    path = sqlite_path(parsed)
    if path is not None:
        directory = path.parent
        try:
            is_dir = directory.is_dir()
        except OSError:
            return [f"the directory {directory} of the state database cannot be searched (permission denied): "
                    "make it reachable by the user syncd runs as"]
        if not is_dir:
            return [f"the directory {directory} of the state database does not exist (a typo in state_url?). "
                    f"syncd creates the database, never its directory: create it (install -d -m 0700 {directory}, "
                    "owned by the user syncd runs as) or fix state_url"]
        if path.is_dir():
            return [f"{path} is a directory: state_url must name the database file, e.g. {path / 'state.db'}"]
    return []


def access_problems(url: str) -> list[str]:
    """Whether this process could open and write the SQLite store at ``url`` (its directory
    writable, the database, its -wal/-shm files and its run lock writable where they exist);
    nothing for PostgreSQL, whose access is checked by connecting. Creates nothing."""
    try:
        parsed = parse(url)
    except StateError as exc:
        return [str(exc)]
    path = sqlite_path(parsed)
    if path is None or not path.parent.is_dir():
        return []
    problems = []
    if not os.access(path.parent, os.W_OK | os.X_OK):
        problems.append(f"the state directory {path.parent} is not writable by this user: syncd creates the "
                        "database, its -wal and -shm files and its run lock there")
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}.lock"):
        candidate = path.with_name(name)
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            problems.append(f"{candidate} is not writable by this user: give it back to the user syncd runs as")
    return problems
