"""Fixtures of the WordPress-side tests: the two sites the contract runs on (the emulator over
loopback HTTP, the real WordPress of tests/fixtures_wordpress.py) behind one small ``Site``
interface, adapters on them, a recording ``sleep``, and a loguru sink that fails any test whose
log output holds a secret."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from loguru import logger
from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, Settings, WhmcsSettings, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator


@dataclass
class Site:
    """What the contract tests need of a WordPress: where it is, the admin's credentials, a way
    to add a user with a role (returning its application password), a bulk ``seed(count,
    prefix)`` of subscribers ``{prefix}-00001@example.test``… as scripts/wp-site makes them, and
    an authenticated REST client for raw checks."""

    name: str
    url: str
    admin_user: str
    app_password: str = field(repr=False)
    add_user: Callable[[str, str, str], str]
    seed: Callable[[int, str], None]
    add_role: Callable[[str, Sequence[str]], None]
    mails: Callable[[], list[dict[str, Any]]]
    plain: bool = False
    secrets: set[str] = field(default_factory=set, repr=False)

    def rest_url(self, route: str) -> str:
        """A ``wp/v2`` route's URL (query parameters go in ``params=``, see ``rest``)."""
        return f"{self.url}/wp-json/wp/v2{route}"

    def client(self, auth: tuple[str, str] | None = None) -> httpx.Client:
        """An httpx client authenticated as the admin (or ``auth``; ``("", "")`` = anonymous)."""
        given = auth if auth is not None else (self.admin_user, self.app_password)
        return httpx.Client(auth=given if given[0] else None, timeout=30.0)


def unique(prefix: str = "t") -> str:
    """A short prefix no other test uses: the real site is shared by the whole run."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def rest_create_users(site: Site, users: Sequence[dict[str, Any]], concurrency: int = 2) -> list[int]:
    """Create users through REST as the admin, ``concurrency`` at a time (2 is what pays on 2 cores)."""

    def one(client: httpx.Client, data: dict[str, Any]) -> int:
        body = {"password": "Pass-word-1", **data}
        response = client.post(site.rest_url("/users"), json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    with site.client() as client, ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda d: one(client, d), users))


def wordpress_settings(site: Site, **overrides: Any) -> WordPressSettings:
    data: dict[str, Any] = {"url": site.url + "/", "username": site.admin_user,
                            "application_password": SecretStr(site.app_password), "retries": 1, **overrides}
    return WordPressSettings(**data)


def full_settings(wordpress: WordPressSettings, exclude_roles: Sequence[str] = ("administrator",)) -> Settings:
    whmcs = WhmcsSettings(url="http://127.0.0.1:9/", identifier="x", secret=SecretStr("whmcs-secret-not-used"))
    return Settings(whmcs=whmcs, wordpress=wordpress, sync={"exclude_wp_roles": list(exclude_roles)})


class Sleeps(list[float]):
    """A no-op ``sleep`` that remembers each delay asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


AdapterFactory = Callable[..., WordPressAdapter]


def make_adapter_factory(site: Site, sleeps: Sleeps, made: list[WordPressAdapter]) -> AdapterFactory:
    def factory(*, password: str | None = None, username: str | None = None,
                exclude_roles: Sequence[str] = ("administrator",), username_scheme: str = "email",
                role: str = "subscriber", send_password_reset: bool = False,
                transport: httpx.BaseTransport | None = None, **overrides: Any) -> WordPressAdapter:
        settings = wordpress_settings(
            site, username=username or site.admin_user,
            new_users=NewUsers(username=username_scheme, role=role, send_password_reset=send_password_reset),
            **overrides,
        )
        adapter = WordPressAdapter(settings, SecretStr(password or site.app_password), exclude_roles=exclude_roles,
                                   transport=transport, sleep=sleeps)
        made.append(adapter)
        return adapter

    return factory


@pytest.fixture
def emulator() -> WordPressEmulator:
    return WordPressEmulator()


@pytest.fixture
def emulator_site(emulator: WordPressEmulator) -> Iterator[Site]:
    """The emulator, served on 127.0.0.1 for the test."""
    password = emulator.add_app_password("admin")

    def add_user(login: str, role: str, email: str) -> str:
        emulator.add_user(login, email, roles=(role,))
        return emulator.add_app_password(login)

    def seed(count: int, prefix: str) -> None:
        width = max(5, len(str(count)))
        for i in range(1, count + 1):
            login = f"{prefix}-{i:0{width}d}"
            emulator.add_user(login, f"{login}@example.test", f"Seed{i}", "Seeded")

    def mails() -> list[dict[str, Any]]:
        return list(emulator.mail)

    with emulator.serve() as url:
        yield Site("emulator", url, "admin", password, add_user, seed, emulator.add_role, mails,
                   secrets={password})


@pytest.fixture
def secret_sink() -> Iterator[list[str]]:
    """Every log line of the test (DEBUG included); checked for secrets by ``assert_no_secret``."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message} {extra} {exception}")
    yield lines
    logger.remove(sink)


def assert_no_secret(texts: Sequence[str], secrets: set[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret leaked"
            squeezed = secret.replace(" ", "")
            assert squeezed not in text.replace(" ", ""), "a secret leaked"
