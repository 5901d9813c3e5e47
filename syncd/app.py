"""The wiring: settings → adapters, store, lock and policy → one run, an explanation, a status.

The CLI and the daemon call these functions; they hold no rules of their own (those are in
``syncd.sync``). Both sides are listed at the same time, so a run costs the slower listing,
not the sum. A dry run, ``explain`` and ``status`` never take the lock and never write.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from loguru import logger

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings
from syncd.model import Direction, Link, Record, Side, Snapshot
from syncd.ports import LinkStats, RunSummary, SideAdapter, StateStore, UserIssue
from syncd.service.lock import run_lock
from syncd.state import url as state_url
from syncd.state.store import SqlStateStore
from syncd.sync.engine import RunReport, run_sync
from syncd.sync.explain import Explanation
from syncd.sync.explain import explain as explain_plan
from syncd.sync.plan import Plan
from syncd.sync.plan import plan as make_plan
from syncd.sync.policy import Policy


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
            "phone": new_clients.dummy.phonenumber,
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

    def __init__(self, adapter: SideAdapter, snapshot: Future[Snapshot]) -> None:
        self._adapter = adapter
        self._snapshot = snapshot
        self.side = adapter.side

    def snapshot(self) -> Snapshot:
        return self._snapshot.result()

    def find_by_email(self, email: str) -> list[Record]:
        return self._adapter.find_by_email(email)

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
        listed_whmcs = _Listed(whmcs, pool.submit(whmcs.snapshot))
        listed_wp = _Listed(wp, pool.submit(wp.snapshot))
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
            should_stop=should_stop, start=writers.submit,
            concurrency=widths, progress=_Progress() if progress else None, planned=collector,
        )
        return SyncResult(plan=the_plan, report=report, dry_run=False)
    raise AssertionError("unreachable")  # pragma: no cover


def _read_all(
    settings: Settings, adapters: AdapterFactory | None, store: SqlStateStore | _NoStore
) -> tuple[Snapshot, Snapshot, list[Link], dict[tuple[Side, str], datetime]]:
    """Both listings, the links and the pending creates; the store is read while the listings
    run on their threads."""
    with _opened(settings, adapters) as (whmcs, wp), _listed_together(whmcs, wp) as listed:
        links, pending = store.links(), store.pending_creates()
        return listed[0].snapshot(), listed[1].snapshot(), links, pending


def _dry_run(settings: Settings, policy: Policy, adapters: AdapterFactory | None) -> SyncResult:
    store = _read_only_store(settings.sync.state_url)
    try:
        with _reads_frozen():
            whmcs, wp, links, pending = _read_all(settings, adapters, store)
            the_plan = make_plan(whmcs, wp, links, policy, pending)
    finally:
        store.close()
    for action in the_plan.actions:
        logger.debug("dry run: would {}", action.describe())
    return SyncResult(plan=the_plan, report=None, dry_run=True)


def daemon_job(settings: Settings, full: bool, should_stop: Callable[[], bool]) -> RunReport:
    """The daemon's scheduled job: one run; a tripped guard is raised for the daemon to report."""
    result = sync_once(settings, full=full, should_stop=should_stop)
    assert result.report is not None
    return result.report


# --- explain ---------------------------------------------------------------------------------


def explain(settings: Settings, email: str, *, adapters: AdapterFactory | None = None) -> Explanation:
    """Both sides' records for one user, the link, and what a run would do and why (read-only, no lock)."""
    policy = policy_of(settings)
    store = _read_only_store(settings.sync.state_url)
    try:
        whmcs, wp, links, pending = _read_all(settings, adapters, store)
        return explain_plan(email, whmcs, wp, links, policy, pending)
    finally:
        store.close()


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
    last_success: datetime | None = None


def status(settings: Settings) -> Status:
    """What ``syncd status`` shows; read-only."""
    url = settings.sync.state_url
    store = _read_only_store(url)
    if isinstance(store, _NoStore):
        # location() drops a password a PostgreSQL URL may carry.
        return Status(location=state_url.location(state_url.parse(url)), exists=False)
    try:
        return read_status(store)
    finally:
        store.close()


def read_status(store: SqlStateStore, *, runs: int = 10) -> Status:
    """What ``syncd status`` shows of an open store: the latest ``runs``, open issues, link counts."""
    return Status(
        location=store.location, schema_revision=store.schema_revision(), link_stats=store.link_stats(),
        pending_creates=store.pending_creates(), runs=store.runs(runs), issues=store.open_issues(),
        last_success=store.last_success(),
    )
