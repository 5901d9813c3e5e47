"""Helpers for the fault and crash cases against the real WordPress (``wordpress_site``): every
user as a list (``Sides.wp_users`` keys them by email, which would hide a duplicate), and a
loopback proxy in front of the site that can lose an answer after WordPress committed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from syncd.model import normalise_email
from tests.fixtures_wordpress import WordPressSite


def all_users(site: WordPressSite) -> list[dict[str, Any]]:
    """Every WordPress user (context=edit, all pages), in id order."""
    out: list[dict[str, Any]] = []
    with httpx.Client(auth=site.auth, timeout=30) as client:
        page = 1
        while True:
            url = site.rest_url("/users", {"context": "edit", "per_page": 100, "page": page, "orderby": "id"})
            reply = client.get(url)
            reply.raise_for_status()
            batch = reply.json()
            out.extend(batch)
            if len(batch) < 100:
                return out
            page += 1


def emails_held_twice(users: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(normalise_email(u["email"]) for u in users)
    return {k: n for k, n in counts.items() if n > 1}


class LosingProxy:
    """A loopback HTTP proxy to ``upstream`` that, ``lose`` times, forwards a user create to
    WordPress and then closes the connection without its answer: the user exists, syncd
    cannot know it (a load balancer timing out, a network cut)."""

    def __init__(self, upstream: str, lose: int = 1) -> None:
        self.upstream = upstream.rstrip("/")
        self.lose = lose
        self.lost = 0
        self._client = httpx.Client(timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                reply = proxy._client.request(self.command, proxy.upstream + self.path, headers=headers,
                                              content=body)
                creating = self.command == "POST" and self.path.split("?")[0].rstrip("/").endswith("/wp/v2/users")
                if creating and proxy.lost < proxy.lose:
                    proxy.lost += 1
                    self.close_connection = True  # WordPress has done it; the answer never comes back
                    return
                self.send_response(reply.status_code)
                for name, value in reply.headers.multi_items():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[LosingProxy]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._client.close()
