"""Exit codes (DESIGN §3.1), decided here and only here; ``cli.py`` and the daemon ask.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      success (a dry run, a run with nobody failing, a run stopped on request, a user explained)
1      the run finished but some users failed (retried next run); ``explain``: on neither side;
       also an error that concerns one user or that has no code of its own
2      usage or configuration error, found before anything was read or written
3      a side could not be reached, refused the credentials, or refused a permission mid-run;
       ``test-connection``: a check failed
4      a safety guard stopped the run before any write (``--force`` to override)
5      another run holds the lock
6      the state store could not be opened or written
130    interrupted (Ctrl-C)
=====  ==========================================================================================
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from syncd.errors import (
    ConfigError,
    GuardTripped,
    LockHeld,
    OutcomeUnknown,
    RemoteRejected,
    SideError,
    StateError,
)
from syncd.ports import RunOutcome

if TYPE_CHECKING:
    from syncd.app import SyncResult
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


def of_explain(info: Explanation) -> ExitCode:
    """``syncd explain``: 1 for an email on neither side and in no link."""
    return ExitCode.OK if info.found else ExitCode.ERRORS


def of_checks(failed: int) -> ExitCode:
    """``syncd test-connection``: 3 if any check failed."""
    return ExitCode.SIDE if failed else ExitCode.OK
