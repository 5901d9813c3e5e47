"""``syncd status --check`` and ``syncd test-connection --json`` as processes against both
emulators (issue 11, item 19; DESIGN §3.1), and ``status`` with no secret at hand (item 8): one
line for monitoring with the monitoring-plugin exit codes, decided by ``syncd.exits``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.e2e.harness import Run, Sides
from tests.faults.world import World


def _check(sides: Sides) -> Run:
    run = sides.syncd("status", "--check")
    assert len(run.stdout.splitlines()) == 1, run.stdout  # one line, whatever the state
    assert "Traceback" not in run.stderr
    return run


def _age_the_store(db: Path, *, runs: bool = False, issues: bool = False) -> None:
    """Move the recorded times back two days (as if the runs or the issues were that old)."""
    with sqlite3.connect(db) as conn:
        if runs:
            conn.execute("UPDATE runs SET started_at = datetime(started_at, '-2 days'), "
                         "finished_at = datetime(finished_at, '-2 days')")
        if issues:
            conn.execute("UPDATE issues SET first_seen = datetime(first_seen, '-2 days')")


def _without_secrets(config: Path) -> None:
    lines = config.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith(("secret =", "application_password ="))]
    config.write_text("\n".join(kept) + "\n", encoding="utf-8")


def test_status_check_codes_from_never_to_ok_warning_critical_and_unknown(tmp_path: Path) -> None:
    world = World(tmp_path, sync={"max_deletes": 0, "interval_seconds": 300})
    world.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    world.wp.add_user("bob", "bob@example.com", "Bob", "Brown")
    with world.served() as sides:
        never = _check(sides)
        assert never.code == 2 and never.stdout.startswith("SYNCD CRITICAL - no run has ever finished here")

        assert sides.syncd("sync").code == 0
        ok = _check(sides)
        assert ok.code == 0, ok.stdout
        assert ok.stdout.startswith("SYNCD OK - last successful run") and "0 users in error" in ok.stdout

        # a user who fails: WARNING
        world.wp.add_user("ann", "ann@example.com", "Ann", "Archer")
        world.whmcs.fail_on("AddClient", kind="truncate", times=None)
        assert sides.syncd("sync").code == 1
        warning = _check(sides)
        assert warning.code == 1, warning.stdout
        assert warning.stdout.startswith("SYNCD WARNING - the last run (#2) had 1 user failing")
        # ... in error for over a day: still WARNING, and said
        _age_the_store(sides.state_db, issues=True)
        old = _check(sides)
        assert old.code == 1 and "1 user in error for over a day, the oldest ann@example.com" in old.stdout

        # no successful run within 3 intervals: CRITICAL
        _age_the_store(sides.state_db, runs=True)
        stale = _check(sides)
        assert stale.code == 2, stale.stdout
        assert stale.stdout.startswith("SYNCD CRITICAL - no successful run for 2 days")

        # a side that cannot be reached: CRITICAL, and the message says what failed
        world.whmcs.faults.clear()
        world.whmcs.fail_on("GetClients", status=503, times=None)
        assert sides.syncd("sync").code == 3
        world.whmcs.faults.clear()
        side = _check(sides)
        assert side.code == 2 and "the last run (#3) failed" in side.stdout and "HTTP 503" in side.stdout

        # the guard: CRITICAL
        users = sides.wp_users()
        reply = httpx.delete(sides.site.rest_url(f"/users/{users['bob@example.com']['id']}",
                                                 {"force": "true", "reassign": 1}), auth=sides.site.auth)
        assert reply.status_code == 200
        assert sides.syncd("sync").code == 4
        guard = _check(sides)
        assert guard.code == 2 and "stopped by the safety guard: the run was stopped" in guard.stdout
        assert "--force" in guard.stdout

    # the state store unreadable: UNKNOWN
    sides.state_db.write_bytes(b"this is not a database" * 100)
    unknown = _check(sides)
    assert unknown.code == 3 and unknown.stdout.startswith("SYNCD UNKNOWN - "), unknown.stdout
    assert str(sides.state_db) in unknown.stdout
    # a configuration that cannot be read: UNKNOWN too (a monitoring system's code, never 2 for it)
    sides.config.write_text("[whmcs\n", encoding="utf-8")
    broken = _check(sides)
    assert broken.code == 3 and broken.stdout.startswith("SYNCD UNKNOWN - ") and "not valid TOML" in broken.stdout
    # several problems: still one line, the problems joined with "; " (no "  - " bullets)
    sides.config.write_text('[whmcs]\nurl = "ftp://x"\n[sync]\ninterval_seconds = -1\n', encoding="utf-8")
    many = _check(sides)
    assert many.code == 3 and many.stdout.count("\n") == 1, many.stdout
    assert "; " in many.stdout and " - [" not in many.stdout and "  - " not in many.stdout, many.stdout


def test_status_and_status_check_need_no_secret(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    with world.served() as sides:
        assert sides.syncd("sync").code == 0
        _without_secrets(sides.config)  # as from a shell, with the secrets held as systemd credentials
        status = sides.syncd("status")
        check = _check(sides)
        sync = sides.syncd("sync")
    assert status.code == 0, status.stderr
    assert "Links: 1" in status.stdout and "secret" not in status.stderr
    assert check.code == 0 and check.stdout.startswith("SYNCD OK - "), check.stdout
    assert sync.code == 2 and "secret is required" in sync.stderr  # a command that calls a side still needs them


def test_test_connection_json_lists_every_check_with_the_same_exit_codes(tmp_path: Path) -> None:
    world = World(tmp_path)
    with world.served() as sides:
        good = sides.syncd("test-connection", "--json")
        text = sides.syncd("test-connection")
        bad_config = sides.config.read_text(encoding="utf-8").replace('secret = "', 'secret = "wrong-')
        sides.config.write_text(bad_config, encoding="utf-8")
        bad = sides.syncd("test-connection", "--json")
    assert good.code == 0 == text.code, good.stdout + good.stderr
    data = good.json()
    assert data["ok"] is True and data["failed"] == 0
    assert {c["side"] for c in data["checks"]} == {"whmcs", "wordpress"}
    assert all(set(c) == {"side", "name", "ok", "message", "fix"} for c in data["checks"])
    assert len(data["checks"]) == len([line for line in text.stdout.splitlines() if "] OK " in line])
    assert bad.code == 3, bad.stdout + bad.stderr
    failed = [c for c in bad.json()["checks"] if not c["ok"]]
    assert failed and failed[0]["side"] == "whmcs" and failed[0]["fix"], failed
    assert "wrong-" not in bad.stdout  # no secret in what is shown
