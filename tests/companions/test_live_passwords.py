"""Issue 14, WHMCS → WordPress passwords, with nothing standing in but WHMCS itself: ``syncd run`` as a
process (log level DEBUG, so httpx's request lines are on) with the intake on and ``[passwords] carry =
true``; the real WordPress with the companion installed; the WHMCS hook file run by the PHP CLI in the
stand-in for WHMCS (``whmcs_harness.php``) with the documented variables of ClientChangePassword and
ClientAdd (``tests/companions/test_whmcs_hooks.py`` cites WHMCS's hook reference).

Each password is proven by logging in through WordPress's own login form, ``wp-login.php``: a POST
of ``log``/``pwd`` that sets a ``wordpress_logged_in_`` cookie, then wp-admin's profile page. Refused:
an administrator's and an excluded role's password is never set; with carry turned off (a reload)
a password event changes nothing. Then no password used here is in any log line, the state
database's bytes, the intake's report, ``status --json`` or ``history``."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.service import intake_stats
from tests.companions.live import WAIT, companion_site, daemon, daemon_config, wait_for
from tests.companions.test_whmcs_hooks import (
    client_add,
    client_change_password,
    client_edit,
    configured,
    quiet,
    run_hooks,
)
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "live-password-intake-secret-7d21c"
ANN_PASSWORD = "Ann's new WHMCS pa55 \"quoted\" é"  # WordPress refuses a backslash in a password
CAT_PASSWORD = "Cat-at-signup-Pa55!"
BOSS_PASSWORD = "Boss-must-not-change-Pa55"
EDDIE_PASSWORD = "Eddie-excluded-Pa55"
LATE_PASSWORD = "After-carry-off-Pa55"
ALL_PASSWORDS = (ANN_PASSWORD, CAT_PASSWORD, BOSS_PASSWORD, EDDIE_PASSWORD, LATE_PASSWORD)


def logs_in(site: WordPressSite, login: str, password: str) -> bool:
    """The real login form: wp-login.php with the test cookie WordPress checks, then wp-admin."""
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        browser.cookies.set("wordpress_test_cookie", "WP Cookie check")
        answer = browser.post(site.url + "/wp-login.php", data={
            "log": login, "pwd": password, "wp-submit": "Log In", "redirect_to": site.url + "/wp-admin/profile.php",
            "testcookie": "1"})
        if answer.status_code != 302 or not any(k.startswith("wordpress_logged_in_") for k in browser.cookies):
            return False
        profile = browser.get(site.url + "/wp-admin/profile.php")
        return profile.status_code == 200 and 'id="your-profile"' in profile.text


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, port: int) -> WordPressSite:  # noqa: F811
    return companion_site(fresh_wordpress_site, port, SECRET)


def _write(sides: Sides, port: int, *, carry: bool) -> Path:
    return daemon_config(sides, port, SECRET, carry=carry)


def test_a_whmcs_password_logs_in_to_wordpress_and_is_never_kept(sides: Sides, port: int, tmp_path: Path) -> None:
    php = shutil.which("php")
    assert php is not None, "php is not installed: ./scripts/test installs it"
    intake_url = f"http://127.0.0.1:{port}"

    def hook(*calls: tuple[str, Any]) -> None:
        ran = run_hooks(php, tmp_path, list(calls), define=configured(intake_url, SECRET))
        quiet(ran)
        assert ran.activity == [], ran.activity  # sent and accepted

    ann_id = sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    eddie_id = sides.whmcs.add_client("eddie@example.com", "Eddie", "Editor")
    config = _write(sides, port, carry=True)
    err_path = sides.tmp / "daemon.stderr"
    with daemon(config, err_path) as run:
        wait_for(lambda: {"ann@example.com", "eddie@example.com"} <= set(sides.wp_users())
              and "last sync ok" in run.text(), "the first run")
        users = sides.wp_users()

        # 1. ClientChangePassword → the linked WordPress user logs in with that password, by email and login.
        assert not logs_in(sides.site, "ann@example.com", ANN_PASSWORD)
        hook(("ClientChangePassword", client_change_password(ann_id, ANN_PASSWORD)))
        wait_for(lambda: logs_in(sides.site, "ann@example.com", ANN_PASSWORD),
                 "Ann's WHMCS password to work on WordPress")
        assert logs_in(sides.site, users["ann@example.com"]["username"], ANN_PASSWORD)

        # 2. ClientAdd with a password → the WordPress account syncd creates logs in with it.
        cat_id = sides.whmcs.add_client("cat@example.com", "Cat", "Carter")
        hook(("ClientAdd", {**client_add(cat_id, CAT_PASSWORD), "email": "cat@example.com", "firstname": "Cat",
                            "lastname": "Carter"}))
        wait_for(lambda: logs_in(sides.site, "cat@example.com", CAT_PASSWORD), "Cat's account to log in with it")

        # 3. An excluded role: Eddie, linked as a subscriber, was made an editor ([sync] exclude_wp_roles).
        sides.wp_update(int(users["eddie@example.com"]["id"]), roles=["editor"])
        hook(("ClientChangePassword", client_change_password(eddie_id, EDDIE_PASSWORD)))
        wait_for(lambda: f"password for WHMCS client #{eddie_id}" in run.text(), "Eddie's password refused")
        assert "it has the excluded role editor" in run.text()
        assert not logs_in(sides.site, "eddie@example.com", EDDIE_PASSWORD)

        # 4. An administrator: a WHMCS client with the admin's email is never linked, its password never set.
        admin = next(u for u in sides.wp_users().values() if "administrator" in u["roles"])
        boss_id = sides.whmcs.add_client(admin["email"], "Boss", "Admin")
        hook(("ClientChangePassword", client_change_password(boss_id, BOSS_PASSWORD)))
        wait_for(lambda: f"password for WHMCS client #{boss_id}" in run.text(), "the admin's refused")
        assert not logs_in(sides.site, admin["username"], BOSS_PASSWORD)
        assert logs_in(sides.site, "ann@example.com", ANN_PASSWORD)  # nothing else was touched

        # 5. carry turned off (a reload): the password event is a plain change; the password is not set.
        _write(sides, port, carry=False)
        run.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in run.text(), "the reload")
        sides.whmcs.clients[ann_id].firstname = "Annie"
        hook(("ClientEdit", client_edit(userid=ann_id, email="ann@example.com")),
             ("ClientChangePassword", client_change_password(ann_id, LATE_PASSWORD)))
        wait_for(lambda: sides.wp_users()["ann@example.com"]["first_name"] == "Annie", "Ann's event run")
        assert "[passwords] carry is off" in run.text()
        assert not logs_in(sides.site, "ann@example.com", LATE_PASSWORD)
        assert logs_in(sides.site, "ann@example.com", ANN_PASSWORD)

        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0

    # 6. No password used here anywhere syncd writes or shows.
    text = err_path.read_text()
    assert "Traceback" not in text
    assert "HTTP Request: POST" in text  # httpx's DEBUG lines were on
    assert "set the password of WordPress user" in text
    files = [p for p in sides.tmp.iterdir() if p.name.startswith(sides.state_db.name)]
    report = intake_stats.path_for(f"sqlite:///{sides.state_db}")
    assert report is not None and report.exists()
    files.append(report)
    status = sides.syncd("status", "--json")
    history = [sides.syncd("history", email) for email in ("ann@example.com", "cat@example.com")]
    assert status.code in (0, 1) and all(h.code == 0 for h in history), status.stderr
    shown = [text, status.stdout, status.stderr] + [h.stdout + h.stderr for h in history]
    for password in ALL_PASSWORDS:
        for encoded in {password, password.encode("unicode_escape").decode(), httpx.QueryParams(p=password)["p"]}:
            assert all(encoded not in s for s in shown), password
        raw = password.encode("utf-8")
        for path in files:
            assert raw not in path.read_bytes(), (password, path.name)
    for needle in (SECRET, WHMCS_SECRET, sides.site.app_password):
        assert needle not in text
