"""The hand-off of a password set on WordPress to the WHMCS create (issue 14 part 2, DESIGN §11):
``WhmcsAdapter.offer_password`` before a one-user run; only the create of that email sends it as
``password2`` (the emulator then validates it with ``ValidateLogin``), once; it is forgotten as soon
as AddClient was sent, accepted or refused; another email's create gets a random password; a
client created with a person's own password gets no reset email; and no error message shows it."""

from __future__ import annotations

import pytest
from loguru import logger
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.config import NewClients
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import RemoteRejected
from syncd.passwords import Password
from tests.whmcs.conftest import IDENTIFIER, SECRET, whmcs_settings

PASSWORD = "Set-on-WordPress-Pa55 'q'"


def _adapter(emulator: WhmcsEmulator, **new_clients: object) -> WhmcsAdapter:
    settings = whmcs_settings(new_clients=NewClients(**new_clients))  # type: ignore[arg-type]
    return WhmcsAdapter(settings, SecretStr(SECRET), transport=emulator.transport())


def _validates(emulator: WhmcsEmulator, email: str, password: str) -> bool:
    status, _headers, body = emulator.handle({"action": "ValidateLogin", "identifier": IDENTIFIER, "secret": SECRET,
                                              "responsetype": "json", "email": email, "password2": password},
                                             "127.0.0.1")
    return status == 200 and b'"success"' in body


def test_the_create_of_the_offered_email_sends_that_password_once_and_forgets_it() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    password = Password(PASSWORD)
    with _adapter(emulator) as adapter:
        adapter.offer_password("  Ann@Example.com ", password)
        other = adapter.create({"email": "bob@example.com", "first_name": "Bob", "last_name": "B"})
        assert password.held and not adapter.sent_offered_password  # another email: a random password
        ann = adapter.create({"email": "ann@example.com", "first_name": "Ann", "last_name": "A"})
        assert adapter.sent_offered_password and not password.held  # sent, then forgotten
        again = adapter.create({"email": "ann2@example.com", "first_name": "Ann", "last_name": "A"})
    assert emulator.password_matches("ann@example.com", PASSWORD)
    assert _validates(emulator, "ann@example.com", PASSWORD)  # through the API, as WHMCS's login would
    assert not _validates(emulator, "ann@example.com", PASSWORD + "x")
    assert not emulator.password_matches("bob@example.com", PASSWORD)
    assert not emulator.password_matches("ann2@example.com", PASSWORD)
    assert len({other.remote_id, ann.remote_id, again.remote_id}) == 3


def test_without_an_offer_the_password_is_random() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    with _adapter(emulator) as adapter:
        adapter.create({"email": "ann@example.com", "first_name": "Ann", "last_name": "A"})
        assert not adapter.sent_offered_password
    assert not emulator.password_matches("ann@example.com", PASSWORD)


def test_a_password_already_forgotten_is_not_sent() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    password = Password(PASSWORD)
    with _adapter(emulator) as adapter:
        adapter.offer_password("ann@example.com", password)
        password.forget()  # given up elsewhere (the worker stopping)
        adapter.create({"email": "ann@example.com", "first_name": "Ann", "last_name": "A"})
        assert not adapter.sent_offered_password


def test_a_person_s_own_password_gets_no_reset_email_a_random_one_does() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    with _adapter(emulator, send_password_reset=True) as adapter:
        adapter.offer_password("ann@example.com", Password(PASSWORD))
        adapter.create({"email": "ann@example.com", "first_name": "Ann", "last_name": "A"})
        adapter.create({"email": "bob@example.com", "first_name": "Bob", "last_name": "B"})
    assert emulator.emails_sent == [("Password Reset Validation", "bob@example.com")]


def test_a_refused_create_forgets_the_password_and_no_message_shows_it() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    emulator.add_client("ann@example.com", "Ann", "Old")  # AddClient refuses a second client with this email
    password = Password(PASSWORD)
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message}")
    try:
        with _adapter(emulator) as adapter, pytest.raises(RemoteRejected) as refused:
            adapter.offer_password("ann@example.com", password)
            adapter.create({"email": "ann@example.com", "first_name": "Ann", "last_name": "A"})
    finally:
        logger.remove(sink)
    assert not password.held
    shown = [str(refused.value), repr(refused.value), *lines]
    assert all(PASSWORD not in text for text in shown)


def test_reset_password_goes_by_user_id_when_known() -> None:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET)
    emulator.add_client("ann@example.com", "Ann", "A")
    owner = emulator.user_by_email("ann@example.com")
    assert owner is not None
    with _adapter(emulator) as adapter:
        adapter.reset_password("not-used@example.com", user_id=owner)
        adapter.reset_password("ann@example.com")
    assert emulator.emails_sent == [("Password Reset Validation", "ann@example.com")] * 2
