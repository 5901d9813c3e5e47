"""Exit codes (DESIGN §3.1), decided here and only here; ``cli.py`` and the daemon ask.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      success (a dry run, a run with nobody failing, a run stopped on request, a user explained)
1      the run finished but some users failed (retried next run); ``explain``: on neither side;
       ``history``: no change recorded for that email;
       also an error that concerns one user or that has no code of its own
2      usage or configuration error, found before anything was read or written
       (also ``syncd link`` / ``unlink`` requests syncd refuses: an admin, an account already linked, an unknown id)
3      a side could not be reached, refused the credentials, or refused a permission mid-run;
       ``test-connection``: a check failed
4      a safety guard stopped the run before any write (``--force`` to override)
5      another run holds the lock
6      the state store could not be opened or written
130    interrupted (Ctrl-C)
=====  ==========================================================================================

``syncd status --check`` speaks the monitoring-plugin convention instead (``CheckCode``): 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN; ``of_status_check`` decides it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from syncd.errors import (
    ConfigError,
    GuardTripped,
    LockHeld,
    OutcomeUnknown,
    RemoteRejected,
    RequestRefused,
    SideError,
    StateError,
)
from syncd.ports import RunOutcome

if TYPE_CHECKING:
    from syncd.app import Status, SyncResult, UserSyncResult
    from syncd.sync.explain import Explanation


class ExitCode(IntEnum):
    OK = 0
    ERRORS = 1
    USAGE = 2
    SIDE = 3
    GUARD = 4
    LOCKED = 5
    STATE = 6
    INTERRUPTED = 130


#: Exceptions by the code they mean, most specific first (a RemoteRejected is a SideError that
#: concerns one user).
_ERRORS: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
    (ConfigError, ExitCode.USAGE),
    (RequestRefused, ExitCode.USAGE),
    (LockHeld, ExitCode.LOCKED),
    (GuardTripped, ExitCode.GUARD),
    (StateError, ExitCode.STATE),
    (OutcomeUnknown, ExitCode.ERRORS),
    (RemoteRejected, ExitCode.ERRORS),
    (SideError, ExitCode.SIDE),
)

#: Runs that went to the end, or stopped on their own terms, by how they ended.
_OUTCOMES = {
    RunOutcome.ERRORS: ExitCode.ERRORS,
    RunOutcome.REFUSED: ExitCode.SIDE,
    RunOutcome.GUARD: ExitCode.GUARD,
    RunOutcome.FAILED: ExitCode.SIDE,
}


def of_error(exc: BaseException) -> ExitCode:
    """The exit code of a command that stopped with ``exc``."""
    return next((code for kind, code in _ERRORS if isinstance(exc, kind)), ExitCode.ERRORS)


def of_outcome(outcome: RunOutcome) -> ExitCode:
    """The exit code of a run that returned a report with this outcome."""
    return _OUTCOMES.get(outcome, ExitCode.OK)


def of_sync(result: SyncResult) -> ExitCode:
    """``syncd sync``: a dry run says 4 for a plan the guard would stop (and 0 otherwise); a run
    says what its outcome means."""
    if result.dry_run or result.report is None:
        return ExitCode.GUARD if result.plan.blocked else ExitCode.OK
    return of_outcome(result.report.outcome)


def of_user_sync(result: UserSyncResult) -> ExitCode:
    """``syncd sync --user``: 1 for an email on neither side and in no link (as ``explain``);
    otherwise what the run's outcome means (a dry run: 0)."""
    if not result.found:
        return ExitCode.ERRORS
    if result.dry_run or result.report is None:
        return ExitCode.OK
    return of_outcome(result.report.outcome)


def of_explain(info: Explanation) -> ExitCode:
    """``syncd explain``: 1 for an email on neither side and in no link."""
    return ExitCode.OK if info.found else ExitCode.ERRORS


def of_history(found: bool) -> ExitCode:
    """``syncd history``: 1 for an email with no recorded change (as ``explain`` for one on neither side)."""
    return ExitCode.OK if found else ExitCode.ERRORS


def of_checks(failed: int) -> ExitCode:
    """``syncd test-connection``: 3 if any check failed."""
    return ExitCode.SIDE if failed else ExitCode.OK


class CheckCode(IntEnum):
    """``syncd status --check``: the exit codes of a monitoring plugin (Nagios, Icinga, ...)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Finding(StrEnum):
    """Why ``status --check`` is not OK (``syncd.render.status`` says each in words)."""

    NEVER = "never"  # no run ever got to the end here: CRITICAL
    STALE = "stale"  # no successful run within 3 x interval_seconds: CRITICAL
    GUARD = "guard"  # the last run was stopped by a safety guard: CRITICAL
    SIDE = "side"  # the last run could not reach a side, or a side or the store failed: CRITICAL
    FAILURES = "failures"  # the last run had users who failed: WARNING
    OLD_ERROR = "old_error"  # a user has been in error for over a day: WARNING


_CRITICAL = frozenset({Finding.NEVER, Finding.STALE, Finding.GUARD, Finding.SIDE})
#: How long a user may stay in error before ``status --check`` warns.
ERROR_AGE = timedelta(days=1)
#: How many intervals may pass without a successful run before ``status --check`` is critical.
STALE_INTERVALS = 3


def of_status_check(status: Status, *, interval_seconds: int, now: datetime) -> tuple[CheckCode, list[Finding]]:
    """``syncd status --check`` (DESIGN §3.1): the code and every finding behind it, worst first.

    The last run is the latest run over every user that is not still going: a one-user run (an
    event's) or a manual link hides nothing about the polls."""
    found: list[Finding] = []
    if status.last_success is None:
        found.append(Finding.NEVER)
    elif now - status.last_success > timedelta(seconds=STALE_INTERVALS * interval_seconds):
        found.append(Finding.STALE)
    last = status.last_whole_run
    if last is not None and last.outcome is RunOutcome.GUARD:
        found.append(Finding.GUARD)
    elif last is not None and last.outcome in (RunOutcome.FAILED, RunOutcome.REFUSED):
        found.append(Finding.SIDE)
    if last is not None and (last.errors or last.outcome is RunOutcome.ERRORS):
        found.append(Finding.FAILURES)
    if any(i.kind == "error" and now - i.first_seen > ERROR_AGE for i in status.issues):
        found.append(Finding.OLD_ERROR)
    found.sort(key=lambda f: f not in _CRITICAL)
    if any(f in _CRITICAL for f in found):
        return CheckCode.CRITICAL, found
    return (CheckCode.WARNING if found else CheckCode.OK), found
