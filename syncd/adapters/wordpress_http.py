"""The WordPress REST wire: where the API lives, how to call it, and what its answers mean.

``RestClient`` finds the API once (``/wp-json/`` with pretty permalinks, ``?rest_route=``
without), sends requests with Basic auth and an Application Password, retries what is
worth retrying (through the policy both adapters share, ``retry``), and turns every failure
into the ``syncd.errors`` tree: transport failures as ``net.failure`` says, answers by
WordPress's error ``code`` rather than the HTTP status (a duplicate email on create is a
500). Facts it relies on are in reference/wordpress.md. No secret reaches a message: they
are built from what WordPress said and from names, never from request bodies.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import SecretStr

from syncd.adapters import net
from syncd.adapters.retry import Backoff, TryAgain, retry_after_seconds
from syncd.adapters.retry import call as retry_call
from syncd.errors import (
    AccessDenied,
    BadCredentials,
    DuplicateEmail,
    InvalidRecord,
    NotAnApi,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RemoteRejected,
    SyncdError,
    Transient,
    Unreachable,
)
from syncd.model import Side

SIDE = Side.WORDPRESS.value
USER_AGENT = "syncd (WordPress users sync)"

#: 0.25 s, 0.5 s, 1 s, … capped at 10 s, each plus up to half again at random; a Retry-After is
#: waited for, up to a minute.
BACKOFF = Backoff(initial=0.25, cap=10.0, jitter=0.5, relative_jitter=True, retry_after_limit=60.0,
                  give_up_beyond_limit=False)

#: How a call may be retried. ``read``: any transient fault. ``idempotent``: a write that can
#: be repeated harmlessly (an update sets values). ``once``: a create; repeated only when it
#: certainly did not reach WordPress (connection refused, 429).
Retry = Literal["read", "idempotent", "once"]

# WordPress's capability-check error codes → the capability the account lacks.
_CAPABILITY_OF_CODE = {
    "rest_forbidden_context": "list_users",
    "rest_user_cannot_view": "list_users",
    "rest_cannot_create_user": "create_users",
    "rest_cannot_edit": "edit_users",
    "rest_cannot_edit_roles": "promote_users",
    "rest_user_invalid_role": "promote_users",  # 403 form: "not allowed to give users that role"
    "rest_user_cannot_delete": "delete_users",
}

# 500 answers that WordPress gives for a rejected user, not for a fault (wp_insert_user errors).
_USERNAME_CODES = {"user_login_too_long", "empty_user_login", "invalid_username", "user_nicename_too_long"}

_TAG = re.compile(r"<[^>]+>")

#: Each kind of call in plain words, for a transport failure's message.
_CALLS = {
    "me": "reading our own account (/users/me)",
    "list_page": "a page of the users listing",
    "search": "searching for {who}",
    "get": "reading {who}",
    "create": "creating {who}",
    "update": "updating {who}",
    "role_check": "{who}",
}


def _plain(text: object, limit: int = 240) -> str:
    """A remote message made safe to show: no HTML, one line, bounded."""
    flat = " ".join(_TAG.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def site_root(url: str) -> str:
    """The site root from a configured URL, tolerating a pasted ``/wp-json/...`` or ``index.php``."""
    root = url.strip().rstrip("/")
    for marker in ("/wp-json", "/index.php"):
        cut = root.find(marker)
        if cut != -1:
            root = root[:cut]
    return root.rstrip("/")


@dataclass(frozen=True)
class RestInfo:
    """Where the REST API answers and what its index says."""

    root: str
    pretty: bool  # /wp-json/ works; otherwise ?rest_route=
    namespaces: tuple[str, ...]
    authentication: tuple[str, ...]  # keys of the index's "authentication" object

    @property
    def app_passwords_available(self) -> bool:
        return "application-passwords" in self.authentication


@dataclass(frozen=True)
class SiteProbe:
    """What the two ways into the REST API answered, for discovery and for test-connection."""

    root: str
    info: RestInfo | None = None
    blocked_status: int = 0  # the API answered a JSON error at its index (REST disabled/blocked)
    blocked_code: str = ""
    blocked_message: str = ""
    redirect: str = ""  # the index redirects elsewhere (http → https, another host)
    html: bool = False  # an HTML page where the index should be
    status: int = 0
    error: str = ""  # the site could not be reached at all: what happened, in plain words ...
    fix: str = ""  # ... and what to do about it


@dataclass(frozen=True)
class Reply:
    """A successful JSON answer."""

    status: int
    headers: httpx.Headers
    data: Any


@dataclass
class _Body:
    kind: Literal["json", "empty", "html", "garbled"]
    data: Any = None


def _read_body(response: httpx.Response) -> _Body:
    raw = response.content
    try:
        # orjson: a page of 100 users decodes in about a third of json's time. It refuses what
        # json accepts (a UTF-8 byte-order mark that a PHP file left before the JSON, NaN), so
        # a body it refuses gets json's verdict, and the classification stays json's.
        return _Body("json", orjson.loads(raw))
    except orjson.JSONDecodeError:
        pass
    text = raw.lstrip()
    if not text:
        return _Body("empty")
    try:
        return _Body("json", json.loads(raw))
    except ValueError:
        pass
    head = text[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<div", b"<p")) or b"<html" in head:
        return _Body("html")
    return _Body("garbled")


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("retry-after"))


class RateLimited(Transient):
    """HTTP 429: the request was turned away before WordPress processed it, so even a create
    may be sent again (after ``retry_after``)."""


class RestClient:
    """Sends REST requests to one WordPress site as one account."""

    def __init__(
        self,
        url: str,
        username: str,
        password: SecretStr,
        *,
        timeout: float = 30.0,
        verify_tls: bool = True,
        ca_file: str | None = None,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.root = site_root(url)
        self.username = username
        self.retries = retries
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._info: RestInfo | None = None
        self._http = httpx.Client(
            auth=httpx.BasicAuth(username, password.get_secret_value()),
            timeout=httpx.Timeout(timeout),
            verify=net.client_context(verify_tls, ca_file),  # for a proxy from the environment
            transport=transport or net.transport(verify_tls, ca_file=ca_file),
            follow_redirects=False,  # a redirected POST becomes a GET; redirects are diagnosed instead
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"RestClient(root={self.root!r}, username={self.username!r})"

    def close(self) -> None:
        self._http.close()

    # -- discovery -------------------------------------------------------------------------

    def probe(self) -> SiteProbe:
        """Ask ``/wp-json/`` and then ``/?rest_route=/`` what they are; never raises for an answer."""
        probe = self._probe_both()
        if probe.info is not None and "wp/v2" in probe.info.namespaces:
            self._info = probe.info  # discover() needs no second look
        return probe

    def _probe_both(self) -> SiteProbe:
        first = self._probe_one(f"{self.root}/wp-json/", {}, pretty=True)
        if first.info is not None or first.blocked_code or first.error:
            return first
        if first.redirect and not _same_site(first.redirect, self.root):
            return first
        second = self._probe_one(f"{self.root}/", {"rest_route": "/"}, pretty=False)
        if second.info is not None or second.blocked_code or second.error or second.redirect:
            return second
        return SiteProbe(root=self.root, html=first.html or second.html, status=second.status or first.status)

    def _index(self, url: str, params: Mapping[str, str]) -> httpx.Response:
        """GET where the REST index should be; a transport failure is retried as any read's is
        (the same ``retries`` and backoff as every other call, and as WHMCS's)."""

        def attempt() -> httpx.Response:
            self._count("index")
            try:
                return self._http.get(url, params=params)
            except httpx.HTTPError as exc:
                failed = net.failure(exc, side=SIDE, where=self.root, what="the REST index", write=False)
                if failed.retry:
                    raise TryAgain(failed.error) from exc
                raise failed.error from exc

        return retry_call(attempt, attempts=self.retries + 1, backoff=BACKOFF, sleep=self._sleep, rng=self._rng)

    def _probe_one(self, url: str, params: Mapping[str, str], *, pretty: bool) -> SiteProbe:
        try:
            response = self._index(url, params)
        except SyncdError as exc:  # the transport failed, every attempt
            words = net.of_error(exc)
            if words is None:
                return SiteProbe(root=self.root, error=str(exc))
            return SiteProbe(root=self.root, error=f"cannot reach WordPress at {self.root}: {words.what}",
                             fix=words.fix)
        body = _read_body(response)
        if response.is_redirect:
            return SiteProbe(root=self.root, redirect=response.headers.get("location", ""), status=response.status_code)
        data = body.data
        if body.kind == "json" and isinstance(data, dict):
            if response.is_success and "namespaces" in data:
                auth = data.get("authentication")
                info = RestInfo(
                    root=self.root,
                    pretty=pretty,
                    namespaces=tuple(str(n) for n in data.get("namespaces") or ()),
                    authentication=tuple(auth) if isinstance(auth, dict) else (),
                )
                return SiteProbe(root=self.root, info=info, status=response.status_code)
            if "code" in data:
                return SiteProbe(
                    root=self.root,
                    blocked_status=response.status_code,
                    blocked_code=str(data.get("code")),
                    blocked_message=_plain(data.get("message", "")),
                    status=response.status_code,
                )
        return SiteProbe(root=self.root, html=body.kind == "html", status=response.status_code)

    def discover(self) -> RestInfo:
        """Where the REST API answers (cached after the first success), or why it does not."""
        if self._info is not None:
            return self._info
        probe = self.probe()
        if probe.info is not None:
            if "wp/v2" not in probe.info.namespaces:
                raise NotAnApi(
                    f"the REST API of {self.root} has no wp/v2 namespace: a plugin has removed the core "
                    "endpoints (check security plugins that restrict the REST API)",
                    side=SIDE,
                )
            self._info = probe.info
            return probe.info
        raise probe_error(probe)

    def route_url(self, route: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        info = self.discover()
        query = dict(params or {})
        if info.pretty:
            return f"{self.root}/wp-json{route}", query
        return f"{self.root}/", {"rest_route": route, **query}

    # -- requests --------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] += 1

    def call(
        self,
        kind: str,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        retry: Retry = "read",
        who: str = "",
    ) -> Reply:
        """One REST call with retries as ``retry`` allows; any failure as a ``SyncdError``.

        ``who`` names the user concerned (an email), for messages about one user.
        """
        url, query = self.route_url(route, params)

        def attempt() -> Reply:
            try:
                return self._send(kind, method, url, query, body, retry, who)
            except Transient as exc:
                # A 429 turned the request away before WordPress ran it; other faults are sent
                # again unless the call is a create (transport failures decided in _send).
                if isinstance(exc, RateLimited) or retry != "once":
                    raise TryAgain(exc) from exc
                raise

        try:
            return retry_call(attempt, attempts=self.retries + 1, backoff=BACKOFF, sleep=self._sleep, rng=self._rng)
        except Transient as exc:
            if retry == "idempotent" and not isinstance(exc, RateLimited):
                # The write went out each time and its effect is unknown; repeating it later is
                # harmless, so it concerns this one user, not the run.
                raise OutcomeUnknown(f"{exc.message}; the {kind} of {who or 'a user'} may or may not have "
                                     "happened", side=SIDE) from exc
            raise

    def _send(
        self,
        kind: str,
        method: str,
        url: str,
        query: Mapping[str, Any],
        body: Mapping[str, Any] | None,
        retry: Retry,
        who: str,
    ) -> Reply:
        self._count(kind)
        write = retry == "once"  # only a create's failure is "unknown" at once; updates retry first
        try:
            response = self._http.request(method, url, params=query, json=body)
        except httpx.HTTPError as exc:
            what = _CALLS.get(kind, "a {kind} of {who}").format(kind=kind, who=who or "a user")
            failed = net.failure(exc, side=SIDE, where=self.root, what=what,
                                 write=write)
            if failed.retry:
                raise TryAgain(failed.error) from exc
            raise failed.error from exc
        return self._interpret(kind, response, write=write, who=who)

    def _interpret(self, kind: str, response: httpx.Response, *, write: bool, who: str) -> Reply:
        body = _read_body(response)
        status = response.status_code
        if response.is_success and body.kind == "json":
            return Reply(status, response.headers, body.data)
        if status == 429:
            raise RateLimited(f"WordPress is rate-limiting us (HTTP 429 on a {kind})", side=SIDE,
                              retry_after=_retry_after(response))
        if response.is_redirect:
            where = response.headers.get("location", "")
            raise NotAnApi(f"WordPress redirected a {kind} to {where}: set [wordpress] url to the site's "
                           "canonical address", side=SIDE)
        if body.kind == "json" and isinstance(body.data, dict) and "code" in body.data:
            raise classify(kind, status, body.data, write=write, who=who)
        # Not the API's JSON: a page from the web server, a proxy, a security plugin, or a cut reply.
        if write and (response.is_success or status >= 500):
            raise OutcomeUnknown(
                f"WordPress answered a {kind} of {who or 'a user'} with HTTP {status} and "
                f"{'no body' if body.kind == 'empty' else 'an unreadable body'}; it may have happened",
                side=SIDE,
            )
        what = {"empty": "no body", "html": "an HTML page", "garbled": "a truncated or garbled body"}.get(
            body.kind, "an unexpected JSON body")
        if status >= 500:
            raise Transient(f"WordPress answered a {kind} with HTTP {status} and {what} (maintenance mode, "
                            "or the site is failing)", side=SIDE, retry_after=_retry_after(response))
        if body.kind == "html":
            raise NotAnApi(
                f"WordPress answered a {kind} with an HTML page (HTTP {status}) where the REST API should "
                "answer: a security plugin or firewall blocking the REST API, or a wrong url",
                side=SIDE,
            )
        if response.is_success:
            raise Transient(f"WordPress answered a {kind} with HTTP {status} and {what}", side=SIDE)
        raise NotAnApi(f"WordPress answered a {kind} with HTTP {status} and no API error", side=SIDE)

    # -- the lost-password flow ------------------------------------------------------------

    def lost_password(self, login: str) -> bool:
        """Ask WordPress to email ``login`` a password-reset link; True if it said it did."""
        self._count("lostpassword")
        request = self._http.build_request(
            "POST", f"{self.root}/wp-login.php", params={"action": "lostpassword"}, data={"user_login": login},
        )
        response = self._http.send(request, auth=None)  # a public form: no application password there
        return response.status_code in (302, 303) and "checkemail=confirm" in response.headers.get("location", "")


def _same_site(location: str, root: str) -> bool:
    a, b = urlsplit(location), urlsplit(root)
    return (not a.scheme or a.scheme == b.scheme) and (not a.netloc or a.netloc == b.netloc)


def rest_disabled_code(code: str) -> bool:
    """True for an index error that blocks everyone (``rest_disabled``), not only anonymous requests."""
    return "disabled" in code or code in ("rest_forbidden", "rest_api_blocked")


def probe_error(probe: SiteProbe) -> SyncdError:
    """The error a failed discovery stands for, with what to look at."""
    root = probe.root
    if probe.error:
        return Unreachable(f"{probe.error}; {probe.fix}" if probe.fix else probe.error, side=SIDE)
    if probe.blocked_code:
        text = f"{probe.blocked_status} {probe.blocked_code}: {probe.blocked_message}"
        if probe.blocked_status == 401 and not rest_disabled_code(probe.blocked_code):
            return BadCredentials(
                f"the REST API of {root} refuses anonymous requests and ours ran as anonymous ({text}): "
                "the application password was not accepted",
                side=SIDE,
            )
        return AccessDenied(
            f"the REST API of {root} is disabled or blocked ({text}); look at security plugins that "
            "disable or restrict the REST API (Disable REST API, Wordfence, iThemes/Solid Security "
            "'REST API' setting, All In One WP Security) and allow authenticated requests",
            side=SIDE,
        )
    if probe.redirect:
        return NotAnApi(f"{root}/wp-json/ redirects to {probe.redirect}: set [wordpress] url to the site's "
                        "canonical address (scheme and host)", side=SIDE)
    what = "an HTML page" if probe.html else f"HTTP {probe.status} without the REST index"
    return NotAnApi(
        f"{root} answered {what} at both /wp-json/ and /?rest_route=/: wrong url, or the REST API is "
        "disabled (a security plugin or a web server rule)",
        side=SIDE,
    )


def _invalid_field(data: Mapping[str, Any]) -> tuple[str, str]:
    """The first invalid parameter WordPress names, and what it said about it."""
    info = data.get("data")
    if isinstance(info, dict):
        details = info.get("details")
        if isinstance(details, dict) and details:
            name = next(iter(details))
            detail = details[name]
            message = detail.get("message", "") if isinstance(detail, dict) else detail
            return str(name), _plain(message)
        params = info.get("params")
        if isinstance(params, dict) and params:
            name = next(iter(params))
            return str(name), _plain(params[name])
        if isinstance(params, list) and params:
            return str(params[0]), "missing"
    extra = data.get("additional_data")
    if isinstance(extra, list) and extra and isinstance(extra[0], dict) and "param" in extra[0]:
        return str(extra[0]["param"]), _plain(data.get("message", ""))
    return "", _plain(data.get("message", ""))


def classify(kind: str, status: int, data: Mapping[str, Any], *, write: bool, who: str = "") -> SyncdError:
    """The ``syncd.errors`` class of one WordPress JSON error, decided by its ``code``."""
    code = str(data.get("code", ""))
    message = _plain(data.get("message", ""))
    user = who or "a user"
    said = f"WordPress said {status} {code}: {message}"
    if code == "existing_user_email" or code == "rest_user_invalid_email":
        return DuplicateEmail(f"the email of {user} is already used by another WordPress user ({said})",
                              side=SIDE, code=code)
    if code == "existing_user_login":
        return RemoteRejected(f"the username for {user} is taken ({said})", side=SIDE, code=code)
    if code in _USERNAME_CODES or code in ("rest_user_invalid_argument", "rest_user_invalid_slug"):
        return InvalidRecord(f"WordPress refused the username of {user} ({said})", user=user, field="username")
    if status == 401:
        return BadCredentials(
            f"WordPress ran our {kind} as anonymous ({status} {code}): the application password was not "
            "accepted (check [wordpress] username and application_password; over plain http Application "
            "Passwords need WP_ENVIRONMENT_TYPE=local or https)",
            side=SIDE,
        )
    if status == 403:
        if code == "rest_cannot_update":
            info = data.get("data")
            key = info.get("key", "") if isinstance(info, dict) else ""
            return PermissionDenied(f"WordPress does not let us write the {key or 'user meta'} field ({said})",
                                    side=SIDE, action=f"edit meta {key}".strip())
        capability = _CAPABILITY_OF_CODE.get(code, code)
        return PermissionDenied(
            f"the WordPress account lacks the {capability} capability for a {kind} ({said}); give it the "
            "Administrator role",
            side=SIDE,
            action=capability,
        )
    if code == "rest_user_invalid_id":
        return NotFound(f"WordPress user of {user} no longer exists ({said})", side=SIDE, code=code)
    if code == "rest_no_route":
        return NotAnApi(f"WordPress has no route for a {kind} ({said}): a plugin restricts the REST API",
                        side=SIDE)
    if code == "rest_user_invalid_role":
        return InvalidRecord(f"WordPress refused the role for {user} ({said}); check [wordpress.new_users] role",
                             user=user, field="roles")
    if code in ("rest_invalid_param", "rest_invalid_type", "rest_missing_callback_param"):
        name, why = _invalid_field(data)
        return InvalidRecord(f"WordPress refused the {name or 'data'} of {user}: {why or message} ({code})",
                             user=user, field=name)
    if status >= 500:
        if write:
            return OutcomeUnknown(f"WordPress failed during a {kind} of {user} ({said}); it may have happened",
                                  side=SIDE)
        return Transient(f"WordPress failed a {kind} ({said})", side=SIDE)
    return RemoteRejected(f"WordPress refused a {kind} of {user} ({said})", side=SIDE, code=code)
