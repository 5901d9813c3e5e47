"""Event latency with the real parts (issue 13): an edit on one side, on the other side — p50, p95.

Not a test: a script that prints one table. It brings up a real WordPress (scripts/wp-site) with the
companion in mu-plugins and SYNCD_INTAKE_URL / SYNCD_INTAKE_SECRET in wp-config.php, serves the WHMCS
emulator from this process, links N users with a first ``syncd sync``, then starts ``syncd run`` as a
process (``interval_seconds = 3600``, no full resync: no poll can carry anything) and, one edit at a
time so that each is measured alone:

- WordPress → WHMCS: a last name changed through WordPress's REST API (the companion reports it);
  latency = from the moment the REST request is sent until the WHMCS emulator holds the new value
  (checked every 10 ms in this process);
- WHMCS → WordPress: a first name changed in the emulator, then the WHMCS hook file run by the PHP
  CLI in the stand-in for WHMCS with ClientEdit's variables (tests/companions/whmcs_harness.php);
  latency = from the start of that PHP run until WordPress's REST API shows the new value (checked
  every 50 ms).

    python -m benchmarks.events_live          # N = 200 per direction
    python -m benchmarks.events_live 50

Target (DESIGN §10): p95 < 5 s. Everything shares the machine's 2 cores: the figures are an upper bound.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from syncd.emulators.whmcs import WhmcsEmulator
from tests.companions.live import free_port
from tests.companions.test_whmcs_hooks import client_edit, configured, run_hooks
from tests.fixtures_wordpress import start_wordpress, stop_wordpress

SECRET = "benchmark-live-intake-secret-5d1e"
WHMCS_SECRET = "benchmark-whmcs-secret"



def _until(predicate: Callable[[], bool], every: float, what: str, timeout: float = 60) -> float:
    """Waits for ``predicate``; returns the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def _figures(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (f"{name}: {len(samples)} edits, p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, "
            f"max {ordered[-1]:.2f} s")


def main(n: int) -> None:
    php = shutil.which("php")
    if php is None:
        raise SystemExit("php is not installed: run ./scripts/wp-site deps (or ./scripts/test) first")
    port = free_port()
    intake = f"http://127.0.0.1:{port}"
    site = start_wordpress(user_meta=False, defines={"SYNCD_INTAKE_URL": intake, "SYNCD_INTAKE_SECRET": SECRET})
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    try:
        mu = site.dir / "wp" / "wp-content" / "mu-plugins"
        subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)], check=True,
                       capture_output=True)
        for i in range(n):
            whmcs.add_client(f"live{i}@example.com", f"First{i}", f"Last{i}")
        with tempfile.TemporaryDirectory() as tmp_dir, whmcs.serve() as whmcs_url, \
                httpx.Client(auth=site.auth, timeout=30) as rest:
            tmp = Path(tmp_dir)
            config = tmp / "syncd.toml"
            config.write_text(
                f'[whmcs]\nurl = "{whmcs_url}"\nidentifier = "syncd"\nsecret = "{WHMCS_SECRET}"\n'
                f'[wordpress]\nurl = "{site.url}"\nusername = "{site.admin_user}"\n'
                f'application_password = "{site.app_password}"\n'
                f'[sync]\nstate_url = "sqlite:///{tmp / "state.db"}"\ninterval_seconds = 3600\n'
                f'full_resync_cron = ""\n[log]\nlevel = "WARNING"\n'
                f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n', encoding="utf-8")
            first = subprocess.run([sys.executable, "-m", "syncd", "--config", str(config), "sync"],
                                   capture_output=True, text=True)
            if first.returncode != 0:
                raise SystemExit(f"the first sync failed: {first.stderr}")
            wp_ids: dict[str, int] = {}
            page = 1
            while True:
                got = rest.get(site.rest_url("/users"), params={"context": "edit", "per_page": 100, "page": page})
                got.raise_for_status()
                wp_ids.update({u["email"]: u["id"] for u in got.json()})
                if page >= int(got.headers.get("X-WP-TotalPages", "1")):
                    break
                page += 1
            daemon = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(config), "run"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(5)  # the daemon's first (no-change) run at start
                to_whmcs: list[float] = []
                for i in range(n):
                    email = f"live{i}@example.com"
                    client_id = whmcs.client_by_email(email)
                    assert client_id is not None
                    client = whmcs.clients[client_id]
                    value = f"Edited{i}"
                    started = time.monotonic()
                    rest.post(site.rest_url(f"/users/{wp_ids[email]}"), json={"last_name": value}).raise_for_status()
                    seen = _until(lambda c=client, v=value: c.lastname == v, 0.01, f"{email} in WHMCS")
                    to_whmcs.append(seen - started)
                time.sleep(3)  # the echoes (syncd's own writes reported back) settle
                to_wp: list[float] = []
                for i in range(n):
                    email = f"live{i}@example.com"
                    client_id = whmcs.client_by_email(email)
                    assert client_id is not None
                    value = f"Hooked{i}"
                    whmcs.clients[client_id].firstname = value
                    started = time.monotonic()
                    ran = run_hooks(php, tmp, [("ClientEdit", client_edit(userid=client_id, email=email))],
                                    define=configured(intake, SECRET))
                    if ran.activity:
                        raise SystemExit(f"the hook file logged: {ran.activity}")
                    uid = wp_ids[email]

                    def shown(uid: int = uid, value: str = value) -> bool:
                        got = rest.get(site.rest_url(f"/users/{uid}"), params={"context": "edit"})
                        return bool(got.json().get("first_name") == value)

                    to_wp.append(_until(shown, 0.05, f"{email} in WordPress") - started)
            finally:
                daemon.terminate()
                daemon.wait(60)
    finally:
        stop_wordpress(site)
    print(_figures("WordPress edit (REST) -> WHMCS emulator", to_whmcs))
    print(_figures("WHMCS edit (hook file, PHP CLI) -> real WordPress", to_wp))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
