"""The WHMCS emulator's ways in over HTTP: an in-process httpx transport, a loopback server,
and the ``python -m syncd.emulators.whmcs`` entry point.

Both turn a request into ``WhmcsEmulator.handle(form, client_ip, path=...)`` and its
answer back into HTTP; they differ only for faults with no answer: in-process, a
timeout-after-commit raises ``httpx.ReadTimeout`` at once and a refused connection
``httpx.ConnectError``; over HTTP the server really hangs, then closes the connection.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

if TYPE_CHECKING:
    from syncd.emulators.whmcs import WhmcsEmulator

__all__ = ["LoopbackServer", "main", "make_transport"]


def _form(body: bytes, query: str) -> dict[str, str]:
    """A PHP-like ``$_REQUEST``: query parameters, then the form body (the body wins)."""
    form = dict(parse_qsl(query, keep_blank_values=True))
    form.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return form


def make_transport(emulator: WhmcsEmulator, client_ip: str = "127.0.0.1") -> httpx.BaseTransport:
    """An httpx transport that hands every request to ``emulator`` in this process."""
    from syncd.emulators.whmcs import EmulatedDrop, EmulatedTimeout

    def handler(request: httpx.Request) -> httpx.Response:
        form = _form(request.read(), request.url.query.decode("ascii", errors="replace"))
        try:
            status, headers, body = emulator.handle(form, emulator.seen_ip or client_ip, path=request.url.path)
        except EmulatedTimeout as exc:
            raise httpx.ReadTimeout("emulated: the answer did not come in time", request=request) from exc
        except EmulatedDrop as exc:
            if not exc.sent:
                raise httpx.ConnectError("emulated: connection refused", request=request) from exc
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request) from exc
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _headers_buffer: list[bytes]

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._answer(_form(body, urlsplit(self.path).query))

    def do_GET(self) -> None:
        self._answer(_form(b"", urlsplit(self.path).query))

    def _answer(self, form: dict[str, str]) -> None:
        from syncd.emulators.whmcs import EmulatedDrop, EmulatedTimeout

        emulator = self.server.emulator
        try:
            status, headers, body = emulator.handle(
                form, emulator.seen_ip or self.client_address[0], path=urlsplit(self.path).path
            )
        except EmulatedTimeout as exc:
            time.sleep(exc.seconds)
            self.close_connection = True
            return
        except EmulatedDrop:
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: two small writes meet the client's delayed ACK and
        # cost ~40 ms per call on loopback.
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo read the emulator's ``calls``, not an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: WhmcsEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class LoopbackServer:
    """The emulator behind a real HTTP server, in a daemon thread, until ``close()``."""

    def __init__(self, emulator: WhmcsEmulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), emulator)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.url = f"http://{self.host}:{self.port}/"
        # A short poll interval: ``close()`` waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="whmcs-emulator", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """``python -m syncd.emulators.whmcs``: serve a seeded emulator until SIGTERM or Ctrl-C."""
    from syncd.emulators.whmcs import WhmcsEmulator

    parser = argparse.ArgumentParser(prog="python -m syncd.emulators.whmcs",
                                     description="A loopback emulator of the WHMCS External API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--seed", type=Path, help="a JSON seed file (format: see the module docstring)")
    args = parser.parse_args(argv)
    seed: dict[str, Any] = {}
    if args.seed:
        try:
            seed = json.loads(args.seed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"cannot read the seed file {args.seed}: {exc}", file=sys.stderr)
            return 2
    emulator = WhmcsEmulator.from_seed(seed)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    url = emulator.start(args.port, args.host)
    print(url, flush=True)
    print(f"WHMCS emulator {emulator.version} serving {len(emulator.clients)} clients at {url}includes/api.php",
          file=sys.stderr, flush=True)
    stop.wait()
    emulator.stop()
    return 0
