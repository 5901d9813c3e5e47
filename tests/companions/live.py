"""What the live tests share — ``syncd run`` as a process with its intake on, beside the real WordPress:
a free loopback port for the intake, a site with the companion installed as the README says and
SYNCD_INTAKE_URL / SYNCD_INTAKE_SECRET in its wp-config.php, a polling wait, and the daemon started
(until systemd's READY=1), and killed if a test leaves it running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.service.helpers import NotifyListener

WAIT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], what: str, *, every: float = 0.2) -> None:
    """Polls ``predicate`` until it holds (an eventual state, not a timing: WAIT is generous)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def companion_site(factory: WordPressSiteFactory, port: int, secret: str,
                   **defines: str | int | bool) -> WordPressSite:
    """A fresh site (WP_DEBUG on) that reports to the intake on ``port``: the companion written by
    ``syncd companion wordpress --out`` into mu-plugins, the two constants in wp-config.php (and
    ``defines``, e.g. SYNCD_LOGIN_FALLBACK)."""
    wp = factory(user_meta=False, debug=True,
                 defines={"SYNCD_INTAKE_URL": f"http://127.0.0.1:{port}", "SYNCD_INTAKE_SECRET": secret,
                          **defines})
    mu = wp.dir / "wp" / "wp-content" / "mu-plugins"
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return wp


def daemon_config(sides: Sides, port: int, secret: str, *, carry: bool, direction: str = "both",
                  whmcs: str = "") -> Path:
    """The live tests' configuration: an hour between polls and no full pass (events do the work),
    editors excluded, the intake on ``port``, ``[passwords] carry``, DEBUG logging; ``whmcs``: lines
    added to the [whmcs] table (e.g. password_reset_on_wp_change)."""
    config = sides.write_config(interval_seconds=3600, full_resync_cron="", exclude_wp_roles=["editor"],
                                direction=direction)
    text = config.read_text(encoding="utf-8")
    if whmcs:
        assert "retries = 1\n[wordpress]" in text  # the [whmcs] table ends there
        text = text.replace("retries = 1\n[wordpress]", f"retries = 1\n{whmcs}\n[wordpress]", 1)
    text += (f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{secret}"\n'
             f'[passwords]\ncarry = {str(carry).lower()}\n[log]\nlevel = "DEBUG"\n')
    config.write_text(text, encoding="utf-8")
    return config


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    log: Path  # its stderr, where its log lines go

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def assert_clean_log(self, *secrets: str) -> str:
        """Its log: no traceback, none of ``secrets``; returned for further checks."""
        text = self.text()
        assert "Traceback" not in text
        for secret in secrets:
            assert secret not in text
        return text


@contextmanager
def daemon(config: Path, log: Path) -> Iterator[Daemon]:
    """``syncd run`` with ``config``, its stderr in ``log``, once it has told systemd READY=1. The test
    stops it (SIGTERM) and checks the exit code; one still running at the end is killed."""
    listener = NotifyListener()
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "NOTIFY_SOCKET": listener.address})
    try:
        listener.wait_line("READY=1", timeout=WAIT)
        yield Daemon(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        listener.close()
