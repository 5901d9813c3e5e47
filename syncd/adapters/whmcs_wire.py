"""WHMCS's wire format, read leniently: decode one reply, classify a failure, coerce types.

Also where the API lives (``api_endpoint``) and what WHMCS calls the common fields.

Pure functions over bytes and dicts (no network), so every captured sample can be fed to
them directly. What they encode, with its source in ``reference/whmcs-api.md``:

- decide on ``result``, never on the HTTP status (business errors come with 200, ``Invalid
  IP`` and ``Invalid Permissions`` with 403);
- ids and counts may be ints or strings, flags any of ``true/1/"1"/"on"/"yes"``, dates may
  be ``0000-00-00``; lists may be missing, ``""``, ``[]``, ``{}``, wrapped
  (``{"client": [...]}``) or a single object;
- a PHP warning printed before the JSON is stripped (and logged), an HTML page is not the
  API (wrong URL or maintenance mode), a cut-off JSON body is a fault;
- a write whose reply cannot be read has an *unknown* outcome: it is never called a
  success or a failure, and never retried here.

Every message is built from names and from what WHMCS said, passed through ``redact``,
never from the request body, so no secret can reach an exception or a log line.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import orjson
from loguru import logger

from syncd.adapters.retry import retry_after_seconds
from syncd.errors import (
    AccessDenied,
    BadCredentials,
    DuplicateEmail,
    IpNotAllowed,
    NotAnApi,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RemoteRejected,
    SideError,
    Transient,
    UnknownAction,
)
from syncd.model import Fields, Record, Side

SIDE = Side.WHMCS.value

Redact = Callable[[str], str]

#: The API actions syncd uses, by their canonical spelling (WHMCS quotes them lower-cased).
ACTIONS: tuple[str, ...] = (
    "GetClients",
    "GetClientsDetails",
    "GetUsers",
    "GetAdminUsers",
    "AddClient",
    "UpdateClient",
    "AddUser",
    "UpdateUser",
    "ResetPassword",
    "GetAdminDetails",
    "WhmcsDetails",
    "GetCurrencies",
    "GetClientGroups",
)
_CANONICAL = {a.lower(): a for a in ACTIONS}

#: Writes: a reply to one of these that cannot be read means "outcome unknown".
WRITE_ACTIONS = frozenset({"AddClient", "UpdateClient", "AddUser", "UpdateUser", "ResetPassword"})

API_PATH = "includes/api.php"

#: Common field → WHMCS client parameter (UpdateClient / AddClient).
CLIENT_KEYS: Mapping[str, str] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "companyname",
}
#: Common fields that also live on the WHMCS 8 owner user (UpdateUser).
USER_KEYS: Mapping[str, str] = {"email": "email", "first_name": "firstname", "last_name": "lastname"}

API_ROLE_PATH = "Configuration → System Settings → Manage API Credentials → API Roles"
IP_ALLOW_PATH = "Configuration → System Settings → General Settings → Security → API IP Access Restriction"
CREDENTIALS_PATH = "Configuration → System Settings → Manage API Credentials"
CUSTOM_FIELDS_PATH = "Configuration → System Settings → Custom Client Fields"


def no_redact(text: str) -> str:
    return text


def canonical_action(name: str) -> str:
    """``getclients`` → ``GetClients`` for the actions syncd knows; others unchanged."""
    return _CANONICAL.get(name.strip().lower(), name.strip())


def api_endpoint(url: str) -> str:
    """``<root>/includes/api.php`` from the WHMCS root, with or without that suffix or a slash."""
    base = url.strip()
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if path.lower().endswith("/" + API_PATH) or path.lower() == API_PATH:
        path = path[: -len(API_PATH)].rstrip("/")
    return parts._replace(path=f"{path}/{API_PATH}", query="", fragment="").geturl()


# --- lenient scalars -------------------------------------------------------------------


def as_int(value: Any) -> int | None:
    """An id or count sent as int, float or string; None when absent or not a number."""
    if type(value) is int:  # the common case, first: listings call this per row
        return value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def as_bool(value: Any) -> bool:
    """A WHMCS flag in any of its forms: true/false, 1/0, "1"/"0", "on"/"", "yes"/"no"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if value is None:
        return False
    return str(value).strip().lower() in _TRUE


def as_str(value: Any) -> str:
    """A text field; None becomes "" (WHMCS sends null for some unset fields)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


def as_date(value: Any) -> date | None:
    """A ``YYYY-MM-DD[ HH:MM:SS]`` date; None for ``0000-00-00`` and anything unreadable."""
    text = as_str(value).strip()
    if len(text) < 10 or text.startswith("0000"):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def as_list(container: Any, inner: str) -> list[dict[str, Any]]:
    """The rows of a WHMCS list in any of its shapes.

    Missing, ``None``, ``""``, ``[]`` and ``{}`` are empty; ``{"client": [...]}`` is
    unwrapped; a single object (XML heritage) is a list of one; a dict keyed by index
    becomes its values. Rows that are not objects are dropped.
    """
    if container is None or container == "" or container == [] or container == {}:
        return []
    value = container
    if isinstance(value, dict) and inner in value:
        value = value[inner]
        if value is None or value == "" or value == {}:
            return []
    # Rows are returned as decoded, not copied: they come from a reply nobody else holds.
    if isinstance(value, list):  # the common shape, first: listings call this per page
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        if value and all(isinstance(v, dict) for v in value.values()) and all(
            as_int(k) is not None for k in value
        ):
            return list(value.values())
        return [value]
    return []


def version_of(data: Mapping[str, Any]) -> str:
    """The WHMCS version in a WhmcsDetails or GetAdminDetails reply ("" if absent)."""
    whmcs = data.get("whmcs")
    if isinstance(whmcs, dict):
        return as_str(whmcs.get("version")).strip()
    return as_str(data.get("version")).strip()


def currencies_of(data: Mapping[str, Any]) -> dict[int, str]:
    """id → code of a GetCurrencies reply (``currencies: {"currency": [...]}``, values as strings)."""
    rows = as_list(data.get("currencies"), "currency")
    return {i: as_str(r.get("code")).strip() for r in rows if (i := as_int(r.get("id"))) is not None}


def client_groups_of(data: Mapping[str, Any]) -> dict[int, str]:
    """id → name of a GetClientGroups reply (``groups: {"group": [...]}``, absent when there is none)."""
    rows = as_list(data.get("groups"), "group")
    return {i: as_str(r.get("groupname")).strip() for r in rows if (i := as_int(r.get("id"))) is not None}


def client_details(data: Mapping[str, Any]) -> dict[str, Any]:
    """The client of a GetClientsDetails reply: under ``client``, else the top level."""
    inner = data.get("client")
    if isinstance(inner, dict) and inner:
        merged = dict(inner)
        # 8.x keeps ``users`` inside ``client``; tolerate it at the top level as well.
        if "users" not in merged and "users" in data:
            merged["users"] = data["users"]
        return merged
    return {k: v for k, v in data.items() if k not in ("result", "stats")}


def owner_user_id(details: Mapping[str, Any]) -> int | None:
    """The owner user of a client from its details (``owner_user_id`` or ``users``)."""
    owner = as_int(details.get("owner_user_id"))
    if owner:
        return owner
    for user in as_list(details.get("users"), "user"):
        if as_bool(user.get("is_owner", user.get("isOwner"))):
            return as_int(user.get("id"))
    return None


def owners_from_users(users: list[dict[str, Any]]) -> dict[int, int]:
    """client id → owner user id, from GetUsers rows (``clients: [{"id", "isOwner"}]``)."""
    owners: dict[int, int] = {}
    for user in users:
        uid = as_int(user.get("id"))
        if uid is None:
            continue
        for cid in owned_clients(user):
            owners[cid] = uid
    return owners


def owned_clients(user: Mapping[str, Any]) -> tuple[int, ...]:
    """The ids of the clients a GetUsers row says the user owns."""
    owned = []
    for link in as_list(user.get("clients"), "client"):
        cid = as_int(link.get("id"))
        if cid is not None and as_bool(link.get("isOwner", link.get("is_owner", link.get("owner")))):
            owned.append(cid)
    return tuple(owned)


def client_record(row: Mapping[str, Any], owner: int | None = None) -> Record | None:
    """A GetClients row (or a client's details) as a Record; None if it has no id.

    Active means status Active; Closed counts as a deletion (DESIGN §5.7); Inactive is
    neither. Values are kept as WHMCS sent them (normalising is the core's business).
    """
    raw_id = row.get("id") if "id" in row else row.get("client_id", row.get("userid"))
    client_id = as_int(raw_id)
    if client_id is None:
        return None
    # One string per status for the whole listing, not one per client.
    status = sys.intern(as_str(row.get("status")).strip())
    low = status.lower()
    return Record(
        side=Side.WHMCS,
        remote_id=client_id,
        fields=Fields({
            "email": as_str(row.get("email")),
            "first_name": as_str(row.get("firstname")),
            "last_name": as_str(row.get("lastname")),
            "company": as_str(row.get("companyname")),
        }),
        active=low == "active",
        closed=low == "closed",
        owner_user_id=owner,
        status=status,
    )


def listed_client(row: dict[str, Any]) -> Record | None:
    """A GetClients row as a listing keeps it while the other pages arrive: its record, its owner
    user not known yet (None for a row without an id). A row kept as it was cost ~700 bytes more
    per client at the end of a listing, when every client's row and record were both alive."""
    return client_record(row) if as_int(row.get("id")) is not None else None


def listed_user(row: dict[str, Any]) -> tuple[int | None, tuple[int, ...]]:
    """A GetUsers row as a listing keeps it: its id and the clients it owns (no dict per user)."""
    return as_int(row.get("id")), owned_clients(row)


# --- decoding one reply ----------------------------------------------------------------

_JSON_START = re.compile(r'\{\s*"(?:result|status|message)"\s*:')
_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def _plain(text: str, limit: int = 200) -> str:
    """Remote text made fit for one log line: tags dropped, entities decoded, shortened."""
    flat = _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _find_json(text: str) -> tuple[Any, str] | None:
    """The JSON value in ``text`` and the noise around it, or None if there is none."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    try:
        return decoder.decode(stripped), ""
    except ValueError:
        pass
    # A PHP warning or notice printed before (or after) the JSON object.
    for match in _JSON_START.finditer(text):
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value, (text[: match.start()] + " " + text[end:]).strip()
    return None


def _looks_cut_off(text: str) -> bool:
    return bool(_JSON_START.search(text)) or text.lstrip().startswith("{")


def decode(
    action: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    write: bool | None = None,
    redact: Redact = no_redact,
) -> dict[str, Any]:
    """The ``result == "success"`` reply of one call, or the right ``SideError``.

    ``write`` defaults to whether ``action`` is a write. For a write, any reply that cannot
    be read (empty, not JSON, cut off, a 500/502/504) raises ``OutcomeUnknown``; only
    replies that prove nothing was done (429, 503, 401/403/404 pages) raise other errors.
    ``Transient`` is raised only where a retry is safe.
    """
    action = canonical_action(action)
    is_write = action in WRITE_ACTIONS if write is None else write
    try:
        # The common case, a clean JSON body, in one C call; anything orjson refuses (a PHP
        # warning, HTML, a cut-off body, bad UTF-8, NaN, huge ints) takes the lenient path.
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        return _judge(action, status, value, is_write, redact)
    text = body.decode("utf-8", errors="replace")
    found = _find_json(text)
    if found is not None:
        value, noise = found
        if noise:
            logger.warning(
                "WHMCS printed text around its JSON answer to {action} (a PHP warning or notice; "
                "turning off display_errors in WHMCS's PHP settings stops it): {noise}",
                action=action,
                noise=redact(_plain(noise)),
            )
        return _judge(action, status, value, is_write, redact)
    return _not_json(action, status, headers, text, is_write, redact)


def _judge(action: str, status: int, value: Any, write: bool, redact: Redact) -> dict[str, Any]:
    if not isinstance(value, dict):
        what = f"JSON {redact(_plain(json.dumps(value), 40))} instead of an object"
        if write:
            raise OutcomeUnknown(f"WHMCS answered {action} with {what}; it may or may not have happened", side=SIDE)
        if value is None:
            # WHMCS itself has been seen answering ``null`` when a call failed inside
            # (WHMCS/developer-docs#298): worth another try, unlike a foreign JSON document.
            raise Transient(f"WHMCS answered {action} with JSON null", side=SIDE)
        raise NotAnApi(f"WHMCS answered {action} with {what}: this is not the WHMCS API", side=SIDE)
    result = as_str(value.get("result", value.get("status", ""))).strip().lower()
    if "warning" in value and value.get("warning"):
        logger.warning(
            "WHMCS warned about {action}: {warning}", action=action, warning=redact(_plain(as_str(value["warning"])))
        )
    if result == "success":
        return value
    if result == "error":
        raise error_for(action, as_str(value.get("message")), status=status, redact=redact)
    if write:
        raise OutcomeUnknown(
            f"WHMCS answered {action} with JSON that has no result (HTTP {status}); it may or may not have happened",
            side=SIDE,
        )
    raise NotAnApi(f"WHMCS answered {action} with JSON that has no result (HTTP {status})", side=SIDE)


def _not_json(
    action: str, status: int, headers: Mapping[str, str], text: str, write: bool, redact: Redact
) -> dict[str, Any]:
    stripped = text.strip()
    title_match = _TITLE.search(text)
    title = f' ("{redact(_plain(title_match.group(1), 80))}")' if title_match else ""
    if status in (429, 503):
        # The server refused to run the call: safe to retry, writes included.
        retry_after = retry_after_seconds(headers.get("retry-after"))
        reason = "too many requests" if status == 429 else "service unavailable"
        raise Transient(
            f"WHMCS answered {action} with HTTP {status} ({reason}){title}", side=SIDE, retry_after=retry_after
        )
    if status >= 500:
        if write:
            raise OutcomeUnknown(
                f"WHMCS answered {action} with HTTP {status}{title}; the write may or may not have happened",
                side=SIDE,
            )
        raise Transient(f"WHMCS answered {action} with HTTP {status}{title}", side=SIDE)
    if status in (401, 403):
        raise AccessDenied(
            f"WHMCS (or a firewall in front of it) refused {action} with HTTP {status}{title} and no API answer: "
            "check the web server's or WAF's access rules for includes/api.php",
            side=SIDE,
        )
    if 300 <= status < 400:
        location = redact(_plain(headers.get("location", ""), 120))
        raise NotAnApi(
            f"WHMCS redirected {action} (HTTP {status}) to {location or 'another address'}: "
            "set [whmcs] url to the final address (https, with or without www, as WHMCS's System URL)",
            side=SIDE,
        )
    if status >= 400:
        raise NotAnApi(
            f"WHMCS answered {action} with HTTP {status}{title}: no API at this address; "
            "[whmcs] url must be the WHMCS root, the folder that holds includes/api.php",
            side=SIDE,
        )
    if write:
        what = "an empty answer" if not stripped else (
            "a cut-off JSON answer" if _looks_cut_off(stripped) else f"an HTML page{title} instead of JSON"
        )
        raise OutcomeUnknown(f"WHMCS sent {what} to {action}; the write may or may not have happened", side=SIDE)
    if not stripped:
        raise Transient(f"WHMCS sent an empty answer to {action} (HTTP {status})", side=SIDE)
    if _looks_cut_off(stripped):
        raise Transient(
            f"WHMCS sent a cut-off JSON answer to {action} ({len(text)} bytes); if it repeats, PHP may be "
            "running out of memory: lower [whmcs] page_size",
            side=SIDE,
        )
    raise NotAnApi(
        f"WHMCS answered {action} with an HTML page{title} (HTTP {status}), not the API's JSON: "
        "either [whmcs] url is wrong (it must be the WHMCS root, where includes/api.php lives) or "
        "WHMCS is in maintenance mode (Configuration → System Settings → General Settings → General)",
        side=SIDE,
    )


_PERMISSION = re.compile(r'api action\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)
_DUPLICATE = (
    "already exists with that email",
    "duplicate email",
    "not available for use",
    "email address is already",
    "already in use",
)
_NOT_FOUND = ("not found", "invalid user id", "invalid client id", "no matching")


def error_for(action: str, message: str, *, status: int = 200, redact: Redact = no_redact) -> SideError:
    """The ``SideError`` for a ``{"result": "error", "message": ...}`` reply to ``action``."""
    action = canonical_action(action)
    said = redact(_plain(message, 300)) or "(no message)"
    low = said.lower()
    if low.startswith("invalid ip"):
        ip = said[len("invalid ip") :].strip(" :")
        return IpNotAllowed(
            f"WHMCS refused this machine's IP address {ip or '(not given)'} for {action}: add {ip or 'it'} under "
            f"{IP_ALLOW_PATH}, or set [whmcs] access_key to the $api_access_key of WHMCS's configuration.php",
            side=SIDE,
            ip=ip,
        )
    if low.startswith("authentication failed") or low.startswith("invalid or missing credentials"):
        return BadCredentials(
            f'WHMCS refused the API credentials ("{said}"): check [whmcs] identifier and secret under '
            f"{CREDENTIALS_PATH}, and that the credential's admin has the \"API Access\" permission",
            side=SIDE,
        )
    if low.startswith("invalid permissions"):
        match = _PERMISSION.search(said)
        denied = canonical_action(match.group(1)) if match else action
        return PermissionDenied(
            f'the API role of this WHMCS credential does not allow "{denied}": tick it under {API_ROLE_PATH}',
            side=SIDE,
            action=denied,
        )
    if low.startswith("invalid api action") or low.startswith("command not found"):
        return UnknownAction(
            f'this WHMCS does not know the API action "{action}" ("{said}"): it may be too old for syncd',
            side=SIDE,
            action=action,
        )
    if "an admin user is required" in low:
        return NotAnApi(
            f'WHMCS answered {action} with "{said}": the API path is doubled; set [whmcs] url to the WHMCS root, '
            "without includes/api.php",
            side=SIDE,
        )
    if low.startswith("ip banned"):
        return AccessDenied(
            f'WHMCS has banned this machine\'s IP ("{said}"), usually after failed logins: remove the ban under '
            "Configuration → System Settings → Banned IPs",
            side=SIDE,
        )
    if low.startswith("access denied"):
        return AccessDenied(
            f'WHMCS denied {action} ("{said}"): the credential\'s admin role lacks a permission it needs',
            side=SIDE,
        )
    if any(p in low for p in _DUPLICATE):
        return DuplicateEmail(f'WHMCS rejected {action}: "{said}"', side=SIDE, code=said)
    if any(p in low for p in _NOT_FOUND):
        return NotFound(f'WHMCS rejected {action}: "{said}"', side=SIDE, code=said)
    return RemoteRejected(f'WHMCS rejected {action}: "{said}"', side=SIDE, code=said)


# --- mapped fields (DESIGN §9) ------------------------------------------------------------

CUSTOM_PREFIX = "customfield."


def custom_field_id(name: str) -> int | None:
    """The id of a mapped ``customfield.<id>``; None for a plain client field."""
    if not name.startswith(CUSTOM_PREFIX):
        return None
    return as_int(name.removeprefix(CUSTOM_PREFIX))


def custom_fields_of(details: Mapping[str, Any]) -> dict[int, str] | None:
    """id → value of a client's custom fields (GetClientsDetails ``customfields``: a list of
    ``{"id", "value"}``, one per client custom field the install defines, empty ones included);
    None when the reply has no such list at all (then nothing is known about them)."""
    if "customfields" not in details:
        return None
    found: dict[int, str] = {}
    for row in as_list(details.get("customfields"), "customfield"):
        field_id = as_int(row.get("id"))
        if field_id is not None:
            found[field_id] = as_str(row.get("value"))
    return found


def mapped_values(details: Mapping[str, Any], names: tuple[str, ...]) -> tuple[dict[str, str], set[str]]:
    """The mapped fields ``names`` read from one client's details, and those it could not read:
    a custom field id the install does not define, or a client field the reply lacks (an older
    WHMCS). A field not read is left out (DESIGN §9: never taken for empty)."""
    values: dict[str, str] = {}
    unread: set[str] = set()
    custom: dict[int, str] | None = None
    for name in names:
        field_id = custom_field_id(name)
        if field_id is None:
            if name in details:
                values[name] = as_str(details[name])
            else:
                unread.add(name)
            continue
        if custom is None:
            custom = custom_fields_of(details) or {}
        if field_id in custom:
            values[name] = custom[field_id]
        else:
            unread.add(name)
    return values, unread


#: WHMCS's validation messages of AddClient / UpdateClient (``reference/whmcs-api.md`` §2.3,
#: §2.10) → the client field they are about.
_FIELD_MESSAGES: tuple[tuple[str, str], ...] = (
    ("valid country required", "country"),
    ("you did not enter your country", "country"),
    ("invalid telephone phone number", "phonenumber"),
    ("you did not enter your phone number", "phonenumber"),
    # The docs spell it "You did not enter your  address line 1" (two spaces): spaces are squeezed.
    ("you did not enter your address line 1", "address1"),
    ("you did not enter your address (line 1)", "address1"),
    ("you did not enter your city", "city"),
    ("you did not enter your state", "state"),
    ("you did not enter your postcode", "postcode"),
)
_CUSTOM_REQUIRED = "you did not provide required custom field value for"


def refused_field(message: str) -> str | None:
    """The client field a WHMCS validation message is about (``customfield`` for a required custom
    field, whose message names it by its label, not its id), or None."""
    low = " ".join(message.lower().split())
    for start, name in _FIELD_MESSAGES:
        if low.startswith(start):
            return name
    if low.startswith(_CUSTOM_REQUIRED):
        return "customfield"
    return None
