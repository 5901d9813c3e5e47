"""Runs a plan against the two sides and the state store (DESIGN §5.1 steps 4-5, §5.9).

Each action stands alone: a failure that concerns one user (rejected, outcome unknown,
invalid, refused, transient after the adapter's retries) is recorded against that user,
logged in plain words and retried next run, while the others go on; a failure of a whole
side (unreachable, credentials, not an API) stops the run after recording it. Each success
is committed to the store at once with the new base, so a crash loses nothing that
happened and a write never comes back as a change.

No IO of its own: logging, the clock and the stop request (SIGTERM) are passed in.
``run_sync`` is one whole run: list, plan, guard, execute, record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import NamedTuple, Protocol, TypedDict, TypeVar, Unpack

from syncd.errors import (
    GuardTripped,
    InvalidRecord,
    OutcomeUnknown,
    PermissionDenied,
    RefusedWrite,
    RemoteRejected,
    SideError,
    StateError,
    SyncdError,
    Transient,
)
from syncd.model import Fields, Link, Record, Side, normalise_email
from syncd.ports import Change, RunOutcome, SideAdapter, StateStore
from syncd.sync.actions import (
    Action,
    Conflict,
    Create,
    Deactivate,
    Duplicate,
    ForgetPending,
    LinkPair,
    Problem,
    Reactivate,
    Rebase,
    Update,
)
from syncd.sync.details import with_details
from syncd.sync.history import changes_of
from syncd.sync.plan import Plan, plan
from syncd.sync.policy import Policy
from syncd.sync.scope import one_user

Log = Callable[[str, str], None]
"""``log(level, message)``: level is "DEBUG", "INFO", "WARNING" or "ERROR"."""

class Started(Protocol):
    """A remote write started in the background (a ``concurrent.futures.Future`` fits)."""

    def result(self) -> Record | None:
        """Wait for the write; its record, or the exception it raised."""
        ...


#: Starts a remote write in the background and returns at once (``ThreadPoolExecutor.submit``
#: fits). Injected by the caller: the core has no threads of its own.
Start = Callable[[Callable[[], Record | None]], Started]

#: Failures that concern one user only: recorded, and the run goes on (DESIGN §5.1 step 4). A
#: PermissionDenied concerns one kind of write: the users who need it fail (``_user_failed``).
PER_USER_ERRORS: tuple[type[SyncdError], ...] = (
    RemoteRejected, OutcomeUnknown, InvalidRecord, RefusedWrite, Transient, PermissionDenied,
)


class UserError(NamedTuple):
    """One user's failure in a run."""

    key: str
    side: str
    message: str


#: First contacts recorded in one transaction (DESIGN §5.9: they write nothing remote). One
#: fsync per link made a first run of 100,000 users take minutes; 500 keep a batch's SQL small.
LINK_BATCH = 500
#: Pairs named per INFO line of a batch of first contacts: one line per link cost about a third of
#: a first run's CPU (loguru, redaction, a flush each); 100 keep a line ~5 KB, under journald's 48 KB.
LINKS_PER_LINE = 100


def _never() -> bool:
    return False


#: What a run stopped by Ctrl-C (SIGINT) is recorded with.
INTERRUPTED_BY_USER = "interrupted (Ctrl-C): the rest waits for the next run"


@dataclass
class RunReport:
    """What a run did: counts by action kind, failures, conflicts, duration and outcome.

    ``outcome``: ok, errors (some users failed or could not be synchronised), stopped (a stop
    was requested: the rest waits for the next run), guard, failed (a side or the store failed),
    refused (a side refused a permission mid-run: the users who need it failed, the others were
    synchronised) or dry-run. ``syncd.render`` shows it; ``syncd.exits`` gives its exit code.
    """

    run_id: int
    started_at: datetime
    finished_at: datetime | None = None
    outcome: RunOutcome = RunOutcome.RUNNING
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[UserError] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    planned: int = 0
    done: int = 0
    dry_run: bool = False
    message: str = ""

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    @property
    def failed_users(self) -> int:
        return len(self.errors) + len(self.problems)

    def writes(self) -> int:
        """Successful writes to either side."""
        return sum(n for kind, n in self.counts.items() if kind in _WRITE_KINDS)


_WRITE_KINDS = frozenset({"create", "update", "deactivate", "reactivate"})


class ExecuteOptions(TypedDict, total=False):
    """How ``execute`` runs a plan, beyond what it runs it on (see its docstring for each)."""

    should_stop: Callable[[], bool]
    dry_run: bool
    start: Start | None
    concurrency: Mapping[Side, int] | None
    progress: Callable[[int, int], None] | None
    note: str
    only_keys: Collection[str] | None


def execute(
    plan: Plan,
    *,
    whmcs: SideAdapter,
    wp: SideAdapter,
    store: StateStore,
    run_id: int,
    log: Log,
    now: Callable[[], datetime],
    **options: Unpack[ExecuteOptions],
) -> RunReport:
    """Execute ``plan`` action by action and record the run (``store.finish_run``).

    Raises ``GuardTripped`` before any write when the plan is blocked by the safety guard;
    re-raises a whole-side ``SideError`` or a ``StateError`` after recording the run.
    ``should_stop`` is checked between actions (the one in flight finishes and is
    committed). ``dry_run`` touches neither side nor the store.

    With ``start``, consecutive creates of different users on
    one side run at once, at most ``concurrency[side]`` in flight (default 1): each is still
    a write of its own, its outcome handled and committed on this thread as soon as it and
    the creates started before it are done, in plan order, while the next create is already
    on its way. A whole-side failure or a stop request starts no new create, and commits the
    ones already sent before it stops.

    ``progress(done, planned)`` is called after each action (a terminal's progress display).
    ``note`` goes first in the message the run is recorded with (a one-user run's "one-user run
    for ..."); ``only_keys`` limits the issues a clean run resolves to these users (a one-user
    run says nothing about anyone else's).
    """
    runner = _Execution(plan, {Side.WHMCS: whmcs, Side.WORDPRESS: wp}, store, run_id, log, now,
                        options.get("dry_run", False))
    runner.progress = options.get("progress")
    runner.start = options.get("start")
    runner.widths = {side: max(1, n) for side, n in (options.get("concurrency") or {}).items()}
    runner.note = options.get("note", "")
    runner.only_keys = options.get("only_keys")
    return runner.run(options.get("should_stop", _never))


#: What the run's current log line is about (run, user, side, action), as strings, for sinks that
#: keep fields (``[log] format = "json"``): set only while ``log`` is called, in the calling thread.
LOG_FIELDS: ContextVar[Mapping[str, str] | None] = ContextVar("syncd_log_fields", default=None)


def _log_with(log: Log, fields: Mapping[str, str], level: str, message: str) -> None:
    """``log(level, message)`` with ``fields`` in ``LOG_FIELDS`` for the call's duration."""
    token = LOG_FIELDS.set(fields)
    try:
        log(level, message)
    finally:
        LOG_FIELDS.reset(token)


#: The attribute an exception gets once the run has logged it at ERROR, with the run's id: the
#: daemon then says only that it will retry, instead of a second ERROR line (issue 11).
SAID = "syncd_said_by_run"

E = TypeVar("E", bound=BaseException)


def said(exc: E, run_id: int) -> E:
    """Mark ``exc`` as logged at ERROR by run ``run_id``; returns it."""
    setattr(exc, SAID, run_id)
    return exc


def said_by_run(exc: BaseException) -> int | None:
    """The id of the run that logged ``exc`` at ERROR already, if one did."""
    run_id = getattr(exc, SAID, None)
    return run_id if isinstance(run_id, int) else None


class _Execution:
    def __init__(
        self, plan: Plan, adapters: Mapping[Side, SideAdapter], store: StateStore, run_id: int, log: Log,
        now: Callable[[], datetime], dry_run: bool,
    ):
        self.plan = plan
        self.adapters = adapters
        self.store = store
        self.run_id = run_id
        self.log = log
        self.now = now
        self.dry_run = dry_run
        self.report = RunReport(run_id=run_id, started_at=now(), planned=len(plan.actions), dry_run=dry_run,
                                conflicts=list(plan.conflicts), problems=list(plan.problems),
                                duplicates=list(plan.duplicates))
        self.start: Start | None = None
        self.progress: Callable[[int, int], None] | None = None
        self.widths: dict[Side, int] = {}
        self.note = ""
        self.only_keys: Collection[str] | None = None
        self.links: dict[int, Link | None] = {}
        self.latest: dict[int, dict[Side, Record]] = {}
        self.failed: set[int] = set()
        # (side, action kind) → the refusal: a permission taken away mid-run fails the users who
        # need it (the first one tried, the rest without a call) and the run goes on for the others.
        self.denied: dict[tuple[Side | None, str], PermissionDenied] = {}
        # Keys with an open issue: only their successes need resolve_issues, a write transaction
        # that would otherwise cost every create of an import an fsync for nothing.
        self.issue_keys: set[str] = set()
        # The issues open before this run, by (key, side, kind): an unchanged one is not
        # announced again at every poll (issue 11), only when it appears, changes or goes.
        self.open_before: dict[tuple[str, str, str], str] = {}

    # -- the run ---------------------------------------------------------------------------

    def _advance(self) -> None:
        self.report.done += 1
        if self.progress is not None:
            self.progress(self.report.done, self.report.planned)

    def _say(self, level: str, message: str, action: Action | None = None, *, user: str = "",
             side: str = "") -> None:
        fields = {"run": str(self.run_id)}
        if action is not None:
            fields.update(user=action.key, action=action.kind)
            if action.side is not None:
                fields["side"] = action.side.value
        if user:
            fields["user"] = user
        if side:
            fields["side"] = side
        _log_with(self.log, fields, level, f"run {self.run_id}: {message}")

    def _finish(self, outcome: RunOutcome, message: str = "") -> RunReport:
        report = self.report
        report.outcome = outcome
        if self.note:
            message = f"{self.note}: {message}" if message else self.note
        report.message = message
        report.finished_at = self.now()
        if not self.dry_run:
            self.store.finish_run(
                self.run_id, outcome=outcome, counts=dict(report.counts), errors=report.failed_users,
                conflicts=len(report.conflicts), message=message,
            )
        return report

    def _finish_quietly(self, outcome: RunOutcome, message: str) -> None:
        try:
            self._finish(outcome, message)
        except StateError as exc:  # the store is what failed: say so, and let the first error surface
            self._say("ERROR", f"could not record the run as {outcome}: {exc}")

    def run(self, should_stop: Callable[[], bool]) -> RunReport:
        try:
            return self._run(should_stop)
        except KeyboardInterrupt:  # Ctrl-C: recorded as interrupted, not left "running"
            if not self.dry_run and self.report.finished_at is None:
                self._say("WARNING", INTERRUPTED_BY_USER)
                self._finish_quietly(RunOutcome.INTERRUPTED, INTERRUPTED_BY_USER)
            raise

    def _run(self, should_stop: Callable[[], bool]) -> RunReport:
        plan = self.plan
        if plan.blocked:
            assert plan.guard is not None
            self._say("ERROR", plan.guard)
            self.report.outcome = RunOutcome.GUARD
            if not self.dry_run:
                self._finish(RunOutcome.GUARD, plan.guard)
            raise said(GuardTripped(plan.guard), self.run_id)
        if plan.guard:
            self._say("WARNING", f"{plan.guard} (overridden by --force)")
        for skip in plan.skips:
            self._say("DEBUG", skip.describe())
        if self.dry_run:
            for action in plan.actions:
                self._say("INFO", f"would {action.describe()}", action)
                self.report.counts[action.kind] = self.report.counts.get(action.kind, 0) + 1
            self._report_items()
            return self._finish(RunOutcome.DRY_RUN)
        open_issues = self.store.open_issues()
        self.issue_keys = {issue.key for issue in open_issues}
        self.open_before = {(i.key, i.side, i.kind): i.message for i in open_issues}
        self._report_items()
        stopped = False
        index = 0
        while index < len(plan.actions):
            action = plan.actions[index]
            if should_stop():
                left = len(plan.actions) - self.report.done
                self._say("INFO", f"stopping on request; {left} planned actions wait for the next run")
                stopped = True
                break
            pairs = self._links_from(index)
            if len(pairs) > 1:
                index += len(pairs)
                self._link_at_once(pairs)
                continue
            batch = self._creates_from(index)
            if len(batch) > 1:
                index += len(batch)
                if self._creates_at_once(batch, should_stop):
                    stopped = True
                    break
                continue
            index += 1
            if action.user in self.failed:
                self._say("DEBUG", f"not trying to {action.describe()}: an earlier step for {action.key} failed",
                          action)
                self._advance()
                continue
            if self._refused_before(action):
                self._advance()
                continue
            try:
                self._one(action)
            except PER_USER_ERRORS as exc:
                self._user_failed(action, exc)
            except SideError as exc:
                message = f"stopped: {exc}"
                self._say("ERROR", message)
                self._finish_quietly(RunOutcome.FAILED, message)
                said(exc, self.run_id)
                raise
            except StateError as exc:
                self._say("ERROR", f"the state store failed while trying to {action.describe()}: {exc}", action)
                self._finish_quietly(RunOutcome.FAILED, str(exc))
                said(exc, self.run_id)
                raise
            except Exception as exc:
                self._internal_error(action, exc)
                raise
            self._advance()
        if not stopped:
            self._sweep_issues()
        if stopped:
            return self._finish(RunOutcome.STOPPED, "stopped on request")
        if self.denied:  # the others went on; the run still ends as a side that refused (exit 3)
            refusal = next(iter(self.denied.values()))
            return self._finish(RunOutcome.REFUSED, f"the users who need what {refusal.side} refused failed, "
                                                    f"the others were synchronised: {refusal}")
        return self._finish(RunOutcome.ERRORS if self.report.failed_users else RunOutcome.OK)

    def _internal_error(self, action: Action, exc: Exception) -> None:
        """A bug: record the run as failed rather than leave it "running" (the caller re-raises)."""
        self._say("ERROR", f"internal error while trying to {action.describe()}: {exc!r}", action)
        self._finish_quietly(RunOutcome.FAILED, f"internal error: {exc!r}")

    def _refused_before(self, action: Action) -> bool:
        """Fail ``action`` without a call if its side refused this kind of write earlier in the run."""
        refusal = self.denied.get((action.side, action.kind))
        if refusal is None:
            return False
        self._user_failed(action, refusal, tried=False)
        return True

    def _announce(self, key: str, side: str, kind: str, message: str) -> None:
        """A conflict, duplicate or problem: at WARNING when it is new or changed since the
        last run; one that is still open just as it was is only repeated at DEBUG."""
        if self.dry_run:
            self._say("INFO", message, user=key, side=side)
        elif self.open_before.get((key, side, kind)) == message:
            self._say("DEBUG", f"still open (said when it appeared): {message}", user=key, side=side)
        else:
            self._say("WARNING", message, user=key, side=side)

    def _report_items(self) -> None:
        """Conflicts, duplicates and problems: logged, and kept as issues for ``syncd status``."""
        for conflict in self.plan.conflicts:
            self._announce(conflict.key, conflict.winner.other.value, "conflict", conflict.describe())
            if not self.dry_run:
                self.store.record_issue(self.run_id, key=conflict.key, side=conflict.winner.other.value,
                                        kind="conflict", message=conflict.describe())
        for dup in self.plan.duplicates:
            self._announce(dup.key, dup.side.value, "duplicate", dup.describe())
            if not self.dry_run:
                self.store.record_issue(self.run_id, key=dup.key, side=dup.side.value, kind="duplicate",
                                        message=dup.describe())
        for problem in self.plan.problems:
            self._announce(problem.key, problem.side.value, "error", problem.describe())
            if not self.dry_run:
                self.store.record_issue(self.run_id, key=problem.key, side=problem.side.value, kind="error",
                                        message=problem.describe())
                self.issue_keys.add(problem.key)

    def _sweep_issues(self) -> None:
        """After a complete run, resolve the open issues of users this run found nothing wrong with."""
        current = {e.key for e in self.report.errors}
        current |= {c.key for c in self.plan.conflicts} | {d.key for d in self.plan.duplicates}
        current |= {p.key for p in self.plan.problems}
        stale = {issue.key: issue for issue in self.store.open_issues() if issue.key not in current
                 and (self.only_keys is None or issue.key in self.only_keys)}
        for key in sorted(stale):
            self.store.resolve_issues(key)
            self._say("INFO", f"resolved: {key} no longer has the {stale[key].kind} reported before "
                              f"({stale[key].message})")

    def _user_failed(self, action: Action, exc: SyncdError, *, tried: bool = True) -> None:
        side = exc.side if isinstance(exc, SideError) else (action.side.value if action.side else "")
        message = f"could not {action.describe()}: {exc}"
        if not tried:
            message = f"did not try to {action.describe()}: {side} refused this kind of write earlier in the run: {exc}"
        if isinstance(exc, OutcomeUnknown) and isinstance(action, Create):
            message += f" (it will be looked up in {action.target.display} before any new attempt)"
            self.store.mark_pending_create(action.target, action.key)
        elif isinstance(exc, OutcomeUnknown):
            message += " (the next run compares both sides again)"
        else:
            message += " (retried next run)"
        self._say("ERROR", message, action)
        self.store.record_issue(self.run_id, key=action.key, side=side, kind="error", message=message)
        self.issue_keys.add(action.key)
        self.report.errors.append(UserError(action.key, side, message))
        self.failed.add(action.user)
        if isinstance(exc, PermissionDenied):  # the next writes of this kind are failed without a call
            self.denied.setdefault((action.side, action.kind), exc)

    # -- one action ------------------------------------------------------------------------

    def _one(self, action: Action) -> None:
        link = self.links.get(action.user, getattr(action, "link", None))
        if isinstance(action, Deactivate) and link is not None:
            self._intend_deactivation(action, link)
        result = self._write(action)
        self._commit(action, link, result)

    def _commit(self, action: Action, link: Link | None, result: Record | None) -> None:
        """Record a successful action in the store, at once (DESIGN §5.9)."""
        new = action.link_after(link, result)
        if new is not None:
            new = self._with_digests(action, new, result)
            # The write's history goes in the link's own transaction: one is never kept without the other.
            history = changes_of(action, new, result, run_id=self.run_id, fields=self.plan.fields)
            if history:
                self.store.save_link(new, history=history)
            else:
                self.store.save_link(new)
            self.links[action.user] = new
        if isinstance(action, Create | ForgetPending):
            if isinstance(action, ForgetPending) or action.pending:
                self.store.clear_pending_create(action.target, action.key)
        elif isinstance(action, LinkPair) and action.settles is not None:
            self.store.clear_pending_create(action.settles, action.key)
        if action.side is not None and action.key in self.issue_keys:
            self.store.resolve_issues(action.key, kind="error")
        self.report.counts[action.kind] = self.report.counts.get(action.kind, 0) + 1
        self._say("DEBUG" if isinstance(action, Rebase | ForgetPending) else "INFO", action.describe(), action)

    # -- first contacts at once ------------------------------------------------------------

    def _links_from(self, index: int) -> list[LinkPair]:
        """The link-only first contacts that follow each other in the plan from ``index``, up to
        ``LINK_BATCH``: they write nothing remote, so they may share one commit (DESIGN §5.9)."""
        batch: list[LinkPair] = []
        for action in self.plan.actions[index:index + LINK_BATCH]:
            if type(action) is not LinkPair or action.settles is not None or action.user in self.failed:
                break
            batch.append(action)
        return batch

    def _link_at_once(self, batch: list[LinkPair]) -> None:
        """Record ``batch`` in one transaction: all of its links or none. A crash before the
        commit loses no remote write (there was none): the next run meets the same pairs again."""
        saved: list[tuple[Link, Sequence[Change]]] = []
        for action in batch:
            new = self._with_digests(action, action.link_after(self.links.get(action.user), None), None)
            saved.append((new, changes_of(action, new, None, run_id=self.run_id, fields=self.plan.fields)))
        try:
            self.store.save_links(saved)
        except StateError as exc:
            self._say("ERROR", f"the state store failed while trying to {batch[0].describe()} and the "
                               f"{len(batch) - 1} links after it: {exc}", batch[0])
            self._finish_quietly(RunOutcome.FAILED, str(exc))
            said(exc, self.run_id)
            raise
        except Exception as exc:
            self._internal_error(batch[0], exc)
            raise
        plain: list[LinkPair] = []
        for action, (new, _) in zip(batch, saved, strict=True):
            self.links[action.user] = new
            self.report.counts[action.kind] = self.report.counts.get(action.kind, 0) + 1
            if action.gone:  # said on its own line, with why nothing is copied
                self._say("INFO", action.describe(), action)
            else:
                plain.append(action)
            self._advance()
        if len(plain) == 1:  # a single new pair (the usual case after the first run) reads as always
            self._say("INFO", plain[0].describe(), plain[0])
            return
        for start in range(0, len(plain), LINKS_PER_LINE):
            self._say_links(plain[start:start + LINKS_PER_LINE])

    def _say_links(self, pairs: list[LinkPair]) -> None:
        """One INFO line naming each of ``pairs`` (email, WHMCS client id, WordPress user id), so
        every linked user can still be found in the log by email or id."""
        named = ", ".join([f"{p.whmcs.label()} (client #{p.whmcs.remote_id} = user #{p.wp.remote_id})"
                           for p in pairs])
        fields = {"run": str(self.run_id), "action": pairs[0].kind}
        _log_with(self.log, fields, "INFO",
                  f"run {self.run_id}: linked {len(pairs)} WHMCS client(s) with the WordPress user(s) of the "
                  f"same email: {named}")

    # -- creates at once ------------------------------------------------------------------

    def _creates_from(self, index: int) -> list[Create]:
        """The creates of different users on one side that follow each other in the plan from
        ``index`` (none when writes are not started in the background)."""
        batch: list[Create] = []
        users: set[int] = set()
        if self.start is None:
            return batch
        for action in self.plan.actions[index:]:
            if not isinstance(action, Create) or action.user in users or (batch and action.target != batch[0].target):
                break
            batch.append(action)
            users.add(action.user)
        return batch

    def _creates_at_once(self, batch: list[Create], should_stop: Callable[[], bool]) -> bool:
        """Run ``batch`` with up to ``widths[side]`` creates in flight per side; True if a stop
        was requested. Outcomes are taken in plan order; a finished create is committed while the
        next one is on its way (so even one at a time, the commit costs no round trip). After a
        whole-side or store failure nothing new starts, what was sent and can be recorded still
        is, and the failure is raised at the end."""
        assert self.start is not None
        start = self.start
        waiting = list(batch)
        in_flight: list[tuple[Create, Started]] = []
        busy = dict.fromkeys(Side, 0)
        failure: SyncdError | None = None
        stopped = False

        def fill() -> None:
            nonlocal stopped
            while waiting and failure is None and not stopped:
                action = waiting[0]
                if busy[action.target] >= self.widths.get(action.target, 1):
                    return
                if should_stop():
                    stopped = True
                    return
                waiting.pop(0)
                if action.user in self.failed or self._refused_before(action):
                    self._advance()
                    continue
                in_flight.append((action, start(partial(self._create, action))))
                busy[action.target] += 1

        while True:
            fill()
            if not in_flight:
                break
            action, started = in_flight.pop(0)
            try:
                try:
                    result = started.result()
                finally:
                    busy[action.target] -= 1
                fill()
                if not isinstance(failure, StateError):  # the store failed: nothing more can be committed
                    self._commit(action, self.links.get(action.user, getattr(action, "link", None)), result)
            except PER_USER_ERRORS as exc:
                self._user_failed(action, exc)
            except (SideError, StateError) as exc:
                if failure is None:  # the same words as one action at a time; the creates sent still count
                    failure = exc
                    self._say("ERROR", f"stopped: {exc}" if isinstance(exc, SideError) else
                              f"the state store failed while trying to {action.describe()}: {exc}")
                continue
            except Exception as exc:
                self._internal_error(action, exc)
                raise
            self._advance()
        if failure is not None:
            message = f"stopped: {failure}" if isinstance(failure, SideError) else str(failure)
            self._finish_quietly(RunOutcome.FAILED, message)
            raise said(failure, self.run_id)
        if stopped:
            left = len(self.plan.actions) - self.report.done
            self._say("INFO", f"stopping on request; {left} planned actions wait for the next run")
        return stopped

    def _intend_deactivation(self, action: Deactivate, link: Link) -> None:
        """Commit, before the write, that syncd deactivates this side (and the WordPress roles it
        takes away). A crash after the write but before its commit would otherwise leave an
        inactive survivor the next run cannot tell from one an admin deactivated: never
        re-activated, its roles forgotten. ``gone`` is not written ahead, so the next run still
        plans the deletion; and the flag on a survivor that is still active is simply dropped."""
        roles = tuple(action.record.roles) if action.side is Side.WORDPRESS else link.saved_roles
        self.store.save_link(replace(link, deactivated=link.deactivated | {action.side}, saved_roles=roles))

    def _write(self, action: Action) -> Record | None:
        """The remote write of ``action`` (None for actions that only change the store)."""
        if isinstance(action, Create):
            return self._create(action)
        if isinstance(action, Update):
            return self.adapters[action.side].update(action.record, action.send())
        if isinstance(action, Deactivate):
            return self.adapters[action.side].deactivate(action.record)
        if isinstance(action, Reactivate):
            return self.adapters[action.side].reactivate(action.record, action.roles)
        return None

    def _create(self, action: Create) -> Record:
        adapter = self.adapters[action.target]
        if action.pending:
            # An earlier create may have happened: never create twice (DESIGN §5.5).
            email = action.send.get("email", action.key)
            found = adapter.find_by_email(email)
            if len(found) == 1:
                self._say("INFO", f"found {action.target.account} #{found[0].remote_id} for {action.key}, created by "
                                  "an earlier attempt whose outcome was unknown; linking it")
                return found[0]
            if found:
                raise RemoteRejected(
                    f"{len(found)} {action.target.account}s have the email {email}; fix that by hand",
                    side=action.target.value,
                )
        return adapter.create(action.send)

    def _with_digests(self, action: Action, link: Link, result: Record | None) -> Link:
        """The link with each side's digest of what was last seen or written."""
        seen = self.latest.setdefault(action.user, {})
        seen.update({s: r for s, r in action.records().items() if s not in seen})
        if result is not None:
            seen[result.side] = result
        digests = dict(link.digests)
        last: tuple[Mapping[str, str], str] | None = None
        for side, record in seen.items():
            fields = record.fields
            # Both sides' records nearly always hold the same values at first contact: the same
            # values make the same digest, computed once.
            if last is not None and type(fields) is Fields and fields.same(last[0]):
                digests[side.value] = last[1]
                continue
            last = fields, self.plan.digest(fields)
            digests[side.value] = last[1]
        return replace(link, digests=digests)


def run_sync(
    *,
    whmcs: SideAdapter,
    wp: SideAdapter,
    store: StateStore,
    policy: Policy,
    log: Log,
    now: Callable[[], datetime],
    planned: Callable[[Plan], None] | None = None,
    user: str | None = None,
    **options: Unpack[ExecuteOptions],
) -> tuple[Plan, RunReport]:
    """One whole run (DESIGN §5.1): record it as started, list both sides completely, plan,
    guard and execute. A listing that fails is recorded and re-raised before planning, so a
    failed read is never taken for deletions. ``dry_run`` writes nothing, not even the run.
    ``planned`` is called with the plan before anything is executed; ``options`` go to ``execute``.

    ``user`` (an email) makes it a one-user run (``syncd sync --user``, DESIGN §10): the sides'
    ``snapshot()`` and the store's ``links()`` / ``pending_creates()`` give only that user's part
    (``syncd.sync.scope.gather``), the plan loses every deletion (``scope.one_user``: the next full
    run decides them), the run is recorded as the user's, and only the issues of the users it
    saw can be resolved by it."""
    dry_run = options.get("dry_run", False)
    run_id = 0 if dry_run else store.begin_run(direction=policy.direction.value, full=policy.full, user=user)
    if not dry_run:
        kind = "full resync" if policy.full else "sync"
        if user is not None:
            kind = f"one-user run for {user}"
        _log_with(log, {"run": str(run_id)}, "INFO",
                  f"run {run_id} started ({kind}, direction {policy.direction.value})")
    try:
        # The store first: where the listings already run on threads of their own (app.py),
        # reading 100,000 links here overlaps them instead of adding seconds after them.
        links = store.links()
        pending = store.pending_creates()
        snapshots = (whmcs.snapshot(), wp.snapshot())
        # The mapped fields WHMCS's listing lacks, for the clients that need them (DESIGN §9): a
        # failed read stops the run here, as a failed listing does, never "no value".
        snapshots = (with_details(whmcs, *snapshots, links, policy, every=user is not None), snapshots[1])
    except SideError as exc:
        _log_with(log, {"run": str(run_id)}, "ERROR",
                  f"run {run_id}: stopped before planning, nothing was written: {exc}")
        if not dry_run:
            note = options.get("note", "")
            store.finish_run(run_id, outcome=RunOutcome.FAILED, counts={}, errors=0, conflicts=0,
                             message=f"{note}: {exc}" if note else str(exc))
        said(exc, run_id)
        raise
    except KeyboardInterrupt:
        if not dry_run:
            store.finish_run(run_id, outcome=RunOutcome.INTERRUPTED, counts={}, errors=0, conflicts=0,
                             message=INTERRUPTED_BY_USER)
        raise
    the_plan = plan(snapshots[0], snapshots[1], links, policy, pending)
    if user is not None:
        the_plan, notes = one_user(the_plan)
        for note in notes:
            _log_with(log, {"run": str(run_id), "user": user}, "INFO", f"run {run_id}: {note}")
        if notes and not dry_run:
            options["note"] = "; ".join(n for n in (options.get("note", ""), *notes) if n)
        options["only_keys"] = (frozenset(r.key for s in snapshots for r in s.records)
                                | {link.key for link in links} | {normalise_email(user)})
    if planned is not None:
        planned(the_plan)
    report = execute(the_plan, whmcs=whmcs, wp=wp, store=store, run_id=run_id, log=log, now=now, **options)
    return the_plan, report
