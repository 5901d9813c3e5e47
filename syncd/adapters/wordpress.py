"""The WordPress side: its users over the REST API (``/wp/v2/users``), as ``SideAdapter`` records.

Wrong credentials do not fail in WordPress (the request runs as anonymous), so ``verify()``
asks ``/users/me?context=edit`` before anything else and learns the account's own id. A
listing is complete or raises; writes re-read the user first and refuse administrators,
excluded roles and the account syncd itself uses. Wire details live in ``wordpress_http``,
user objects in ``wordpress_users``, usernames in ``syncd.usernames``, the paging both sides
share in ``paging``; the behaviour relied on is measured in reference/wordpress.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from loguru import logger
from pydantic import SecretStr

from syncd.adapters import net, paging, wordpress_companion, wordpress_roles
from syncd.adapters.wordpress_http import SIDE, Reply, RestClient, RestInfo, SiteProbe
from syncd.adapters.wordpress_users import (
    USER_FIELDS,
    Account,
    admin_powers,
    as_name,
    as_text,
    capabilities_of,
    meta_of,
    new_password,
    short_user,
    user_object,
)
from syncd.config import FORBIDDEN_ROLES, Settings, WordPressSettings
from syncd.errors import (
    BadCredentials,
    IncompleteListing,
    InvalidRecord,
    NotAnApi,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RefusedWrite,
    RemoteRejected,
    SyncdError,
    Transient,
    Unreachable,
)
from syncd.fieldmap import FieldRule
from syncd.model import CORE_FIELDS, Fields, Record, Side, Snapshot, normalise_email
from syncd.passwords import Password
from syncd.ports import Details
from syncd.usernames import MAX_EMAIL, base_username, candidates

if TYPE_CHECKING:
    from syncd.ports import SideAdapter

USERS = "/wp/v2/users"
DEFAULT_COMPANY_KEY = "billing_company"
#: Pages of 100 search hits read to find one username (a short one is in many logins, emails and names).
MAX_USERNAME_PAGES = 10


@dataclass(frozen=True)
class _PageRead:
    """One page of the users listing, as records: its number, the totals it announced, its
    records and the normalised emails of its protected users."""

    number: int
    total: int
    pages: int
    records: tuple[Record, ...]
    protected: frozenset[str]


class WordPressAdapter:
    """``SideAdapter`` for WordPress users over REST, with Basic auth and an Application Password."""

    side = Side.WORDPRESS
    USERNAME_ATTEMPTS = 25
    LISTING_ATTEMPTS = 2

    def __init__(
        self,
        settings: WordPressSettings,
        password: SecretStr,
        *,
        exclude_roles: Sequence[str],
        mapped: Sequence[FieldRule] = (),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        # The field map (DESIGN §9): each rule's WordPress field or meta key, read into and written
        # from Record.fields[rule.name] (its WHMCS name), where this site can store it.
        self.mapped = tuple(mapped)
        extra = sorted({r.wordpress for r in self.mapped if r.meta_key is None})
        self._user_fields = ",".join([USER_FIELDS, *extra])
        # Administrators are excluded whatever the configuration says (DESIGN §1, §5.6).
        self.exclude_roles = frozenset(r.strip() for r in exclude_roles if r.strip()) | {"administrator"}
        self.company_key = settings.company_meta_key.strip() or DEFAULT_COMPANY_KEY
        self._rest = RestClient(
            settings.url,
            settings.username,
            password,
            timeout=settings.timeout_seconds,
            verify_tls=settings.verify_tls,
            ca_file=settings.ca_path,
            retries=settings.retries,
            transport=transport,
            sleep=sleep,
        )
        self._account: Account | None = None
        self._naming = threading.Lock()
        self._naming_locks: dict[str, threading.Lock] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> WordPressAdapter:
        return cls(
            settings.wordpress,
            settings.wordpress_password,
            exclude_roles=settings.sync.exclude_wp_roles,
            mapped=settings.field_rules(),
            transport=transport,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"WordPressAdapter(url={self._rest.root!r}, username={self.settings.username!r})"

    @property
    def calls(self) -> Counter[str]:
        """Requests sent, by kind: index, me, list_page, search, get, create, update, lostpassword."""
        return self._rest.calls

    def close(self) -> None:
        self._rest.close()

    def __enter__(self) -> WordPressAdapter:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    # -- what the site is and who we are ---------------------------------------------------

    def probe(self) -> SiteProbe:
        """What the site answers where the REST index should be (never raises for an answer)."""
        return self._rest.probe()

    def discover(self) -> RestInfo:
        """Where the REST API answers (pretty permalinks or ``?rest_route=``); raises why not."""
        return self._rest.discover()

    def verify(self) -> Account:
        """Check the credentials with ``/users/me?context=edit`` (cached); BadCredentials if refused."""
        if self._account is not None:
            return self._account
        info = self.discover()
        try:
            reply = self._rest.call("me", "GET", f"{USERS}/me", params={"context": "edit", "_fields": USER_FIELDS})
        except BadCredentials as exc:
            if not info.app_passwords_available:
                raise BadCredentials(
                    f"WordPress at {info.root} offers no Application Passwords (its REST index lists no "
                    "'application-passwords' authentication), so ours was ignored: over plain http they "
                    "need define('WP_ENVIRONMENT_TYPE', 'local') in wp-config.php, otherwise serve the site "
                    "over https; a security plugin may also have disabled them",
                    side=SIDE,
                ) from exc
            raise BadCredentials(
                f"WordPress at {info.root} did not accept the application password of user "
                f"{self.settings.username!r}: it answered /users/me as anonymous. Create a new Application "
                "Password (Users → Profile → Application Passwords) and set [wordpress] application_password; "
                "if it is right, the web server may drop the Authorization header (Apache with CGI/FastCGI)",
                side=SIDE,
            ) from exc
        data = user_object(reply.data, "/users/me")
        account = Account(
            id=int(data["id"]),
            username=as_text(data.get("username")),
            email=as_text(data.get("email")),
            roles=tuple(str(r) for r in data["roles"]),
            capabilities=capabilities_of(data),
            meta_keys=frozenset(meta_of(data)),
        )
        self._account = account
        if self.settings.company_meta_key and not self.supports_company:
            logger.warning(
                "WordPress does not expose the user meta {key!r} in its REST API: company is not synchronised "
                "(register it with register_meta(..., show_in_rest => true); see the README)",
                key=self.company_key,
            )
        missing = [r for r in self.mapped if r.meta_key is not None and r.meta_key not in account.meta_keys]
        if missing:
            logger.warning(
                "WordPress does not expose the user meta {keys} in its REST API: {names} not synchronised "
                "(install the syncd companion or register the meta; syncd test-connection says how)",
                keys=", ".join(r.meta_key or "" for r in missing), names=", ".join(r.name for r in missing),
            )
        return account

    def role_answer(self, role: str) -> wordpress_roles.RoleAnswer:
        """Whether ``role`` exists and this account may give it (``wordpress_roles``: nobody is created)."""
        return wordpress_roles.probe(self._rest, self.verify(), role)

    def companion(self) -> wordpress_companion.Companion | None:
        """The syncd companion plugin's own account of itself, or None when it is not installed."""
        self.verify()
        return wordpress_companion.read(self._rest)

    def roles_held(self) -> list[str]:
        """Roles that the site's first users hold (roles that exist), for a suggestion."""
        return wordpress_roles.held_roles(self._rest)

    @property
    def supports_company(self) -> bool:
        """True if the site exposes the company meta key in REST (so it can store a company)."""
        return self.company_key in self.verify().meta_keys

    @property
    def storable_rules(self) -> tuple[FieldRule, ...]:
        """The mapped fields this site can store: a user field always, a meta key only when the REST
        API exposes it (registered with show_in_rest; unregistered meta is dropped silently)."""
        exposed = self.verify().meta_keys
        return tuple(r for r in self.mapped if r.meta_key is None or r.meta_key in exposed)

    @property
    def missing_meta(self) -> tuple[FieldRule, ...]:
        """The mapped fields whose meta key the REST API does not expose (never read nor written)."""
        exposed = self.verify().meta_keys
        return tuple(r for r in self.mapped if r.meta_key is not None and r.meta_key not in exposed)

    @property
    def fields(self) -> tuple[str, ...]:
        """The common fields this site can store, mapped ones under their common (WHMCS) name."""
        core = (*CORE_FIELDS, "company") if self.supports_company else CORE_FIELDS
        return (*core, *(r.name for r in self.storable_rules))

    def count_users(self) -> int:
        """How many users the account can list with context=edit (one small request)."""
        reply = self._rest.call("list_page", "GET", USERS, params={"context": "edit", "per_page": 1, "page": 1})
        return self._totals(reply, 1)[0]

    # -- reading ---------------------------------------------------------------------------

    def _record(self, data: Any, what: str = "a user") -> Record:
        return self._records([data], what)[0][0]

    def _records(self, users: Sequence[Any], what: str) -> tuple[tuple[Record, ...], frozenset[str]]:
        """``users`` (context=edit objects) as records, and the normalised emails of the protected
        ones (``protection``); NotAnApi for a user without id, email and roles.

        One pass, with the account, company key and excluded roles looked up once: a listing
        runs this for every user of the site, and per-user lookups and helper calls were about
        half of syncd's CPU per page."""
        account = self.verify()
        key = self.company_key if self.company_key in account.meta_keys else None
        rules = self.storable_rules
        own, excluded = account.id, self.exclude_roles
        records: list[Record] = []
        protected: set[str] = set()
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        for user in users:
            if not isinstance(user, dict):
                raise short_user(what)
            uid, roles = user.get("id"), user.get("roles")
            if not isinstance(uid, int) or "email" not in user or not isinstance(roles, list):
                raise short_user(what)
            email = user["email"]
            if type(email) is not str:
                email = as_text(email)
            fields = {"email": email, "first_name": as_name(user.get("first_name")),
                      "last_name": as_name(user.get("last_name"))}
            if key is not None:
                meta = user.get("meta")
                fields["company"] = as_text(meta.get(key)) if isinstance(meta, dict) else ""
            for rule in rules:
                fields[rule.name] = self._mapped_value(user, rule)
            role_names = tuple(map(str, roles))
            role_names = shared.setdefault(role_names, role_names)  # one tuple per role set: less to keep and scan
            username = user.get("username")
            records.append(Record(
                side=Side.WORDPRESS,
                remote_id=int(uid),
                fields=Fields(fields),
                roles=role_names,
                active=bool(role_names),
                username=username if type(username) is str else as_text(username),
            ))
            if email and (uid == own or not excluded.isdisjoint(role_names)
                          or admin_powers(user.get("capabilities"))):
                protected.add(normalise_email(email))
        return tuple(records), frozenset(protected)

    @staticmethod
    def _mapped_value(user: Mapping[str, Any], rule: FieldRule) -> str:
        """A mapped field's value in a user object: its meta key, or its user field (kses-encoded
        like the names, so read back the same way)."""
        if rule.meta_key is not None:
            meta = user.get("meta")
            return as_text(meta.get(rule.meta_key)) if isinstance(meta, dict) else ""
        return as_name(user.get(rule.wordpress))

    def _mapped_body(self, values: Mapping[str, str], body: dict[str, Any]) -> list[FieldRule]:
        """Put the mapped ``values`` (by common name) this site can store into a write's ``body``:
        meta in its ``meta`` object, user fields at the top; the rules written."""
        written: list[FieldRule] = []
        for rule in self.storable_rules:
            if rule.name not in values:
                continue
            value = values[rule.name]
            if rule.meta_key is not None:
                body.setdefault("meta", {})[rule.meta_key] = value
            else:
                body[rule.wordpress] = value
            written.append(rule)
        return written

    @staticmethod
    def _dropped(data: Any, rules: Sequence[FieldRule]) -> list[FieldRule]:
        """The meta of ``rules`` the write's answer does not show: WordPress answers 200/201 and
        silently drops meta that is not registered for REST (reference/wordpress.md)."""
        meta = data.get("meta") if isinstance(data, dict) else None
        shown = meta if isinstance(meta, dict) else {}
        return [r for r in rules if r.meta_key is not None and r.meta_key not in shown]

    @staticmethod
    def _dropped_message(rules: Sequence[FieldRule]) -> str:
        names = ", ".join(f"{r.name} (meta {r.meta_key!r})" for r in rules)
        return (f"WordPress did not store {names}: the meta is not registered for its REST API; install the "
                "syncd companion (syncd companion wordpress --out DIR) or register the meta with show_in_rest, "
                "then run syncd test-connection")

    def protection(self, data: Mapping[str, Any]) -> str:
        """Why syncd must never write to this user ("" if it may), from its current roles and caps."""
        if data.get("id") == self.verify().id:
            return "it is the account syncd itself uses"
        roles = {str(r) for r in data.get("roles") or ()}
        excluded = sorted(roles & self.exclude_roles)
        if excluded:
            return f"it has the excluded role {', '.join(excluded)}"
        powers = admin_powers(data.get("capabilities"))
        if powers:
            return f"its capabilities include {', '.join(powers)} (an administrator in effect)"
        return ""

    @staticmethod
    def _totals(reply: Reply, page: int) -> tuple[int, int]:
        try:
            return int(reply.headers["x-wp-total"]), int(reply.headers["x-wp-totalpages"])
        except (KeyError, ValueError) as exc:
            raise IncompleteListing(
                f"WordPress answered page {page} of the users without usable X-WP-Total/X-WP-TotalPages "
                "headers, so the listing cannot be checked for completeness (a proxy or cache stripping them?)",
                side=SIDE,
            ) from exc

    def _page(self, page: int) -> Reply:
        params = {
            "context": "edit", "per_page": self.settings.page_size, "page": page, "orderby": "id", "order": "asc",
            "_fields": self._user_fields,
        }
        try:
            return self._rest.call("list_page", "GET", USERS, params=params)
        except (Transient, Unreachable) as exc:
            raise IncompleteListing(f"page {page} of the WordPress users could not be read: {exc}",
                                    side=SIDE) from exc

    def _read_page(self, number: int, reply: Reply) -> _PageRead:
        """One fetched page of the listing as records (NotAnApi if it is not a list of users)."""
        total, pages = self._totals(reply, number)
        if not isinstance(reply.data, list):
            raise NotAnApi(f"WordPress answered page {number} of the users with something other than a list",
                           side=SIDE)
        records, protected = self._records(reply.data, f"page {number} of the users")
        return _PageRead(number, total, pages, records, protected)

    def _first_page(self, pool: Executor) -> Reply:
        """Page 1, fetched while ``/users/me`` proves the credentials (when concurrency allows two
        requests): one round trip less before the parallel part. Wrong credentials run as
        anonymous in WordPress, so page 1 is used only once ``verify()`` succeeded; if it
        failed, its error is the one raised and page 1's answer is dropped."""
        if self._account is not None or self.settings.concurrency < 2:
            self.verify()
            return self._page(1)
        self.discover()  # the index first: it says where the API lives
        first = pool.submit(self._page, 1)
        try:
            self.verify()
        except BaseException:
            first.cancel()
            raise
        return first.result()

    def _list_users(self) -> tuple[list[Record], frozenset[str]]:
        """Every user as a record, and the emails of the protected ones (``protection``).

        The workers only fetch and decode; this thread turns each page into records in page
        order while the next pages are in flight, so ``concurrency`` requests stay out the
        whole time (a worker that also built the records kept one fewer out while it did)."""
        size = self.settings.page_size
        with paging.pool(self.settings.concurrency, "wp-list") as pool:
            reply = self._first_page(pool)
            total, pages = self._totals(reply, 1)
            if pages != math.ceil(total / size):
                raise IncompleteListing(
                    f"WordPress reported {total} users in {pages} pages of {size}, which cannot both be true",
                    side=SIDE,
                )
            later = paging.submit(pool, (partial(self._page, n) for n in range(2, pages + 1)))
            reads = paging.collect(reply, later, self._read_page)
        what = "the WordPress users listing"
        for read in reads:
            paging.check_total(read.total, total, what=what, where=f"on page {read.number}", side=SIDE)
        records = [record for read in reads for record in read.records]
        paging.check_complete([r.remote_id for r in records], total, what=what, total_from="X-WP-Total", side=SIDE,
                              hint=" (users changed while listing, or a plugin hides users from the listing but "
                                   "not from the count)")
        return records, frozenset().union(*(read.protected for read in reads))

    def snapshot(self) -> Snapshot:
        """Every user (complete or IncompleteListing), the admins' emails and the storable fields."""
        for attempt in range(1, self.LISTING_ATTEMPTS + 1):
            try:
                records, admins = self._list_users()
                break
            except paging.ListingShifted as exc:
                if attempt == self.LISTING_ATTEMPTS:
                    raise IncompleteListing(str(exc), side=SIDE) from exc
                logger.info("WordPress listing was inconsistent ({exc}); reading it again", exc=exc)
        logger.debug("WordPress listing: {n} users, {a} protected", n=len(records), a=len(admins))
        return Snapshot(side=Side.WORDPRESS, records=tuple(records), admin_emails=admins, fields=self.fields)

    def find_by_email(self, email: str) -> list[Record]:
        """Users whose email equals ``email`` case-insensitively (WordPress's search is a substring match)."""
        return self._search(email)[0]

    def _search(self, email: str) -> tuple[list[Record], set[str]]:
        """The users with ``email`` (case-insensitively), and the normalised emails of the protected ones."""
        self.verify()
        term = email.strip()
        if not term:
            return [], set()
        key = normalise_email(term)
        found: list[Record] = []
        protected: set[str] = set()
        page = 1
        while True:
            # A term with "@" searches the email column only (WordPress 6.1).
            params = {"context": "edit", "search": term, "per_page": 100, "page": page, "orderby": "id",
                      "_fields": self._user_fields}
            reply = self._rest.call("search", "GET", USERS, params=params, who=term)
            if not isinstance(reply.data, list):
                raise NotAnApi("WordPress answered a user search with something other than a list", side=SIDE)
            records, admins = self._records(reply.data, "a user search")
            found.extend(r for r in records if r.key == key)
            protected |= admins & {key}
            _, pages = self._totals(reply, page)
            if page >= pages:
                return found, protected
            page += 1

    def user_by_username(self, username: str) -> tuple[int, str] | None:
        """The id and email of the user whose username is ``username`` (DESIGN §11's login fallback,
        where a person may type either), or None: a REST search in context=edit, then an exact match on
        ``username`` (case-insensitively, as WordPress's own login lookup in MySQL). A term with "@"
        searches the email column only, so a username with "@" is not found here."""
        self.verify()
        term = username.strip()
        if not term or "@" in term:
            return None
        wanted = term.lower()
        page = 1
        while page <= MAX_USERNAME_PAGES:
            params = {"context": "edit", "search": term, "per_page": 100, "page": page, "orderby": "id",
                      "_fields": "id,username,email"}
            reply = self._rest.call("search", "GET", USERS, params=params, who=f"username {term!r}")
            if not isinstance(reply.data, list):
                raise NotAnApi("WordPress answered a user search with something other than a list", side=SIDE)
            for user in reply.data:
                if isinstance(user, dict) and as_text(user.get("username")).lower() == wanted:
                    user_id = user.get("id")
                    return (user_id, as_text(user.get("email"))) if type(user_id) is int else None
            _, pages = self._totals(reply, page)
            if page >= pages:
                return None
            page += 1
        return None

    def login_refusal(self, remote_id: int) -> str:
        """Why the login fallback must not let a person in as WordPress user ``remote_id`` ("" if it
        may): the same rules as ``set_password``, on the user as it is now (NotFound if it is gone)."""
        if remote_id == self.verify().id:
            return "it is the account syncd itself uses"
        current = self.get(remote_id)
        reason = self.protection(current)
        if reason:
            return reason
        if not current.get("roles"):
            return "it has no role (deactivated)"
        return ""

    def lookup(self, emails: Collection[str], ids: Collection[int]) -> Snapshot:
        """The users with one of ``emails`` or ``ids`` (a user that is gone is absent), and the
        emails of the protected ones among them: a partial snapshot for one user, never a listing."""
        found: dict[int, Record] = {}
        protected: set[str] = set()
        for email in sorted(set(emails)):
            records, admins = self._search(email)
            found.update((r.remote_id, r) for r in records)
            protected |= admins
        for user_id in sorted(set(ids) - found.keys()):
            try:
                data = self.get(user_id)
            except NotFound:
                continue
            one, guarded = self._records([data], f"user #{user_id}")
            found.update((r.remote_id, r) for r in one)
            protected |= guarded
        ordered = sorted(found.values(), key=lambda r: r.remote_id)
        return Snapshot(side=Side.WORDPRESS, records=tuple(ordered), admin_emails=frozenset(protected),
                        fields=self.fields)

    def details(self, ids: Collection[int]) -> Details:
        """Nothing to read: WordPress lists every user's mapped fields (meta) with the user."""
        return Details()

    def get(self, remote_id: int) -> Mapping[str, Any]:
        """One user, fresh, in context=edit (NotFound if it is gone)."""
        reply = self._rest.call("get", "GET", f"{USERS}/{int(remote_id)}", params={"context": "edit"},
                                who=f"WordPress user #{remote_id}")
        return user_object(reply.data, f"user #{remote_id}")

    # -- writing ---------------------------------------------------------------------------

    def _guard(self, record: Record, action: str) -> Mapping[str, Any]:
        """The user as it is now, or RefusedWrite if it is protected (checked before every write)."""
        if record.remote_id == self.verify().id:
            raise RefusedWrite(f"refusing to {action} WordPress user {record.label()}: it is the account syncd "
                               "itself uses")
        current = self.get(record.remote_id)
        reason = self.protection(current)
        if reason:
            raise RefusedWrite(f"refusing to {action} WordPress user {record.label()}: {reason}")
        return current

    def _check_roles(self, roles: Sequence[str], who: str) -> None:
        bad = sorted({r for r in roles if r in self.exclude_roles or r.lower() in FORBIDDEN_ROLES})
        if bad:
            raise RefusedWrite(f"refusing to give WordPress user {who} the role {', '.join(bad)}: it is excluded "
                               "or can manage users or options")

    def _check_email(self, email: str, who: str) -> str:
        """The email to send: trimmed (WordPress refuses surrounding whitespace that WHMCS keeps,
        and the key ignores it anyway), or InvalidRecord if WordPress cannot store it."""
        email = email.strip()
        if not email:
            raise InvalidRecord(f"{who} has no email; WordPress requires one", user=who, field="email")
        if len(email) > MAX_EMAIL:
            raise InvalidRecord(
                f"the email of {who} has {len(email)} characters; WordPress stores at most {MAX_EMAIL}",
                user=who, field="email",
            )
        return email

    def _field_error(self, exc: InvalidRecord) -> InvalidRecord:
        """Name WordPress's meta field by its common name (``meta.billing_company`` → ``company``)."""
        if exc.field in (f"meta.{self.company_key}", "meta"):
            return InvalidRecord(exc.message, user=exc.user, field="company")
        for rule in self.mapped:
            if exc.field in (rule.wordpress, f"meta.{rule.meta_key}"):
                return InvalidRecord(exc.message, user=exc.user, field=rule.name)
        return exc

    def create(self, fields: Mapping[str, str]) -> Record:
        """A new user with the configured username scheme and role, and a random password.

        Tries ``login``, ``login-2``, … while WordPress says the username exists. A reply that
        does not show the new user raises OutcomeUnknown: look the email up before retrying.
        """
        self.verify()
        who = (fields.get("email") or "").strip() or "a new WordPress user"
        email = self._check_email(fields.get("email") or "", who)
        role = self.settings.new_users.role
        self._check_roles([role], who)
        first, last = fields.get("first_name") or "", fields.get("last_name") or ""
        # Without names WordPress would show the login (here often the email) as the public name.
        display = " ".join(p for p in (first.strip(), last.strip()) if p) or email.strip().split("@", 1)[0]
        body: dict[str, Any] = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "name": display,
            "nickname": display,
            "roles": [role],
            "password": new_password(),
        }
        company = fields.get("company") or ""
        if company and self.supports_company:
            body["meta"] = {self.company_key: company}
        # Empty mapped values are left out: WordPress's own default (an empty meta) is the same.
        written = self._mapped_body({k: v for k, v in fields.items() if v}, body)
        base = base_username(self.settings.new_users.username, email, first, last)
        with self._claiming(base):  # creates run at once: never two trying the same login
            for login in candidates(base, self.USERNAME_ATTEMPTS):
                body["username"] = login
                try:
                    reply = self._rest.call("create", "POST", USERS, body=body, retry="once", who=who)
                except RemoteRejected as exc:
                    if exc.code == "existing_user_login":
                        continue
                    raise
                except InvalidRecord as exc:
                    raise self._after_insert(exc, who) from exc
                except PermissionDenied as exc:
                    if exc.action.startswith("edit meta"):
                        # The row is inserted before the meta is written (reference: pitfall 6).
                        raise OutcomeUnknown(f"WordPress created {who} but refused its company field: {exc}",
                                             side=SIDE) from exc
                    raise
                try:
                    record = self._record(reply.data, "the created user")
                except NotAnApi as exc:
                    raise OutcomeUnknown(f"WordPress answered the create of {who} without the new user; it may "
                                         "exist now", side=SIDE) from exc
                dropped = self._dropped(reply.data, written)
                if dropped:
                    # The user exists: the lookup of the next run links it, and the fields are retried then.
                    raise OutcomeUnknown(f"WordPress created {who} but {self._dropped_message(dropped)}", side=SIDE)
                logger.debug("created WordPress user #{id} {login} for {email}", id=record.remote_id,
                             login=record.username, email=who)
                if self.settings.new_users.send_password_reset:
                    self.send_password_reset(record)
                return record
            raise RemoteRejected(
                f"no free WordPress username for {who}: {base!r} and {self.USERNAME_ATTEMPTS - 1} numbered variants "
                "are taken", side=SIDE, code="existing_user_login",
            )

    @contextmanager
    def _claiming(self, base: str) -> Iterator[None]:
        """Creates whose usernames start from the same ``base`` run one at a time: WordPress
        checks that a login is free and then inserts it (``user_login`` has no unique index), so
        two creates at once could both be given the same login."""
        with self._naming:
            lock = self._naming_locks.setdefault(base.casefold(), threading.Lock())
        with lock:
            yield

    def _after_insert(self, exc: InvalidRecord, who: str) -> SyncdError:
        error = self._field_error(exc)
        if error.field == "company" or error.field.startswith("meta") or any(
                error.field == r.name and r.meta_key is not None for r in self.mapped):
            return OutcomeUnknown(f"WordPress created {who} but refused its meta: {exc}", side=SIDE)
        return error

    def send_password_reset(self, record: Record) -> bool:
        """WordPress's lost-password email for ``record`` (best effort: logged, never raised)."""
        try:
            sent = self._rest.lost_password(record.username or record.email)
        except httpx.HTTPError as exc:
            logger.warning("could not ask WordPress to send {email} a password-reset email: {why}",
                           email=record.label(), why=net.reason(exc, side=SIDE))
            return False
        if sent:
            logger.info("WordPress sent {email} a password-reset email", email=record.label())
        else:
            logger.warning("WordPress did not confirm a password-reset email to {email}", email=record.label())
        return sent

    def _write(self, record: Record, body: Mapping[str, Any], what: str) -> Record:
        return self._write_answer(record, body, what)[0]

    def _write_answer(self, record: Record, body: Mapping[str, Any], what: str) -> tuple[Record, Any]:
        """The write's record and WordPress's answer as it came (to see what meta it stored)."""
        try:
            reply = self._rest.call("update", "POST", f"{USERS}/{record.remote_id}", body=body,
                                    retry="idempotent", who=record.label())
        except InvalidRecord as exc:
            raise self._field_error(exc) from exc
        updated = self._record(reply.data, f"the {what} of {record.label()}")
        logger.debug("{what} WordPress user #{id} {email}", what=what, id=record.remote_id, email=record.label())
        return updated, reply.data

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        """Write changed names, email, company and mapped fields; other keys (fields this site cannot
        store) are skipped. Mapped meta that WordPress drops fails the update, naming the field."""
        current = self._guard(record, "update")
        body: dict[str, Any] = {}
        mapped = {r.name for r in self.mapped}
        written = self._mapped_body({k: v for k, v in changes.items() if k in mapped}, body)
        for name, value in changes.items():
            if name in mapped:
                if not any(r.name == name for r in written):
                    logger.debug("WordPress cannot store {field}; not written", field=name)
                continue
            if name == "email":
                body["email"] = self._check_email(value, record.label())
            elif name in ("first_name", "last_name"):
                body[name] = value
            elif name == "company" and self.supports_company:
                body.setdefault("meta", {})[self.company_key] = value
            else:
                logger.debug("WordPress cannot store {field}; not written", field=name)
        if not body:
            return self._record(current)
        if "first_name" in body or "last_name" in body:
            # WordPress leaves the display name alone when names change; follow it when it was
            # the default one (names, login or email's local part), keep it when the person chose it.
            old_first, old_last = as_name(current.get("first_name")), as_name(current.get("last_name"))
            defaults = {
                " ".join(p for p in (old_first.strip(), old_last.strip()) if p),
                as_text(current.get("username")),
                as_text(current.get("email")).split("@", 1)[0],
                "",
            }
            if as_name(current.get("name")) in defaults:
                first = body.get("first_name", old_first).strip()
                last = body.get("last_name", old_last).strip()
                shown = " ".join(p for p in (first, last) if p)
                if shown:
                    body["name"] = shown
        updated, answer = self._write_answer(record, body, "updated")
        dropped = self._dropped(answer, written)
        if dropped:
            raise RemoteRejected(f"{record.label()}: {self._dropped_message(dropped)}", side=SIDE,
                                 code="meta_not_stored")
        if "email" in body and normalise_email(updated.email) != normalise_email(body["email"]):
            # Seen on 6.1: an update WordPress cannot store still answers 200 with the old email.
            raise RemoteRejected(f"WordPress kept {updated.email} instead of the new email of {record.label()}",
                                 side=SIDE, code="email_not_stored")
        return updated

    def set_password(self, remote_id: int, password: Password) -> Record:
        """Set WordPress user ``remote_id``'s password to ``password`` (DESIGN §11, WHMCS → WordPress):
        one ``POST /wp/v2/users/<id>`` with ``password``, never for the account syncd uses, an
        excluded role or an administrator in effect (``RefusedWrite``, checked on the user as it is
        now). Not part of ``SideAdapter``: only the event worker carries passwords. No message
        raised or logged here contains the password."""
        if remote_id == self.verify().id:
            raise RefusedWrite(f"refusing to set the password of WordPress user #{remote_id}: it is the account "
                               "syncd itself uses")
        current = self.get(remote_id)
        record = self._record(current)
        reason = self.protection(current)
        if reason:
            raise RefusedWrite(f"refusing to set the password of WordPress user {record.label()}: {reason}")
        try:
            return self._write(record, {"password": password.reveal()}, "set the password of")
        except SyncdError as exc:
            # WordPress's own message should not echo it, but the message is not ours to trust.
            if password.held and password.reveal() in exc.message:
                exc.message = exc.message.replace(password.reveal(), "***")
                exc.args = (exc.message,)
            raise

    def deactivate(self, record: Record) -> Record:
        """Leave the user with no role (the engine remembers the roles it had)."""
        current = self._guard(record, "deactivate")
        if not current.get("roles"):
            return self._record(current)
        return self._write(record, {"roles": []}, "deactivated")

    def reactivate(self, record: Record, roles: Sequence[str] = ()) -> Record:
        """Give back ``roles``, or the configured new-user role when they are unknown."""
        self._guard(record, "reactivate")
        target = [r for r in roles if r.strip()] or [self.settings.new_users.role]
        self._check_roles(target, record.label())
        return self._write(record, {"roles": target}, "reactivated")


if TYPE_CHECKING:  # mypy proves the adapter fits the engine's seam
    def _fits(adapter: WordPressAdapter) -> SideAdapter:
        return adapter
