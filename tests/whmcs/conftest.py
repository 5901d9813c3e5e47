"""Fixtures of the WHMCS tests: a seeded emulator, adapters on it (in-process or over real
loopback HTTP), a recorded no-op sleep, and a loguru sink that fails any test whose log
output contains a secret."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from loguru import logger
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.config import Settings, WhmcsSettings, WordPressSettings
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.fieldmap import FieldRule

IDENTIFIER = "syncd-api"
SECRET = "s3cret-WHMCS-Zq9v"
ACCESS_KEY = "ak-Xy7-Access(key)"
WP_PASSWORD = "abcd efgh ijkl mnop"

#: Every string that must never appear in a log line, an exception or a repr.
SECRETS: set[str] = {SECRET, ACCESS_KEY}


def whmcs_settings(url: str = "http://whmcs.test/", **overrides: Any) -> WhmcsSettings:
    data: dict[str, Any] = {"url": url, "identifier": IDENTIFIER, "secret": SecretStr(SECRET), **overrides}
    return WhmcsSettings(**data)


def full_settings(whmcs: WhmcsSettings) -> Settings:
    wordpress = WordPressSettings(url="http://127.0.0.1:9/", username="syncd",
                                  application_password=SecretStr(WP_PASSWORD))
    return Settings(whmcs=whmcs, wordpress=wordpress)


def seeded() -> WhmcsEmulator:
    emulator = WhmcsEmulator(identifier=IDENTIFIER, secret=SECRET, access_key=ACCESS_KEY)
    emulator.add_client("ann@example.com", "Ann", "Lee", "Lee Ltd")
    emulator.add_client("ann@example.com.au", "Annie", "Lee")
    emulator.add_client("bob@example.com", "Bob", "Stone", status="Inactive")
    emulator.add_client("carol@example.com", "Carol", "Cruz", status="Closed")
    emulator.add_client("Dave.Moe@Example.com", "Dave", "Moe", phonenumber="5035551212")
    emulator.add_admin("boss@example.com", "Bo", "Ss")
    emulator.add_admin("old-admin@example.com", "Old", "Admin", disabled=True)
    return emulator


@pytest.fixture
def emulator() -> WhmcsEmulator:
    return seeded()


class Sleeps(list[float]):
    """A no-op ``sleep`` that remembers each delay asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


class Recorder(httpx.BaseTransport):
    """Wraps a transport and keeps every request's form, for assertions on what was sent."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.forms: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from urllib.parse import parse_qsl

        self.forms.append(dict(parse_qsl(request.read().decode(), keep_blank_values=True)))
        return self.inner.handle_request(request)

    def sent(self, action: str) -> list[dict[str, str]]:
        return [f for f in self.forms if f.get("action") == action]


AdapterFactory = Callable[..., WhmcsAdapter]


@pytest.fixture
def make_adapter(emulator: WhmcsEmulator, sleeps: Sleeps) -> Iterator[AdapterFactory]:
    """``make_adapter(mode="inprocess"|"loopback", transport=None, mapped=(), **settings)``."""
    made: list[WhmcsAdapter] = []

    def make(mode: str = "inprocess", *, transport: httpx.BaseTransport | None = None,
             mapped: tuple[FieldRule, ...] = (), **overrides: Any) -> WhmcsAdapter:
        if mode == "loopback":
            url = overrides.pop("url", None) or emulator.start()
            settings = whmcs_settings(url, **overrides)
        else:
            settings = whmcs_settings(overrides.pop("url", "http://whmcs.test/"), **overrides)
            transport = transport or emulator.transport()
        adapter = WhmcsAdapter(settings, settings.secret or SecretStr(""), transport=transport, sleep=sleeps,
                               mapped=mapped)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
    emulator.stop()


@pytest.fixture(autouse=True)
def log_lines() -> Iterator[list[str]]:
    """Every log line of the test (DEBUG and up); none may contain a secret."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{level} {message}")
    yield lines
    logger.remove(sink)
    leaked = [line for line in lines for secret in SECRETS if secret in line]
    assert not leaked, f"a secret reached the logs: {leaked[:3]}"
