"""The ``state_url`` setting, parsed once: which database, where, and how to name it safely.

A PostgreSQL URL may carry a password, so a URL is only ever shown through ``location()``,
which masks it, and a URL that fails to parse is never echoed.
"""

from __future__ import annotations

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
