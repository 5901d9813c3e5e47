"""The event intake of ``syncd run`` (DESIGN §10): a tiny WSGI app on cheroot's threaded server.

``POST /v1/events`` takes a companion's signed hint that one user changed; it answers 202 at
once and queues the hint (``syncd.service.events``), or refuses it with nothing done: 401 (no
or wrong signature, a timestamp more than ``WINDOW_SECONDS`` away, a signature seen before),
413 (a body over ``MAX_BODY`` bytes, checked on Content-Length before anything is read and
counted while a chunked body is read), 400 (not exactly the protocol's shape), 403 (a password
event that did not arrive over TLS or from loopback). ``POST /v1/probe`` is what
``syncd test-connection`` sends: signed like an event, it answers 204 and does nothing.
``POST /v1/verify`` (DESIGN §11's login fallback, with a ``Verifier``: ``syncd.service.verify``) is
signed like an event and refused the same ways, always 403 unless over TLS or from loopback (it
always carries a password), and answers 200 with ``{"ok": ...}`` at once. Every other path is 404,
every other method 405.

Nothing a request carries is logged: not its body, its signature, the secret, nor a password.
A password event (DESIGN §11) hands its password, wrapped in ``syncd.passwords.Password``, to the
queue only with ``[passwords] carry = true``; otherwise it is a "changed" hint and its password
is dropped here, with one INFO line (once) saying that carrying is off. Refusals are
logged one line each, at most ``RefusalLog.PER_WINDOW`` lines per reason a minute, the rest
counted in one line, so a flood does not fill the journal.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from loguru import logger

from syncd.config import IntakeSettings
from syncd.model import Side
from syncd.passwords import Password
from syncd.service import strict_json
from syncd.service.events import EventQueue
from syncd.service.metrics import SyncMetrics, parse_listen
from syncd.service.verify import VERIFY_PATH, BadVerify, Verifier, parse_verify

EVENTS_PATH = "/v1/events"
PROBE_PATH = "/v1/probe"
#: The largest body taken, in bytes (16 KiB).
MAX_BODY = 16 * 1024
#: How far a request's timestamp may be from this host's clock, either way.
WINDOW_SECONDS = 300
#: Signatures remembered against replays (each for as long as its timestamp is in the window).
REPLAY_CAPACITY = 100_000

EVENTS = ("changed", "deleted", "password")
_KEYS = frozenset({"side", "event", "id", "email", "password"})
_MAX_ID = 2**63 - 1  # the largest id either side's database can hold (BIGINT UNSIGNED fits in 64 bits)
_MAX_EMAIL = 320
_MAX_PASSWORD = 4096

Environ = Mapping[str, Any]
StartResponse = Callable[..., object]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The protocol's signature: hex HMAC-SHA256 with the shared secret over ``timestamp + "." + body``."""
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Event:
    """An accepted event, as queued; its password (a password event's) wrapped, never shown."""

    side: Side
    kind: str  # "changed" | "deleted" | "password"
    remote_id: int
    email: str
    password: Password | None = field(default=None, repr=False, compare=False)


class Refused(Exception):
    """A request refused: ``status`` (400, 401, 403, 404, 405, 413) and why, in words safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_STATUS_LINES = {200: "200 OK", 202: "202 Accepted", 204: "204 No Content", 400: "400 Bad Request",
                 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed",
                 413: "413 Content Too Large", 500: "500 Internal Server Error"}


class RefusalLog:
    """One WARNING line per refusal, at most ``PER_WINDOW`` per reason every ``WINDOW`` seconds; the
    rest are counted and said in one line when the next window begins."""

    PER_WINDOW = 5
    WINDOW = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # reason key → (window start, lines in it)

    def say(self, key: str, message: str, level: str = "WARNING") -> None:
        now = self._clock()
        with self._lock:
            start, n = self._windows.get(key, (now, 0))
            suppressed = 0
            if now - start >= self.WINDOW:
                suppressed = max(0, n - self.PER_WINDOW)
                start, n = now, 0
            n += 1
            self._windows[key] = (start, n)
        if suppressed:
            logger.log(level, "intake: {} more requests refused ({}) were not logged one by one in the last minute",
                       suppressed, key)
        if n <= self.PER_WINDOW:
            logger.log(level, "intake: {}", message)
        elif n == self.PER_WINDOW + 1:
            logger.log(level, "intake: more requests refused ({}); counting them instead of logging each", key)


class ReplayCache:
    """Signatures already accepted, each kept until its timestamp leaves the window (so the cache
    never holds more than a window's worth); thread-safe."""

    def __init__(self, capacity: int = REPLAY_CAPACITY) -> None:
        self._capacity = capacity
        self._seen: set[str] = set()
        self._expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def first_time(self, signature: str, expires: float, now: float) -> bool:
        """Remember ``signature`` until ``expires``; False if it was seen before."""
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                self._seen.discard(heapq.heappop(self._expiry)[1])
            if signature in self._seen:
                return False
            if len(self._seen) >= self._capacity:
                # Only a sender holding the secret can fill it; the soonest to expire goes first.
                self._seen.discard(heapq.heappop(self._expiry)[1])
            self._seen.add(signature)
            heapq.heappush(self._expiry, (expires, signature))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


def parse_event(body: bytes) -> Event:
    """The event in ``body`` (a password event's password wrapped); ``Refused(400)`` for anything
    not exactly in the protocol's shape. No message names a value the body carried."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8 text") from None
    try:
        data = strict_json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not a JSON object") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        # Not named: a key is part of the body, which is never logged.
        raise Refused(400, f"{len(unknown)} unknown key(s): only side, event, id, email and password are allowed")
    side, kind, remote_id = data.get("side"), data.get("event"), data.get("id")
    if side not in (Side.WHMCS.value, Side.WORDPRESS.value):
        raise Refused(400, '"side" must be "whmcs" or "wordpress"')
    if kind not in EVENTS:
        raise Refused(400, '"event" must be "changed", "deleted" or "password"')
    # bool is an int in Python; a JSON true is not an id.
    if type(remote_id) is not int or not 1 <= remote_id <= _MAX_ID:
        raise Refused(400, '"id" must be a positive whole number (that side\'s id of the account)')
    email = data.get("email", "")
    if not isinstance(email, str) or len(email) > _MAX_EMAIL:
        raise Refused(400, f'"email" must be a string of at most {_MAX_EMAIL} characters (or left out)')
    password = data.get("password")
    if kind == "password":
        if not isinstance(password, str) or not 1 <= len(password) <= _MAX_PASSWORD:
            raise Refused(400, f'a password event needs "password", a string of 1 to {_MAX_PASSWORD} characters')
    elif "password" in data:
        raise Refused(400, '"password" belongs only in a password event')
    wrapped = Password(password) if isinstance(password, str) else None
    return Event(Side(side), kind, remote_id, email.strip(), wrapped)


def _is_loopback(address: str) -> bool:
    try:
        ip = ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, on a socket bound to every IPv6 address
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


class IntakeApp:
    """The WSGI application: checks each request, queues what it accepts (``queue.put``), counts
    both in ``metrics``; ``clock`` gives Unix seconds (tests move it)."""

    def __init__(self, secret: bytes, queue: EventQueue, metrics: SyncMetrics, *,
                 clock: Callable[[], float] = time.time, refusals: RefusalLog | None = None,
                 carry: Callable[[], bool] = lambda: False, verifier: Verifier | None = None) -> None:
        if not secret:
            raise ValueError("the intake needs a secret")
        self._secret = secret
        self._carry = carry  # [passwords] carry, read at each event (a reload may change it)
        self._said_carry_off = False
        self._queue = queue
        self._metrics = metrics
        self._clock = clock
        self._replays = ReplayCache()
        self._refusals = refusals or RefusalLog()
        self._verifier = verifier  # answers /v1/verify; None: that path is not served (404)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self._metrics.events_received.inc()  # every request, accepted or refused
        try:
            status, message = self._handle(environ)
        except Refused as refused:
            self._metrics.events_refused.labels(status=str(refused.status)).inc()
            who = environ.get("REMOTE_ADDR") or "an unknown address"
            self._refusals.say(str(refused.status), f"refused a request from {who}: {refused.reason} "
                                                    f"({refused.status})")
            status, message = refused.status, {"error": refused.reason}
        except Exception as exc:  # a bug: one line, never a traceback to the client or the log
            logger.error("intake: unexpected error while handling a request: {}", type(exc).__name__)
            status, message = 500, {"error": "internal error"}
        payload = b"" if status == 204 else json.dumps(message).encode("utf-8")
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(_STATUS_LINES[status], headers)
        return [payload]

    def _handle(self, environ: Environ) -> tuple[int, dict[str, Any]]:
        length = self._length(environ)
        path = environ.get("PATH_INFO", "")
        if path not in (EVENTS_PATH, PROBE_PATH) and (path != VERIFY_PATH or self._verifier is None):
            raise Refused(404, "no such path: events go to POST /v1/events")
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused(405, f"only POST is allowed on {path}")
        body = self._body(environ, length)
        self._verify(environ, body)
        if path == PROBE_PATH:
            return 204, {}
        if path == VERIFY_PATH:
            return self._verify_login(environ, body)
        event = parse_event(body)
        password = event.password
        if password is not None and not self._private(environ):
            password.forget()
            raise Refused(403, "a password event must arrive over TLS or from loopback (set tls_cert/tls_key, "
                               "or send through a TLS proxy on this host)")
        if password is not None and not self._carry():
            password.forget()  # dropped at once: the event is a "changed" hint like any other
            password = None
            if not self._said_carry_off:
                self._said_carry_off = True
                logger.info("intake: a password event arrived but [passwords] carry is off: its password was "
                            "dropped and the event taken as a change; set carry = true to carry passwords "
                            "(README \"Passwords\"); said once")
        if event.kind == "deleted":
            logger.info("intake: {} #{} was deleted on {}: left to the next scheduled listing, which alone "
                        "decides deletions", event.side.account, event.remote_id, event.side.display)
            self._metrics.events_accepted.inc()
            return 202, {"accepted": True}
        if self._queue.put(event.side, event.remote_id, event.email, password):
            self._metrics.events_coalesced.inc()
        self._metrics.events_accepted.inc()
        logger.debug("intake: {} event for {} #{} queued", event.kind, event.side.account, event.remote_id)
        return 202, {"accepted": True}

    def _verify_login(self, environ: Environ, body: bytes) -> tuple[int, dict[str, Any]]:
        """/v1/verify, signed and fresh: always a password, so TLS or loopback only, then the answer."""
        assert self._verifier is not None
        if not self._private(environ):
            raise Refused(403, "a login check carries a password: it must arrive over TLS or from loopback (set "
                               "tls_cert/tls_key, or send through a TLS proxy on this host)")
        try:
            request = parse_verify(body)
        except BadVerify as exc:
            raise Refused(400, str(exc)) from None
        answer = self._verifier.answer(request)
        self._metrics.login_checks.labels(answer="ok" if answer.get("ok") is True else "refused").inc()
        return 200, answer

    @staticmethod
    def _length(environ: Environ) -> int | None:
        """The declared body length (None for a chunked body); 413 over ``MAX_BODY`` before reading."""
        if environ.get("wsgi.input_terminated"):
            return None
        text = str(environ.get("CONTENT_LENGTH") or "0").strip()
        if not text.isdigit() or len(text) > 12:
            raise Refused(400, "the Content-Length header is not a number")
        if int(text) > MAX_BODY:
            raise Refused(413, f"the body is over {MAX_BODY} bytes")
        return int(text)

    @staticmethod
    def _body(environ: Environ, length: int | None) -> bytes:
        stream = environ["wsgi.input"]
        try:
            if length is not None:
                body = bytes(stream.read(length)) if length else b""
                if len(body) != length:
                    raise Refused(400, "the body is shorter than its Content-Length")
                return body
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_BODY:
                chunk = bytes(stream.read(MAX_BODY + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (OSError, ValueError):
            raise Refused(400, "the body could not be read") from None
        if size > MAX_BODY:
            raise Refused(413, f"the body is over {MAX_BODY} bytes")
        return b"".join(chunks)

    def _verify(self, environ: Environ, body: bytes) -> None:
        stamp = str(environ.get("HTTP_X_SYNCD_TIMESTAMP") or "").strip()
        given = str(environ.get("HTTP_X_SYNCD_SIGNATURE") or "").strip().lower()
        if not stamp or not given:
            raise Refused(401, "unsigned: X-Syncd-Timestamp and X-Syncd-Signature are required")
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise Refused(401, "X-Syncd-Timestamp is not Unix seconds")
        now = self._clock()
        if abs(now - int(stamp)) > WINDOW_SECONDS:
            raise Refused(401, f"the timestamp is more than {WINDOW_SECONDS} s away from this host's clock "
                               "(check both clocks, e.g. with timedatectl)")
        if not given.isascii() or not hmac.compare_digest(sign(self._secret, stamp, body), given):
            raise Refused(401, "the signature does not match (is the companion's secret the [intake] secret?)")
        if not self._replays.first_time(given, int(stamp) + WINDOW_SECONDS, now):
            raise Refused(401, "this signature was seen before (a replay)")

    @staticmethod
    def _private(environ: Environ) -> bool:
        return environ.get("wsgi.url_scheme") == "https" or _is_loopback(str(environ.get("REMOTE_ADDR") or ""))


class _Server(wsgi.Server):
    """cheroot's server with its own log lines going to syncd's log: one line, no traceback (a
    broken TLS handshake or a half-sent request is the client's problem, not a crash)."""

    refusals: RefusalLog

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        text = str(msg).strip().splitlines()[0] if str(msg).strip() else "connection error"
        if level >= 40:
            self.refusals.say("connection", f"a connection failed: {text}")
        else:
            logger.debug("intake: {}", text)


#: The server's worker threads: a few, since each request is answered at once.
THREADS = 4
#: Seconds a connection may stay silent (a slow sender cannot hold a thread longer).
SOCKET_TIMEOUT = 10


class IntakeServer:
    """The intake listening on ``settings.listen`` (HTTPS with ``tls_cert``/``tls_key``) until ``close()``."""

    def __init__(self, settings: IntakeSettings, app: IntakeApp) -> None:
        host, port = parse_listen(settings.listen)
        server = _Server((host, port), app, numthreads=THREADS, max=THREADS, request_queue_size=64,
                         timeout=SOCKET_TIMEOUT, shutdown_timeout=5, accepted_queue_size=256,
                         accepted_queue_timeout=1, server_name="syncd")
        server.refusals = RefusalLog()
        server.max_request_header_size = 16 * 1024
        if settings.tls:
            server.ssl_adapter = BuiltinSSLAdapter(settings.tls_cert, settings.tls_key)
        self.scheme = "https" if settings.tls else "http"
        self._server = server
        server.prepare()  # binds now: an OSError (port in use) reaches the caller
        self.host = host
        self.port = int(server.bind_addr[1])
        self._thread = threading.Thread(target=server.serve, name="syncd-intake", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{self.scheme}://{host}:{self.port}"

    def close(self) -> None:
        self._server.stop()
        self._thread.join(timeout=10)
