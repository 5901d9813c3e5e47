"""state.db.example is a real database of the current schema, and not stale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from syncd.model import Side
from syncd.state import migrate
from syncd.state.example import describe, example_links
from syncd.state.store import SqlStateStore

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "state.db.example"
SCRIPT = ROOT / "scripts" / "make-state-example"


def test_the_committed_example_matches_a_fresh_build(tmp_path: Path) -> None:
    fresh = tmp_path / "state.db.example"
    done = subprocess.run([sys.executable, str(SCRIPT), str(fresh)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert COMMITTED.is_file(), "state.db.example is missing: run `python3 scripts/make-state-example` and commit it"
    assert describe(COMMITTED) == describe(fresh), (
        "state.db.example is stale (its schema or rows differ from a fresh build): "
        "run `python3 scripts/make-state-example` and commit the result"
    )


def test_two_builds_have_the_same_rows(tmp_path: Path) -> None:
    from syncd.state.example import build

    build(tmp_path / "a.db")
    build(tmp_path / "b.db")
    assert describe(tmp_path / "a.db") == describe(tmp_path / "b.db")


def test_the_example_is_self_contained_and_opens_as_a_store(tmp_path: Path) -> None:
    # No -wal beside it in the repository: everything is in the one file.
    assert not (ROOT / "state.db.example-wal").exists()
    copy = tmp_path / "state.db"
    shutil.copyfile(COMMITTED, copy)
    with SqlStateStore.open(f"sqlite:///{copy}", read_only=True) as store:
        assert store.schema_revision() == migrate.head()
        links = store.links()
        assert links == example_links()
        assert any(Side.WORDPRESS in link.deactivated and link.saved_roles for link in links)
        assert any(link.dummy_fields for link in links)
        assert all(link.key.endswith("@example.com") for link in links)
        (run,) = store.runs()
        assert run.finished_at is not None and run.outcome == "ok"
        (issue,) = store.open_issues()
        assert issue.kind == "conflict" and issue.run_id == run.run_id


def test_the_staleness_check_sees_a_changed_row_and_a_changed_schema(tmp_path: Path) -> None:
    import sqlite3

    rows, schema = tmp_path / "rows.db", tmp_path / "schema.db"
    for path in (rows, schema):
        shutil.copyfile(COMMITTED, path)
    with sqlite3.connect(rows) as conn:
        conn.execute("UPDATE links SET wp_id = 99 WHERE whmcs_id = 1")
    with sqlite3.connect(schema) as conn:
        conn.execute("CREATE INDEX ix_extra ON runs (outcome)")
    assert describe(rows) != describe(COMMITTED)
    assert describe(schema) != describe(COMMITTED)
