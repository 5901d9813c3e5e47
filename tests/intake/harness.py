"""The intake served for real on loopback (cheroot, real HTTP) with a queue the test reads, the
protocol's signing, and a capture of every log line to scan for what must never be logged."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pydantic import SecretStr

from syncd.config import IntakeSettings
from syncd.service.events import EventQueue
from syncd.service.intake import IntakeApp, IntakeServer, RefusalLog, sign
from syncd.service.metrics import SyncMetrics
from syncd.service.verify import Verifier

SECRET = "intake-test-secret-7c1e9b42f0"


def body_of(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


def headers(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The protocol's two headers for ``body`` (now, unless ``timestamp``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Syncd-Timestamp": stamp, "X-Syncd-Signature": sign(secret.encode(), stamp, body),
            "Content-Type": "application/json"}


@dataclass
class Served:
    url: str
    port: int
    queue: EventQueue
    metrics: SyncMetrics
    logs: list[str] = field(default_factory=list)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels or None) or 0.0


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{level} {message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


@contextmanager
def served(*, capacity: int = 10_000, clock: Callable[[], float] | None = None, tls: tuple[str, str] | None = None,
           refusals: RefusalLog | None = None, carry: bool = False,
           verifier: Verifier | None = None) -> Iterator[Served]:
    metrics = SyncMetrics()
    queue = EventQueue(capacity, on_drop=metrics.events_dropped.inc)
    app = IntakeApp(SECRET.encode(), queue, metrics, **({"clock": clock} if clock else {}),
                    **({"refusals": refusals} if refusals else {}), carry=lambda: carry,
                    verifier=verifier)
    settings = IntakeSettings(listen="127.0.0.1:0", secret=SecretStr(SECRET),
                              tls_cert=tls[0] if tls else "", tls_key=tls[1] if tls else "")
    with captured_logs() as lines:
        server = IntakeServer(settings, app)
        try:
            yield Served(server.url, server.port, queue, metrics, lines)
        finally:
            server.close()
