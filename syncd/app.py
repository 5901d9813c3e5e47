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
from typing import Any

from loguru import logger

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings
from syncd.model import Direction, Link, Record, Side, Snapshot
from syncd.ports import RunSummary, SideAdapter, StateStore, UserIssue
from syncd.service.lock import run_lock
from syncd.state import url as state_url
from syncd.state.store import SqlStateStore
from syncd.sync.engine import RunReport, run_sync
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


@dataclass
class SyncResult:
    """What ``syncd sync`` prints: the plan (dry run) or the run report."""

    plan: Plan | None
    report: RunReport | None
    dry_run: bool
    guard: str | None = None

    @property
    def exit_code(self) -> int:
        if self.dry_run:
            return 4 if self.guard and self.plan is not None and self.plan.blocked else 0
        assert self.report is not None
        return {"errors": 1, "refused": 3}.get(self.report.outcome, 0)

    def to_json(self) -> dict[str, Any]:
        if self.dry_run:
            assert self.plan is not None
            return self.plan.to_json()
        assert self.report is not None
        return self.report.to_json()

    def render(self) -> str:
        if self.dry_run:
            assert self.plan is not None
            return render_plan(self.plan)
        assert self.report is not None
        return render_report(self.report)


def _counts_line(counts: Mapping[str, int]) -> str:
    words = {
        "create": "created", "update": "updated", "link": "linked at first contact", "relink": "re-linked",
        "rebase": "bases refreshed", "deactivate": "deactivated", "reactivate": "re-activated",
        "mark_gone": "marked gone", "forget_pending": "pending creates settled",
    }
    parts = [f"{n} {words.get(kind, kind)}" for kind, n in sorted(counts.items()) if n]
    return ", ".join(parts) if parts else "nothing to do"


def render_plan(the_plan: Plan) -> str:
    p = the_plan.policy
    lines = [
        f"Dry run (direction {p.direction.value}, priority {p.priority.value}, on_delete {p.on_delete}): "
        f"{len(the_plan.actions)} planned actions, nothing written.",
    ]
    lines += [f"  would {line}" for line in (a.describe() for a in the_plan.actions)]
    lines += [f"  conflict: {c.describe()}" for c in the_plan.conflicts]
    lines += [f"  problem: {pr.describe()}" for pr in the_plan.problems]
    lines += [f"  duplicate: {d.describe()}" for d in the_plan.duplicates]
    if the_plan.guard:
        lines.append(("  (overridden by --force) " if p.force else "  ") + the_plan.guard)
    return "\n".join(lines)


def render_report(report: RunReport) -> str:
    head = (
        f"Run {report.run_id} {report.outcome}: {_counts_line(report.counts)}; "
        f"{report.failed_users} failed, {len(report.conflicts)} conflicts, "
        f"{len(report.duplicates)} duplicate emails, in {report.duration_seconds:.1f}s."
    )
    lines = [head]
    lines += [f"  failed: {e.key} ({e.side}): {e.message}" for e in report.errors]
    lines += [f"  problem: {p.describe()}" for p in report.problems]
    lines += [f"  conflict: {c.describe()}" for c in report.conflicts]
    lines += [f"  duplicate: {d.describe()}" for d in report.duplicates]
    if report.message and report.outcome not in ("ok", "errors"):
        lines.append(f"  {report.message}")
    return "\n".join(lines)


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
        return SyncResult(plan=the_plan, report=report, dry_run=False, guard=the_plan.guard)
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
    for line in the_plan.describe():
        logger.debug("dry run: would {}", line)
    return SyncResult(plan=the_plan, report=None, dry_run=True, guard=the_plan.guard)


def daemon_job(settings: Settings, full: bool, should_stop: Callable[[], bool]) -> RunReport:
    """The daemon's scheduled job: one run; a tripped guard is raised for the daemon to report."""
    result = sync_once(settings, full=full, should_stop=should_stop)
    assert result.report is not None
    return result.report


# --- explain ---------------------------------------------------------------------------------


@dataclass
class Explanation:
    data: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0 if self.data.get("found") else 1

    def to_json(self) -> dict[str, Any]:
        return self.data

    def render(self) -> str:
        d = self.data
        if not d.get("found"):
            return f"{d['key']}: on neither side, and in no link."
        lines = [f"{d['key']}:"]
        for side, label in (("whmcs", "WHMCS"), ("wordpress", "WordPress")):
            records: Sequence[Mapping[str, Any]] = d.get(side, [])
            if not records:
                lines.append(f"  {label}: no account with this email")
            for r in records:
                lines.append(f"  {label}: {_record_line(r)}")
        for link in d.get("links", []):
            lines.append(f"  link: {_link_line(link)}")
        if not d.get("links"):
            lines.append("  link: none yet")
        for reason in d.get("reasons", []):
            lines.append(f"  note: {reason}")
        actions = d.get("actions", [])
        if actions:
            lines += [f"  a run would {a.get('describe', a)}" for a in actions]
        else:
            lines.append("  a run would do nothing for this user")
        for item in d.get("conflicts", []):
            loser = "WordPress" if item["winner"] == "whmcs" else "WHMCS"
            lines.append(f"  conflict on {item['field']}: {_SIDE_NAMES[item['winner']]} wins with "
                         f"{item['winning']!r}; {loser}'s {item['losing']!r} is overwritten")
        for item in d.get("problems", []):
            lines.append(f"  problem ({_SIDE_NAMES[item['side']]}, field {item['field']}): {item['message']}")
        for item in d.get("duplicates", []):
            ids = ", ".join(f"#{i}" for i in item["remote_ids"])
            lines.append(f"  duplicate: {len(item['remote_ids'])} {_SIDE_NAMES[item['side']]} accounts share this "
                         f"email ({ids}); all are left alone until only one has it")
        for item in d.get("skips", []):
            lines.append(f"  left alone: {item['reason']}")
        if d.get("guard"):
            lines.append(f"  note: {d['guard']}")
        return "\n".join(lines)


_SIDE_NAMES = {"whmcs": "WHMCS", "wordpress": "WordPress"}


def _record_line(r: Mapping[str, Any]) -> str:
    fields = r.get("fields", {})
    names = " ".join(v for v in (fields.get("first_name", ""), fields.get("last_name", "")) if v)
    extra = []
    if r.get("roles") is not None and r.get("side") == "wordpress":
        extra.append("roles " + (",".join(r["roles"]) or "none"))
    if r.get("status"):
        extra.append(f"status {r['status']}")
    company = fields.get("company")
    if company:
        extra.append(f"company {company!r}")
    return f"#{r.get('remote_id')} {names or '(no name)'} <{fields.get('email', '')}>" + (
        f" ({'; '.join(extra)})" if extra else ""
    )


def _link_line(link: Mapping[str, Any]) -> str:
    text = f"WHMCS client #{link.get('whmcs_id')} ⇄ WordPress user #{link.get('wp_id')}"
    for key in ("gone", "deactivated"):
        if link.get(key):
            text += f"; {key} on {', '.join(link[key])}"
    return text


def explain(settings: Settings, email: str, *, adapters: AdapterFactory | None = None) -> Explanation:
    """Both sides' records for one user, the link, and what a run would do and why (read-only, no lock)."""
    policy = policy_of(settings)
    store = _read_only_store(settings.sync.state_url)
    try:
        whmcs, wp, links, pending = _read_all(settings, adapters, store)
        data = explain_plan(email, whmcs, wp, links, policy, pending)
    finally:
        store.close()
    return Explanation(dict(data))


# --- status ----------------------------------------------------------------------------------


@dataclass
class Status:
    location: str
    runs: list[RunSummary] = field(default_factory=list)
    issues: list[UserIssue] = field(default_factory=list)
    link_stats: dict[str, int] = field(default_factory=dict)
    last_success: datetime | None = None
    dump: dict[str, Any] = field(default_factory=dict)
    exists: bool = True

    def to_json(self) -> dict[str, Any]:
        if not self.exists:
            return {"location": self.location, "runs": [], "open_issues": [], "link_stats": {}, "last_success": None}
        out = dict(self.dump)
        out.pop("links", None)  # the full list is for `explain`; status stays small
        oldest = min(self.issues, key=lambda i: i.first_seen, default=None)
        out["oldest_open_issue"] = None if oldest is None else {
            "key": oldest.key, "side": oldest.side, "kind": oldest.kind, "message": oldest.message,
            "since": oldest.first_seen.isoformat(),
        }
        return out

    def render(self) -> str:
        if not self.exists:
            return f"State store {self.location}: syncd has not run here yet."
        lines = [f"State store: {self.location}"]
        s = self.link_stats
        detail = ", ".join(f"{n} {k.replace('_', ' on ')}" for k, n in s.items() if k != "total" and n)
        lines.append(f"Links: {s.get('total', 0)}" + (f" ({detail})" if detail else ""))
        last = self.last_success.isoformat(timespec="seconds") if self.last_success else "never"
        lines.append(f"Last successful run: {last}")
        lines.append("Last runs:")
        if not self.runs:
            lines.append("  none")
        for run in self.runs:
            took = f"{run.duration_seconds:.1f}s" if run.duration_seconds is not None else (
                "still going" if run.outcome == "running" else "never finished")
            lines.append(
                f"  #{run.run_id} {run.started_at.isoformat(timespec='seconds')} {run.outcome:<7} "
                f"{run.direction}{' full' if run.full else ''}, {took}: {_counts_line(run.counts)}; "
                f"{run.errors} failed, {run.conflicts} conflicts" + (f" — {run.message}" if run.message else "")
            )
        errors = [i for i in self.issues if i.kind == "error"]
        conflicts = [i for i in self.issues if i.kind != "error"]
        lines.append(f"Users in error: {len(errors)}")
        lines += [f"  {i.key} ({i.side}) since {i.first_seen.isoformat(timespec='seconds')}: {i.message}"
                  for i in errors]
        if errors:
            oldest = min(errors, key=lambda i: i.first_seen)
            lines.append(f"Oldest unresolved failure: {oldest.key}, since {oldest.first_seen.isoformat()}")
        lines.append(f"Users in conflict: {len(conflicts)}")
        lines += [f"  {i.key} ({i.side}): {i.message}" for i in conflicts]
        return "\n".join(lines)


def status(settings: Settings) -> Status:
    """What ``syncd status`` shows; read-only."""
    url = settings.sync.state_url
    store = _read_only_store(url)
    if isinstance(store, _NoStore):
        # location() drops a password a PostgreSQL URL may carry.
        return Status(location=state_url.location(state_url.parse(url)), exists=False)
    try:
        return Status(
            location=store.location, runs=store.runs(10), issues=store.open_issues(),
            link_stats=store.link_stats(), last_success=store.last_success(), dump=store.dump(links=False),
        )
    finally:
        store.close()
