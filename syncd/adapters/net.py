"""The HTTP transport both adapters use: its TLS context and socket options, and what its failures mean.

A request that fails below HTTP (no answer at all) is classified here, once for both sides,
into the ``syncd.errors`` tree by what it tells about the request: it never left (a refused
connection, DNS, a proxy: safe to send again, a write included), it left and its answer was
lost (a timeout, a dropped connection, a broken reply: a read may be sent again, a write's
outcome is unknown), the certificate is not trusted (sending again will not help), or the
request could not be made at all. What happened is said in plain words, each with what to do
and the configuration key to look at (``plain``): a refused connection, a host name DNS does not
know, a timeout, a reset, an untrusted, expired or misnamed certificate; never the library's
class names or OpenSSL's codes, which operators read as noise. The TLS context honours each
side's ``ca_file`` (an internal CA).
"""

from __future__ import annotations

import errno
import functools
import re
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


def client_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """The TLS context of a side, made once per (verify, ca_file): loading a CA bundle costs
    ~30-50 ms of CPU, which every run paid twice before its first request.

    ``ca_file`` (``[whmcs] ca_file`` / ``[wordpress] ca_file``): the CAs of that PEM file are the
    ones trusted, as curl's ``--cacert`` does; without it httpx's own bundle (or ``SSL_CERT_FILE``
    / ``SSL_CERT_DIR``). ``verify`` False checks nothing (the configuration refuses both at once).
    """
    return _context(verify, ca_file if verify else None)  # one cache key however it is called


@functools.cache
def _context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return httpx.create_ssl_context(verify=verify)


def transport(verify: bool, limits: httpx.Limits | None = None, ca_file: str | None = None) -> httpx.HTTPTransport:
    """A transport to a real server with the side's context and the socket options above."""
    return httpx.HTTPTransport(verify=client_context(verify, ca_file), limits=limits or httpx.Limits(),
                               socket_options=SOCKET_OPTIONS)


#: How each side is named in messages (its configuration section is the side itself).
_NAMES = {"whmcs": "WHMCS", "wordpress": "WordPress"}

#: The request never reached the server: nothing can have happened there.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
#: The request went out and its answer was lost or broken: it may have been carried out.
_ANSWER_LOST = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.DecodingError)

# OpenSSL's verify codes (X509_V_ERR_*) that have plain words of their own.
_EXPIRED, _NOT_YET_VALID, _HOSTNAME_MISMATCH, _IP_MISMATCH = 10, 9, 62, 64


@dataclass(frozen=True)
class Plain:
    """A transport failure in plain words: what happened, what to do, and whether sending the
    request again may help (never for a certificate or a request that cannot be made)."""

    what: str
    fix: str
    retry: bool = True


@dataclass(frozen=True)
class Failure:
    """What a failed request means: the error to report, and whether sending it again is safe."""

    error: SideError
    retry: bool
    plain: Plain


def _same(text: str) -> str:
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (httpx wraps httpcore, which wraps the socket's or ssl's error)."""
    links: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and all(link is not seen for seen in links):  # a chain can loop back on itself
        links.append(link)
        link = link.__cause__ or link.__context__
    return links


def _first(links: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    return next((link for link in links if isinstance(link, kind)), None)


def _errno(links: list[BaseException], text: str) -> int | None:
    """The socket error number, from an ``OSError`` in the chain or the ``[Errno N]`` in the text."""
    for link in links:
        if isinstance(link, OSError) and not isinstance(link, ssl.SSLError) and isinstance(link.errno, int):
            return link.errno
    match = _ERRNO.search(text)
    return int(match.group(1)) if match else None


_ERRNO = re.compile(r"\[Errno (-?\d+)\]")
_DNS_TEXT = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
             "no address associated with hostname", "name resolution", "getaddrinfo failed")


def _tls(links: list[BaseException], text: str, key: str) -> Plain | None:
    """A failed TLS handshake in plain words, or None if the failure is not TLS's."""
    cert = _first(links, ssl.SSLCertVerificationError)
    low = text.lower()
    if cert is not None or "certificate_verify_failed" in low or "certificate verify failed" in low:
        # ssl sets verify_code and verify_message on the errors it raises (not on ones made by hand).
        code = getattr(cert, "verify_code", None)
        said = str(getattr(cert, "verify_message", None) or low)
        said_low = said.lower()
        if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH) or "mismatch" in said_low:
            return Plain("its TLS certificate is not valid for this host name (the certificate names another host)",
                         f"set {key} url to a host name the certificate covers, or have the certificate reissued "
                         "for this name", retry=False)
        if code == _EXPIRED or "expired" in said_low:
            return Plain("its TLS certificate has expired",
                         "renew the certificate on that server (and check that this host's clock is right)",
                         retry=False)
        if code == _NOT_YET_VALID or "not yet valid" in said_low:
            return Plain("its TLS certificate is not valid yet",
                         "check this host's clock (timedatectl) and the certificate's start date", retry=False)
        return Plain("its TLS certificate is not trusted (self-signed, or signed by a certificate authority this "
                     "host does not know, e.g. an internal CA)",
                     f"set {key} ca_file to the PEM file of the CA that signed it, or install a certificate from a "
                     f"public CA on that server; for a lab only, {key} verify_tls = false", retry=False)
    handshake = _first(links, ssl.SSLError)
    if handshake is not None or "[ssl" in low:
        if "wrong_version_number" in low or "wrong version number" in low or "record layer failure" in low:
            return Plain("the TLS handshake failed (the server does not speak https on that port)",
                         f"check the scheme and the port of {key} url (https:// to a plain http port fails so)",
                         retry=False)
        reason = getattr(handshake, "reason", None) or "no reason given"
        return Plain(f"the TLS handshake failed ({str(reason).replace('_', ' ').lower()})",
                     f"check that {key} url is the https address of the site and that its web server's TLS "
                     "setup works (e.g. openssl s_client -connect host:443)", retry=False)
    return None


def _connect(exc: BaseException, links: list[BaseException], text: str, key: str) -> Plain:
    """A request that never reached the server (``_NOT_SENT``, TLS already ruled out)."""
    number = _errno(links, text)
    low = text.lower()
    if isinstance(exc, httpx.PoolTimeout):
        return Plain("no free connection in syncd's own pool in time",
                     f"lower {key} concurrency, or raise {key} timeout_seconds")
    if isinstance(exc, httpx.ProxyError):
        return Plain(f"the HTTP proxy refused or failed the connection ({text or 'no reason given'})",
                     "check $HTTPS_PROXY, $HTTP_PROXY and $NO_PROXY in syncd's environment (the unit's "
                     "Environment=), and the proxy's log")
    if isinstance(exc, httpx.ConnectTimeout) or number == errno.ETIMEDOUT:
        return Plain("the connection timed out (the host does not answer: it is down, or a firewall silently "
                     "drops the packets)", f"check that the host in {key} url is up and reachable from this host "
                     f"(firewall, routing), or raise {key} timeout_seconds")
    if _first(links, socket.gaierror) is not None or any(t in low for t in _DNS_TEXT):
        return Plain("the host name could not be resolved (DNS)",
                     f"check the host name in {key} url, and this host's DNS resolver (/etc/resolv.conf)")
    if number == errno.ECONNREFUSED or "connection refused" in low:
        return Plain("the connection was refused (nothing listens on that address and port, or a firewall "
                     "rejects the connection)", f"check the host and port in {key} url, that the web server there "
                     "is running, and the firewall between the two hosts")
    if number in (errno.ENETUNREACH, errno.EHOSTUNREACH) or "unreachable" in low or "no route to host" in low:
        return Plain("there is no network route to that host",
                     f"check this host's network and routes, the firewall, and the address in {key} url")
    if number == errno.ECONNRESET or "reset by peer" in low:
        return Plain("the connection was reset while it was being opened (by the server, or a firewall or proxy "
                     "in between)", "check the web server's and any firewall's or proxy's log")
    return Plain(f"the connection could not be opened ({text})" if text else "the connection could not be opened",
                 f"check {key} url and the network between this host and the site")


def _lost(exc: BaseException, links: list[BaseException], text: str, key: str) -> Plain:
    """A request sent whose answer was lost or broken (``_ANSWER_LOST``)."""
    number = _errno(links, text)
    low = text.lower()
    slow = (f"raise {key} timeout_seconds if the site is just slow, and check its load and its web server's "
            "error log")
    if isinstance(exc, httpx.ReadTimeout):
        return Plain("no answer within the timeout", slow)
    if isinstance(exc, httpx.WriteTimeout):
        return Plain("the request could not be sent within the timeout", slow)
    if isinstance(exc, httpx.TimeoutException):
        return Plain("the request timed out", slow)
    logs = "check the web server's error log, and any proxy or firewall in between"
    if number == errno.ECONNRESET or "reset by peer" in low:
        return Plain("the connection was reset (by the server, or a proxy or firewall in between)", logs)
    if number == errno.EPIPE or "broken pipe" in low:
        return Plain("the connection broke while the request was being sent", logs)
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in low or "disconnected" in low:
            return Plain("the server closed the connection without answering (a crashed PHP worker, or a "
                         "proxy's timeout)", logs)
        return Plain(f"the server sent a broken HTTP answer ({text})" if text else
                     "the server sent a broken HTTP answer", logs)
    if isinstance(exc, httpx.DecodingError):
        return Plain("the answer could not be decoded (a broken compressed body)",
                     "check the compression settings of the web server or of a proxy in between")
    return Plain(f"the connection broke ({text})" if text else "the connection broke", logs)


def plain(exc: BaseException, side: str = "", redact: Callable[[str], str] = _same) -> Plain:
    """What a failed request (an ``httpx`` error and its causes) means, in plain words.

    ``side`` names the configuration section the fix points at; ``redact`` cleans the library's
    text, of which only the parts a person can read are kept (never an exception class name).
    """
    links = _chain(exc)
    text = redact(" ".join(str(exc).split()))
    key = f"[{side}]" if side else "the side's"
    if isinstance(exc, _NOT_SENT):  # the TLS handshake is part of opening the connection
        found = _tls(links, " ".join(redact(str(link)) for link in links), key)
        if found is not None:
            return found
        return _connect(exc, links, text, key)
    if isinstance(exc, _ANSWER_LOST):
        return _lost(exc, links, text, key)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Plain("the address is not an http:// or https:// URL",
                     f"set {key} url to the site's http:// or https:// address", retry=False)
    # A request that could not be made (a malformed header...): no retry mends it.
    return Plain(f"the request could not be made ({text})" if text else "the request could not be made",
                 "run the command again with -v; if it repeats, report it with that output", retry=False)


def reason(exc: BaseException, redact: Callable[[str], str] = _same, side: str = "") -> str:
    """The failure on one line in plain words, with what to do (``redact`` cleans the library's text)."""
    words = plain(exc, side, redact)
    return f"{words.what}; {words.fix}"


def of_error(error: BaseException) -> Plain | None:
    """The plain words of the transport failure behind ``error`` (a ``SideError`` raised from an
    httpx error), for a check that shows what happened and what to do apart; None if none."""
    cause = _first(_chain(error)[1:], httpx.HTTPError)
    return plain(cause, getattr(error, "side", "")) if cause is not None else None


def failure(
    exc: httpx.HTTPError, *, side: str, where: str, what: str, write: bool, redact: Callable[[str], str] = _same
) -> Failure:
    """What ``exc``, raised while sending ``what`` to ``side`` at ``where``, means.

    ``write``: the request changes data and must not be repeated once it may have arrived, so
    a lost answer is ``OutcomeUnknown`` (a read's is ``Transient``). ``what`` names the call
    in messages (an action, or "an update of <user>"); ``redact`` cleans the library's text.
    Every message says what happened and what to do, in plain words.
    """
    name = _NAMES.get(side, side)
    words = plain(exc, side, redact)
    if isinstance(exc, _NOT_SENT):
        error = Unreachable(f"cannot connect to {name} at {where} ({what}): {words.what}; {words.fix}", side=side)
        return Failure(error, retry=words.retry, plain=words)
    if isinstance(exc, _ANSWER_LOST):
        late = " in time" if isinstance(exc, httpx.TimeoutException) else ""
        if write:
            return Failure(OutcomeUnknown(
                f"{name} did not answer {what}{late} after it was sent ({words.what}): it may have happened "
                f"({name} may or may not have carried it out)", side=side), retry=False, plain=words)
        return Failure(Transient(f"{name} did not answer {what}{late} at {where}: {words.what}; {words.fix}",
                                 side=side), retry=True, plain=words)
    return Failure(Unreachable(f"request to {name} at {where} failed ({what}): {words.what}; {words.fix}",
                               side=side), retry=False, plain=words)
