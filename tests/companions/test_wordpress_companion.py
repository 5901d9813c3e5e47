"""The WordPress companion (issue 12, item 4; DESIGN §10) on a real WordPress, installed the way an
admin would (``syncd companion wordpress --out``), with WP_DEBUG on: it registers the mapped meta
for REST, readable and writable only by users who can edit users, sanitised as WooCommerce stores
it, survives being installed twice, and leaves no notice in the debug log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd import companions
from tests.companions.intake_capture import IntakeCapture
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a module-scoped factory, by name)

FILE = Path(companions.__file__).parent / "wordpress" / "syncd-companion.php"
WOO_KEYS = ["billing_first_name", "billing_last_name", "billing_company", "billing_address_1", "billing_address_2",
            "billing_city", "billing_state", "billing_postcode", "billing_country", "billing_email", "billing_phone"]


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("php is not installed: ./scripts/test installs it with WordPress")
        pytest.skip("php is not installed (./scripts/test installs it)")
    return php


def test_the_repository_path_is_the_shipped_file() -> None:
    top = Path(__file__).parents[2] / "companions" / "wordpress" / "syncd-companion.php"
    assert top.read_bytes() == FILE.read_bytes() == companions.source("wordpress")


def test_php_lint() -> None:
    out = subprocess.run([_php(), "-l", str(FILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_outside_wordpress_and_loaded_twice_it_does_nothing(tmp_path: Path) -> None:
    """Run directly it returns at once; required twice (a plugin and a mu-plugin) nothing is redeclared."""
    alone = subprocess.run([_php(), "-d", "error_reporting=-1", "-d", "display_errors=1", str(FILE)],
                           capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0 and alone.stdout == "" and alone.stderr == "", alone.stdout + alone.stderr
    copy = tmp_path / "copy.php"
    copy.write_bytes(FILE.read_bytes())
    script = tmp_path / "twice.php"
    script.write_text(
        "<?php define('ABSPATH', '/'); $hooks = [];\n"
        "function add_action(...$a) { global $hooks; $hooks[] = $a[0]; }\n"
        "function add_filter(...$a) { global $hooks; $hooks[] = $a[0]; }\n"
        "function register_deactivation_hook(...$a) { global $hooks; $hooks[] = 'deactivate'; }\n"
        f"require {json.dumps(str(FILE))}; require {json.dumps(str(copy))};\n"
        "echo json_encode($hooks);\n", encoding="utf-8")
    twice = subprocess.run([_php(), "-d", "error_reporting=-1", "-d", "display_errors=1", str(script)],
                           capture_output=True, text=True, timeout=60)
    assert twice.returncode == 0, twice.stdout + twice.stderr
    assert json.loads(twice.stdout) == [  # hooked once
        "init", "rest_prepare_user", "rest_api_init",
        "user_register", "profile_update", "set_user_role", "add_user_role", "remove_user_role", "delete_user",
        "wpmu_delete_user", "added_user_meta", "updated_user_meta", "deleted_user_meta", "shutdown",
        "cron_schedules", "syncd_companion_retry", "site_status_tests", "deactivate",
        # Syncd_Companion_Passwords (issue 14): where WordPress sets a password, and the login fallback's action
        "user_register", "rest_insert_user", "user_profile_update_errors", "profile_update", "password_reset",
        "after_password_reset", "wp_set_password", "register_post", "syncd_companion_fallback_password",
        "authenticate", "site_status_tests"]  # Syncd_Companion_Login: the login fallback, its Site Health test


def test_under_php_fpm_the_response_is_finished_before_anything_is_sent(tmp_path: Path) -> None:
    """PHP-FPM's fastcgi_finish_request() (absent from the test site's `php -s`) runs first, at shutdown:
    the visitor has the whole page before the event leaves. WordPress's functions are stand-ins here."""
    script = tmp_path / "fpm.php"
    script.write_text(
        "<?php define('ABSPATH', '/'); define('SYNCD_INTAKE_URL', 'https://sync.example.com/');\n"
        "define('SYNCD_INTAKE_SECRET', 'k'); $calls = []; $hooks = [];\n"
        "class WP_User { public $user_email = 'u@example.com'; }\n"
        "function add_action($h, $f) { global $hooks; $hooks[$h][] = $f; }\n"
        "function add_filter($h, $f) { }\n function register_deactivation_hook($f, $c) { }\n"
        "function get_userdata($id) { return new WP_User(); }\n"
        "function wp_json_encode($v, $o) { return json_encode($v, $o); }\n"
        "function fastcgi_finish_request() { global $calls; $calls[] = 'finish'; return true; }\n"
        "function wp_remote_post($url, $args) { global $calls; $calls[] = [$url, $args['body'], $args['timeout']];"
        " return ['response' => ['code' => 202]]; }\n"
        "function is_wp_error($r) { return false; }\n"
        "function wp_remote_retrieve_response_code($r) { return $r['response']['code']; }\n"
        "function get_option($n, $d = false) { return $d; }\n"
        f"require {json.dumps(str(FILE))};\n"
        "foreach ($hooks['profile_update'] as $f) { $f(7); } foreach ($hooks['shutdown'] as $f) { $f(); }\n"
        "echo json_encode($calls);\n", encoding="utf-8")
    run = subprocess.run([_php(), "-d", "error_reporting=-1", "-d", "display_errors=1", str(script)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stdout + run.stderr
    assert json.loads(run.stdout) == [
        "finish", ["https://sync.example.com/v1/events",
                   '{"side":"wordpress","event":"changed","id":7,"email":"u@example.com"}', 2]]


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest) -> Iterator[WordPressSite]:
    """A WordPress with WP_DEBUG on and no meta registered but by the companion, installed both as a
    mu-plugin (by `syncd companion wordpress --out`) and as an active plugin."""
    factory: WordPressSiteFactory = request.getfixturevalue("fresh_wordpress_site")
    wp = factory(user_meta=False, debug=True)
    content = wp.dir / "wp" / "wp-content"
    mu = content / "mu-plugins"
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"Wrote {mu / 'syncd-companion.php'}" in out.stdout and "mu-plugins" in out.stdout
    plugin = content / "plugins" / "syncd-companion"
    plugin.mkdir(parents=True)
    shutil.copy(FILE, plugin / "syncd-companion.php")
    activated = wp.php("require_once ABSPATH . 'wp-admin/includes/plugin.php'; "
                       "$r = activate_plugin('syncd-companion/syncd-companion.php'); "
                       "echo is_wp_error($r) ? $r->get_error_message() : 'active';")
    assert activated.strip() == "active"
    yield wp


def _client(wp: WordPressSite, auth: tuple[str, str] | None) -> httpx.Client:
    return httpx.Client(auth=auth, timeout=30)


def _new_user(wp: WordPressSite, login: str, meta: dict[str, str]) -> dict[str, object]:
    with _client(wp, wp.auth) as http:
        reply = http.post(wp.rest_url("/users"), json={
            "username": login, "email": f"{login}@example.com", "password": "x-Long-passw0rd-x", "meta": meta})
    assert reply.status_code == 201, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_an_admin_writes_and_reads_the_billing_meta_sanitised_as_woocommerce_stores_it(site: WordPressSite) -> None:
    user = _new_user(site, "jane", {
        "billing_phone": "+44 20 7946 0958", "billing_city": "  <b>Leeds</b>  ", "billing_country": "GB",
        "billing_email": "jane.billing@example.com", "billing_address_1": "1 High St\nFlat 2"})
    with _client(site, site.auth) as http:
        got = http.get(site.rest_url(f"/users/{user['id']}", {"context": "edit"}))
    assert got.status_code == 200, got.text
    meta = got.json()["meta"]
    assert set(WOO_KEYS) <= set(meta)
    assert meta["billing_phone"] == "+44 20 7946 0958"
    assert meta["billing_city"] == "Leeds"  # tags and outer spaces gone, as wc_clean stores it
    assert meta["billing_address_1"] == "1 High St Flat 2"  # one line
    assert meta["billing_email"] == "jane.billing@example.com"
    assert meta["billing_postcode"] == ""  # registered, never set: the default
    stored = site.php(f"echo json_encode(get_user_meta({user['id']}, 'billing_city', true));")
    assert json.loads(stored) == "Leeds"


def test_the_companion_says_its_version_and_keys_to_an_admin_only(site: WordPressSite) -> None:
    with _client(site, site.auth) as http:
        about = http.get(site.url + "/wp-json/syncd/v1/companion")
    assert about.status_code == 200, about.text
    assert about.json() == {"version": "0.3.0", "meta_keys": WOO_KEYS, "configured_meta_keys": WOO_KEYS}
    password = site.add_user("nosy", "subscriber")
    with _client(site, ("nosy", password)) as http:
        refused = http.get(site.url + "/wp-json/syncd/v1/companion")
    assert refused.status_code == 403
    with httpx.Client(timeout=30) as http:
        assert http.get(site.url + "/wp-json/syncd/v1/companion").status_code == 401


def test_someone_who_cannot_edit_users_neither_reads_nor_writes_them(site: WordPressSite) -> None:
    password = site.add_user("customer", "subscriber")
    with _client(site, site.auth) as http:
        found = http.get(site.rest_url("/users", {"search": "customer", "context": "edit"})).json()
        customer_id = found[0]["id"]
        assert http.post(site.rest_url(f"/users/{customer_id}"),
                         json={"meta": {"billing_phone": "+441234567890"}}).status_code == 200
    with _client(site, ("customer", password)) as http:
        own = http.get(site.rest_url("/users/me", {"context": "edit"}))
        assert own.status_code == 200, own.text
        assert not set(WOO_KEYS) & set(own.json().get("meta") or {})  # not even their own, over REST
        write = http.post(site.rest_url("/users/me"), json={"meta": {"billing_phone": "+449999999999"}})
        assert write.status_code == 403, write.text
    assert json.loads(site.php(f"echo json_encode(get_user_meta({customer_id}, 'billing_phone', true));")) == \
        "+441234567890"


def test_the_public_never_sees_them(site: WordPressSite) -> None:
    author = _new_user(site, "writer", {"billing_phone": "+441111111111"})
    site.php(f"wp_set_current_user(1); wp_update_user(['ID' => {author['id']}, 'role' => 'author']); "
             f"wp_insert_post(['post_title' => 'Hello', 'post_status' => 'publish', 'post_author' => {author['id']}]);")
    with httpx.Client(timeout=30) as http:
        public = http.get(site.rest_url(f"/users/{author['id']}"))
    assert public.status_code == 200, public.text  # an author with a post is public...
    assert not set(WOO_KEYS) & set(public.json().get("meta") or {})  # ...their billing data is not


def test_syncd_meta_keys_chooses_the_keys_and_drops_what_is_not_a_key_name(site: WordPressSite) -> None:
    keys = site.php("define('SYNCD_META_KEYS', ' shoe_size, bad key!,_private,billing_phone,,shoe_size'); "
                    "echo json_encode(Syncd_Companion::meta_keys());")
    assert json.loads(keys) == ["shoe_size", "billing_phone"]
    given_as_array = site.php("define('SYNCD_META_KEYS', ['a', 3, 'b']); "
                              "echo json_encode(Syncd_Companion::meta_keys());")
    assert json.loads(given_as_array) == ["a", "b"]


def test_events_need_both_the_url_and_the_secret(site: WordPressSite) -> None:
    """This site's wp-config.php sets neither constant: events are off. With SYNCD_INTAKE_URL alone
    nothing is sent either (syncd would refuse it unsigned); with both, the same change is sent."""
    intake = IntakeCapture()
    intake.start()
    try:
        site.add_user("quiet", "subscriber")
        uid = int(site.php("echo get_user_by('login', 'quiet')->ID;"))
        change = (f"update_user_meta({uid}, 'billing_city', 'Ely'); "
                  f"wp_update_user(['ID' => {uid}, 'first_name' => 'Q']);")
        site.php(change)
        site.php(f"define('SYNCD_INTAKE_URL', '{intake.url}'); define('SYNCD_INTAKE_SECRET', ''); " + change)
        site.php(f"define('SYNCD_INTAKE_URL', '{intake.url}'); " + change)
        assert json.loads(site.php("echo json_encode([Syncd_Companion_Events::configured(), "
                                   "get_option('syncd_companion_pending', null)]);")) == [False, None]
        health = json.loads(site.php(f"define('SYNCD_INTAKE_URL', '{intake.url}'); "
                                     "echo json_encode(Syncd_Companion_Events::site_health());"))
        assert health["status"] == "critical"
        assert health["label"] == "syncd events are off: SYNCD_INTAKE_SECRET is not set"
        assert "Define SYNCD_INTAKE_SECRET in wp-config.php" in health["description"]
        assert json.loads(site.php("echo json_encode(apply_filters('site_status_tests', ['direct' => []]));")) \
            == {"direct": []}  # neither constant: no Site Health test at all
        site.php(f"define('SYNCD_INTAKE_URL', '{intake.url}'); define('SYNCD_INTAKE_SECRET', 'k'); " + change)
        got = intake.wait_for(1)
        assert [g.json() for g in got] == [{"side": "wordpress", "event": "changed", "id": uid,
                                            "email": "quiet@example.test"}]  # only the last process sent
        assert got[0].signed_with("k")
    finally:
        intake.stop()


def test_no_notice_from_the_companion_with_wp_debug_on(site: WordPressSite) -> None:
    with _client(site, site.auth) as http:  # every path of the file once more
        http.get(site.rest_url("/users", {"context": "edit"}))
        http.get(site.url + "/wp-json/syncd/v1/companion")
        http.get(site.url + "/")
    log = site.dir / "logs" / "debug.log"
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    ours = [line for line in lines if "syncd-companion" in line or "Syncd_Companion" in line]
    assert ours == [], "\n".join(ours)
