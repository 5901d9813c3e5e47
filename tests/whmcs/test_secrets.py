"""No secret in any repr, exception or log line: the API secret, the access key, and the
random password of a new client — even when a server echoes them back."""

from __future__ import annotations

import json
import string
import traceback
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter, new_password
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import SyncdError
from tests.whmcs.conftest import ACCESS_KEY, SECRET, AdapterFactory, Recorder, whmcs_settings


def _everything_about(error: BaseException) -> str:
    """The error as a person or a log could ever see it: messages, reprs, causes, traceback."""
    parts = ["".join(traceback.format_exception(error))]
    todo: list[BaseException] = [error]
    seen: set[int] = set()
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        parts += [str(exc), repr(exc), repr(vars(exc))]
        todo += [e for e in (exc.__cause__, exc.__context__) if e is not None]
    return "\n".join(parts)


def test_the_adapter_repr_hides_the_secrets(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(access_key=SecretStr(ACCESS_KEY))
    for text in (repr(adapter), str(adapter), repr(vars(adapter)), repr(adapter._settings)):
        assert SECRET not in text and ACCESS_KEY not in text


FAULTS: list[Callable[[WhmcsEmulator], object]] = [
    lambda e: setattr(e, "maintenance", True),
    lambda e: setattr(e, "secret", "other"),
    lambda e: setattr(e, "allowed_ips", {"10.1.1.1"}),  # the access key is sent, but is the wrong one
    lambda e: e.deny("GetAdminUsers"),
    lambda e: e.fail_on("GetAdminUsers", status=503, times=None),
    lambda e: e.fail_on("GetAdminUsers", kind="truncate", times=None),
    lambda e: e.fail_on("GetAdminUsers", kind="timeout_after_commit", times=None),
    lambda e: e.fail_on("GetAdminUsers", kind="refuse", times=None),
    lambda e: e.fail_on("GetClients", kind="lie_total", times=None),
]


@pytest.mark.parametrize("fault", range(len(FAULTS)))
def test_no_error_carries_a_secret(make_adapter: AdapterFactory, emulator: WhmcsEmulator, fault: int) -> None:
    FAULTS[fault](emulator)
    emulator.access_key = "the-real-key"
    adapter = make_adapter(access_key=SecretStr(ACCESS_KEY), retries=1)
    with pytest.raises(SyncdError) as caught:
        adapter.snapshot()
    text = _everything_about(caught.value)
    assert SECRET not in text and ACCESS_KEY not in text


def _echo(kind: str) -> httpx.MockTransport:
    """A hostile or broken server that puts the request body back in its answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = request.read().decode()
        form = dict(parse_qsl(body))
        if kind == "error":
            return httpx.Response(200, json={"result": "error", "message": f"Bad request: {form}"})
        if kind == "html":
            return httpx.Response(200, text=f"<html><head><title>{body}</title></head></html>")
        if kind == "warning":
            return httpx.Response(200, text=f"<b>Warning</b>: {body}\n" + json.dumps(
                {"result": "success", "clientid": "5", "warning": body}))
        return httpx.Response(302, headers={"location": f"https://x.test/?{body}"})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("kind", ["error", "html", "warning", "redirect"])
def test_what_a_server_echoes_is_redacted(kind: str, log_lines: list[str]) -> None:
    settings = whmcs_settings(access_key=SecretStr(ACCESS_KEY))
    adapter = WhmcsAdapter(settings, SecretStr(SECRET), transport=_echo(kind), sleep=lambda _: None)
    try:
        adapter.call("GetClients")
    except SyncdError as error:
        text = _everything_about(error)
        assert SECRET not in text and ACCESS_KEY not in text
        assert "***" in text or kind in ("html", "redirect")
    else:
        assert kind == "warning"
        assert any("***" in line for line in log_lines)


def test_a_new_clients_password_is_strong_sent_once_and_never_seen_again(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator, log_lines: list[str]
) -> None:
    recorder = Recorder(emulator.transport())
    adapter = make_adapter(transport=recorder)
    records = [adapter.create({"email": f"p{i}@example.com", "first_name": "P", "last_name": str(i)})
               for i in range(2)]
    passwords = [f["password2"] for f in recorder.sent("AddClient")]
    assert len(set(passwords)) == 2
    for password, record in zip(passwords, records, strict=True):
        assert len(password) >= 20
        for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
            assert set(password) & set(chars)
        assert password not in repr(record) and not any(password in line for line in log_lines)
    # Nothing but the AddClient request itself carried it.
    assert [f for f in recorder.forms if any(p in f.values() for p in passwords)] == recorder.sent("AddClient")


def test_a_password_echoed_in_a_create_error_is_redacted() -> None:
    settings = whmcs_settings()

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.read().decode()))
        if form["action"] == "GetAdminUsers":
            return httpx.Response(200, json={"result": "success", "count": 0, "admin_users": []})
        return httpx.Response(200, json={"result": "error", "message": f"Password {form['password2']} too weak"})

    adapter = WhmcsAdapter(settings, SecretStr(SECRET), transport=httpx.MockTransport(handler))
    with pytest.raises(SyncdError) as caught:
        adapter.create({"email": "x@example.com", "first_name": "X", "last_name": "Y"})
    assert "Password *** too weak" in str(caught.value)


def test_new_password_draws_from_every_class() -> None:
    for _ in range(50):
        password = new_password()
        assert len(password) == 24
        assert all(set(password) & set(c) for c in (string.ascii_lowercase, string.ascii_uppercase, string.digits))
