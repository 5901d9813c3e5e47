"""``syncd status`` as a process against both emulators (issue 11, item 7): each kind of run says
how it ended (a failed, guard-stopped or erroring run is never "nothing to do"), conflicts are
counted as the run counts them (a duplicate email is not a conflict), a run stopped with Ctrl-C is
recorded as interrupted at once, and ``sync --json`` prints the outcome of a run that failed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.harness import Sides, interruptible
from tests.faults.world import World


def _runs(sides: Sides) -> list[dict[str, object]]:
    shown = sides.syncd("status", "--json")
    assert shown.code == 0, shown.stderr
    runs: list[dict[str, object]] = shown.json()["runs"]
    return runs


def _run_line(status_text: str, run_id: int) -> str:
    return next(line for line in status_text.splitlines() if line.startswith(f"  #{run_id} "))


def _wp_delete(sides: Sides, email: str) -> None:
    users = sides.wp_users()
    reply = httpx.delete(sides.site.rest_url(f"/users/{users[email]['id']}", {"force": "true", "reassign": 1}),
                         auth=sides.site.auth, timeout=30)
    assert reply.status_code == 200, reply.text


def test_status_says_how_each_run_ended_and_counts_conflicts_as_the_run_does(tmp_path: Path) -> None:
    world = World(tmp_path, sync={"max_deletes": 0})
    world.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    world.wp.add_user("cat", "Cat@Example.com", "Cat", "Cole")  # a conflict at first contact
    world.whmcs.add_client("dup@example.com", "Dee", "One")
    world.whmcs.add_client("dup@example.com", "Dee", "Two")  # a duplicate email, not a conflict
    world.whmcs.add_client("bob@example.com", "Bob", "Brown")
    with world.served() as sides:
        first = sides.syncd("sync", "--json")
        assert first.code == 0, first.stderr
        report = first.json()
        assert len(report["conflicts"]) == 1 and len(report["duplicates"]) == 1
        status = sides.syncd("status")
        line = _run_line(status.stdout, report["run_id"])
        assert line.endswith("0 failed, 1 conflict"), line  # as the run said; singular
        assert "Users in conflict: 1\n" in status.stdout and "Duplicate emails: 1\n" in status.stdout
        assert _runs(sides)[0]["conflicts"] == 1

        # a side that cannot be listed: the run failed, and --json still says so on stdout
        world.whmcs.fail_on("GetClients", status=503, times=None)
        failed = sides.syncd("sync", "--json")
        world.whmcs.faults.clear()
        assert failed.code == 3, failed.stderr
        out = failed.json()
        assert out["outcome"] == "failed" and "HTTP 503" in out["message"] and out["exit_code"] == 3
        assert "Traceback" not in failed.stderr

        # the guard: a deletion with max_deletes = 0
        _wp_delete(sides, "bob@example.com")
        guarded = sides.syncd("sync", "--json")
        assert guarded.code == 4, guarded.stderr
        assert guarded.json()["outcome"] == "guard" and "max_deletes = 0" in guarded.json()["message"]

        status = sides.syncd("status")
    assert status.code == 0, status.stderr
    runs = status.stdout
    failed_line, guard_line = _run_line(runs, 2), _run_line(runs, 3)
    assert " failed " in failed_line and "nothing done" in failed_line and "HTTP 503" in failed_line, failed_line
    assert " guard " in guard_line and "nothing done" in guard_line and "max_deletes" in guard_line, guard_line
    assert "nothing to do" not in failed_line + guard_line
    assert "0 conflicts" in failed_line  # plural


def test_a_run_with_failing_users_is_not_nothing_to_do(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.wp.add_user("ann", "ann@example.com", "Ann", "Archer")
    with world.served() as sides:
        world.whmcs.fail_on("AddClient", kind="truncate", times=None)  # the outcome is unknown: that user fails
        run = sides.syncd("sync")
        status = sides.syncd("status")
    assert run.code == 1, run.stdout + run.stderr
    line = _run_line(status.stdout, 1)
    assert " errors " in line and "nothing done; 1 failed" in line, line
    assert "nothing to do" not in status.stdout


def test_ctrl_c_records_the_run_as_interrupted_at_once(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.wp.add_user("ann", "ann@example.com", "Ann", "Archer")
    hang = world.whmcs.fail_on("AddClient", kind="timeout_after_commit", seconds=3, times=None)
    with world.served() as sides:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(sides.config), "sync"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, preexec_fn=interruptible,
        )
        deadline = time.monotonic() + 60
        while hang.hits == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the create to be in flight (not an assertion on time)
        assert hang.hits > 0, "the create never reached WHMCS"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        world.whmcs.faults.clear()
        assert proc.returncode == 130, out + err
        assert "syncd: interrupted" in err and "Traceback" not in err
        runs = _runs(sides)  # no later run has relabelled it
    assert runs[0]["outcome"] == "interrupted", json.dumps(runs[0])
    assert "Ctrl-C" in str(runs[0]["message"])
    assert runs[0]["finished_at"] is not None
