"""``state.db.example``: a small real state database of the current schema, made reproducibly.

``scripts/make-state-example`` calls ``build``; a test rebuilds it and fails when the committed
file is stale. Three links (one plain, one whose WHMCS client was closed and whose WordPress
user syncd deactivated, one created in WHMCS with a dummy last name), one finished run,
one open conflict, and the history rows of what that run changed for each of them.
Timestamps come from a fixed clock, so every build has the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.model import DEFAULT_FIELDS, Link, Side, digest
from syncd.ports import Change, ChangeKind
from syncd.state.store import SqlStateStore
from syncd.sync.history import link_text

#: When the example run started; each write of the build is one second later than the one before.
EPOCH = datetime(2026, 1, 5, 3, 0, 0, tzinfo=UTC)


class _StepClock:
    """A clock that moves one second per reading: the same rows on every build."""

    def __init__(self, start: datetime) -> None:
        self._next = start

    def __call__(self) -> datetime:
        now, self._next = self._next, self._next + timedelta(seconds=1)
        return now


def _link(whmcs_id: int, wp_id: int, base: dict[str, str], **extra: Any) -> Link:
    agreed = digest(base, DEFAULT_FIELDS)
    return Link(whmcs_id=whmcs_id, wp_id=wp_id, base=base, owner_user_id=whmcs_id,
                digests={Side.WHMCS.value: agreed, Side.WORDPRESS.value: agreed}, **extra)


def example_links() -> list[Link]:
    return [
        _link(1, 2, {"email": "alice@example.com", "first_name": "Alice", "last_name": "Archer",
                     "company": "Archer Web Studio"}),
        # Closed in WHMCS with on_delete = "deactivate": the WordPress user lost its role,
        # which the link keeps so that a return of the client gives it back.
        _link(2, 3, {"email": "bob@example.com", "first_name": "Bob", "last_name": "Baker", "company": ""},
              gone=frozenset({Side.WHMCS}), deactivated=frozenset({Side.WORDPRESS}), saved_roles=("customer",)),
        # Created in WHMCS from a WordPress user with no last name: WHMCS holds the dummy
        # value, which never flows back to WordPress.
        _link(3, 5, {"email": "carol@example.com", "first_name": "Carol", "last_name": "", "company": ""},
              dummy_fields=frozenset({"last_name"})),
    ]


def example_history(link: Link, run_id: int) -> list[Change]:
    """What ``syncd history`` shows for each example link: Alice linked at first contact with her
    company copied to WordPress, Carol's WHMCS client created, Bob's WordPress user deactivated."""
    def change(side: Side | None, kind: ChangeKind, name: str, before: str, after: str) -> Change:
        return Change(key=link.key, side=side.value if side else "", kind=kind, field=name, before=before,
                      after=after, run_id=run_id, whmcs_id=link.whmcs_id, wp_id=link.wp_id)

    if link.key == "alice@example.com":
        return [change(None, ChangeKind.LINK, "link", "", link_text(link.whmcs_id, link.wp_id)),
                change(Side.WORDPRESS, ChangeKind.UPDATE, "company", "", "Archer Web Studio")]
    if link.key == "carol@example.com":
        return [change(Side.WHMCS, ChangeKind.CREATE, "email", "", "carol@example.com"),
                change(Side.WHMCS, ChangeKind.CREATE, "first_name", "", "Carol")]
    return [change(Side.WORDPRESS, ChangeKind.DEACTIVATE, "roles", "customer", "")]


def _sidecars(path: Path) -> Iterator[Path]:
    for suffix in ("", "-wal", "-shm", "-journal"):
        yield path.with_name(path.name + suffix)


def build(path: Path) -> None:
    """Write the example database to ``path`` (replacing any file there)."""
    for old in _sidecars(path):
        old.unlink(missing_ok=True)
    with SqlStateStore.open(f"sqlite:///{path.absolute()}", clock=_StepClock(EPOCH)) as store:
        run = store.begin_run(direction="both", full=True)
        for link in example_links():
            store.save_link(link, history=example_history(link, run))
        store.record_issue(
            run,
            key="dave@example.com",
            side=Side.WHMCS.value,
            kind="conflict",
            message="two WHMCS clients (#7 and #8) have the email dave@example.com; "
            "left alone until one of them is changed",
        )
        store.finish_run(run, outcome="ok", counts={"link": 1, "create": 1, "update": 0, "deactivate": 1},
                         errors=0, conflicts=1)
    # One self-contained file in the repository: no -wal beside it, compacted.
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("VACUUM")
    finally:
        connection.close()


def describe(path: Path) -> dict[str, Any]:
    """A database's schema SQL and every row, to compare two builds (their bytes may differ)."""
    connection = sqlite3.connect(f"file:{path.absolute().as_posix()}?mode=ro", uri=True)
    try:
        schema = sorted(
            (row[0], row[1], row[2] or "")
            for row in connection.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        )
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for kind, name, _sql in schema:
            if kind == "table":
                rows[name] = sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
        return {"schema": schema, "rows": rows}
    finally:
        connection.close()
