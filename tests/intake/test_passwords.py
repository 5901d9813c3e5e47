"""Password events at the intake and in the queue (issue 14, DESIGN §11): with ``[passwords] carry``
off the password is dropped at once (one INFO line, once); with it on, the password is held only in
the user's queue entry, wrapped so that no repr, str, format or pickle shows it, coalesced with the
user's pending event (the newest wins), and forgotten when the entry is dropped or cleared."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.model import Side
from syncd.passwords import Password
from syncd.service.events import EventQueue
from tests.intake.harness import SECRET, Served, body_of, headers, served

PASSWORD = "Carried-Pa55-4e1b"
NEWER = "Newer-Pa55-77aa"


def _post(s: Served, data: dict[str, object]) -> httpx.Response:
    body = body_of(data)
    return httpx.post(s.url + "/v1/events", content=body, headers=headers(body), timeout=10)


def _clean(s: Served) -> None:
    text = "\n".join(s.logs)
    for needle in (SECRET, PASSWORD, NEWER):
        assert needle not in text, needle


@pytest.fixture
def carrying() -> Iterator[Served]:
    with served(carry=True) as s:
        yield s


def test_with_carry_off_the_password_is_dropped_and_said_once() -> None:
    with served(carry=False) as s:
        for n in (1, 2):
            assert _post(s, {"side": "whmcs", "event": "password", "id": n, "password": PASSWORD}).status_code == 202
        first = s.queue.get(timeout=1)
        assert first is not None and first.whmcs_id == 1 and first.password is None
        said = [line for line in s.logs if "[passwords] carry is off" in line]
        assert len(said) == 1 and said[0].startswith("INFO")
        _clean(s)


def test_with_carry_on_the_password_is_held_in_the_entry_and_never_shown(carrying: Served) -> None:
    r = _post(carrying, {"side": "whmcs", "event": "password", "id": 4, "email": "p@x.org", "password": PASSWORD})
    assert r.status_code == 202 and PASSWORD not in r.text
    entry = carrying.queue.get(timeout=1)
    assert entry is not None and entry.whmcs_id == 4 and entry.password_side is Side.WHMCS
    assert entry.password is not None and entry.password.reveal() == PASSWORD
    for shown in (repr(entry), str(entry), repr(vars(entry)), f"{entry.password}", str(entry.password),
                  entry.label()):
        assert PASSWORD not in shown, shown
    with pytest.raises(TypeError):
        pickle.dumps(entry.password)
    _clean(carrying)


def test_a_password_coalesces_with_the_users_pending_event_and_the_newest_wins(carrying: Served) -> None:
    assert _post(carrying, {"side": "whmcs", "event": "changed", "id": 4, "email": "p@x.org"}).status_code == 202
    assert _post(carrying, {"side": "whmcs", "event": "password", "id": 4, "password": PASSWORD}).status_code == 202
    assert _post(carrying, {"side": "wordpress", "event": "changed", "id": 9, "email": "p@x.org"}).status_code == 202
    assert _post(carrying, {"side": "whmcs", "event": "password", "id": 4, "password": NEWER}).status_code == 202
    assert _post(carrying, {"side": "whmcs", "event": "changed", "id": 4}).status_code == 202  # keeps it
    assert len(carrying.queue) == 1
    entry = carrying.queue.get(timeout=1)
    assert entry is not None and (entry.whmcs_id, entry.wp_id, entry.events) == (4, 9, 5)
    assert entry.password is not None and entry.password.reveal() == NEWER
    _clean(carrying)


def test_an_older_password_is_forgotten_when_a_newer_one_arrives() -> None:
    queue = EventQueue()
    old, new = Password(PASSWORD), Password(NEWER)
    queue.put(Side.WHMCS, 4, "", old)
    queue.put(Side.WHMCS, 4, "", new)
    assert not old.held and new.held


def test_a_dropped_or_cleared_entry_forgets_its_password() -> None:
    queue = EventQueue(capacity=1)
    first, second = Password(PASSWORD), Password(NEWER)
    queue.put(Side.WHMCS, 1, "", first)
    queue.put(Side.WHMCS, 2, "", second)  # the queue is full: the oldest is dropped, a poll asked for
    assert not first.held and queue.take_poll_request()
    assert queue.clear() == 1 and not second.held


def test_a_retried_entry_takes_the_newer_password_of_an_event_that_arrived_meanwhile() -> None:
    queue = EventQueue()
    old, new = Password(PASSWORD), Password(NEWER)
    queue.put(Side.WHMCS, 4, "", old)
    entry = queue.get(timeout=1)
    assert entry is not None
    queue.put(Side.WHMCS, 4, "", new)  # while its run was failing
    queue.retry(entry)
    again = queue.get(timeout=1)
    assert again is entry and entry.password is new and not old.held and len(queue) == 0


def test_a_forgotten_password_cannot_be_revealed() -> None:
    password = Password(PASSWORD)
    password.forget()
    with pytest.raises(ValueError, match="already written or dropped"):
        password.reveal()
    assert repr(password) == "Password(dropped)"


# --- [passwords] in the configuration, checked as a process ---------------------------------------------

def _config_file(tmp_path: Path, passwords: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(f'[whmcs]\nurl = "https://b.example.com/"\nidentifier = "i"\nsecret = "whmcs-secret-1234"\n'
                    f'[wordpress]\nurl = "https://w.example.com/"\nusername = "u"\n'
                    f'application_password = "bcde FGHI jklm NOPQ"\n'
                    f'[sync]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n[passwords]\n{passwords}')
    return path


def _check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", "--config", str(path), "check-config"],
                          capture_output=True, text=True, timeout=60)


def test_carry_is_off_by_default_and_true_is_accepted(tmp_path: Path) -> None:
    from syncd import config

    assert config.parse({"whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-1"},
                         "wordpress": {"url": "https://w.example.com/", "username": "u",
                                       "application_password": "bcde FGHI jklm"}}, env={}).passwords.carry is False
    out = _check_config(_config_file(tmp_path, "carry = true\n"))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("passwords", "needle"), [
    ('carry = "maybe"\n', "carry"),
    ("cary = true\n", "cary"),
])
def test_a_broken_passwords_section_is_named_by_check_config(tmp_path: Path, passwords: str, needle: str) -> None:
    out = _check_config(_config_file(tmp_path, passwords))
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and "passwords" in out.stderr and "Traceback" not in out.stdout + out.stderr


# --- syncd.carry: what is not carried, and that it is dropped either way ---------------------------------

def _settings(tmp_path: Path, *, carry: bool, direction: str = "both") -> object:
    from syncd import config

    return config.parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-1"},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
        "sync": {"direction": direction, "state_url": f"sqlite:///{tmp_path / 'state.db'}"},
        "passwords": {"carry": carry}}, env={})


@pytest.mark.parametrize(("side", "carry", "direction", "says"), [
    (Side.WHMCS, False, "both", "[passwords] carry is off"),
    (Side.WORDPRESS, True, "both", "it was not set on WHMCS"),
    (Side.WHMCS, True, "wp_to_whmcs", "does not write to WordPress"),
    (Side.WHMCS, True, "both", "no active WordPress user is linked to WHMCS client #4"),  # no store: no link
])
def test_a_password_not_carried_is_dropped_with_one_info_line(tmp_path: Path, side: Side, carry: bool,
                                                              direction: str, says: str) -> None:
    from syncd.carry import carry_password
    from syncd.service.events import Pending
    from tests.intake.harness import captured_logs

    entry = Pending(received=0.0, whmcs_id=4 if side is Side.WHMCS else None,
                    wp_id=9 if side is Side.WORDPRESS else None, email="p@x.org")
    password = Password(PASSWORD)
    entry.hold_password(side, password)
    opened: list[object] = []
    with captured_logs() as lines:
        assert carry_password(_settings(tmp_path, carry=carry, direction=direction), entry,  # type: ignore[arg-type]
                              wordpress=lambda s: opened.append(s)) is False  # type: ignore[arg-type,func-returns-value]
    assert not password.held and entry.password is None and opened == []
    (line,) = lines
    assert line.startswith("INFO") and says in line and "p@x.org" in line and PASSWORD not in line
