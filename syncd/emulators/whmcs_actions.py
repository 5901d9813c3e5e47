"""The WHMCS External API's actions, for the emulator: one function per action.

Each takes the emulator (its tables and switches; ``WhmcsEmulator.handle`` holds its lock
around the call) and the request's form, and returns the fields of a success answer, or
raises ``ApiError`` with WHMCS's message. Listings follow WHMCS's paging and prefix search
and the emulator's rendering switches (``ids_as_strings``, ``empty_list_shape``,
``single_object``); messages and shapes are those of ``reference/whmcs-api.md`` and the
captured samples.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import phonenumbers

from syncd.emulators.php_unserialize import parse_custom_fields
from syncd.emulators.whmcs_state import EmuClient

if TYPE_CHECKING:
    from syncd.emulators.whmcs import WhmcsEmulator

STATUSES = ("Active", "Inactive", "Closed")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[+0-9 ().\-]*$")
#: The countries WHMCS knows (its resources/country/dist.countries.json lists ISO 3166-1 alpha-2
#: codes): the regions libphonenumber knows stand for that list here; "Valid country required" for
#: anything else, a made-up two-letter code included.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


def _valid_country(value: str) -> bool:
    return value.strip().upper() in COUNTRIES


def _valid_phone(value: str) -> bool:
    """WHMCS's phone check: digits, with + - . ( ) and spaces (the exact rule of its validator is
    not published; this is what the docs' examples, "+CC.number" and national numbers, pass),
    and at least one digit."""
    return bool(_PHONE.match(value)) and any(ch.isdigit() for ch in value)


def _custom_values(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[int, str]:
    """The ``customfields`` of a write, by id: ids the install does not define are ignored, as
    WHMCS does; a parameter that does not decode gives none."""
    if not form.get("customfields"):
        return {}
    parsed = parse_custom_fields(form["customfields"]) or {}
    return {k: v for k, v in parsed.items() if k in emu.custom_fields}


class ApiError(Exception):
    """An error reply of an action: ``{"result": "error", "message": message}``."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def php_true(value: str | None) -> bool:
    """PHP truthiness of a request parameter: anything but "" and "0" (so "false" is true)."""
    return value is not None and value not in ("", "0")


def to_int(value: str | None, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3]) or (0,)


# --- rendering quirks ----------------------------------------------------------------------

def typed(emu: WhmcsEmulator, row: dict[str, Any]) -> dict[str, Any]:
    if not emu.ids_as_strings:
        return row
    out = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in row.items()}
    if isinstance(row.get("clients"), list):
        out["clients"] = [{"id": str(c["id"]), "isOwner": "1" if c["isOwner"] else "0"} for c in row["clients"]]
    return out


def _rows(emu: WhmcsEmulator, items: list[Any]) -> list[Any]:
    """The listing rows of ``items``, typed as the switches say."""
    if emu.ids_as_strings:
        return [typed(emu, item.row()) for item in items]
    return [item.row() for item in items]


def _count(emu: WhmcsEmulator, value: int) -> int | str:
    return str(value) if emu.ids_as_strings else value


def _wrap_clients(emu: WhmcsEmulator, rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return {"wrapped": {"client": []}, "empty_string": "", "empty_list": [], "empty_object": {},
                "missing": None}[emu.empty_list_shape]
    if emu.single_object and len(rows) == 1:
        return {"client": rows[0]}
    return {"client": rows}


# --- actions -------------------------------------------------------------------------------

def _in_order(emu: WhmcsEmulator, kind: str, start: int, num: int) -> list[Any]:
    """Rows ``start`` to ``start + num`` of clients or users in id order, from a cached
    list (slicing a 100k dict's values per page would dominate a benchmark's time).
    The cache is dropped when the table's size, identity or last id changes, or when a
    row on the page is no longer the table's."""
    table: dict[int, Any] = emu.clients if kind == "client" else emu.users
    stamp = (len(table), id(table), next(reversed(table.keys()), None))
    cached = emu.id_order.get(kind)
    if cached is None or cached[0] != stamp:
        cached = emu.id_order[kind] = (stamp, list(table.values()))
    page = cached[1][start : start + num]
    if any(table.get(item.id) is not item for item in page):
        emu.id_order[kind] = (stamp, list(table.values()))
        page = emu.id_order[kind][1][start : start + num]
    return page


def _window(emu: WhmcsEmulator, form: Mapping[str, str]) -> tuple[int, int]:
    """``limitstart`` and ``limitnum`` (default 25, capped by ``max_page_size``)."""
    start = max(0, to_int(form.get("limitstart")))
    num = to_int(form.get("limitnum"), 25)
    num = 25 if num <= 0 else num
    if emu.max_page_size is not None:
        num = min(num, emu.max_page_size)
    return start, num


def _prefix(search: str, *values: str) -> bool:
    needle = search.strip().lower()
    return any(v.lower().startswith(needle) for v in values)


def getclients(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    orderby = (form.get("orderby") or "id").lower()
    descending = (form.get("sorting") or "ASC").upper() == "DESC"
    start, num = _window(emu, form)
    if not form.get("status") and not form.get("search") and orderby == "id" and not descending:
        # Ids only grow and dicts keep insertion order, so the plain listing needs no
        # filter or sort: a page of a 100k-client listing stays cheap for the benchmarks.
        total = len(emu.clients)
        page = _in_order(emu, "client", start, num)
    else:
        clients = list(emu.clients.values())
        if form.get("status"):
            clients = [c for c in clients if c.status.lower() == form["status"].lower()]
        if form.get("search"):
            clients = [c for c in clients if _prefix(
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
    rows = _rows(emu, page)
    out: dict[str, Any] = {"totalresults": _count(emu, total), "startnumber": _count(emu, start),
                           "numreturned": _count(emu, len(rows))}
    wrapped = _wrap_clients(emu, rows)
    if wrapped is not None:
        out["clients"] = wrapped
    return out


def _find_client(emu: WhmcsEmulator, form: Mapping[str, str], id_key: str, email_key: str, missing: str) -> EmuClient:
    if form.get(id_key):
        client = emu.clients.get(to_int(form.get(id_key)))
    elif form.get(email_key):
        cid = emu.client_by_email(form[email_key])
        client = emu.clients.get(cid) if cid else None
    else:
        client = None
    if client is None:
        raise ApiError(missing)
    return client


def getclientsdetails(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    if not form.get("clientid") and not form.get("email"):
        raise ApiError("Either clientid Or email Is Required")
    client = _find_client(emu, form, "clientid", "email", "Client Not Found")
    users = [{"id": u.id, "name": f"{u.firstname} {u.lastname}".strip(), "email": u.email,
              "is_owner": u.clients[client.id]}
             for u in sorted(emu.users.values(), key=lambda u: u.id) if client.id in u.clients]
    detail = client.details(users, sorted(emu.custom_fields))
    if version_tuple(emu.version) < (8,):
        # Before WHMCS 8 there are no users: no owner, no ``users`` block.
        for key in ("client_id", "owner_user_id", "users"):
            detail.pop(key, None)
    top = {k: v for k, v in detail.items() if k != "users"}  # the deprecated top-level copy
    out: dict[str, Any] = {**top, "client": detail}
    if php_true(form.get("stats")):
        out["stats"] = {"numdueinvoices": 0, "dueinvoicesbalance": "$0.00 USD", "incredit": False,
                        "creditbalance": "$0.00 USD", "productsnumactive": 0, "productsnumtotal": 0}
    return out


def getusers(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    start, num = _window(emu, form)
    descending = (form.get("sorting") or "ASC").upper() == "DESC"
    if not form.get("search") and not descending:
        total = len(emu.users)  # in id order already (see getclients)
        page = _in_order(emu, "user", start, num)
    else:
        users = list(emu.users.values())
        if descending:
            users.reverse()
        if form.get("search"):
            users = [u for u in users if _prefix(
                form["search"], u.email, u.firstname, u.lastname, f"{u.firstname} {u.lastname}")]
        total, page = len(users), users[start : start + num]
    return {"totalresults": _count(emu, total), "startnumber": _count(emu, start),
            "numreturned": _count(emu, len(page)), "users": _rows(emu, page)}


def getadminusers(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    admins = sorted(emu.admins.values(), key=lambda a: a.id)
    if not php_true(form.get("include_disabled")):
        admins = [a for a in admins if not a.disabled]
    if form.get("roleid"):
        admins = [a for a in admins if a.role_id == to_int(form.get("roleid"))]
    if form.get("email"):
        admins = [a for a in admins if form["email"].lower() in a.email.lower()]
    return {"count": len(admins), "admin_users": [a.row() for a in admins]}


def getadmindetails(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    admin = min(emu.admins.values(), key=lambda a: a.id, default=None)
    return {
        "adminid": str(admin.id if admin else 1),
        "name": f"{admin.firstname} {admin.lastname}" if admin else "API Admin",
        "notes": "", "signature": "",
        "allowedpermissions": "Main Homepage,List Clients,Add New Client,Edit Clients Details,API Access",
        "departments": ",1,",
        "whmcs": {"version": emu.version, "canonicalversion": f"{emu.version}-release.1"},
    }


def whmcsdetails(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    return {"whmcs": {"version": emu.version, "canonicalversion": f"{emu.version}-release.1"}}


def _check_email(email: str, message: str) -> None:
    if not _EMAIL.match(email.strip()):
        raise ApiError(message)


def addclient(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    owner = to_int(form.get("owner_user_id")) if form.get("owner_user_id") else None
    if owner is not None and owner not in emu.users:
        raise ApiError("Invalid Owner User ID")
    skip = php_true(form.get("skipvalidation"))
    get = {k: (form.get(k) or "").strip() for k in (
        "firstname", "lastname", "email", "address1", "city", "state", "postcode", "country", "phonenumber",
        "companyname", "address2", "password2", "tax_id")}
    required = (("firstname", "You did not enter your first name"),
                ("lastname", "You did not enter your last name"),
                ("email", "You did not enter your email address"))
    for key, message in required:
        if not get[key] and (key == "email" or not skip):
            raise ApiError(message)
    _check_email(get["email"], "The email address you entered was not valid")
    if not skip:
        for key, message in (("address1", "You did not enter your address (line 1)"),
                             ("city", "You did not enter your city"),
                             ("state", "You did not enter your state"),
                             ("postcode", "You did not enter your postcode"),
                             ("phonenumber", "You did not enter your phone number")):
            if not get[key]:
                raise ApiError(message)
    if (get["country"] or not skip) and not _valid_country(get["country"]):
        raise ApiError("Valid country required")
    if get["phonenumber"] and not _valid_phone(get["phonenumber"]):
        raise ApiError("Invalid telephone phone number")
    custom = _custom_values(emu, form)
    if not skip:
        for field_id, definition in sorted(emu.custom_fields.items()):
            if definition.required and not custom.get(field_id, "").strip():
                raise ApiError(f"You did not provide required custom field value for {definition.name}")
    if owner is None:
        if not get["password2"]:
            raise ApiError("You did not enter a password")
        if emu.user_by_email(get["email"]) is not None:
            raise ApiError("A user already exists with that email address")
    if emu.client_by_email(get["email"]) is not None:
        raise ApiError("A client already exists with that email address")
    if owner is None:
        # The password as sent, not stripped: WHMCS hashes what it is given.
        owner = emu.add_user(get["email"], get["firstname"], get["lastname"], password=form["password2"])
    cid = emu.add_client(get["email"], get["firstname"], get["lastname"], get["companyname"],
                         owner_user_id=owner, address1=get["address1"], address2=get["address2"],
                         city=get["city"], state=get["state"], postcode=get["postcode"],
                         country=get["country"].upper(), phonenumber=get["phonenumber"],
                         currency=to_int(form.get("currency"), 1), groupid=to_int(form.get("groupid"), 0),
                         notes=form.get("notes") or "", tax_id=get["tax_id"], customfields=custom)
    if not php_true(form.get("noemail")):
        emu.emails_sent.append(("Client Signup Email", get["email"]))
    return {"clientid": str(cid), "owner_user_id": owner}


def updateclient(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    client = _find_client(emu, form, "clientid", "clientemail", "Client ID Not Found")
    if "email" in form:
        email = form["email"].strip()
        _check_email(email, "The email address entered is not valid")
        other = emu.client_by_email(email)
        if other is not None and other != client.id:
            raise ApiError("Duplicate Email Address")
    if "status" in form and form["status"] not in STATUSES:
        raise ApiError(f"Invalid status. Supported statuses are: {', '.join(STATUSES)}")
    if "country" in form and not _valid_country(form["country"]):
        raise ApiError("Valid country required")
    # The phone is checked as AddClient checks it (UNSURE: the docs list no phone error for
    # UpdateClient; WHMCS's client edit form does refuse such a number).
    if form.get("phonenumber") and not _valid_phone(form["phonenumber"].strip()):
        raise ApiError("Invalid telephone phone number")
    for key in ("firstname", "lastname", "companyname", "email", "address1", "address2", "city", "state",
                "postcode", "phonenumber", "status", "notes", "language", "tax_id"):
        if key in form:
            setattr(client, key, form[key].strip() if key == "email" else form[key])
    client.customfields.update(_custom_values(emu, form))
    if "country" in form:
        client.country = form["country"].strip().upper()
    return {"clientid": str(client.id)}


def closeclient(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    client = _find_client(emu, form, "clientid", "clientid", "Client ID Not Found")
    client.status = "Closed"
    return {"clientid": str(client.id)}


def deleteclient(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    client = _find_client(emu, form, "clientid", "clientid", "Client ID Not Found")
    del emu.clients[client.id]
    for user in list(emu.users.values()):
        user.clients.pop(client.id, None)
        if php_true(form.get("deleteusers")) and not user.clients:
            del emu.users[user.id]
    return {"clientid": str(client.id)}


def adduser(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    get = {k: (form.get(k) or "").strip() for k in ("firstname", "lastname", "email", "password2")}
    for key, message in (("firstname", "You did not enter a first name"),
                         ("lastname", "You did not enter a last name"),
                         ("email", "You did not enter an email address"),
                         ("password2", "You did not enter a password")):
        if not get[key]:
            raise ApiError(message)
    _check_email(get["email"], "The email address entered is not valid")
    if emu.user_by_email(get["email"]) is not None:
        raise ApiError("A user already exists with that email address")
    return {"user_id": str(emu.add_user(get["email"], get["firstname"], get["lastname"],
                                        password=form["password2"]))}


def updateuser(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    user = emu.users.get(to_int(form.get("user_id")))
    if user is None:
        raise ApiError("Invalid User ID requested")
    if not any(k in form for k in ("email", "firstname", "lastname", "language")):
        raise ApiError("One of email, firstname, lastname, or language is required")
    if "email" in form:
        email = form["email"].strip()
        _check_email(email, "The email address entered is not valid")
        other = emu.user_by_email(email)
        if other is not None and other != user.id:
            raise ApiError("A user already exists with that email address")
        user.email = email
    for key in ("firstname", "lastname", "language"):
        if key in form:
            setattr(user, key, form[key])
    return {"user_id": str(user.id)}


def resetpassword(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    if form.get("id"):
        user = emu.users.get(to_int(form.get("id")))
    elif form.get("email"):
        _check_email(form["email"], "Please provide a valid email address")
        uid = emu.user_by_email(form["email"])
        user = emu.users.get(uid) if uid else None
    else:
        raise ApiError("Please enter the email address or provide the id")
    if user is None:
        raise ApiError("User Not Found")
    emu.emails_sent.append(("Password Reset Validation", user.email))
    return {}


def validatelogin(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    """api-reference/validatelogin.md: one message for every failure, so the answer never says
    whether the email exists. ``userid`` is documented as "Client ID": the user's owned client
    (UNSURE what 8.x answers for a user who owns none; the user id is answered then).
    ``passwordhash`` is a session token, fresh per call."""
    uid = emu.user_by_email(form.get("email") or "")
    user = emu.users.get(uid) if uid is not None else None
    if user is None or not user.password_matches(form.get("password2") or ""):
        raise ApiError("Email or Password Invalid")
    owned = sorted(cid for cid, owner in user.clients.items() if owner)
    return {"userid": str(owned[0] if owned else user.id), "passwordhash": secrets.token_hex(20),
            "twoFactorEnabled": "false"}


def getcurrencies(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    """``currencies: {"currency": [...]}`` and a string ``totalresults``, as the docs' example
    (WHMCS/developer-docs api-reference/getcurrencies.md) shows them."""
    rows = [c.row() for c in sorted(emu.currencies.values(), key=lambda c: c.id)]
    return {"totalresults": str(len(rows)), "currencies": {"currency": rows}}


def getclientgroups(emu: WhmcsEmulator, form: Mapping[str, str]) -> dict[str, Any]:
    """``groups: {"group": [...]}`` (api-reference/getclientgroups.md); with no group WHMCS builds
    no ``groups`` key at all (its rows are appended to it one by one), so none is sent."""
    rows = [g.row() for g in sorted(emu.client_groups.values(), key=lambda g: g.id)]
    out: dict[str, Any] = {"totalresults": str(len(rows))}
    if rows:
        out["groups"] = {"group": rows}
    return out


#: The actions by lower-cased name (WHMCS action names are case-insensitive).
ACTIONS: Mapping[str, Callable[[WhmcsEmulator, Mapping[str, str]], dict[str, Any]]] = {
    f.__name__: f for f in (getclients, getclientsdetails, getusers, getadminusers, getadmindetails, whmcsdetails,
                            addclient, updateclient, closeclient, deleteclient, adduser, updateuser, resetpassword,
                            validatelogin,
                            getcurrencies, getclientgroups)
}
