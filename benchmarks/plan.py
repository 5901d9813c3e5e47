"""Micro-benchmark of the planner (DESIGN §8): CPU time of ``plan()`` and peak RSS, at 1k, 10k
and 100k users per side. Not a test: it prints a table.

    python benchmarks/plan.py            # 1k, 10k, 100k
    python benchmarks/plan.py 100000     # one size

Each size runs in a fresh process, so its peak RSS is its own (snapshots in memory
included: the records a run holds anyway). Scenarios: "no change" (every user linked, equal
on both sides: the daemon's usual run), "1% changed" (one field edited on one side for 1%
of the users), "1% swapped" (1% of the users swapped their emails in WHMCS, two by two: each
swap parks one WordPress user on its temporary address), and "first run" (no links yet: every
user meets its partner by key).
"""

from __future__ import annotations

import gc
import resource
import subprocess
import sys
import time

from syncd.model import DEFAULT_FIELDS, Direction, Link, Record, Side, Snapshot, digest
from syncd.sync.plan import plan
from syncd.sync.policy import Policy

SIZES = (1_000, 10_000, 100_000)
SCENARIOS = ("no change", "1% changed", "1% swapped", "first run")


def _fields(i: int) -> dict[str, str]:
    return {"email": f"user{i}@example.com", "first_name": f"First{i}", "last_name": f"Last{i % 977}",
            "company": f"Company {i % 313}" if i % 3 else ""}


def build(n: int, scenario: str) -> tuple[Snapshot, Snapshot, list[Link]]:
    """Both snapshots and the links as a run holds them: each value a string of its own on each
    side and in each link (as parsed from two listings and a database), and each link with the
    two digests the engine stores."""
    whmcs, wp, links = [], [], []
    names = DEFAULT_FIELDS
    for i in range(n):
        values = _fields(i)
        if scenario == "1% swapped" and i % 200 in (0, 1):
            values = {**values, "email": _fields(i + 1 if i % 200 == 0 else i - 1)["email"]}
        whmcs.append(Record(Side.WHMCS, i + 1, values, status="Active", owner_user_id=i + 1))
        wp_values = _fields(i)
        if scenario == "1% changed" and i % 100 == 0:
            wp_values["first_name"] = f"Changed{i}"
        wp.append(Record(Side.WORDPRESS, 100_000_000 + i, wp_values, roles=("subscriber",)))
        if scenario != "first run":
            agreed = _fields(i)  # what both sides held at the last sync
            # The state store gives each base with its names sorted (its JSON column sorts them).
            links.append(Link(whmcs_id=i + 1, wp_id=100_000_000 + i, base=dict(sorted(_fields(i).items())),
                              owner_user_id=i + 1,
                              digests={"whmcs": digest(agreed, names), "wordpress": digest(agreed, names)}))
    return (Snapshot(Side.WHMCS, tuple(whmcs)), Snapshot(Side.WORDPRESS, tuple(wp)), links)


def measure(n: int, scenario: str) -> str:
    whmcs, wp, links = build(n, scenario)
    policy = Policy(direction=Direction.BOTH, max_deletes=n, max_delete_percent=100)
    gc.freeze()  # as app.sync_once does once the inputs are read: the planner's own cost, not rescans of them
    gc.disable()
    cpu = time.process_time()
    result = plan(whmcs, wp, links, policy)
    cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts().items())) or "nothing to do"
    return f"{n:>8,} | {scenario:<10} | {cpu:7.3f} s | {peak_mb:7.0f} MB | {counts}"


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "--one":
        print(measure(int(argv[1]), argv[2]))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    print(f"{'users':>8} | {'scenario':<10} | {'plan CPU':>9} | {'peak RSS':>10} | plan")
    for n in sizes:
        for scenario in SCENARIOS:
            out = subprocess.run([sys.executable, __file__, "--one", str(n), scenario], check=True,
                                 capture_output=True, text=True)
            print(out.stdout.rstrip())


if __name__ == "__main__":
    main(sys.argv[1:])
