"""The cost of N events arriving at once at the intake (issue 13): time to drain, calls made, all settled.

Not a test: a script that prints one table. Both emulators are served from this process on
loopback, seeded with N users linked by a first ``syncd sync``; then ``syncd run`` starts as a
process (``interval_seconds = 3600``, no full resync: no poll can help), N WordPress users get a
new last name, and N signed ``changed`` events are sent at once from 8 threads. Measured: the
time to send them (every answer a 202), the time until every change is in WHMCS, the calls each
emulator answered meanwhile, and the intake's event-to-run-end latency (p50, p95) from the
report the daemon writes for ``syncd status``.

    python benchmarks/events.py           # N = 1000
    python benchmarks/events.py 200

The emulators share this process's CPU with the sender: the figures are an upper bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator
from syncd.service.intake import sign

SECRET = "benchmark-intake-secret-0123456789"
WHMCS_SECRET = "benchmark-whmcs-secret"


def _wait(predicate: object, what: str, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main(n: int) -> None:
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    wp = WordPressEmulator(admin_login="admin", admin_email="admin@example.com")
    password = wp.add_app_password("admin")
    for i in range(n):
        whmcs.add_client(f"user{i}@example.com", f"First{i}", f"Last{i}")
    with tempfile.TemporaryDirectory() as tmp_dir, whmcs.serve() as whmcs_url, wp.serve() as wp_url:
        tmp = Path(tmp_dir)
        port = 20000 + os.getpid() % 20000
        config = tmp / "syncd.toml"
        config.write_text(
            f'[whmcs]\nurl = "{whmcs_url}"\nidentifier = "syncd"\nsecret = "{WHMCS_SECRET}"\n'
            f'[wordpress]\nurl = "{wp_url}"\nusername = "admin"\napplication_password = "{password}"\n'
            f'[sync]\nstate_url = "sqlite:///{tmp / "state.db"}"\ninterval_seconds = 3600\nfull_resync_cron = ""\n'
            f'[log]\nlevel = "WARNING"\n[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n')
        first = subprocess.run([sys.executable, "-m", "syncd", "--config", str(config), "sync"],
                               capture_output=True, text=True)
        if first.returncode != 0:
            raise SystemExit(f"the first sync failed: {first.stderr}")
        daemon = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(config), "run"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/v1/events"
            _wait(lambda: _answers(url), "the intake to listen", timeout=60)
            time.sleep(2)  # the daemon's first (no-change) run at start
            by_email = {u.email: u for u in wp.users.values()}
            events = []
            for i in range(n):
                user = by_email[f"user{i}@example.com"]
                user.last_name = f"Changed{i}"
                events.append(json.dumps({"side": "wordpress", "event": "changed", "id": user.id,
                                          "email": user.email}).encode())
            whmcs_calls, wp_calls = sum(whmcs.calls.values()), sum(wp.calls.values())
            started = time.monotonic()
            with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda body: _send(client, url, body), events))
            sent = time.monotonic() - started
            clients = list(whmcs.clients.values())
            _wait(lambda: sum(1 for c in clients if c.lastname.startswith("Changed")) == n, "every change in WHMCS")
            drained = time.monotonic() - started
            whmcs_used, wp_used = sum(whmcs.calls.values()) - whmcs_calls, sum(wp.calls.values()) - wp_calls
            time.sleep(3)  # the report for status is rewritten every 2 s
            report = json.loads((tmp / "intake-stats.json").read_text())
        finally:
            daemon.terminate()
            daemon.wait(60)
    latency = report["latency_seconds"]
    print(f"{n} events at once: {statuses.count(202)} answered 202 in {sent:.1f} s; all settled in WHMCS after "
          f"{drained:.1f} s ({n / drained:.1f} events/s); calls: WHMCS {whmcs_used} ({whmcs_used / n:.1f}/event), "
          f"WordPress {wp_used} ({wp_used / n:.1f}/event); {report['coalesced']} coalesced, {report['dropped']} "
          f"dropped; event to run end over the last {latency['samples']}: p50 {latency['p50']} s, "
          f"p95 {latency['p95']} s")


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def _send(client: httpx.Client, url: str, body: bytes) -> int:
    stamp = str(int(time.time()))
    headers = {"X-Syncd-Timestamp": stamp, "X-Syncd-Signature": sign(SECRET.encode(), stamp, body)}
    return client.post(url, content=body, headers=headers).status_code


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
