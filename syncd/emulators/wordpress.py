"""A loopback emulator of the WordPress 6.1 users REST API, for fast tests and ``syncd demo``.

It answers as the real WordPress was measured to (reference/wordpress.md): the same JSON
shapes per context, headers, status codes and error codes, the same paging, search and
validation quirks (a duplicate email on create is a 500; wrong credentials run as
anonymous; ``roles: []`` leaves no role; unregistered meta is silently dropped), and the
``_fields`` response filter on the users routes. It passes
the same contract tests as a real WordPress. Switches reproduce what goes wrong in the
field: latency, REST disabled, plain permalinks, Application Passwords unavailable,
faults on a chosen call. Use it in-process (``transport()``) or over loopback HTTP
(``serve()``), both from ``server.Served``; ``python -m syncd.emulators wordpress --seed FILE``
runs it standalone.

This module is the site: its state, switches and seeding. The rest, by role, each a set of
functions over this state (the ``_``-prefixed attributes are theirs too):
``wordpress_users`` (the users table, roles and capabilities), ``wordpress_rest`` (a request:
routing, authentication, faults, the answer), ``wordpress_listing`` (``GET /users``: filters,
search, order, pages), ``wordpress_writes`` (one user: read, create, update, delete,
Application Passwords), ``wordpress_json`` (how users and the API's own documents look),
``wordpress_fields`` (the ``_fields`` filter), ``wordpress_text`` and ``wordpress_kses``
(what WordPress stores for the text it is given), ``wordpress_errors`` (``WP_Error`` answers).

Seed file for ``--seed`` (JSON; every key optional)::

    {"site": {"name": "Demo", "environment": "local", "plain_permalinks": false,
              "registered_meta": {"billing_company": "string", "whmcs_client_id": "integer"}},
     "admin": {"login": "admin", "email": "admin@example.test", "app_password": "24 letters/digits"},
     "users": [{"login": "ann", "email": "ann@example.test", "first_name": "Ann", "last_name": "Lee",
                "roles": ["subscriber"], "company": "Acme", "app_password": "optional"}]}
"""

from __future__ import annotations

import secrets
import string
import threading
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from syncd.emulators import wordpress_rest
from syncd.emulators.server import Answer, Request, Served
from syncd.emulators.wordpress_json import serialise
from syncd.emulators.wordpress_text import (
    display_name,
    is_email,
    normalise_app_password,
    sanitize_email,
    sanitize_text,
    sanitize_title,
    valid_login,
)
from syncd.emulators.wordpress_users import CORE_ROLES, EmuUser, by_email, by_login, insert

# WordPress's text rules are part of this module's interface (tests check syncd's own rules
# against them).
__all__ = ["CORE_ROLES", "FAULTS", "KINDS", "EmuUser", "Fault", "WordPressEmulator", "display_name", "is_email",
           "load_seed", "sanitize_email", "sanitize_text", "sanitize_title", "valid_login"]

Fault = Literal[
    "error", "too_many", "maintenance", "html", "empty_after_commit", "truncated", "disconnect_after_commit"
]
FAULTS: tuple[str, ...] = typing.get_args(Fault)

#: Call kinds, as counted in ``calls`` and targeted by ``inject``.
KINDS = ("index", "me", "list_page", "search", "get", "create", "update", "delete", "options",
         "app_password", "lostpassword", "page")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class InjectedFault:
    """A fault planted by ``inject``: the next ``times`` calls of ``kind`` (on ``page``) get it."""

    kind: str
    fault: str
    times: int
    page: int | None
    status: int | None
    retry_after: float | None


#: The companion's default SYNCD_META_KEYS: WooCommerce's billing keys (companions/wordpress).
COMPANION_DEFAULT_KEYS: tuple[str, ...] = (
    "billing_first_name", "billing_last_name", "billing_company", "billing_address_1", "billing_address_2",
    "billing_city", "billing_state", "billing_postcode", "billing_country", "billing_email", "billing_phone",
)


class WordPressEmulator(Served):
    """The WordPress users REST API in memory, with switches for faults.

    Seed with ``add_user`` / ``add_app_password``; switch ``latency``, ``rest_disabled``
    (``"all"``: every REST call answers 401 ``rest_disabled``, as a security plugin's strictest
    setting and scripts/wp-site's knob do; ``"anonymous"``: 401 ``rest_login_required`` unless
    authenticated; ``"html"``: the REST API is gone and pages answer instead),
    ``plain_permalinks``, ``environment`` (``"production"`` over http: no Application
    Passwords), and ``inject()`` faults on a call kind.
    """

    def __init__(
        self,
        *,
        admin_login: str = "admin",
        admin_email: str = "admin@example.test",
        site_name: str = "Sync Test",
        registered_meta: Mapping[str, Literal["string", "integer"]] | None = None,
        readonly_meta: Sequence[str] = (),
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.site_name = site_name
        self.registered_meta: dict[str, str] = dict(
            registered_meta if registered_meta is not None else {"whmcs_client_id": "integer",
                                                                 "billing_company": "string"}
        )
        self.readonly_meta = set(readonly_meta)
        #: The syncd companion plugin, once ``install_companion`` ran: its version and SYNCD_META_KEYS.
        #: (version, SYNCD_META_KEYS, the keys it registered itself: those nothing else had).
        self.companion: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
        #: Meta shown in the ``edit`` context only (the companion's keys), not in ``view``.
        self.edit_only_meta: set[str] = set()
        self.roles: dict[str, tuple[str, ...]] = dict(CORE_ROLES)
        self.users: dict[int, EmuUser] = {}
        self.calls: Counter[str] = Counter()
        self.mail: list[dict[str, str]] = []
        self.latency = 0.0
        #: Served connections stay open for the next request (as WordPress behind nginx or
        #: Apache); by default each answer closes its connection, as ``php -S`` does.
        self.keep_alive = False
        self.rest_disabled: Literal["all", "anonymous", "html"] | None = None
        self.plain_permalinks = False
        self.environment: Literal["local", "production"] = "local"
        self._clock = clock
        self._faults: list[InjectedFault] = []
        self._next_id = 1
        self._ordered: list[EmuUser] = []
        self._ordered_key = (-1, -1)
        # Each user's JSON as a listing shows it, per listing shape (context, _fields, site, and
        # what roles and registered meta are); an entry is used only while the user's own
        # fingerprint (every attribute its JSON is made of) is unchanged, so any write, even a
        # test setting an attribute directly, is seen without explicit invalidation.
        self._rendered: dict[tuple[Any, ...], dict[int, tuple[tuple[Any, ...], bytes]]] = {}
        self._lock = threading.RLock()
        self.admin_login = admin_login
        self.admin_id = self.add_user(admin_login, admin_email, roles=("administrator",), published_posts=True)
        self.users[self.admin_id].url = ""  # set per request: the site URL, as wp_install leaves it

    # -- seeding ---------------------------------------------------------------------------

    def add_role(self, name: str, capabilities: Sequence[str]) -> None:
        """A custom role (a plugin's, say) with the given capabilities."""
        with self._lock:
            self.roles[name] = tuple(capabilities)

    def add_user(
        self,
        login: str,
        email: str,
        first_name: str = "",
        last_name: str = "",
        roles: Sequence[str] = ("subscriber",),
        company: str = "",
        *,
        meta: Mapping[str, Any] | None = None,
        published_posts: bool = False,
    ) -> int:
        """Insert a user directly (as a PHP script would) and return its id."""
        with self._lock:
            if by_login(self, login) or by_email(self, email):
                raise ValueError(f"login or email already exists: {login} / {email}")
            unknown = [r for r in roles if r not in self.roles]
            if unknown:
                raise ValueError(f"unknown role(s): {unknown}")
            user = insert(self, login, email, secrets.token_urlsafe(16), first_name, last_name)
            user.roles = list(roles)
            user.published_posts = published_posts
            if company:
                user.meta["billing_company"] = company
            user.meta.update(meta or {})
            return user.id

    def install_companion(self, meta_keys: Sequence[str] = COMPANION_DEFAULT_KEYS, version: str = "0.3.0") -> None:
        """Act as the syncd companion plugin does once installed: register each key of ``meta_keys``
        (its SYNCD_META_KEYS) that nothing registered yet, as string meta shown in the ``edit``
        context only, and answer ``GET /syncd/v1/companion``."""
        with self._lock:
            own = tuple(k for k in meta_keys if k not in self.registered_meta)  # it leaves others' keys alone
            for key in own:
                self.registered_meta[key] = "string"
            self.edit_only_meta.update(own)
            self.companion = (version, tuple(meta_keys), own)

    def add_users(self, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Insert many subscribers at once (benchmarks seed 100,000); their ids.

        Each row has ``login`` and ``email``, optionally ``first_name``, ``last_name``,
        ``company``, ``meta`` (more user meta). The same uniqueness rules as ``add_user``, checked
        against sets built once instead of a scan of every user per insert (which made 100,000
        users take minutes).
        """
        with self._lock:
            logins = {u.login.casefold() for u in self.users.values()}
            emails = {u.email.casefold() for u in self.users.values()}
            slugs = {u.slug for u in self.users.values()}
            ids = []
            for row in rows:
                login, email = str(row["login"]), str(row["email"])
                if login.casefold() in logins or email.casefold() in emails:
                    raise ValueError(f"login or email already exists: {login} / {email}")
                user = insert(self, login, email, secrets.token_urlsafe(16), str(row.get("first_name", "")),
                              str(row.get("last_name", "")), taken_slugs=slugs)
                user.roles = ["subscriber"]
                if row.get("company"):
                    user.meta["billing_company"] = str(row["company"])
                user.meta.update(row.get("meta") or {})
                logins.add(login.casefold())
                emails.add(email.casefold())
                slugs.add(user.slug)
                ids.append(user.id)
            return ids

    def add_app_password(self, login: str, password: str | None = None, name: str = "syncd") -> str:
        """A new Application Password for ``login`` (24 letters and digits, as PHP returns it)."""
        with self._lock:
            user = by_login(self, login)
            if user is None:
                raise KeyError(login)
            alphabet = string.ascii_letters + string.digits
            value = password or "".join(secrets.choice(alphabet) for _ in range(24))
            user.app_passwords.append((str(uuid.uuid4()), name, normalise_app_password(value)))
            return value

    def user(self, user_id: int) -> dict[str, Any]:
        """A user as ``GET /users/{id}?context=edit`` would show it (for test assertions)."""
        with self._lock:
            return serialise(self, self.users[user_id], "edit", "http://127.0.0.1", pretty=True)

    def inject(
        self,
        kind: str,
        fault: Fault,
        *,
        times: int = 1,
        page: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``kind`` (on ``page`` if given) fail with ``fault``.

        ``error``: HTTP ``status`` (500) with WordPress's critical-error JSON, nothing done.
        ``too_many``: 429 with ``Retry-After``, nothing done. ``maintenance``: 503 HTML page.
        ``html``: an HTML page (status 200, or ``status``) from a firewall, nothing done.
        ``empty_after_commit``: done, then an empty body (status 500, or ``status``).
        ``truncated``: done, then half of the JSON. ``disconnect_after_commit``: done, then
        the connection drops without an answer.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown call kind {kind!r}; one of {KINDS}")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(InjectedFault(kind, fault, times, page, status, retry_after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def respond(self, request: Request) -> Answer:
        """Answer one HTTP request, for both ways in (``transport()``, ``serve()``)."""
        return wordpress_rest.respond(self, request)


def load_seed(emulator: WordPressEmulator, seed: Mapping[str, Any]) -> dict[str, str]:
    """Apply a seed document (see the module docstring); returns {login: app password} it set."""
    site = seed.get("site", {})
    if "name" in site:
        emulator.site_name = str(site["name"])
    if "environment" in site:
        emulator.environment = site["environment"]
    emulator.plain_permalinks = bool(site.get("plain_permalinks", False))
    if "registered_meta" in site:
        emulator.registered_meta = dict(site["registered_meta"])
    passwords: dict[str, str] = {}
    admin = seed.get("admin", {})
    passwords[emulator.admin_login] = emulator.add_app_password(emulator.admin_login, admin.get("app_password"))
    for entry in seed.get("users", []):
        emulator.add_user(
            entry["login"], entry["email"], entry.get("first_name", ""), entry.get("last_name", ""),
            tuple(entry.get("roles", ("subscriber",))), entry.get("company", ""),
        )
        if entry.get("app_password"):
            passwords[entry["login"]] = emulator.add_app_password(entry["login"], entry["app_password"])
    return passwords
