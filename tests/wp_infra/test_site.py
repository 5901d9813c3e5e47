"""The shared site (``wordpress_site``): it runs, it is configured as reference/wordpress.md says,
and its helpers (add_user, reset, seed, php, mail_log) do what they promise."""

from __future__ import annotations

import json

import httpx
import psutil
import pytest

from tests.fixtures_wordpress import WordPressSite, WordPressSiteError
from tests.wp_infra.rest import error_code


def test_admin_app_password_reads_users_me_in_edit_context(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    r = http.get(f"{wordpress_site.api}/users/me", params={"context": "edit"}, auth=wordpress_site.auth)
    assert r.status_code == 200
    me = r.json()
    assert me["username"] == wordpress_site.admin_user
    assert me["roles"] == ["administrator"]
    assert "email" in me  # an edit-context field: anonymous or view context would not carry it


def test_pretty_permalinks_serve_wp_json(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    assert wordpress_site.permalinks == "pretty"
    assert wordpress_site.api == f"{wordpress_site.url}/wp-json/wp/v2"
    r = http.get(f"{wordpress_site.url}/?rest_route=/wp/v2/users/me", auth=wordpress_site.auth)
    assert r.status_code == 200  # the fallback form answers too


def test_wrong_app_password_runs_as_anonymous(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    r = http.get(f"{wordpress_site.api}/users/me", auth=(wordpress_site.admin_user, "x" * 24))
    assert (r.status_code, error_code(r)) == (401, "rest_not_logged_in")


def test_login_password_is_refused_by_rest(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    r = http.get(f"{wordpress_site.api}/users/me", auth=(wordpress_site.admin_user, wordpress_site.admin_password))
    assert r.status_code == 401


def test_rest_index_offers_application_passwords(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    assert wordpress_site.environment_type == "local"
    index = http.get(f"{wordpress_site.url}/wp-json/").json()
    assert "application-passwords" in index["authentication"]


def test_wp_config_knobs(wordpress_site: WordPressSite) -> None:
    out = wordpress_site.php(
        "echo json_encode([wp_get_environment_type(), DISABLE_WP_CRON, WP_HTTP_BLOCK_EXTERNAL,"
        " get_option('permalink_structure'), WP_HOME]);"
    )
    assert json.loads(out) == ["local", True, True, "/%postname%/", wordpress_site.url]


def test_servers_listen_on_loopback_only(wordpress_site: WordPressSite) -> None:
    php_listening = {c.laddr for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
                     and c.laddr.port == wordpress_site.port}
    assert php_listening and all(addr.ip == "127.0.0.1" for addr in php_listening)
    mariadb = psutil.Process(wordpress_site.mariadb_pid)
    assert mariadb.net_connections(kind="inet") == []  # --skip-networking: the unix socket only
    assert wordpress_site.db_socket.is_socket()


def test_registered_user_meta_is_storable(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    assert wordpress_site.user_meta
    r = http.post(f"{wordpress_site.api}/users", auth=wordpress_site.auth, json={
        "username": "meta_user", "email": "meta.user@example.test", "password": "Meta-pass-123",
        "first_name": "Meta", "last_name": "User", "meta": {"whmcs_client_id": 42, "billing_company": "ACME Ltd"}})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    got = http.get(f"{wordpress_site.api}/users/{user_id}", params={"context": "edit"}, auth=wordpress_site.auth)
    assert got.json()["meta"]["whmcs_client_id"] == 42
    assert got.json()["meta"]["billing_company"] == "ACME Ltd"
    bad = http.post(f"{wordpress_site.api}/users/{user_id}", auth=wordpress_site.auth,
                    json={"meta": {"whmcs_client_id": "abc"}})
    assert (bad.status_code, error_code(bad)) == (400, "rest_invalid_type")


def test_added_subscriber_has_working_but_limited_credentials(
    wordpress_site: WordPressSite, http: httpx.Client
) -> None:
    password = wordpress_site.add_user("sub_limited", "subscriber")
    auth = ("sub_limited", password)
    me = http.get(f"{wordpress_site.api}/users/me", params={"context": "edit"}, auth=auth)
    assert me.status_code == 200
    assert me.json()["roles"] == ["subscriber"]
    listing = http.get(f"{wordpress_site.api}/users", params={"context": "edit"}, auth=auth)
    assert (listing.status_code, error_code(listing)) == (403, "rest_forbidden_context")
    create = http.post(f"{wordpress_site.api}/users", auth=auth,
                       json={"username": "nope", "email": "nope@example.test", "password": "Nope-pass-123"})
    assert (create.status_code, error_code(create)) == (403, "rest_cannot_create_user")


def test_add_user_with_an_unknown_role_fails_clearly(wordpress_site: WordPressSite) -> None:
    with pytest.raises(WordPressSiteError, match="unknown role: customer"):
        wordpress_site.add_user("no_such_role", "customer")


def _total(site: WordPressSite, http: httpx.Client) -> int:
    r = http.get(f"{site.api}/users", params={"context": "edit", "per_page": 1}, auth=site.auth)
    assert r.status_code == 200
    return int(r.headers["x-wp-total"])


def test_reset_leaves_only_the_admin(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    wordpress_site.add_user("reset_sub", "subscriber")
    wordpress_site.add_user("reset_admin2", "administrator")
    wordpress_site.seed(30, prefix="resetseed")
    assert _total(wordpress_site, http) >= 33
    assert wordpress_site.reset() >= 32
    r = http.get(f"{wordpress_site.api}/users", params={"context": "edit"}, auth=wordpress_site.auth)
    assert [u["username"] for u in r.json()] == [wordpress_site.admin_user]
    assert wordpress_site.mail_log() == []
    # The admin's application password still works after a reset.
    me = http.get(f"{wordpress_site.api}/users/me", auth=wordpress_site.auth)
    assert me.status_code == 200


def test_seeded_users_look_like_rest_created_ones(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    wordpress_site.reset()
    wordpress_site.seed(150, prefix="shape")
    assert _total(wordpress_site, http) == 151
    created = http.post(f"{wordpress_site.api}/users", auth=wordpress_site.auth, json={
        "username": "shape_rest", "email": "shape_rest@example.test", "password": "Shape-pass-123",
        "first_name": "Shape", "last_name": "Rest", "name": "Shape Rest", "roles": ["subscriber"]})
    assert created.status_code == 201, created.text
    listing = http.get(f"{wordpress_site.api}/users", auth=wordpress_site.auth,
                       params={"context": "edit", "per_page": 100, "page": 2, "orderby": "id"})
    seeded = next(u for u in listing.json() if u["username"] == "shape-00120")
    rest = created.json()
    assert seeded.keys() == rest.keys()
    assert {k: seeded[k] for k in ("first_name", "last_name", "name", "email", "nickname", "slug", "roles")} == {
        "first_name": "Seed120", "last_name": "User120", "name": "Seed120 User120",
        "email": "shape-00120@example.test", "nickname": "shape-00120", "slug": "shape-00120",
        "roles": ["subscriber"]}
    for key in ("capabilities", "extra_capabilities", "locale", "meta"):
        assert seeded[key] == rest[key], key
    wordpress_site.reset()


def test_seed_refuses_a_prefix_in_use(wordpress_site: WordPressSite) -> None:
    wordpress_site.seed(2, prefix="twice")
    with pytest.raises(WordPressSiteError, match="exist already"):
        wordpress_site.seed(2, prefix="twice")


def test_mail_sink_records_an_email_change(wordpress_site: WordPressSite, http: httpx.Client) -> None:
    wordpress_site.reset()
    r = http.post(f"{wordpress_site.api}/users", auth=wordpress_site.auth, json={
        "username": "mailer", "email": "old.mail@example.test", "password": "Mail-pass-123"})
    assert r.status_code == 201
    assert wordpress_site.mail_log() == []  # creating a user through REST sends nothing
    upd = http.post(f"{wordpress_site.api}/users/{r.json()['id']}", auth=wordpress_site.auth,
                    json={"email": "new.mail@example.test"})
    assert upd.status_code == 200
    mails = wordpress_site.mail_log()
    assert [m["to"] for m in mails] == ["old.mail@example.test"]
    assert "Email Changed" in mails[0]["subject"]


def test_repr_hides_the_secrets(wordpress_site: WordPressSite) -> None:
    text = repr(wordpress_site)
    assert wordpress_site.app_password not in text
    assert wordpress_site.admin_password not in text
    assert str(wordpress_site.port) in text

