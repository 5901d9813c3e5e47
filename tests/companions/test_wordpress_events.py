"""The WordPress companion reports events to syncd's intake (issue 13, item 3; DESIGN §10), on a real
WordPress with WP_DEBUG on, the companion installed as the README says (``syncd companion wordpress
--out`` into mu-plugins) and SYNCD_INTAKE_URL / SYNCD_INTAKE_SECRET in wp-config.php, against a
capture server standing in for the intake (tests/companions/intake_capture.py).

Each way a user changes — a REST create, update and delete, an edit through wp-admin's own form,
billing meta written on its own as WooCommerce does, role changes — yields one signed request of the
exact shape; several changes in one request are one event per user ("deleted" wins); an intake that
is down, failing or hanging never breaks the WordPress request, and what it did not take is sent by
WP-Cron once it is back; an intake that refuses (401) is not retried, and Site Health says why; the
secret reaches no log."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.companions.intake_capture import Captured, IntakeCapture
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "intake-" + secrets.token_hex(16)
PASSWORD = "x-Long-passw0rd-x"
RETRY_HOOK = "syncd_companion_retry"


@pytest.fixture(scope="module")
def intake() -> Iterator[IntakeCapture]:
    capture = IntakeCapture()
    capture.start()
    yield capture
    capture.stop()


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, intake: IntakeCapture) -> WordPressSite:  # noqa: F811
    # A trailing slash, as an admin may well write it: the companion strips it.
    wp = fresh_wordpress_site(user_meta=False, debug=True,
                              defines={"SYNCD_INTAKE_URL": intake.url + "/", "SYNCD_INTAKE_SECRET": SECRET})
    mu = wp.dir / "wp" / "wp-content" / "mu-plugins"
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # What it says to the admin names the two constants that turn events on.
    assert "define('SYNCD_INTAKE_URL'," in out.stdout and "define('SYNCD_INTAKE_SECRET'," in out.stdout
    return wp


@pytest.fixture(autouse=True)
def clean(site: WordPressSite, intake: IntakeCapture) -> Iterator[None]:
    """Each test starts with the intake up and answering 202, and nothing kept or scheduled."""
    if not intake.running:
        intake.start()
    intake.answer(202)
    site.php(f"delete_option('syncd_companion_pending'); delete_option('syncd_companion_refused'); "
             f"wp_clear_scheduled_hook('{RETRY_HOOK}');")
    intake.take()
    yield
    intake.answer(202)  # releases a hanging handler


def rest(site: WordPressSite) -> httpx.Client:
    return httpx.Client(auth=site.auth, timeout=30)


def new_user(site: WordPressSite, login: str, **extra: Any) -> int:
    with rest(site) as http:
        made = http.post(site.rest_url("/users"), json={
            "username": login, "email": f"{login}@example.com", "password": PASSWORD, **extra})
    assert made.status_code == 201, made.text
    uid: int = made.json()["id"]
    return uid


def event(request: Captured) -> dict[str, Any]:
    """The event a request carries, after checking it is one as DESIGN §10 says, signed with SECRET."""
    assert (request.method, request.path) == ("POST", "/v1/events")
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["x-syncd-timestamp"]) - time.time()) < 120
    assert request.signed_with(SECRET), "X-Syncd-Signature is not HMAC-SHA256(secret, timestamp.body)"
    assert not request.signed_with(SECRET + "x")  # the check itself can fail
    assert SECRET.encode() not in request.body and not any(SECRET in v for v in request.headers.values())
    body: dict[str, Any] = request.json()
    keys = ["side", "event", "id", "email"] + (["password"] if body.get("event") == "password" else [])
    assert list(body) == keys and isinstance(body["id"], int)
    return body


def events(intake: IntakeCapture, count: int) -> list[dict[str, Any]]:
    got = intake.wait_for(count)
    assert len(got) == count, [g.body for g in got]
    return [event(g) for g in got]


def pending(site: WordPressSite) -> dict[str, dict[str, Any]]:
    kept: dict[str, dict[str, Any]] | list[Any] = json.loads(
        site.php("echo json_encode(Syncd_Companion_Events::pending());"))
    return kept if isinstance(kept, dict) else {}  # PHP's empty array is a JSON list


def scheduled(site: WordPressSite) -> bool:
    return json.loads(site.php(f"echo json_encode(wp_next_scheduled('{RETRY_HOOK}'));")) is not False


def run_wp_cron(site: WordPressSite) -> None:
    """Make the retry due now and run WP-Cron the way a system cron job does: GET wp-cron.php."""
    site.php(f"$t = wp_next_scheduled('{RETRY_HOOK}'); if ($t) {{ wp_unschedule_event($t, '{RETRY_HOOK}'); "
             f"wp_schedule_event(time() - 1, 'syncd_companion_every_minute', '{RETRY_HOOK}'); }}")
    with httpx.Client(timeout=60) as http:
        assert http.get(site.url + "/wp-cron.php").status_code == 200


def test_a_rest_create_and_a_rest_update_each_send_one_signed_event(site: WordPressSite,
                                                                    intake: IntakeCapture) -> None:
    # A create with a role, billing meta and a password: user_register, set_user_role and the meta hooks,
    # one event, a password event since the create set a password (issue 14; the intake is on loopback).
    uid = new_user(site, "rest-jane", roles=["editor"], meta={"billing_city": "Leeds"})
    assert events(intake, 1) == [{"side": "wordpress", "event": "password", "id": uid,
                                  "email": "rest-jane@example.com", "password": PASSWORD}]
    with rest(site) as http:
        updated = http.post(site.rest_url(f"/users/{uid}"), json={"email": "jane.new@example.com", "first_name": "J"})
    assert updated.status_code == 200, updated.text
    assert events(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid,
                                  "email": "jane.new@example.com"}]  # the email it has now


class FormFields(HTMLParser):
    """The fields a browser would submit from the form with the given id (no JavaScript run)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str | None, bool, list[str]]] = []
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("button", "image", "reset") or (kind == "submit" and name != "submit"):
                return  # the one button pressed is "submit" (Update User)
            self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value"), "selected" in a, []))
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._select is not None and self._options:
            self._options[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            values = [(value if value is not None else "".join(text).strip(), chosen)
                      for value, chosen, text in self._options]
            chosen = [v for v, c in values if c] or [v for v, _ in values[:1]]
            self.fields += [(self._select, chosen[0])] if chosen else []
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None


def test_an_edit_through_wp_admins_own_form_reaches_the_intake(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "form-joe")
    intake.wait_for(1)
    with httpx.Client(base_url=site.url, timeout=30, follow_redirects=False) as browser:
        assert browser.get("/wp-login.php").status_code == 200  # sets WordPress's test cookie
        login = browser.post("/wp-login.php", data={
            "log": site.admin_user, "pwd": site.admin_password, "wp-submit": "Log In",
            "redirect_to": f"{site.url}/wp-admin/", "testcookie": "1"})
        assert login.status_code == 302, login.text[:500]
        page = browser.get("/wp-admin/user-edit.php", params={"user_id": uid})
        assert page.status_code == 200, page.text[:500]
        form = FormFields("your-profile")
        form.feed(page.text)
        fields = dict(form.fields)
        assert fields["_wpnonce"] and fields["action"] == "update" and fields["user_id"] == str(uid)
        assert fields["email"] == "form-joe@example.com" and fields.get("pass1", "") == ""
        edited = [(k, {"first_name": "Joe", "email": "joe.form@example.com"}.get(k, v)) for k, v in form.fields]
        saved = browser.post("/wp-admin/user-edit.php", data=dict(edited),
                             headers={"Referer": f"{site.url}/wp-admin/user-edit.php?user_id={uid}"})
    assert saved.status_code == 302 and "updated=1" in saved.headers["location"], saved.text[:500]
    assert events(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid,
                                  "email": "joe.form@example.com"}]
    assert json.loads(site.php(f"echo json_encode(get_user_meta({uid}, 'first_name', true));")) == "Joe"


def test_billing_meta_written_on_its_own_reaches_the_intake_and_other_meta_does_not(
        site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "woo-ann")
    intake.wait_for(1)
    site.php(f"update_user_meta({uid}, 'billing_phone', '+441234567890');")  # as WooCommerce saves it
    assert events(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid, "email": "woo-ann@example.com"}]
    site.php(f"update_user_meta({uid}, 'last_order_seen', '42'); update_user_meta({uid}, 'session_tokens', []);")
    site.php(f"add_user_meta({uid}, 'billing_city', 'York');")  # one process after the other: in order
    site.php(f"delete_user_meta({uid}, 'billing_city');")
    site.php(f"update_user_meta({uid}, 'last_name', 'Smith');")  # a name written without wp_update_user
    got = events(intake, 3)  # the unwatched keys sent nothing: the next three are the watched ones
    assert got == [{"side": "wordpress", "event": "changed", "id": uid, "email": "woo-ann@example.com"}] * 3
    time.sleep(0.5)
    assert intake.take() == []


def test_role_changes_reach_the_intake(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "role-bob")
    intake.wait_for(1)
    for change in ("set_role('author')", "add_role('editor')", "remove_role('author')"):
        site.php(f"(new WP_User({uid}))->{change};")
    assert events(intake, 3) == [{"side": "wordpress", "event": "changed", "id": uid,
                                  "email": "role-bob@example.com"}] * 3
    assert json.loads(site.php(f"echo json_encode(get_userdata({uid})->roles);")) == ["editor"]


def test_a_rest_delete_sends_deleted_with_the_email_the_user_had(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "gone-gus", meta={"billing_city": "Hull"})
    intake.wait_for(1)
    with rest(site) as http:
        gone = http.delete(site.rest_url(f"/users/{uid}"), params={"force": "true", "reassign": "1"})
    assert gone.status_code == 200, gone.text
    # Its meta went with it (deleted_user_meta of billing_city), in the same request: "deleted" wins.
    assert events(intake, 1) == [{"side": "wordpress", "event": "deleted", "id": uid,
                                  "email": "gone-gus@example.com"}]


def test_one_event_per_user_per_request_and_deleted_wins(site: WordPressSite, intake: IntakeCapture) -> None:
    one, two = new_user(site, "many-one"), new_user(site, "many-two")
    intake.wait_for(2)
    site.php("require_once ABSPATH . 'wp-admin/includes/user.php';"
             f"wp_update_user(['ID' => {one}, 'first_name' => 'A']); update_user_meta({one}, 'billing_city', 'B');"
             f"wp_update_user(['ID' => {two}, 'first_name' => 'C']); (new WP_User({two}))->set_role('author');"
             f"update_user_meta({two}, 'billing_city', 'D'); wp_delete_user({one});"
             f"wp_update_user(['ID' => {two}, 'last_name' => 'E']);")
    got = sorted(events(intake, 2), key=lambda e: e["id"])
    assert got == [{"side": "wordpress", "event": "deleted", "id": one, "email": "many-one@example.com"},
                   {"side": "wordpress", "event": "changed", "id": two, "email": "many-two@example.com"}]
    time.sleep(0.5)
    assert intake.take() == []


def test_with_the_intake_down_the_event_is_kept_and_wp_cron_sends_it_when_it_is_back(
        site: WordPressSite, intake: IntakeCapture) -> None:
    uid, other = new_user(site, "down-dan"), new_user(site, "down-dot")
    intake.wait_for(2)
    intake.stop()
    with rest(site) as http:  # the WordPress requests succeed all the same
        assert http.post(site.rest_url(f"/users/{uid}"), json={"first_name": "D"}).status_code == 200
        assert http.post(site.rest_url(f"/users/{uid}"), json={"email": "dan.new@example.com"}).status_code == 200
        assert http.post(site.rest_url(f"/users/{other}"), json={"first_name": "O"}).status_code == 200
    kept = pending(site)
    assert set(kept) == {str(uid), str(other)}  # two changes of one user: one entry, with its latest email
    assert kept[str(uid)]["event"] == "changed" and kept[str(uid)]["email"] == "dan.new@example.com"
    assert scheduled(site)
    run_wp_cron(site)  # still down: nothing lost, still scheduled
    assert set(pending(site)) == {str(uid), str(other)} and scheduled(site)
    intake.start()
    run_wp_cron(site)
    got = sorted(events(intake, 2), key=lambda e: e["id"])
    assert got == [{"side": "wordpress", "event": "changed", "id": uid, "email": "dan.new@example.com"},
                   {"side": "wordpress", "event": "changed", "id": other, "email": "down-dot@example.com"}]
    assert pending(site) == {} and not scheduled(site)  # sent once: nothing left to retry
    run_wp_cron(site)
    time.sleep(0.5)
    assert intake.take() == []


def test_a_hanging_intake_does_not_break_the_request_and_the_event_is_kept(
        site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "hang-hal")
    intake.wait_for(1)
    intake.hang()
    with rest(site) as http:
        updated = http.post(site.rest_url(f"/users/{uid}"), json={"first_name": "H"})
    assert updated.status_code == 200 and updated.json()["first_name"] == "H"
    assert len(intake.take()) == 1  # it arrived, and was never answered
    assert set(pending(site)) == {str(uid)}
    intake.answer(202)
    run_wp_cron(site)
    assert events(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid, "email": "hang-hal@example.com"}]


def test_a_failing_intake_is_retried_and_a_refusing_one_is_not_and_site_health_says_why(
        site: WordPressSite, intake: IntakeCapture) -> None:
    failing, refused = new_user(site, "fail-fay"), new_user(site, "refused-rex")
    intake.wait_for(2)
    intake.answer(500)
    with rest(site) as http:
        assert http.post(site.rest_url(f"/users/{failing}"), json={"first_name": "F"}).status_code == 200
        assert len(intake.wait_for(1)) == 1
        assert set(pending(site)) == {str(failing)}
        intake.answer(401)  # e.g. another secret than syncd's
        assert http.post(site.rest_url(f"/users/{refused}"), json={"first_name": "R"}).status_code == 200
        assert len(intake.wait_for(1)) == 1
    assert set(pending(site)) == {str(failing)}  # the refused one is not kept
    health = json.loads(site.php("echo json_encode(Syncd_Companion_Events::site_health());"))
    assert health["status"] == "critical" and "HTTP 401" in health["label"]
    assert "SYNCD_INTAKE_SECRET" in health["description"] and SECRET not in json.dumps(health)
    log = (site.dir / "logs" / "debug.log").read_text(encoding="utf-8", errors="replace")
    assert "refused an event with HTTP 401" in log and "SYNCD_INTAKE_SECRET in wp-config.php must be" in log
    assert "answered HTTP 500" in log
    intake.answer(202)
    run_wp_cron(site)
    assert events(intake, 1) == [{"side": "wordpress", "event": "changed", "id": failing,
                                  "email": "fail-fay@example.com"}]
    healthy = json.loads(site.php("echo json_encode(Syncd_Companion_Events::site_health());"))
    assert healthy["status"] == "good", healthy  # a success clears the refusal


def test_site_health_counts_what_waits(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = new_user(site, "wait-wes")
    intake.wait_for(1)
    intake.stop()
    site.php(f"update_user_meta({uid}, 'billing_phone', '+440000000000');")
    health = json.loads(site.php("echo json_encode(Syncd_Companion_Events::site_health());"))
    assert health["status"] == "recommended" and health["label"] == "1 user changes wait to be sent to syncd"
    tests = json.loads(site.php("echo json_encode(apply_filters('site_status_tests', ['direct' => []]));"))
    assert "syncd_companion_events" in tests["direct"]


def test_the_queue_is_bounded_oldest_dropped(site: WordPressSite, intake: IntakeCapture) -> None:
    intake.stop()
    # 510 users changed while syncd is down (one PHP process; ids need not exist to be kept)
    site.php("$q = []; for ($i = 100001; $i <= 100505; $i++) { $q[$i] = ['event' => 'changed', 'email' => '', "
             "'since' => 1000 + $i]; } update_option('syncd_companion_pending', $q, false);")
    uid = new_user(site, "bound-ben")
    site.php("update_user_meta(1, 'billing_city', 'Admin town');")
    kept = pending(site)
    assert len(kept) == 500 and str(uid) in kept and "1" in kept
    assert "100001" not in kept and "100007" not in kept and "100008" in kept  # the 7 oldest went


def test_no_secret_in_any_log_and_no_notice_from_the_companion(site: WordPressSite, intake: IntakeCapture) -> None:
    """Every path that logs, taken once more here (under xdist this test may run alone on its site)."""
    uid = new_user(site, "log-lou")
    intake.wait_for(1)
    intake.answer(401)
    site.php(f"update_user_meta({uid}, 'billing_city', 'A');")
    intake.answer(503)
    site.php(f"update_user_meta({uid}, 'billing_city', 'B');")
    intake.stop()
    site.php(f"update_user_meta({uid}, 'billing_city', 'C');")
    run_wp_cron(site)
    site.php("echo json_encode(Syncd_Companion_Events::site_health());")
    logs = site.dir / "logs"
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in logs.iterdir() if p.is_file()}
    assert all(said in texts["debug.log"] for said in ("HTTP 401", "HTTP 503", "did not answer", "TLS certificate"))
    for name, text in texts.items():
        assert SECRET not in text, f"the intake secret is in {name}"
    ours = [line for line in texts["debug.log"].splitlines()
            if ("syncd-companion" in line or "Syncd_Companion" in line)
            and any(w in line for w in ("PHP Warning", "PHP Notice", "PHP Deprecated", "PHP Fatal"))]
    assert ours == [], "\n".join(ours)
