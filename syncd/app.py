"""The wiring: settings → adapters, store, lock and policy → one run, an explanation, a status.

The CLI and the daemon call these functions; they hold no rules of their own (those are in
``syncd.sync``). Both sides are listed at the same time, so a run costs the slower listing,
not the sum. A dry run, ``explain`` and ``status`` never take the lock and never write.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from loguru import logger

from syncd import carry_to_whmcs
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.carry import carry_password
from syncd.config import Settings
from syncd.errors import NotLinked, RequestRefused, SideError
from syncd.login import check_login
from syncd.model import Direction, Link, Record, Side, Snapshot, normalise_email
from syncd.passwords import Password
from syncd.ports import (
    Change,
    Details,
    HistoryEntry,
    LinkStats,
    RunOutcome,
    RunSummary,
    SideAdapter,
    StateStore,
    UserIssue,
)
from syncd.service import intake_stats
from syncd.service.events import Pending
from syncd.service.lock import run_lock
from syncd.service.verify import Locked, Verdict
from syncd.state import url as state_url
from syncd.state.store import SqlStateStore
from syncd.sync import history as changes
from syncd.sync.details import with_details
from syncd.sync.engine import RunReport, run_sync
from syncd.sync.explain import Explanation
from syncd.sync.explain import explain as explain_plan
from syncd.sync.plan import Plan
from syncd.sync.plan import plan as make_plan
from syncd.sync.policy import Policy
from syncd.sync.scope import Scope, gather, left_to_full_run, manual_link, one_user, pending_of, protection


def _log(level: str, message: str) -> None:
    logger.opt(depth=2).log(level, message)


def _now() -> datetime:
    return datetime.now(UTC)


def _never() -> bool:
    return False


def policy_of(
    settings: Settings, *, direction: Direction | None = None, force: bool = False, full: bool = False
) -> Policy:
    """The policy of ``settings`` (``direction`` overrides the configured one for this run)."""
    sync = settings.sync
    new_clients = settings.whmcs.new_clients
    dummy: dict[str, str] = {}
    if new_clients.missing_fields == "dummy":
        dummy = {
            "first_name": new_clients.dummy.firstname,
            "last_name": new_clients.dummy.lastname,
            # Mapped WHMCS fields (DESIGN §9) AddClient requires, under their WHMCS names.
            "address1": new_clients.dummy.address1,
            "city": new_clients.dummy.city,
            "state": new_clients.dummy.state,
            "postcode": new_clients.dummy.postcode,
            "country": new_clients.dummy.country,
            "phonenumber": new_clients.dummy.phonenumber,
        }
    return Policy(
        direction=direction or sync.direction,
        priority=sync.priority,
        on_delete=sync.on_delete,
        exclude_roles=frozenset(sync.exclude_wp_roles),
        max_deletes=sync.max_deletes,
        max_delete_percent=sync.max_delete_percent,
        force=force,
        full=full,
        dummy_values=dummy,
        new_user_role=settings.wordpress.new_users.role,
        mapped=settings.field_rules(),
        # A national phone number is read in the dummy country: set it to WHMCS's default country.
        phone_region=new_clients.dummy.country,
    )


# --- adapters -----------------------------------------------------------------------------


Adapters = tuple[SideAdapter, SideAdapter]
AdapterFactory = Callable[[Settings], Adapters]
#: Opens the state store of a run from ``state_url`` (tests pass one with a tiny disk or a short busy timeout).
StoreFactory = Callable[[str], StateStore]


def default_adapters(settings: Settings) -> Adapters:
    return WhmcsAdapter.from_settings(settings), WordPressAdapter.from_settings(settings)


class _Listed:
    """A side whose snapshot was taken ahead (concurrently with the other side's); every other
    method of the SideAdapter port goes to the adapter itself."""

    def __init__(self, adapter: SideAdapter, snapshot: Callable[[], Snapshot]) -> None:
        self._adapter = adapter
        self._snapshot = snapshot
        self.side = adapter.side

    def snapshot(self) -> Snapshot:
        return self._snapshot()

    def find_by_email(self, email: str) -> list[Record]:
        return self._adapter.find_by_email(email)

    def lookup(self, emails: Collection[str], ids: Collection[int]) -> Snapshot:
        return self._adapter.lookup(emails, ids)

    def details(self, ids: Collection[int]) -> Details:
        return self._adapter.details(ids)

    def create(self, fields: Mapping[str, str]) -> Record:
        return self._adapter.create(fields)

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        return self._adapter.update(record, changes)

    def deactivate(self, record: Record) -> Record:
        return self._adapter.deactivate(record)

    def reactivate(self, record: Record, roles: Sequence[str] = ()) -> Record:
        return self._adapter.reactivate(record, roles)

    def close(self) -> None:
        self._adapter.close()


@contextmanager
def _listed_together(whmcs: SideAdapter, wp: SideAdapter) -> Iterator[Adapters]:
    """Both adapters, their listings started at once on two threads."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="listing") as pool:
        listed_whmcs = _Listed(whmcs, pool.submit(whmcs.snapshot).result)
        listed_wp = _Listed(wp, pool.submit(wp.snapshot).result)
        yield listed_whmcs, listed_wp


#: How often the objects a run has read so far are taken out of the cycle collector's reach.
FREEZE_EVERY_SECONDS = 0.2


@contextmanager
def _reads_frozen() -> Iterator[Callable[[object], None]]:
    """While a run reads and plans, what it has read so far is frozen out of the cycle
    collector's reach every ``FREEZE_EVERY_SECONDS``; ``resume`` (called once planning is done,
    and at the latest on exit) freezes one last time and stops; on exit all is unfrozen.

    A listing builds a few objects per user and frees none of them: at 100,000 users a side the
    collector rescanned that growing heap again and again, ~2-4 s of CPU per run for garbage that
    does not exist (records, links and plans hold no cycles). Switching the collector off instead
    saved as much but kept the small cycles each HTTP call leaves (requests, retry state) until
    the end: ~80 MB more at the peak of a 100k run (measured, BENCHMARKS.md). Frozen, they are
    still collected young, before the next freeze.
    """
    stop = threading.Event()

    def freeze_now_and_then() -> None:
        while not stop.wait(FREEZE_EVERY_SECONDS):
            gc.freeze()

    freezer = threading.Thread(target=freeze_now_and_then, name="gc-freeze", daemon=True)

    def resume(_: object = None) -> None:
        if not stop.is_set():
            stop.set()
            freezer.join()
            gc.freeze()  # the snapshots and links live until the run ends: never scan them again

    freezer.start()
    try:
        yield resume
    finally:
        resume()
        gc.unfreeze()  # back into the oldest generation; refcounting frees them when the run is over


@contextmanager
def _opened(settings: Settings, factory: AdapterFactory | None) -> Iterator[Adapters]:
    whmcs, wp = (factory or default_adapters)(settings)
    try:
        yield whmcs, wp
    finally:
        whmcs.close()
        wp.close()


# --- a read-only view of the store for dry runs and explain ----------------------------------


class _NoStore:
    """The state of a site where syncd has never run: no links, nothing pending. Read-only."""

    def links(self) -> list[Link]:
        return []

    def pending_creates(self) -> dict[tuple[Side, str], datetime]:
        return {}

    def close(self) -> None:
        pass


def _read_only_store(url: str) -> SqlStateStore | _NoStore:
    if not SqlStateStore.exists(url):
        return _NoStore()
    return SqlStateStore.open(url, create=False, read_only=True)


# --- sync ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """What ``syncd sync`` did: the plan, and the run report (None for a dry run).
    ``syncd.render`` shows it; ``syncd.exits`` gives its exit code."""

    plan: Plan
    report: RunReport | None
    dry_run: bool
    store: str = ""  # where the state store is, as messages name it


class _Progress:
    """A long run's progress on a terminal: one line every few seconds, with a rate and an ETA.

    Plain log lines rather than a live bar, because each write is already an INFO line on the
    same stderr and a redrawn bar would tear them apart.
    """

    EVERY_SECONDS = 5.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.last = self.started

    def __call__(self, done: int, planned: int) -> None:
        now = self.clock()
        if now - self.last < self.EVERY_SECONDS or planned <= 0 or done >= planned:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        left = (planned - done) / rate if rate > 0 else 0.0
        logger.info("progress: {}/{} actions ({:.0%}), {:.1f}/s, about {:.0f}s left",
                    done, planned, done / planned, rate, left)


def _where(settings: Settings) -> str:
    """The state store as messages name it (never with a password a PostgreSQL URL may carry)."""
    return state_url.location(state_url.parse(settings.sync.state_url))


def _warn_if_unlinked_start(collector: Callable[[object], None], store: str) -> Callable[[Plan], None]:
    """The engine's ``planned`` hook: resume the collector, and say in the log (the daemon's
    only voice) when a run starts from no link at all while both sides have users."""
    from syncd import render

    def planned(the_plan: Plan) -> None:
        collector(the_plan)
        notice = render.unlinked_start_notice(the_plan, store)
        if notice:
            logger.warning(notice)

    return planned


def sync_once(
    settings: Settings,
    *,
    full: bool = False,
    dry_run: bool = False,
    direction: Direction | None = None,
    force: bool = False,
    should_stop: Callable[[], bool] = _never,
    progress: bool = False,
    adapters: AdapterFactory | None = None,
    store: StoreFactory | None = None,
) -> SyncResult:
    """One run (DESIGN §5.1). A dry run reads both sides and the store and writes nothing;
    a real run holds the lock for its whole duration. ``store`` opens the state store of a
    real run (default ``SqlStateStore.open``)."""
    policy = policy_of(settings, direction=direction, force=force, full=full)
    if dry_run:
        return _dry_run(settings, policy, adapters)
    with ExitStack() as stack:
        stack.enter_context(run_lock(settings.sync.state_url, wait_seconds=settings.sync.lock_wait_seconds))
        collector = stack.enter_context(_reads_frozen())
        state = (store or SqlStateStore.open)(settings.sync.state_url)
        stack.callback(state.close)
        whmcs, wp = stack.enter_context(_opened(settings, adapters))
        listed = stack.enter_context(_listed_together(whmcs, wp))
        # Creates of different users run at once, each side within its configured concurrency;
        # entered last, so it is shut down (waiting for any write in flight) before the
        # adapters, the store and the lock are released.
        widths = {Side.WHMCS: settings.whmcs.concurrency, Side.WORDPRESS: settings.wordpress.concurrency}
        writers = stack.enter_context(ThreadPoolExecutor(max_workers=sum(widths.values()), thread_name_prefix="write"))
        the_plan, report = run_sync(
            whmcs=listed[0], wp=listed[1], store=state, policy=policy, log=_log, now=_now,
            should_stop=should_stop, start=writers.submit, concurrency=widths,
            progress=_Progress() if progress else None, planned=_warn_if_unlinked_start(collector, _where(settings)),
        )
        return SyncResult(plan=the_plan, report=report, dry_run=False, store=_where(settings))
    raise AssertionError("unreachable")  # pragma: no cover


def _read_all(
    settings: Settings, adapters: AdapterFactory | None, store: SqlStateStore | _NoStore, policy: Policy,
    *, among: Collection[int] | None = None, key: str = "",
) -> tuple[Snapshot, Snapshot, list[Link], dict[tuple[Side, str], datetime]]:
    """Both listings, the links and the pending creates; the store is read while the listings
    run on their threads. The WHMCS listing gets the details a run of ``policy`` would read
    (``syncd.sync.details``); with ``key``, those of that user's clients only (``explain``)."""
    with _opened(settings, adapters) as (whmcs, wp), _listed_together(whmcs, wp) as listed:
        links, pending = store.links(), store.pending_creates()
        whmcs_snap, wp_snap = listed[0].snapshot(), listed[1].snapshot()
        if key:
            linked = {link.whmcs_id for link in links if link.key == key}
            linked |= {link.whmcs_id for link in links for r in wp_snap.records
                       if r.key == key and r.remote_id == link.wp_id}
            among = {r.remote_id for r in whmcs_snap.records if r.key == key or r.remote_id in linked}
        whmcs_snap = with_details(listed[0], whmcs_snap, wp_snap, links, policy, every=among is not None,
                                  among=among)
        return whmcs_snap, wp_snap, links, pending


def _dry_run(settings: Settings, policy: Policy, adapters: AdapterFactory | None) -> SyncResult:
    store = _read_only_store(settings.sync.state_url)
    try:
        with _reads_frozen():
            whmcs, wp, links, pending = _read_all(settings, adapters, store, policy)
            the_plan = make_plan(whmcs, wp, links, policy, pending)
    finally:
        store.close()
    for action in the_plan.actions:
        logger.debug("dry run: would {}", action.describe())
    return SyncResult(plan=the_plan, report=None, dry_run=True, store=_where(settings))


def daemon_job(settings: Settings, full: bool, should_stop: Callable[[], bool]) -> RunReport:
    """The daemon's scheduled job: one run; a tripped guard is raised for the daemon to report."""
    result = sync_once(settings, full=full, should_stop=should_stop)
    assert result.report is not None
    return result.report


def event_job(settings: Settings, pending: Pending, should_stop: Callable[[], bool]) -> RunReport:
    """The daemon's event worker's job (DESIGN §10): the one-user run an event asks for, by the ids
    and email the events named, recorded with the note "event run" so ``status`` tells it apart.
    A password the events carried (DESIGN §11) is set on the linked WordPress user after the run,
    which may just have created that user (``syncd.carry``); one set on WordPress is offered to the
    run's WHMCS create instead (``syncd.carry_to_whmcs``); a failed run leaves it to the worker."""
    def run(adapters: AdapterFactory | None = None) -> RunReport:
        result = sync_user(settings, email=pending.email or None, whmcs_id=pending.whmcs_id, wp_id=pending.wp_id,
                           should_stop=should_stop, note=f"event run ({pending.label()})", adapters=adapters)
        assert result.report is not None
        return result.report

    if pending.password is not None and pending.password_side is Side.WORDPRESS:
        # Set on WordPress: it must be at hand during the run, whose WHMCS create may take it.
        return carry_to_whmcs.event_run(settings, pending, run)
    report = run()
    if pending.password is not None:
        carry_password(settings, pending)
    return report


#: The longest a login's one-user run waits for the run lock another process holds (the companion
#: waits 10 s for the whole answer).
LOGIN_LOCK_WAIT_SECONDS = 3.0


def login_job(settings: Settings, login: str, password: Password, locked: Locked) -> Verdict:
    """The intake's /v1/verify decision (DESIGN §11, ``syncd.login``): a WHMCS client without a
    WordPress account gets one first, by the one-user run of its email under the daemon's run
    mutex (``locked``), recorded with the note "login run"."""
    quick = settings.model_copy(update={"sync": settings.sync.model_copy(
        update={"lock_wait_seconds": min(settings.sync.lock_wait_seconds, LOGIN_LOCK_WAIT_SECONDS)})})

    def run_user(email: str) -> bool:
        return locked(lambda: sync_user(quick, email=email, note=f"login run ({email})"))

    return check_login(settings, login, password, run_user=run_user)


# --- explain ---------------------------------------------------------------------------------


def explain(settings: Settings, email: str, *, adapters: AdapterFactory | None = None) -> Explanation:
    """Both sides' records for one user, the link, and what a run would do and why (read-only, no lock)."""
    policy = policy_of(settings)
    store = _read_only_store(settings.sync.state_url)
    try:
        whmcs, wp, links, pending = _read_all(settings, adapters, store, policy, key=normalise_email(email))
        return explain_plan(email, whmcs, wp, links, policy, pending)
    finally:
        store.close()


# --- history ---------------------------------------------------------------------------------


def history(settings: Settings, email: str, *, limit: int) -> tuple[list[HistoryEntry], bool]:
    """What syncd changed for the person with ``email`` (current or past), newest first: at most
    ``limit`` entries, and whether there were more. Read-only, no lock; no store yet: nothing."""
    url = settings.sync.state_url
    if not SqlStateStore.exists(url):  # nothing was ever changed here, and no store is created
        return [], False
    with SqlStateStore.open(url, create=False, read_only=True) as store:
        entries = store.history(email, limit=limit + 1)  # one more, to tell the reader the list was cut
    return entries[:limit], len(entries) > limit


# --- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What ``syncd status`` shows, as the state store holds it (``exists`` False where syncd has
    never run). ``syncd.render`` shows it."""

    location: str
    exists: bool = True
    schema_revision: str | None = None
    link_stats: LinkStats = field(default_factory=LinkStats)
    pending_creates: Mapping[tuple[Side, str], datetime] = field(default_factory=dict)
    runs: Sequence[RunSummary] = ()
    issues: Sequence[UserIssue] = ()
    last_success: datetime | None = None  # of a run over every user
    last_whole_run: RunSummary | None = None  # the latest finished run over every user
    intake: IntakeView | None = None  # None: the intake is off ([intake] listen is empty)


@dataclass(frozen=True)
class IntakeView:
    """The event intake as ``syncd status`` sees it: where it listens, and the running daemon's last
    report (``syncd.service.intake_stats``; None when no daemon has written one)."""

    listen: str
    report: Mapping[str, object] | None


def _intake_view(settings: Settings) -> IntakeView | None:
    if not settings.intake.enabled:
        return None
    return IntakeView(settings.intake.listen, intake_stats.read(intake_stats.path_for(settings.sync.state_url)))


def status(settings: Settings) -> Status:
    """What ``syncd status`` shows; read-only."""
    url = settings.sync.state_url
    store = _read_only_store(url)
    if isinstance(store, _NoStore):
        # location() drops a password a PostgreSQL URL may carry.
        return Status(location=state_url.location(state_url.parse(url)), exists=False,
                      intake=_intake_view(settings))
    try:
        return replace(read_status(store), intake=_intake_view(settings))
    finally:
        store.close()


def read_status(store: SqlStateStore, *, runs: int = 10) -> Status:
    """What ``syncd status`` shows of an open store: the latest ``runs``, open issues, link counts."""
    return Status(
        location=store.location, schema_revision=store.schema_revision(), link_stats=store.link_stats(),
        pending_creates=store.pending_creates(), runs=store.runs(runs), issues=store.open_issues(),
        last_success=store.last_success(), last_whole_run=next(iter(store.runs(1, whole=True)), None),
    )


# --- one user: sync --user, link, unlink ---------------------------------------------------------


@dataclass(frozen=True)
class UserSyncResult:
    """What ``syncd sync --user`` did: the user's scope (both sides' accounts and the links
    involved), the plan, the run report (None for a dry run), and what was left to the next full
    run (``notes``). ``found`` is False when neither side nor any link has this user."""

    user: str
    scope: Scope
    plan: Plan
    report: RunReport | None
    dry_run: bool
    notes: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.scope.found


class _UserStore:
    """The state store as a one-user run sees it: only that user's links and pending creates,
    gathered from both sides the first time the links are asked for (inside the run, so a side
    that fails is recorded like a failed listing); every write goes to the store itself."""

    def __init__(self, store: StateStore, find: Callable[[list[Link]], Scope]) -> None:
        self._store = store
        self._find = find
        self.scope: Scope | None = None

    def gathered(self) -> Scope:
        if self.scope is None:
            self.scope = self._find(self._store.links())
        return self.scope

    def links(self) -> list[Link]:
        return list(self.gathered().links)

    def pending_creates(self) -> dict[tuple[Side, str], datetime]:
        return dict(pending_of(self._store.pending_creates(), self.gathered().all_keys()))

    def save_link(self, link: Link, *, history: Sequence[Change] = ()) -> None:
        self._store.save_link(link, history=history)

    def save_links(self, links: Sequence[tuple[Link, Sequence[Change]]]) -> None:
        self._store.save_links(links)

    def delete_link(self, whmcs_id: int, wp_id: int, *, history: Sequence[Change] = ()) -> bool:
        return self._store.delete_link(whmcs_id, wp_id, history=history)

    def mark_pending_create(self, side: Side, key: str) -> None:
        self._store.mark_pending_create(side, key)

    def clear_pending_create(self, side: Side, key: str) -> None:
        self._store.clear_pending_create(side, key)

    def begin_run(self, *, direction: str, full: bool, user: str | None = None) -> int:
        return self._store.begin_run(direction=direction, full=full, user=user)

    def finish_run(self, run_id: int, *, outcome: RunOutcome, counts: Mapping[str, int], errors: int,
                   conflicts: int, message: str = "") -> None:
        self._store.finish_run(run_id, outcome=outcome, counts=counts, errors=errors, conflicts=conflicts,
                               message=message)

    def record_issue(self, run_id: int, *, key: str, side: str, kind: str, message: str) -> None:
        self._store.record_issue(run_id, key=key, side=side, kind=kind, message=message)

    def resolve_issues(self, key: str, *, kind: str | None = None) -> None:
        self._store.resolve_issues(key, kind=kind)

    def open_issues(self) -> list[UserIssue]:
        return self._store.open_issues()

    def runs(self, limit: int = 10) -> list[RunSummary]:
        return self._store.runs(limit)

    def close(self) -> None:
        self._store.close()


def _user_label(email: str | None, whmcs_id: int | None, wp_id: int | None) -> str:
    if email:
        return normalise_email(email)
    ids = [f"WHMCS client #{whmcs_id}" if whmcs_id is not None else "",
           f"WordPress user #{wp_id}" if wp_id is not None else ""]
    return " / ".join(i for i in ids if i)


def sync_user(
    settings: Settings,
    *,
    email: str | None = None,
    whmcs_id: int | None = None,
    wp_id: int | None = None,
    dry_run: bool = False,
    direction: Direction | None = None,
    force: bool = False,
    should_stop: Callable[[], bool] = _never,
    adapters: AdapterFactory | None = None,
    store: StoreFactory | None = None,
    note: str = "",
) -> UserSyncResult:
    """A one-user run (DESIGN §3.1 ``sync --user``, §10): the user named by ``email`` and/or its
    account ids (the event intake knows an id), by link then by key on both sides, planned by the
    same planner and executed by the same engine under the same lock as any run — but it never
    deletes nor deactivates anyone (``syncd.sync.scope``). A dry run writes nothing and takes no lock.
    ``note`` goes first in the run's recorded message (an event run says so: ``event_job``)."""
    if email is None and whmcs_id is None and wp_id is None:
        raise ValueError("sync_user needs an email or an account id")
    label = _user_label(email, whmcs_id, wp_id)
    # A one-user run never deletes: on_delete is "ignore" whatever the configuration says, and
    # scope.one_user takes out the deletions even so (the next full run decides them).
    policy = replace(policy_of(settings, direction=direction, force=force), on_delete="ignore")
    if dry_run:
        read_only = _read_only_store(settings.sync.state_url)
        try:
            with _opened(settings, adapters) as (whmcs, wp):
                found = gather(whmcs, wp, read_only.links(), email=email, whmcs_id=whmcs_id, wp_id=wp_id)
                found = replace(found, whmcs=with_details(whmcs, found.whmcs, found.wp, found.links, policy,
                                                          every=True))
                pending = pending_of(read_only.pending_creates(), found.all_keys())
        finally:
            read_only.close()
        the_plan, notes = one_user(make_plan(found.whmcs, found.wp, list(found.links), policy, pending))
        return UserSyncResult(user=label, scope=found, plan=the_plan, report=None, dry_run=True, notes=notes)
    with ExitStack() as stack:
        stack.enter_context(run_lock(settings.sync.state_url, wait_seconds=settings.sync.lock_wait_seconds))
        state = (store or SqlStateStore.open)(settings.sync.state_url)
        stack.callback(state.close)
        whmcs, wp = stack.enter_context(_opened(settings, adapters))
        scoped = _UserStore(state, lambda links: gather(whmcs, wp, links, email=email, whmcs_id=whmcs_id,
                                                        wp_id=wp_id))
        sides = (_Listed(whmcs, lambda: scoped.gathered().whmcs), _Listed(wp, lambda: scoped.gathered().wp))
        the_plan, report = run_sync(whmcs=sides[0], wp=sides[1], store=scoped, policy=policy, log=_log, now=_now,
                                    should_stop=should_stop, user=label, note=note)
        notes = left_to_full_run(the_plan)
        return UserSyncResult(user=label, scope=scoped.gathered(), plan=the_plan, report=report, dry_run=False,
                              notes=notes)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class ManualResult:
    """What ``syncd link`` or ``syncd unlink`` did: the pair, both accounts as read (None where one
    is gone), the run id it was recorded under, and what the next run would do for them."""

    action: str  # "link" | "unlink"
    link: Link
    whmcs: Record | None
    wp: Record | None
    run_id: int
    next_run: tuple[str, ...] = ()
    unchanged: bool = False  # ``link`` of a pair that was already linked together


def _pair(link: Link, key: str = "") -> str:
    who = f" ({key})" if key else ""
    return f"WHMCS client #{link.whmcs_id} ⇄ WordPress user #{link.wp_id}{who}"


def _next_run(settings: Settings, whmcs: SideAdapter, wp: SideAdapter, links: list[Link], *,
              email: str | None = None, whmcs_id: int | None = None, wp_id: int | None = None) -> tuple[str, ...]:
    """What a run would do next for these accounts (planned only, from fresh reads). The link or
    unlink is already committed: a side failing now is said in the preview, not as the command's error."""
    try:
        policy = policy_of(settings)
        found = gather(whmcs, wp, links, email=email, whmcs_id=whmcs_id, wp_id=wp_id)
        found = replace(found, whmcs=with_details(whmcs, found.whmcs, found.wp, found.links, policy, every=True))
    except SideError as exc:
        return (f"(could not be worked out now: {exc}; `syncd sync --dry-run` shows it once the side answers)",)
    the_plan, _notes = one_user(make_plan(found.whmcs, found.wp, list(found.links), policy))
    lines = [a.describe() for a in the_plan.actions]
    lines += [f"report a conflict: {c.describe()}" for c in the_plan.conflicts]
    lines += [f"leave alone: {d.describe()}" for d in the_plan.duplicates]
    lines += [f"report: {p.describe()}" for p in the_plan.problems]
    return tuple(lines) or ("nothing: the two already agree",)


def _record_manual(state: StateStore, settings: Settings, kind: str, message: str) -> int:
    """A manual change as a row of the runs (outcome ``manual``), so ``status`` shows who did what."""
    run_id = state.begin_run(direction=settings.sync.direction.value, full=False)
    state.finish_run(run_id, outcome=RunOutcome.MANUAL, counts={kind: 1}, errors=0, conflicts=0, message=message)
    return run_id


def link(settings: Settings, whmcs_id: int, wp_id: int, *, adapters: AdapterFactory | None = None,
         store: StoreFactory | None = None) -> ManualResult:
    """``syncd link``: pair WHMCS client ``whmcs_id`` with WordPress user ``wp_id`` by hand. Both are
    read to check they exist; admins, protected and Closed accounts and accounts already linked are
    refused (``RequestRefused``); nothing is written to either side. The link has no agreed values
    yet, so the next run settles the two as at first contact (``scope.manual_link``)."""
    with ExitStack() as stack:
        stack.enter_context(run_lock(settings.sync.state_url, wait_seconds=settings.sync.lock_wait_seconds))
        state = (store or SqlStateStore.open)(settings.sync.state_url)
        stack.callback(state.close)
        links = state.links()
        for old in links:
            if (old.whmcs_id, old.wp_id) == (whmcs_id, wp_id):
                whmcs, wp = stack.enter_context(_opened(settings, adapters))
                return ManualResult("link", old, None, None, 0, unchanged=True,
                                    next_run=_next_run(settings, whmcs, wp, links, whmcs_id=whmcs_id, wp_id=wp_id))
        taken = [old for old in links if old.whmcs_id == whmcs_id or old.wp_id == wp_id]
        if taken:
            which = "; ".join(_pair(old, old.key) for old in taken)
            raise RequestRefused(
                f"refused: already linked: {which}. Run `syncd unlink EMAIL` for that pair first, then link again.")
        whmcs, wp = stack.enter_context(_opened(settings, adapters))
        client = next(iter(whmcs.lookup((), (whmcs_id,)).records), None)
        user = next(iter(wp.lookup((), (wp_id,)).records), None)
        missing = [f"WHMCS has no client #{whmcs_id}" if client is None else "",
                   f"WordPress has no user #{wp_id}" if user is None else ""]
        if client is None or user is None:
            raise RequestRefused(f"refused: {'; '.join(m for m in missing if m)}. Check the ids (WHMCS: Clients → "
                                 "the client's profile; WordPress: Users → Edit, user_id in the address).")
        # Whoever else holds either email on the other side: an admin's or a protected account's
        # email protects both accounts, as in a run (DESIGN §5.6).
        whmcs_view = whmcs.lookup((client.email, user.email), (whmcs_id,))
        wp_view = wp.lookup((client.email, user.email), (wp_id,))
        policy = policy_of(settings)
        for record in (client, user):
            reason = protection(record, whmcs_view, wp_view, policy)
            if reason:
                raise RequestRefused(f"refused: {record.side.account} #{record.remote_id} ({record.label()}) is "
                                     f"never synchronised: {reason}. Nothing was linked.")
        new = manual_link(client, user)
        state.save_link(new, history=changes.manual_link(client.key, whmcs_id, wp_id))
        message = (f"linked by hand: WHMCS client #{whmcs_id} ({client.label()}) ⇄ WordPress user #{wp_id} "
                   f"({user.label()})")
        run_id = _record_manual(state, settings, "manual_link", message)
        logger.info("{} (recorded as #{}); the next run settles them as at first contact", message, run_id)
        ahead = _next_run(settings, whmcs, wp, [*links, new], whmcs_id=whmcs_id, wp_id=wp_id)
        return ManualResult("link", new, client, user, run_id, next_run=ahead)
    raise AssertionError("unreachable")  # pragma: no cover


def unlink(settings: Settings, email: str, *, adapters: AdapterFactory | None = None,
           store: StoreFactory | None = None) -> ManualResult:
    """``syncd unlink``: forget the link of the user with ``email`` (on either side, or as the link's
    agreed email). Several links with that email are listed and refused; nothing is written to
    either side. The next run sees the two accounts as unlinked: linked again at first contact if
    their emails still match, otherwise each one on its own (created on the other side where the
    direction allows); the output says which."""
    key = normalise_email(email)
    with ExitStack() as stack:
        stack.enter_context(run_lock(settings.sync.state_url, wait_seconds=settings.sync.lock_wait_seconds))
        state = (store or SqlStateStore.open)(settings.sync.state_url)
        stack.callback(state.close)
        links = state.links()
        whmcs, wp = stack.enter_context(_opened(settings, adapters))
        found = gather(whmcs, wp, links, email=email)
        ids = {side: {r.remote_id for r in found.snapshot(side).records if r.key == key} for side in Side}
        mine = [old for old in found.links
                if old.key == key or old.whmcs_id in ids[Side.WHMCS] or old.wp_id in ids[Side.WORDPRESS]]
        if not mine:
            raise NotLinked(f"no link holds {key}: nothing to forget (`syncd explain {key}` shows both sides).")
        if len(mine) > 1:
            which = "; ".join(_pair(old, old.key) for old in mine)
            raise RequestRefused(f"refused: {len(mine)} links hold {key}: {which}. Give each account its own email "
                                 "first (or unlink by another email that only one of them has).")
        old = mine[0]
        forgotten = changes.manual_unlink(old.key or key, old.whmcs_id, old.wp_id)
        state.delete_link(old.whmcs_id, old.wp_id, history=forgotten)
        records = {side: next((r for r in found.snapshot(side).records if r.remote_id == old.remote_id(side)), None)
                   for side in Side}
        message = f"unlinked by hand: {_pair(old, key)}"
        run_id = _record_manual(state, settings, "manual_unlink", message)
        logger.info("{} (recorded as #{})", message, run_id)
        rest = [other for other in links if other != old]
        ahead = _next_run(settings, whmcs, wp, rest, email=email, whmcs_id=old.whmcs_id, wp_id=old.wp_id)
        return ManualResult("unlink", old, records[Side.WHMCS], records[Side.WORDPRESS], run_id, next_run=ahead)
    raise AssertionError("unreachable")  # pragma: no cover
