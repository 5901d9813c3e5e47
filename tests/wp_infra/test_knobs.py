"""Fresh sites with knobs (``fresh_wordpress_site``) behave as reference/wordpress.md describes:
the REST API blocked by a "security plugin", Application Passwords unavailable in production over
http, plain permalinks (only ``?rest_route=`` works), user meta not registered."""

from __future__ import annotations

import httpx

from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wp_infra.rest import error_code, is_json


def test_rest_disabled_for_everyone(fresh_wordpress_site: WordPressSiteFactory, http: httpx.Client) -> None:
    site = fresh_wordpress_site(rest_disabled=True)
    assert site.rest_disabled == "all"
    for url in (f"{site.url}/wp-json/", f"{site.api}/users/me", f"{site.url}/?rest_route=/wp/v2/users"):
        for auth in (None, site.auth):
            r = http.get(url, auth=auth) if auth else http.get(url)
            assert (r.status_code, error_code(r)) == (401, "rest_disabled"), url
            assert "REST API restricted" in r.json()["message"]
    assert http.get(f"{site.url}/").status_code == 200  # WordPress itself runs


def test_rest_disabled_for_anonymous_only(fresh_wordpress_site: WordPressSiteFactory, http: httpx.Client) -> None:
    site = fresh_wordpress_site(rest_disabled="anonymous")
    anonymous = http.get(f"{site.url}/wp-json/")
    assert (anonymous.status_code, error_code(anonymous)) == (401, "rest_login_required")
    me = http.get(f"{site.api}/users/me", params={"context": "edit"}, auth=site.auth)
    assert me.status_code == 200
    # A wrong password is anonymous, so the plugin's answer replaces core's rest_not_logged_in.
    wrong = http.get(f"{site.api}/users/me", auth=(site.admin_user, "x" * 24))
    assert (wrong.status_code, error_code(wrong)) == (401, "rest_login_required")


def test_production_over_http_makes_app_passwords_unavailable(
    fresh_wordpress_site: WordPressSiteFactory, http: httpx.Client
) -> None:
    site = fresh_wordpress_site(environment_type="production")
    assert site.php("echo wp_get_environment_type();") == "production"
    index = http.get(f"{site.url}/wp-json/")
    assert index.status_code == 200
    assert index.json()["authentication"] == []
    # The password exists and is right, but the request runs as anonymous.
    me = http.get(f"{site.api}/users/me", params={"context": "edit"}, auth=site.auth)
    assert (me.status_code, error_code(me)) == (401, "rest_not_logged_in")
    # The fix a site owner can apply without https: the filter makes the same password work.
    site.php("file_put_contents(WPMU_PLUGIN_DIR . '/90-allow-app-passwords.php',"
             " \"<?php add_filter('wp_is_application_passwords_available', '__return_true');\");")
    me = http.get(f"{site.api}/users/me", params={"context": "edit"}, auth=site.auth)
    assert me.status_code == 200


def test_plain_permalinks_only_rest_route_works(
    fresh_wordpress_site: WordPressSiteFactory, http: httpx.Client
) -> None:
    site = fresh_wordpress_site(permalinks="plain")
    assert site.api == f"{site.url}/?rest_route=/wp/v2"
    me = http.get(site.rest_url("/users/me", {"context": "edit"}), auth=site.auth)
    assert me.status_code == 200 and me.json()["username"] == site.admin_user
    assert "email" in me.json()  # context=edit reached WordPress
    # httpx's params= replaces the query string, rest_route included: the front page answers.
    dropped = http.get(f"{site.api}/users/me", params={"context": "edit"}, auth=site.auth)
    assert not is_json(dropped)
    pretty = http.get(f"{site.url}/wp-json/wp/v2/users/me", auth=site.auth)
    assert pretty.status_code == 301
    followed = http.get(pretty.headers["location"], auth=site.auth)
    assert followed.status_code == 200 and not is_json(followed)  # the front page, not the API
    # REST discovery still points at the form that works.
    assert "?rest_route=/" in http.get(f"{site.url}/").headers["link"]


def test_without_registered_meta_company_is_silently_dropped(
    fresh_wordpress_site: WordPressSiteFactory, http: httpx.Client
) -> None:
    site = fresh_wordpress_site(user_meta=False)
    r = http.post(f"{site.api}/users", auth=site.auth, json={
        "username": "nometa", "email": "nometa@example.test", "password": "No-meta-123",
        "meta": {"billing_company": "ACME Ltd", "whmcs_client_id": 7}})
    assert r.status_code == 201
    assert "billing_company" not in r.json()["meta"]
    assert "whmcs_client_id" not in r.json()["meta"]


def test_fresh_sites_are_independent(
    fresh_wordpress_site: WordPressSiteFactory, wordpress_site: WordPressSite, http: httpx.Client
) -> None:
    site = fresh_wordpress_site()
    assert site.dir != wordpress_site.dir and site.port != wordpress_site.port
    r = http.post(f"{site.api}/users", auth=site.auth, json={
        "username": "only_here", "email": "only_here@example.test", "password": "Only-here-123"})
    assert r.status_code == 201
    elsewhere = http.get(f"{wordpress_site.api}/users", auth=wordpress_site.auth,
                         params={"context": "edit", "search": "only_here"})
    assert elsewhere.json() == []
