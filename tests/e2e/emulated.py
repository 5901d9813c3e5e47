"""Both emulators served on loopback and a configuration pointing syncd at them, for the tests
that run ``python -m syncd`` as a process (the daemon, and what an operator reads)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator


@dataclass
class Emulated:
    """The two emulators, their URLs, and ``tmp/syncd.toml`` (``defaults``: ``[sync]`` values of
    every configuration this test module writes)."""

    whmcs: WhmcsEmulator
    wp: WordPressEmulator
    whmcs_url: str
    wp_url: str
    wp_password: str
    tmp: Path
    secret: str
    defaults: dict[str, object] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.tmp / "syncd.toml"

    def write_config(self, *, log: dict[str, object] | None = None, **sync: object) -> None:
        values = {"state_url": f"sqlite:///{self.tmp / 'state.db'}", "lock_wait_seconds": 0.5, **self.defaults,
                  **sync}
        text = (
            f'[whmcs]\nurl = "{self.whmcs_url}"\nidentifier = "syncd"\nsecret = "{self.secret}"\n'
            f'[wordpress]\nurl = "{self.wp_url}"\nusername = "admin"\napplication_password = "{self.wp_password}"\n'
            "[sync]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
        )
        if log:
            text += "[log]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in log.items())
        self.config.write_text(text, encoding="utf-8")

    def syncd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncd", "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=120)

    def wp_emails(self) -> list[str]:
        return sorted(u.email.lower() for u in self.wp.users.values())


@contextmanager
def emulated(tmp: Path, secret: str, **defaults: object) -> Iterator[Emulated]:
    """Both emulators served until the block ends, with a configuration written for them."""
    whmcs = WhmcsEmulator(identifier="syncd", secret=secret)
    wp = WordPressEmulator(admin_login="admin", admin_email="admin@example.com")
    password = wp.add_app_password("admin")
    with whmcs.serve() as whmcs_url, wp.serve() as wp_url:
        world = Emulated(whmcs, wp, whmcs_url, wp_url, password, tmp, secret, dict(defaults))
        world.write_config()
        yield world
