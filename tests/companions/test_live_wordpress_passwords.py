"""Issue 14 part 2, WordPress → WHMCS passwords, with nothing standing in but WHMCS: ``syncd run`` as
a process (log level DEBUG) with the intake on and ``[passwords] carry = true``; the real WordPress
with the companion installed as the README says; the WHMCS emulator served on loopback.

A password set on WordPress — at a REST create, through wp-admin's user-edit form (logged in through
``wp-login.php``, the nonce taken from the page), through the real reset form of ``wp-login.php``
(``action=rp`` with a key from ``get_password_reset_key``, then ``action=resetpass``), and through
the person's own profile form — is proven by WHMCS's ``ValidateLogin`` over the emulator's API and
``password_matches``. An existing WHMCS user is said once at INFO and, with ``[whmcs]
password_reset_on_wp_change = true``, sent WHMCS's reset email; an administrator's and an excluded
role's password never reach WHMCS; a direction that does not write to WHMCS drops it; with carry off
a new client gets a random password. Then no password used here is in any log line (syncd's at
DEBUG, WordPress's debug.log), the state database's bytes, the intake's report, ``status --json`` or
``history``."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from syncd.adapters.whmcs_wire import api_endpoint
from syncd.service import intake_stats
from tests.companions.live import WAIT, companion_site, daemon, daemon_config, wait_for
from tests.companions.test_wordpress_events import FormFields
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "live-wp-password-intake-secret-5c0e"
ANN_PASSWORD = "Ann's WordPress pa55 \"quoted\" é"
ANN_OWN = "Ann-changed-it-herself-Pa55"
ANN_AGAIN = "Ann-once-more-Pa55"
CAT_OLD = "Cat-editor-Pa55-old"
CAT_PASSWORD = "Cat-from-the-user-edit-form-Pa55"
DAN_OLD = "Dan-before-both-Pa55"
DAN_PASSWORD = "Dan-reset-form-Pa55 <&>"
BOSS_PASSWORD = "Boss-admin-never-Pa55"
EVE_PASSWORD = "Eve-carry-off-Pa55"
ALL_PASSWORDS = (ANN_PASSWORD, ANN_OWN, ANN_AGAIN, CAT_OLD, CAT_PASSWORD, DAN_OLD, DAN_PASSWORD, BOSS_PASSWORD,
                 EVE_PASSWORD)


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, port: int) -> WordPressSite:  # noqa: F811
    return companion_site(fresh_wordpress_site, port, SECRET)


def _write(sides: Sides, port: int, *, carry: bool = True, direction: str = "both", reset: bool = False) -> Path:
    return daemon_config(sides, port, SECRET, carry=carry, direction=direction,
                         whmcs=f"password_reset_on_wp_change = {str(reset).lower()}")


def _create(site: WordPressSite, login: str, password: str, role: str = "subscriber") -> int:
    """A REST create with a password, as an admin's integration makes it (not syncd's User-Agent)."""
    with httpx.Client(auth=site.auth, timeout=30) as http:
        made = http.post(site.rest_url("/users"), json={
            "username": login, "email": f"{login}@example.com", "first_name": login.title(), "last_name": "Test",
            "roles": [role], "password": password})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _validates(sides: Sides, email: str, password: str) -> bool:
    """WHMCS's ValidateLogin through the API, as WHMCS's own login would check it."""
    answer = httpx.post(api_endpoint(sides.whmcs_url), data={
        "action": "ValidateLogin", "identifier": "syncd", "secret": WHMCS_SECRET, "responsetype": "json",
        "email": email, "password2": password}, timeout=30)
    return answer.status_code == 200 and answer.json().get("result") == "success"


def _client_with(sides: Sides, email: str, password: str) -> bool:
    return sides.whmcs.client_by_email(email) is not None and sides.whmcs.password_matches(email, password)


@contextmanager
def _browser(site: WordPressSite, login: str, password: str) -> Iterator[httpx.Client]:
    """A browser logged in through wp-login.php's form."""
    with httpx.Client(base_url=site.url, timeout=30, follow_redirects=False) as browser:
        assert browser.get("/wp-login.php").status_code == 200  # sets WordPress's test cookie
        answer = browser.post("/wp-login.php", data={"log": login, "pwd": password, "wp-submit": "Log In",
                                                     "redirect_to": f"{site.url}/wp-admin/", "testcookie": "1"})
        assert answer.status_code == 302, answer.text[:500]
        yield browser


def _save_form(site: WordPressSite, browser: httpx.Client, page: str, changes: dict[str, str]) -> None:
    """wp-admin's profile (profile.php) or user-edit form, as a browser submits it, with ``changes``."""
    shown = browser.get(page)
    assert shown.status_code == 200, shown.text[:500]
    form = FormFields("your-profile")
    form.feed(shown.text)
    fields = dict(form.fields)
    assert fields["_wpnonce"] and fields["action"] == "update"
    sent = [(k, changes.get(k, v)) for k, v in form.fields if k not in changes] + list(changes.items())
    saved = browser.post(page.split("?")[0], data=dict(sent), headers={"Referer": f"{site.url}{page}"})
    assert saved.status_code == 302 and "updated=1" in saved.headers["location"], saved.text[:800]


def _reset_key(site: WordPressSite, user_id: int) -> str:
    """The key of the link WordPress emails for "Lost your password?" (storing it is a user update)."""
    key = site.php(f"echo get_password_reset_key(get_user_by('id', {user_id}));").strip()
    assert re.fullmatch(r"[A-Za-z0-9]{10,}", key), key
    return key


def _reset_form(site: WordPressSite, login: str, key: str, password: str) -> None:
    """wp-login.php's reset form, reached through the emailed link's key."""
    with httpx.Client(base_url=site.url, timeout=30, follow_redirects=False) as browser:
        link = browser.get("/wp-login.php", params={"action": "rp", "key": key, "login": login})
        assert link.status_code == 302, link.text[:500]  # the key moves into the wp-resetpass cookie
        page = browser.get("/wp-login.php", params={"action": "rp"})
        assert page.status_code == 200 and 'name="rp_key"' in page.text, page.text[:500]
        done = browser.post("/wp-login.php?action=resetpass", data={
            "pass1": password, "pass2": password, "rp_key": key, "wp-submit": "Save Password"})
        assert done.status_code == 200 and "Your password has been reset" in done.text, done.text[:800]


def test_a_wordpress_password_becomes_the_whmcs_password_and_is_never_kept(sides: Sides, port: int) -> None:
    config = _write(sides, port, direction="whmcs_to_wp")
    err_path = sides.tmp / "daemon.stderr"
    with daemon(config, err_path) as run:
        wait_for(lambda: "last sync ok" in run.text(), "the first run")

        # 0. The direction does not write to WHMCS: the password is dropped, said at INFO.
        dan = _create(sides.site, "dan", DAN_OLD)
        wait_for(lambda: "the sync direction (whmcs_to_wp) does not write to WHMCS; dropped" in run.text(),
                 "Dan's password dropped")
        dan_runs = "one-user run for dan@example.com, direction whmcs_to_wp"
        wait_for(lambda: dan_runs in run.text(), "Dan's event run")
        # The key of "Lost your password?" is stored by a user update, itself an event: taken while
        # nothing is written to WHMCS, so that the reset form below finds Dan without a WHMCS client.
        key = _reset_key(sides.site, dan)
        wait_for(lambda: run.text().count(dan_runs) == 2, "the event run of Dan's reset key")
        assert sides.whmcs.client_by_email("dan@example.com") is None

        _write(sides, port)  # both ways from now on (a reload starts no run: Dan has no WHMCS client yet)
        run.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in run.text(), "the reload")

        # 1. The reset form (wp-login.php?action=rp / resetpass): the client syncd creates has that password.
        _reset_form(sides.site, "dan", key, DAN_PASSWORD)
        wait_for(lambda: _client_with(sides, "dan@example.com", DAN_PASSWORD), "Dan's client with his new password")
        assert _validates(sides, "dan@example.com", DAN_PASSWORD)
        assert not _validates(sides, "dan@example.com", DAN_OLD)

        # 2. A REST create with a password: one event, coalesced with the create.
        _create(sides.site, "ann", ANN_PASSWORD)
        wait_for(lambda: _client_with(sides, "ann@example.com", ANN_PASSWORD), "Ann's client with her password")
        assert _validates(sides, "ann@example.com", ANN_PASSWORD)

        # 3. An excluded role (editor): nothing reaches WHMCS. Then the admin's user-edit form makes her a
        #    subscriber with a new password, in one save: the client syncd creates has that password.
        cat = _create(sides.site, "cat", CAT_OLD, role="editor")
        wait_for(lambda: f"password for WordPress user #{cat} (cat@example.com) not carried to WHMCS: it has the "
                         "excluded role editor; dropped" in run.text(), "Cat's password refused")
        assert sides.whmcs.client_by_email("cat@example.com") is None
        with _browser(sides.site, sides.site.admin_user, sides.site.admin_password) as admin:
            _save_form(sides.site, admin, f"/wp-admin/user-edit.php?user_id={cat}",
                       {"role": "subscriber", "pass1": CAT_PASSWORD, "pass2": CAT_PASSWORD})
        wait_for(lambda: _client_with(sides, "cat@example.com", CAT_PASSWORD), "Cat's client with the form's password")
        assert _validates(sides, "cat@example.com", CAT_PASSWORD)

        # 4. An administrator: never.
        boss = _create(sides.site, "boss", BOSS_PASSWORD, role="administrator")
        wait_for(lambda: f"password for WordPress user #{boss} (boss@example.com) not carried to WHMCS"
                 in run.text(), "the admin's password refused")
        assert sides.whmcs.client_by_email("boss@example.com") is None

        # 5. Ann, whose WHMCS user exists, changes her password in her own profile form: WHMCS's API cannot
        #    set it. Said once at INFO; no email without the option; WHMCS keeps the one it has.
        with _browser(sides.site, "ann", ANN_PASSWORD) as ann:
            _save_form(sides.site, ann, "/wp-admin/profile.php", {"pass1": ANN_OWN, "pass2": ANN_OWN})
        cannot = "already exists and WHMCS's API cannot set an existing user's password"
        wait_for(lambda: cannot in run.text(), "Ann's password said not carried")
        assert sides.whmcs.emails_sent == []
        assert _validates(sides, "ann@example.com", ANN_PASSWORD) and not _validates(sides, "ann@example.com", ANN_OWN)

        # 6. With password_reset_on_wp_change: WHMCS's reset email, each time; the INFO line still once.
        _write(sides, port, reset=True)
        run.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: run.text().count("configuration reloaded") == 2, "the second reload")
        ann_id = int(sides.wp_users()["ann@example.com"]["id"])
        sides.wp_update(ann_id, password=ANN_AGAIN)
        wait_for(lambda: ("Password Reset Validation", "ann@example.com") in sides.whmcs.emails_sent,
                 "WHMCS's reset email to Ann")
        assert "sent WHMCS's password-reset email to the owner of WHMCS client" in run.text()
        assert run.text().count(cannot) == 1
        assert sides.whmcs.emails_sent == [("Password Reset Validation", "ann@example.com")]

        # 7. carry off (a reload): a new user's client gets a random password, as before.
        _write(sides, port, carry=False)
        run.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: run.text().count("configuration reloaded") == 3, "the third reload")
        _create(sides.site, "eve", EVE_PASSWORD)
        wait_for(lambda: sides.whmcs.client_by_email("eve@example.com") is not None, "Eve's client")
        assert not sides.whmcs.password_matches("eve@example.com", EVE_PASSWORD)
        assert "[passwords] carry is off" in run.text()

        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0

    # 8. No password used here anywhere syncd (or the companion) writes or shows.
    text = err_path.read_text()
    assert "Traceback" not in text
    assert "HTTP Request: POST" in text  # httpx's DEBUG lines were on
    files = [p for p in sides.tmp.iterdir() if p.name.startswith(sides.state_db.name)]
    report = intake_stats.path_for(f"sqlite:///{sides.state_db}")
    assert report is not None and report.exists()
    files.append(report)
    status = sides.syncd("status", "--json")
    history = [sides.syncd("history", f"{who}@example.com") for who in ("ann", "cat", "dan", "eve")]
    assert status.code in (0, 1) and all(h.code == 0 for h in history), status.stderr
    assert "dan@example.com" in history[2].stdout  # history does show the user
    wp_logs = [p.read_text(encoding="utf-8", errors="replace") for p in (sides.site.dir / "logs").iterdir()
               if p.is_file()]
    shown = [text, status.stdout, status.stderr, *[h.stdout + h.stderr for h in history], *wp_logs]
    for password in ALL_PASSWORDS:
        for encoded in {password, password.encode("unicode_escape").decode(), httpx.QueryParams(p=password)["p"]}:
            assert all(encoded not in s for s in shown), password
        raw = password.encode("utf-8")
        for path in files:
            assert raw not in path.read_bytes(), (password, path.name)
    for needle in (SECRET, WHMCS_SECRET, sides.site.app_password):
        assert needle not in text
