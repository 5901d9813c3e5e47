"""The benchmarks of DESIGN §8 and issue 6: syncd's cost against the lower bound, and its import rate.

Not a test: a script that prints tables (and writes JSON with ``--json``). Two benchmarks:

1. **No-change runs against the emulators.** Both emulators run in their own process, served over
   loopback HTTP (the way syncd talks to a real site), seeded with N matching users per side (a
   WHMCS client with its owner user, and a WordPress subscriber with the same email, names and
   company). A first run links them all ("initial link", measured too); then, for each injected
   latency, a second run that finds nothing to do is measured, each run in a fresh process so its
   peak RSS is its own: wall time, remote calls by action (syncd's adapters' ``calls``, checked
   against the emulators' own ``calls``), calls ÷ the lower bound, peak RSS, the CPU time of
   ``plan()`` and of the whole run.

   The lower bound of a no-change run (DESIGN §8), per side, is what a run cannot do without:

   - WordPress: 1 REST index (where the API lives: ``/wp-json/`` or ``?rest_route=``), 1
     ``/users/me`` (wrong credentials do not fail in WordPress, they run as anonymous, so a
     listing could be silently incomplete without it), and ceil((N + 1) / per_page) listing pages
     (N users and the site's admin);
   - WHMCS: 1 GetAdminUsers (admins are never synchronised, §5.6), ceil(N / page_size) GetClients
     pages, and ceil(N / page_size) GetUsers pages (the owner user of each client, needed by any
     update of an email or a name, §5.8; a listing reads them in ceil(N / page_size) calls where a
     per-client GetClientsDetails would cost N).

   Target: calls ÷ bound = 1.00 (no per-user call, nothing read twice). Wall-time target: the two
   listings run at once, so a run's floor is its slower side: 1.2 × max over the sides of
   (that side's bound calls × latency ÷ concurrency); at 0 ms latency there is no such target
   (the figure is CPU: syncd's and the emulators').

2. **Initial import into a real WordPress** (scripts/wp-site, on loopback): a WHMCS emulator with
   N Active clients, direction ``whmcs_to_wp``, so syncd creates N WordPress users, at concurrency
   1 and 2; against WordPress's own create rate measured in the same run: raw ``POST /users`` with
   httpx at the same concurrency, with the same body syncd sends. The site is emptied before each
   measurement. Target: syncd ≥ 0.8 × WordPress's own rate.

Run from the repository root::

    python -m benchmarks.run                                   # everything (about 6 minutes on 2 cores)
    python -m benchmarks.run --sizes 1000,10000 --latency 0,20 --no-wordpress
    python -m benchmarks.run --sizes 1000,10000,100000 --million --latency 20 --no-wordpress   # adds 1M (issue 15)
    python -m benchmarks.run --no-emulators --import-users 300 # the WordPress import only

Options choose the page sizes and concurrency (printed with the results); see ``--help``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

SPAWN = mp.get_context("spawn")  # a clean process per run: its peak RSS is the run's own
ROOT = Path(__file__).resolve().parent.parent
if not __package__ and str(ROOT) not in sys.path:  # run as a file (python benchmarks/run.py): tests/ must import
    sys.path.insert(0, str(ROOT))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _version() -> str:
    """The commit measured, and whether syncd/ had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes in syncd/" if git("status", "--porcelain", "--", "syncd") else "")


def user_fields(i: int, prefix: str = "user") -> dict[str, str]:
    """The common fields of the i-th seeded user (the same on both sides)."""
    return {"email": f"{prefix}{i:06d}@example.test", "first_name": f"First{i}", "last_name": f"Last{i}",
            "company": f"Company {i % 997}" if i % 3 else ""}


def address(i: int) -> dict[str, str]:
    """The i-th seeded user's address, as WHMCS names it (the same on both sides with ``--preset``)."""
    return {"address1": f"{i} Main Street", "address2": "", "city": "Springfield", "state": "Oregon",
            "postcode": f"{97000 + i % 999}", "country": "US", "phonenumber": f"503555{i % 10000:04d}"}


#: WooCommerce's billing meta key of each WHMCS address field (the preset's map).
BILLING = {"address1": "billing_address_1", "address2": "billing_address_2", "city": "billing_city",
           "state": "billing_state", "postcode": "billing_postcode", "country": "billing_country",
           "phonenumber": "billing_phone"}


# ---------------------------------------------------------------------------------------------
# the emulators, in their own process


def _seed_whmcs(n: int, preset: str = "") -> Any:
    from syncd.emulators.whmcs import WhmcsEmulator

    whmcs = WhmcsEmulator()
    whmcs.add_admin("billing-admin@example.test", "Billing", "Admin")
    for i in range(1, n + 1):
        f = user_fields(i)
        owner = whmcs.add_user(f["email"], f["first_name"], f["last_name"])  # no scan for an owner by email
        whmcs.add_client(f["email"], f["first_name"], f["last_name"], f["company"], owner_user_id=owner,
                         **(address(i) if preset else {}))
    return whmcs


def _seed_wordpress(n: int, preset: str = "") -> tuple[Any, str]:
    from syncd.emulators.wordpress import WordPressEmulator

    site = WordPressEmulator()
    if preset:
        site.install_companion()  # the billing meta exposed to REST, as the companion plugin does
    password = site.add_app_password("admin")
    site.add_users(
        {"login": f"user{i:06d}", "email": f["email"], "first_name": f["first_name"], "last_name": f["last_name"],
         "company": f["company"], "meta": {BILLING[k]: v for k, v in address(i).items()} if preset else {}}
        for i, f in ((i, user_fields(i)) for i in range(1, n + 1))
    )
    return site, password


def _serve_main(conn: Connection, kind: str, n: int, preset: str = "") -> None:
    """One emulator's process: seed it, serve it, then answer the parent's commands until "stop".

    Each emulator has a process (and a GIL) of its own, as each real side has its own server.
    The time its server spent in ``respond`` (the injected latency is slept outside it) is the
    emulator's own time per call, reported so that the rig's cost can be told from syncd's."""
    started = time.perf_counter()
    gc.disable()  # the seeded users live until the end: no point in scanning them again and again
    if kind == "whmcs":
        emulator, password = _seed_whmcs(n, preset), ""
    else:
        emulator, password = _seed_wordpress(n, preset)
    gc.freeze()
    gc.enable()
    seeded = time.perf_counter() - started
    if kind == "wordpress":
        emulator.keep_alive = True  # as a production WordPress behind nginx or Apache
    with emulator.serve() as url:
        loopback = emulator.loopback
        assert loopback is not None
        conn.send({"url": url, "password": password, "seed_seconds": seeded})
        while True:
            command, arg = conn.recv()
            if command == "stop":
                break
            if command == "latency":
                emulator.latency = float(arg)
                conn.send(None)
            elif command == "calls":
                # The server's own count: the time in ``respond``, the injected latency not included.
                conn.send({"calls": dict(emulator.calls), "handled": loopback.handled,
                           "own_seconds": loopback.busy_seconds})
            elif command == "reset_calls":
                emulator.calls.clear()
                loopback.reset_counts()
                conn.send(None)
    conn.send("stopped")


class Emulated:
    """One emulator seeded with N users, served over loopback by a child process."""

    def __init__(self, kind: str, n: int, preset: str = "") -> None:
        self.kind = kind
        self._conn, child = SPAWN.Pipe()
        self._process = SPAWN.Process(target=_serve_main, args=(child, kind, n, preset), name=f"{kind}-{n}",
                                      daemon=True)
        self._process.start()
        info = self._conn.recv()
        self.url: str = info["url"]
        self.password: str = info["password"]
        self.seed_seconds: float = info["seed_seconds"]

    def ask(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def close(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", None))
            self._conn.recv()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


class EmulatorHost:
    """Both emulators with N users each (or only WHMCS), each in its own process."""

    def __init__(self, n: int, *, wp: bool = True, preset: str = "") -> None:
        self.whmcs = Emulated("whmcs", n, preset)
        self.wordpress = Emulated("wordpress", n, preset) if wp else None
        self.whmcs_url = self.whmcs.url
        self.wp_url = self.wordpress.url if self.wordpress else ""
        self.wp_password = self.wordpress.password if self.wordpress else ""
        self.seed_seconds = max(e.seed_seconds for e in self._all())

    def _all(self) -> list[Emulated]:
        return [self.whmcs] + ([self.wordpress] if self.wordpress else [])

    def set_latency(self, seconds: float) -> None:
        for emulator in self._all():
            emulator.ask("latency", seconds)

    def reset_calls(self) -> None:
        for emulator in self._all():
            emulator.ask("reset_calls")

    def calls(self) -> dict[str, dict[str, int]]:
        return {e.kind: cast(dict[str, int], e.ask("calls")["calls"]) for e in self._all()}

    def own_ms_per_call(self) -> dict[str, float]:
        """Each emulator's own time per call (ms), the injected latency taken out."""
        out = {}
        for emulator in self._all():
            figures = emulator.ask("calls")
            out[emulator.kind] = 1000 * figures["own_seconds"] / max(1, figures["handled"])
        return out

    def close(self) -> None:
        for emulator in self._all():
            emulator.close()


@contextmanager
def emulators(n: int, *, wp: bool = True, preset: str = "") -> Iterator[EmulatorHost]:
    host = EmulatorHost(n, wp=wp, preset=preset)
    try:
        yield host
    finally:
        host.close()


# ---------------------------------------------------------------------------------------------
# one syncd run, in its own process


@dataclass
class Knobs:
    """The settings that shape a run's cost (printed with every table)."""

    whmcs_page_size: int
    wp_page_size: int
    concurrency: int
    preset: str = ""  # "woocommerce": the field map's preset, both sides seeded with the same addresses


def config_for(whmcs_url: str, wp_url: str, wp_user: str, wp_password: str, state_url: str, knobs: Knobs,
               *, direction: str = "both") -> dict[str, Any]:
    """A syncd configuration (as parsed TOML) for the emulators or a real site."""
    config: dict[str, Any] = {
        "whmcs": {"url": whmcs_url, "identifier": "syncd", "secret": "emulator-secret",
                  "page_size": knobs.whmcs_page_size, "concurrency": knobs.concurrency},
        "wordpress": {"url": wp_url, "username": wp_user, "application_password": wp_password,
                      "page_size": knobs.wp_page_size, "concurrency": knobs.concurrency},
        "sync": {"state_url": state_url, "direction": direction, "lock_wait_seconds": 0},
    }
    if knobs.preset:
        config["wordpress"]["preset"] = knobs.preset
    return config


class _Timed:
    """An adapter whose ``snapshot()`` records how long it took (the rest is delegated)."""

    def __init__(self, adapter: Any, times: dict[str, float]) -> None:
        self._adapter = adapter
        self._times = times
        self.side = adapter.side

    def snapshot(self) -> Any:
        started = time.perf_counter()
        try:
            return self._adapter.snapshot()
        finally:
            self._times[self.side.value] = time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)


def _status_kb(name: str) -> int:
    """A ``/proc/self/status`` figure in kB (VmRSS: resident now; VmHWM: peak since the last reset)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``), so that
    the peak read after ``plan()`` is the peak while planning, its inputs included."""
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def _store_links_in_bulk() -> None:
    """Make this process's state store keep new links in memory and insert them all in one
    transaction when the run is recorded as finished.

    Only for preparing a large initial state: ``save_link`` costs ~7-15 ms per link (one
    transaction each, fsync and ORM), which would make linking 100,000 users take ~25 minutes.
    The links are what syncd's engine decided; the next (no-change) run checks them, as it
    must plan nothing. Every link must be new (the initial link of an empty store).
    """
    from syncd.model import Link
    from syncd.state.store import SqlStateStore, link_values
    from syncd.state.tables import LinkRow

    buffered: list[Link] = []
    real_finish = SqlStateStore.finish_run

    def save_link(self: SqlStateStore, link: Link, *, history: Sequence[Any] = ()) -> None:
        buffered.append(link)  # a first contact has no history

    def finish_run(self: SqlStateStore, run_id: int, **kwargs: Any) -> None:
        now = datetime.now(UTC)
        rows = [{**link_values(link), "created_at": now, "updated_at": now} for link in buffered]
        if rows:
            with self.engine.execution_options(syncd_write=True).begin() as connection:
                connection.execute(LinkRow.__table__.insert(), rows)  # type: ignore[attr-defined]
            buffered.clear()
        real_finish(self, run_id, **kwargs)

    SqlStateStore.save_link = save_link  # type: ignore[method-assign]
    SqlStateStore.finish_run = finish_run  # type: ignore[method-assign]


def _syncd_main(conn: Connection, config: dict[str, Any], log_path: str, bulk_links: bool, full: bool = False) -> None:
    """The run process: one ``sync_once`` with the daemon's INFO logging (to a file), measured."""
    from syncd import app, logs, render
    from syncd.config import parse
    from syncd.sync import engine

    if bulk_links:
        _store_links_in_bulk()
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings = parse(config, env={})
    log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed below, after the run
    logs.setup_logging("INFO", secrets=logs.secret_values(settings), stream=log_file)
    plan_cpu: list[float] = []
    real_plan = getattr(engine, "plan")  # noqa: B009 - the name run_sync calls, replaced below

    plan_rss: dict[str, int] = {}

    def timed_plan(*args: Any, **kwargs: Any) -> Any:
        plan_rss["before_kb"] = _status_kb("VmRSS")
        _reset_peak_rss()
        started = time.process_time()  # the listings are over: no other thread is busy now
        try:
            return real_plan(*args, **kwargs)
        finally:
            plan_cpu.append(time.process_time() - started)
            plan_rss["peak_kb"] = _status_kb("VmHWM")

    setattr(engine, "plan", timed_plan)  # noqa: B010 - time plan() where run_sync calls it
    made: list[Any] = []
    listing: dict[str, float] = {}

    def factory(s: Any) -> Any:
        whmcs, wp = app.default_adapters(s)
        made.extend((whmcs, wp))
        return _Timed(whmcs, listing), _Timed(wp, listing)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    error = ""
    try:
        result = app.sync_once(settings, adapters=factory, full=full)
        report = render.report_json(result.report) if result.report else {}
    except Exception as exc:  # reported in the table, never hidden
        error, report = f"{type(exc).__name__}: {exc}", {}
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    log_file.close()
    conn.send({
        "wall": wall, "cpu": cpu, "plan_cpu": sum(plan_cpu), "listing": listing, "error": error,
        "counts": report.get("counts", {}), "outcome": report.get("outcome", "failed"),
        "failed": len(report.get("errors", [])), "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "baseline_rss_kb": baseline_rss, "plan_rss_before_kb": plan_rss.get("before_kb", 0),
        "plan_peak_rss_kb": plan_rss.get("peak_kb", 0),
        "calls": {a.side.value: dict(a.calls) for a in made},
    })


def run_syncd(config: dict[str, Any], log_path: Path, *, bulk_links: bool = False,
              full: bool = False) -> dict[str, Any]:
    """One syncd run in a fresh process (a full pass with ``full``); what ``_syncd_main`` measured."""
    conn, child = SPAWN.Pipe()
    process = SPAWN.Process(target=_syncd_main, args=(child, config, str(log_path), bulk_links, full),
                            name="syncd-run")
    process.start()
    try:
        out = cast(dict[str, Any], conn.recv())
    except EOFError:
        out = {"error": f"the run process died (exit {process.exitcode})"}
    process.join()
    return out


# ---------------------------------------------------------------------------------------------
# benchmark 1: no-change runs against the emulators


def bound(n: int, knobs: Knobs, *, full: bool = False) -> dict[str, dict[str, int]]:
    """The calls a no-change run cannot do without, by side and action (see the module docstring);
    a full pass with mapped fields (``full`` and a preset) reads every client's details too."""
    whmcs_pages = math.ceil(n / knobs.whmcs_page_size) if n else 1
    lower = {
        "wordpress": {"index": 1, "me": 1, "list_page": math.ceil((n + 1) / knobs.wp_page_size)},
        "whmcs": {"GetAdminUsers": 1, "GetClients": whmcs_pages, "GetUsers": whmcs_pages},
    }
    if full and knobs.preset:
        lower["whmcs"]["GetClientsDetails"] = n
    return lower


def wall_target(lower: Mapping[str, Mapping[str, int]], latency: float, knobs: Knobs) -> float:
    """1.2 × the slower side's bound calls × latency ÷ concurrency (the sides are listed at once)."""
    return 1.2 * max(sum(side.values()) for side in lower.values()) * latency / knobs.concurrency


def rig_target(lower: Mapping[str, Mapping[str, int]], latency: float, own_ms: Mapping[str, float],
               knobs: Knobs) -> float:
    """The wall-time target with each emulator's own time per call added to the latency: what
    the target would be if the server's time were injected latency too (it is real time a call
    takes; a real WordPress spends 40-50 ms on a page of 100 users, reference/wordpress.md)."""
    return 1.2 * max(sum(calls.values()) * (latency + own_ms.get(side, 0.0) / 1000)
                     for side, calls in lower.items()) / knobs.concurrency


@dataclass
class NoChangeRow:
    """One measured run against the emulators."""

    users: int
    latency_ms: float
    what: str  # "initial link" | "no change"
    wall: float
    listing_whmcs: float
    listing_wp: float
    calls: dict[str, dict[str, int]]
    server_calls: dict[str, dict[str, int]]
    bound: dict[str, dict[str, int]]
    maxrss_mb: float
    baseline_rss_mb: float
    plan_rss_before_mb: float
    plan_peak_rss_mb: float
    plan_cpu: float
    cpu: float
    counts: dict[str, int]
    outcome: str
    error: str = ""
    target_wall: float | None = None
    server_ms: dict[str, float] = field(default_factory=dict)
    rig_target_wall: float | None = None
    bare_fetch: float | None = None  # seconds for a bare client to fetch the WordPress side's bound calls

    @property
    def total_calls(self) -> int:
        return sum(sum(side.values()) for side in self.calls.values())

    @property
    def total_bound(self) -> int:
        return sum(sum(side.values()) for side in self.bound.values())

    @property
    def ratio(self) -> float:
        return self.total_calls / self.total_bound

    @property
    def calls_agree(self) -> bool:
        """syncd's count and the emulators' count of the same calls are equal."""
        mine = Counter({f"{s}:{a}": n for s, side in self.calls.items() for a, n in side.items()})
        theirs = Counter({f"{s}:{a}": n for s, side in self.server_calls.items() for a, n in side.items()})
        return +mine == +theirs


def _calls_text(calls: Mapping[str, Mapping[str, int]]) -> str:
    short = {"GetAdminUsers": "admins", "GetClients": "clients", "GetUsers": "users", "list_page": "pages"}
    parts = []
    for side, label in (("whmcs", "W"), ("wordpress", "WP")):
        items = ", ".join(f"{short.get(a, a)} {n}" for a, n in sorted(calls.get(side, {}).items()) if n)
        parts.append(f"{label}: {items}")
    return "; ".join(parts)


def _server_calls(raw: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The emulators' counts in the adapters' words (the WordPress emulator calls a plain page "page")."""
    return {side: {a: n for a, n in calls.items() if n} for side, calls in raw.items()}


def _row(n: int, latency_ms: float, what: str, out: Mapping[str, Any], server: Mapping[str, Mapping[str, int]],
         server_ms: Mapping[str, float], knobs: Knobs) -> NoChangeRow:
    lower = bound(n, knobs, full=what == "full pass")
    no_change = what in ("no change", "full pass")
    return NoChangeRow(
        users=n, latency_ms=latency_ms, what=what, wall=out.get("wall", 0.0),
        listing_whmcs=out.get("listing", {}).get("whmcs", 0.0), listing_wp=out.get("listing", {}).get("wordpress", 0.0),
        calls={s: {a: int(v) for a, v in c.items() if v} for s, c in out.get("calls", {}).items()},
        server_calls=_server_calls(server), bound=lower,
        maxrss_mb=out.get("maxrss_kb", 0) / 1024, baseline_rss_mb=out.get("baseline_rss_kb", 0) / 1024,
        plan_rss_before_mb=out.get("plan_rss_before_kb", 0) / 1024,
        plan_peak_rss_mb=out.get("plan_peak_rss_kb", 0) / 1024,
        plan_cpu=out.get("plan_cpu", 0.0), cpu=out.get("cpu", 0.0), counts=dict(out.get("counts", {})),
        outcome=out.get("outcome", ""), error=out.get("error", ""),
        target_wall=wall_target(lower, latency_ms / 1000, knobs) if latency_ms and no_change else None,
        server_ms=dict(server_ms),
        rig_target_wall=rig_target(lower, latency_ms / 1000, server_ms, knobs) if no_change else None,
    )


def bare_fetch(host: EmulatorHost, n: int, knobs: Knobs) -> float:
    """Seconds a client that does nothing else takes to fetch what a no-change run must from
    WordPress (the slower side): the REST index, then /users/me and every listing page,
    ``concurrency`` at a time, sent as syncd sends them (the same requests, httpx with syncd's
    transport). Even more favourable than syncd's own schedule (no page waits for page 1's
    totals). The floor of this rig: what a run takes beyond it is syncd's own cost."""
    import httpx

    from syncd.adapters import net
    from syncd.adapters.wordpress import USER_FIELDS

    api = host.wp_url.rstrip("/") + "/wp-json/wp/v2/users"
    pages = math.ceil((n + 1) / knobs.wp_page_size)
    listing = {"context": "edit", "per_page": knobs.wp_page_size, "orderby": "id", "order": "asc",
               "_fields": USER_FIELDS}
    with httpx.Client(auth=("admin", host.wp_password), transport=net.transport(True)) as client, \
            ThreadPoolExecutor(max_workers=knobs.concurrency) as pool:
        def one(page: int) -> None:
            if page == 0:
                client.get(api + "/me", params={"context": "edit", "_fields": USER_FIELDS}).raise_for_status()
            else:
                client.get(api, params={**listing, "page": page}).raise_for_status()

        started = time.perf_counter()
        client.get(host.wp_url.rstrip("/") + "/wp-json/").raise_for_status()
        list(pool.map(one, range(pages + 1)))
        return time.perf_counter() - started


def no_change_benchmark(sizes: Sequence[int], latencies_ms: Sequence[float], knobs: Knobs, work: Path,
                        say: Callable[[str], None], bulk_above: int, full_up_to: int = 0) -> list[NoChangeRow]:
    rows: list[NoChangeRow] = []
    for n in sizes:
        with emulators(n, preset=knobs.preset) as host:
            say(f"{n} users per side: emulators seeded in {host.seed_seconds:.1f} s")
            state = work / f"state-{n}.db"
            config = config_for(host.whmcs_url, host.wp_url, "admin", host.wp_password, f"sqlite:///{state}", knobs)
            host.set_latency(0)
            host.reset_calls()
            bulk = 0 < bulk_above < n
            out = run_syncd(config, work / f"syncd-{n}.log", bulk_links=bulk)
            rows.append(_row(n, 0, "initial link (bulk)" if bulk else "initial link", out, host.calls(),
                             host.own_ms_per_call(), knobs))
            say(f"  initial link: {out.get('wall', 0):.1f} s, {out.get('counts')} {out.get('error', '')}")
            for latency in latencies_ms:
                host.set_latency(latency / 1000)
                host.reset_calls()
                out = run_syncd(config, work / f"syncd-{n}.log")
                row = _row(n, latency, "no change", out, host.calls(), host.own_ms_per_call(), knobs)
                row.bare_fetch = min(bare_fetch(host, n, knobs) for _ in range(1 if n >= 1_000_000 else 2))
                rows.append(row)
                say(f"  no change at {latency:g} ms: {row.wall:.2f} s, calls {row.total_calls}/{row.total_bound}, "
                    f"RSS {row.maxrss_mb:.0f} MB, plan {row.plan_cpu:.2f} s CPU {row.error}")
                if knobs.preset and n <= full_up_to:  # a full pass reads every client's details
                    host.reset_calls()
                    out = run_syncd(config, work / f"syncd-{n}.log", full=True)
                    row = _row(n, latency, "full pass", out, host.calls(), host.own_ms_per_call(), knobs)
                    rows.append(row)
                    say(f"  full pass at {latency:g} ms: {row.wall:.2f} s, calls {row.total_calls}/"
                        f"{row.total_bound}, counts {row.counts} {row.error}")
    return rows


def print_no_change(rows: Sequence[NoChangeRow], knobs: Knobs) -> None:
    print(f"\nNo-change runs against the emulators over loopback HTTP (WHMCS page size {knobs.whmcs_page_size}, "
          f"WordPress per_page {knobs.wp_page_size}, concurrency {knobs.concurrency} per side"
          + (f", preset {knobs.preset}" if knobs.preset else "") + ")")
    head = ["users", "latency", "run", "wall s", "target s", "rig-adj. s", "bare fetch s", "emulator ms/call W/WP",
            "listing W/WP s",
            "calls", "bound", "÷bound",
            "peak RSS MB", "plan CPU s", "plan RSS MB", "run CPU s", "actions", "calls by action"]
    table = [head]
    for r in rows:
        table.append([
            f"{r.users:,}", f"{r.latency_ms:g} ms", r.what, f"{r.wall:.2f}",
            f"{r.target_wall:.2f}" if r.target_wall is not None else "",
            f"{r.rig_target_wall:.2f}" if r.rig_target_wall is not None else "",
            f"{r.bare_fetch:.2f}" if r.bare_fetch is not None else "",
            f"{r.server_ms.get('whmcs', 0):.1f}/{r.server_ms.get('wordpress', 0):.1f}",
            f"{r.listing_whmcs:.2f}/{r.listing_wp:.2f}",
            str(r.total_calls), str(r.total_bound), f"{r.ratio:.2f}", f"{r.maxrss_mb:.0f}", f"{r.plan_cpu:.2f}",
            f"{r.plan_rss_before_mb:.0f}→{r.plan_peak_rss_mb:.0f}", f"{r.cpu:.2f}",
            ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())) or "none",
            _calls_text(r.calls)
            + ("" if r.calls_agree else f"  (emulators counted {_calls_text(r.server_calls)})")
            + (f"  ERROR {r.error}" if r.error else ""),
        ])
    _print_table(table)


def print_growth(rows: Sequence[NoChangeRow]) -> None:
    """Memory and time per user at each size, side by side (issue 15): how a run grows with N.

    "KB/user" is the peak RSS above the process's own after its imports (the libraries), per
    user per side; "first contact ÷ listing" the initial link's wall time over its slower listing."""
    print("\nGrowth with the number of users (per user = per user per side; no change at the highest latency run)")
    head = ["users", "first contact s", "÷ listing", "first-contact RSS MB", "no-change wall s", "bare fetch s",
            "÷ bare", "µs/user", "peak RSS MB", "KB/user", "plan CPU s", "plan µs/user", "÷ bound"]
    table = [head]
    for n in sorted({r.users for r in rows}):
        first = next((r for r in rows if r.users == n and r.what.startswith("initial link")), None)
        changes = [r for r in rows if r.users == n and r.what == "no change"]
        if not changes:
            continue
        last = max(changes, key=lambda r: r.latency_ms)
        listing = max(first.listing_whmcs, first.listing_wp) if first else 0.0
        table.append([
            f"{n:,}", f"{first.wall:.1f}" if first else "", f"{first.wall / listing:.2f}" if first and listing else "",
            f"{first.maxrss_mb:.0f}" if first else "", f"{last.wall:.2f} ({last.latency_ms:g} ms)",
            f"{last.bare_fetch:.2f}" if last.bare_fetch else "",
            f"{last.wall / last.bare_fetch:.2f}" if last.bare_fetch else "", f"{1e6 * last.wall / n:.0f}",
            f"{max(r.maxrss_mb for r in changes):.0f}",
            f"{1024 * (max(r.maxrss_mb for r in changes) - last.baseline_rss_mb) / n:.2f}",
            f"{max(r.plan_cpu for r in changes):.2f}", f"{1e6 * max(r.plan_cpu for r in changes) / n:.1f}",
            f"{max(r.ratio for r in changes):.2f}",
        ])
    _print_table(table)


# ---------------------------------------------------------------------------------------------
# benchmark 2: initial import into a real WordPress


@dataclass
class ImportRow:
    concurrency: int
    users: int
    raw_seconds: float
    syncd_seconds: float
    syncd_created: int
    syncd_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str = ""
    syncd_cpu: float = 0.0
    load: str = ""  # the 1-minute load average before the raw run, before and after syncd's

    @property
    def raw_rate(self) -> float:
        return self.users / self.raw_seconds

    @property
    def syncd_rate(self) -> float:
        return self.syncd_created / self.syncd_seconds if self.syncd_seconds else 0.0

    @property
    def share(self) -> float:
        return self.syncd_rate / self.raw_rate


def raw_creates(site: Any, prefix: str, count: int, concurrency: int) -> float:
    """Seconds to create ``count`` users with raw REST POSTs on ``concurrency`` threads: the body
    syncd sends (username, email, names, display name, nickname, role, password, company meta)."""
    import httpx

    def one(client: httpx.Client, i: int) -> None:
        f = user_fields(i, prefix)
        display = f"{f['first_name']} {f['last_name']}"
        body: dict[str, Any] = {"username": f["email"], "email": f["email"], "first_name": f["first_name"],
                "last_name": f["last_name"], "name": display, "nickname": display, "roles": ["subscriber"],
                "password": secrets.token_urlsafe(24)}
        if f["company"]:
            body["meta"] = {"billing_company": f["company"]}
        r = client.post(site.rest_url("/users"), json=body)
        if r.status_code != 201:
            raise RuntimeError(f"raw create {i}: HTTP {r.status_code} {r.text[:200]}")

    with httpx.Client(auth=site.auth, timeout=60) as client, ThreadPoolExecutor(max_workers=concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: one(client, i), range(1, count + 1)))
        return time.perf_counter() - started


def import_benchmark(users: int, concurrencies: Sequence[int], knobs: Knobs, work: Path,
                     say: Callable[[str], None]) -> list[ImportRow]:
    from tests.fixtures_wordpress import start_wordpress, stop_wordpress

    rows: list[ImportRow] = []
    started = time.perf_counter()
    site = start_wordpress()
    say(f"WordPress up at {site.url} in {time.perf_counter() - started:.1f} s")
    try:
        for c in concurrencies:
            site.reset()
            load = [os.getloadavg()[0]]
            raw = raw_creates(site, f"raw{c}-", users, c)
            say(f"  raw REST creates at concurrency {c}: {users / raw:.1f} users/s")
            site.reset()
            load.append(os.getloadavg()[0])
            with emulators(users, wp=False) as host:
                state = work / f"import-{c}.db"
                run_knobs = Knobs(knobs.whmcs_page_size, knobs.wp_page_size, c)
                config = config_for(host.whmcs_url, site.url, site.admin_user, site.app_password,
                                    f"sqlite:///{state}", run_knobs, direction="whmcs_to_wp")
                out = run_syncd(config, work / f"import-{c}.log")
            load.append(os.getloadavg()[0])
            created = int(out.get("counts", {}).get("create", 0))
            row = ImportRow(c, users, raw, out.get("wall", 0.0), created, out.get("calls", {}), out.get("error", ""),
                            out.get("cpu", 0.0), "/".join(f"{x:.1f}" for x in load))
            rows.append(row)
            say(f"  syncd import at concurrency {c}: {created} created, {row.syncd_rate:.1f} users/s "
                f"({row.share:.2f} × raw) {row.error}")
    finally:
        stop_wordpress(site)
    return rows


def print_import(rows: Sequence[ImportRow]) -> None:
    print("\nInitial import into a real WordPress (WHMCS emulator → syncd → WordPress REST; raw = httpx POST /users)")
    head = ["concurrency", "users", "raw s", "raw users/s", "syncd s", "syncd users/s", "syncd ÷ raw", "target ≥ 0.80",
            "syncd CPU ms/user", "load avg", "syncd calls"]
    table = [head]
    for r in rows:
        table.append([str(r.concurrency), str(r.users), f"{r.raw_seconds:.1f}", f"{r.raw_rate:.1f}",
                      f"{r.syncd_seconds:.1f}", f"{r.syncd_rate:.1f}", f"{r.share:.2f}",
                      "met" if r.share >= 0.8 else "not met", f"{1000 * r.syncd_cpu / max(1, r.syncd_created):.1f}",
                      r.load,
                      _calls_text(r.syncd_calls) + (f"  ERROR {r.error}" if r.error else "")])
    _print_table(table)


# ---------------------------------------------------------------------------------------------


def _print_table(table: Sequence[Sequence[str]]) -> None:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0], epilog="See BENCHMARKS.md for the figures.")
    parser.add_argument("--sizes", type=_ints, default=[1000, 10_000, 100_000],
                        help="users per side (1000,10000,100000)")
    parser.add_argument("--latency", type=_floats, default=[0.0, 20.0], help="injected latency per call, ms (0,20)")
    parser.add_argument("--concurrency", type=int, default=2, help="page fetches in flight per side (2, the default)")
    parser.add_argument("--whmcs-page-size", type=int, default=250,
                        help="GetClients/GetUsers limitnum (250, the default)")
    parser.add_argument("--wp-page-size", type=int, default=100, help="WordPress per_page (100, its maximum)")
    parser.add_argument("--no-emulators", action="store_true", help="skip the no-change runs")
    parser.add_argument("--no-wordpress", action="store_true", help="skip the import into a real WordPress")
    parser.add_argument("--import-users", type=int, default=1000, help="users imported into WordPress (1000)")
    parser.add_argument("--import-concurrency", type=_ints, default=[1, 2], help="import concurrencies (1,2)")
    parser.add_argument("--million", action="store_true",
                        help="add 1,000,000 users per side to --sizes (minutes, and ~10 GB of RAM for the emulators)")
    parser.add_argument("--bulk-initial-link-above", type=int, default=0, metavar="N",
                        help="above N users, the initial link's links are stored in one bulk insert by the "
                             "benchmark instead of syncd's own batches (0, the default: never; syncd itself "
                             "commits first contacts in batches since issue 15)")
    parser.add_argument("--preset", default="", choices=("", "woocommerce"),
                        help="map the WooCommerce billing fields (both sides seeded with the same addresses)")
    parser.add_argument("--full-pass-up-to", type=int, default=1000, metavar="N",
                        help="with --preset, also measure a full pass (every client's GetClientsDetails) at sizes "
                             "up to N (1000)")
    parser.add_argument("--json", type=Path, default=None, help="also write every row as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (state databases, run logs)")
    args = parser.parse_args(argv)
    knobs = Knobs(args.whmcs_page_size, args.wp_page_size, args.concurrency, args.preset)
    if args.million and 1_000_000 not in args.sizes:
        args.sizes = [*args.sizes, 1_000_000]

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
    say(f"{_now_iso()}: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"commit {_version()}, load average {os.getloadavg()[0]:.1f}, work directory {work}")
    started = time.perf_counter()
    no_change: list[NoChangeRow] = []
    imports: list[ImportRow] = []
    try:
        if not args.no_emulators:
            no_change = no_change_benchmark(args.sizes, args.latency, knobs, work, say,
                                            args.bulk_initial_link_above, args.full_pass_up_to)
        if not args.no_wordpress:
            imports = import_benchmark(args.import_users, args.import_concurrency, knobs, work, say)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"syncd benchmarks, {_now_iso()}, {os.cpu_count()} CPUs, commit {_version()}, total "
          f"{time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f} at the end")
    if no_change:
        print_no_change(no_change, knobs)
        print_growth(no_change)
    if imports:
        print_import(imports)
    if args.json:
        data = {"date": _now_iso(), "cpus": os.cpu_count(), "knobs": asdict(knobs),
                "no_change": [asdict(r) | {"ratio": r.ratio, "calls_agree": r.calls_agree} for r in no_change],
                "imports": [asdict(r) | {"raw_rate": r.raw_rate, "syncd_rate": r.syncd_rate, "share": r.share}
                            for r in imports]}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
