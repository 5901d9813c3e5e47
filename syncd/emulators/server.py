"""How both emulators are reached: one loopback HTTP server and one in-process httpx transport.

An emulator subclasses ``Served`` and writes one function, ``respond(Request) -> Answer``;
everything about HTTP is here, once: the threaded server on 127.0.0.1, keep-alive, answers
written in one piece, the injected ``latency``, the time the emulator spends answering (the
benchmarks subtract it from a run's wall time), and what "no answer" means on each way in.

An ``Answer`` with ``silence`` set has no HTTP answer at all:

- ``"dropped"``: the request was taken (and perhaps acted on), then the connection closes;
  in process, ``httpx.RemoteProtocolError``.
- ``"refused"``: nothing reached the server; over HTTP the connection closes unanswered (a
  listening socket cannot take back an accepted connection), in process ``httpx.ConnectError``.
- ``"timeout"``: the server hangs ``hang`` seconds, then closes; in process
  ``httpx.ReadTimeout`` at once (a test does not wait for a timeout it only needs to see).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx

__all__ = ["Answer", "LoopbackServer", "Request", "Served"]


@dataclass(frozen=True)
class Request:
    """One HTTP request as an emulator sees it. ``url`` is absolute, with the host the client
    named (WordPress builds its links from it); ``headers`` keep the names as sent."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, or with ``silence`` none at all (see the module docstring)."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes = b""
    silence: Literal["", "dropped", "refused", "timeout"] = ""
    hang: float = 0.0


class Served:
    """The ways in of an emulator: ``transport()`` in process, ``start()``/``serve()`` over HTTP.

    Knobs, read on every request: ``latency`` (seconds slept before each answer, on both ways
    in) and ``keep_alive`` (False: every answer closes its connection with ``Connection:
    close``, as ``php -S`` does). Subclasses set ``methods`` (the HTTP methods their server
    has; others get 501 as from any ``BaseHTTPRequestHandler``) and ``url_path`` (what
    ``url`` adds after the origin).
    """

    latency: float = 0.0
    keep_alive: bool = True
    methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"})
    url_path: str = ""
    _loopback: LoopbackServer | None = None

    def respond(self, request: Request) -> Answer:
        """The emulator itself: one request in, one answer out. Called from server threads."""
        raise NotImplementedError

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client(transport=...)``: no socket, the same answers."""

        def handler(request: httpx.Request) -> httpx.Response:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw}
            answer = _answer(self, Request(request.method, str(request.url), headers, request.read(), "127.0.0.1"))
            if answer.silence == "timeout":
                raise httpx.ReadTimeout("emulated: the answer did not come in time", request=request)
            if answer.silence == "refused":
                raise httpx.ConnectError("emulated: connection refused", request=request)
            if answer.silence:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)

        return httpx.MockTransport(handler)

    def start(self, port: int = 0, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> str:
        """Serve on ``host:port`` (0: a free port) in daemon threads until ``stop()``; returns ``url``.

        ``tls``: a server-side context (its certificate loaded) to serve https instead of http, for
        the tests of certificate checks (``[whmcs] ca_file``, an untrusted or expired certificate).
        """
        if self._loopback is None:
            self._loopback = LoopbackServer(self, host, port, tls)
        return self.url

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    @contextmanager
    def serve(self, port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[str]:
        """``with emulator.serve() as url:`` served on loopback for the block (``tls``: see ``start``)."""
        url = self.start(port, tls=tls)
        try:
            yield url
        finally:
            self.stop()

    @property
    def url(self) -> str:
        """Where the emulator is served: ``http://host:port`` (``https``: see ``start``) and ``url_path``."""
        if self._loopback is None:
            raise RuntimeError("the emulator is not serving; call start() or use serve()")
        return f"{self._loopback.scheme}://{self._loopback.host}:{self._loopback.port}{self.url_path}"

    @property
    def loopback(self) -> LoopbackServer | None:
        """The server while serving (its ``handled`` and ``busy_seconds`` are the benchmarks')."""
        return self._loopback


def _answer(emulator: Served, request: Request, loopback: LoopbackServer | None = None) -> Answer:
    # The latency is slept outside the emulator (and its lock): concurrent calls overlap it,
    # as they overlap a real network's.
    if emulator.latency > 0:
        time.sleep(emulator.latency)
    if loopback is None:
        return emulator.respond(request)
    began = time.perf_counter()
    try:
        return emulator.respond(request)
    finally:
        loopback.count(time.perf_counter() - began)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless an answer says otherwise
    server: _Server
    _headers_buffer: list[bytes]

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        loopback = self.server.loopback
        emulator = loopback.emulator
        if self.command not in emulator.methods:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{loopback.host}:{loopback.port}"
        request = Request(self.command, f"{loopback.scheme}://{host}{self.path}", dict(self.headers.items()), body,
                          str(self.client_address[0]))
        answer = _answer(emulator, request, loopback)
        if answer.silence:
            time.sleep(answer.hang)
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if not emulator.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Headers and body in one write: two small writes meet Nagle's algorithm and the
        # client's delayed ACK, which cost ~40 ms per call on loopback.
        self._headers_buffer.append(b"\r\n" + (answer.body if self.command != "HEAD" else b""))
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo read the emulators' ``calls``, not an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], loopback: LoopbackServer) -> None:
        self.loopback = loopback
        super().__init__(address, _Handler)


class LoopbackServer:
    """``emulator`` behind a threaded HTTP server, in a daemon thread, until ``close()``.

    ``handled`` counts the requests answered and ``busy_seconds`` the time ``respond`` took
    for them (the injected latency not included): the emulator's own cost per call.
    """

    def __init__(self, emulator: Served, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.emulator = emulator
        self.handled = 0
        self.busy_seconds = 0.0
        self._counting = threading.Lock()
        self._server = _Server((host, port), self)
        self.scheme = "https" if tls is not None else "http"
        if tls is not None:
            # Each accepted connection does its handshake first; one the client refuses (an
            # untrusted certificate) fails there and the server goes on to the next.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        # A short poll interval: ``close()`` waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(emulator).__name__}-server", daemon=True)
        self._thread.start()

    def count(self, seconds: float) -> None:
        with self._counting:
            self.handled += 1
            self.busy_seconds += seconds

    def reset_counts(self) -> None:
        with self._counting:
            self.handled, self.busy_seconds = 0, 0.0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
