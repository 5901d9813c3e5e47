"""The WordPress companion's password events (issue 14 part 2, DESIGN §11).

On a real WordPress 6.1 with WP_DEBUG on and the companion installed as the README says, against a
capture server standing in for the intake (``tests/companions/intake_capture.py``): a REST create and
a REST update of ``password`` send ``{"side","event":"password","id","email","password"}``, signed,
with the password exactly as typed (WordPress slashes what it hashes; the event does not); the reset
function (``reset_password``, what wp-login.php's reset form calls) and the ``wp_set_password``
action of WordPress 6.2+ do too; a REST write made by syncd itself (its User-Agent), the login
fallback's (``syncd_companion_fallback_password`` fired first), wp-login.php's registration (a
random password) and a rejected form send no password; an event that cannot be sent is kept as
"changed", the password never in the database. The real forms are in ``test_live_wordpress_passwords``.

With stand-ins for WordPress's functions (PHP CLI, fast): an intake URL that is neither https nor
loopback gets a "changed" event and one debug.log line without the password; "deleted" beats a
password, a password beats "changed", the newest password wins, an empty one is a plain change.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.adapters.wordpress_http import USER_AGENT
from tests.companions.intake_capture import IntakeCapture
from tests.companions.test_wordpress_companion import FILE, _php
from tests.companions.test_wordpress_events import pending, rest, run_wp_cron
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

SECRET = "intake-" + secrets.token_hex(16)
TYPED = "Typed 'q' \"d\" é <&> Pa55"  # what the person types; WordPress refuses a backslash
RETRY_HOOK = "syncd_companion_retry"
USED: list[str] = [TYPED]  # every password sent to WordPress here, searched for in its logs at the end


@pytest.fixture(scope="module")
def intake() -> Iterator[IntakeCapture]:
    capture = IntakeCapture()
    capture.start()
    yield capture
    capture.stop()


@pytest.fixture(scope="module")
def site(fresh_wordpress_site: WordPressSiteFactory, intake: IntakeCapture) -> WordPressSite:  # noqa: F811
    import sys

    wp = fresh_wordpress_site(user_meta=False, debug=True,
                              defines={"SYNCD_INTAKE_URL": intake.url, "SYNCD_INTAKE_SECRET": SECRET})
    mu = wp.dir / "wp" / "wp-content" / "mu-plugins"
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return wp


@pytest.fixture(autouse=True)
def clean(site: WordPressSite, intake: IntakeCapture) -> Iterator[None]:
    if not intake.running:
        intake.start()
    intake.answer(202)
    site.php(f"delete_option('syncd_companion_pending'); wp_clear_scheduled_hook('{RETRY_HOOK}');")
    intake.take()
    yield
    intake.answer(202)


def _signed(intake: IntakeCapture, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events, each checked as DESIGN §10 says and signed with this module's SECRET."""
    got = intake.wait_for(count)
    assert len(got) == count, [g.body for g in got]
    for g in got:
        assert g.signed_with(SECRET)
    return [g.json() for g in got]


def _user(site: WordPressSite, intake: IntakeCapture, login: str, password: str = "Created-Pa55-x") -> int:
    USED.append(password)
    with rest(site) as http:
        made = http.post(site.rest_url("/users"), json={"username": login, "email": f"{login}@example.com",
                                                        "password": password})
    assert made.status_code == 201, made.text
    uid = int(made.json()["id"])
    assert _signed(intake, 1)[0]["event"] == "password"
    return uid


def test_a_rest_create_sends_the_password_as_typed(site: WordPressSite, intake: IntakeCapture) -> None:
    with rest(site) as http:
        made = http.post(site.rest_url("/users"), json={"username": "pw-ann", "email": "pw-ann@example.com",
                                                        "password": TYPED, "roles": ["subscriber"]})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    got = intake.wait_for(1)
    assert len(got) == 1 and got[0].signed_with(SECRET)
    assert got[0].json() == {"side": "wordpress", "event": "password", "id": uid, "email": "pw-ann@example.com",
                             "password": TYPED}
    assert list(got[0].json()) == ["side", "event", "id", "email", "password"]  # the password last


def test_a_rest_update_sends_a_password_only_when_one_is_set(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-bob")
    USED.append("Bob-updated-Pa55")
    with rest(site) as http:
        assert http.post(site.rest_url(f"/users/{uid}"), json={"password": "Bob-updated-Pa55"}).status_code == 200
        assert _signed(intake, 1) == [{"side": "wordpress", "event": "password", "id": uid,
                                       "email": "pw-bob@example.com", "password": "Bob-updated-Pa55"}]
        assert http.post(site.rest_url(f"/users/{uid}"), json={"first_name": "Bob"}).status_code == 200
        assert _signed(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid,
                                       "email": "pw-bob@example.com"}]


def test_what_syncd_itself_sets_through_rest_is_not_sent_back(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-cy")
    USED.append("From-WHMCS-Pa55")
    with httpx.Client(auth=site.auth, timeout=30, headers={"User-Agent": USER_AGENT}) as http:
        answer = http.post(site.rest_url(f"/users/{uid}"), json={"password": "From-WHMCS-Pa55"})
    assert answer.status_code == 200, answer.text
    assert _signed(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid, "email": "pw-cy@example.com"}]


def test_the_reset_function_and_the_wp_set_password_action_send_it(site: WordPressSite,
                                                                  intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-dee")
    USED.extend(["Reset 'by' form-Pa55", "Set-on-6.2-Pa55"])
    # reset_password() is what wp-login.php's reset form calls, with the slashed $_POST['pass1'].
    site.php(f"reset_password(get_userdata({uid}), wp_slash(\"Reset 'by' form-Pa55\"));")
    assert _signed(intake, 1)[0] == {"side": "wordpress", "event": "password", "id": uid,
                                     "email": "pw-dee@example.com", "password": "Reset 'by' form-Pa55"}
    # WordPress 6.2+ fires wp_set_password($password, $user_id); 6.1 (this site) has no such action.
    site.php(f"do_action('wp_set_password', 'Set-on-6.2-Pa55', {uid});")
    assert _signed(intake, 1)[0]["password"] == "Set-on-6.2-Pa55"


def test_the_login_fallback_s_password_is_never_sent_back(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-eve")
    USED.extend(["Whmcs-came-back-Pa55", "Whmcs-later-Pa55"])
    site.php(f"do_action('syncd_companion_fallback_password', {uid});"
             f"reset_password(get_userdata({uid}), 'Whmcs-came-back-Pa55');")
    assert _signed(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid,
                                   "email": "pw-eve@example.com"}]
    # Fired after a password was noted in the same request, it takes that one back too.
    site.php(f"reset_password(get_userdata({uid}), 'Whmcs-later-Pa55');"
             f"do_action('syncd_companion_fallback_password', {uid});")
    assert _signed(intake, 1)[0]["event"] == "changed"
    # The contract is per user and per request: the next request's password goes again.
    site.php(f"reset_password(get_userdata({uid}), 'Whmcs-later-Pa55');")
    assert _signed(intake, 1)[0]["event"] == "password"


def test_a_rejected_form_sends_nothing(site: WordPressSite, intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-fay")
    USED.append("Mismatch-one-Pa55")
    # edit_user() is what wp-admin's profile and user-edit forms call; the two passwords differ.
    said = site.php("require_once ABSPATH . 'wp-admin/includes/user.php'; wp_set_current_user(1);"
                    f"$_POST = wp_slash(['email' => 'pw-fay@example.com', 'nickname' => 'fay', 'pass1' => "
                    f"'Mismatch-one-Pa55', 'pass2' => 'Mismatch-two-Pa55']); $r = edit_user({uid});"
                    "echo is_wp_error($r) ? 'refused' : 'saved';")
    assert said.strip() == "refused"
    assert intake.take() == []  # the CLI process sent what it had before it returned: nothing


def test_registration_s_random_password_is_not_sent(site: WordPressSite, intake: IntakeCapture) -> None:
    site.php("update_option('users_can_register', 1);")
    with httpx.Client(base_url=site.url, timeout=30, follow_redirects=False) as browser:
        done = browser.post("/wp-login.php?action=register", data={"user_login": "pw-gus",
                                                                   "user_email": "pw-gus@example.com"})
    assert done.status_code == 302 and "checkemail=registered" in done.headers["location"], done.text[:500]
    (got,) = _signed(intake, 1)
    assert got["event"] == "changed" and got["email"] == "pw-gus@example.com" and "password" not in got


def test_an_event_not_sent_is_kept_as_changed_and_the_password_never_rests(site: WordPressSite,
                                                                          intake: IntakeCapture) -> None:
    uid = _user(site, intake, "pw-hal")
    USED.append("While-down-Pa55")
    intake.stop()
    with rest(site) as http:
        assert http.post(site.rest_url(f"/users/{uid}"), json={"password": "While-down-Pa55"}).status_code == 200
    kept = pending(site)
    assert kept[str(uid)]["event"] == "changed"
    raw = site.php("global $wpdb; echo $wpdb->get_var(\"SELECT option_value FROM $wpdb->options WHERE "
                   "option_name = 'syncd_companion_pending'\");")
    assert "While-down" not in raw and str(uid) in raw
    intake.start()
    run_wp_cron(site)
    assert _signed(intake, 1) == [{"side": "wordpress", "event": "changed", "id": uid, "email": "pw-hal@example.com"}]


def test_no_password_in_any_log_of_the_site(site: WordPressSite, intake: IntakeCapture) -> None:
    """Last in this module (xdist may run it alone: then only the passwords it sent itself are searched);
    and no PHP notice, warning or deprecation from the companion."""
    _user(site, intake, "pw-last", "Last-one-Pa55")
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace")
             for p in (site.dir / "logs").iterdir() if p.is_file()}
    for name, text in texts.items():
        for password in USED:
            assert password not in text, (password, name)
        assert SECRET not in text
    ours = [line for line in texts.get("debug.log", "").splitlines()
            if ("syncd-companion" in line or "Syncd_Companion" in line)
            and any(w in line for w in ("PHP Warning", "PHP Notice", "PHP Deprecated", "PHP Fatal"))]
    assert ours == [], "\n".join(ours)  # PHP 8.2 with WP_DEBUG: not one notice from the companion


# --- with stand-ins for WordPress (PHP CLI) -----------------------------------------------------------

def _stand_in(tmp_path: Path, url: str, calls: str, *, answer: int = 202) -> tuple[list[Any], str, str]:
    """Run ``calls`` (PHP) with the companion loaded among stand-ins; (what was posted, debug.log, the
    option kept)."""
    log = tmp_path / "debug.log"
    script = tmp_path / "stand_in.php"
    script.write_text(
        "<?php define('ABSPATH', '/'); define('WP_DEBUG', true); define('WP_DEBUG_LOG', true);\n"
        f"define('SYNCD_INTAKE_URL', {json.dumps(url)}); define('SYNCD_INTAKE_SECRET', 'k');\n"
        "$posted = []; $hooks = []; $options = [];\n"
        "class WP_User { public $ID; public $user_email; public function __construct($id) { $this->ID = $id;"
        " $this->user_email = \"u$id@example.com\"; } }\n"
        "class WP_Error { public function has_errors() { return false; } }\n"
        "function add_action($h, $f) { global $hooks; $hooks[$h][] = $f; }\n"
        "function add_filter($h, $f) { }\n function register_deactivation_hook($f, $c) { }\n"
        "function fire($h, ...$a) { global $hooks; foreach ($hooks[$h] ?? [] as $f) { $f(...$a); } }\n"
        "function get_userdata($id) { return new WP_User($id); }\n"
        "function wp_unslash($v) { return is_string($v) ? stripslashes($v) : $v; }\n"
        "function wp_json_encode($v, $o) { return json_encode($v, $o); }\n"
        f"function wp_remote_post($url, $args) {{ global $posted; $posted[] = json_decode($args['body'], true);"
        f" return ['response' => ['code' => {answer}]]; }}\n"
        "function is_wp_error($r) { return false; }\n"
        "function wp_remote_retrieve_response_code($r) { return $r['response']['code']; }\n"
        "function get_option($n, $d = false) { global $options; return $options[$n] ?? $d; }\n"
        "function update_option($n, $v, $a = null) { global $options; $options[$n] = $v; return true; }\n"
        "function delete_option($n) { global $options; unset($options[$n]); return true; }\n"
        "function wp_next_scheduled($h) { return 1; }\n function wp_clear_scheduled_hook($h) { }\n"
        f"require {json.dumps(str(FILE))};\n{calls}\nfire('shutdown');\n"
        "echo json_encode(['posted' => $posted, 'kept' => serialize($options)]);\n", encoding="utf-8")
    run = subprocess.run([_php(), "-d", "error_reporting=-1", "-d", "display_errors=1", "-d", f"error_log={log}",
                          str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stdout + run.stderr
    out = json.loads(run.stdout)
    return out["posted"], log.read_text(encoding="utf-8") if log.exists() else "", out["kept"]


@pytest.mark.parametrize("url", ["http://sync.example.com:8787", "http://10.0.0.5:8787", "ftp://127.0.0.1/"])
def test_a_password_goes_only_over_https_or_to_loopback(tmp_path: Path, url: str) -> None:
    posted, log, _kept = _stand_in(tmp_path, url, "fire('user_register', 5, ['user_pass' => 'Not-in-clear-Pa55']);")
    assert posted == [{"side": "wordpress", "event": "changed", "id": 5, "email": "u5@example.com"}]
    assert "1 new password(s) not sent (sent as plain changes)" in log and "Not-in-clear" not in log


@pytest.mark.parametrize("url", ["https://sync.example.com:8787", "http://127.0.0.1:8787", "http://localhost:1",
                                 "http://[::1]:8787"])
def test_https_and_loopback_carry_it(tmp_path: Path, url: str) -> None:
    posted, log, _kept = _stand_in(tmp_path, url, "fire('user_register', 5, ['user_pass' => 'In-flight-Pa55']);")
    assert posted == [{"side": "wordpress", "event": "password", "id": 5, "email": "u5@example.com",
                       "password": "In-flight-Pa55"}]
    assert "In-flight" not in log


def test_one_event_per_user_deleted_then_password_then_changed_newest_password_wins(tmp_path: Path) -> None:
    posted, _log, _kept = _stand_in(tmp_path, "https://sync.example.com", "\n".join([
        "fire('profile_update', 1); fire('password_reset', new WP_User(1), 'Older-Pa55');",
        "fire('after_password_reset', new WP_User(1), 'Newer-Pa55'); fire('profile_update', 1);",
        "fire('wp_set_password', 'Gone-Pa55', 2); fire('delete_user', 2); fire('wp_set_password', 'After-Pa55', 2);",
        "fire('wp_set_password', '', 3);",  # an empty password: a plain change
        "fire('user_register', 4, ['user_pass' => 'Has\\\\\\\\backslash']);",  # unslashed, it has one: not sent
        "fire('register_post'); fire('user_register', 6, ['user_pass' => 'Random-by-wp']);"]))
    assert sorted(posted, key=lambda p: p["id"]) == [
        {"side": "wordpress", "event": "password", "id": 1, "email": "u1@example.com", "password": "Newer-Pa55"},
        {"side": "wordpress", "event": "deleted", "id": 2, "email": "u2@example.com"},
        {"side": "wordpress", "event": "changed", "id": 3, "email": "u3@example.com"},
        {"side": "wordpress", "event": "changed", "id": 4, "email": "u4@example.com"},
        {"side": "wordpress", "event": "changed", "id": 6, "email": "u6@example.com"}]


def test_a_password_event_the_intake_did_not_take_is_kept_without_it(tmp_path: Path) -> None:
    posted, _log, kept = _stand_in(tmp_path, "https://sync.example.com",
                                   "fire('password_reset', new WP_User(8), 'Kept-never-Pa55');", answer=503)
    assert posted[0]["password"] == "Kept-never-Pa55"  # it was tried once
    assert "Kept-never" not in kept and 's:7:"changed"' in kept
