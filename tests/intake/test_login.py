"""The login fallback's decision (``app.login_job`` → ``syncd.login``) against both emulators served
on loopback, with a real state store: who may log in with the password WHMCS has, who is refused,
and that an unknown username costs the same ValidateLogin call as a wrong password."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd import app, config
from syncd.passwords import Password
from syncd.service.verify import Verdict
from tests.e2e.emulated import Emulated, emulated
from tests.intake.harness import captured_logs

SECRET = "login-test-whmcs-secret-41"
PASSWORD = "Ann's WHMCS pa55 \"word\" é"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as w:
        yield w


def _settings(world: Emulated, **sync: object) -> config.Settings:
    world.write_config(**sync)
    return config.load(world.config, env={})


def _runs() -> tuple[list[str], Callable[[Callable[[], object]], bool]]:
    ran: list[str] = []

    def locked(work: Callable[[], object]) -> bool:
        ran.append("run")
        work()
        return True

    return ran, locked


def _check(settings: config.Settings, login: str, password: str = PASSWORD) -> tuple[Verdict, list[str]]:
    ran, locked = _runs()
    secret = Password(password)
    with captured_logs() as lines:
        verdict = app.login_job(settings, login, secret, locked)
    assert all(password not in line for line in lines)
    return verdict, ran


def _linked(world: Emulated, settings: config.Settings) -> int:
    world.whmcs.add_client("ann@example.com", "Ann", "Archer", password=PASSWORD)
    app.sync_once(settings)
    return next(u.id for u in world.wp.users.values() if u.email == "ann@example.com")


def test_a_linked_client_logs_in_by_email_and_by_username(world: Emulated) -> None:
    settings = _settings(world)
    wp_id = _linked(world, settings)
    login = world.wp.users[wp_id].login
    for typed in ("ann@example.com", " ANN@Example.com ", login, login.upper()):
        verdict, ran = _check(settings, typed)
        assert verdict.user_id == wp_id and ran == [], (typed, verdict)


def test_a_wrong_password_an_unknown_email_and_an_unknown_username_are_refused_alike(world: Emulated) -> None:
    settings = _settings(world)
    _linked(world, settings)
    calls = world.whmcs.calls["ValidateLogin"]
    for typed, password in (("ann@example.com", PASSWORD + "x"), ("nobody@example.com", PASSWORD),
                            ("no-such-username", PASSWORD)):
        verdict, ran = _check(settings, typed, password)
        assert verdict.user_id is None and verdict.counts and verdict.level == "INFO" and ran == []
        calls += 1
        assert world.whmcs.calls["ValidateLogin"] == calls, typed  # each asked WHMCS exactly once


def test_a_client_without_a_wordpress_account_gets_one_first(world: Emulated) -> None:
    settings = _settings(world)
    app.sync_once(settings)
    world.whmcs.add_client("new@example.com", "New", "Comer", password=PASSWORD)
    verdict, ran = _check(settings, "new@example.com")
    created = [u for u in world.wp.users.values() if u.email == "new@example.com"]
    assert ran == ["run"] and len(created) == 1 and verdict.user_id == created[0].id


def test_a_direction_that_does_not_write_to_wordpress_creates_nothing(world: Emulated) -> None:
    settings = _settings(world, direction="wp_to_whmcs")
    world.whmcs.add_client("new@example.com", "New", "Comer", password=PASSWORD)
    verdict, ran = _check(settings, "new@example.com")
    assert verdict.user_id is None and ran == [] and "does not create WordPress accounts" in verdict.reason
    assert not any(u.email == "new@example.com" for u in world.wp.users.values())


def test_a_run_that_cannot_start_is_refused_without_counting(world: Emulated) -> None:
    settings = _settings(world)
    world.whmcs.add_client("new@example.com", "New", "Comer", password=PASSWORD)
    verdict = app.login_job(settings, "new@example.com", Password(PASSWORD), lambda work: False)
    assert verdict.user_id is None and not verdict.counts and verdict.level == "WARNING"


def test_an_excluded_role_an_administrator_and_a_closed_client_are_refused(world: Emulated) -> None:
    settings = _settings(world, exclude_wp_roles=["editor"])
    wp_id = _linked(world, settings)
    world.wp.users[wp_id].roles = ["editor"]
    verdict, _ = _check(settings, "ann@example.com")
    assert verdict.user_id is None and "excluded role editor" in verdict.reason
    # The WordPress administrator's email at WHMCS, with a password: never linked, never let in.
    world.whmcs.add_client("admin@example.com", "Boss", "Admin", password=PASSWORD)
    verdict, _ = _check(settings, "admin@example.com")
    assert verdict.user_id is None
    verdict, _ = _check(settings, "admin")  # the admin's username
    assert verdict.user_id is None
    world.whmcs.add_client("gone@example.com", "Gone", "Away", status="Closed", password=PASSWORD)
    verdict, ran = _check(settings, "gone@example.com")
    assert verdict.user_id is None and "no active WHMCS client" in verdict.reason and ran == []


def test_a_side_down_is_a_warning_that_does_not_count(world: Emulated, tmp_path: Path) -> None:
    settings = _settings(world)
    _linked(world, settings)
    world.whmcs.stop()
    down = settings.model_copy(update={"whmcs": settings.whmcs.model_copy(update={"retries": 0})})
    verdict, _ = _check(down, "ann@example.com")
    assert verdict.user_id is None and not verdict.counts and verdict.level == "WARNING"
