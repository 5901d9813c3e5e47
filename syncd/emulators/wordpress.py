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

Seed file for ``--seed`` (JSON; every key optional)::

    {"site": {"name": "Demo", "environment": "local", "plain_permalinks": false,
              "registered_meta": {"billing_company": "string", "whmcs_client_id": "integer"}},
     "admin": {"login": "admin", "email": "admin@example.test", "app_password": "24 letters/digits"},
     "users": [{"login": "ann", "email": "ann@example.test", "first_name": "Ann", "last_name": "Lee",
                "roles": ["subscriber"], "company": "Acme", "app_password": "optional"}]}
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import string
import threading
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from syncd.emulators.server import Answer, Request, Served
from syncd.emulators.wordpress_kses import DISPLAY_NAME_MAX, stored_name

Fault = Literal[
    "error", "too_many", "maintenance", "html", "empty_after_commit", "truncated", "disconnect_after_commit"
]
FAULTS: tuple[str, ...] = typing.get_args(Fault)

#: Call kinds, as counted in ``calls`` and targeted by ``inject``.
KINDS = ("index", "me", "list_page", "search", "get", "create", "update", "delete", "options",
         "app_password", "lostpassword", "page")

_ADMIN_CAPS: tuple[str, ...] = (
    "switch_themes", "edit_themes", "activate_plugins", "edit_plugins", "edit_users", "edit_files",
    "manage_options", "moderate_comments", "manage_categories", "manage_links", "upload_files", "import",
    "unfiltered_html", "edit_posts", "edit_others_posts", "edit_published_posts", "publish_posts", "edit_pages",
    "read", "level_10", "level_9", "level_8", "level_7", "level_6", "level_5", "level_4", "level_3", "level_2",
    "level_1", "level_0", "edit_others_pages", "edit_published_pages", "publish_pages", "delete_pages",
    "delete_others_pages", "delete_published_pages", "delete_posts", "delete_others_posts",
    "delete_published_posts", "delete_private_posts", "edit_private_posts", "read_private_posts",
    "delete_private_pages", "edit_private_pages", "read_private_pages", "delete_users", "create_users",
    "unfiltered_upload", "edit_dashboard", "update_plugins", "delete_plugins", "install_plugins",
    "update_themes", "install_themes", "update_core", "list_users", "remove_users", "promote_users",
    "edit_theme_options", "delete_themes", "export",
)
_EDITOR_CAPS: tuple[str, ...] = (
    "moderate_comments", "manage_categories", "manage_links", "upload_files", "unfiltered_html", "edit_posts",
    "edit_others_posts", "edit_published_posts", "publish_posts", "edit_pages", "read", "level_7", "level_6",
    "level_5", "level_4", "level_3", "level_2", "level_1", "level_0", "edit_others_pages",
    "edit_published_pages", "publish_pages", "delete_pages", "delete_others_pages", "delete_published_pages",
    "delete_posts", "delete_others_posts", "delete_published_posts", "delete_private_posts",
    "edit_private_posts", "read_private_posts", "delete_private_pages", "edit_private_pages",
    "read_private_pages",
)
_AUTHOR_CAPS: tuple[str, ...] = (
    "upload_files", "edit_posts", "edit_published_posts", "publish_posts", "read", "level_2", "level_1",
    "level_0", "delete_posts", "delete_published_posts",
)
#: WordPress core's roles and their capabilities, in the order 6.1 lists them.
CORE_ROLES: dict[str, tuple[str, ...]] = {
    "administrator": _ADMIN_CAPS,
    "editor": _EDITOR_CAPS,
    "author": _AUTHOR_CAPS,
    "contributor": ("edit_posts", "read", "level_1", "level_0", "delete_posts"),
    "subscriber": ("read", "level_0"),
}

ORDERBY = ("id", "include", "name", "registered_date", "slug", "include_slugs", "email", "url")
CONTEXTS = ("view", "embed", "edit")
_LOGIN_DISALLOWED = re.compile(r"[^A-Za-z0-9 _.\-@]")
_EMAIL_LOCAL = re.compile(r"^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_PART = re.compile(r"^[a-z0-9-]+$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_EMAIL_STRAY = re.compile(r"[^a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]")
_CRITICAL = ("<p>There has been a critical error on this website.</p><p><a href=\"https://wordpress.org/support/"
             "article/faq-troubleshooting/\">Learn more about troubleshooting WordPress.</a></p>")
_MAINTENANCE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Maintenance</title></head><body>"
                "<h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1></body></html>")
_BLOCK_PAGE = ("<!DOCTYPE html><html><head><title>Access denied</title></head><body><h1>403 Forbidden</h1>"
               "<p>Your request was blocked by the site's firewall.</p></body></html>")


def _now() -> datetime:
    return datetime.now(UTC)


def sanitize_text(value: str) -> str:
    """What WordPress stores for a name (sanitize_text_field + kses + _wp_specialchars; see wordpress_kses)."""
    return stored_name(value)


def sanitize_email(value: str) -> str:
    """What WordPress stores for an email is_email() accepted: trimmed, the local part's stray characters
    dropped (``ann\\n@example.com`` passes is_email, PHP's ``$`` allowing a final newline, and is stored
    without it)."""
    local, _, domain = value.strip().partition("@")
    return _EMAIL_STRAY.sub("", local) + "@" + domain


def sanitize_title(value: str) -> str:
    """WordPress's user_nicename (slug): lower case, dots → dashes, only [a-z0-9_-], ≤ 50 chars."""
    text = value.lower().replace(".", "-")
    text = re.sub(r"[^a-z0-9 _-]", "", text)
    text = re.sub(r"\s+", "-", text)
    text = re.sub(r"-+", "-", text).strip("-")
    return text[:50]


def is_email(value: str) -> bool:
    """WordPress's is_email(), closely enough: ASCII local part and a dotted hostname."""
    if len(value) < 6 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or not _EMAIL_LOCAL.match(local) or ".." in domain:
        return False
    parts = domain.split(".")
    # PHP trims each label of whitespace and hyphens and refuses it if that changed anything.
    return len(parts) >= 2 and all(p and _DOMAIN_PART.match(p) and p.strip(" \t\n\r\0\x0b-") == p for p in parts)


def _php_empty(value: str) -> bool:
    return value in ("", "0")  # PHP's empty() on a string: "0" is empty too


def display_name(first: str, last: str, display: str, login: str) -> str:
    """The display name wp_insert_user stores on create: the one given, else "first last", the one
    name there is, or the login (each name as stored; a name of "0" counts as none)."""
    if not _php_empty(display):
        return sanitize_text(display)
    names = [n for n in (sanitize_text(f) for f in (first, last) if not _php_empty(f)) if not _php_empty(n)]
    return sanitize_text(" ".join(names)) if names else login


def _valid_login(login: str) -> bool:
    cleaned = " ".join(_LOGIN_DISALLOWED.sub("", _TAGS.sub("", login)).split())
    return bool(cleaned) and cleaned == login


def _normalise_app_password(value: str) -> str:
    return re.sub(r"[^a-z\d]", "", value, flags=re.IGNORECASE)


def _php_json(data: Any) -> bytes:
    """JSON as PHP's json_encode writes it: ASCII with \\u escapes, and escaped slashes."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode("ascii")


@dataclass(frozen=True)
class FieldSpec:
    """A request's ``_fields``, as WordPress 6.1 applies it to the users routes (measured, see
    tests/wordpress/contract.py): ``computed`` are the top-level fields the users controller
    fills in (a name given exactly, and ``id`` always: its ``in_array`` checks ignore a dotted
    ``meta.key`` or ``capabilities.read``, which therefore drop that field altogether);
    ``links`` whether ``_links`` is added (``rest_is_field_included``: ``_links`` or
    ``_links.self`` asks for it); ``tree`` what ``rest_filter_response_fields`` keeps of each
    item, nested for dotted names."""

    fields: tuple[str, ...]
    computed: frozenset[str]
    links: bool
    tree: Mapping[str, Any]


def requested_fields(query_order: Sequence[tuple[str, str]]) -> FieldSpec | None:
    """The ``_fields`` of a query (PHP's rules: the last ``_fields`` or run of ``_fields[]`` wins),
    or None when there is none or it lists nothing (then nothing is filtered)."""
    raw: list[str] | None = None
    listed = False
    for key, value in query_order:
        if key == "_fields":
            raw, listed = re.split(r"[\s,]+", value), False  # wp_parse_list on a string
        elif re.fullmatch(r"_fields\[\d*\]", key):
            raw = [*raw, value] if listed and raw is not None else [value]
            listed = True
    if raw is None:
        return None
    fields = tuple(f.strip() for f in raw if f.strip() or listed)
    if not fields:
        return None
    tree: dict[str, Any] = {}
    for name in fields:
        *parents, last = name.split(".")
        ref = tree
        for part in parents:
            if ref.get(part) is True:
                return _spec(fields, tree)  # WordPress's `break 2`: the rest of the list is ignored
            ref = ref.setdefault(part, {})
        ref[last] = True
    return _spec(fields, tree)


def _spec(fields: tuple[str, ...], tree: dict[str, Any]) -> FieldSpec:
    links = any(f in ("_links", "_embedded") or f.startswith(("_links.", "_embedded.")) for f in fields)
    return FieldSpec(fields, frozenset(f for f in fields if "." not in f) | {"id"}, links, tree)


def _intersect(data: Mapping[str, Any], tree: Mapping[str, Any]) -> Any:
    """``_rest_array_intersect_key_recursive``: the keys of ``tree``, in ``data``'s order; an
    array left empty is PHP's empty array, ``[]`` in JSON."""
    out = {
        k: _intersect(v, tree[k]) if isinstance(v, dict) and isinstance(tree[k], dict) else v
        for k, v in data.items() if k in tree
    }
    return out if out else []


def trim_user(data: Mapping[str, Any], spec: FieldSpec, *, listed: bool = True) -> Any:
    """One serialised user as WordPress answers it under ``_fields``. In a listing each user's
    ``_links`` are part of its data when the filter runs (so ``_links.self`` keeps only self);
    a single user's links are added after it, whole, when asked for at all."""
    if listed:
        return _intersect({k: v for k, v in data.items() if k in spec.computed or (k == "_links" and spec.links)},
                          spec.tree)
    out = _intersect({k: v for k, v in data.items() if k in spec.computed}, spec.tree)
    if spec.links and "_links" in data:
        out = {**(out or {}), "_links": data["_links"]}
    return out


@dataclass(frozen=True)
class _Raw:
    """A response body already encoded (a listing assembled from each user's cached JSON)."""

    body: bytes


@dataclass
class EmuUser:
    """One user row with its usermeta, as the emulator keeps it."""

    id: int
    login: str
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    nickname: str = ""
    slug: str = ""
    url: str = ""
    description: str = ""
    registered: str = ""
    roles: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    app_passwords: list[tuple[str, str, str]] = field(default_factory=list)  # (uuid, name, normalised password)
    published_posts: bool = False


@dataclass
class _Fault:
    kind: str
    fault: str
    times: int
    page: int | None
    status: int | None
    retry_after: float | None


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, data: Any = "status", **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.data = {"status": status} if data == "status" else data
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data, **self.extra}


@dataclass
class _Request:
    method: str
    route: str
    query: dict[str, str]
    query_order: list[tuple[str, str]]
    body: dict[str, Any]
    site: str
    pretty: bool
    user: EmuUser | None


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
        self._faults: list[_Fault] = []
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
            if self._by_login(login) or self._by_email(email):
                raise ValueError(f"login or email already exists: {login} / {email}")
            unknown = [r for r in roles if r not in self.roles]
            if unknown:
                raise ValueError(f"unknown role(s): {unknown}")
            user = self._insert(login, email, secrets.token_urlsafe(16), first_name, last_name)
            user.roles = list(roles)
            user.published_posts = published_posts
            if company:
                user.meta["billing_company"] = company
            user.meta.update(meta or {})
            return user.id

    def add_users(self, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Insert many subscribers at once (benchmarks seed 100,000); their ids.

        Each row has ``login`` and ``email``, optionally ``first_name``, ``last_name``,
        ``company``. The same uniqueness rules as ``add_user``, checked against sets built once
        instead of a scan of every user per insert (which made 100,000 users take minutes).
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
                user = self._insert(login, email, secrets.token_urlsafe(16), str(row.get("first_name", "")),
                                    str(row.get("last_name", "")), taken_slugs=slugs)
                user.roles = ["subscriber"]
                if row.get("company"):
                    user.meta["billing_company"] = str(row["company"])
                logins.add(login.casefold())
                emails.add(email.casefold())
                slugs.add(user.slug)
                ids.append(user.id)
            return ids

    def add_app_password(self, login: str, password: str | None = None, name: str = "syncd") -> str:
        """A new Application Password for ``login`` (24 letters and digits, as PHP returns it)."""
        with self._lock:
            user = self._by_login(login)
            if user is None:
                raise KeyError(login)
            alphabet = string.ascii_letters + string.digits
            value = password or "".join(secrets.choice(alphabet) for _ in range(24))
            user.app_passwords.append((str(uuid.uuid4()), name, _normalise_app_password(value)))
            return value

    def user(self, user_id: int) -> dict[str, Any]:
        """A user as ``GET /users/{id}?context=edit`` would show it (for test assertions)."""
        with self._lock:
            return self._serialise(self.users[user_id], "edit", "http://127.0.0.1", pretty=True)

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
            self._faults.append(_Fault(kind, fault, times, page, status, retry_after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- users table -----------------------------------------------------------------------

    def _by_login(self, login: str) -> EmuUser | None:
        wanted = login.casefold()  # MySQL's collation: logins and emails compare case-insensitively
        return next((u for u in self.users.values() if u.login.casefold() == wanted), None)

    def _by_email(self, email: str) -> EmuUser | None:
        wanted = email.casefold()
        return next((u for u in self.users.values() if u.email.casefold() == wanted), None)

    def _by_id(self) -> list[EmuUser]:
        """Every user in id order; shared, so callers never change it. Kept until a user is added
        or deleted: copying and sorting 100,000 users for each page made a listing of a large
        site cost ~30 ms a page (the benchmarks read 1,000 pages)."""
        key = (len(self.users), self._next_id)
        if self._ordered_key != key:
            self._ordered = sorted(self.users.values(), key=lambda u: u.id)
            self._ordered_key = key
        return self._ordered

    def _unique_slug(self, login: str, exclude: int = 0, taken: set[str] | None = None) -> str:
        base = sanitize_title(login) or "user"
        slug, n = base, 2
        if taken is None:
            taken = {u.slug for u in self.users.values() if u.id != exclude}
        while slug in taken:
            suffix = f"-{n}"
            slug, n = base[: 50 - len(suffix)] + suffix, n + 1
        return slug

    def _insert(self, login: str, email: str, password: str, first: str, last: str,
                display: str = "", nickname: str = "", *, taken_slugs: set[str] | None = None) -> EmuUser:
        user = EmuUser(
            id=self._next_id,
            login=login,
            email=email,
            password=password,
            first_name=sanitize_text(first),
            last_name=sanitize_text(last),
            display_name=display_name(first, last, display, login),
            nickname=login if _php_empty(nickname) else sanitize_text(nickname),
            slug=self._unique_slug(login, taken=taken_slugs),
            registered=self._clock().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        )
        self.users[user.id] = user
        self._next_id += 1
        return user

    def _capabilities(self, user: EmuUser) -> dict[str, bool]:
        caps: dict[str, bool] = {}
        for role in user.roles:
            caps.update((c, True) for c in self.roles.get(role, ()))
        caps.update((r, True) for r in user.roles)
        return caps

    def _can(self, user: EmuUser | None, capability: str) -> bool:
        return user is not None and self._capabilities(user).get(capability, False)

    def _can_edit(self, actor: EmuUser | None, target: EmuUser) -> bool:
        return actor is not None and (actor.id == target.id or self._can(actor, "edit_users"))

    # -- serialisation ---------------------------------------------------------------------

    def _rest_url(self, site: str, route: str, pretty: bool) -> str:
        return f"{site}/wp-json{route}" if pretty else f"{site}/index.php?rest_route={route}"

    def _meta_out(self, user: EmuUser, context: str) -> dict[str, Any]:
        out: dict[str, Any] = {"persisted_preferences": []} if context == "edit" else {}
        for key, kind in self.registered_meta.items():
            default: Any = 0 if kind == "integer" else ""
            out[key] = user.meta.get(key, default)
        return out

    @staticmethod
    def _avatars(user: EmuUser) -> dict[str, str]:
        digest = hashlib.md5(user.email.strip().lower().encode()).hexdigest()  # Gravatar's hash, not security
        host = int(digest[0], 16) % 3
        return {str(s): f"http://{host}.gravatar.com/avatar/{digest}?s={s}&d=mm&r=g" for s in (24, 48, 96)}

    def _serialise(self, user: EmuUser, context: str, site: str, *, pretty: bool) -> dict[str, Any]:
        """The user as WordPress shows it in ``context``."""
        caps = self._capabilities(user) if context == "edit" else {}
        return self._shape(user, context, site, pretty, self._avatars(user), caps)

    def _listed(self, user: EmuUser, context: str, site: str, pretty: bool, spec: FieldSpec | None) -> Any:
        """The user as a listing shows it, trimmed by ``_fields`` if given (and then what it leaves
        out, avatars and capabilities, is never computed)."""
        if spec is None:
            return self._serialise(user, context, site, pretty=pretty)
        avatars = self._avatars(user) if "avatar_urls" in spec.computed else {}
        caps = self._capabilities(user) if context == "edit" and "capabilities" in spec.computed else {}
        return trim_user(self._shape(user, context, site, pretty, avatars, caps), spec)

    def _shape(self, user: EmuUser, context: str, site: str, pretty: bool, avatars: dict[str, str],
               caps: dict[str, bool]) -> dict[str, Any]:
        link = f"{site}/author/{user.slug}/" if pretty else f"{site}/?author={user.id}"
        url = site if user.id == self.admin_id and not user.url else user.url
        links = {
            "self": [{"href": self._rest_url(site, f"/wp/v2/users/{user.id}", pretty)}],
            "collection": [{"href": self._rest_url(site, "/wp/v2/users", pretty)}],
        }
        if context == "edit":
            return {
                "id": user.id, "username": user.login, "name": user.display_name, "first_name": user.first_name,
                "last_name": user.last_name, "email": user.email, "url": url, "description": user.description,
                "link": link, "locale": "en_US", "nickname": user.nickname, "slug": user.slug,
                "roles": list(user.roles), "registered_date": user.registered, "capabilities": caps,
                "extra_capabilities": {r: True for r in user.roles}, "avatar_urls": avatars,
                "meta": self._meta_out(user, context), "_links": links,
            }
        out: dict[str, Any] = {
            "id": user.id, "name": user.display_name, "url": url, "description": user.description, "link": link,
            "slug": user.slug, "avatar_urls": avatars,
        }
        if context == "view":
            out["meta"] = self._meta_out(user, context)
        out["_links"] = links
        return out

    def _index(self, site: str, pretty: bool) -> dict[str, Any]:
        auth: Any = (
            {"application-passwords": {"endpoints": {"authorization": f"{site}/wp-admin/authorize-application.php"}}}
            if self.environment == "local" else []
        )
        routes = {
            "/": {"namespace": "", "methods": ["GET"]},
            "/wp/v2": {"namespace": "wp/v2", "methods": ["GET"]},
            "/wp/v2/users": {"namespace": "wp/v2", "methods": ["GET", "POST"]},
            "/wp/v2/users/(?P<id>[\\d]+)": {"namespace": "wp/v2", "methods": ["GET", "POST", "PUT", "PATCH",
                                                                               "DELETE"]},
            "/wp/v2/users/me": {"namespace": "wp/v2", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        }
        return {
            "name": self.site_name, "description": "", "url": site, "home": site, "gmt_offset": "0",
            "timezone_string": "", "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1"],
            "authentication": auth, "routes": routes, "site_logo": 0, "site_icon": 0, "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }

    def _schema(self) -> dict[str, Any]:
        def prop(kind: str | list[str], contexts: list[str], **more: Any) -> dict[str, Any]:
            return {"type": kind, "context": contexts, **more}

        meta_props = {k: {"type": v, "context": ["view", "edit"]} for k, v in self.registered_meta.items()}
        return {
            "$schema": "http://json-schema.org/draft-04/schema#", "title": "user", "type": "object",
            "properties": {
                "id": prop("integer", ["embed", "view", "edit"], readonly=True),
                "username": prop("string", ["edit"], required=True),
                "name": prop("string", ["embed", "view", "edit"]),
                "first_name": prop("string", ["edit"]), "last_name": prop("string", ["edit"]),
                "email": prop("string", ["edit"], format="email", required=True),
                "url": prop("string", ["embed", "view", "edit"], format="uri"),
                "description": prop("string", ["embed", "view", "edit"]),
                "link": prop("string", ["embed", "view", "edit"], format="uri", readonly=True),
                "locale": prop("string", ["edit"], enum=["", "en_US"]),
                "nickname": prop("string", ["edit"]), "slug": prop("string", ["embed", "view", "edit"]),
                "registered_date": prop("string", ["edit"], format="date-time", readonly=True),
                "roles": prop("array", ["edit"], items={"type": "string"}),
                "password": prop("string", [], required=True),
                "capabilities": prop("object", ["edit"], readonly=True),
                "extra_capabilities": prop("object", ["edit"], readonly=True),
                "avatar_urls": prop("object", ["embed", "view", "edit"], readonly=True),
                "meta": {"type": "object", "context": ["view", "edit"], "properties": meta_props},
            },
        }

    # -- HTTP entry points -----------------------------------------------------------------

    # -- request handling ------------------------------------------------------------------

    def respond(self, request: Request) -> Answer:
        """Answer one HTTP request (for both ways in of ``server.Served``)."""
        method, headers, body = request.method, request.headers, request.body
        parts = urlsplit(request.url)
        site = f"{parts.scheme}://{parts.netloc}"
        query_order = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(query_order)
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if parts.path.rstrip("/") == "/wp-login.php":
                return self._lost_password(method, query, body, site)
            pretty = not self.plain_permalinks
            route: str | None = None
            if parts.path.startswith("/wp-json") and self.rest_disabled != "html":
                if self.plain_permalinks:
                    # No rewrite rule for /wp-json/: WordPress adds a slash, then shows a page.
                    if not parts.path.endswith("/"):
                        return Answer(301, [("Content-Type", "text/html; charset=UTF-8"),
                                                 ("Location", f"{site}{parts.path}/")])
                    return self._page(site)
                route = parts.path[len("/wp-json"):] or "/"
                route = route.rstrip("/") or "/"
            elif "rest_route" in query and parts.path in ("/", "/index.php") and self.rest_disabled != "html":
                route = query.pop("rest_route").rstrip("/") or "/"
                query_order = [(k, v) for k, v in query_order if k != "rest_route"]
            if route is None:
                return self._page(site)
            return self._rest(method, route, query, query_order, lower, body, site, pretty)

    def _page(self, site: str) -> Answer:
        self.calls["page"] += 1
        html = f"<!DOCTYPE html><html><head><title>{self.site_name}</title></head><body></body></html>"
        return Answer(200, [("Content-Type", "text/html; charset=UTF-8")], html.encode())

    def _authenticate(self, headers: Mapping[str, str]) -> EmuUser | None:
        """The user of a valid Application Password; anything else is anonymous (never an error)."""
        value = headers.get("authorization", "")
        if not value.lower().startswith("basic ") or self.environment != "local":
            return None
        try:
            login, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        user = self._by_login(login) or (self._by_email(login) if "@" in login else None)
        wanted = _normalise_app_password(password)
        if user is None or not wanted or all(p != wanted for _, _, p in user.app_passwords):
            return None
        return user

    def _kind(self, method: str, route: str, query: Mapping[str, str]) -> str:
        if route == "/":
            return "index"
        if method == "OPTIONS":
            return "options"
        if route.endswith("/application-passwords"):
            return "app_password"
        if route == "/wp/v2/users":
            if method == "POST":
                return "create"
            return "search" if query.get("search") else "list_page"
        if method == "DELETE":
            return "delete"
        if method in ("POST", "PUT", "PATCH"):
            return "update"
        return "me" if route == "/wp/v2/users/me" else "get"

    def _take_fault(self, kind: str, query: Mapping[str, str]) -> _Fault | None:
        for fault in self._faults:
            if fault.kind != kind:
                continue
            if fault.page is not None and str(fault.page) != query.get("page", "1"):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _headers(self, site: str, pretty: bool, allow: str = "") -> list[tuple[str, str]]:
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
        self,
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
        kind = self._kind(method, route, query)
        self.calls[kind] += 1
        api_link = ("Link", f"<{site}/wp-json/>; rel=\"https://api.w.org/\"")
        fault = self._take_fault(kind, query)
        if fault is not None and fault.fault in ("error", "too_many", "maintenance", "html"):
            return self._fault_answer(fault, site, pretty)
        actor = self._authenticate(headers)
        blocked: _ApiError | None = None
        if self.rest_disabled == "all":
            blocked = _ApiError(401, "rest_disabled",
                                "REST API restricted: it has been disabled on this site by a security plugin.")
        elif self.rest_disabled == "anonymous" and actor is None:
            blocked = _ApiError(401, "rest_login_required", "REST API restricted to authenticated users.")
        if blocked is not None:
            return Answer(401, [*self._headers(site, pretty), api_link], _php_json(blocked.body()))
        try:
            data = self._parse_body(body, headers)
            status, payload, extra = self._dispatch(method, route, query, query_order, data, site, pretty, actor)
        except _ApiError as error:
            status, payload, extra = error.status, error.body(), []
        if method == "HEAD":
            payload = None
        elif status < 400 and kind in ("me", "get", "create", "update") and isinstance(payload, dict):
            spec = requested_fields(query_order)
            if spec is not None:
                payload = trim_user(payload, spec, listed=False)
        out_headers = self._headers(site, pretty) + extra
        if not any(name == "Link" for name, _ in extra):
            out_headers.append(api_link)
        content = b"" if payload is None else payload.body if isinstance(payload, _Raw) else _php_json(payload)
        if fault is not None:
            if fault.fault == "empty_after_commit":
                return Answer(fault.status or 500, [("Content-Type", "text/html; charset=UTF-8")], b"")
            if fault.fault == "truncated":
                return Answer(status, out_headers, content[: max(1, len(content) // 2)])
            if fault.fault == "disconnect_after_commit":
                return Answer(0, [], silence="dropped")
        return Answer(status, out_headers, content)

    def _fault_answer(self, fault: _Fault, site: str, pretty: bool) -> Answer:
        if fault.fault == "error":
            status = fault.status or 500
            body = {"code": "internal_server_error", "message": _CRITICAL, "data": {"status": status},
                    "additional_errors": []}
            return Answer(status, self._headers(site, pretty), _php_json(body))
        if fault.fault == "too_many":
            headers = [*self._headers(site, pretty), ("Retry-After", str(int(fault.retry_after or 1)))]
            body = {"code": "too_many_requests", "message": "Too many requests.", "data": {"status": 429}}
            return Answer(429, headers, _php_json(body))
        if fault.fault == "maintenance":
            headers = [("Content-Type", "text/html; charset=UTF-8"),
                       ("Retry-After", str(int(fault.retry_after or 600)))]
            return Answer(fault.status or 503, headers, _MAINTENANCE.encode())
        return Answer(fault.status or 200, [("Content-Type", "text/html; charset=UTF-8")], _BLOCK_PAGE.encode())

    @staticmethod
    def _parse_body(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in headers.get("content-type", ""):
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise _ApiError(400, "rest_invalid_json", "Invalid JSON body passed.",
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
        self,
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
                raise _no_route()
            return 200, self._index(site, pretty), [("Allow", "GET")]
        if route == "/wp/v2/users":
            if method in ("GET", "HEAD"):
                return self._list(query, query_order, actor, site, pretty)
            if method == "POST":
                return self._create(data, actor, site, pretty)
            if method == "OPTIONS":
                return 200, self._options(), [("Allow", "GET, POST")]
            raise _no_route()
        match = re.fullmatch(r"/wp/v2/users/(me|\d+)(/application-passwords)?", route)
        if match is None:
            raise _no_route()
        target_key, sub = match.groups()
        if target_key == "me":
            if actor is None:
                raise _ApiError(401, "rest_not_logged_in", "You are not currently logged in.")
            target = actor
        else:
            found = self.users.get(int(target_key))
            if found is None:
                raise _ApiError(404, "rest_user_invalid_id", "Invalid user ID.")
            target = found
        if sub:
            return self._app_passwords(method, data, actor, target, site, pretty)
        allow = [("Allow", "GET, POST, PUT, PATCH, DELETE")]
        if method in ("GET", "HEAD"):
            return 200, self._get(query, actor, target, site, pretty), allow
        if method in ("POST", "PUT", "PATCH"):
            return 200, self._update(data, actor, target, site, pretty), allow
        if method == "DELETE":
            return 200, self._delete(query, data, actor, target, site, pretty), allow
        raise _no_route()

    # -- collection ------------------------------------------------------------------------

    def _list(
        self,
        query: Mapping[str, str],
        query_order: list[tuple[str, str]],
        actor: EmuUser | None,
        site: str,
        pretty: bool,
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        invalid: dict[str, tuple[str, str]] = {}
        context = query.get("context", "view")
        if context not in CONTEXTS:
            invalid["context"] = ("rest_not_in_enum", "context is not one of view, embed, and edit.")
        page = _int_param(query, "page", 1, invalid, minimum=1)
        per_page = _int_param(query, "per_page", 10, invalid, minimum=1, maximum=100)
        offset = _int_param(query, "offset", None, invalid)
        order = query.get("order", "asc")
        if order not in ("asc", "desc"):
            invalid["order"] = ("rest_not_in_enum", "order is not one of asc and desc.")
        orderby = query.get("orderby", "name")
        if orderby not in ORDERBY:
            invalid["orderby"] = ("rest_not_in_enum",
                                  "orderby is not one of id, include, name, registered_date, slug, include_slugs, "
                                  "email, and url.")
        if invalid:
            raise _invalid_params(invalid)
        can_list = self._can(actor, "list_users")
        if context == "edit" and not can_list:
            raise _ApiError(403 if actor else 401, "rest_forbidden_context",
                            "Sorry, you are not allowed to edit users.")
        users: list[EmuUser] = self._by_id()  # shared: every step below makes a new list
        if not can_list:
            users = [u for u in users if u.published_posts]  # what anyone may see: authors
        if query.get("roles"):
            wanted = set(query["roles"].split(","))
            users = [u for u in users if wanted & set(u.roles)]
        if query.get("include"):
            ids = [int(i) for i in query["include"].split(",") if i.strip().isdigit()]
            users = [u for u in users if u.id in ids]
        if query.get("exclude"):
            skip = {int(i) for i in query["exclude"].split(",") if i.strip().isdigit()}
            users = [u for u in users if u.id not in skip]
        if query.get("slug"):
            slugs = set(query["slug"].split(","))
            users = [u for u in users if u.slug in slugs]
        if query.get("search"):
            users = [u for u in users if _search_match(u, query["search"])]
        if orderby == "id":
            if order == "desc":
                users = users[::-1]
        else:
            users = sorted(users, key=lambda u: (_sort_key(u, orderby, query), u.id), reverse=order == "desc")
        total = len(users)
        pages = math.ceil(total / per_page) if total else 0
        start = offset if offset is not None else (page - 1) * per_page
        chunk = users[start:start + per_page]
        body = _Raw(self._render(chunk, context, site, pretty, requested_fields(query_order)))
        extra = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        links = []
        base = self._rest_url(site, "/wp/v2/users", pretty)

        def page_link(number: int) -> str:
            items = [(k, v) for k, v in query_order if k != "page"]
            positions = [k for k, _ in query_order]
            if "page" in positions:
                items.insert(positions.index("page"), ("page", str(number)))
            else:
                items.append(("page", str(number)))
            sep = "&" if "?" in base else "?"
            return f"{base}{sep}{urlencode(items, quote_via=quote)}"

        if page > 1:
            links.append(f"<{page_link(min(page - 1, pages) if pages else 1)}>; rel=\"prev\"")
        if page < pages:
            links.append(f"<{page_link(page + 1)}>; rel=\"next\"")
        if links:
            extra.append(("Link", ", ".join(links)))
        extra.append(("Allow", "GET, POST"))
        return 200, body, extra

    def _render(self, users: Sequence[EmuUser], context: str, site: str, pretty: bool,
                spec: FieldSpec | None) -> bytes:
        """A listing's JSON, each user's part reused from ``_rendered`` while that user is unchanged:
        serialising 100 users (capabilities, avatar hashes, json) for every page made a page of
        a large site cost 5-8 ms of the emulator's time; reused, it is a fraction of one."""
        shape = (context, site, pretty, spec.fields if spec else None, self.admin_id,
                 tuple(self.registered_meta.items()), tuple(self.roles.items()))
        cache = self._rendered.get(shape)
        if cache is None:
            if len(self._rendered) >= 4:  # bounded: a run lists in one or two shapes
                self._rendered.clear()
            cache = self._rendered[shape] = {}
        parts = []
        for user in users:
            mark = (user.login, user.email, user.first_name, user.last_name, user.display_name, user.nickname,
                    user.slug, user.url, user.description, user.registered, tuple(user.roles),
                    tuple(user.meta.items()))
            hit = cache.get(user.id)
            if hit is None or hit[0] != mark:
                hit = (mark, _php_json(self._listed(user, context, site, pretty, spec)))
                cache[user.id] = hit
            parts.append(hit[1])
        return b"[" + b",".join(parts) + b"]"

    def _options(self) -> dict[str, Any]:
        return {
            "namespace": "wp/v2",
            "methods": ["GET", "POST"],
            "endpoints": [
                {"methods": ["GET"], "args": {
                    "context": {"type": "string", "enum": list(CONTEXTS), "default": "view", "required": False},
                    "page": {"type": "integer", "default": 1, "minimum": 1, "required": False},
                    "per_page": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100, "required": False},
                    "search": {"type": "string", "required": False},
                    "orderby": {"type": "string", "default": "name", "enum": list(ORDERBY), "required": False},
                    "order": {"type": "string", "default": "asc", "enum": ["asc", "desc"], "required": False},
                }},
                {"methods": ["POST"], "args": {
                    "username": {"type": "string", "required": True},
                    "email": {"type": "string", "format": "email", "required": True},
                    "password": {"type": "string", "required": True},
                }},
            ],
            "schema": self._schema(),
        }

    # -- one user --------------------------------------------------------------------------

    def _get(self, query: Mapping[str, str], actor: EmuUser | None, target: EmuUser, site: str,
             pretty: bool) -> dict[str, Any]:
        context = query.get("context", "view")
        if context not in CONTEXTS:
            raise _invalid_params({"context": ("rest_not_in_enum", "context is not one of view, embed, and edit.")})
        status = 403 if actor else 401
        if context == "edit" and not self._can_edit(actor, target):
            raise _ApiError(status, "rest_forbidden_context", "Sorry, you are not allowed to edit this user.")
        if not (target.published_posts or self._can(actor, "list_users") or (actor and actor.id == target.id)):
            raise _ApiError(status, "rest_user_cannot_view", "Sorry, you are not allowed to list users.")
        return self._serialise(target, context, site, pretty=pretty)

    def _validate_user_args(self, data: Mapping[str, Any], *, creating: bool) -> None:
        """WordPress's argument checks, in its order: missing, then schema, then sanitize."""
        if creating:
            missing = [k for k in ("username", "email", "password") if k not in data]
            if missing:
                raise _ApiError(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                                {"status": 400, "params": missing})
        invalid: dict[str, tuple[str, str]] = {}
        if "email" in data and not is_email(str(data["email"])):
            invalid["email"] = ("rest_invalid_email", "Invalid email address.")
        if "locale" in data and data["locale"] not in ("", "en_US"):
            invalid["locale"] = ("rest_not_in_enum", "locale is not one of  and en_US.")
        if "roles" in data and not isinstance(data["roles"], list):
            invalid["roles"] = ("rest_invalid_type", "roles is not of type array.")
        if invalid:
            raise _invalid_params(invalid)
        sanitize: dict[str, tuple[str, str]] = {}
        if "username" in data and not _valid_login(str(data["username"])):
            sanitize["username"] = ("rest_user_invalid_username", "This username is invalid because it uses illegal "
                                    "characters. Please enter a valid username.")
        if "password" in data:
            password = str(data["password"])
            if not password.strip():
                sanitize["password"] = ("rest_user_invalid_password", "Passwords cannot be empty.")
            elif "\\" in password:
                sanitize["password"] = ("rest_user_invalid_password", "Passwords cannot contain the \"\\\" character.")
        if sanitize:
            raise _invalid_params(sanitize, detail_data=True)

    def _check_roles(self, roles: Sequence[str], actor: EmuUser, target: EmuUser | None) -> None:
        for role in roles:
            if role not in self.roles:
                raise _ApiError(400, "rest_user_invalid_role", f"The role {role} does not exist.")
        # WordPress refuses to let you take away your own power to edit users.
        if target is not None and target.id == actor.id and any("edit_users" not in self.roles[r] for r in roles):
            raise _ApiError(403, "rest_user_invalid_role", "Sorry, you are not allowed to give users that role.")

    def _write_meta(self, user: EmuUser, meta: Any) -> None:
        if not isinstance(meta, dict):
            return
        for key, value in meta.items():
            kind = self.registered_meta.get(key)
            if kind is None:
                continue  # unregistered meta is silently ignored (201/200, not stored)
            if key in self.readonly_meta:
                raise _ApiError(403, "rest_cannot_update",
                                f"Sorry, you are not allowed to edit the {key} custom field.",
                                {"key": key, "status": 403})
            if kind == "integer" and not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
                raise _ApiError(400, "rest_invalid_type", f"meta.{key} is not of type integer.", {"status": 400},
                                additional_data=[{"param": f"meta.{key}"}])
            user.meta[key] = int(value) if kind == "integer" else ("" if value is None else str(value))

    def _create(self, data: dict[str, Any], actor: EmuUser | None, site: str,
                pretty: bool) -> tuple[int, Any, list[tuple[str, str]]]:
        self._validate_user_args(data, creating=True)
        if not self._can(actor, "create_users"):
            raise _ApiError(403 if actor else 401, "rest_cannot_create_user",
                            "Sorry, you are not allowed to create new users.")
        assert actor is not None
        roles = data.get("roles")
        if roles:
            self._check_roles(roles, actor, None)
            if not self._can(actor, "promote_users"):
                raise _ApiError(403, "rest_cannot_edit_roles", "Sorry, you are not allowed to edit roles of this user.")
        login, email = str(data["username"]), sanitize_email(str(data["email"]))
        # wp_insert_user's own checks, in its order; its WP_Errors carry no status, hence 500.
        if len(login) > 60:
            raise _ApiError(500, "user_login_too_long", "Username may not be longer than 60 characters.", None)
        if self._by_login(login):
            raise _ApiError(500, "existing_user_login", "Sorry, that username already exists!", None)
        if self._by_email(email):
            raise _ApiError(500, "existing_user_email", "Sorry, that email address is already used!", None)
        first, last, name = (str(data.get(k) or "") for k in ("first_name", "last_name", "name"))
        if len(email) > 100 or len(display_name(first, last, name, login)) > DISPLAY_NAME_MAX:
            # The row insert fails on the 100-character email or 250-character display_name column
            # (as stored: "&" counts as "&amp;") and PHP dies in the controller.
            raise _ApiError(500, "internal_server_error", _CRITICAL, additional_errors=[])
        user = self._insert(login, email, str(data["password"]), first, last, name, str(data.get("nickname") or ""))
        if data.get("url"):
            user.url = str(data["url"])
        if data.get("description"):
            user.description = str(data["description"])
        user.roles = list(roles) if isinstance(roles, list) else ["subscriber"]
        # Meta is written after the row exists: a meta error leaves the user created (pitfall 6).
        self._write_meta(user, data.get("meta"))
        location = self._rest_url(site, f"/wp/v2/users/{user.id}", pretty)
        return 201, self._serialise(user, "edit", site, pretty=pretty), [("Location", location)]

    def _update(self, data: dict[str, Any], actor: EmuUser | None, target: EmuUser, site: str,
                pretty: bool) -> dict[str, Any]:
        self._validate_user_args(data, creating=False)
        status = 403 if actor else 401
        if not self._can_edit(actor, target):
            raise _ApiError(status, "rest_cannot_edit", "Sorry, you are not allowed to edit this user.")
        assert actor is not None
        roles = data.get("roles")
        if roles and not self._can(actor, "promote_users"):
            raise _ApiError(403, "rest_cannot_edit_roles", "Sorry, you are not allowed to edit roles of this user.")
        email = sanitize_email(str(data["email"])) if "email" in data else None
        if email is not None and email.casefold() != target.email.casefold():
            owner = self._by_email(email)
            if owner is not None and owner.id != target.id:
                raise _ApiError(400, "rest_user_invalid_email", "Invalid email address.")
        if "username" in data and data["username"] != target.login:
            raise _ApiError(400, "rest_user_invalid_argument", "Username is not editable.")
        if "slug" in data:
            slug = sanitize_title(str(data["slug"]))
            if any(u.slug == slug and u.id != target.id for u in self.users.values()):
                raise _ApiError(400, "rest_user_invalid_slug", "Invalid slug.")
        if roles:
            self._check_roles(roles, actor, target)
        display = None
        if "name" in data:
            name = str(data["name"] or "")
            display = target.login if _php_empty(name) else sanitize_text(name)
        # wp_users is written as one row: an email or a display name too long for its column makes
        # that write fail without an error, and the rest of the row with it (measured on 6.1); the
        # usermeta (names, nickname, description) is written all the same.
        if (email is None or len(email) <= 100) and (display is None or len(display) <= DISPLAY_NAME_MAX):
            if email is not None:
                target.email = email
            if display is not None:
                target.display_name = display
            if "slug" in data:
                target.slug = sanitize_title(str(data["slug"]))
            if "url" in data:
                target.url = str(data["url"] or "")
            if "password" in data:
                target.password = str(data["password"])
        for key in ("first_name", "last_name"):
            if key in data:
                setattr(target, key, sanitize_text(str(data[key] or "")))
        if "nickname" in data:
            nickname = str(data["nickname"] or "")
            target.nickname = target.login if _php_empty(nickname) else sanitize_text(nickname)
        if "description" in data:
            target.description = str(data["description"] or "")
        if isinstance(roles, list):
            target.roles = list(roles)  # replaces; [] leaves the user with no role at all
        self._write_meta(target, data.get("meta"))
        return self._serialise(target, "edit", site, pretty=pretty)

    def _delete(self, query: Mapping[str, str], data: Mapping[str, Any], actor: EmuUser | None, target: EmuUser,
                site: str, pretty: bool) -> dict[str, Any]:
        args = {**data, **query}
        if "reassign" not in args:
            raise _ApiError(400, "rest_missing_callback_param", "Missing parameter(s): reassign",
                            {"status": 400, "params": ["reassign"]})
        if not (actor is not None and self._can(actor, "delete_users")):
            raise _ApiError(403 if actor else 401, "rest_user_cannot_delete",
                            "Sorry, you are not allowed to delete this user.")
        if str(args.get("force", "")).lower() not in ("true", "1"):
            raise _ApiError(501, "rest_trash_not_supported",
                            "Users do not support trashing. Set 'force=true' to delete.")
        reassign = str(args["reassign"])
        if reassign not in ("false", "") and (not reassign.isdigit() or int(reassign) == target.id
                                              or int(reassign) not in self.users):
            raise _ApiError(400, "rest_user_invalid_reassign", "Invalid user ID for reassignment.")
        previous = self._serialise(target, "edit", site, pretty=pretty)
        del self.users[target.id]
        return {"deleted": True, "previous": previous}

    def _app_passwords(self, method: str, data: Mapping[str, Any], actor: EmuUser | None, target: EmuUser,
                       site: str, pretty: bool) -> tuple[int, Any, list[tuple[str, str]]]:
        if not self._can_edit(actor, target):
            raise _ApiError(403 if actor else 401, "rest_cannot_manage_application_passwords",
                            "Sorry, you are not allowed to manage application passwords for this user.")
        if method == "GET":
            items = [{"uuid": u, "app_id": "", "name": n, "created": "", "last_used": None, "last_ip": None}
                     for u, n, _ in target.app_passwords]
            return 200, items, []
        if method != "POST":
            raise _no_route()
        name = str(data.get("name", "")).strip()
        if not name:
            raise _ApiError(400, "rest_missing_callback_param", "Missing parameter(s): name",
                            {"status": 400, "params": ["name"]})
        raw = self.add_app_password(target.login, name=name)
        uid = target.app_passwords[-1][0]
        shown = " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))  # REST groups it by four
        body = {"uuid": uid, "app_id": "", "name": name, "created": self._clock().strftime("%Y-%m-%dT%H:%M:%S"),
                "last_used": None, "last_ip": None, "password": shown,
                "_links": {"self": [{"href": self._rest_url(site, f"/wp/v2/users/{target.id}/application-passwords/"
                                                                  f"{uid}", pretty)}]}}
        return 201, body, []

    # -- wp-login.php ----------------------------------------------------------------------

    def _lost_password(self, method: str, query: Mapping[str, str], body: bytes, site: str) -> Answer:
        self.calls["lostpassword"] += 1
        fault = self._take_fault("lostpassword", query)
        if fault is not None:
            return self._fault_answer(fault, site, True)
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        login = form.get("user_login", "").strip()
        html_headers = [("Content-Type", "text/html; charset=UTF-8")]
        if method != "POST" or query.get("action") != "lostpassword":
            form_page = b"<!DOCTYPE html><html><body><form id=\"loginform\"></form></body></html>"
            return Answer(200, html_headers, form_page)
        user = self._by_login(login) or (self._by_email(login) if "@" in login else None)
        if user is None:
            page = ("<!DOCTYPE html><html><body><div id=\"login_error\"><strong>Error:</strong> There is no account "
                    "with that username or email address.<br /></div></body></html>")
            return Answer(200, html_headers, page.encode())
        self.mail.append({"to": user.email, "subject": f"[{self.site_name}] Password Reset"})
        return Answer(302, [*html_headers, ("Location", "/wp-login.php?checkemail=confirm")])


def _no_route() -> _ApiError:
    return _ApiError(404, "rest_no_route", "No route was found matching the URL and request method.")


def _invalid_params(invalid: Mapping[str, tuple[str, str]], *, detail_data: bool = False) -> _ApiError:
    names = ", ".join(invalid)
    return _ApiError(
        400, "rest_invalid_param", f"Invalid parameter(s): {names}",
        {"status": 400, "params": {k: m for k, (_, m) in invalid.items()},
         "details": {k: {"code": c, "message": m, "data": {"status": 400} if detail_data else None}
                     for k, (c, m) in invalid.items()}},
    )


def _int_param(query: Mapping[str, str], name: str, default: int | None, invalid: dict[str, tuple[str, str]], *,
               minimum: int | None = None, maximum: int | None = None) -> Any:
    if name not in query:
        return default
    raw = query[name].strip()
    if not re.fullmatch(r"-?\d+", raw):
        invalid[name] = ("rest_invalid_type", f"{name} is not of type integer.")
        return default
    value = int(raw)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        invalid[name] = ("rest_out_of_bounds",
                         f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)")
    elif minimum is not None and value < minimum:
        invalid[name] = ("rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}")
    return value


def _search_match(user: EmuUser, term: str) -> bool:
    """WordPress's user search: ``*term*``, case-insensitive; '@' → email only; digits → login or ID."""
    core = term.strip("*").casefold()
    if "@" in term:
        columns = [user.email]
    elif term.isdigit():
        if str(user.id) == term:
            return True
        columns = [user.login]
    elif re.match(r"^https?://", term):
        columns = [user.url]
    else:
        columns = [user.login, user.url, user.email, user.slug, user.display_name]
    return any(core in c.casefold() for c in columns)


def _sort_key(user: EmuUser, orderby: str, query: Mapping[str, str]) -> Any:
    if orderby == "id":
        return user.id
    if orderby == "include":
        ids = [int(i) for i in query.get("include", "").split(",") if i.strip().isdigit()]
        return ids.index(user.id) if user.id in ids else len(ids)
    if orderby == "registered_date":
        return user.registered
    if orderby in ("slug", "include_slugs"):
        return user.slug
    if orderby == "email":
        return user.email.casefold()
    if orderby == "url":
        return user.url.casefold()
    return user.display_name.casefold()


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
