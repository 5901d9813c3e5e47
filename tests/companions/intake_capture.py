"""A stand-in for syncd's intake, for the companions' tests: a tiny HTTP server on loopback that records
every request (method, path, headers, the exact body bytes) and answers as told — 202, another status,
not at all (it hangs), or is down (nothing listens on its port) — keeping its port across restarts, so
a companion configured once with its URL sees syncd go away and come back."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """Whether X-Syncd-Signature is the hex HMAC-SHA256 of ``timestamp + "." + body`` keyed with ``secret``."""
        timestamp = self.headers.get("x-syncd-timestamp", "")
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-syncd-signature", ""))


class IntakeCapture:
    """``status`` is what it answers (202 by default); ``hang()`` makes it never answer until
    ``status`` is set again (or 30 s pass); ``stop()`` / ``start()`` take it down and bring it back
    on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.status = 202
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._requests: list[Captured] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                capture._record(Captured(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                         body))
                if capture.status == 0:
                    capture._release.wait(30)
                answer = b'{"accepted": true}' if 200 <= capture.status < 300 else b'{"error": "test"}'
                try:
                    self.send_response(capture.status or 503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # after a hang: the companion gave up waiting and closed the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="intake-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Down: nothing listens on the port any more (a connection is refused at once)."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hang(self) -> None:
        self._release.clear()
        self.status = 0

    def answer(self, status: int) -> None:
        self.status = status
        self._release.set()

    def _record(self, request: Captured) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()

    def take(self) -> list[Captured]:
        """What arrived since the last ``take``."""
        with self._lock:
            got, self._requests = self._requests, []
        return got

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Captured]:
        """Wait until ``count`` requests arrived since the last ``take``, and take them."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)
            got, self._requests = self._requests, []
        return got
