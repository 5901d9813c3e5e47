"""PostgreSQL specifics, on a real server: lock timeouts, URLs, and passwords kept out of messages."""

from __future__ import annotations

import pytest

from syncd.app import read_status
from syncd.errors import StateError
from syncd.model import Link
from syncd.render.status import status_json
from syncd.state import url as state_url
from syncd.state.store import SqlStateStore
from tests.state.conftest import PgServer


def test_a_table_locked_by_another_session_fails_plainly_after_the_timeout(pg_server: PgServer) -> None:
    import psycopg

    url = pg_server.empty_database()
    with SqlStateStore.open(url, busy_timeout=0.2) as store:
        store.save_link(Link(whmcs_id=1, wp_id=1))
        database = url.split("/")[3].split("?")[0]
        with psycopg.connect(host=str(pg_server.socket_dir), user=pg_server.user, dbname=database) as other:
            other.execute("LOCK TABLE links IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StateError, match=r"is locked by another program \(waited 0\.2 s\)"):
                store.save_link(Link(whmcs_id=2, wp_id=2))
            other.rollback()
        store.save_link(Link(whmcs_id=2, wp_id=2))
        assert len(store.links()) == 2


def test_a_password_in_the_url_never_shows(pg_server: PgServer) -> None:
    base = pg_server.empty_database()
    url = base.replace(f"//{pg_server.user}@", f"//{pg_server.user}:hunter2-pw@")  # trust auth ignores it
    with SqlStateStore.open(url) as store:
        shown = [repr(store), store.location, str(status_json(read_status(store)))]
        with pytest.raises(StateError) as caught:
            store.finish_run(12345, outcome="ok", counts={}, errors=0, conflicts=0)
        shown.append(str(caught.value))
    missing = url.replace("/t_", "/no_such_db_")
    with pytest.raises(StateError, match="cannot open the state database") as unreachable:
        SqlStateStore.open(missing)
    shown.append(str(unreachable.value))
    assert all("hunter2" not in text for text in shown), shown
    assert "***" in store.location


def test_exists_tells_an_empty_database_from_a_store(pg_server: PgServer) -> None:
    url = pg_server.empty_database()
    assert SqlStateStore.exists(url) is False
    with pytest.raises(StateError, match="is empty"):
        SqlStateStore.open(url, read_only=True)
    SqlStateStore.open(url).close()
    assert SqlStateStore.exists(url) is True


@pytest.mark.parametrize("given", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg2://u@h/db"])
def test_postgresql_urls_use_psycopg_3(given: str) -> None:
    assert state_url.parse(given).drivername == "postgresql+psycopg"
