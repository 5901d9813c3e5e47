"""``syncd.carry_to_whmcs`` (issue 14 part 2, DESIGN §11): a password set on WordPress, held by an event
entry, is offered to the one-user run's WHMCS create for that user's email only (read fresh from
WordPress first), or given up with one INFO line naming the user — carry off, a direction that does not
write to WHMCS, an administrator or an excluded role, a WHMCS client that already exists (once per
user; with ``[whmcs] password_reset_on_wp_change`` WHMCS's reset email each time). It is forgotten in
every case but a run that failed, which the worker tries again with it. Plus the new key as
``check-config`` sees it (a process): a bad value named, exit 2; true with carry off, a warning."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from syncd import carry_to_whmcs, config
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import Unreachable
from syncd.model import Link, Side
from syncd.passwords import Password
from syncd.service.events import Pending
from syncd.state.store import SqlStateStore
from syncd.sync.engine import RunReport
from tests.intake.harness import captured_logs

PASSWORD = "From-WordPress-Pa55-91c"
WHMCS_SECRET = "whmcs-secret-1"


def _settings(tmp_path: Path, *, carry: bool = True, direction: str = "both", reset: bool = False) -> config.Settings:
    return config.parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": WHMCS_SECRET,
                  "password_reset_on_wp_change": reset},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
        "sync": {"direction": direction, "state_url": f"sqlite:///{tmp_path / 'state.db'}"},
        "passwords": {"carry": carry}}, env={})


class FakeWordPress:
    """The WordPress user as ``WordPressAdapter.get`` / ``protection`` would see it now."""

    def __init__(self, user: Mapping[str, Any], reason: str = "") -> None:
        self.user, self.reason, self.closed = user, reason, 0

    def get(self, remote_id: int) -> Mapping[str, Any]:
        return self.user

    def protection(self, data: Mapping[str, Any]) -> str:
        return self.reason

    def close(self) -> None:
        self.closed += 1


class World:
    """The WHMCS emulator, adapters on it, and a stand-in for the one-user run that creates the
    client of ``create`` (or nothing) through the WHMCS adapter the run was given."""

    def __init__(self, *, reason: str = "", create: str | None = "ann@example.com") -> None:
        self.emulator = WhmcsEmulator(identifier="i", secret=WHMCS_SECRET)
        self.wordpress = FakeWordPress({"id": 9, "email": "Ann@Example.com", "roles": ["subscriber"]}, reason)
        self.create = create
        self.runs = 0
        self.fail: Exception | None = None

    def whmcs(self, settings: config.Settings) -> WhmcsAdapter:
        return WhmcsAdapter(settings.whmcs, SecretStr(WHMCS_SECRET), transport=self.emulator.transport())

    def run(self, adapters: Callable[[config.Settings], Any], settings: config.Settings) -> RunReport:
        self.runs += 1
        whmcs, _wp = adapters(settings)
        if self.fail is not None:
            raise self.fail
        if self.create and self.emulator.client_by_email(self.create) is None:
            whmcs.create({"email": self.create, "first_name": "Ann", "last_name": "A"})
        return RunReport(run_id=self.runs, started_at=datetime.now(UTC))

    def event_run(self, settings: config.Settings, entry: Pending) -> RunReport:
        return carry_to_whmcs.event_run(settings, entry, lambda adapters: self.run(adapters, settings),
                                        whmcs=self.whmcs, wordpress=lambda s: self.wordpress)  # type: ignore[arg-type,return-value]


def _entry(password: Password) -> Pending:
    entry = Pending(received=0.0, wp_id=9, email="ann@example.com")
    entry.hold_password(Side.WORDPRESS, password)
    return entry


@pytest.fixture(autouse=True)
def _nobody_told() -> None:
    carry_to_whmcs._told.clear()  # once per user per process: as if each test were a fresh process


def test_the_client_the_run_creates_gets_the_password(tmp_path: Path) -> None:
    world, password = World(), Password(PASSWORD)
    with captured_logs() as lines:
        world.event_run(_settings(tmp_path), _entry(password))
    assert world.emulator.password_matches("ann@example.com", PASSWORD)
    assert not password.held and world.wordpress.closed == 1
    assert any("the WHMCS client created for WordPress user #9 (ann@example.com) has the password just set on "
               "WordPress" in line for line in lines)
    assert all(PASSWORD not in line for line in lines)


@pytest.mark.parametrize(("kwargs", "reason", "says"), [
    ({"carry": False}, "", "[passwords] carry is off"),
    ({"direction": "whmcs_to_wp"}, "", "the sync direction (whmcs_to_wp) does not write to WHMCS"),
    ({}, "it has the excluded role editor", "not carried to WHMCS: it has the excluded role editor"),
    ({}, "its capabilities include manage_options (an administrator in effect)", "an administrator in effect"),
])
def test_a_password_that_may_not_go_is_dropped_and_the_run_still_runs(
        tmp_path: Path, kwargs: dict[str, Any], reason: str, says: str) -> None:
    world, password = World(reason=reason), Password(PASSWORD)
    with captured_logs() as lines:
        world.event_run(_settings(tmp_path, **kwargs), _entry(password))
    assert world.runs == 1 and not password.held
    assert not world.emulator.password_matches("ann@example.com", PASSWORD)  # a random one, if created at all
    (line,) = [li for li in lines if "not carried" in li]
    assert line.startswith("INFO") and says in line and "#9" in line and PASSWORD not in line


def test_an_existing_whmcs_user_is_said_once_and_sent_the_reset_email_with_the_option(tmp_path: Path) -> None:
    world = World(create=None)
    cid = world.emulator.add_client("ann@example.com", "Ann", "A")
    owner = world.emulator.clients[cid].owner_user_id
    settings = _settings(tmp_path)
    with SqlStateStore.open(settings.sync.state_url) as store:
        store.save_link(Link(whmcs_id=cid, wp_id=9, base={"email": "ann@example.com"}, owner_user_id=owner))
    with captured_logs() as lines:
        world.event_run(settings, _entry(Password(PASSWORD)))
        world.event_run(settings, _entry(Password(PASSWORD)))
    said = [li for li in lines if "WHMCS's API cannot set an existing user's password" in li]
    assert len(said) == 1 and said[0].startswith("INFO") and f"WHMCS client #{cid}" in said[0]
    assert "password_reset_on_wp_change = true" in said[0]
    assert world.emulator.emails_sent == []
    reset = _settings(tmp_path, reset=True)
    with captured_logs() as lines:
        world.event_run(reset, _entry(Password(PASSWORD)))
        world.event_run(reset, _entry(Password(PASSWORD)))
    assert world.emulator.emails_sent == [("Password Reset Validation", "ann@example.com")] * 2
    assert not any("cannot set" in li for li in lines)  # already said for this user
    assert sum("sent WHMCS's password-reset email" in li for li in lines) == 2
    assert not world.emulator.password_matches("ann@example.com", PASSWORD)


def test_no_link_after_the_run_drops_it(tmp_path: Path) -> None:
    world, password = World(create=None), Password(PASSWORD)
    with captured_logs() as lines:
        world.event_run(_settings(tmp_path), _entry(password))
    assert not password.held
    assert any("no active WHMCS client is linked to WordPress user #9" in li for li in lines)


def test_a_run_that_could_not_be_made_keeps_it_for_the_worker_s_next_try(tmp_path: Path) -> None:
    world, password = World(), Password(PASSWORD)
    world.fail = Unreachable("WHMCS did not answer", side="whmcs")
    entry = _entry(password)
    with pytest.raises(Unreachable):
        world.event_run(_settings(tmp_path), entry)
    assert password.held and entry.password is password
    world.fail = None
    world.event_run(_settings(tmp_path), entry)  # the next try
    assert world.emulator.password_matches("ann@example.com", PASSWORD) and not password.held


def _check_config(tmp_path: Path, whmcs_extra: str, passwords: str = "") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "syncd.toml"
    path.write_text(f'[whmcs]\nurl = "https://b.example.com/"\nidentifier = "i"\nsecret = "whmcs-secret-1234"\n'
                    f'{whmcs_extra}[wordpress]\nurl = "https://w.example.com/"\nusername = "u"\n'
                    f'application_password = "bcde FGHI jklm NOPQ"\n'
                    f'[sync]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n{passwords}', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "syncd", "--config", str(path), "check-config"],
                          capture_output=True, text=True, timeout=60)


def test_check_config_names_a_bad_value_and_warns_when_carry_is_off(tmp_path: Path) -> None:
    bad = _check_config(tmp_path, 'password_reset_on_wp_change = "yes please"\n')
    assert bad.returncode == 2 and "password_reset_on_wp_change" in bad.stderr, bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    idle = _check_config(tmp_path, "password_reset_on_wp_change = true\n")
    assert idle.returncode == 0, idle.stderr
    assert "password_reset_on_wp_change = true does nothing while [passwords] carry is off" in idle.stdout
    on = _check_config(tmp_path, "password_reset_on_wp_change = true\n", "[passwords]\ncarry = true\n")
    assert on.returncode == 0 and "does nothing" not in on.stdout, on.stdout + on.stderr
    assert config.parse({"whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "s-12345"},
                         "wordpress": {"url": "https://w.example.com/", "username": "u",
                                       "application_password": "bcde FGHI jklm"}},
                        env={}).whmcs.password_reset_on_wp_change is False
