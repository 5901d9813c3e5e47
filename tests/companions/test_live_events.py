"""Issue 13's "done when", with nothing standing in but WHMCS itself: ``syncd run`` as a process with
the intake on and ``interval_seconds = 3600``; the real WordPress with the companion installed as the
README says and SYNCD_INTAKE_URL / SYNCD_INTAKE_SECRET in its wp-config.php; the WHMCS hook file run by
the PHP CLI in the stand-in for WHMCS (``whmcs_harness.php``) with ClientEdit's documented variables.

An edit on either side reaches the other within seconds — long before any poll — carried only by the
companions' own signed requests to syncd's own intake; syncd's write coming back as an event (each
write to WordPress fires profile_update) settles without a further write."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.companions.live import WAIT, companion_site, daemon, wait_for
from tests.companions.test_whmcs_hooks import client_edit, configured, quiet, run_hooks
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "live-intake-secret-4b8e1f0c92"


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, port: int) -> WordPressSite:  # noqa: F811
    return companion_site(fresh_wordpress_site, port, SECRET)


def test_edits_on_either_side_reach_the_other_through_the_companions(sides: Sides, port: int,
                                                                     tmp_path: Path) -> None:
    php = shutil.which("php")
    assert php is not None, "php is not installed: ./scripts/test installs it"
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    ben_wp = sides.wp_add("ben", "ben@example.com", "Ben", "Baker")
    config = sides.write_config(interval_seconds=3600, full_resync_cron="")
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n')
    err_path = sides.tmp / "daemon.stderr"
    with daemon(config, err_path) as run:
        wait_for(lambda: "ann@example.com" in sides.wp_users()
                 and sides.whmcs.client_by_email("ben@example.com") is not None
                 and "last sync ok" in run.text(), "the first run")
        whmcs_writes = sides.whmcs_writes()

        # WordPress → WHMCS: an edit through REST; only the companion tells syncd about it.
        sides.wp_update(ben_wp, last_name="Baker-Jones")
        wait_for(lambda: sides.client("ben@example.com").lastname == "Baker-Jones", "Ben's edit to reach WHMCS")
        assert sides.whmcs_writes() > whmcs_writes

        # WHMCS → WordPress: an edit in WHMCS, announced by the hook file as WHMCS runs it.
        ann_id = sides.whmcs.client_by_email("ann@example.com")
        assert ann_id is not None
        sides.whmcs.clients[ann_id].firstname = "Annie"
        ran = run_hooks(php, tmp_path, [("ClientEdit", client_edit(userid=ann_id, email="ann@example.com"))],
                        define=configured(f"http://127.0.0.1:{port}", SECRET))
        quiet(ran)
        assert ran.activity == [], ran.activity  # sent and accepted: nothing for WHMCS's Activity Log
        wait_for(lambda: sides.wp_users()["ann@example.com"]["first_name"] == "Annie", "Ann's edit to reach WordPress")

        # syncd's write to WordPress came back as the companion's event: it settles, writing nothing more.
        settled_wp, settled_whmcs = sides.wp_state(), sides.whmcs_writes()
        time.sleep(3)
        assert (sides.wp_state(), sides.whmcs_writes()) == (settled_wp, settled_whmcs)

        status = subprocess.run([sys.executable, "-m", "syncd", "--config", str(config), "status", "--json"],
                                capture_output=True, text=True, timeout=120)
        assert status.returncode in (0, 1), status.stderr
        assert '"intake"' in status.stdout
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0
    run.assert_clean_log(SECRET, WHMCS_SECRET, sides.site.app_password)
    with httpx.Client(timeout=30) as http:  # the site's own pages still work with the companion on
        assert http.get(sides.site.url + "/").status_code == 200
