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
  bodies only and are redacted from anything WHMCS echoes back.
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
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode, urlsplit

import httpx
from loguru import logger
from pydantic import SecretStr

from syncd.adapters import net, paging, retry
from syncd.adapters.whmcs_wire import (
    CLIENT_KEYS,
    SIDE,
    USER_KEYS,
    WRITE_ACTIONS,
    api_endpoint,
    as_int,
    as_list,
    as_str,
    canonical_action,
    client_details,
    client_fields,
    client_record,
    decode,
    owner_user_id,
    owners_from_users,
    user_links,
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
    SideError,
    Transient,
    UnknownAction,
    Unreachable,
)
from syncd.logs import MIN_SECRET_LENGTH
from syncd.model import DEFAULT_FIELDS, Record, Side, Snapshot, normalise_email

if TYPE_CHECKING:
    from syncd.ports import SideAdapter

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

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
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None


_CLIENTS = ("GetClients", {"orderby": "id", "sorting": "ASC"}, "clients", "client")
_USERS = ("GetUsers", {"sorting": "ASC"}, "users", "user")
_REMOTE_ID = attrgetter("remote_id")


def _same(number: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A WHMCS page as the listing keeps it: its rows were trimmed by the worker that read them."""
    return rows


@dataclass
class _Read:
    """A listing read whole: its rows and their ids, in the order WHMCS sent them."""

    rows: list[dict[str, Any]]
    ids: list[int]


class WhmcsAdapter:
    """WHMCS as a ``SideAdapter``; also the API client used by ``syncd test-connection``.

    ``calls`` counts the HTTP requests sent per action (retries included), for benchmarks.
    ``sleep`` and ``rng`` are the seams of the retry backoff (tests pass a no-op sleep).
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
    ) -> None:
        self._settings = settings
        self._secret = secret
        self.endpoint = api_endpoint(settings.url)
        self._url = httpx.URL(self.endpoint)
        self._host = urlsplit(self.endpoint).netloc
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._admin_emails: frozenset[str] | None = None
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
            ids = [as_int(r.get("id")) for r in rows]
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
        clients, users = _Listing(*_CLIENTS, keep=client_fields), _Listing(*_USERS, keep=user_links)
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
        owners = owners_from_users(user_read.rows)
        records = [self._record(row, owners.get(cid)) for row, cid in zip(client_read.rows, client_read.ids,
                                                                          strict=True)]
        records.sort(key=_REMOTE_ID)
        logger.debug("WHMCS listing: {n} clients, {a} admins", n=len(records), a=len(admins))
        return Snapshot(side=Side.WHMCS, records=tuple(records), admin_emails=admins, fields=DEFAULT_FIELDS)

    def find_by_email(self, email: str) -> list[Record]:
        """Clients whose email equals ``email`` case-insensitively (GetClients ``search`` is a
        prefix match, so its rows are filtered here), each with its owner user."""
        key = normalise_email(email)
        if not key:
            return []
        rows = self.list_all("GetClients", {**_CLIENTS[1], "search": email.strip()}, "clients", "client")
        found = []
        for row in rows:
            if normalise_email(as_str(row.get("email"))) != key:
                continue
            record = self._record(row, None)
            found.append(replace(record, owner_user_id=self._owner_of(record.remote_id)))
        return sorted(found, key=lambda r: r.remote_id)

    def read(self, client_id: int) -> Record | None:
        """One client by id, fresh (GetClientsDetails), with its owner user; None if WHMCS no
        longer has it ("Client Not Found")."""
        try:
            found = self.details(client_id)
        except NotFound:
            return None
        return client_record(found, owner_user_id(found))

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
        return Snapshot(side=Side.WHMCS, records=records, admin_emails=self.admin_emails(), fields=DEFAULT_FIELDS)

    def details(self, client_id: int) -> dict[str, Any]:
        """The raw GetClientsDetails record of one client (``NotFound`` if there is none)."""
        return client_details(self.call("GetClientsDetails", {"clientid": client_id}))

    def _owner_of(self, client_id: int) -> int | None:
        return owner_user_id(self.details(client_id))

    # --- writes ------------------------------------------------------------------------

    def _refuse_admin(self, *emails: str) -> None:
        admins = self.admin_emails()
        for email in emails:
            if email and normalise_email(email) in admins:
                raise RefusedWrite(f"refused to write WHMCS client {email}: the email belongs to a WHMCS admin")

    def dummy_fields_for(self, fields: Mapping[str, str]) -> frozenset[str]:
        """The common fields ``create(fields)`` fills with a configured dummy value.

        With ``missing_fields = "dummy"``: ``first_name`` / ``last_name`` when empty, and
        ``phone`` when it is a common field of this site (a key of ``fields``) but empty.
        The address fields are always dummies but are not common fields. The engine stores
        these names in ``Link.dummy_fields`` so the dummies never flow back to WordPress.
        Always empty with ``skip_validation``.
        """
        if self._settings.new_clients.missing_fields != "dummy":
            return frozenset()
        names = {n for n in ("first_name", "last_name") if not fields.get(n, "").strip()}
        if "phone" in fields and not fields["phone"].strip():
            names.add("phone")
        return frozenset(names)

    def create(self, fields: Mapping[str, str]) -> Record:
        """AddClient with its owner user (WHMCS 8), the required fields filled per config.

        Returns the Record with the values as sent (dummies included: see
        ``dummy_fields_for``) and the new owner user id. The password is random, sent once,
        never kept. ``OutcomeUnknown`` if the reply was lost: look the email up first.
        """
        email = fields.get("email", "").strip()
        if not email:
            raise InvalidRecord("cannot create a WHMCS client without an email", field="email")
        self._refuse_admin(email)
        new = self._settings.new_clients
        sent = {k: v for k, v in fields.items() if k in CLIENT_KEYS}
        sent["email"] = email
        params: dict[str, object] = {CLIENT_KEYS[k]: v for k, v in sent.items() if v}
        if new.missing_fields == "dummy":
            dummy = new.dummy
            for name, value in (("first_name", dummy.firstname), ("last_name", dummy.lastname)):
                if not sent.get(name, "").strip():
                    sent[name] = value
                    params[CLIENT_KEYS[name]] = value
            params.setdefault("phonenumber", dummy.phonenumber)
            if "phone" in sent and not sent["phone"].strip():
                sent["phone"] = dummy.phonenumber
            params.update(
                address1=dummy.address1, city=dummy.city, state=dummy.state, postcode=dummy.postcode,
                country=dummy.country,
            )
        else:
            params["skipvalidation"] = True
        password = new_password()
        params["password2"] = password
        params["currency"] = new.currency
        if new.group_id:
            params["groupid"] = new.group_id  # 0 is no group: WHMCS's own default, so not sent
        if not new.send_welcome_email:
            # Sent only when true: PHP treats any non-empty string, "false" included, as true.
            params["noemail"] = True
        data = self.call("AddClient", params, hide=(password,))
        del password, params
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
        if new.send_password_reset:
            try:
                self.reset_password(email)
            except SideError as exc:
                logger.warning("created WHMCS client #{id} but could not send its password reset: {exc}",
                               id=client_id, exc=exc)
        return Record(
            side=Side.WHMCS, remote_id=client_id, fields=sent, active=True, owner_user_id=owner, status="Active"
        )

    def update(self, record: Record, changes: Mapping[str, str]) -> Record:
        """UpdateUser on the owner user (email and names), then UpdateClient.

        The user goes first: if the client write then fails, the next run still sees the
        client differ and repeats both, which are idempotent.
        """
        unknown = sorted(set(changes) - set(CLIENT_KEYS))
        if unknown:
            raise InvalidRecord(f"WHMCS clients have no field {', '.join(unknown)}", user=record.label(),
                                field=unknown[0])
        if not changes:
            return record
        self._refuse_admin(record.email, changes.get("email", ""))
        owner = record.owner_user_id
        user_params = {USER_KEYS[k]: v for k, v in changes.items() if k in USER_KEYS}
        if user_params:
            if owner is None:
                owner = self._owner_of(record.remote_id)
            if owner is not None:
                self.call("UpdateUser", {"user_id": owner, **user_params})
        params: dict[str, object] = {"clientid": record.remote_id}
        params.update({CLIENT_KEYS[k]: v for k, v in changes.items()})
        if self._settings.new_clients.missing_fields == "skip_validation":
            params["skipvalidation"] = True
        self.call("UpdateClient", params)
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

    def reset_password(self, email: str) -> None:
        """ResetPassword: WHMCS emails the user a link to set their own password."""
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
