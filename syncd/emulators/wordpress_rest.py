"""One request to the WordPress emulator: where it goes and how it is answered.

``respond`` finds the route (``/wp-json/...`` with pretty permalinks, ``?rest_route=``
without; ``wp-login.php``; anything else is a page), counts the call by kind, applies an
injected fault and the ``rest_disabled`` switch, authenticates (an Application Password, or
anonymous: wrong credentials are never an error in WordPress), parses the body (JSON or a
form), dispatches to the listing and one-user functions, applies ``_fields``, and writes the
answer with WordPress's headers.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from syncd.emulators.server import Answer, Request
from syncd.emulators.wordpress_errors import CRITICAL, ApiError, no_route
from syncd.emulators.wordpress_fields import requested_fields, trim_user
from syncd.emulators.wordpress_json import Raw, index_document, options_document
from syncd.emulators.wordpress_listing import list_users
from syncd.emulators.wordpress_text import normalise_app_password, php_json
from syncd.emulators.wordpress_users import EmuUser, by_email, by_login, can
from syncd.emulators.wordpress_writes import app_passwords, create_user, delete_user, get_user, update_user

if TYPE_CHECKING:
    from syncd.emulators.wordpress import InjectedFault, WordPressEmulator


_MAINTENANCE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Maintenance</title></head><body>"
                "<h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1></body></html>")
_BLOCK_PAGE = ("<!DOCTYPE html><html><head><title>Access denied</title></head><body><h1>403 Forbidden</h1>"
               "<p>Your request was blocked by the site's firewall.</p></body></html>")


def respond(emu: WordPressEmulator, request: Request) -> Answer:
    """Answer one HTTP request (for both ways in of ``server.Served``)."""
    method, headers, body = request.method, request.headers, request.body
    parts = urlsplit(request.url)
    site = f"{parts.scheme}://{parts.netloc}"
    query_order = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(query_order)
    lower = {k.lower(): v for k, v in headers.items()}
    with emu._lock:
        if parts.path.rstrip("/") == "/wp-login.php":
            return _lost_password(emu, method, query, body, site)
        pretty = not emu.plain_permalinks
        route: str | None = None
        if parts.path.startswith("/wp-json") and emu.rest_disabled != "html":
            if emu.plain_permalinks:
                # No rewrite rule for /wp-json/: WordPress adds a slash, then shows a page.
                if not parts.path.endswith("/"):
                    return Answer(301, [("Content-Type", "text/html; charset=UTF-8"),
                                        ("Location", f"{site}{parts.path}/")])
                return _page(emu, site)
            route = parts.path[len("/wp-json"):] or "/"
            route = route.rstrip("/") or "/"
        elif "rest_route" in query and parts.path in ("/", "/index.php") and emu.rest_disabled != "html":
            route = query.pop("rest_route").rstrip("/") or "/"
            query_order = [(k, v) for k, v in query_order if k != "rest_route"]
        if route is None:
            return _page(emu, site)
        return _rest(emu, method, route, query, query_order, lower, body, site, pretty)


def _page(emu: WordPressEmulator, site: str) -> Answer:
    emu.calls["page"] += 1
    html = f"<!DOCTYPE html><html><head><title>{emu.site_name}</title></head><body></body></html>"
    return Answer(200, [("Content-Type", "text/html; charset=UTF-8")], html.encode())


def _authenticate(emu: WordPressEmulator, headers: Mapping[str, str]) -> EmuUser | None:
    """The user of a valid Application Password; anything else is anonymous (never an error)."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic ") or emu.environment != "local":
        return None
    try:
        login, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    user = by_login(emu, login) or (by_email(emu, login) if "@" in login else None)
    wanted = normalise_app_password(password)
    if user is None or not wanted or all(p != wanted for _, _, p in user.app_passwords):
        return None
    return user


def _kind(emu: WordPressEmulator, method: str, route: str, query: Mapping[str, str]) -> str:
    if route == "/":
        return "index"
    if method == "OPTIONS":
        return "options"
    if route.endswith("/application-passwords"):
        return "app_password"
    if route.startswith("/syncd/"):
        return "companion"
    if route == "/wp/v2/users":
        if method == "POST":
            return "create"
        return "search" if query.get("search") else "list_page"
    if method == "DELETE":
        return "delete"
    if method in ("POST", "PUT", "PATCH"):
        return "update"
    return "me" if route == "/wp/v2/users/me" else "get"


def _take_fault(emu: WordPressEmulator, kind: str, query: Mapping[str, str]) -> InjectedFault | None:
    for fault in emu._faults:
        if fault.kind != kind:
            continue
        if fault.page is not None and str(fault.page) != query.get("page", "1"):
            continue
        fault.times -= 1
        if fault.times <= 0:
            emu._faults.remove(fault)
        return fault
    return None


def _headers(emu: WordPressEmulator, site: str, pretty: bool, allow: str = "") -> list[tuple[str, str]]:
    out = [
        ("Content-Type", "application/json; charset=UTF-8"),
        ("X-Robots-Tag", "noindex"),
        ("X-Content-Type-Options", "nosniff"),
        ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
        ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, "
                                         "Content-Type"),
    ]
    if allow:
        out.append(("Allow", allow))
    out += [("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"), ("Cache-Control", "no-cache, must-revalidate, max-age=0")]
    return out


def _rest(
    emu: WordPressEmulator,
    method: str,
    route: str,
    query: dict[str, str],
    query_order: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    site: str,
    pretty: bool,
) -> Answer:
    if method == "POST":
        override = query.get("_method") or headers.get("x-http-method-override", "")
        if override.upper() in ("PUT", "PATCH", "DELETE"):
            method = override.upper()
    kind = _kind(emu, method, route, query)
    emu.calls[kind] += 1
    api_link = ("Link", f"<{site}/wp-json/>; rel=\"https://api.w.org/\"")
    fault = _take_fault(emu, kind, query)
    if fault is not None and fault.fault in ("error", "too_many", "maintenance", "html"):
        return _fault_answer(emu, fault, site, pretty)
    actor = _authenticate(emu, headers)
    blocked: ApiError | None = None
    if emu.rest_disabled == "all":
        blocked = ApiError(401, "rest_disabled",
                           "REST API restricted: it has been disabled on this site by a security plugin.")
    elif emu.rest_disabled == "anonymous" and actor is None:
        blocked = ApiError(401, "rest_login_required", "REST API restricted to authenticated users.")
    if blocked is not None:
        return Answer(401, [*_headers(emu, site, pretty), api_link], php_json(blocked.body()))
    try:
        data = _parse_body(body, headers)
        status, payload, extra = _dispatch(emu, method, route, query, query_order, data, site, pretty, actor)
    except ApiError as error:
        status, payload, extra = error.status, error.body(), []
    if method == "HEAD":
        payload = None
    elif status < 400 and kind in ("me", "get", "create", "update") and isinstance(payload, dict):
        spec = requested_fields(query_order)
        if spec is not None:
            payload = trim_user(payload, spec, listed=False)
    out_headers = _headers(emu, site, pretty) + extra
    if not any(name == "Link" for name, _ in extra):
        out_headers.append(api_link)
    content = b"" if payload is None else payload.body if isinstance(payload, Raw) else php_json(payload)
    if fault is not None:
        if fault.fault == "empty_after_commit":
            return Answer(fault.status or 500, [("Content-Type", "text/html; charset=UTF-8")], b"")
        if fault.fault == "truncated":
            return Answer(status, out_headers, content[: max(1, len(content) // 2)])
        if fault.fault == "disconnect_after_commit":
            return Answer(0, [], silence="dropped")
    return Answer(status, out_headers, content)


def _fault_answer(emu: WordPressEmulator, fault: InjectedFault, site: str, pretty: bool) -> Answer:
    if fault.fault == "error":
        status = fault.status or 500
        body = {"code": "internal_server_error", "message": CRITICAL, "data": {"status": status},
                "additional_errors": []}
        return Answer(status, _headers(emu, site, pretty), php_json(body))
    if fault.fault == "too_many":
        headers = [*_headers(emu, site, pretty), ("Retry-After", str(int(fault.retry_after or 1)))]
        body = {"code": "too_many_requests", "message": "Too many requests.", "data": {"status": 429}}
        return Answer(429, headers, php_json(body))
    if fault.fault == "maintenance":
        headers = [("Content-Type", "text/html; charset=UTF-8"),
                   ("Retry-After", str(int(fault.retry_after or 600)))]
        return Answer(fault.status or 503, headers, _MAINTENANCE.encode())
    return Answer(fault.status or 200, [("Content-Type", "text/html; charset=UTF-8")], _BLOCK_PAGE.encode())


def _parse_body(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in headers.get("content-type", ""):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "rest_invalid_json", "Invalid JSON body passed.",
                           {"status": 400, "json_error_code": 4,
                            "json_error_message": "Syntax error"}) from exc
        return data if isinstance(data, dict) else {}
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        match = re.fullmatch(r"meta\[([^\]]+)\]", key)
        if match:
            out.setdefault("meta", {})[match.group(1)] = value
        elif key in ("roles", "roles[]"):
            out.setdefault("roles", []).extend(r for r in value.split(",") if r)
        else:
            out[key] = value
    return out


def _dispatch(
    emu: WordPressEmulator,
    method: str,
    route: str,
    query: Mapping[str, str],
    query_order: list[tuple[str, str]],
    data: dict[str, Any],
    site: str,
    pretty: bool,
    actor: EmuUser | None,
) -> tuple[int, Any, list[tuple[str, str]]]:
    if route == "/":
        if method not in ("GET", "HEAD"):
            raise no_route()
        return 200, index_document(emu, site, pretty), [("Allow", "GET")]
    if route == "/syncd/v1/companion" and emu.companion is not None and method in ("GET", "HEAD"):
        if not can(emu, actor, "list_users"):
            raise ApiError(401 if actor is None else 403, "rest_forbidden",
                           "Sorry, you are not allowed to do that.")
        version, configured, own = emu.companion
        return 200, {"version": version, "meta_keys": list(own), "configured_meta_keys": list(configured)}, []
    if route == "/wp/v2/users":
        if method in ("GET", "HEAD"):
            return list_users(emu, query, query_order, actor, site, pretty)
        if method == "POST":
            return create_user(emu, data, actor, site, pretty)
        if method == "OPTIONS":
            return 200, options_document(emu), [("Allow", "GET, POST")]
        raise no_route()
    match = re.fullmatch(r"/wp/v2/users/(me|\d+)(/application-passwords)?", route)
    if match is None:
        raise no_route()
    target_key, sub = match.groups()
    if target_key == "me":
        if actor is None:
            raise ApiError(401, "rest_not_logged_in", "You are not currently logged in.")
        target = actor
    else:
        found = emu.users.get(int(target_key))
        if found is None:
            raise ApiError(404, "rest_user_invalid_id", "Invalid user ID.")
        target = found
    if sub:
        return app_passwords(emu, method, data, actor, target, site, pretty)
    allow = [("Allow", "GET, POST, PUT, PATCH, DELETE")]
    if method in ("GET", "HEAD"):
        return 200, get_user(emu, query, actor, target, site, pretty), allow
    if method in ("POST", "PUT", "PATCH"):
        return 200, update_user(emu, data, actor, target, site, pretty), allow
    if method == "DELETE":
        return 200, delete_user(emu, query, data, actor, target, site, pretty), allow
    raise no_route()


# -- wp-login.php ----------------------------------------------------------------------


def _lost_password(emu: WordPressEmulator, method: str, query: Mapping[str, str], body: bytes, site: str) -> Answer:
    emu.calls["lostpassword"] += 1
    fault = _take_fault(emu, "lostpassword", query)
    if fault is not None:
        return _fault_answer(emu, fault, site, True)
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    login = form.get("user_login", "").strip()
    html_headers = [("Content-Type", "text/html; charset=UTF-8")]
    if method != "POST" or query.get("action") != "lostpassword":
        form_page = b"<!DOCTYPE html><html><body><form id=\"loginform\"></form></body></html>"
        return Answer(200, html_headers, form_page)
    user = by_login(emu, login) or (by_email(emu, login) if "@" in login else None)
    if user is None:
        page = ("<!DOCTYPE html><html><body><div id=\"login_error\"><strong>Error:</strong> There is no account "
                "with that username or email address.<br /></div></body></html>")
        return Answer(200, html_headers, page.encode())
    emu.mail.append({"to": user.email, "subject": f"[{emu.site_name}] Password Reset"})
    return Answer(302, [*html_headers, ("Location", "/wp-login.php?checkemail=confirm")])
