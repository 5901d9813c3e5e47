"""The HTTP transport both adapters use: its TLS context and socket options, and what its failures mean.

A request that fails below HTTP (no answer at all) is classified here, once for both sides,
into the ``syncd.errors`` tree by what it tells about the request: it never left (a refused
connection, DNS, a proxy: safe to send again, a write included), it left and its answer was
lost (a timeout, a dropped connection, a broken reply: a read may be sent again, a write's
outcome is unknown), the certificate is not trusted (sending again will not help), or the
request could not be made at all.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from syncd.errors import OutcomeUnknown, SideError, Transient, Unreachable

#: Each request leaves at once. httpx writes a request in more than one piece; with Nagle's
#: algorithm on, the second piece waits for the server's delayed ACK: ~2 ms a call on
#: loopback (measured: 4.1 → 2.2 ms per listing page), more over a real network.
SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@functools.cache
def client_context(verify: bool) -> ssl.SSLContext:
    """httpx's own default context (its CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``),
    or one that checks nothing when ``verify`` is False. Made once: loading the CA bundle costs
    ~30-50 ms of CPU, which every run paid twice before its first request."""
    return httpx.create_ssl_context(verify=verify)


def transport(verify: bool, limits: httpx.Limits | None = None) -> httpx.HTTPTransport:
    """A transport to a real server with the shared context and the socket options above."""
    return httpx.HTTPTransport(verify=client_context(verify), limits=limits or httpx.Limits(),
                               socket_options=SOCKET_OPTIONS)


#: How each side is named in messages (its configuration section is the side itself).
_NAMES = {"whmcs": "WHMCS", "wordpress": "WordPress"}

#: The request never reached the server: nothing can have happened there.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
#: The request went out and its answer was lost or broken: it may have been carried out.
_ANSWER_LOST = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.DecodingError)


@dataclass(frozen=True)
class Failure:
    """What a failed request means: the error to report, and whether sending it again is safe."""

    error: SideError
    retry: bool


def _same(text: str) -> str:
    return text


def reason(exc: BaseException, redact: Callable[[str], str] = _same) -> str:
    """``ConnectError: [Errno 111] Connection refused``: the failure on one line, ``redact`` ed."""
    text = redact(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _untrusted(exc: BaseException) -> bool:
    """True if the TLS certificate was refused (httpx wraps ssl's error; its text says so too)."""
    link: BaseException | None = exc
    seen: set[int] = set()
    while link is not None and id(link) not in seen:  # a chain can loop back on itself
        if isinstance(link, ssl.SSLCertVerificationError):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower()


def failure(
    exc: httpx.HTTPError, *, side: str, where: str, what: str, write: bool, redact: Callable[[str], str] = _same
) -> Failure:
    """What ``exc``, raised while sending ``what`` to ``side`` at ``where``, means.

    ``write``: the request changes data and must not be repeated once it may have arrived, so
    a lost answer is ``OutcomeUnknown`` (a read's is ``Transient``). ``what`` names the call
    in messages (an action, or "an update of <user>"); ``redact`` cleans the library's text.
    """
    name = _NAMES.get(side, side)
    why = reason(exc, redact)
    if isinstance(exc, _NOT_SENT):
        if _untrusted(exc):
            return Failure(Unreachable(
                f"{name} at {where} presented a TLS certificate that is not trusted ({why}): fix the certificate, "
                f"or for a lab only set [{side}] verify_tls = false", side=side), retry=False)
        return Failure(Unreachable(f"cannot connect to {name} at {where} ({what}): {why}", side=side), retry=True)
    if isinstance(exc, _ANSWER_LOST):
        late = " in time" if isinstance(exc, httpx.TimeoutException) else ""
        if write:
            return Failure(OutcomeUnknown(
                f"{name} did not answer {what}{late} ({why}) after it was sent: it may have happened ({name} may "
                "or may not have carried it out)", side=side), retry=False)
        return Failure(Transient(f"{name} did not answer {what}{late} at {where}: {why}", side=side), retry=True)
    # A request that could not be made (an unsupported scheme, a malformed header): no retry mends it.
    return Failure(Unreachable(f"request to {name} at {where} failed ({what}): {why}", side=side), retry=False)
