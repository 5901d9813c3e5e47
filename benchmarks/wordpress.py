"""Benchmark of a real WordPress's users REST API (issue 3): listing 10,000 users and creating 500.

Not a test: it prints figures. It brings up its own site with scripts/wp-site, seeds the users from
PHP in one process, then measures with raw httpx and, when ``syncd.adapters.wordpress`` is there,
through ``WordPressAdapter`` (snapshot = a complete listing; create = syncd's create path):

- listing every user with ``context=edit, per_page=100, orderby=id`` at concurrency 1 and 2
  (wall time, pages, ms per page, users/s), checked against ``X-WP-Total``;
- creating users (first/last name, subscriber, whmcs_client_id + billing_company meta) at
  concurrency 1 and 2 (users/s).

Run from the repository root (root, Debian; see BENCHMARKS.md for the figures)::

    python -m benchmarks.wordpress [--users 10000] [--creates 500] [--rounds 3] [--base-dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.fixtures_wordpress import WordPressSite, start_wordpress, stop_wordpress

PER_PAGE = 100


@dataclass
class Row:
    """One measured line of the table: wall seconds per round, and the site's CPU seconds per round."""

    what: str
    via: str
    concurrency: int
    seconds: list[float]
    items: int
    pages: int = 0
    server_cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def cells(self) -> list[str]:
        spread = f"{min(self.seconds):.2f}–{max(self.seconds):.2f}" if len(self.seconds) > 1 else ""
        ms_page = f"{1000 * self.median / self.pages:.1f}" if self.pages else ""
        # Server CPU per page (listings) or per user (writes): unlike wall time, it barely depends
        # on what else the machine is running.
        units = self.pages or self.items
        cpu = f"{1000 * statistics.median(self.server_cpu) / units:.1f}" if self.server_cpu else ""
        return [self.what, self.via, str(self.concurrency), f"{self.median:.2f}", spread, str(self.pages or ""),
                ms_page, f"{self.items / self.median:.1f}", cpu]


def server_cpu_seconds(site: WordPressSite) -> float:
    """CPU (user + system) used so far by the site's php -S processes and mariadbd."""
    total = 0.0
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid == site.mariadb_pid or os.getpgid(proc.pid) == site.php_pid:
                times = proc.cpu_times()
                total += times.user + times.system
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return total


# ---------------------------------------------------------------------------------------------
# raw httpx


def _page(client: httpx.Client, site: WordPressSite, page: int) -> tuple[int, int, int]:
    """(users on the page, X-WP-Total, X-WP-TotalPages) of one page of the edit-context listing."""
    r = client.get(site.rest_url("/users", {"context": "edit", "per_page": PER_PAGE, "page": page,
                                            "orderby": "id", "order": "asc"}))
    r.raise_for_status()
    return len(r.json()), int(r.headers["x-wp-total"]), int(r.headers["x-wp-totalpages"])


def list_all_raw(site: WordPressSite, concurrency: int) -> tuple[int, int]:
    """Read every page (page 1 first for the totals, then the rest on ``concurrency`` threads)."""
    with httpx.Client(auth=site.auth, timeout=60) as client:
        n, total, pages = _page(client, site, 1)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            counts = list(pool.map(lambda p: _page(client, site, p)[0], range(2, pages + 1)))
    read = n + sum(counts)
    if read != total:
        raise RuntimeError(f"listing read {read} users but X-WP-Total says {total}")
    return read, pages


def create_raw(site: WordPressSite, prefix: str, count: int, concurrency: int) -> tuple[int, int]:
    """Create ``count`` users through REST on ``concurrency`` threads; returns (created, 0 pages)."""

    def one(i: int) -> None:
        body = {"username": f"{prefix}{i}", "email": f"{prefix}{i}@example.test",
                "password": secrets.token_urlsafe(18), "first_name": f"First{i}", "last_name": f"Last{i}",
                "name": f"First{i} Last{i}", "roles": ["subscriber"],
                "meta": {"whmcs_client_id": 100000 + i, "billing_company": f"Company {i}"}}
        r = client.post(site.rest_url("/users"), json=body)
        if r.status_code != 201:
            raise RuntimeError(f"create {prefix}{i}: HTTP {r.status_code} {r.text[:200]}")

    with httpx.Client(auth=site.auth, timeout=60) as client, ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(count)))
    return count, 0


# ---------------------------------------------------------------------------------------------
# through syncd's adapter (when it exists)


def _adapter_factory(site: WordPressSite) -> Callable[[int], Any] | None:
    try:
        from pydantic import SecretStr

        from syncd.adapters.wordpress import WordPressAdapter
        from syncd.config import WordPressSettings
    except ImportError:
        return None

    from loguru import logger

    logger.disable("syncd")  # one DEBUG line per created user would drown the table

    def make(concurrency: int) -> Any:
        settings = WordPressSettings(url=site.url, username=site.admin_user, concurrency=concurrency)
        return WordPressAdapter(settings, SecretStr(site.app_password), exclude_roles=["administrator"])

    return make


def list_all_adapter(make: Callable[[int], Any], concurrency: int) -> tuple[int, int]:
    with make(concurrency) as adapter:
        snapshot = adapter.snapshot()
        return len(snapshot.records), int(adapter.calls["list_page"])


def create_adapter(make: Callable[[int], Any], prefix: str, count: int, concurrency: int) -> tuple[int, int]:
    with make(concurrency) as adapter:
        adapter.verify()  # once, outside the timed creates' critical path (it is cached)

        def one(i: int) -> None:
            adapter.create({"email": f"{prefix}{i}@example.test", "first_name": f"First{i}",
                            "last_name": f"Last{i}", "company": f"Company {i}"})

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, range(count)))
    return count, 0


# ---------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def measure(site: WordPressSite, what: str, via: str, concurrency: int, rounds: int,
            fn: Callable[[], tuple[int, int]]) -> Row:
    """Run ``fn() -> (items, pages)`` ``rounds`` times; wall time and server CPU per round."""
    row = Row(what, via, concurrency, [], 0)
    for _ in range(rounds):
        cpu0 = server_cpu_seconds(site)
        secs, (row.items, row.pages) = _timed(fn)
        row.server_cpu.append(server_cpu_seconds(site) - cpu0)
        row.seconds.append(secs)
    row.what = what.format(items=row.items)
    return row


def run(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start", file=sys.stderr)
    up_s, site = _timed(lambda: start_wordpress(Path(args.base_dir) if args.base_dir else None))
    print(f"site up in {up_s:.2f} s at {site.url} ({site.dir})", file=sys.stderr)
    try:
        if args.compare_api:
            secs, _ = _timed(lambda: site.seed(args.compare_api, prefix="apiseed", method="api"))
            rows.append(Row("seed (PHP wp_insert_user loop)", "php", 1, [secs], args.compare_api))
            site.reset()
        secs, _ = _timed(lambda: site.seed(args.users, prefix="seed", method="sql"))
        rows.append(Row("seed (PHP, batched SQL INSERTs)", "php", 1, [secs], args.users))
        make = None if args.no_adapter else _adapter_factory(site)

        for c in (1, 2):
            rows.append(measure(site, "list {items} users", "httpx", c, args.rounds,
                                partial(list_all_raw, site, c)))
        if make is not None:
            for c in (1, 2):
                rows.append(measure(site, "list {items} users (snapshot)", "adapter", c, args.rounds,
                                    partial(list_all_adapter, make, c)))
        for c in (1, 2):
            rows.append(measure(site, "create {items} users", "httpx", c, 1,
                                partial(create_raw, site, f"raw{c}u", args.creates, c)))
        if make is not None:
            for c in (1, 2):
                rows.append(measure(site, "create {items} users", "adapter", c, 1,
                                    partial(create_adapter, make, f"adp{c}u", args.creates, c)))
    finally:
        down_s, _ = _timed(lambda: stop_wordpress(site))
        print(f"site down in {down_s:.2f} s; load average {os.getloadavg()[0]:.2f} at the end", file=sys.stderr)
    return rows


def print_table(rows: list[Row]) -> None:
    head = ["operation", "via", "conc.", "median s", "range s", "pages", "ms/page", "users/s", "srv CPU ms/unit"]
    table = [head, *[r.cells() for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths,
                                                                                                        strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=10_000, help="users to seed before listing")
    parser.add_argument("--creates", type=int, default=500, help="users to create per create run")
    parser.add_argument("--rounds", type=int, default=3, help="listing repetitions (the median is shown)")
    parser.add_argument("--compare-api", type=int, default=200, metavar="N",
                        help="also seed N users with wp_insert_user to compare with SQL seeding (0: skip)")
    parser.add_argument("--base-dir", default=None,
                        help="where the site's directory goes (default: /dev/shm if available, else the temp dir)")
    parser.add_argument("--no-adapter", action="store_true", help="raw httpx only")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    rows = run(args)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"median": r.median} for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
