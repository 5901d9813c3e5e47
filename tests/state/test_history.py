"""The per-user history in the state store (SQLite and PostgreSQL): one row per changed field,
kept in the link's own transaction, found by any of the person's emails, pruned with its run,
and added to a store of the previous schema without losing what it held."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, text

from syncd.errors import StateError
from syncd.model import Link
from syncd.ports import Change, ChangeKind
from syncd.state import migrate
from syncd.state.store import KEEP_DAYS, KEEP_RUNS, SqlStateStore
from tests.state.conftest import StepClock

SECRET_WORDS = re.compile(r"pass(word|wd)?|secret|token|credential|api_?key|access_?key|auth|hash|salt", re.I)


@pytest.fixture
def store(store_url: str, clock: StepClock) -> Iterator[SqlStateStore]:
    opened = SqlStateStore.open(store_url, clock=clock)
    yield opened
    opened.close()


def _change(name: str, before: str, after: str, *, key: str = "ann@example.com", run_id: int | None = 1,
            kind: ChangeKind = ChangeKind.UPDATE, whmcs_id: int = 1, wp_id: int = 2) -> Change:
    return Change(key=key, side="wordpress", kind=kind, field=name, before=before, after=after, run_id=run_id,
                  whmcs_id=whmcs_id, wp_id=wp_id)


def test_each_changed_field_is_one_row_kept_with_its_link(store: SqlStateStore) -> None:
    run = store.begin_run(direction="both", full=False)
    store.save_link(Link(whmcs_id=1, wp_id=2, base={"email": "ann@example.com"}), history=[
        _change("first_name", "Ann", "Anna", run_id=run), _change("last_name", "Lee", "Lee-Smith", run_id=run),
    ])
    store.save_link(Link(whmcs_id=3, wp_id=4), history=[_change("first_name", "Bo", "Bob", key="bob@example.com",
                                                                 run_id=run, whmcs_id=3, wp_id=4)])
    found = store.history("Ann@Example.COM")
    assert [(e.change.field, e.change.before, e.change.after) for e in found] == [
        ("first_name", "Ann", "Anna"), ("last_name", "Lee", "Lee-Smith"),
    ]
    assert all(e.change.run_id == run and e.change.kind is ChangeKind.UPDATE for e in found)
    assert found[0].at.tzinfo is not None and found[0].at == found[1].at  # one write, one moment
    assert [e.change.field for e in store.history("bob@example.com")] == ["first_name"]
    assert store.history("carol@example.com") == []


def test_the_history_follows_an_email_change_both_ways_newest_first(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=2), history=[
        _change("email", "", "ann@example.com", kind=ChangeKind.CREATE)])
    store.save_link(Link(whmcs_id=1, wp_id=2), history=[
        _change("email", "ann@example.com", "ann@new.example", key="ann@new.example", run_id=2)])
    store.save_link(Link(whmcs_id=1, wp_id=2), history=[
        _change("first_name", "Ann", "Anna", key="ann@new.example", run_id=3)])
    by_old, by_new = store.history("ann@example.com"), store.history("ann@new.example")
    assert by_old == by_new
    assert [e.change.run_id for e in by_new] == [3, 2, 1]
    assert [e.change.run_id for e in store.history("ann@new.example", limit=2)] == [3, 2]


def test_a_failed_history_write_keeps_the_link_unsaved_too(store: SqlStateStore) -> None:
    # One transaction: if the history cannot be written, the link's commit is not made either,
    # so the next run sees the write again rather than a link with its history lost.
    store.save_link(Link(whmcs_id=1, wp_id=2, base={"first_name": "Ann"}))

    def refuse(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO HISTORY"):
            raise RuntimeError("disk full while writing the history")

    event.listen(store.engine, "before_cursor_execute", refuse)
    try:
        with pytest.raises((StateError, RuntimeError)):
            store.save_link(Link(whmcs_id=1, wp_id=2, base={"first_name": "Anna"}),
                            history=[_change("first_name", "Ann", "Anna")])
    finally:
        event.remove(store.engine, "before_cursor_execute", refuse)
    assert store.links() == [Link(whmcs_id=1, wp_id=2, base={"first_name": "Ann"})]
    assert store.history("ann@example.com") == []


def test_history_is_pruned_with_its_run(store_url: str, clock: StepClock) -> None:
    with SqlStateStore.open(store_url, clock=clock) as store:
        first = store.begin_run(direction="both", full=False)
        store.save_link(Link(whmcs_id=1, wp_id=2), history=[_change("first_name", "Ann", "Anna", run_id=first)])
        store.record_history([_change("link", "", "by hand", run_id=None, kind=ChangeKind.MANUAL_LINK)])
        for _ in range(KEEP_RUNS):
            store.begin_run(direction="both", full=False)
        clock.now += timedelta(days=KEEP_DAYS + 1)
        latest = store.begin_run(direction="both", full=False)  # prunes the first run: KEEP_RUNS newer, all old
        # ... and the change made by hand, older than KEEP_DAYS too.
        store.save_link(Link(whmcs_id=1, wp_id=2), history=[_change("last_name", "Lee", "Ng", run_id=latest)])
        assert first not in {r.run_id for r in store.runs(KEEP_RUNS + 5)}
        assert [e.change.field for e in store.history("ann@example.com")] == ["last_name"]


def test_a_run_keeps_its_history_while_the_run_is_kept(store_url: str, clock: StepClock) -> None:
    with SqlStateStore.open(store_url, clock=clock) as store:
        first = store.begin_run(direction="both", full=False)
        store.save_link(Link(whmcs_id=1, wp_id=2), history=[_change("first_name", "Ann", "Anna", run_id=first)])
        clock.now += timedelta(days=KEEP_DAYS + 1)
        store.begin_run(direction="both", full=False)  # old, but among the latest KEEP_RUNS: kept
        assert [e.change.run_id for e in store.history("ann@example.com")] == [first]


def test_a_one_user_run_keeps_its_user(store: SqlStateStore) -> None:
    whole = store.begin_run(direction="both", full=False)
    one = store.begin_run(direction="both", full=False, user="jane@example.com")
    by_id = {r.run_id: r for r in store.runs()}
    assert by_id[whole].user is None and by_id[one].user == "jane@example.com"


def test_no_history_column_can_hold_a_secret(store: SqlStateStore) -> None:
    with store.engine.connect() as conn:
        columns = [c["name"] for c in inspect(conn).get_columns("history")]
        indexes = {i["name"] for i in inspect(conn).get_indexes("history")}
    assert not [c for c in columns if SECRET_WORDS.search(c)]
    assert "ix_history_key" in indexes


def test_a_store_of_the_previous_schema_with_data_is_upgraded(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store, store.engine.begin() as conn:
        migrate.downgrade(conn, "0001")
        assert migrate.current(conn) == "0001" and "history" not in inspect(conn).get_table_names()
        conn.execute(text(
            "INSERT INTO links (whmcs_id, owner_user_id, wp_id, base, digests, gone_whmcs, gone_wordpress, "
            "deactivated_whmcs, deactivated_wordpress, saved_roles, dummy_fields, created_at, updated_at) VALUES "
            "(1, NULL, 2, '{\"email\": \"ann@example.com\"}', '{}', false, false, false, false, '[]', '[]', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO runs (id, started_at, finished_at, direction, full_run, outcome, counts, errors, conflicts, "
            "message) VALUES (7, '2026-01-01 00:00:00', '2026-01-01 00:00:05', 'both', false, 'ok', '{}', 0, 0, '')"))
        conn.execute(text(
            "INSERT INTO issues (key, side, kind, message, first_seen, last_seen, run_id) VALUES "
            "('bob@example.com', 'whmcs', 'error', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 7)"))
    with SqlStateStore.open(store_url) as upgraded:
        assert upgraded.schema_revision() == migrate.head()
        assert upgraded.links() == [Link(whmcs_id=1, wp_id=2, base={"email": "ann@example.com"})]
        (run,) = upgraded.runs()
        assert (run.run_id, run.outcome, run.user) == (7, "ok", None)
        assert [i.key for i in upgraded.open_issues()] == ["bob@example.com"]
        next_run = upgraded.begin_run(direction="both", full=False, user="ann@example.com")
        upgraded.save_link(Link(whmcs_id=1, wp_id=2), history=[_change("first_name", "Ann", "Anna", run_id=next_run)])
        assert [e.change.field for e in upgraded.history("ann@example.com")] == ["first_name"]
        assert {r.run_id: r.user for r in upgraded.runs()}[next_run] == "ann@example.com"


def test_a_read_only_store_of_the_previous_schema_says_to_run_once(store_url: str) -> None:
    with SqlStateStore.open(store_url) as store, store.engine.begin() as conn:
        migrate.downgrade(conn, "0001")
    with pytest.raises(StateError, match="at schema revision 0001; this syncd needs 0002"):
        SqlStateStore.open(store_url, create=False, read_only=True)


def test_links_made_or_forgotten_by_hand_are_kept_and_read_plainly(store: SqlStateStore) -> None:
    from syncd.render.history import history_json, history_text
    from syncd.sync.history import manual_link, manual_unlink

    run = store.begin_run(direction="both", full=False)
    store.save_link(Link(whmcs_id=1, wp_id=2), history=[
        _change("email", "", "ann@example.com", kind=ChangeKind.CREATE, run_id=run),
        _change("roles", "customer", "", kind=ChangeKind.DEACTIVATE, run_id=run),
    ])
    store.record_history(manual_unlink("ann@example.com", 1, 2))
    store.record_history(manual_link("ann@example.com", 1, 2))
    entries = store.history("ann@example.com")
    lines = history_text("ann@example.com", entries).splitlines()
    assert lines[0] == "What syncd changed for ann@example.com: 4 changes in 1 run, newest first:"
    assert lines[1].endswith("by hand: linked by hand (syncd link): WHMCS client #1 with WordPress user #2")
    assert lines[2].endswith("by hand: unlinked by hand (syncd unlink): WHMCS client #1 with WordPress user #2")
    assert lines[3].endswith(f"run {run}: WordPress user #2 created: email 'ann@example.com'")
    assert lines[4].endswith(f"run {run}: WordPress user #2 deactivated: roles 'customer' → ''")
    data = history_json("ann@example.com", entries)
    assert [c["kind"] for c in data["changes"]] == ["manual link", "manual unlink", "create", "deactivate"]
    assert data["changes"][0]["run_id"] is None and data["changes"][0]["side"] is None
