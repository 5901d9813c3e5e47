"""Versioned schema migrations (alembic), run by ``SqlStateStore.open`` on the store's own connection.

The revisions live in ``migrations/versions/``; ``head()`` is the newest one this syncd knows.
A database at an older revision is upgraded; one at a revision this syncd does not know
(written by a newer syncd) is refused rather than touched. alembic is imported only when a
migration runs: reading the revision of a current database is plain SQL, which keeps every
``syncd`` command's start-up quick.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from syncd.state.tables import TABLES

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"

# alembic keeps the running migration's context in module globals: two threads of one
# process must not migrate at once (two processes may; the database serialises them).
_ALEMBIC = threading.Lock()

_REVISION_LINE = re.compile(r'^revision(?:: str)? = ["\'](?P<rev>[^"\']+)["\']', re.M)
_DOWN_LINE = re.compile(r'^down_revision(?:: [^=]+)? = (?P<down>None|["\'][^"\']+["\'])', re.M)


def config() -> Config:
    """An alembic Config that needs no alembic.ini (the package may be installed anywhere)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@cache
def _revisions() -> dict[str, str | None]:
    """Every revision this syncd ships → the one before it, read from the files themselves."""
    found: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        source = script.read_text(encoding="utf-8")
        rev, down = _REVISION_LINE.search(source), _DOWN_LINE.search(source)
        if rev is None or down is None:
            raise RuntimeError(f"{script} does not declare revision and down_revision")
        found[rev["rev"]] = None if down["down"] == "None" else down["down"].strip("\"'")
    return found


def head() -> str:
    """The newest revision this syncd knows (the one no other revision follows)."""
    revisions = _revisions()
    heads = set(revisions) - {down for down in revisions.values() if down}
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must form one line; heads found: {sorted(heads)}")
    return heads.pop()


def known(revision: str) -> bool:
    """True if ``revision`` is one of this syncd's migrations."""
    return revision in _revisions()


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database syncd has never written to."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = [row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    return versions[0] if len(versions) == 1 else (None if not versions else ",".join(sorted(versions)))


def foreign_tables(connection: Connection) -> list[str]:
    """syncd's own tables found in a database that has no revision: a half-made or foreign schema."""
    names = set(inspect(connection).get_table_names())
    return sorted(names & set(TABLES))


class MigrationFailed(Exception):
    """alembic refused to migrate (its message says why)."""


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade to ``revision`` inside the caller's transaction (the caller commits)."""
    from alembic import command
    from alembic.util.exc import CommandError

    cfg = config()
    cfg.attributes["connection"] = connection
    with _ALEMBIC:
        try:
            command.upgrade(cfg, revision)
        except CommandError as exc:
            raise MigrationFailed(str(exc)) from exc


def downgrade(connection: Connection, revision: str) -> None:
    """Downgrade to ``revision`` inside the caller's transaction (tests and operators' escapes only)."""
    from alembic import command

    cfg = config()
    cfg.attributes["connection"] = connection
    with _ALEMBIC:
        command.downgrade(cfg, revision)
