"""Test helpers: a real systemd-style notify socket, and a valid configuration file."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

#: Generous: these are bounds on waiting for an event, never assertions about speed.
WAIT = 60.0

SECRET = "s3cr3t-WHMCS+value/=xyz"
APP_PASSWORD = "bcde FGHI jklm NOPQ rstu VWXY"  # not the example placeholder (refused)
ACCESS_KEY = "access-key-9f8e7d"


def config_text(
    *,
    interval: int = 3600,
    cron: str = "0 3 * * *",
    enabled: bool = True,
    state_url: str = "sqlite:////tmp/unused.db",
    metrics_listen: str = "",
    log_level: str = "INFO",
) -> str:
    """A valid syncd.toml with fake [whmcs]/[wordpress] sections."""
    return f"""
[whmcs]
url = "https://billing.example.test/"
identifier = "syncd-test"
secret = "{SECRET}"
access_key = "{ACCESS_KEY}"

[wordpress]
url = "https://www.example.test/"
username = "syncd"
application_password = "{APP_PASSWORD}"

[sync]
enabled = {"true" if enabled else "false"}
interval_seconds = {interval}
full_resync_cron = "{cron}"
state_url = "{state_url}"

[log]
level = "{log_level}"

[metrics]
listen = "{metrics_listen}"
"""


class NotifyListener:
    """A datagram socket standing in for systemd's ``$NOTIFY_SOCKET``.

    ``abstract=True`` binds in Linux's abstract namespace (``@name``), otherwise a path
    under ``directory``. Every datagram is kept, split into its lines.
    """

    def __init__(self, directory: Path | None = None, *, abstract: bool = True) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"syncd-test-{uuid.uuid4().hex[:12]}"
        if abstract:
            self.address = "@" + name
            self.sock.bind("\0" + name)
        else:
            assert directory is not None
            path = directory / "notify.sock"
            self.address = str(path)
            self.sock.bind(self.address)
        self.datagrams: list[list[str]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data and self._closed:
                return
            with self._cond:
                self.datagrams.append(data.decode("utf-8").split("\n"))
                self._cond.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._cond:
            return [line for d in self.datagrams for line in d]

    def wait_for(self, predicate: Callable[[list[str]], bool], what: str, timeout: float = WAIT) -> list[str]:
        """Wait until ``predicate(all lines so far)`` holds; the lines at that moment."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate([ln for d in self.datagrams for ln in d]), timeout)
            lines = [ln for d in self.datagrams for ln in d]
        assert ok, f"never received {what}; got {lines}"
        return lines

    def wait_line(self, line: str, *, count: int = 1, timeout: float = WAIT) -> list[str]:
        return self.wait_for(lambda lines: lines.count(line) >= count, f"{line!r} x{count}", timeout)

    def statuses(self) -> list[str]:
        return [ln.removeprefix("STATUS=") for ln in self.lines if ln.startswith("STATUS=")]

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=5)
        if not self.address.startswith("@"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)

    def __enter__(self) -> NotifyListener:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
