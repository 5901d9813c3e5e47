"""Versioned schema migrations (alembic), run by ``SqlStateStore.open`` on the store's own connection.

The revisions live in ``migrations/versions/``; ``head()`` is the newest one this syncd knows.
A database at an older revision is upgraded; one at a revision this syncd does not know
(written by a newer syncd) is refused rather than touched.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from syncd.state.tables import TABLES

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def config() -> Config:
    """An alembic Config that needs no alembic.ini (the package may be installed anywhere)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest revision this syncd knows."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None, "syncd ships at least one migration"
    return found


def known(revision: str) -> bool:
    """True if ``revision`` is one of this syncd's migrations."""
    return revision in {script.revision for script in ScriptDirectory.from_config(config()).walk_revisions()}


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database syncd has never written to."""
    return MigrationContext.configure(connection).get_current_revision()


def foreign_tables(connection: Connection) -> list[str]:
    """syncd's own tables found in a database that has no revision: a half-made or foreign schema."""
    names = set(inspect(connection).get_table_names())
    return sorted(names & set(TABLES))


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade to ``revision`` inside the caller's transaction (the caller commits)."""
    cfg = config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Downgrade to ``revision`` inside the caller's transaction (tests and operators' escapes only)."""
    cfg = config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)
