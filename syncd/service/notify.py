"""The systemd notify protocol, written directly: one datagram to ``$NOTIFY_SOCKET``.

A service of ``Type=notify`` tells systemd it is ready (``READY=1``), what it is doing
(``STATUS=…``), that it is alive (``WATCHDOG=1``), reloading (``RELOADING=1``) or
stopping (``STOPPING=1``) by sending newline-separated ``KEY=value`` lines as one
datagram to the AF_UNIX socket named in ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
abstract socket). Outside systemd the variable is unset and every call is a no-op that
returns False. Nothing here raises: a lost notification must never stop a sync.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

from loguru import logger


def _address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]  # Linux abstract namespace
    if value.startswith("/"):
        return value
    return None  # vsock: and others: not for us


def notify(*lines: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``lines`` as one notification; True if it was sent."""
    environ = os.environ if env is None else env
    target = environ.get("NOTIFY_SOCKET", "")
    if not target or not lines:
        return False
    address = _address(target)
    if address is None:
        logger.debug("NOTIFY_SOCKET={} is not a unix socket address; not notifying", target)
        return False
    payload = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError as exc:
        logger.debug("could not notify systemd: {}", exc)
        return False
    return True


def ready(status: str = "") -> bool:
    """``READY=1`` (and a status line): start-up is complete."""
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    """A one-line status shown by ``systemctl status``."""
    return notify(f"STATUS={text}")


def reloading(status: str = "") -> bool:
    """``RELOADING=1``: a configuration reload began; send ``ready()`` when it is done."""
    # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload to this message.
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    extra = [f"STATUS={status}"] if status else []
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *extra)


def stopping(status: str = "") -> bool:
    """``STOPPING=1``: shutdown began."""
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def watchdog() -> bool:
    """``WATCHDOG=1``: keep-alive ping."""
    return notify("WATCHDOG=1")


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), or None when systemd
    expects none — unset, invalid, or meant for another process (``$WATCHDOG_PID``)."""
    environ = os.environ if env is None else env
    pid = environ.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
