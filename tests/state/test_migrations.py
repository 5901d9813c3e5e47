"""Versioned migrations: open() brings any database to head, on SQLite and PostgreSQL alike,
and the migrated schema is exactly the SQLModel tables."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from syncd.errors import StateError
from syncd.model import Link
from syncd.state import migrate
from syncd.state.store import SqlStateStore
from syncd.state.tables import TABLES

SECRET_WORDS = re.compile(r"pass(word|wd)?|secret|token|credential|api_?key|access_?key|auth|hash|salt", re.I)


def test_open_brings_an_empty_database_to_head(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store:
        assert store.schema_revision() == migrate.head() == "0002"
        with store.engine.connect() as conn:
            assert set(TABLES) <= set(inspect(conn).get_table_names())


def test_the_migrated_schema_is_exactly_the_sqlmodel_tables(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)
    assert diffs == [], f"the migrations and syncd/state/tables.py disagree; write a new revision: {diffs}"


def test_reopening_a_current_database_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with SqlStateStore.open(url) as store:
        store.save_link(Link(whmcs_id=1, wp_id=2))
        with store.engine.connect() as conn:
            before = conn.exec_driver_sql("PRAGMA schema_version").scalar()
    with SqlStateStore.open(url) as again:
        with again.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA schema_version").scalar() == before  # no DDL ran
        assert again.links() == [Link(whmcs_id=1, wp_id=2)]


def test_a_database_at_the_previous_revision_is_upgraded(store_url: str) -> None:
    # "0001" is the first revision, so its previous one is base: no syncd tables at all.
    with SqlStateStore.open(store_url) as store, store.engine.begin() as conn:
        migrate.downgrade(conn, "base")
    with SqlStateStore.open(store_url) as reopened, reopened.engine.connect() as conn:
        assert set(TABLES) <= set(inspect(conn).get_table_names())
        assert migrate.current(conn) == migrate.head()
        reopened.save_link(Link(whmcs_id=1, wp_id=2))
        assert reopened.links() == [Link(whmcs_id=1, wp_id=2)]


def test_a_database_from_a_newer_syncd_is_refused_untouched(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    for options in ({}, {"read_only": True}):
        with pytest.raises(StateError, match="written by a newer syncd"):
            SqlStateStore.open(store_url, **options)  # type: ignore[arg-type]


def test_syncd_tables_without_a_revision_are_refused(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store, store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(StateError,
                       match="has tables history, issues, links, pending_creates, runs but no schema revision"):
        SqlStateStore.open(store_url)


_OPEN_ON_GO = """
import sys
from syncd.state.store import SqlStateStore
print("ready", flush=True)
sys.stdin.readline()
with SqlStateStore.open(sys.argv[1], busy_timeout=30) as store:
    print(store.schema_revision())
"""


def test_two_processes_creating_one_store_at_once_both_succeed(store_url: str) -> None:
    # Both open a new store at the same moment (the other process has done its imports);
    # one takes the write lock (SQLite) or the migration advisory lock (PostgreSQL) and
    # migrates, the other waits for it and finds the schema at head.
    other = subprocess.Popen([sys.executable, "-c", _OPEN_ON_GO, store_url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert other.stdout is not None and other.stdin is not None
    assert other.stdout.readline().strip() == "ready"
    other.stdin.write("go\n")
    other.stdin.flush()
    with SqlStateStore.open(store_url, busy_timeout=30) as store:
        assert store.schema_revision() == migrate.head()
    out, err = other.communicate(timeout=120)
    assert (other.returncode, out.strip()) == (0, migrate.head()), err


def test_threads_of_one_process_may_open_the_store_at_once(store_url: str) -> None:
    results: list[object] = []

    def open_it() -> None:
        try:
            with SqlStateStore.open(store_url, busy_timeout=30) as store:
                results.append(store.schema_revision())
        except BaseException as exc:  # collected for the assertion below
            results.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [migrate.head()] * 3


def test_threads_creating_a_new_sqlite_store_at_once_all_get_it(tmp_path: Path) -> None:
    """Putting a new file in WAL mode answers "database is locked" at once (no busy wait) while another
    connection holds it; before the open retried it, a round of 6 threads failed about 1 time in 13. 50 rounds of 8."""
    failures: list[BaseException] = []

    def open_it(url: str) -> None:
        try:
            with SqlStateStore.open(url, busy_timeout=5) as store:
                assert store.schema_revision() == migrate.head()
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    for round_ in range(50):
        url = f"sqlite:///{tmp_path / f'state{round_}.db'}"
        threads = [threading.Thread(target=open_it, args=(url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []


def test_no_column_can_hold_a_password_or_secret(store_url: str) -> None:
    names = [f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns]
    with SqlStateStore.open(store_url) as store, store.engine.connect() as conn:
        db = inspect(conn)
        names += [f"{t}.{c['name']}" for t in db.get_table_names() for c in db.get_columns(t)]
    assert len(names) > 2 * 30
    assert [n for n in names if SECRET_WORDS.search(n)] == []


def test_the_secret_scan_itself_catches_such_a_column() -> None:
    assert SECRET_WORDS.search("links.wp_application_password")
    assert SECRET_WORDS.search("links.api_key") and SECRET_WORDS.search("runs.Token")
    assert not SECRET_WORDS.search("issues.key")


def test_the_revisions_read_without_alembic_agree_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.config())
    assert migrate.head() == scripts.get_current_head()
    assert {s.revision: s.down_revision for s in scripts.walk_revisions()} == migrate._revisions()
