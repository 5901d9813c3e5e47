"""``syncd history EMAIL`` as a process against both served emulators: what syncd changed for one
person, field by field, newest first, found by any of the person's emails; plain words and exit
1 for an email with no history, exit 2 for an argument that is no email; ``--json`` and
``--limit``; a dry run records nothing; no password ever reaches the history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.emulated import Emulated, emulated

SECRET = "history-secret-0123456789"


def _history_rows(world: Emulated) -> list[tuple[str, ...]]:
    connection = sqlite3.connect(world.tmp / "state.db")
    try:
        return [tuple(map(str, row)) for row in connection.execute("SELECT * FROM history")]
    finally:
        connection.close()


def _sync(world: Emulated, *args: str) -> None:
    done = world.syncd("sync", *args)
    assert done.returncode == 0, done.stderr


def test_history_shows_each_change_and_follows_an_email_change(tmp_path: Path) -> None:
    with emulated(tmp_path, SECRET) as world:
        cid = world.whmcs.add_client("ann@example.com", "Ann", "Archer")
        _sync(world)  # creates Ann's WordPress user
        (wp_user,) = [u for u in world.wp.users.values() if u.email == "ann@example.com"]
        client = world.whmcs.clients[cid]
        client.firstname, client.lastname = "Anna", "Archer-Smith"
        _sync(world)  # one update of two fields on WordPress

        shown = world.syncd("history", "Ann@Example.com")
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0] == "What syncd changed for Ann@Example.com: 5 changes in 2 runs, newest first:"
        updates = [line for line in lines if " updated: " in line]
        assert len(updates) == 2 and all("run 2: WordPress user #" in line for line in updates)
        assert any("first_name 'Ann' → 'Anna'" in line for line in updates)
        assert any("last_name 'Archer' → 'Archer-Smith'" in line for line in updates)
        assert lines.index(updates[0]) < lines.index(next(line for line in lines if " created: " in line))
        assert f"run 1: WordPress user #{wp_user.id} created: email 'ann@example.com'" in shown.stdout

        # The person changes their email in WordPress; syncd copies it to WHMCS.
        wp_user.email = "anna@example.net"
        _sync(world)
        by_new = world.syncd("history", "anna@example.net", "--json")
        by_old = world.syncd("history", "ann@example.com", "--json")
        assert by_new.returncode == by_old.returncode == 0, by_new.stderr + by_old.stderr
        new, old = json.loads(by_new.stdout), json.loads(by_old.stdout)
        assert new["changes"] == old["changes"] and len(new["changes"]) == 6
        latest = new["changes"][0]
        assert latest == {
            "at": latest["at"], "run_id": 3, "key": latest["key"], "side": "whmcs", "kind": "update",
            "field": "email", "before": "ann@example.com", "after": "anna@example.net",
            "whmcs_id": cid, "wp_id": wp_user.id,
        }
        assert (new["email"], new["found"], new["limited"]) == ("anna@example.net", True, False)

        limited = world.syncd("history", "anna@example.net", "--limit", "1")
        assert limited.returncode == 0 and len(limited.stdout.splitlines()) == 2
        assert "only the latest shown" in limited.stdout

        # A dry run records nothing.
        client.companyname = "Archer & Co"
        _sync(world, "--dry-run")
        assert len(json.loads(world.syncd("history", "anna@example.net", "--json").stdout)["changes"]) == 6

        # No password reaches the history: not the one syncd gave the WordPress user, nor any secret.
        rows = _history_rows(world)
        assert rows and not any(secret in value for row in rows for value in row
                                for secret in (wp_user.password, SECRET, world.wp_password))


def test_an_email_with_no_history_is_said_plainly_with_exit_1(tmp_path: Path) -> None:
    with emulated(tmp_path, SECRET) as world:
        before_any_run = world.syncd("history", "nobody@example.com")
        world.whmcs.add_client("ann@example.com", "Ann", "Archer")
        _sync(world)
        unknown = world.syncd("history", "nobody@example.com")
        as_json = world.syncd("history", "nobody@example.com", "--json")
    for done in (before_any_run, unknown):
        assert done.returncode == 1, done.stderr
        assert done.stdout.startswith("No history for nobody@example.com:") and "Traceback" not in done.stderr
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {"email": "nobody@example.com", "found": False, "limited": False,
                                          "changes": []}


def test_history_needs_no_secret_and_refuses_an_argument_that_is_no_email(tmp_path: Path) -> None:
    with emulated(tmp_path, SECRET) as world:
        world.whmcs.add_client("ann@example.com", "Ann", "Archer")
        _sync(world)
        # The configuration without its secrets: history reads the state store only.
        text = world.config.read_text(encoding="utf-8")
        world.config.write_text("\n".join(line for line in text.splitlines()
                                          if not line.startswith(("secret", "application_password"))) + "\n")
        without_secrets = world.syncd("history", "ann@example.com")
        not_an_email = world.syncd("history", "not an email")
        bad_limit = world.syncd("history", "ann@example.com", "--limit", "0")
    assert without_secrets.returncode == 0, without_secrets.stderr
    assert "created: email 'ann@example.com'" in without_secrets.stdout
    assert not_an_email.returncode == 2 and "is not an email address" in not_an_email.stderr
    assert bad_limit.returncode == 2 and "Traceback" not in bad_limit.stderr


def test_history_of_a_missing_or_old_store_says_what_to_do(tmp_path: Path) -> None:
    from syncd.state import migrate
    from syncd.state.store import SqlStateStore

    with emulated(tmp_path, SECRET) as world:
        world.write_config(state_url=f"sqlite:///{tmp_path / 'nope' / 'state.db'}")
        typo = world.syncd("history", "ann@example.com")
        world.write_config()
        with SqlStateStore.open(f"sqlite:///{tmp_path / 'state.db'}") as store, store.engine.begin() as conn:
            migrate.downgrade(conn, "0001")  # a store the previous syncd wrote
        old = world.syncd("history", "ann@example.com")
        _sync(world)  # the next run upgrades it
        upgraded = world.syncd("history", "ann@example.com")
    assert typo.returncode == 2 and "does not exist" in typo.stderr and "Traceback" not in typo.stderr
    assert old.returncode == 6 and "The next run that writes (syncd sync or syncd run) upgrades it" in old.stderr
    assert upgraded.returncode == 1 and upgraded.stdout.startswith("No history for ann@example.com")


def test_status_shows_the_user_of_a_one_user_run(tmp_path: Path) -> None:
    from syncd.state.store import SqlStateStore

    with emulated(tmp_path, SECRET) as world:
        with SqlStateStore.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
            whole = store.begin_run(direction="both", full=False)
            store.finish_run(whole, outcome="ok", counts={}, errors=0, conflicts=0)
            one = store.begin_run(direction="both", full=False, user="jane@example.com")
            store.finish_run(one, outcome="ok", counts={"update": 1}, errors=0, conflicts=0)
        shown = world.syncd("status")
        as_json = world.syncd("status", "--json")
    assert shown.returncode == 0, shown.stderr
    (line,) = [line for line in shown.stdout.splitlines() if line.startswith(f"  #{one} ")]
    assert "both (one-user run for jane@example.com)" in line
    assert "one-user run" not in next(line for line in shown.stdout.splitlines() if line.startswith(f"  #{whole} "))
    runs = {run["run_id"]: run for run in json.loads(as_json.stdout)["runs"]}
    assert (runs[one]["user"], runs[whole]["user"]) == ("jane@example.com", None)
