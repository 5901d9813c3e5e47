"""Exit codes (DESIGN §3.1) come from one place, ``syncd.exits``: every exception of the tree and
every kind of result, and ``SyncdError.exit_code`` asks it too."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd import exits
from syncd.errors import (
    BadCredentials,
    ConfigError,
    DuplicateEmail,
    GuardTripped,
    IncompleteListing,
    InvalidRecord,
    LockHeld,
    OutcomeUnknown,
    PermissionDenied,
    RefusedWrite,
    RemoteRejected,
    StateError,
    SyncdError,
    Unreachable,
)
from syncd.ports import RunOutcome


@pytest.mark.parametrize(("exc", "code"), [
    (SyncdError("x"), 1),
    (ConfigError("x", ["a"]), 2),
    (Unreachable("x", side="whmcs"), 3),
    (IncompleteListing("x", side="wordpress"), 3),
    (BadCredentials("x", side="wordpress"), 3),
    (PermissionDenied("x", side="whmcs", action="AddClient"), 3),
    (GuardTripped("x"), 4),
    (LockHeld("x"), 5),
    (StateError("x"), 6),
    (OutcomeUnknown("x", side="whmcs"), 1),
    (RemoteRejected("x", side="whmcs"), 1),
    (DuplicateEmail("x", side="wordpress"), 1),
    (RefusedWrite("x"), 1),
    (InvalidRecord("x"), 1),
    (KeyboardInterrupt(), 130),
    (RuntimeError("a bug"), 1),
])
def test_every_error_has_its_code(exc: BaseException, code: int) -> None:
    assert exits.of_error(exc) == code
    if isinstance(exc, SyncdError):
        assert exc.exit_code == code  # the exception asks syncd.exits as well


@pytest.mark.parametrize(("outcome", "code"), [
    (RunOutcome.OK, 0), (RunOutcome.STOPPED, 0), (RunOutcome.ERRORS, 1), (RunOutcome.REFUSED, 3),
    (RunOutcome.FAILED, 3), (RunOutcome.GUARD, 4),
])
def test_a_run_s_outcome_has_its_code(outcome: RunOutcome, code: int) -> None:
    assert exits.of_outcome(outcome) == code


def test_checks_and_outcome_values() -> None:
    assert exits.of_checks(0) == 0 and exits.of_checks(2) == 3
    # the strings the store and JSON have always shown
    assert [o.value for o in RunOutcome] == [
        "ok", "errors", "refused", "guard", "failed", "stopped", "running", "interrupted", "dry-run", "locked",
        "manual"]
    assert {o for o in RunOutcome if o.completed} == {RunOutcome.OK, RunOutcome.ERRORS}


def test_the_cli_turns_a_bug_into_one_line_and_no_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd import app, cli

    def broken(settings: object) -> None:
        raise RuntimeError("boom")

    config = tmp_path / "syncd.toml"
    config.write_text(
        '[whmcs]\nurl = "http://127.0.0.1:1/"\nidentifier = "i"\nsecret = "s"\n'
        '[wordpress]\nurl = "http://127.0.0.1:2/"\nusername = "u"\napplication_password = "p"\n'
        f'[sync]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n', encoding="utf-8")
    monkeypatch.setattr(app, "status", broken)
    result = CliRunner().invoke(cli.main, ["--config", str(config), "status"])
    assert result.exit_code == 1
    assert result.output.strip() == "syncd: internal error: RuntimeError: boom"
    assert "Traceback" not in result.output


def test_status_check_codes_are_decided_in_exits() -> None:
    from datetime import UTC, datetime, timedelta

    from syncd.app import Status
    from syncd.exits import CheckCode, Finding, of_status_check
    from syncd.ports import RunSummary, UserIssue

    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

    def run(outcome: RunOutcome, run_id: int = 1, errors: int = 0) -> RunSummary:
        return RunSummary(run_id=run_id, started_at=now - timedelta(minutes=1), finished_at=now, direction="both",
                          full=False, outcome=outcome, errors=errors)

    def check(*runs: RunSummary, last: datetime | None = now, issues: tuple[UserIssue, ...] = ()) -> object:
        whole = next((r for r in runs if r.outcome is not RunOutcome.RUNNING), None)  # as the store picks it
        return of_status_check(Status(location="x", runs=runs, issues=issues, last_success=last,
                                      last_whole_run=whole), interval_seconds=300, now=now)

    assert check(run(RunOutcome.OK)) == (CheckCode.OK, [])
    assert check(last=None) == (CheckCode.CRITICAL, [Finding.NEVER])
    assert check(run(RunOutcome.OK), last=now - timedelta(seconds=901)) == (CheckCode.CRITICAL, [Finding.STALE])
    assert check(run(RunOutcome.OK), last=now - timedelta(seconds=899)) == (CheckCode.OK, [])
    # a run still going is not the last run: the one before it is
    assert check(run(RunOutcome.RUNNING, 2), run(RunOutcome.GUARD)) == (CheckCode.CRITICAL, [Finding.GUARD])
    assert check(run(RunOutcome.REFUSED, errors=1)) == (CheckCode.CRITICAL, [Finding.SIDE, Finding.FAILURES])
    assert check(run(RunOutcome.ERRORS, errors=2)) == (CheckCode.WARNING, [Finding.FAILURES])
    assert check(run(RunOutcome.STOPPED)) == (CheckCode.OK, [])
    young = UserIssue(key="a@example.com", side="whmcs", kind="error", message="m",
                      first_seen=now - timedelta(hours=23), last_seen=now, run_id=1)
    old = UserIssue(key="b@example.com", side="whmcs", kind="error", message="m", first_seen=now - timedelta(hours=25),
                    last_seen=now, run_id=1)
    conflict = UserIssue(key="c@example.com", side="whmcs", kind="conflict", message="m",
                         first_seen=now - timedelta(days=9), last_seen=now, run_id=1)
    assert check(run(RunOutcome.OK), issues=(young, conflict)) == (CheckCode.OK, [])
    assert check(run(RunOutcome.OK), issues=(young, old)) == (CheckCode.WARNING, [Finding.OLD_ERROR])
