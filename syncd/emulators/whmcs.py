"""A loopback emulator of the WHMCS External API, for tests, benchmarks and ``syncd demo``.

``WhmcsEmulator`` answers the actions syncd uses with WHMCS's documented shapes, types and
messages (``reference/whmcs-api.md``, the captured samples): GetClients (paging, prefix
search, ``clients: {"client": [...]}``), GetClientsDetails (``client`` plus the deprecated
top-level copy, ``users: {"user": [...]}``), GetUsers (a plain array with
``clients: [{"id", "isOwner"}]``), AddClient (creates the WHMCS 8 owner user, answers
``clientid`` as a string), UpdateClient, AddUser, UpdateUser, ResetPassword,
GetAdminUsers, GetAdminDetails, WhmcsDetails, CloseClient, DeleteClient. It checks the IP
allow-list (bypassed by the access key), the credentials, the action (by version) and the
API role, in that order, and answers errors as WHMCS does: ``{"result": "error",
"message": ...}``, with HTTP 403 for IP, credential and permission refusals, 200 otherwise.

Three ways in: ``handle(form, client_ip)`` (pure Python), ``transport()`` (an in-process
``httpx`` transport), and ``serve()`` / ``start()`` (a real HTTP server on 127.0.0.1).

Switches a test can flip: ``latency`` (seconds per call), ``allowed_ips`` and ``seen_ip``
(the address the emulator believes the caller has), ``deny(...)`` / ``role`` (the API
role), ``maintenance``, ``php_warning``, ``ids_as_strings``, ``empty_list_shape``,
``single_object``, ``max_page_size`` (a server cap on ``limitnum``), ``root_path`` (where
WHMCS is installed), ``version`` (actions and shapes follow it: no users before 8.0, no
GetUsers before 8.1, "Command Not Found" before 8), and per-call faults with
``fail_on(...)`` (kinds in ``whmcs_state.FAULT_KINDS``; a fault's ``page`` is counted in
the page size of the listing's first page). ``calls`` counts calls per action;
``emails_sent`` records the emails WHMCS would have sent (welcome, password reset).
Passwords are never stored: a user only remembers that it has one.

Standalone: ``python -m syncd.emulators.whmcs --port 8081 --seed seed.json`` prints its URL
(the WHMCS root) on the first line of stdout and serves until SIGTERM or Ctrl-C. The seed
file is JSON, every key optional::

    {
      "identifier": "syncd", "secret": "emulator-secret", "access_key": "",
      "version": "8.13.1",
      "allowed_ips": ["127.0.0.1"],            # absent: no API IP restriction
      "denied_actions": ["GetAdminUsers"],     # absent: the API role allows everything
      "latency": 0.0,
      "admins":  [{"email": "boss@example.com", "first_name": "Bo", "last_name": "Ss"}],
      "users":   [{"email": "u@example.com", "first_name": "U", "last_name": "Ser"}],
      "clients": [{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                   "company": "", "status": "Active", "phone": "", "country": "US"}]
    }
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import orjson

from syncd.emulators.whmcs_state import EMAIL_GENERATION, FAULT_KINDS, EmuAdmin, EmuClient, EmuUser, Fault

#: Actions the emulator knows, with the WHMCS version that introduced them.
ACTION_SINCE: Mapping[str, tuple[int, ...]] = {
    "GetClients": (5,), "GetClientsDetails": (5,), "AddClient": (5,), "UpdateClient": (5,),
    "CloseClient": (5,), "DeleteClient": (5,), "ResetPassword": (5,), "GetAdminDetails": (5,),
    "GetAdminUsers": (7, 7), "AddUser": (8, 0), "UpdateUser": (8, 0), "WhmcsDetails": (8, 0),
    "GetUsers": (8, 1),
}
_CANONICAL = {a.lower(): a for a in ACTION_SINCE}
LISTINGS = frozenset({"GetClients", "GetUsers"})
WRITES = frozenset({"AddClient", "UpdateClient", "AddUser", "UpdateUser", "ResetPassword", "CloseClient",
                    "DeleteClient"})
STATUSES = ("Active", "Inactive", "Closed")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[+0-9 ().\-]*$")

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


class ApiError(Exception):
    """An error reply of an action: ``{"result": "error", "message": message}``."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def php_true(value: str | None) -> bool:
    """PHP truthiness of a request parameter: anything but "" and "0" (so "false" is true)."""
    return value is not None and value not in ("", "0")


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3]) or (0,)


class WhmcsEmulator:
    """A WHMCS installation in memory, answering the External API."""

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
        self._server: Any = None
        self._page_size: dict[str, int] = {}
        self._indexes: dict[str, tuple[tuple[int, int, int], dict[str, int]]] = {}
        self._ordered: dict[str, tuple[tuple[int, int, int | None], list[Any]]] = {}

    def __repr__(self) -> str:
        return f"WhmcsEmulator(version={self.version!r}, clients={len(self.clients)}, users={len(self.users)})"

    # --- seeding and switches ----------------------------------------------------------

    def _new_id(self, kind: str) -> int:
        number = self._next[kind]
        self._next[kind] = number + 1
        return number

    def _today(self) -> str:
        return self.clock().strftime("%Y-%m-%d")

    def add_user(self, email: str, first_name: str = "", last_name: str = "") -> int:
        """A WHMCS 8 user with no client; its id."""
        with self._lock:
            self._email_index("user")
            uid = self._new_id("user")
            self.users[uid] = EmuUser(uid, first_name, last_name, email,
                                      datecreated=self.clock().strftime("%Y-%m-%d %H:%M:%S"))
            self._indexed("user", uid, email)
            return uid

    def add_client(
        self,
        email: str,
        first_name: str,
        last_name: str,
        company: str = "",
        status: str = "Active",
        *,
        owner_user_id: int | None = None,
        **details: Any,
    ) -> int:
        """A client and its owner user; its id. A user with the same email becomes the owner
        (as WHMCS 8's migration merged clients sharing an email). ``details`` sets other
        EmuClient fields (``phonenumber``, ``country``, ``address1``, ...)."""
        with self._lock:
            if owner_user_id is None:
                owner_user_id = self.user_by_email(email) or self.add_user(email, first_name, last_name)
            self._email_index("client")
            cid = self._new_id("client")
            self.clients[cid] = EmuClient(cid, first_name, last_name, email, companyname=company, status=status,
                                          datecreated=self._today(), owner_user_id=owner_user_id, **details)
            self._indexed("client", cid, email)
            self.users[owner_user_id].clients[cid] = True
            return cid

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
        ``transport()`` and the HTTP server turn them into a timeout or a closed connection.
        """
        raw_action = form.get("action", "")
        action = _CANONICAL.get(raw_action.lower(), raw_action)
        page = None
        with self._lock:
            if action in LISTINGS:
                # Pages are counted in the page size of the listing's first page (a client
                # may ask its last page for a different number of rows).
                start, num = _int(form.get("limitstart")), max(1, _int(form.get("limitnum"), 25))
                if start == 0 or action not in self._page_size:
                    self._page_size[action] = num
                page = start // self._page_size[action] + 1
            self.calls[action] += 1
            fault = self._take_fault(action, self.calls[action], page)
        kind = fault.kind if fault else ""
        if self.latency > 0:
            time.sleep(self.latency)
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
            data["totalresults"] = _int(str(data["totalresults"])) + fault.delta
        elif fault.kind == "repeat_row":
            rows = self._rows_of(data)
            start = _int(str(data.get("startnumber")))
            if rows and start > 0:
                ordered = sorted(self.clients) if "clients" in data else sorted(self.users)
                previous = ordered[start - 1] if start - 1 < len(ordered) else None
                if previous is not None:
                    source = self.clients[previous].row() if "clients" in data else self.users[previous].row()
                    rows[0] = self._typed(source)

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
        if since is None or _version_tuple(self.version) < since:
            if _version_tuple(self.version) < (8,):
                return 200, {"result": "error", "message": "Command Not Found"}
            name = raw_action.lower()
            return 200, {"result": "error", "message": f'Invalid API Action: "{name}" is not a valid API action'}
        if self.role is not None and action.lower() not in self.role:
            return 403, {"result": "error",
                         "message": f'Invalid Permissions: API action "{action.lower()}" is not allowed'}
        handler = getattr(self, f"_a_{action.lower()}")
        try:
            return 200, {"result": "success", **handler(form)}
        except ApiError as exc:
            return exc.status, {"result": "error", "message": exc.message}

    # --- rendering quirks --------------------------------------------------------------

    def _typed(self, row: dict[str, Any]) -> dict[str, Any]:
        if not self.ids_as_strings:
            return row
        out = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in row.items()}
        if isinstance(row.get("clients"), list):
            out["clients"] = [{"id": str(c["id"]), "isOwner": "1" if c["isOwner"] else "0"} for c in row["clients"]]
        return out

    def _rows(self, items: list[Any]) -> list[Any]:
        """The listing rows of ``items``, typed as the switches say."""
        if self.ids_as_strings:
            return [self._typed(item.row()) for item in items]
        return [item.row() for item in items]

    def _count(self, value: int) -> int | str:
        return str(value) if self.ids_as_strings else value

    def _wrap_clients(self, rows: list[dict[str, Any]]) -> Any:
        if not rows:
            return {"wrapped": {"client": []}, "empty_string": "", "empty_list": [], "empty_object": {},
                    "missing": None}[self.empty_list_shape]
        if self.single_object and len(rows) == 1:
            return {"client": rows[0]}
        return {"client": rows}

    # --- actions -----------------------------------------------------------------------

    def _in_order(self, kind: str, start: int, num: int) -> list[Any]:
        """Rows ``start`` to ``start + num`` of clients or users in id order, from a cached
        list (slicing a 100k dict's values per page would dominate a benchmark's time).
        The cache is dropped when the table's size, identity or last id changes, or when a
        row on the page is no longer the table's."""
        table: dict[int, Any] = self.clients if kind == "client" else self.users
        stamp = (len(table), id(table), next(reversed(table.keys()), None))
        cached = self._ordered.get(kind)
        if cached is None or cached[0] != stamp:
            cached = self._ordered[kind] = (stamp, list(table.values()))
        page = cached[1][start : start + num]
        if any(table.get(item.id) is not item for item in page):
            self._ordered[kind] = (stamp, list(table.values()))
            page = self._ordered[kind][1][start : start + num]
        return page

    def _window(self, form: Mapping[str, str]) -> tuple[int, int]:
        """``limitstart`` and ``limitnum`` (default 25, capped by ``max_page_size``)."""
        start = max(0, _int(form.get("limitstart")))
        num = _int(form.get("limitnum"), 25)
        num = 25 if num <= 0 else num
        if self.max_page_size is not None:
            num = min(num, self.max_page_size)
        return start, num

    @staticmethod
    def _prefix(search: str, *values: str) -> bool:
        needle = search.strip().lower()
        return any(v.lower().startswith(needle) for v in values)

    def _a_getclients(self, form: Mapping[str, str]) -> dict[str, Any]:
        orderby = (form.get("orderby") or "id").lower()
        descending = (form.get("sorting") or "ASC").upper() == "DESC"
        start, num = self._window(form)
        if not form.get("status") and not form.get("search") and orderby == "id" and not descending:
            # Ids only grow and dicts keep insertion order, so the plain listing needs no
            # filter or sort: a page of a 100k-client listing stays cheap for the benchmarks.
            total = len(self.clients)
            page = self._in_order("client", start, num)
        else:
            clients = list(self.clients.values())
            if form.get("status"):
                clients = [c for c in clients if c.status.lower() == form["status"].lower()]
            if form.get("search"):
                clients = [c for c in clients if self._prefix(
                    form["search"], c.email, c.firstname, c.lastname, f"{c.firstname} {c.lastname}",
                    c.companyname)]
            key_of: dict[str, Callable[[EmuClient], Any]] = {
                "id": lambda c: c.id, "firstname": lambda c: c.firstname.lower(),
                "lastname": lambda c: c.lastname.lower(), "companyname": lambda c: c.companyname.lower(),
                "email": lambda c: c.email.lower(), "groupid": lambda c: c.groupid,
                "datecreated": lambda c: c.datecreated, "status": lambda c: c.status,
            }
            key = key_of.get(orderby, key_of["id"])
            clients.sort(key=lambda c: (key(c), c.id), reverse=descending)
            total, page = len(clients), clients[start : start + num]
        rows = self._rows(page)
        out: dict[str, Any] = {"totalresults": self._count(total), "startnumber": self._count(start),
                               "numreturned": self._count(len(rows))}
        wrapped = self._wrap_clients(rows)
        if wrapped is not None:
            out["clients"] = wrapped
        return out

    def _find_client(self, form: Mapping[str, str], id_key: str, email_key: str, missing: str) -> EmuClient:
        if form.get(id_key):
            client = self.clients.get(_int(form.get(id_key)))
        elif form.get(email_key):
            cid = self.client_by_email(form[email_key])
            client = self.clients.get(cid) if cid else None
        else:
            client = None
        if client is None:
            raise ApiError(missing)
        return client

    def _a_getclientsdetails(self, form: Mapping[str, str]) -> dict[str, Any]:
        if not form.get("clientid") and not form.get("email"):
            raise ApiError("Either clientid Or email Is Required")
        client = self._find_client(form, "clientid", "email", "Client Not Found")
        users = [{"id": u.id, "name": f"{u.firstname} {u.lastname}".strip(), "email": u.email,
                  "is_owner": u.clients[client.id]}
                 for u in sorted(self.users.values(), key=lambda u: u.id) if client.id in u.clients]
        detail = client.details(users)
        if _version_tuple(self.version) < (8,):
            # Before WHMCS 8 there are no users: no owner, no ``users`` block.
            for key in ("client_id", "owner_user_id", "users"):
                detail.pop(key, None)
        top = {k: v for k, v in detail.items() if k != "users"}  # the deprecated top-level copy
        out: dict[str, Any] = {**top, "client": detail}
        if php_true(form.get("stats")):
            out["stats"] = {"numdueinvoices": 0, "dueinvoicesbalance": "$0.00 USD", "incredit": False,
                            "creditbalance": "$0.00 USD", "productsnumactive": 0, "productsnumtotal": 0}
        return out

    def _a_getusers(self, form: Mapping[str, str]) -> dict[str, Any]:
        start, num = self._window(form)
        descending = (form.get("sorting") or "ASC").upper() == "DESC"
        if not form.get("search") and not descending:
            total = len(self.users)  # in id order already (see _a_getclients)
            page = self._in_order("user", start, num)
        else:
            users = list(self.users.values())
            if descending:
                users.reverse()
            if form.get("search"):
                users = [u for u in users if self._prefix(
                    form["search"], u.email, u.firstname, u.lastname, f"{u.firstname} {u.lastname}")]
            total, page = len(users), users[start : start + num]
        return {"totalresults": self._count(total), "startnumber": self._count(start),
                "numreturned": self._count(len(page)), "users": self._rows(page)}

    def _a_getadminusers(self, form: Mapping[str, str]) -> dict[str, Any]:
        admins = sorted(self.admins.values(), key=lambda a: a.id)
        if not php_true(form.get("include_disabled")):
            admins = [a for a in admins if not a.disabled]
        if form.get("roleid"):
            admins = [a for a in admins if a.role_id == _int(form.get("roleid"))]
        if form.get("email"):
            admins = [a for a in admins if form["email"].lower() in a.email.lower()]
        return {"count": len(admins), "admin_users": [a.row() for a in admins]}

    def _a_getadmindetails(self, form: Mapping[str, str]) -> dict[str, Any]:
        admin = min(self.admins.values(), key=lambda a: a.id, default=None)
        return {
            "adminid": str(admin.id if admin else 1),
            "name": f"{admin.firstname} {admin.lastname}" if admin else "API Admin",
            "notes": "", "signature": "",
            "allowedpermissions": "Main Homepage,List Clients,Add New Client,Edit Clients Details,API Access",
            "departments": ",1,",
            "whmcs": {"version": self.version, "canonicalversion": f"{self.version}-release.1"},
        }

    def _a_whmcsdetails(self, form: Mapping[str, str]) -> dict[str, Any]:
        return {"whmcs": {"version": self.version, "canonicalversion": f"{self.version}-release.1"}}

    def _check_email(self, email: str, message: str) -> None:
        if not _EMAIL.match(email.strip()):
            raise ApiError(message)

    def _a_addclient(self, form: Mapping[str, str]) -> dict[str, Any]:
        owner = _int(form.get("owner_user_id")) if form.get("owner_user_id") else None
        if owner is not None and owner not in self.users:
            raise ApiError("Invalid Owner User ID")
        skip = php_true(form.get("skipvalidation"))
        get = {k: (form.get(k) or "").strip() for k in (
            "firstname", "lastname", "email", "address1", "city", "state", "postcode", "country", "phonenumber",
            "companyname", "address2", "password2")}
        required = (("firstname", "You did not enter your first name"),
                    ("lastname", "You did not enter your last name"),
                    ("email", "You did not enter your email address"))
        for key, message in required:
            if not get[key] and (key == "email" or not skip):
                raise ApiError(message)
        self._check_email(get["email"], "The email address you entered was not valid")
        if not skip:
            for key, message in (("address1", "You did not enter your address (line 1)"),
                                 ("city", "You did not enter your city"),
                                 ("state", "You did not enter your state"),
                                 ("postcode", "You did not enter your postcode"),
                                 ("phonenumber", "You did not enter your phone number")):
                if not get[key]:
                    raise ApiError(message)
        if (get["country"] or not skip) and not re.fullmatch(r"[A-Za-z]{2}", get["country"]):
            raise ApiError("Valid country required")
        if get["phonenumber"] and not _PHONE.match(get["phonenumber"]):
            raise ApiError("Invalid telephone phone number")
        if owner is None:
            if not get["password2"]:
                raise ApiError("You did not enter a password")
            if self.user_by_email(get["email"]) is not None:
                raise ApiError("A user already exists with that email address")
        if self.client_by_email(get["email"]) is not None:
            raise ApiError("A client already exists with that email address")
        if owner is None:
            owner = self.add_user(get["email"], get["firstname"], get["lastname"])
        cid = self.add_client(get["email"], get["firstname"], get["lastname"], get["companyname"],
                              owner_user_id=owner, address1=get["address1"], address2=get["address2"],
                              city=get["city"], state=get["state"], postcode=get["postcode"],
                              country=get["country"].upper(), phonenumber=get["phonenumber"],
                              currency=_int(form.get("currency"), 1), notes=form.get("notes") or "")
        if not php_true(form.get("noemail")):
            self.emails_sent.append(("Client Signup Email", get["email"]))
        return {"clientid": str(cid), "owner_user_id": owner}

    def _a_updateclient(self, form: Mapping[str, str]) -> dict[str, Any]:
        client = self._find_client(form, "clientid", "clientemail", "Client ID Not Found")
        if "email" in form:
            email = form["email"].strip()
            self._check_email(email, "The email address entered is not valid")
            other = self.client_by_email(email)
            if other is not None and other != client.id:
                raise ApiError("Duplicate Email Address")
        if "status" in form and form["status"] not in STATUSES:
            raise ApiError(f"Invalid status. Supported statuses are: {', '.join(STATUSES)}")
        if "country" in form and not re.fullmatch(r"[A-Za-z]{2}", form["country"].strip()):
            raise ApiError("Valid country required")
        for key in ("firstname", "lastname", "companyname", "email", "address1", "address2", "city", "state",
                    "postcode", "phonenumber", "status", "notes", "language"):
            if key in form:
                setattr(client, key, form[key].strip() if key == "email" else form[key])
        if "country" in form:
            client.country = form["country"].strip().upper()
        return {"clientid": str(client.id)}

    def _a_closeclient(self, form: Mapping[str, str]) -> dict[str, Any]:
        client = self._find_client(form, "clientid", "clientid", "Client ID Not Found")
        client.status = "Closed"
        return {"clientid": str(client.id)}

    def _a_deleteclient(self, form: Mapping[str, str]) -> dict[str, Any]:
        client = self._find_client(form, "clientid", "clientid", "Client ID Not Found")
        del self.clients[client.id]
        for user in list(self.users.values()):
            user.clients.pop(client.id, None)
            if php_true(form.get("deleteusers")) and not user.clients:
                del self.users[user.id]
        return {"clientid": str(client.id)}

    def _a_adduser(self, form: Mapping[str, str]) -> dict[str, Any]:
        get = {k: (form.get(k) or "").strip() for k in ("firstname", "lastname", "email", "password2")}
        for key, message in (("firstname", "You did not enter a first name"),
                             ("lastname", "You did not enter a last name"),
                             ("email", "You did not enter an email address"),
                             ("password2", "You did not enter a password")):
            if not get[key]:
                raise ApiError(message)
        self._check_email(get["email"], "The email address entered is not valid")
        if self.user_by_email(get["email"]) is not None:
            raise ApiError("A user already exists with that email address")
        return {"user_id": str(self.add_user(get["email"], get["firstname"], get["lastname"]))}

    def _a_updateuser(self, form: Mapping[str, str]) -> dict[str, Any]:
        user = self.users.get(_int(form.get("user_id")))
        if user is None:
            raise ApiError("Invalid User ID requested")
        if not any(k in form for k in ("email", "firstname", "lastname", "language")):
            raise ApiError("One of email, firstname, lastname, or language is required")
        if "email" in form:
            email = form["email"].strip()
            self._check_email(email, "The email address entered is not valid")
            other = self.user_by_email(email)
            if other is not None and other != user.id:
                raise ApiError("A user already exists with that email address")
            user.email = email
        for key in ("firstname", "lastname", "language"):
            if key in form:
                setattr(user, key, form[key])
        return {"user_id": str(user.id)}

    def _a_resetpassword(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("id"):
            user = self.users.get(_int(form.get("id")))
        elif form.get("email"):
            self._check_email(form["email"], "Please provide a valid email address")
            uid = self.user_by_email(form["email"])
            user = self.users.get(uid) if uid else None
        else:
            raise ApiError("Please enter the email address or provide the id")
        if user is None:
            raise ApiError("User Not Found")
        self.emails_sent.append(("Password Reset Validation", user.email))
        return {}

    # --- ways in -----------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An in-process httpx transport: no socket, same answers (timeouts are raised at once)."""
        from syncd.emulators.whmcs_http import make_transport

        return make_transport(self)

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve over real HTTP on ``host:port`` (0: any free port); the WHMCS root URL."""
        from syncd.emulators.whmcs_http import LoopbackServer

        if self._server is None:
            self._server = LoopbackServer(self, host, port)
        url: str = self._server.url
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """``with emulator.serve() as url:`` the WHMCS root; the API is at url + "includes/api.php"."""
        url = self.start(port)
        try:
            yield url
        finally:
            self.stop()

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
        for admin in seed.get("admins", []):
            emulator.add_admin(admin["email"], admin.get("first_name", "Admin"), admin.get("last_name", "User"),
                               username=admin.get("username"), disabled=bool(admin.get("disabled", False)))
        for user in seed.get("users", []):
            emulator.add_user(user["email"], user.get("first_name", ""), user.get("last_name", ""))
        for client in seed.get("clients", []):
            extra = {k: client[k] for k in ("country", "address1", "city", "state", "postcode") if k in client}
            if client.get("phone"):
                extra["phonenumber"] = client["phone"]
            emulator.add_client(client["email"], client.get("first_name", ""), client.get("last_name", ""),
                                client.get("company", ""), client.get("status", "Active"), **extra)
        return emulator


if __name__ == "__main__":
    from syncd.emulators.whmcs_http import main

    raise SystemExit(main())
