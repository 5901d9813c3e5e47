"""The WHMCS emulator's data: clients, WHMCS 8 users, admins, and the faults a test can plant.

Plain mutable dataclasses owned by ``WhmcsEmulator`` (which guards them with its lock), and
how each renders in WHMCS's documented shapes and types (``reference/whmcs-api.md`` §2 and
the captured samples): ints for ids in list rows, strings where WHMCS sends strings.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France",
                 "NL": "Netherlands", "AU": "Australia", "CA": "Canada", "IN": "India", "ZA": "South Africa"}
CALLING_CODES = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "NL": "31", "AU": "61", "IN": "91",
                 "ZA": "27"}

#: Kinds of planted fault (see ``WhmcsEmulator.fail_on``).
FAULT_KINDS = frozenset({
    "status",                # answer HTTP ``status`` with an HTML error page (429/503 carry Retry-After)
    "maintenance",           # the maintenance-mode HTML page with HTTP 200
    "php_warning",           # a PHP warning printed before the JSON
    "truncate",              # the JSON cut in half (PHP died mid-answer)
    "empty_after_commit",    # do the call, then answer 200 with an empty body
    "null_after_commit",     # do the call, then answer ``null`` (WHMCS/developer-docs#298)
    "timeout_after_commit",  # do the call, then hang ``seconds`` and close without answering
    "drop",                  # close the connection without doing the call or answering
    "refuse",                # in-process: a connect error (nothing sent); over HTTP: like ``drop``
    "lie_total",             # a listing whose ``totalresults`` is off by ``delta``
    "repeat_row",            # a listing page whose first row repeats the previous page's last row
})


#: Bumped whenever an email of an existing client or user changes, so the emulator's email
#: indexes know to rebuild even when a test edits a record directly.
EMAIL_GENERATION = [0]


class _EmailWatched:
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "email" and hasattr(self, "email"):
            EMAIL_GENERATION[0] += 1
        object.__setattr__(self, name, value)


def _uuid(kind: str, number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"whmcs-emulator:{kind}:{number}"))


@dataclass
class EmuClient(_EmailWatched):
    """One WHMCS client (the billing account)."""

    id: int
    firstname: str
    lastname: str
    email: str
    companyname: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = "US"
    phonenumber: str = ""
    status: str = "Active"
    datecreated: str = "2024-01-01"
    currency: int = 1
    groupid: int = 0
    owner_user_id: int | None = None
    notes: str = ""
    language: str = ""
    tax_id: str = ""
    #: custom field id → value (only the fields given a value; the others read as "")
    customfields: dict[int, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """A GetClients row."""
        return {
            "id": self.id,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "companyname": self.companyname,
            "email": self.email,
            "datecreated": self.datecreated,
            "groupid": self.groupid,
            "status": self.status,
        }

    def details(self, users: list[dict[str, Any]], custom_ids: list[int] | None = None) -> dict[str, Any]:
        """The ``client`` object of GetClientsDetails (8.x shape). ``customfields`` lists every
        client custom field of the install (``custom_ids``), empty ones included, and each again
        flattened as ``customfieldsN`` (N counting from 1 in that order), as the docs' example."""
        custom = [{"id": i, "value": self.customfields.get(i, "")} for i in custom_ids or ()]
        flat = {f"customfields{n}": row["value"] for n, row in enumerate(custom, start=1)}
        cc = CALLING_CODES.get(self.country, "")
        digits = "".join(ch for ch in self.phonenumber if ch.isdigit()).lstrip("0")
        formatted = f"+{cc}.{digits}" if cc and digits else self.phonenumber
        return {
            "client_id": self.id,
            "owner_user_id": self.owner_user_id,
            "userid": self.id,
            "id": self.id,
            "uuid": _uuid("client", self.id),
            "firstname": self.firstname,
            "lastname": self.lastname,
            "fullname": f"{self.firstname} {self.lastname}".strip(),
            "companyname": self.companyname,
            "email": self.email,
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "fullstate": self.state,
            "state": self.state,
            "postcode": self.postcode,
            "countrycode": self.country,
            "country": self.country,
            "phonenumber": self.phonenumber,
            "tax_id": self.tax_id,
            "email_preferences": {k: "1" for k in ("general", "invoice", "support", "product", "domain", "affiliate")},
            "statecode": self.state,
            "countryname": COUNTRY_NAMES.get(self.country, self.country),
            "phonecc": cc,
            "phonenumberformatted": formatted,
            "telephoneNumber": formatted,
            "billingcid": 0,
            "notes": self.notes,
            "currency": self.currency,
            "defaultgateway": "",
            "groupid": self.groupid,
            "status": self.status,
            "credit": "0.00",
            "taxexempt": False,
            "latefeeoveride": False,
            "overideduenotices": False,
            "separateinvoices": False,
            "disableautocc": False,
            "emailoptout": False,
            "marketing_emails_opt_in": False,
            "overrideautoclose": False,
            "allowSingleSignOn": 1,
            "email_verified": False,
            "language": self.language,
            "isOptedInToMarketingEmails": False,
            "lastlogin": "No Login Logged",
            "currency_code": "USD",
            "customfields": custom,
            **flat,
            "users": {"user": users},
        }


@dataclass
class EmuCustomField:
    """A client custom field (Setup → Custom Fields → Client Custom Fields): AddClient refuses a
    client without a value for a ``required`` one (unless ``skipvalidation``)."""

    id: int
    name: str
    required: bool = False


@dataclass
class EmuUser(_EmailWatched):
    """One WHMCS 8 user (a login identity); ``clients`` maps client id → is owner."""

    id: int
    firstname: str
    lastname: str
    email: str
    datecreated: str = "2024-01-01 00:00:00"
    clients: dict[int, bool] = field(default_factory=dict)
    has_password: bool = True
    language: str = ""
    #: A salted hash, as WHMCS keeps it (WHMCS uses bcrypt; PBKDF2 here needs no library);
    #: empty for a user seeded without one. The text itself is never kept.
    password_hash: str = field(default="", repr=False)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.has_password = True

    def password_matches(self, password: str) -> bool:
        return bool(self.password_hash) and check_password(self.password_hash, password)

    def row(self) -> dict[str, Any]:
        """A GetUsers row: ``clients`` is a plain list of ``{"id", "isOwner"}``."""
        return {
            "id": self.id,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "datecreated": self.datecreated,
            "validationdata": "",
            "clients": [{"id": cid, "isOwner": owner} for cid, owner in self.clients.items()],
        }


def hash_password(password: str) -> str:
    """``salt$digest`` in hex. Few iterations: this is a test double, not a vault."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 1000)
    return f"{salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    salt, _, digest = stored.partition("$")
    again = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), 1000)
    return hmac.compare_digest(again.hex(), digest)


@dataclass
class EmuAdmin:
    """One WHMCS administrator (GetAdminUsers). The shape is undocumented; this is a guess."""

    id: int
    username: str
    firstname: str
    lastname: str
    email: str
    role_id: int = 1
    disabled: bool = False

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uuid": _uuid("admin", self.id),
            "roleId": self.role_id,
            "username": self.username,
            "twoFactorAuthModule": "",
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "signature": "",
            "notes": "",
            "template": "blend",
            "language": "english",
            "isDisabled": self.disabled,
            "loginAttempts": 0,
            "supportDepartmentIds": [],
            "receivesTicketNotifications": [],
            "fullName": f"{self.firstname} {self.lastname}".strip(),
        }


@dataclass
class EmuCurrency:
    """One currency (Configuration → System Settings → Currencies), as GetCurrencies lists it.

    WHMCS/developer-docs ``api-reference/getcurrencies.md``: ``currencies[currency][n]`` rows of
    ``id``, ``code``, ``prefix``, ``suffix``, ``format``, ``rate``, every value a string."""

    id: int
    code: str
    prefix: str = ""
    suffix: str = ""
    format: int = 1
    rate: str = "1.00000"

    def row(self) -> dict[str, Any]:
        return {"id": str(self.id), "code": self.code, "prefix": self.prefix, "suffix": self.suffix,
                "format": str(self.format), "rate": self.rate}


@dataclass
class EmuClientGroup:
    """One client group, as GetClientGroups lists it.

    WHMCS/developer-docs ``api-reference/getclientgroups.md``: ``groups[group][n]`` rows of ``id``,
    ``groupname``, ``groupcolour``, ``discountpercent``, ``susptermexempt``, ``separateinvoices``
    (flags ``"on"`` or ``""``), every value a string."""

    id: int
    name: str
    colour: str = "#FFFFFF"
    discount: str = "0.00"

    def row(self) -> dict[str, Any]:
        return {"id": str(self.id), "groupname": self.name, "groupcolour": self.colour,
                "discountpercent": self.discount, "susptermexempt": "", "separateinvoices": ""}


@dataclass
class Fault:
    """A planted fault: what it does (``kind``) and which calls it hits.

    It hits calls of ``action`` (any if None), the ``call``-th call of that action (any if
    None), the listing page ``page`` (1-based; any if None), at most ``times`` times (no
    limit if None). ``hits`` counts the calls it hit.
    """

    kind: str
    action: str | None = None
    page: int | None = None
    call: int | None = None
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    seconds: float = 5.0
    delta: int = 1
    hits: int = 0

    def matches(self, action: str, call_number: int, page: int | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.action is not None and self.action.lower() != action.lower():
            return False
        if self.call is not None and self.call != call_number:
            return False
        return self.page is None or self.page == page
