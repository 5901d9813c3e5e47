"""Issue 11, items 14 and 15: what an operator reads — help, report wording, dry runs, logs.

Every test runs ``python -m syncd`` as a process against both emulators on loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated
from tests.service.helpers import WAIT, NotifyListener

SECRET = "surface-test-secret"


Sides = Emulated


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Sides]:
    with emulated(tmp_path, SECRET) as s:
        yield s


def _syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120)


# ---- item 15 ---------------------------------------------------------------------------------


def test_group_help_lists_exit_codes_and_environment_variables() -> None:
    out = _syncd("--help")
    assert out.returncode == 0, out.stderr
    assert "Exit codes:" in out.stdout
    listed = {int(m) for m in re.findall(r"^\s+(\d+)\s{2,}\S", out.stdout, flags=re.M)}
    assert listed == {0, 1, 2, 3, 4, 5, 6, 130}, out.stdout
    for name in ("SYNCD_CONFIG", "SYNCD_WHMCS_SECRET", "SYNCD_WORDPRESS_APPLICATION_PASSWORD", "CREDENTIALS_DIRECTORY"):
        assert name in out.stdout, name


def test_full_help_says_what_full_does_today_like_the_readme() -> None:
    out = _syncd("sync", "--help")
    assert "cached digests" not in out.stdout  # there are none: every run reads and compares everything
    assert "same work" in " ".join(out.stdout.split())
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert "a full run does the same work" in readme


def test_report_says_one_conflict_and_one_duplicate_email_in_the_singular(sides: Sides) -> None:
    sides.whmcs.add_client("bob@example.com", "Robert", "Baker")
    sides.wp.add_user("bob", "bob@example.com", "Bob", "Baker")  # first contact: one conflict
    sides.whmcs.add_client("dave@example.com", "Dave", "One")
    sides.whmcs.add_client("DAVE@example.com", "David", "Two")  # one duplicate email
    sides.whmcs.add_client("solo@example.com", "Solo", "Client")  # one planned create
    dry = sides.syncd("sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "planned actions" in dry.stdout  # several here
    run = sides.syncd("sync")
    assert run.returncode == 0, run.stderr
    assert "1 conflict," in run.stdout and "1 duplicate email," in run.stdout, run.stdout
    assert "1 conflicts" not in run.stdout and "1 duplicate emails" not in run.stdout
    sides.whmcs.add_client("late@example.com", "Late", "Client")
    dry = sides.syncd("sync", "--dry-run")
    assert "1 planned action," in dry.stdout, dry.stdout


def test_dry_run_with_the_guard_tripped_says_the_run_would_stop(sides: Sides) -> None:
    sides.whmcs.add_client("a@example.com", "A", "One")
    sides.whmcs.add_client("b@example.com", "B", "Two")
    assert sides.syncd("sync").returncode == 0
    sides.whmcs.clients.clear()  # WHMCS lists nobody: the guard trips
    dry = sides.syncd("sync", "--dry-run")
    assert "safety guard" in dry.stdout, dry.stdout
    assert "was stopped" not in dry.stdout
    assert "would stop" in dry.stdout
    forced = sides.syncd("sync", "--dry-run", "--force")
    assert "was stopped" not in forced.stdout and "--force would let it through" in forced.stdout, forced.stdout


def test_manual_sync_with_sync_disabled_says_so_in_one_line_and_goes_ahead(sides: Sides) -> None:
    sides.whmcs.add_client("a@example.com", "A", "One")
    sides.write_config(enabled=False)
    out = sides.syncd("sync")
    assert out.returncode == 0, out.stderr
    notes = [line for line in out.stderr.splitlines() if "enabled = false" in line]
    assert len(notes) == 1, out.stderr
    assert "goes ahead" in notes[0] and "daemon" in notes[0]
    assert "a@example.com" in {u.email for u in sides.wp.users.values()}
    sides.write_config()
    assert "enabled = false" not in sides.syncd("sync").stderr


def test_verbose_dry_run_shows_syncds_skips_and_no_library_noise(sides: Sides) -> None:
    sides.whmcs.add_client("a@example.com", "A", "One")
    out = sides.syncd("sync", "--dry-run", "-v")
    assert out.returncode == 0, out.stderr
    assert "admin@example.com" in out.stderr and "never synchronised" in out.stderr, out.stderr  # the admin's skip
    for noise in ("httpx", "httpcore", "filelock", "HTTP Request"):
        assert noise not in out.stderr, out.stderr


# ---- item 14 ---------------------------------------------------------------------------------


def _log_lines(stderr: str, level: str, needle: str) -> list[str]:
    return [line for line in stderr.splitlines() if f" {level} " in f" {line} " and needle in line]


def test_a_duplicate_email_is_said_once_when_it_appears_and_again_when_resolved(sides: Sides) -> None:
    sides.whmcs.add_client("dave@example.com", "Dave", "One")
    sides.whmcs.add_client("DAVE@example.com", "David", "Two")
    first = sides.syncd("sync")
    assert first.returncode == 0, first.stderr
    assert len(_log_lines(first.stderr, "WARNING", "share the email dave@example.com")) == 1, first.stderr
    assert _log_lines(first.stderr, "INFO", "run 1 started"), first.stderr
    for _ in range(2):  # the polls that follow: the same duplicate, not announced again
        again = sides.syncd("sync")
        assert again.returncode == 0, again.stderr
        assert _log_lines(again.stderr, "WARNING", "share the email") == [], again.stderr
        assert "1 duplicate email" in again.stdout  # the run's own report still lists it
    third = next(iter(c for c in sides.whmcs.clients.values() if c.email == "dave@example.com"))
    third.email = "dave.one@example.com"  # settled in WHMCS
    resolved = sides.syncd("sync")
    assert resolved.returncode == 0, resolved.stderr
    lines = _log_lines(resolved.stderr, "INFO", "resolved")
    assert len(lines) == 1 and "dave@example.com" in lines[0], resolved.stderr


def test_a_duplicate_that_changes_is_said_again(sides: Sides) -> None:
    sides.whmcs.add_client("dave@example.com", "Dave", "One")
    sides.whmcs.add_client("DAVE@example.com", "David", "Two")
    assert sides.syncd("sync").returncode == 0
    sides.whmcs.add_client("Dave@Example.com", "Davy", "Three")  # a third one: the issue changed
    changed = sides.syncd("sync")
    assert len(_log_lines(changed.stderr, "WARNING", "share the email dave@example.com")) == 1, changed.stderr


def test_each_failed_poll_of_the_daemon_logs_one_error_line(sides: Sides) -> None:
    sides.whmcs.add_client("a@example.com", "A", "One")
    sides.wp_password = "wrong password for the site"  # every run fails reading WordPress
    sides.write_config(interval_seconds=1, full_resync_cron="")
    listener = NotifyListener()
    env = {**os.environ, "NOTIFY_SOCKET": listener.address}
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(sides.config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        listener.wait_for(lambda lines: sum(line.startswith("STATUS=last sync failed") for line in lines) >= 2,
                          "two failed polls")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT)
        listener.close()
    failed = sum(line.startswith("STATUS=last sync failed") for line in listener.lines)
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == failed, err
    assert all("will retry" not in line for line in errors)  # said once, at INFO, after the ERROR
    started = [line for line in err.splitlines() if " INFO " in line and "started (sync" in line]
    assert len(started) >= failed, err


def test_a_run_due_while_one_is_going_is_said_in_syncds_words_once_not_apschedulers(sides: Sides) -> None:
    for i in range(4):
        sides.whmcs.add_client(f"slow{i}@example.com", "Slow", f"N{i}")
    sides.wp.latency = 1.5  # the first run lasts a few seconds: the 1-second interval comes due meanwhile
    sides.write_config(interval_seconds=1, full_resync_cron="")
    listener = NotifyListener()
    env = {**os.environ, "NOTIFY_SOCKET": listener.address}
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(sides.config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        listener.wait_for(lambda lines: any(line.startswith("STATUS=last sync ok") for line in lines), "the first run")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT)
        listener.close()
    assert "maximum number of running instances" not in err, err
    said = [line for line in err.splitlines() if "came due while the previous run was still going" in line]
    assert len(said) == 1 and " INFO " in said[0], err


def test_json_logs_carry_run_user_side_and_action_as_fields(sides: Sides) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    sides.whmcs.add_client("dave@example.com", "Dave", "One")
    sides.whmcs.add_client("DAVE@example.com", "David", "Two")
    sides.write_config(log={"format": "json"})
    out = sides.syncd("sync")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    started = [d for d in lines if "started" in d["message"]]
    assert started and started[0]["run"] == "1", lines
    [create] = [d for d in lines if d["message"].startswith("run 1: create WordPress user ann@example.com")]
    assert (create["run"], create["user"], create["side"], create["action"]) == (
        "1", "ann@example.com", "wordpress", "create"), create
    [duplicate] = [d for d in lines if "share the email" in d["message"]]
    assert (duplicate["run"], duplicate["user"], duplicate["level"]) == ("1", "dave@example.com", "WARNING"), duplicate
    assert "side" in duplicate
