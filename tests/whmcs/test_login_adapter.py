"""``WhmcsAdapter.validate_login`` (DESIGN §11's login fallback) against the emulator's ValidateLogin,
over loopback HTTP and in process: True for the password a user has, False for WHMCS's one refusal
(a wrong password and an unknown email alike), any other failure raised as the usual error; the
password only in that call's form and never in a log line or an exception."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import BadCredentials, SideError
from syncd.passwords import Password
from tests.whmcs.conftest import AdapterFactory, Recorder

PASSWORD = "Kn0wn-to-WHMCS pass \"word\" é"


@pytest.mark.parametrize("mode", ["inprocess", "loopback"])
def test_the_users_password_validates_and_nothing_else(emulator: WhmcsEmulator, make_adapter: AdapterFactory,
                                                      log_lines: list[str], mode: str) -> None:
    client_id = emulator.add_client("pat@example.com", "Pat", "Doe", password=PASSWORD)
    assert client_id
    adapter = make_adapter(mode)
    assert adapter.validate_login("pat@example.com", Password(PASSWORD)) is True
    assert adapter.validate_login("  PAT@example.com ", Password(PASSWORD)) is True  # as WHMCS: case-insensitive
    assert adapter.validate_login("pat@example.com", Password(PASSWORD + "x")) is False
    assert adapter.validate_login("nobody@example.com", Password(PASSWORD)) is False
    assert adapter.validate_login("ann@example.com", Password(PASSWORD)) is False  # seeded with no password
    assert all(PASSWORD not in line for line in log_lines)


def test_the_password_is_sent_only_as_password2_of_validatelogin(emulator: WhmcsEmulator,
                                                                 make_adapter: AdapterFactory) -> None:
    emulator.add_client("pat@example.com", "Pat", "Doe", password=PASSWORD)
    recorder = Recorder(emulator.transport())
    adapter = make_adapter(transport=recorder)
    adapter.validate_login("pat@example.com", Password(PASSWORD))
    (form,) = recorder.forms
    assert form["action"] == "ValidateLogin" and form["email"] == "pat@example.com" and form["password2"] == PASSWORD


def test_another_failure_is_raised_without_the_password(emulator: WhmcsEmulator, make_adapter: AdapterFactory,
                                                        log_lines: list[str]) -> None:
    emulator.add_client("pat@example.com", "Pat", "Doe", password=PASSWORD)
    wrong = make_adapter(secret=SecretStr("not-the-secret"))
    with pytest.raises(BadCredentials):
        wrong.validate_login("pat@example.com", Password(PASSWORD))

    def echo(request: httpx.Request) -> httpx.Response:
        # A WHMCS (or a plugin hooked into it) that echoes what it was sent in its refusal.
        return httpx.Response(200, json={"result": "error", "message": f"Rejected {PASSWORD} for now"})

    echoing = make_adapter(transport=httpx.MockTransport(echo))
    with pytest.raises(SideError) as raised:
        echoing.validate_login("pat@example.com", Password(PASSWORD))
    assert PASSWORD not in str(raised.value) and "***" in str(raised.value)
    assert all(PASSWORD not in line for line in log_lines)


def test_a_forgotten_password_is_not_sent(make_adapter: AdapterFactory) -> None:
    adapter: WhmcsAdapter = make_adapter()
    password = Password(PASSWORD)
    password.forget()
    with pytest.raises(ValueError):
        adapter.validate_login("pat@example.com", password)
