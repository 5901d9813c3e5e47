"""The WordPress emulator's own surface: what the contract does not reach (its standalone command
and seed file, form-encoded writes, application passwords, method overrides, fault switches)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from syncd.emulators.wordpress import WordPressEmulator, is_email, sanitize_text, sanitize_title


def client(emulator: WordPressEmulator, password: str, user: str = "admin") -> httpx.Client:
    return httpx.Client(transport=emulator.transport(), base_url="http://wp.test", auth=(user, password))


def test_standalone_command_serves_a_seed_file(tmp_path: Path) -> None:
    seed = {
        "site": {"name": "Demo", "registered_meta": {"billing_company": "string"}},
        "admin": {"login": "boss", "email": "boss@example.test", "app_password": "AbCd1234EfGh5678IjKl9012"},
        "users": [{"login": "ann", "email": "ann@example.test", "first_name": "Ann", "last_name": "Lee",
                   "company": "Lee Ltd"},
                  {"login": "ed", "email": "ed@example.test", "roles": ["editor"], "app_password": "x" * 24}],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    proc = subprocess.Popen([sys.executable, "-m", "syncd.emulators", "wordpress", "--seed", str(path)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["admin_user"] == "boss" and started["app_password"] == "AbCd1234EfGh5678IjKl9012"
        with httpx.Client(auth=("boss", started["app_password"]), timeout=10) as c:
            users = c.get(f"{started['url']}/wp-json/wp/v2/users", params={"context": "edit"}).json()
            assert [(u["username"], u["meta"]) for u in users] == [
                ("ann", {"persisted_preferences": [], "billing_company": "Lee Ltd"}),
                ("boss", {"persisted_preferences": [], "billing_company": ""}),
                ("ed", {"persisted_preferences": [], "billing_company": ""}),
            ]  # ordered by display name, as WordPress does by default
            assert c.get(f"{started['url']}/wp-json/").json()["name"] == "Demo"
        with httpx.Client(auth=("ed", "x" * 24), timeout=10) as c:
            assert c.get(f"{started['url']}/wp-json/wp/v2/users/me").json()["name"] == "ed"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_form_encoded_create_with_meta_and_comma_roles() -> None:
    emulator = WordPressEmulator()
    password = emulator.add_app_password("admin")
    with client(emulator, password) as c:
        r = c.post("/wp-json/wp/v2/users", data={"username": "form1", "email": "form1@example.test",
                                                 "password": "Pass-word-1", "meta[billing_company]": "FormCo",
                                                 "roles": "subscriber,author"})
    assert r.status_code == 201
    assert r.json()["roles"] == ["subscriber", "author"] and r.json()["meta"]["billing_company"] == "FormCo"
    assert r.headers["Location"] == f"http://wp.test/wp-json/wp/v2/users/{r.json()['id']}"


def test_application_passwords_through_rest_come_grouped_by_four() -> None:
    emulator = WordPressEmulator()
    password = emulator.add_app_password("admin")
    uid = emulator.add_user("ann", "ann@example.test")
    with client(emulator, password) as c:
        r = c.post(f"/wp-json/wp/v2/users/{uid}/application-passwords", json={"name": "sync"})
        assert r.status_code == 201
        shown = r.json()["password"]
        assert len(shown) == 29 and shown.count(" ") == 5
        listed = c.get(f"/wp-json/wp/v2/users/{uid}/application-passwords").json()
        assert [p["name"] for p in listed] == ["sync"] and "password" not in listed[0]
    for form in (shown, shown.replace(" ", "")):
        with client(emulator, form, "ann@example.test") as c:
            assert c.get("/wp-json/wp/v2/users/me").json()["id"] == uid


def test_method_override_head_and_unknown_routes() -> None:
    emulator = WordPressEmulator()
    password = emulator.add_app_password("admin")
    uid = emulator.add_user("ann", "ann@example.test")
    with client(emulator, password) as c:
        r = c.post(f"/wp-json/wp/v2/users/{uid}", params={"_method": "DELETE", "force": "true", "reassign": 1})
        assert r.json()["deleted"] is True and uid not in emulator.users
        head = c.head("/wp-json/wp/v2/users")
        assert head.status_code == 200 and head.content == b"" and head.headers["X-WP-Total"] == "1"
        assert c.get("/wp-json/wp/v2/nope").json()["code"] == "rest_no_route"
        assert c.options("/wp-json/wp/v2/users").json()["schema"]["properties"]["meta"]["properties"] == {
            "whmcs_client_id": {"type": "integer", "context": ["view", "edit"]},
            "billing_company": {"type": "string", "context": ["view", "edit"]},
        }


def test_read_only_meta_is_refused_after_the_insert() -> None:
    emulator = WordPressEmulator(registered_meta={"sync_modified_gmt": "string"}, readonly_meta=["sync_modified_gmt"])
    password = emulator.add_app_password("admin")
    with client(emulator, password) as c:
        r = c.post("/wp-json/wp/v2/users", json={"username": "m", "email": "m@example.test", "password": "P-1x",
                                                 "meta": {"sync_modified_gmt": "x"}})
    assert (r.status_code, r.json()["code"]) == (403, "rest_cannot_update")
    assert r.json()["data"] == {"key": "sync_modified_gmt", "status": 403}
    assert any(u.login == "m" for u in emulator.users.values())  # created all the same


def test_faults_are_counted_consumed_and_validated() -> None:
    emulator = WordPressEmulator()
    password = emulator.add_app_password("admin")
    emulator.inject("me", "error", times=2, status=502)
    with client(emulator, password) as c:
        codes = [c.get("/wp-json/wp/v2/users/me").status_code for _ in range(3)]
    assert codes == [502, 502, 200] and emulator.calls["me"] == 3
    with pytest.raises(ValueError):
        emulator.inject("nope", "error")
    with pytest.raises(ValueError):
        emulator.inject("me", "explode")  # type: ignore[arg-type]
    emulator.inject("me", "html")
    emulator.clear_faults()
    with client(emulator, password) as c:
        assert c.get("/wp-json/wp/v2/users/me").status_code == 200


def test_the_sanitizers_match_what_wordpress_stored() -> None:
    # Values measured on WordPress 6.1 (reference/wordpress.md and probes of the real site).
    assert sanitize_text("  Mary   Ann\t ") == "Mary Ann"
    assert sanitize_text("AT&T") == "AT&amp;T" and sanitize_text("A &amp; B") == "A &amp; B"
    assert sanitize_text("<b>Bold</b> Name") == "Bold Name"
    assert sanitize_title("a.b@c.d") == "a-bc-d" and sanitize_title("Mixed Slug!") == "mixed-slug"
    assert sanitize_title("sub1@example.test") == "sub1example-test"
    assert is_email("ann@example.test") and not is_email("José@example.test") and not is_email("not-an-email")


def test_served_connections_close_unless_kept_alive_and_the_server_counts_its_answers() -> None:
    emulator = WordPressEmulator()
    with emulator.serve() as url, httpx.Client(timeout=10) as c:
        closing = c.get(f"{url}/wp-json/")
        assert closing.headers["connection"] == "close"  # as php -S does
        emulator.keep_alive = True  # as WordPress behind nginx or Apache
        kept = c.get(f"{url}/wp-json/")
        assert "connection" not in kept.headers and kept.json() == closing.json()
        head = c.head(f"{url}/wp-json/wp/v2/users")
        assert head.status_code == 200 and head.content == b""
        assert emulator.loopback is not None and emulator.loopback.handled == 3
    assert emulator.loopback is None


def test_serve_answers_on_loopback_and_stops() -> None:
    emulator = WordPressEmulator()
    with emulator.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/wp-json/", timeout=10).json()["namespaces"][1] == "wp/v2"
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/wp-json/", timeout=2)
