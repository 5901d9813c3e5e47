"""Alembic's entry point for syncd's state schema, on SQLite and PostgreSQL alike.

``SqlStateStore.open`` runs it with its own connection (``config.attributes["connection"]``),
so the upgrade shares the store's pragmas and locking. Run by hand (``alembic -c
syncd/state/alembic.ini ...``) it takes the URL from ``-x url=...`` or ``$SYNCD_STATE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlmodel import SQLModel

import syncd.state.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

#: Any fixed number: two hosts opening one empty PostgreSQL database at once take turns.
_PG_MIGRATION_LOCK = 0x73796E63_6D696772  # "syncmigr"

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("SYNCD_STATE_URL", "")
    if not url:
        raise SystemExit("give the state database as -x url=... or $SYNCD_STATE_URL")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLite's DDL is transactional too: one migration, one transaction, all or nothing.
        transactional_ddl=True,
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
