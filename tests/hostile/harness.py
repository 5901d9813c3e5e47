"""Both emulators, in process, behind the real adapters, and whole runs through ``app.sync_once``.

``World`` is one WHMCS and one WordPress (emulated, or a real one on loopback) with a fresh
SQLite state store; ``run()`` is one real run of syncd with adapters built on the emulators'
in-process transports, so a run goes through the same HTTP wire code as in production. Every
write request either side receives is recorded (``wp_writes``, ``whmcs_writes``), so a test can
say what was *sent*, not only what was stored.
"""

from __future__ import annotations

import html
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from loguru import logger
from pydantic import SecretStr

from syncd import app
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings, WhmcsSettings, WordPressSettings
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import SyncdError
from syncd.sync.engine import RunReport

WHMCS_SECRET = "hostile-whmcs-secret-7Qx"


def _no_sleep(_seconds: float) -> None:
    pass


class Recording(httpx.BaseTransport):
    """A transport that passes requests on and keeps every write: (method, path, body as a dict)."""

    def __init__(self, inner: httpx.BaseTransport, writes: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.inner = inner
        self.writes = writes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if request.method != "GET":
            content = request.headers.get("content-type", "")
            data: dict[str, Any]
            if "json" in content:
                data = json.loads(body or b"{}")
            else:
                data = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if data.get("action", "") not in ("GetClients", "GetUsers", "GetAdminUsers", "GetClientsDetails"):
                self.writes.append((request.method, request.url.path, data))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def settings_for(
    wp_url: str, wp_user: str, wp_password: str, state: Path, *, whmcs_url: str = "http://whmcs.test/",
    **sync: Any,
) -> Settings:
    return Settings(
        whmcs=WhmcsSettings(url=whmcs_url, identifier="syncd", secret=SecretStr(WHMCS_SECRET), retries=0),
        wordpress=WordPressSettings(url=wp_url, username=wp_user, application_password=SecretStr(wp_password),
                                    retries=0),
        sync={"state_url": f"sqlite:///{state}", "lock_wait_seconds": 1, **sync},
    )


@dataclass
class World:
    """A WHMCS emulator and a WordPress emulator (or a real WordPress for the WordPress side)."""

    whmcs: WhmcsEmulator = field(default_factory=lambda: WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET))
    wp: WordPressEmulator = field(default_factory=WordPressEmulator)
    wp_url: str = "http://wp.test/"
    wp_user: str = "admin"
    wp_password: str = ""
    real_wordpress: bool = False
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="syncd-hostile-")))
    wp_writes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    whmcs_writes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.wp_password:
            self.wp_password = self.wp.add_app_password("admin")

    def settings(self, **sync: Any) -> Settings:
        return settings_for(self.wp_url, self.wp_user, self.wp_password, self.directory / "state.db", **sync)

    def adapters(self, settings: Settings) -> tuple[WhmcsAdapter, WordPressAdapter]:
        whmcs_transport = Recording(self.whmcs.transport(), self.whmcs_writes)
        whmcs = WhmcsAdapter.from_settings(settings, transport=whmcs_transport, sleep=_no_sleep)
        inner = httpx.HTTPTransport() if self.real_wordpress else self.wp.transport()
        wp = WordPressAdapter.from_settings(settings, transport=Recording(inner, self.wp_writes), sleep=_no_sleep)
        return whmcs, wp

    def writes_sent(self) -> int:
        """Write requests both sides have received so far (syncd's, through the adapters)."""
        return len(self.wp_writes) + len(self.whmcs_writes)

    def run(self, **sync: Any) -> RunReport:
        """One real run; only ``syncd.errors`` may escape it, and none of those is expected here."""
        logger.disable("syncd")  # thousands of runs: their log lines would only slow Hypothesis down
        try:
            result = app.sync_once(self.settings(**sync), adapters=self.adapters)
        except SyncdError as exc:  # a documented error, but for hostile *data* the run must go on
            raise AssertionError(f"the run stopped on {type(exc).__name__}: {exc}") from exc
        finally:
            logger.enable("syncd")
        assert result.report is not None
        return result.report

    # -- what each side holds now -----------------------------------------------------------

    def whmcs_clients(self) -> dict[str, Mapping[str, str]]:
        """Clients by lowercased, trimmed email: their common fields."""
        return {
            c.email.strip().lower(): {"email": c.email, "first_name": c.firstname, "last_name": c.lastname,
                                      "company": c.companyname}
            for c in self.whmcs.clients.values()
        }

    def wp_users(self) -> dict[str, Mapping[str, str]]:
        """Emulated WordPress users (the admin aside) by lowercased email: fields as REST shows them,
        names HTML-unescaped as the adapter reads them."""
        out: dict[str, Mapping[str, str]] = {}
        for user_id, user in self.wp.users.items():
            if user_id == self.wp.admin_id:
                continue
            data = self.wp.user(user_id)
            out[user.email.strip().lower()] = {
                "email": data["email"], "first_name": html.unescape(data["first_name"]),
                "last_name": html.unescape(data["last_name"]),
                "username": data["username"], "company": data["meta"].get("billing_company", ""),
            }
        return out
