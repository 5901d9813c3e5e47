"""Issue 14, the login fallback, with nothing standing in but WHMCS itself: ``syncd run`` as a process
(log level DEBUG) with the intake on and ``[passwords] carry = true``; the real WordPress with the
companion installed and ``SYNCD_LOGIN_FALLBACK`` in its wp-config.php; people typing into
WordPress's own login form, ``wp-login.php``.

A linked WHMCS client logs in with the WHMCS password, then again with syncd stopped (the WordPress
password was set); a WHMCS client without a WordPress account logs in with its email (the account is
created first). A wrong password, an unknown email, an administrator, an excluded role and the 6th
try within the limit all get WordPress's own error page — the same text as with the fallback off —
and change nothing. With carry off, or without SYNCD_LOGIN_FALLBACK, nothing happens. Then no
password used here is in any log line, the state database's bytes, the intake's report,
``status --json`` or ``history``.

Each "browser" connects from its own loopback address (127.0.0.x), which is the address both limits
count (the companion's own per address, and syncd's per address and per login)."""

from __future__ import annotations

import html
import json
import re
import signal
from pathlib import Path

import httpx
import pytest

from syncd.service import intake_stats
from tests.companions.live import WAIT, Daemon, companion_site, daemon, daemon_config, wait_for
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "live-login-intake-secret-93fa0"
ANN_PASSWORD = "Ann's WHMCS pa55 \"quoted\" é"
NEW_PASSWORD = "Newbie-WHMCS-Pa55!"
EDDIE_PASSWORD = "Eddie-excluded-WHMCS-Pa55"
BOSS_PASSWORD = "Boss-WHMCS-Pa55-never"
FLO_PASSWORD = "Flo-limited-WHMCS-Pa55"
LATE_PASSWORD = "Late-WHMCS-Pa55-unused"
WRONG = "Not-the-right-Pa55"
ALL_PASSWORDS = (ANN_PASSWORD, NEW_PASSWORD, EDDIE_PASSWORD, BOSS_PASSWORD, FLO_PASSWORD, LATE_PASSWORD, WRONG)

_ERROR = re.compile(r'<div id="login_error"[^>]*>(.*?)</div>', re.S)


class Browser:
    """One browser at one loopback address, using wp-login.php as a person does."""

    def __init__(self, site: WordPressSite, address: str) -> None:
        self.site = site
        self.address = address

    def login(self, login: str, password: str) -> tuple[bool, str]:
        """(logged in, the error text the page shows, "" if none)."""
        transport = httpx.HTTPTransport(local_address=self.address)
        with httpx.Client(timeout=60, follow_redirects=False, transport=transport) as browser:
            browser.cookies.set("wordpress_test_cookie", "WP Cookie check")
            answer = browser.post(self.site.url + "/wp-login.php", data={
                "log": login, "pwd": password, "wp-submit": "Log In",
                "redirect_to": self.site.url + "/wp-admin/profile.php", "testcookie": "1"})
            if answer.status_code == 302 and any(k.startswith("wordpress_logged_in_") for k in browser.cookies):
                profile = browser.get(self.site.url + "/wp-admin/profile.php")
                return profile.status_code == 200 and 'id="your-profile"' in profile.text, ""
            found = _ERROR.search(answer.text)
            return False, html.unescape(re.sub(r"\s+", " ", found.group(1))).strip() if found else answer.text[:200]


#: A mu-plugin of the test's own: what the password events' capture would see (the contract between the
#: two companion classes) — the user, and its password hash at that moment (before it is set).
RECORDER = """<?php
add_action('syncd_companion_fallback_password', function ($id) {
    $user = get_userdata((int) $id);
    $seen = get_option('syncd_test_fallback_seen', []);
    $seen[] = ['id' => (int) $id, 'hash' => $user instanceof WP_User ? $user->user_pass : ''];
    update_option('syncd_test_fallback_seen', $seen, false);
});
// What the site serves for SYNCD_LOGIN_FALLBACK: a wp-config.php edit shows only once PHP's opcache
// re-checks the file (every 2 s), so a test that edits it waits for this to answer the new value.
if (isset($_GET['syncd_test_fallback'])) {
    add_action('init', function () {
        header('Content-Type: text/plain');
        echo defined('SYNCD_LOGIN_FALLBACK') && SYNCD_LOGIN_FALLBACK === true ? 'on' : 'off';
        exit;
    });
}
"""


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, port: int) -> WordPressSite:  # noqa: F811
    wp = companion_site(fresh_wordpress_site, port, SECRET, SYNCD_LOGIN_FALLBACK=True)
    (wp.dir / "wp" / "wp-content" / "mu-plugins" / "zz-test-recorder.php").write_text(RECORDER, encoding="utf-8")
    return wp


def _write(sides: Sides, port: int, *, carry: bool) -> Path:
    return daemon_config(sides, port, SECRET, carry=carry)


def _fallback(site: WordPressSite, on: bool) -> None:
    config = site.dir / "wp" / "wp-config.php"
    text = config.read_text(encoding="utf-8")
    new = text.replace(f"'SYNCD_LOGIN_FALLBACK', {'false' if on else 'true'})",
                       f"'SYNCD_LOGIN_FALLBACK', {'true' if on else 'false'})")
    assert new != text, "SYNCD_LOGIN_FALLBACK is not in wp-config.php as expected"
    config.write_text(new, encoding="utf-8")
    want = "on" if on else "off"
    with httpx.Client(timeout=30) as http:
        wait_for(lambda: http.get(site.url + "/", params={"syncd_test_fallback": "1"}).text == want,
                 f"the site to serve SYNCD_LOGIN_FALLBACK {want}")


def _hashes(site: WordPressSite) -> dict[int, str]:
    """Every user's password hash, to prove a refusal changed nothing."""
    out = site.php("foreach (get_users(['fields' => ['ID', 'user_pass']]) as $u) echo $u->ID, ' ', "
                   "$u->user_pass, \"\\n\";")
    return {int(line.split()[0]): line.split()[1] for line in out.splitlines() if line.strip()}


def _wait_ready(sides: Sides, run: Daemon, *emails: str) -> dict[str, dict[str, object]]:
    wait_for(lambda: set(emails) <= set(sides.wp_users()) and "last sync ok" in run.text(), "the first run")
    return sides.wp_users()


def test_the_whmcs_password_logs_in_to_wordpress_and_refusals_look_like_wordpress(
        sides: Sides, port: int, site: WordPressSite) -> None:
    whmcs = sides.whmcs
    whmcs.add_client("ann@example.com", "Ann", "Archer", password=ANN_PASSWORD)
    whmcs.add_client("eddie@example.com", "Eddie", "Editor", password=EDDIE_PASSWORD)
    whmcs.add_client("flo@example.com", "Flo", "Limit", password=FLO_PASSWORD)
    whmcs.add_client("late@example.com", "Late", "Comer", password=LATE_PASSWORD)
    err_path = sides.tmp / "daemon.stderr"
    failures: dict[str, tuple[str, str, str]] = {}  # case → (login, password, error text with the fallback on)
    with daemon(_write(sides, port, carry=True), err_path) as run:
        users = _wait_ready(sides, run, "ann@example.com", "eddie@example.com", "flo@example.com")
        ann = users["ann@example.com"]

        # 1. A linked client, by email: WordPress's own check fails, WHMCS's password lets Ann in.
        ann_hash = _hashes(site)[int(ann["id"])]
        assert Browser(site, "127.0.0.2").login("ann@example.com", ANN_PASSWORD) == (True, "")
        assert f"WordPress user #{ann['id']} may log in" in run.text()
        # The password events' capture was told first, while the old password was still in place.
        seen = json.loads(site.php("echo json_encode(get_option('syncd_test_fallback_seen', []));"))
        assert seen == [{"id": ann["id"], "hash": ann_hash}] and _hashes(site)[int(ann["id"])] != ann_hash
        # ... and by username, now with no help needed (the WordPress password is set).
        assert Browser(site, "127.0.0.3").login(str(ann["username"]), ANN_PASSWORD) == (True, "")

        # 2. A WHMCS client with no WordPress account: created by the one-user run, then logged in.
        whmcs.add_client("newbie@example.com", "New", "Bie", password=NEW_PASSWORD)
        assert "newbie@example.com" not in sides.wp_users()
        assert Browser(site, "127.0.0.4").login("newbie@example.com", NEW_PASSWORD) == (True, "")
        assert "newbie@example.com" in sides.wp_users()
        assert "create WordPress user newbie@example.com from WHMCS client" in run.text()

        # 3. Refusals: each looks exactly as WordPress's own (compared below with the fallback off).
        sides.wp_update(int(users["eddie@example.com"]["id"]), roles=["editor"])  # [sync] exclude_wp_roles
        admin = next(u for u in users.values() if "administrator" in u["roles"])
        whmcs.add_client(str(admin["email"]), "Boss", "Admin", password=BOSS_PASSWORD)
        before = _hashes(site)
        cases = {"wrong password": ("ann@example.com", WRONG), "unknown email": ("nobody@example.com", WRONG),
                 "admin by username": (str(admin["username"]), BOSS_PASSWORD),
                 "admin by email": (str(admin["email"]), BOSS_PASSWORD),
                 "excluded role": ("eddie@example.com", EDDIE_PASSWORD)}
        for n, (case, (login, password)) in enumerate(cases.items()):
            ok, error = Browser(site, f"127.0.0.{10 + n}").login(login, password)
            assert not ok and error, case
            failures[case] = (login, password, error)
        text = run.text()
        assert "refused 'nobody@example.com': WHMCS does not accept" in text
        assert "refused 'eddie@example.com'" in text and "excluded role editor" in text
        assert f"refused '{admin['username']}'" in text

        # 4. The limit: five wrong tries from one address, then the right password is refused too —
        # from the same address (the companion's own limit: syncd is not even asked) and from another
        # one (syncd's limit per login: WHMCS is not asked).
        flo = Browser(site, "127.0.0.30")
        for _ in range(5):
            assert not flo.login("flo@example.com", WRONG)[0]
        asked = run.text().count("refused 'flo@example.com'")
        assert asked == 5
        ok, error = flo.login("flo@example.com", FLO_PASSWORD)
        assert not ok
        failures["6th try, same address"] = ("flo@example.com", FLO_PASSWORD, error)
        ok, error = Browser(site, "127.0.0.31").login("flo@example.com", FLO_PASSWORD)
        assert not ok
        failures["6th try, other address"] = ("flo@example.com", FLO_PASSWORD, error)
        wait_for(lambda: "the login 'flo@example.com' had 5 failed tries" in run.text(), "syncd's limit")
        assert run.text().count("refused 'flo@example.com'") == asked + 1  # the 7th only: the 6th never left
        assert _hashes(site) == before  # no refusal changed a password

        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0

    # 5. syncd stopped: Ann's WordPress password is the WHMCS one now; the others are not.
    assert Browser(site, "127.0.0.40").login("ann@example.com", ANN_PASSWORD) == (True, "")
    assert Browser(site, "127.0.0.41").login("newbie@example.com", NEW_PASSWORD) == (True, "")
    assert not Browser(site, "127.0.0.42").login("late@example.com", LATE_PASSWORD)[0]  # nothing to ask

    # 6. carry off: syncd refuses every login check, and says so once.
    late_log = sides.tmp / "daemon-carry-off.stderr"
    with daemon(_write(sides, port, carry=False), late_log) as run:
        wait_for(lambda: "last sync ok" in run.text(), "the first run")
        assert not Browser(site, "127.0.0.43").login("late@example.com", LATE_PASSWORD)[0]
        wait_for(lambda: "carry is off" in run.text(), "the carry-off line")
        assert "may log in" not in run.text()
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0

    # 7. Without SYNCD_LOGIN_FALLBACK: the companion asks nothing; WordPress's errors are its own.
    off_log = sides.tmp / "daemon-fallback-off.stderr"
    _fallback(site, on=False)
    try:
        with daemon(_write(sides, port, carry=True), off_log) as run:
            wait_for(lambda: "last sync ok" in run.text(), "the first run")
            assert not Browser(site, "127.0.0.50").login("late@example.com", LATE_PASSWORD)[0]
            for n, (case, (login, password, error)) in enumerate(failures.items()):
                assert Browser(site, f"127.0.0.{60 + n}").login(login, password) == (False, error), case
            assert "login fallback" not in run.text() and "/v1/verify" not in run.text()
            run.proc.send_signal(signal.SIGTERM)
            assert run.proc.wait(timeout=WAIT) == 0
    finally:
        _fallback(site, on=True)

    # 8. No password used here anywhere syncd writes or shows, nor in WordPress's debug log.
    texts = [p.read_text(encoding="utf-8") for p in (err_path, late_log, off_log)]
    assert all("Traceback" not in t for t in texts)
    assert "HTTP Request: POST" in texts[0]  # httpx's DEBUG lines were on
    files = [p for p in sides.tmp.iterdir() if p.name.startswith(sides.state_db.name)]
    report = intake_stats.path_for(f"sqlite:///{sides.state_db}")
    assert report is not None and report.exists()
    files.append(report)
    status = sides.syncd("status", "--json")
    history = [sides.syncd("history", email) for email in ("ann@example.com", "newbie@example.com")]
    assert status.code in (0, 1) and all(h.code == 0 for h in history), status.stderr
    debug_log = site.dir / "logs" / "debug.log"
    wp_debug = debug_log.read_text(encoding="utf-8", errors="replace") if debug_log.exists() else ""
    assert "syncd-companion.php" not in wp_debug, wp_debug[-2000:]  # no PHP notice, warning or error
    shown = [*texts, status.stdout, status.stderr, wp_debug] + [h.stdout + h.stderr for h in history]
    for password in ALL_PASSWORDS:
        for encoded in {password, password.encode("unicode_escape").decode(), httpx.QueryParams(p=password)["p"],
                        str(httpx.QueryParams(p=password))[2:], password.replace('"', '\\"')}:
            assert all(encoded not in s for s in shown), password
        raw = password.encode("utf-8")
        for path in files:
            assert raw not in path.read_bytes(), (password, path.name)
    for needle in (SECRET, WHMCS_SECRET, sides.site.app_password):
        assert all(needle not in t for t in texts)


def test_the_filter_passes_everything_else_through_unchanged(site: WordPressSite) -> None:
    """Inside the real WordPress, no syncd running: only https or loopback intakes are asked; a login
    that succeeded, an empty password, another error and a check that got no answer are returned as
    they came (the very same object)."""
    out = site.php(r"""
        $r = ['yes' => [], 'no' => []];
        foreach (['https://sync.example.com', 'HTTPS://sync.example.com:8787/x', 'http://127.0.0.1:8787',
                  'http://localhost:1', 'http://[::1]:8787', 'http://127.9.8.7/'] as $u) {
            $r['yes'][] = Syncd_Companion_Login::private_url($u);
        }
        foreach (['http://sync.example.com', 'http://127.0.0.1.example.com/', 'ftp://127.0.0.1/', '',
                  'http://10.0.0.1:8787', 'not a url', 'http://localhost.example.com'] as $u) {
            $r['no'][] = Syncd_Companion_Login::private_url($u);
        }
        $r['enabled'] = Syncd_Companion_Login::enabled();
        $user = get_user_by('id', 1);
        $r['user'] = Syncd_Companion_Login::authenticate($user, 'admin', 'pw') === $user;
        $r['null'] = Syncd_Companion_Login::authenticate(null, 'admin', 'pw') === null;
        $e = new WP_Error('incorrect_password', 'x');
        $r['empty'] = Syncd_Companion_Login::authenticate($e, 'admin', '') === $e;
        $r['no login'] = Syncd_Companion_Login::authenticate($e, ' ', 'pw') === $e;
        $o = new WP_Error('spammer_account', 'x');
        $r['other'] = Syncd_Companion_Login::authenticate($o, 'admin', 'pw') === $o;
        $r['no answer'] = Syncd_Companion_Login::authenticate($e, 'ann@example.com', 'pw') === $e;
        $r['array'] = Syncd_Companion_Login::authenticate($e, ['x'], 'pw') === $e;
        $tests = apply_filters('site_status_tests', ['direct' => [], 'async' => []]);
        $r['health'] = isset($tests['direct']['syncd_login_fallback'])
            ? call_user_func($tests['direct']['syncd_login_fallback']['test'])['status'] : 'missing';
        echo json_encode($r);
    """)
    result = json.loads(out)
    assert result == {"yes": [True] * 6, "no": [False] * 7, "enabled": True, "user": True, "null": True,
                      "empty": True, "no login": True, "other": True, "no answer": True, "array": True,
                      "health": "good"}
