"""``syncd test-connection``'s WordPress checks, on the emulator and on real WordPress sites with the
knobs of scripts/wp-site (a wrong application password, a subscriber's credentials, the REST API
disabled, Application Passwords unavailable, plain permalinks, no company meta)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from syncd.checks import Check
from syncd.checks.wordpress import run
from syncd.config import NewUsers, SyncSettings
from syncd.emulators.wordpress import WordPressEmulator
from syncd.model import Direction
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.conftest import Site, Sleeps, assert_no_secret, full_settings, unique, wordpress_settings
from tests.wordpress.test_contract_real import real_site

MakeSite = Callable[..., Site]


ROLE = "new users' role ([wordpress.new_users] role)"


def user_count(site: Site) -> int:
    with site.client() as client:
        response = client.get(site.rest_url("/users"), params={"context": "edit", "per_page": 1})
        response.raise_for_status()
        return int(response.headers["X-WP-Total"])


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.ok]


class CheckContract:
    """The diagnoses, whatever WordPress answers them; ``make_site(**knobs)`` is bound by subclasses."""

    @pytest.fixture
    def make_site(self) -> MakeSite:
        raise NotImplementedError

    @pytest.fixture
    def shared(self) -> Site:
        raise NotImplementedError

    def check(self, site: Site, *, password: str | None = None, username: str | None = None,
              **overrides: Any) -> list[Check]:
        wordpress = wordpress_settings(site, username=username or site.admin_user,
                                       application_password=SecretStr(password or site.app_password), **overrides)
        checks = run(full_settings(wordpress), sleep=Sleeps())
        assert_no_secret([c.line() for c in checks], {password or site.app_password, site.app_password})
        return checks

    def test_a_healthy_site_passes_every_check(self, shared: Site) -> None:
        checks = self.check(shared)
        assert failed(checks) == []
        assert [c.name for c in checks] == [
            "REST API reachable", "Application Passwords available", "application password accepted",
            "list users with emails and roles (context=edit)", "create users", ROLE, "edit users and their roles",
            "company field",
        ]
        assert "/wp-json/" in by_name(checks)["REST API reachable"].detail
        assert "billing_company" in by_name(checks)["company field"].detail

    def test_a_wrong_application_password(self, shared: Site) -> None:
        checks = self.check(shared, password="Wrong0pass1Wrong2pass3xyz")
        assert failed(checks) == ["application password accepted"]
        bad = checks[-1]
        assert "anonymous" in bad.detail and "Application Passwords" in bad.fix

    def test_a_subscribers_credentials(self, shared: Site) -> None:
        login = unique("sub")
        password = shared.add_user(login, "subscriber", f"{login}@example.test")
        checks = self.check(shared, username=login, password=password)
        assert by_name(checks)["application password accepted"].ok
        assert failed(checks) == ["list users with emails and roles (context=edit)", "create users",
                                  "edit users and their roles"]
        listing = by_name(checks)["list users with emails and roles (context=edit)"]
        assert "list_users" in listing.detail and "Administrator" in listing.fix
        assert "create_users" in by_name(checks)["create users"].detail
        assert "capabilities edit_users, promote_users" in by_name(checks)["edit users and their roles"].detail

    def test_a_role_that_does_not_exist_is_named_with_the_roles_that_do(self, shared: Site) -> None:
        before = user_count(shared)
        custom = unique("member")
        shared.add_role(custom, ["read"])
        checks = self.check(shared, new_users=NewUsers(role="ghost-role"))
        assert failed(checks) == [ROLE]
        bad = by_name(checks)[ROLE]
        assert bad.detail == ("the role 'ghost-role' does not exist on this site, so every user syncd creates "
                              "there would fail")
        assert bad.fix.startswith("set [wordpress.new_users] role to one that exists: subscriber, contributor, "
                                  "author, editor")
        assert "administrator" not in bad.fix
        assert by_name(self.check(shared, new_users=NewUsers(role=custom)))[ROLE].ok
        assert by_name(self.check(shared, new_users=NewUsers(role="editor")))[ROLE].detail == (
            "'editor' exists and may be given (probed safely: nobody was created)")
        assert user_count(shared) == before  # every probe was a create that could not succeed

    def test_the_role_is_not_checked_when_no_user_is_created_there(self, shared: Site) -> None:
        wordpress = wordpress_settings(shared, new_users=NewUsers(role="ghost-role"))
        settings = full_settings(wordpress).model_copy(update={"sync": SyncSettings(direction=Direction.WP_TO_WHMCS)})
        role = by_name(run(settings, sleep=Sleeps()))[ROLE]
        assert role.ok and role.detail == "not used: direction wp_to_whmcs never creates WordPress users"

    def test_the_rest_api_disabled(self, make_site: MakeSite) -> None:
        checks = self.check(make_site(rest_disabled=True))
        assert failed(checks) == ["REST API reachable"] and len(checks) == 1
        assert "rest_disabled" in checks[0].detail and "security plugin" in checks[0].fix

    def test_the_rest_api_closed_to_anonymous_requests_only(self, make_site: MakeSite) -> None:
        site = make_site(rest_disabled="anonymous")
        assert failed(self.check(site)) == []
        checks = self.check(site, password="Wrong0pass1Wrong2pass3xyz")
        assert by_name(checks)["REST API reachable"].ok
        assert "authenticated requests only" in by_name(checks)["REST API reachable"].detail
        assert failed(checks) == ["application password accepted"]

    def test_application_passwords_unavailable_over_http(self, make_site: MakeSite) -> None:
        checks = self.check(make_site(environment_type="production"))
        assert failed(checks) == ["Application Passwords available"]
        assert "https" in checks[-1].fix and "WP_ENVIRONMENT_TYPE" in checks[-1].fix

    def test_plain_permalinks_and_no_company_meta(self, make_site: MakeSite) -> None:
        site = make_site(permalinks="plain", user_meta=False)
        checks = self.check(site)
        assert failed(checks) == []
        assert "rest_route" in by_name(checks)["REST API reachable"].detail
        assert "not synchronised" in by_name(checks)["company field"].detail
        configured = self.check(site, company_meta_key="company_name")
        assert failed(configured) == ["company field"]
        assert "register_meta('user', 'company_name'" in configured[-1].fix


class TestChecksOnEmulator(CheckContract):
    @pytest.fixture
    def shared(self, emulator_site: Site) -> Site:
        return emulator_site

    @pytest.fixture
    def make_site(self) -> Iterator[MakeSite]:
        running: list[WordPressEmulator] = []

        def make(*, rest_disabled: Any = False, environment_type: str = "local", permalinks: str = "pretty",
                 user_meta: bool = True) -> Site:
            emulator = WordPressEmulator(registered_meta=None if user_meta else {})
            password = emulator.add_app_password("admin")
            emulator.rest_disabled = {False: None, True: "all"}.get(rest_disabled, rest_disabled)
            emulator.environment = "local" if environment_type == "local" else "production"
            emulator.plain_permalinks = permalinks == "plain"
            url = emulator.start()
            running.append(emulator)

            def unused(*_: Any) -> Any:
                raise AssertionError("not needed by the check tests")

            return Site("emulator", url, "admin", password, unused, unused, unused, unused)

        yield make
        for emulator in running:
            emulator.stop()

    def test_an_unreachable_site(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again below: nothing listens there

        def unused(*_: Any) -> Any:
            raise AssertionError

        site = Site("nowhere", f"http://127.0.0.1:{port}", "admin", "x" * 24, unused, unused, unused, unused)
        checks = self.check(site)
        assert failed(checks) == ["REST API reachable"]
        assert checks[0].detail.startswith("cannot reach WordPress at ")
        assert "the connection was refused" in checks[0].detail and "Errno" not in checks[0].detail
        assert "check the host and port in [wordpress] url" in checks[0].fix

    def test_an_html_site_without_rest(self, make_site: MakeSite) -> None:
        site = make_site()
        emulator_site_html = WordPressEmulator()
        emulator_site_html.rest_disabled = "html"
        password = emulator_site_html.add_app_password("admin")
        with emulator_site_html.serve() as url:
            html_site = Site("html", url, "admin", password, site.add_user, site.seed, site.add_role, site.mails)
            checks = self.check(html_site)
        assert failed(checks) == ["REST API reachable"]
        assert "HTML page" in checks[0].detail and "switched off" in checks[0].fix


class TestChecksOnRealWordPress(CheckContract):
    @pytest.fixture
    def shared(self, wordpress_site: WordPressSite) -> Site:
        return real_site(wordpress_site)

    @pytest.fixture
    def make_site(self, fresh_wordpress_site: WordPressSiteFactory) -> MakeSite:
        def make(**knobs: Any) -> Site:
            return real_site(fresh_wordpress_site(**knobs))

        return make

    def test_the_users_schema_lists_no_roles_so_the_role_is_probed(self, shared: Site) -> None:
        """Why wordpress_roles probes with a create: the schema gives ``roles`` no enum to read."""
        with shared.client() as client:
            schema = client.options(shared.rest_url("/users")).json()["schema"]
        assert schema["properties"]["roles"] == {"description": "Roles assigned to the user.", "type": "array",
                                                 "items": {"type": "string"}, "context": ["edit"]}
