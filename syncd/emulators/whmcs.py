"""A loopback emulator of the WHMCS External API, for tests, benchmarks and ``syncd demo``.

``WhmcsEmulator`` answers the actions syncd uses with WHMCS's documented shapes, types and
messages (``reference/whmcs-api.md``, the captured samples): GetClients (paging, prefix
search, ``clients: {"client": [...]}``), GetClientsDetails (``client`` plus the deprecated
top-level copy, ``users: {"user": [...]}``), GetUsers (a plain array with
``clients: [{"id", "isOwner"}]``), AddClient (creates the WHMCS 8 owner user, answers
``clientid`` as a string), UpdateClient, AddUser, UpdateUser, ResetPassword, ValidateLogin,
GetAdminUsers, GetAdminDetails, WhmcsDetails, CloseClient, DeleteClient, GetCurrencies and
GetClientGroups (for ``test-connection``; AddClient keeps ``currency`` and ``groupid``). Clients keep
an address, a phone, a country and client custom fields (``add_custom_field``): GetClientsDetails
lists every custom field of the install (``customfields``, and ``customfieldsN``), AddClient and
UpdateClient take ``customfields`` as base64 of a PHP-serialized array by field id (an unknown id is
ignored, as WHMCS does), refuse a country WHMCS does not know ("Valid country required") and a phone
that is not one ("Invalid telephone phone number"), and AddClient a missing required custom field
("You did not provide required custom field value for ..."). It checks the IP
allow-list (bypassed by the access key), the credentials, the action (by version) and the
API role, in that order, and answers errors as WHMCS does: ``{"result": "error",
"message": ...}``, with HTTP 403 for IP, credential and permission refusals, 200 otherwise.

This module is the installation: its tables, switches and faults, and how one request
is checked and answered; the actions themselves are in ``whmcs_actions``, the records in
``whmcs_state``. Three ways in: ``handle(form, client_ip)`` (pure Python), and through
``respond`` the two of ``server.Served``: ``transport()`` (in process) and ``serve()`` /
``start()`` (a real HTTP server on 127.0.0.1).

Switches a test can flip: ``latency`` (seconds per call, slept by ``server``), ``allowed_ips`` and ``seen_ip``
(the address the emulator believes the caller has), ``deny(...)`` / ``role`` (the API
role), ``maintenance``, ``php_warning``, ``ids_as_strings``, ``empty_list_shape``,
``single_object``, ``max_page_size`` (a server cap on ``limitnum``), ``root_path`` (where
WHMCS is installed), ``version`` (actions and shapes follow it: no users before 8.0, no
GetUsers before 8.1, "Command Not Found" before 8), and per-call faults with
``fail_on(...)`` (kinds in ``whmcs_state.FAULT_KINDS``; a fault's ``page`` is counted in
the page size of the listing's first page). ``calls`` counts calls per action;
``emails_sent`` records the emails WHMCS would have sent (welcome, password reset).
A user keeps a salted hash of the password it was created with (AddClient's or AddUser's
``password2``; ``set_user_password`` stands in for the client area's change-password form),
never the text, and ``ValidateLogin`` checks an email and ``password2`` against it.

Standalone: ``python -m syncd.emulators whmcs --port 8081 --seed seed.json`` (see
``syncd/emulators/__main__.py``). The seed file is JSON, every key optional::

    {
      "identifier": "syncd", "secret": "emulator-secret", "access_key": "",
      "version": "8.13.1",
      "allowed_ips": ["127.0.0.1"],            # absent: no API IP restriction
      "denied_actions": ["GetAdminUsers"],     # absent: the API role allows everything
      "latency": 0.0,
      "currencies": [{"code": "EUR", "prefix": "€"}],   # added after USD, which is id 1
      "client_groups": [{"name": "Resellers"}],        # ids from 1
      "admins":  [{"email": "boss@example.com", "first_name": "Bo", "last_name": "Ss"}],
      "users":   [{"email": "u@example.com", "first_name": "U", "last_name": "Ser",
                   "password": "for ValidateLogin"}],           # password: optional, also on clients
      "custom_fields": [{"name": "VAT number", "required": false}],   # ids from 1
      "clients": [{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                   "company": "", "status": "Active", "phonenumber": "", "country": "US",
                   "address1": "", "address2": "", "city": "", "state": "", "postcode": "",
                   "customfields": {"1": "DE123"}}]
    }

    (``phone`` is accepted for ``phonenumber``, its name in older seeds.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from syncd.emulators.server import Answer, Request, Served
from syncd.emulators.whmcs_actions import ACTIONS, ApiError, to_int, typed, version_tuple
from syncd.emulators.whmcs_state import (
    EMAIL_GENERATION,
    FAULT_KINDS,
    EmuAdmin,
    EmuClient,
    EmuClientGroup,
    EmuCurrency,
    EmuCustomField,
    EmuUser,
    Fault,
)

#: Actions the emulator knows, with the WHMCS version that introduced them.
ACTION_SINCE: Mapping[str, tuple[int, ...]] = {
    "GetClients": (5,), "GetClientsDetails": (5,), "AddClient": (5,), "UpdateClient": (5,),
    "ValidateLogin": (5,),
    "CloseClient": (5,), "DeleteClient": (5,), "ResetPassword": (5,), "GetAdminDetails": (5,),
    "GetAdminUsers": (7, 7), "AddUser": (8, 0), "UpdateUser": (8, 0), "WhmcsDetails": (8, 0),
    "GetUsers": (8, 1), "GetCurrencies": (5,), "GetClientGroups": (5,),
}
_CANONICAL = {a.lower(): a for a in ACTION_SINCE}
LISTINGS = frozenset({"GetClients", "GetUsers"})
WRITES = frozenset({"AddClient", "UpdateClient", "AddUser", "UpdateUser", "ResetPassword", "CloseClient",
                    "DeleteClient"})

MAINTENANCE_PAGE = b"""<!DOCTYPE html>
<html><head><title>Down for Maintenance</title></head>
<body><h1>Down for Maintenance</h1>
<p>We are currently performing maintenance and will be back shortly.</p></body></html>
"""
PHP_WARNING = (
    '<br />\n<b>Warning</b>:  Undefined array key "HTTP_X_FORWARDED_FOR" in '
    "<b>/var/www/whmcs/vendor/whmcs/whmcs-foundation/lib/Utility/Environment/CurrentRequest.php</b> "
    "on line <b>41</b><br />\n"
)


class EmulatedTimeout(Exception):
    """Raised by ``handle`` after a committed write to mean "hang, then close unanswered"."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer for {seconds}s")
        self.seconds = seconds


class EmulatedDrop(Exception):
    """Raised by ``handle`` to mean "close the connection without an answer".

    ``sent`` is False for a refused connection (the request never reached WHMCS).
    """

    def __init__(self, *, sent: bool) -> None:
        super().__init__("connection dropped" if sent else "connection refused")
        self.sent = sent


class WhmcsEmulator(Served):
    """A WHMCS installation in memory, answering the External API."""

    methods = frozenset({"GET", "POST"})
    url_path = "/"  # the WHMCS root; the API is at url + "includes/api.php"

    def __init__(
        self,
        *,
        identifier: str = "syncd",
        secret: str = "emulator-secret",
        access_key: str | None = None,
        version: str = "8.13.1",
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.identifier = identifier
        self.secret = secret
        self.access_key = access_key
        self.version = version
        self.clock = clock
        self.clients: dict[int, EmuClient] = {}
        self.users: dict[int, EmuUser] = {}
        self.admins: dict[int, EmuAdmin] = {}
        # A fresh WHMCS has one currency, USD, and no client group.
        self.currencies: dict[int, EmuCurrency] = {1: EmuCurrency(1, "USD", "$", " USD")}
        self.client_groups: dict[int, EmuClientGroup] = {}
        self.custom_fields: dict[int, EmuCustomField] = {}
        self.calls: Counter[str] = Counter()
        self.emails_sent: list[tuple[str, str]] = []
        # Switches.
        self.latency = 0.0
        self.allowed_ips: set[str] | None = None
        self.seen_ip: str | None = None
        self.role: set[str] | None = None
        self.maintenance = False
        self.php_warning: bool | str = False
        self.ids_as_strings = False
        self.empty_list_shape = "wrapped"  # wrapped | missing | empty_string | empty_list | empty_object
        self.single_object = False
        self.max_page_size: int | None = None  # a server-side cap on limitnum
        self.root_path = "/"  # where WHMCS is installed on its host (the API is below it)
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._next = {"client": 1, "user": 1, "admin": 1}
        self.keep_alive = True
        self._page_size: dict[str, int] = {}
        self._indexes: dict[str, tuple[tuple[int, int, int], dict[str, int]]] = {}
        #: clients and users in id order, for whmcs_actions' listings (see its ``_in_order``).
        self.id_order: dict[str, tuple[tuple[int, int, int | None], list[Any]]] = {}

    def __repr__(self) -> str:
        return f"WhmcsEmulator(version={self.version!r}, clients={len(self.clients)}, users={len(self.users)})"

    # --- seeding and switches ----------------------------------------------------------

    def _new_id(self, kind: str) -> int:
        number = self._next[kind]
        self._next[kind] = number + 1
        return number

    def _today(self) -> str:
        return self.clock().strftime("%Y-%m-%d")

    def add_user(self, email: str, first_name: str = "", last_name: str = "", *, password: str | None = None) -> int:
        """A WHMCS 8 user with no client; its id. Without ``password`` it has none that
        ``ValidateLogin`` accepts."""
        with self._lock:
            self._email_index("user")
            uid = self._new_id("user")
            self.users[uid] = EmuUser(uid, first_name, last_name, email,
                                      datecreated=self.clock().strftime("%Y-%m-%d %H:%M:%S"))
            if password is not None:
                self.users[uid].set_password(password)
            self._indexed("user", uid, email)
            return uid

    def set_user_password(self, user_id: int, password: str) -> None:
        """What a person changing their password in the client area does."""
        with self._lock:
            self.users[user_id].set_password(password)

    def password_matches(self, email: str, password: str) -> bool:
        """Whether the user with this email would log in with ``password`` (for tests)."""
        with self._lock:
            uid = self.user_by_email(email)
            return uid is not None and self.users[uid].password_matches(password)

    def add_client(
        self,
        email: str,
        first_name: str,
        last_name: str,
        company: str = "",
        status: str = "Active",
        *,
        owner_user_id: int | None = None,
        password: str | None = None,
        **details: Any,
    ) -> int:
        """A client and its owner user; its id. A user with the same email becomes the owner
        (as WHMCS 8's migration merged clients sharing an email). ``details`` sets other
        EmuClient fields (``phonenumber``, ``country``, ``address1``, ...); ``password`` is the
        new owner user's."""
        with self._lock:
            if owner_user_id is None:
                owner_user_id = self.user_by_email(email) or self.add_user(email, first_name, last_name,
                                                                           password=password)
            self._email_index("client")
            cid = self._new_id("client")
            self.clients[cid] = EmuClient(cid, first_name, last_name, email, companyname=company, status=status,
                                          datecreated=self._today(), owner_user_id=owner_user_id, **details)
            self._indexed("client", cid, email)
            self.users[owner_user_id].clients[cid] = True
            return cid

    def add_currency(self, code: str, prefix: str = "", suffix: str = "") -> int:
        """A currency (GetCurrencies); its id."""
        with self._lock:
            cid = max(self.currencies, default=0) + 1
            self.currencies[cid] = EmuCurrency(cid, code, prefix, suffix)
            return cid

    def add_client_group(self, name: str, colour: str = "#FFFFFF") -> int:
        """A client group (GetClientGroups; AddClient's ``groupid``); its id."""
        with self._lock:
            gid = max(self.client_groups, default=0) + 1
            self.client_groups[gid] = EmuClientGroup(gid, name, colour)
            return gid

    def add_custom_field(self, name: str, *, required: bool = False) -> int:
        """A client custom field; its id (ids count from 1, as WHMCS's tblcustomfields)."""
        with self._lock:
            fid = max(self.custom_fields, default=0) + 1
            self.custom_fields[fid] = EmuCustomField(fid, name, required)
            return fid

    def add_admin(self, email: str, first_name: str = "Admin", last_name: str = "User", *,
                  username: str | None = None, disabled: bool = False, role_id: int = 1) -> int:
        """A WHMCS administrator; its id."""
        with self._lock:
            aid = self._new_id("admin")
            self.admins[aid] = EmuAdmin(aid, username or f"admin{aid}", first_name, last_name, email,
                                        role_id=role_id, disabled=disabled)
            return aid

    def _email_index(self, kind: str) -> dict[str, int]:
        """email (lower-cased) → the lowest id with it, rebuilt whenever the table or an
        email changed (seeding 100k clients must not be quadratic)."""
        table: Mapping[int, EmuClient | EmuUser] = self.clients if kind == "client" else self.users
        stamp = (EMAIL_GENERATION[0], len(table), id(table))
        cached = self._indexes.get(kind)
        if cached is None or cached[0] != stamp:
            index: dict[str, int] = {}
            for item in table.values():
                index.setdefault(item.email.strip().lower(), item.id)
            cached = self._indexes[kind] = (stamp, index)
        return cached[1]

    def _indexed(self, kind: str, item_id: int, email: str) -> None:
        """Keep the index current after inserting ``item_id`` (instead of rebuilding it)."""
        table: Mapping[int, EmuClient | EmuUser] = self.clients if kind == "client" else self.users
        cached = self._indexes.get(kind)
        if cached is not None and cached[0] == (EMAIL_GENERATION[0], len(table) - 1, id(table)):
            cached[1].setdefault(email.strip().lower(), item_id)
            self._indexes[kind] = ((EMAIL_GENERATION[0], len(table), id(table)), cached[1])

    def client_by_email(self, email: str) -> int | None:
        """The lowest client id with this email (case-insensitive), or None."""
        with self._lock:
            return self._email_index("client").get(email.strip().lower())

    def user_by_email(self, email: str) -> int | None:
        """The lowest user id with this email (case-insensitive), or None."""
        with self._lock:
            return self._email_index("user").get(email.strip().lower())

    def deny(self, *actions: str) -> None:
        """Take ``actions`` out of the API role (the role starts allowing every action)."""
        with self._lock:
            if self.role is None:
                self.role = {a.lower() for a in ACTION_SINCE}
            self.role -= {a.lower() for a in actions}

    def allow(self, *actions: str) -> None:
        with self._lock:
            if self.role is not None:
                self.role |= {a.lower() for a in actions}

    def fail_on(
        self,
        action: str | None = None,
        *,
        kind: str = "status",
        status: int = 503,
        page: int | None = None,
        call: int | None = None,
        times: int | None = 1,
        retry_after: str | float | None = None,
        seconds: float = 5.0,
        delta: int = 1,
    ) -> Fault:
        """Plant a fault (``whmcs_state.FAULT_KINDS``) on the calls it matches; returns it.

        E.g. ``fail_on("GetClients", page=2, status=503)``, ``fail_on("GetClients",
        status=429, retry_after=3)``, ``fail_on("AddClient", kind="empty_after_commit")``,
        ``fail_on("GetClients", kind="lie_total", delta=-1, times=None)``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        fault = Fault(kind, action, page, call, times, status,
                      None if retry_after is None else str(retry_after), seconds, delta)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, action: str, call_number: int, page: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(action, call_number, page):
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    # --- one request -------------------------------------------------------------------

    def handle(
        self, form: Mapping[str, str], client_ip: str, *, path: str = "/includes/api.php"
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one API request: (HTTP status, headers, body).

        Raises ``EmulatedTimeout`` or ``EmulatedDrop`` for faults that have no HTTP answer;
        ``respond`` turns them into a silence (a timeout or a closed connection). ``latency``
        is not slept here but by ``server``, on both ways in.
        """
        raw_action = form.get("action", "")
        action = _CANONICAL.get(raw_action.lower(), raw_action)
        page = None
        with self._lock:
            if action in LISTINGS:
                # Pages are counted in the page size of the listing's first page (a client
                # may ask its last page for a different number of rows).
                start, num = to_int(form.get("limitstart")), max(1, to_int(form.get("limitnum"), 25))
                if start == 0 or action not in self._page_size:
                    self._page_size[action] = num
                page = start // self._page_size[action] + 1
            self.calls[action] += 1
            fault = self._take_fault(action, self.calls[action], page)
        kind = fault.kind if fault else ""
        if kind in ("refuse", "drop"):
            raise EmulatedDrop(sent=kind == "drop")
        if kind == "status" and fault is not None:
            return self._error_page(fault)
        if self.maintenance or kind == "maintenance":
            return 200, {"content-type": "text/html; charset=utf-8"}, MAINTENANCE_PAGE
        api = self.root_path.rstrip("/") + "/includes/api.php"
        route = path.rstrip("/")
        if route == api + "/includes/api.php":
            status, data = 200, {"result": "error", "message": "An admin user is required"}
        elif route != api:
            return 404, {"content-type": "text/html"}, b"<html><head><title>404 Not Found</title></head></html>"
        else:
            with self._lock:
                status, data = self._dispatch(action, raw_action, form, client_ip)
                if fault is not None and data.get("result") == "success":
                    self._twist_listing(fault, data)
        body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        if kind == "timeout_after_commit" and fault is not None:
            raise EmulatedTimeout(fault.seconds)
        if kind == "empty_after_commit":
            body = b""
        elif kind == "null_after_commit":
            body = b"null"
        elif kind == "truncate":
            body = body[: max(1, len(body) // 2)]
        warning = PHP_WARNING if kind == "php_warning" else self.php_warning
        if warning:
            body = (warning if isinstance(warning, str) else PHP_WARNING).encode("utf-8") + body
        headers = {
            "content-type": "application/json",
            "cache-control": "no-store, no-cache, must-revalidate",
            "set-cookie": "WHMCSemulator=0; path=/; HttpOnly",
        }
        return status, headers, body

    def _error_page(self, fault: Fault) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": "text/html"}
        if fault.retry_after is not None:
            headers["retry-after"] = fault.retry_after
        title = {429: "429 Too Many Requests", 500: "500 Internal Server Error", 502: "502 Bad Gateway",
                 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}.get(fault.status, f"{fault.status}")
        return fault.status, headers, f"<html><head><title>{title}</title></head><body></body></html>".encode()

    def _twist_listing(self, fault: Fault, data: dict[str, Any]) -> None:
        if fault.kind == "lie_total" and "totalresults" in data:
            data["totalresults"] = to_int(str(data["totalresults"])) + fault.delta
        elif fault.kind == "repeat_row":
            rows = self._rows_of(data)
            start = to_int(str(data.get("startnumber")))
            if rows and start > 0:
                ordered = sorted(self.clients) if "clients" in data else sorted(self.users)
                previous = ordered[start - 1] if start - 1 < len(ordered) else None
                if previous is not None:
                    source = self.clients[previous].row() if "clients" in data else self.users[previous].row()
                    rows[0] = typed(self, source)

    def _rows_of(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        clients = data.get("clients")
        if isinstance(clients, dict) and isinstance(clients.get("client"), list):
            rows: list[dict[str, Any]] = clients["client"]
            return rows
        users = data.get("users")
        return users if isinstance(users, list) else []

    def _dispatch(self, action: str, raw_action: str, form: Mapping[str, str], ip: str) -> tuple[int, dict[str, Any]]:
        if self.allowed_ips is not None and ip not in self.allowed_ips and not (
            self.access_key and form.get("accesskey") == self.access_key
        ):
            return 403, {"result": "error", "message": f"Invalid IP {ip}"}
        identifier = form.get("identifier") or form.get("username") or ""
        secret = form.get("secret") or form.get("password") or ""
        if not identifier or not secret:
            return 403, {"result": "error", "message": "Invalid or missing credentials"}
        if identifier != self.identifier or secret != self.secret:
            return 403, {"result": "error", "message": "Authentication Failed"}
        since = ACTION_SINCE.get(action)
        if since is None or version_tuple(self.version) < since:
            if version_tuple(self.version) < (8,):
                return 200, {"result": "error", "message": "Command Not Found"}
            name = raw_action.lower()
            return 200, {"result": "error", "message": f'Invalid API Action: "{name}" is not a valid API action'}
        if self.role is not None and action.lower() not in self.role:
            return 403, {"result": "error",
                         "message": f'Invalid Permissions: API action "{action.lower()}" is not allowed'}
        try:
            return 200, {"result": "success", **ACTIONS[action.lower()](self, form)}
        except ApiError as exc:
            return exc.status, {"result": "error", "message": exc.message}

    # --- over HTTP ----------------------------------------------------------------------

    def respond(self, request: Request) -> Answer:
        """``handle`` for the shared server and transport (``server.Served``): a PHP-like
        ``$_REQUEST`` (query parameters, then the form body, which wins); the caller's address
        is ``seen_ip`` when set; a fault with no answer becomes a ``silence``."""
        parts = urlsplit(request.url)
        form = dict(parse_qsl(parts.query, keep_blank_values=True))
        form.update(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
        try:
            status, headers, body = self.handle(form, self.seen_ip or request.client_ip, path=parts.path)
        except EmulatedTimeout as exc:
            return Answer(0, (), silence="timeout", hang=exc.seconds)
        except EmulatedDrop as exc:
            return Answer(0, (), silence="dropped" if exc.sent else "refused")
        return Answer(status, list(headers.items()), body)

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any]) -> WhmcsEmulator:
        """An emulator built from the seed format of this module's docstring."""
        emulator = cls(identifier=seed.get("identifier", "syncd"), secret=seed.get("secret", "emulator-secret"),
                       access_key=seed.get("access_key") or None, version=seed.get("version", "8.13.1"))
        if seed.get("allowed_ips") is not None:
            emulator.allowed_ips = set(seed["allowed_ips"])
        if seed.get("denied_actions"):
            emulator.deny(*seed["denied_actions"])
        emulator.latency = float(seed.get("latency", 0.0))
        for currency in seed.get("currencies", []):
            emulator.add_currency(currency["code"], currency.get("prefix", ""), currency.get("suffix", ""))
        for group in seed.get("client_groups", []):
            emulator.add_client_group(group["name"])
        for admin in seed.get("admins", []):
            emulator.add_admin(admin["email"], admin.get("first_name", "Admin"), admin.get("last_name", "User"),
                               username=admin.get("username"), disabled=bool(admin.get("disabled", False)))
        for user in seed.get("users", []):
            emulator.add_user(user["email"], user.get("first_name", ""), user.get("last_name", ""),
                              password=user.get("password"))
        for custom in seed.get("custom_fields", []):
            emulator.add_custom_field(custom["name"], required=bool(custom.get("required", False)))
        for client in seed.get("clients", []):
            extra = {k: client[k] for k in ("country", "address1", "address2", "city", "state", "postcode",
                                            "phonenumber") if k in client}
            if client.get("phone"):  # the seed's older name of phonenumber
                extra["phonenumber"] = client["phone"]
            if client.get("customfields"):
                extra["customfields"] = {int(k): str(v) for k, v in client["customfields"].items()}
            emulator.add_client(client["email"], client.get("first_name", ""), client.get("last_name", ""),
                                client.get("company", ""), client.get("status", "Active"),
                                password=client.get("password"), **extra)
        return emulator

