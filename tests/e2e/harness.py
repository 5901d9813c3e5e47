"""Helpers for end-to-end tests: syncd as a process, against the WHMCS emulator and WordPress.

``Sides`` pairs a served ``WhmcsEmulator`` with a real WordPress site (or the WordPress
emulator), writes a configuration for them, runs ``python -m syncd`` and reads both sides back
through their own interfaces (the emulator's state, WordPress's REST API as its admin).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.emulators.whmcs import WhmcsEmulator
from tests.fixtures_wordpress import WordPressSite

WHMCS_SECRET = "e2e-whmcs-secret-9f3k"
#: The repository, where ``tests`` is importable from (the crash launcher).
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Sides:
    whmcs: WhmcsEmulator
    whmcs_url: str
    site: WordPressSite
    tmp: Path
    sync: dict[str, Any] = field(default_factory=dict)

    # -- configuration and the process ----------------------------------------------------

    @property
    def config(self) -> Path:
        return self.tmp / "syncd.toml"

    @property
    def state_db(self) -> Path:
        return self.tmp / "state.db"

    def write_config(self, **sync: Any) -> Path:
        settings = {"state_url": f"sqlite:///{self.state_db}", "lock_wait_seconds": 1, **self.sync, **sync}
        lines = [
            "[whmcs]", f'url = "{self.whmcs_url}"', 'identifier = "syncd"', f'secret = "{WHMCS_SECRET}"', "retries = 1",
            "[wordpress]", f'url = "{self.site.url}"', f'username = "{self.site.admin_user}"',
            f'application_password = "{self.site.app_password}"', "retries = 1",
            "[sync]",
        ]
        for key, value in settings.items():
            lines.append(f"{key} = {json.dumps(value)}")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config

    def syncd(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
              crash_at: str | None = None) -> Run:
        """``python -m syncd --config ... ARGS``; with ``crash_at`` (a ``tests.crash.inject.CrashPoint``),
        the same CLI through ``tests/crash/launcher.py``, dying there with exit 137."""
        if not self.config.exists():
            self.write_config()
        full_env = {**os.environ, **(env or {})}
        full_env.pop("SYNCD_CONFIG", None)
        program = ["-m", "syncd"]
        if crash_at is not None:
            program = ["-m", "tests.crash.launcher", crash_at]
            full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p)
        proc = subprocess.run(
            [sys.executable, *program, "--config", str(self.config), *args],
            capture_output=True, text=True, timeout=timeout, env=full_env, cwd=self.tmp,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    # -- WordPress, through its REST API ---------------------------------------------------

    def _wp(self) -> httpx.Client:
        return httpx.Client(auth=self.site.auth, timeout=30)

    def wp_users(self) -> dict[str, dict[str, Any]]:
        """Every WordPress user by lower-cased email (context=edit, all pages)."""
        out: dict[str, dict[str, Any]] = {}
        with self._wp() as client:
            page = 1
            while True:
                url = self.site.rest_url("/users", {"context": "edit", "per_page": 100, "page": page, "orderby": "id"})
                reply = client.get(url)
                reply.raise_for_status()
                batch = reply.json()
                for user in batch:
                    out[user["email"].lower()] = user
                if len(batch) < 100:
                    return out
                page += 1

    def wp_add(self, login: str, email: str, first: str = "", last: str = "", roles: tuple[str, ...] = ("subscriber",),
               company: str = "") -> int:
        body: dict[str, Any] = {"username": login, "email": email, "first_name": first, "last_name": last,
                                "roles": list(roles), "password": "Xy7-unused-password-Qz9"}
        if company:
            body["meta"] = {"billing_company": company}
        with self._wp() as client:
            reply = client.post(self.site.rest_url("/users"), json=body)
            assert reply.status_code == 201, reply.text
            return int(reply.json()["id"])

    def wp_update(self, user_id: int, **fields: Any) -> None:
        with self._wp() as client:
            reply = client.post(self.site.rest_url(f"/users/{user_id}"), json=fields)
            assert reply.status_code == 200, reply.text

    # -- WHMCS, through the emulator's state -----------------------------------------------

    def client(self, email: str) -> Any:
        cid = self.whmcs.client_by_email(email)
        assert cid is not None, f"no WHMCS client {email}"
        return self.whmcs.clients[cid]

    def whmcs_writes(self) -> int:
        return sum(n for action, n in self.whmcs.calls.items()
                   if action in ("AddClient", "UpdateClient", "UpdateUser", "AddUser", "ResetPassword", "CloseClient",
                                 "DeleteClient"))

    def whmcs_state(self) -> Any:
        return (
            {cid: vars(c).copy() for cid, c in self.whmcs.clients.items()},
            {uid: (u.email, u.firstname, u.lastname) for uid, u in self.whmcs.users.items()},
        )

    def wp_state(self) -> dict[str, Any]:
        return {email: (u["id"], u["first_name"], u["last_name"], tuple(u["roles"]), u["meta"].get("billing_company"))
                for email, u in self.wp_users().items()}


@contextmanager
def served_sides(site: WordPressSite, tmp: Path) -> Iterator[Sides]:
    """``site`` emptied, and a new WHMCS emulator served on loopback beside it."""
    site.reset()
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    with whmcs.serve() as url:
        yield Sides(whmcs=whmcs, whmcs_url=url, site=site, tmp=tmp)


@pytest.fixture
def sides(wordpress_site: WordPressSite, tmp_path: Path) -> Iterator[Sides]:
    """The WHMCS emulator on loopback and the real WordPress, emptied (a pytest fixture, shared
    through tests/conftest.py)."""
    with served_sides(wordpress_site, tmp_path) as both:
        yield both


def interruptible() -> None:
    """``preexec_fn`` for a child the test interrupts with SIGINT (Ctrl-C): SIGINT back to its default,
    as at a terminal. Run as a background job (``pytest ... &`` from a script), the test process
    and every child it starts would otherwise inherit SIGINT ignored, as shells set it for background
    jobs, and Python then keeps it ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
