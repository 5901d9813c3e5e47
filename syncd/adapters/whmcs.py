"""The WHMCS side: WHMCS clients (and their WHMCS 8 owner users) as ``Record`` s.

``WhmcsAdapter`` implements ``syncd.ports.SideAdapter`` over the WHMCS External API
(form-encoded POSTs to ``<root>/includes/api.php``, ``responsetype=json``). It is the only
module that sends WHMCS requests; ``whmcs_wire`` reads the replies. Its limits, on purpose:

- listings are complete or raise: every page of GetClients and GetUsers, checked against
  ``totalresults`` and for repeated ids, pages fetched concurrently up to
  ``settings.concurrency`` once page 1 told the total;
- reads are retried on transient faults with bounded exponential backoff and jitter
  (``Retry-After`` honoured); writes are retried only when nothing reached WHMCS (a connect
  error, or a 429/503 that says it did not run the call). A write sent whose reply is lost
  raises ``OutcomeUnknown``: the engine settles it with ``find_by_email``. The policy is the
  one both adapters share (``retry``), as are the meaning of a transport failure (``net``)
  and the paging (``paging``);
- it never deletes or closes a client; deactivation is status Inactive;
- it refuses to create or write a client whose email is a WHMCS admin's (``RefusedWrite``);
- secrets (the API secret, the access key, new clients' passwords) are sent in request
  bodies only and are redacted from anything WHMCS echoes back;
- a password just set on WordPress (DESIGN §11) is handed to it with ``offer_password`` before a
  one-user run: the ``create`` of the client with that email sends it as ``password2`` instead of a
  random one, once, and forgets it. It never enters the core, the plan or the store.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from functools import partial
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode, urlsplit

import httpx
from loguru import logger
from pydantic import SecretStr

from syncd.adapters import net, paging, retry
from syncd.adapters.php_serial import custom_fields_param
from syncd.adapters.whmcs_wire import (
    CLIENT_KEYS,
    CUSTOM_FIELDS_PATH,
    SIDE,
    USER_KEYS,
    WRITE_ACTIONS,
    api_endpoint,
    as_int,
    as_list,
    as_str,
    canonical_action,
    client_details,
    client_record,
    custom_field_id,
    custom_fields_of,
    decode,
    listed_client,
    listed_user,
    mapped_values,
    owner_user_id,
    owners_from_users,
    refused_field,
    version_of,
)
from syncd.config import Settings, WhmcsSettings
from syncd.errors import (
    IncompleteListing,
    InvalidRecord,
    NotAnApi,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RefusedWrite,
    RemoteRejected,
    SideError,
    Transient,
    UnknownAction,
    Unreachable,
)
from syncd.fieldmap import WHMCS_FIELDS, WHMCS_REQUIRED, FieldRule
from syncd.logs import MIN_SECRET_LENGTH
from syncd.model import DEFAULT_FIELDS, Record, Side, Snapshot, normalise_email
from syncd.passwords import Password
from syncd.ports import Details

if TYPE_CHECKING:
    from syncd.ports import SideAdapter

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
#: ValidateLogin's one refusal (api-reference/validatelogin.md), lower-cased: for a wrong password and an
#: unknown email alike.
LOGIN_REFUSED = "email or password invalid"

#: 0.5 s, 1 s, 2 s, … capped at 20 s, plus up to 0.5 s of jitter. A Retry-After longer than
#: two minutes is not waited for in a run: the call fails and the next run tries again.
BACKOFF = retry.Backoff(initial=0.5, cap=20.0, jitter=0.5, relative_jitter=False, retry_after_limit=120.0,
                        give_up_beyond_limit=True)


def new_password(length: int = 24) -> str:
    """A strong random password with every character class WHMCS's strength meter counts."""
    rng = secrets.SystemRandom()
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%()*+-.:=?@[]_")
    chars = [rng.choice(c) for c in classes]
    pool = "".join(classes)
    chars += [rng.choice(pool) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


@dataclass(frozen=True)
class _Listing:
    """A paged WHMCS listing: the action, its filter, and where its rows sit in a reply."""

    action: str
    params: Mapping[str, object]
    key: str
    inner: str
    #: What of each row to keep, applied as each page arrives: a snapshot holds every page
    #: until the last one is in, and at 100,000 clients the fields nobody reads (dates, the
    #: users' names and emails) were ~100 MB of the run's peak memory.
    keep: Callable[[dict[str, Any]], Any] | None = None
    #: A kept row's id (None when it has none).
    id_of: Callable[[Any], int | None] = lambda row: as_int(row.get("id"))


_CLIENTS = ("GetClients", {"orderby": "id", "sorting": "ASC"}, "clients", "client")
_USERS = ("GetUsers", {"sorting": "ASC"}, "users", "user")
_REMOTE_ID = attrgetter("remote_id")


def _client_id(record: Record | None) -> int | None:
    return None if record is None else record.remote_id

#: AddClient's name of a field syncd carries under another name.
_COMMON_NAMES = {"firstname": "first_name", "lastname": "last_name"}


def _same(number: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A WHMCS page as the listing keeps it: its rows were trimmed by the worker that read them."""
    return rows


@dataclass
class _Read:
    """A listing read whole: its rows and their ids, in the order WHMCS sent them."""

    rows: list[Any]  # as the listing's ``keep`` made them (the reply's dicts without one)
    ids: list[int]


class WhmcsAdapter:
    """WHMCS as a ``SideAdapter``; also the API client used by ``syncd test-connection``.

    ``calls`` counts the HTTP requests sent per action (retries included), for benchmarks.
    ``sleep`` and ``rng`` are the seams of the retry backoff (tests pass a no-op sleep).
    ``mapped`` are the field map's rules (DESIGN §9): their WHMCS fields are read by ``details``
    (GetClientsDetails; GetClients lists none of them) and written by ``create`` and ``update``.
    """

    side = Side.WHMCS

    def __init__(
        self,
        settings: WhmcsSettings,
        secret: SecretStr,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        mapped: Sequence[FieldRule] = (),
    ) -> None:
        self._settings = settings
        self.mapped = tuple(mapped)
        self._rules = {r.name: r for r in self.mapped}
        # The client custom field ids this install defines, once a GetClientsDetails told them
        # (it lists every one, empty ones included); None until then.
        self._custom_ids: frozenset[int] | None = None
        self._secret = secret
        self.endpoint = api_endpoint(settings.url)
        self._url = httpx.URL(self.endpoint)
        self._host = urlsplit(self.endpoint).netloc
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._admin_emails: frozenset[str] | None = None
        self._offered: tuple[str, Password] | None = None  # (normalised email, its password): offer_password
        self.sent_offered_password = False  # a create sent the offered password (AddClient was tried with it)
        limits = httpx.Limits(max_connections=max(4, 2 * settings.concurrency))
        self._http = httpx.Client(
            transport=transport or net.transport(settings.verify_tls, limits, ca_file=settings.ca_path),
            timeout=httpx.Timeout(settings.timeout_seconds),
            verify=net.client_context(settings.verify_tls, settings.ca_path),  # for a proxy from the environment
            limits=limits,
            follow_redirects=False,
            headers={"User-Agent": "syncd (WHMCS client)"},
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> WhmcsAdapter:
        """The adapter of a loaded configuration (``transport``, ``sleep``, ``rng`` pass through)."""
        kwargs.setdefault("mapped", settings.field_rules())
        return cls(settings.whmcs, settings.whmcs_secret, **kwargs)

    def __repr__(self) -> str:
        return f"WhmcsAdapter(endpoint={self.endpoint!r}, identifier={self._settings.identifier!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WhmcsAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one API call ------------------------------------------------------------------

    def _redactor(self, extra: Sequence[str]) -> Callable[[str], str]:
        hidden = [self._secret.get_secret_value(), *extra]
        if self._settings.access_key is not None:
            hidden.append(self._settings.access_key.get_secret_value())
        # A value this short would mask letters inside ordinary words; logs.py draws the same line.
        hidden = [h for h in hidden if len(h) >= MIN_SECRET_LENGTH]

        def redact(text: str) -> str:
            for value in hidden:
                text = text.replace(value, "***")
            return text

        return redact

    def call(
        self,
        action: str,
        params: Mapping[str, object] | None = None,
        *,
        write: bool | None = None,
        hide: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One API call, retried where safe; the success reply or a ``syncd.errors`` class.

        ``write`` defaults to whether ``action`` changes data; ``hide`` names more values to
        keep out of any message (a new client's password).
        """
        action = canonical_action(action)
        is_write = action in WRITE_ACTIONS if write is None else write
        redact = self._redactor(hide)
        return retry.call(lambda: self._once(action, params or {}, is_write, redact),
                          attempts=self._settings.retries + 1, backoff=BACKOFF, sleep=self._sleep, rng=self._rng)

    def _form(self, action: str, params: Mapping[str, object]) -> dict[str, str]:
        form = {
            "action": action,
            "identifier": self._settings.identifier,
            "secret": self._secret.get_secret_value(),
            "responsetype": "json",
        }
        if self._settings.access_key is not None and self._settings.access_key.get_secret_value():
            form["accesskey"] = self._settings.access_key.get_secret_value()
        for key, value in params.items():
            if value is None:
                continue
            form[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return form

    def _once(
        self, action: str, params: Mapping[str, object], write: bool, redact: Callable[[str], str]
    ) -> dict[str, Any]:
        with self._lock:
            self.calls[action] += 1
        host = self._host
        try:
            # The form encoded here and the URL parsed once: httpx's own form and URL handling
            # in pure Python cost more CPU per call than the reply's JSON.
            response = self._http.post(self._url, content=urlencode(self._form(action, params)).encode("utf-8"),
                                       headers=_FORM_HEADERS)
        except httpx.HTTPError as exc:
            failed = net.failure(exc, side=SIDE, where=host, what=action, write=write, redact=redact)
            if failed.retry:
                raise retry.TryAgain(failed.error) from exc
            raise failed.error from exc
        try:
            data = decode(action, response.status_code, response.headers, response.content, write=write, redact=redact)
        except Transient as exc:
            raise retry.TryAgain(exc) from exc
        logger.debug("WHMCS {action}: ok", action=action)
        return data

    # --- listings ----------------------------------------------------------------------

    def _page(
        self, action: str, params: Mapping[str, object], key: str, inner: str, start: int, num: int
    ) -> tuple[list[dict[str, Any]], int | None, int | None]:
        data = self.call(action, {**params, "limitstart": start, "limitnum": num})
        rows = as_list(data.get(key), inner)
        numreturned = as_int(data.get("numreturned"))
        if numreturned is not None and numreturned != len(rows):
            raise IncompleteListing(
                f"WHMCS {action} at offset {start} says it returned {numreturned} rows but sent {len(rows)}",
                side=SIDE,
            )
        return rows, as_int(data.get("totalresults")), numreturned

    def _first_page(self, listing: _Listing) -> paging.FirstPage[list[dict[str, Any]]]:
        """Page 1 of ``listing``: its rows, the listing's total and the calls for the other pages."""
        size = self._settings.page_size
        first, total, _ = self._page(listing.action, listing.params, listing.key, listing.inner, 0, size)
        what = f"WHMCS {listing.action}"
        if total is None:
            if len(first) < size:
                total = len(first)  # one short page: the listing is all there
            else:
                raise IncompleteListing(f"{what} did not say how many rows there are (no totalresults)", side=SIDE)
        if len(first) > total:
            raise IncompleteListing(f"{what} sent {len(first)} rows on page 1 but says there are {total}", side=SIDE)
        step = len(first)
        if total > step:
            if step == 0:
                raise IncompleteListing(f"{what} says there are {total} rows but its first page is empty", side=SIDE)
            if step < size:
                logger.info("{what} sends at most {step} rows per page (asked {size}); paging by {step}",
                            what=what, step=step, size=size)
        rows = first if listing.keep is None else [listing.keep(r) for r in first]
        offsets = range(step, total, step) if total > step else ()
        return paging.FirstPage(rows, total, tuple(partial(self._later_page, listing, o, step, total) for o in offsets))

    def _later_page(self, listing: _Listing, offset: int, step: int, total: int) -> list[dict[str, Any]]:
        """The page of ``listing`` at ``offset`` (after page 1), checked against page 1's total."""
        what = f"WHMCS {listing.action}"
        last = offset + step >= total
        # Ask the last page for one row more than the total leaves: a total that
        # under-reports then shows up as an extra row instead of a silent miss.
        num = step + 1 if last else step
        try:
            rows, page_total, _ = self._page(listing.action, listing.params, listing.key, listing.inner, offset, num)
        except (Transient, Unreachable, NotAnApi) as exc:
            raise IncompleteListing(f"{what}: the page at offset {offset} failed: {exc}", side=SIDE) from exc
        expected = min(step, total - offset)
        if page_total is not None:
            paging.check_total(page_total, total, what=what, where=f"at offset {offset}", side=SIDE)
        if len(rows) != expected:
            raise IncompleteListing(
                f"{what} sent {len(rows)} rows at offset {offset}, expected {expected} of a total of {total}",
                side=SIDE,
            )
        return rows if listing.keep is None else [listing.keep(r) for r in rows]

    def _read(self, pool: Executor, listings: Sequence[_Listing],
              firsts: Sequence[Future[paging.FirstPage[list[dict[str, Any]]]]],
              watch: Sequence[Future[Any]] = ()) -> list[_Read]:
        """Every listing complete, each page 1 (and any ``watch`` ed call) already in ``pool``;
        the first failed call's error in the order ``watch``, ``firsts`` (``paging.schedule``)."""
        reads = []
        for listing, first, later in zip(listings, firsts, paging.schedule(pool, firsts, watch), strict=True):
            rows = [row for page in paging.collect(first.result().page, later, _same) for row in page]
            what = f"WHMCS {listing.action}"
            ids = [listing.id_of(r) for r in rows]
            if None in ids:
                raise IncompleteListing(f"{what} sent a row without an id", side=SIDE)
            paging.check_complete(cast(list[int], ids), first.result().total, what=what, total_from="totalresults",
                                  side=SIDE)
            reads.append(_Read(rows, cast(list[int], ids)))
        return reads

    def list_all(self, action: str, params: Mapping[str, object], key: str, inner: str) -> list[dict[str, Any]]:
        """Every row of a paged WHMCS listing, or ``IncompleteListing``; never a partial list."""
        listing = _Listing(action, params, key, inner)
        with self._pool() as pool:
            first = pool.submit(self._first_page, listing)
            try:
                [read] = self._read(pool, [listing], [first])
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        return read.rows

    def _pool(self) -> Executor:
        """Where a listing's calls run: up to ``concurrency`` at once (inline for 1)."""
        return paging.pool(self._settings.concurrency, "whmcs-page", inline_when_one=True)

    def _record(self, row: Mapping[str, Any], owner: int | None) -> Record:
        record = client_record(row, owner)
        if record is None:
            raise IncompleteListing("WHMCS sent a client without an id", side=SIDE)
        return record

    def admin_emails(self, *, refresh: bool = False) -> frozenset[str]:
        """The normalised emails of every WHMCS admin, disabled ones included (GetAdminUsers).

        A denied GetAdminUsers raises ``PermissionDenied``: admin exclusion is never skipped.
        """
        if self._admin_emails is None or refresh:
            self._admin_emails = self._read_admins()
        return self._admin_emails

    def _read_admins(self) -> frozenset[str]:
        data = self.call("GetAdminUsers", {"include_disabled": 1})
        admins = as_list(data.get("admin_users", data.get("admins")), "admin_user")
        return frozenset(normalise_email(as_str(a.get("email"))) for a in admins if as_str(a.get("email")).strip())

    def _first_users_page(self, listing: _Listing) -> paging.FirstPage[list[dict[str, Any]]]:
        """Page 1 of GetUsers; an empty listing where WHMCS has no GetUsers (before 8.1)."""
        try:
            return self._first_page(listing)
        except UnknownAction:
            logger.info("this WHMCS has no GetUsers (before 8.1): owner users are looked up when needed")
            return paging.FirstPage([], 0)

    def owners(self) -> dict[int, int]:
        """client id → owner user id for every client (GetUsers, complete); {} before WHMCS 8.1."""
        try:
            users = self.list_all(*_USERS)
        except UnknownAction:
            logger.info("this WHMCS has no GetUsers (before 8.1): owner users are looked up when needed")
            return {}
        return owners_from_users(users)

    def snapshot(self) -> Snapshot:
        """Every client (all pages), each with its owner user, and the admins' emails.

        Page 1 of GetClients first, alone; then GetAdminUsers, page 1 of GetUsers and the
        later pages of GetClients at once, and the later pages of GetUsers as soon as its
        page 1 told the total: always ``concurrency`` calls in flight until the end. When
        several fail, the admins' error is raised first, then the clients', then the users'.
        """
        clients = _Listing(*_CLIENTS, keep=listed_client, id_of=_client_id)
        users = _Listing(*_USERS, keep=listed_user, id_of=itemgetter(0))
        with self._pool() as pool:
            try:
                # Page 1 of GetClients goes alone: a refused IP or credential then costs one
                # failed call, not a burst (WHMCS bans IPs, and WAFs block, on repeated failures).
                first_clients = pool.submit(self._first_page, clients)
                first_clients.result()
                admins_call = pool.submit(self._read_admins)
                firsts = [first_clients, pool.submit(self._first_users_page, users)]
                try:
                    client_read, user_read = self._read(pool, [clients, users], firsts, watch=[admins_call])
                except BaseException:
                    admins_call.result()  # a failed GetAdminUsers is the error to report
                    raise
                admins = admins_call.result()
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        self._admin_emails = admins
        owners = {cid: uid for uid, owned in user_read.rows if uid is not None for cid in owned}
        records: list[Record] = client_read.rows
        for record in records:
            owner = owners.get(record.remote_id)
            if owner is not None:
                # Completing a record nobody else has seen yet, as its constructor would: a copy
                # of each of 100,000 records left as many holes in the memory the run keeps.
                object.__setattr__(record, "owner_user_id", owner)
        records.sort(key=_REMOTE_ID)
        logger.debug("WHMCS listing: {n} clients, {a} admins", n=len(records), a=len(admins))
        return Snapshot(side=Side.WHMCS, records=tuple(records), admin_emails=admins, fields=self.fields)

    def find_by_email(self, email: str) -> list[Record]:
        """Clients whose email equals ``email`` case-insensitively (GetClients ``search`` is a
        prefix match, so its rows are filtered here), each with its owner user and its mapped
        fields (both from its GetClientsDetails)."""
        key = normalise_email(email)
        if not key:
            return []
        rows = self.list_all("GetClients", {**_CLIENTS[1], "search": email.strip()}, "clients", "client")
        found = []
        for row in rows:
            if normalise_email(as_str(row.get("email"))) != key:
                continue
            record = self._record(row, None)
            found.append(self._detailed(record, self.client_details(record.remote_id)))
        return sorted(found, key=lambda r: r.remote_id)

    def _detailed(self, record: Record, details: Mapping[str, Any]) -> Record:
        """``record`` with its owner user and the mapped fields its details hold (a one-user run
        then reads them no second time: ``syncd.sync.details`` skips a record that has them)."""
        values, _unread = mapped_values(details, tuple(self._rules))
        fields = {**record.fields, **values} if values else record.fields
        return replace(record, owner_user_id=owner_user_id(details), fields=fields)

    def read(self, client_id: int) -> Record | None:
        """One client by id, fresh (GetClientsDetails), with its owner user and mapped fields; None
        if WHMCS no longer has it ("Client Not Found")."""
        try:
            found = self.client_details(client_id)
        except NotFound:
            return None
        record = client_record(found)
        return None if record is None else self._detailed(record, found)

    def lookup(self, emails: Collection[str], ids: Collection[int]) -> Snapshot:
        """The clients with one of ``emails`` or ``ids`` (a client that is gone is absent), and every
        admin's email (GetAdminUsers): a partial snapshot for one user, never a listing."""
        found: dict[int, Record] = {}
        for email in sorted(set(emails)):
            found.update((r.remote_id, r) for r in self.find_by_email(email))
        for client_id in sorted(set(ids) - found.keys()):
            record = self.read(client_id)
            if record is not None:
                found[client_id] = record
        records = tuple(sorted(found.values(), key=_REMOTE_ID))
        return Snapshot(side=Side.WHMCS, records=records, admin_emails=self.admin_emails(), fields=self.fields)

    def client_details(self, client_id: int) -> dict[str, Any]:
        """The raw GetClientsDetails record of one client (``NotFound`` if there is none)."""
        found = client_details(self.call("GetClientsDetails", {"clientid": client_id}))
        custom = custom_fields_of(found)
        if custom is not None:
            self._custom_ids = frozenset(custom)
        return found

    def _owner_of(self, client_id: int) -> int | None:
        return owner_user_id(self.client_details(client_id))

    # --- mapped fields (DESIGN §9) ------------------------------------------------------

    @property
    def unknown_custom_fields(self) -> tuple[FieldRule, ...]:
        """The mapped custom fields this install does not define, as far as a GetClientsDetails
        read so far tells (empty until one was read)."""
        known = self._custom_ids
        if known is None:
            return ()
        return tuple(r for r in self.mapped if (i := custom_field_id(r.name)) is not None and i not in known)

    @property
    def fields(self) -> tuple[str, ...]:
        """The common fields WHMCS stores, then the mapped ones (under their WHMCS names) it can:
        every client field, and the custom fields the install defines (all, until known)."""
        unknown = {r.name for r in self.unknown_custom_fields}
        return (*DEFAULT_FIELDS, *(r.name for r in self.mapped if r.name not in unknown))

    def details(self, ids: Collection[int]) -> Details:
        """The mapped fields of the clients ``ids``: one GetClientsDetails each, ``concurrency`` at
        a time, retried as listings are. A client gone since the listing ("Client Not Found") is
        left out; any other failure raises, naming the client (a failed read is never "no value").
        """
        names = tuple(r.name for r in self.mapped)
        if not names or not ids:
            return Details()
        ordered = sorted(set(ids))
        with paging.pool(self._settings.concurrency, "whmcs-details", inline_when_one=True) as pool:
            try:
                futures = [pool.submit(self._one_details, client_id) for client_id in ordered]
                replies = [f.result() for f in futures]
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        values: dict[int, Mapping[str, str]] = {}
        unreadable: set[str] = set()
        for client_id, found in zip(ordered, replies, strict=True):
            if found is None:
                continue
            read, unread = mapped_values(found, names)
            values[client_id] = read
            unreadable |= unread
        for name in sorted(unreadable):
            what = (f"WHMCS has no client custom field with id {custom_field_id(name)}"
                    if custom_field_id(name) is not None else f"this WHMCS's GetClientsDetails has no {name}")
            logger.warning("mapped field {name}: {what}; it is neither read nor written (the ids are under "
                           "{path}; `syncd test-connection` checks them)", name=name, what=what,
                           path=CUSTOM_FIELDS_PATH)
        logger.debug("WHMCS details: {n} of {m} clients read", n=len(values), m=len(ordered))
        return Details(values=values, unreadable=frozenset(unreadable))

    def _one_details(self, client_id: int) -> dict[str, Any] | None:
        try:
            return self.client_details(client_id)
        except NotFound:
            return None  # deleted since the listing: it simply keeps no mapped field
        except (Transient, RemoteRejected) as exc:
            raise IncompleteListing(f"WHMCS GetClientsDetails for client #{client_id} failed: {exc}",
                                    side=SIDE) from exc

    def _mapped_params(self, fields: Mapping[str, str], who: str) -> dict[str, object]:
        """The AddClient/UpdateClient parameters of the mapped ``fields``: a client field under its
        own name, custom fields as one ``customfields`` (base64 of a PHP-serialized array by id).
        A custom field the install does not define is refused (WHMCS would drop it silently)."""
        params: dict[str, object] = {}
        custom: dict[int, str] = {}
        unknown = {r.name for r in self.unknown_custom_fields}
        for name, value in fields.items():
            if name not in self._rules:
                continue
            field_id = custom_field_id(name)
            if name in unknown:
                raise InvalidRecord(f"cannot write {name} of {who} to WHMCS: WHMCS has no client custom field "
                                    f"with id {field_id}; fix the [[fields]] table (the ids are under "
                                    f"{CUSTOM_FIELDS_PATH})", user=who, field=name)
            if field_id is not None:
                custom[field_id] = value
            elif name in WHMCS_FIELDS:
                params[name] = value
        if custom:
            params["customfields"] = custom_fields_param(custom)
        return params

    def _refused(self, exc: RemoteRejected, action: str, sent: Mapping[str, str]) -> RemoteRejected:
        """WHMCS's validation error about one field, said with the field, the value and where it
        came from (a mapped WordPress field, the field's default or the configured dummy)."""
        name = refused_field(exc.code)
        if name is None:
            return exc
        if name == "customfield":
            names = [n for n in sent if custom_field_id(n) is not None]
            name = names[0] if len(names) == 1 else "a custom field"
        value = sent.get(name, "")
        rule = self._rules.get(name)
        dummies = self._dummies() if self._settings.new_clients.missing_fields == "dummy" else {}
        if name in dummies and value == dummies[name] and (rule is None or value != rule.default):
            source = f"[whmcs.new_clients.dummy] {name}"
        elif rule is not None and rule.default and value == rule.default:
            source = f"the default of the [[fields]] table for {name}"
        elif rule is not None:
            source = f"WordPress {rule.wordpress.replace('meta.', 'meta ', 1)}"
        else:
            source = "WordPress"
        said = exc.code
        return RemoteRejected(f"WHMCS refused {name} {value!r} (from {source}) in {action}: {said!r}; correct it "
                              "where it comes from", side=SIDE, code=said)

    # --- writes ------------------------------------------------------------------------

    def _refuse_admin(self, *emails: str) -> None:
        admins = self.admin_emails()
        for email in emails:
            if email and normalise_email(email) in admins:
                raise RefusedWrite(f"refused to write WHMCS client {email}: the email belongs to a WHMCS admin")

    def dummy_fields_for(self, fields: Mapping[str, str]) -> frozenset[str]:
        """The fields ``create(fields)`` fills with a configured dummy value.

        With ``missing_fields = "dummy"``: ``first_name`` / ``last_name`` when empty, and each
        field WHMCS requires (address1, city, state, postcode, country, phonenumber) that is a
        key of ``fields`` (a mapped field) but empty. A required field that is not mapped gets its
        dummy too, but is not a field syncd carries. The engine stores these names in
        ``Link.dummy_fields`` so the dummies never flow back to WordPress. Always empty with
        ``skip_validation``.
        """
        if self._settings.new_clients.missing_fields != "dummy":
            return frozenset()
        names = {n for n in ("first_name", "last_name") if not fields.get(n, "").strip()}
        names |= {n for n in WHMCS_REQUIRED if n in fields and not fields[n].strip()}
        return frozenset(names)

    def _dummies(self) -> dict[str, str]:
        """The configured dummy of each field WHMCS's AddClient requires, by its WHMCS name."""
        dummy = self._settings.new_clients.dummy
        return {"firstname": dummy.firstname, "lastname": dummy.lastname, "address1": dummy.address1,
                "city": dummy.city, "state": dummy.state, "postcode": dummy.postcode, "country": dummy.country,
                "phonenumber": dummy.phonenumber}

    def offer_password(self, email: str, password: Password) -> None:
        """Use ``password`` as the password of the client this adapter creates for ``email`` next
        (DESIGN §11: a password just set on WordPress for that user). Only that email's create takes
        it, once; it is forgotten as soon as AddClient was sent (or the create gave up), so a later
        retry of the same run cannot send it again. An offer not taken is the caller's to forget."""
        with self._lock:
            self._offered = (normalise_email(email), password)

    def _take_offer(self, email: str) -> Password | None:
        with self._lock:
            if self._offered is None or self._offered[0] != normalise_email(email):
                return None
            password = self._offered[1]
            self._offered = None
        return password if password.held else None

    def create(self, fields: Mapping[str, str]) -> Record:
        """AddClient with its owner user (WHMCS 8), the required fields filled per config.

        The mapped fields (DESIGN §9) are sent with their values (the planner has already given
        an empty required one its ``default`` or dummy); a required field still empty or not
        mapped gets the configured dummy (``missing_fields = "dummy"``). Returns the Record with
        the values as sent (dummies included: see ``dummy_fields_for``) and the new owner user
        id. The password is random, or the one offered for this email (``offer_password``); sent
        once, never kept. ``OutcomeUnknown`` if the reply was
        lost: look the email up first. WHMCS refusing a value (a country, a phone) is said with
        the field, the value and where it came from.
        """
        email = fields.get("email", "").strip()
        if not email:
            raise InvalidRecord("cannot create a WHMCS client without an email", field="email")
        self._refuse_admin(email)
        new = self._settings.new_clients
        sent = {k: v for k, v in fields.items() if k in CLIENT_KEYS or k in self._rules}
        sent["email"] = email
        params: dict[str, object] = {CLIENT_KEYS[k]: v for k, v in sent.items() if k in CLIENT_KEYS and v}
        params.update({k: v for k, v in self._mapped_params(sent, email).items() if v})
        if new.missing_fields == "dummy":
            for name, value in self._dummies().items():
                if str(params.get(name, "")).strip():
                    continue
                params[name] = value
                common = _COMMON_NAMES.get(name, name)
                if common in sent or common in CLIENT_KEYS:  # a field syncd carries: the record says what was sent
                    sent[common] = value
        else:
            params["skipvalidation"] = True
        offered = self._take_offer(email)
        password = offered.reveal() if offered is not None else new_password()
        self.sent_offered_password = self.sent_offered_password or offered is not None
        params["password2"] = password
        params["currency"] = new.currency
        if new.group_id:
            params["groupid"] = new.group_id  # 0 is no group: WHMCS's own default, so not sent
        if not new.send_welcome_email:
            # Sent only when true: PHP treats any non-empty string, "false" included, as true.
            params["noemail"] = True
        try:
            data = self.call("AddClient", params, hide=(password,))
        except RemoteRejected as exc:
            raise self._refused(exc, "AddClient", {**self._dummies(), **sent}) from exc
        finally:
            del password, params
            if offered is not None:
                offered.forget()  # sent (or refused): never sent twice, never kept
        client_id = as_int(data.get("clientid"))
        if client_id is None:
            raise OutcomeUnknown(f"WHMCS accepted AddClient for {email} but sent no client id", side=SIDE)
        owner = as_int(data.get("owner_user_id")) or None
        if owner is None:
            try:
                owner = self._owner_of(client_id)
            except SideError as exc:
                logger.warning("created WHMCS client #{id} for {email} but could not read its owner user: {exc}",
                               id=client_id, email=email, exc=exc)
        if new.send_password_reset and offered is None:  # a person's own password needs no reset email
            try:
                self.reset_password(email)
            except SideError as exc:
                logger.warning("created WHMCS client #{id} but could not send its password reset: {exc}",
                               id=client_id, exc=exc)
        return Record(
            side=Side.WHMCS, remote_id=client_id, fields=sent, active=True, owner_user_id=owner, status="Active"
        )

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        """UpdateUser on the owner user (email and names), then UpdateClient (with the mapped
        fields, custom ones as ``customfields``).

        The user goes first: if the client write then fails, the next run still sees the
        client differ and repeats both, which are idempotent.
        """
        unknown = sorted(set(changes) - set(CLIENT_KEYS) - set(self._rules))
        if unknown:
            raise InvalidRecord(f"WHMCS clients have no field {', '.join(unknown)}", user=record.label(),
                                field=unknown[0])
        if not changes:
            return record
        self._refuse_admin(record.email, changes.get("email", ""))
        if any(custom_field_id(n) is not None for n in changes) and self._custom_ids is None:
            # Which custom fields this WHMCS defines is not known yet (WHMCS drops an unknown id
            # silently): one read tells, before a write that would otherwise claim a success.
            self.client_details(record.remote_id)
        mapped = self._mapped_params(changes, record.label())
        owner = record.owner_user_id
        user_params = {USER_KEYS[k]: v for k, v in changes.items() if k in USER_KEYS}
        if user_params:
            if owner is None:
                owner = self._owner_of(record.remote_id)
            if owner is not None:
                self.call("UpdateUser", {"user_id": owner, **user_params})
        params: dict[str, object] = {"clientid": record.remote_id}
        params.update({CLIENT_KEYS[k]: v for k, v in changes.items() if k in CLIENT_KEYS})
        params.update(mapped)
        if self._settings.new_clients.missing_fields == "skip_validation":
            params["skipvalidation"] = True
        try:
            self.call("UpdateClient", params)
        except RemoteRejected as exc:
            raise self._refused(exc, "UpdateClient", changes) from exc
        return replace(record, fields={**record.fields, **changes}, owner_user_id=owner)

    def _set_status(self, record: Record, status: str) -> Record:
        self._refuse_admin(record.email)
        self.call("UpdateClient", {"clientid": record.remote_id, "status": status})
        return replace(record, status=status, active=status == "Active", closed=False)

    def deactivate(self, record: Record) -> Record:
        """Status Inactive (never CloseClient, never DeleteClient). A Closed client is left as is."""
        if record.closed:
            logger.debug("WHMCS client #{id} is Closed already; not setting it Inactive", id=record.remote_id)
            return record
        return self._set_status(record, "Inactive")

    def reactivate(self, record: Record, roles: Sequence[str] = ()) -> Record:
        """Status Active (``roles`` is a WordPress notion and is ignored here)."""
        return self._set_status(record, "Active")

    def validate_login(self, email: str, password: Password) -> bool:
        """Whether WHMCS accepts ``email`` and ``password`` (ValidateLogin, DESIGN §11's login
        fallback): False for its one refusal, "Email or Password Invalid", which is the same for an
        unknown email and a wrong password; any other failure raises the usual ``SyncdError``. The
        password goes only into that call's form and is kept out of every message (``hide``)."""
        text = password.reveal()
        try:
            self.call("ValidateLogin", {"email": email.strip(), "password2": text}, write=False, hide=(text,))
        except RemoteRejected as exc:
            if (exc.code or "").strip().rstrip(".").lower() == LOGIN_REFUSED:
                return False
            raise
        finally:
            del text
        return True

    def reset_password(self, email: str = "", *, user_id: int | None = None) -> None:
        """ResetPassword: WHMCS emails the user a link to set their own password. By the user's id
        when it is known (api-reference/resetpassword.md: "The id can only belong to a user"), else
        by email."""
        if user_id is not None:
            self.call("ResetPassword", {"id": user_id})
        else:
            self.call("ResetPassword", {"email": email.strip()})

    def admin_details(self) -> dict[str, Any]:
        """GetAdminDetails: the credential's admin, its permissions and the WHMCS version."""
        return self.call("GetAdminDetails")

    def whmcs_version(self) -> str:
        """The WHMCS version (WhmcsDetails, or GetAdminDetails where that is missing or denied)."""
        try:
            version = version_of(self.call("WhmcsDetails"))
        except (UnknownAction, PermissionDenied):
            version = ""
        return version or version_of(self.admin_details())


if TYPE_CHECKING:  # mypy proves the adapter fits the engine's seam

    def _fits(adapter: WhmcsAdapter) -> SideAdapter:
        return adapter
