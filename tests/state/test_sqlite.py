"""SQLite specifics: pragmas, files, and every failure turned into a plain StateError."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.errors import ConfigError, StateError
from syncd.model import Link
from syncd.state.store import SqlStateStore
from tests.sqlite_holder import exclusive_lock_in_another_process


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_pragmas_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    with SqlStateStore.open(_url(tmp_path / "s.db"), busy_timeout=2.5) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_open_creates_the_database_but_never_its_directory(tmp_path: Path) -> None:
    # A mistyped state_url must not start a new, empty store in a directory tree made up for it.
    path = tmp_path / "var" / "lib" / "syncd" / "state.db"
    with pytest.raises(ConfigError, match=r"directory .*syncd of the state database does not exist"):
        SqlStateStore.open(_url(path))
    assert not (tmp_path / "var").exists()
    path.parent.mkdir(parents=True)
    with SqlStateStore.open(_url(path)) as store:
        assert store.location == str(path)
    assert path.is_file()


def test_a_relative_path_is_taken_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SqlStateStore.open("sqlite:///state.db") as store:
        assert store.location == str(tmp_path / "state.db")


@pytest.mark.parametrize(("create", "read_only"), [(False, False), (True, True), (False, True)])
def test_a_missing_database_is_not_created_when_asked_not_to(tmp_path: Path, create: bool, read_only: bool) -> None:
    path = tmp_path / "nowhere" / "state.db"
    with pytest.raises(StateError, match=r"no state database at .*state\.db yet"):
        SqlStateStore.open(_url(path), create=create, read_only=read_only)
    assert not path.parent.exists()
    assert SqlStateStore.exists(_url(path)) is False


def test_read_only_never_migrates_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    with pytest.raises(StateError, match="is empty"):
        SqlStateStore.open(_url(path), read_only=True)
    assert path.stat().st_size == 0
    assert SqlStateStore.exists(_url(path)) is False
    with SqlStateStore.open(_url(path)):
        pass
    assert SqlStateStore.exists(_url(path)) is True


def test_a_write_waits_for_a_lock_then_fails_plainly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqlStateStore.open(_url(path), busy_timeout=0.2) as store:
        store.save_link(Link(whmcs_id=1, wp_id=1))
        with exclusive_lock_in_another_process(path):
            with pytest.raises(StateError) as caught:
                store.save_link(Link(whmcs_id=2, wp_id=2))
            message = str(caught.value)
            assert message.startswith(f"the state database {path} is locked by another program (waited 0.2 s)")
            assert "nothing was recorded" in message
            assert store.links() == [Link(whmcs_id=1, wp_id=1)]  # WAL: reading goes on meanwhile
        store.save_link(Link(whmcs_id=2, wp_id=2))  # the lock is gone: writing works again
        assert len(store.links()) == 2


def test_opening_a_locked_database_that_needs_its_schema_fails_plainly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()  # an empty database: open() must write the schema
    with exclusive_lock_in_another_process(path), pytest.raises(StateError, match="is locked by another program"):
        SqlStateStore.open(_url(path), busy_timeout=0.2)


def test_a_full_disk_is_a_plain_state_error_and_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqlStateStore.open(_url(path)) as store, store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    assert isinstance(pages, int)
    # max_page_count makes a disk exactly as big as the database is now.
    with SqlStateStore.open(_url(path), sqlite_pragmas={"max_page_count": pages + 1}) as small:
        saved: list[Link] = []
        with pytest.raises(StateError) as caught:
            for n in range(1, 1000):
                link = Link(whmcs_id=n, wp_id=n, base={"email": f"user{n}@example.com", "first_name": "x" * 200})
                small.save_link(link)
                saved.append(link)
        assert saved, "the small disk should hold at least one link"
        assert str(caught.value).startswith(f"the state database {path} is full (no space left on its disk")
        assert small.links() == saved  # every committed link is there, the failed one is not half-written
    with SqlStateStore.open(_url(path)) as roomy:
        roomy.save_link(Link(whmcs_id=5000, wp_id=5000))
        assert len(roomy.links()) == len(saved) + 1


def test_a_database_that_refuses_writes_is_a_plain_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqlStateStore.open(_url(path)).close()
    # query_only gives the same SQLite error as a read-only file (which root could write anyway).
    with SqlStateStore.open(_url(path), sqlite_pragmas={"query_only": 1}) as store, \
            pytest.raises(StateError, match=r"is read-only while saving the link of WHMCS client 1: syncd needs"):
        store.save_link(Link(whmcs_id=1, wp_id=1))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_file_is_a_plain_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqlStateStore.open(_url(path)).close()
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StateError, match=r"read-only|cannot open"):
            SqlStateStore.open(_url(path)).save_link(Link(whmcs_id=1, wp_id=1))
    finally:
        tmp_path.chmod(0o755)


def test_a_file_that_is_not_a_database_is_named_plainly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_text("this is a text file, not a database\n" * 100)
    with pytest.raises(StateError, match=r"is not an SQLite database"):
        SqlStateStore.open(_url(path))


def test_a_file_in_place_of_the_directory_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="does not exist"):
        SqlStateStore.open(_url(blocker / "sub" / "state.db"))


def test_an_in_memory_store_works_but_cannot_be_read_only() -> None:
    with SqlStateStore.open("sqlite://") as store:
        store.save_link(Link(whmcs_id=1, wp_id=2))
        assert store.links() == [Link(whmcs_id=1, wp_id=2)]
        assert store.location == "an in-memory SQLite database"
    with pytest.raises(StateError, match="read-only"):
        SqlStateStore.open("sqlite://", read_only=True)


@pytest.mark.parametrize("url", ["mysql://u:hunter2-pw@db/x", "sqlite+foo:///x.db", "postgresql://u:hunter2-pw@h:xx/db",
                                 "not a url hunter2-pw", "sqlite:///file:x.db?mode=ro&uri=true"])
def test_a_bad_url_is_a_plain_state_error_without_its_password(url: str) -> None:
    with pytest.raises(StateError, match="state_url") as caught:
        SqlStateStore.open(url)
    assert "hunter2" not in str(caught.value)


def test_a_link_edited_into_bad_json_is_a_plain_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqlStateStore.open(_url(path))
    store.save_link(Link(whmcs_id=1, wp_id=2, base={"email": "a@example.test"}))
    store.save_link(Link(whmcs_id=3, wp_id=4, base={"email": "b@example.test"}))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE links SET base = '{\"email\": ' WHERE whmcs_id = 3")
    with pytest.raises(StateError, match="not JSON"):
        store.links()
    store.close()


def test_many_links_are_read_back_in_order_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd.state import store as store_module

    monkeypatch.setattr(store_module, "_LINKS_BATCH", 3)  # links are streamed in batches: cross a few of them
    store = SqlStateStore.open(_url(tmp_path / "state.db"))
    for i in range(1, 12):
        store.save_link(Link(whmcs_id=i, wp_id=100 + i, base={"email": f"u{i}@example.test"},
                             saved_roles=("customer",) if i % 2 else ()))
    links = store.links()
    assert [link.whmcs_id for link in links] == list(range(1, 12))
    assert [link.wp_id for link in links] == list(range(101, 112))
    assert links[0].saved_roles == ("customer",) and links[1].saved_roles == ()
    assert links[-1].base["email"] == "u11@example.test"
    store.close()


def test_a_batch_of_links_writes_the_same_text_as_one_save(tmp_path: Path) -> None:
    # save_links hands its rows to the driver itself: its JSON and times must be the text that
    # save_link's typed columns write, or rows would sort and compare differently as text.
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # no microseconds: sqlite3's own adapter drops them
    path = tmp_path / "state.db"
    with SqlStateStore.open(f"sqlite:///{path}", create=True, clock=lambda: at) as store:
        base = {"email": "zoë@example.com", "first_name": "Zoë"}
        store.save_link(Link(whmcs_id=1, wp_id=1, base=base, digests={"whmcs": "a" * 32}))
        store.save_links([(Link(whmcs_id=2, wp_id=2, base=base, digests={"whmcs": "a" * 32}), ())])
    with sqlite3.connect(path) as raw:
        one, batch = raw.execute("SELECT base, digests, saved_roles, dummy_fields, created_at, updated_at "
                                 "FROM links ORDER BY whmcs_id").fetchall()
    assert one == batch and batch[4] == "2026-03-01 12:00:00.000000"
