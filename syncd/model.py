"""The words of DESIGN §2 as plain frozen dataclasses: Side, Record, Snapshot, Link.

Pure: no IO, no vendor names beyond the two ``Side`` values. Everything the core
compares goes through ``normalise`` (trim, Unicode NFC, case-folded email, E.164 phone),
while the values themselves are kept and written as the sides gave them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import phonenumbers


class Side(StrEnum):
    """One of the two systems syncd keeps in step."""

    WHMCS = "whmcs"
    WORDPRESS = "wordpress"

    @property
    def other(self) -> Side:
        return Side.WORDPRESS if self is Side.WHMCS else Side.WHMCS

    @property
    def display(self) -> str:
        """The side's name in plain-words messages ("WHMCS", "WordPress")."""
        return "WHMCS" if self is Side.WHMCS else "WordPress"

    @property
    def account(self) -> str:
        """What one account on this side is called in messages ("WHMCS client", "WordPress user")."""
        return "WHMCS client" if self is Side.WHMCS else "WordPress user"


class Direction(StrEnum):
    """Which way data may flow in a run."""

    WHMCS_TO_WP = "whmcs_to_wp"
    WP_TO_WHMCS = "wp_to_whmcs"
    BOTH = "both"

    def allows_write_to(self, side: Side) -> bool:
        """True if this direction may write to ``side``."""
        if self is Direction.BOTH:
            return True
        if self is Direction.WHMCS_TO_WP:
            return side is Side.WORDPRESS
        return side is Side.WHMCS

    @property
    def source(self) -> Side | None:
        """The authoritative side of a one-way direction; None for ``both``."""
        if self is Direction.WHMCS_TO_WP:
            return Side.WHMCS
        if self is Direction.WP_TO_WHMCS:
            return Side.WORDPRESS
        return None


#: The common fields every site has (DESIGN §5.2). ``company`` is dropped at start on a
#: WordPress site that does not expose a company meta field; extras may be configured.
CORE_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name")
DEFAULT_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "company")


def normalise_email(value: str) -> str:
    """The key of DESIGN §2: trimmed, NFC, case-folded, with an internationalised domain in
    one spelling: ``ann@xn--bcher-kva.de`` (how WordPress must store it, it refuses the other)
    and ``ann@bücher.de`` (how WHMCS may hold it) are the same mailbox, so the same key."""
    key = unicodedata.normalize("NFC", value.strip())
    if not (key.isascii() and key.islower()):  # casefold() is lower() for ASCII: no copy when it is already
        key = key.casefold()
    if "xn--" not in key:  # nearly every email: one check, this runs for every record of a run
        return key
    local, at, domain = key.rpartition("@")
    if at and "xn--" in domain and domain.isascii():
        with contextlib.suppress(UnicodeError):  # not valid punycode: compared as it is written
            key = unicodedata.normalize("NFC", f"{local}@{domain.encode('ascii').decode('idna')}").casefold()
    return key


def normalise_phone(value: str, default_region: str = "US") -> str:
    """A phone in E.164 when it parses; otherwise its digits (so equal numbers compare equal)."""
    text = value.strip()
    if not text:
        return ""
    # WHMCS writes "+1.5035551212"; the dot is not something phonenumbers expects.
    candidate = text.replace(".", " ") if text.startswith("+") else text
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise(field_name: str, value: str | None, kind: str | None = None, region: str = "") -> str:
    """The comparable form of one field value. Values are never written in this form.

    ``kind`` is a mapped field's kind (DESIGN §9; None for the core fields, compared as before):
    ``phone`` in E.164 with ``region`` (the record's own country, else the default) as the
    region of a national number, ``country`` and ``postcode`` trimmed and upper-cased (a country
    name is not translated: WHMCS and WooCommerce both keep the ISO code), ``text`` NFC and trimmed.
    """
    if value is None:
        return ""
    if kind is not None:
        return _normalise_kind(kind, value, region)
    if field_name == "email":
        return normalise_email(value)
    if field_name == "phone":
        return normalise_phone(value)
    # Internal runs of whitespace collapse too: WordPress collapses them in names, so
    # "Mary  Ann" and "Mary Ann" must compare equal or they would bounce between the sides.
    return " ".join(unicodedata.normalize("NFC", value).split())


def _normalise_kind(kind: str, value: str, region: str) -> str:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if kind == "phone":
        return normalise_phone(text, phone_region(region))
    if kind in ("country", "postcode"):
        return text.upper()
    return text


def phone_region(country: str, default: str = "US") -> str:
    """The region a national phone number is read in: ``country`` when it is a 2-letter code."""
    code = country.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else default


#: ``json.dumps(body, ensure_ascii=False, separators=(",", ":"))`` without a new encoder per call.
_DIGEST_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def digest(fields: Mapping[str, str], names: Iterable[str], kinds: Mapping[str, str] | None = None,
           region: str = "US") -> str:
    """A stable hash of the normalised values of ``names``; equal digests mean nothing to do.

    A mapped field (one of ``kinds``) absent from ``fields`` was not read (DESIGN §9): it is
    left out, so that a record not read for it hashes unlike one read as empty. Without mapped
    fields the hash is the one syncd has always stored."""
    if type(fields) is Fields:  # its values cut out once, not once per name
        fields = fields.as_dict()
    if not kinds:
        body = {n: normalise(n, fields.get(n, "")) for n in sorted(names)}
    else:
        country = fields.get("country", "") if "country" in kinds else ""
        local = phone_region(country, region)
        body = {n: normalise(n, fields[n], kinds[n], local) if n in kinds else normalise(n, fields.get(n, ""))
                for n in sorted(names) if n in fields or n not in kinds}
    raw = _DIGEST_JSON.encode(body).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


class Fields(Mapping[str, str]):
    """A read-only mapping of field names to values, kept as compactly as Python allows.

    A run holds one per record and one per link (its base), so 100,000 users per side hold
    300,000 of them: a dict of four strings and its read-only proxy cost ~490 bytes, this ~200.
    The names are a layout shared by every mapping with the same names in the same order (a
    listing's records all share one); the values are one string, joined by a NUL (each value
    its own string costs ~50 bytes of header), or a tuple when a value has a NUL of its own.
    Reading a value splits the string: a run reads each a few times, and keeps them all. The
    values are kept in the order of the sorted names (the email first), whatever the order of
    the mapping: two mappings of the same names hold the same string exactly when their values
    are equal.
    """

    __slots__ = ("_at", "_values")

    _at: Mapping[str, int]
    _values: str | tuple[str, ...]

    def __init__(self, values: Mapping[str, str] = MappingProxyType({})) -> None:
        self._at, canon = _layout(tuple(values))
        row = tuple([values[name] for name in canon])
        joined = _SEP.join(row) if all(type(v) is str for v in row) else _SEP
        self._values = joined if row and joined.count(_SEP) == len(row) - 1 else row

    def _row(self) -> Sequence[str]:
        values = self._values
        return values.split(_SEP) if type(values) is str else values

    def __getitem__(self, name: str) -> str:
        return self._row()[self._at[name]]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        at = self._at.get(name)
        if at is None:
            return default
        values = self._values
        if type(values) is not str:
            return values[at]
        if at == 0:  # the email (kept first): read for every record by every run, so cut, not split
            end = values.find(_SEP)
            return values if end < 0 else values[:end]
        return values.split(_SEP, at + 1)[at]

    def as_dict(self) -> dict[str, str]:
        """A plain dict of the same names and values, the values cut out in one step."""
        row = self._row()
        return {name: row[at] for name, at in self._at.items()}

    def same(self, other: Mapping[str, str]) -> bool:
        """True when ``other`` is a Fields with the same names and the same values: two
        comparisons, where a run would otherwise compare field by field."""
        return type(other) is Fields and other._values == self._values and (
            other._at is self._at or other._at == self._at)

    def covers(self, names: AbstractSet[str]) -> bool:
        """True if every one of ``names`` is here (as a string: a NUL-joined row has no None)."""
        return type(self._values) is str and self._at.keys() >= names

    def __contains__(self, name: object) -> bool:
        return name in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)

    def __eq__(self, other: object) -> bool:
        if type(other) is Fields and (other._at is self._at or other._at == self._at):
            return self._values == other._values  # the same names and values give the same form
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]  # a mapping: compared by value, never hashed

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[type[Fields], tuple[dict[str, str]]]:
        return Fields, (dict(self),)


class Digests(Mapping[str, str]):
    """A link's per-side digests (``digest()``'s 32 hex characters each) as 16 bytes each.

    Read back as the same hex text; ~110 bytes a link instead of ~400 as a dict of strings.
    ``compact_digests`` keeps any other value as it is, in ``Fields``."""

    __slots__ = ("_at", "_raw")

    _at: Mapping[str, int]
    _raw: bytes

    def __init__(self, digests: Mapping[str, str]) -> None:
        self._at, canon = _layout(tuple(digests))
        self._raw = bytes.fromhex("".join([digests[name] for name in canon]))

    def __getitem__(self, name: str) -> str:
        at = self._at[name] * _DIGEST_BYTES
        return self._raw[at:at + _DIGEST_BYTES].hex()

    def __contains__(self, name: object) -> bool:
        return name in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[type[Fields], tuple[dict[str, str]]]:
        return Fields, (dict(self),)


_SEP = "\x00"
_DIGEST_BYTES = 16
_HEX = frozenset("0123456789abcdef")
#: Every layout of names seen, shared by the mappings that have it. Bounded: names come from
#: the configuration and the sides' fields, but a damaged state store could hold any.
_LAYOUTS: dict[tuple[str, ...], tuple[Mapping[str, int], tuple[str, ...]]] = {}
_LAYOUTS_MAX = 1024


def _email_first(name: str) -> tuple[bool, str]:
    return name != "email", name


def _layout(names: tuple[str, ...]) -> tuple[Mapping[str, int], tuple[str, ...]]:
    """Where each of ``names`` sits among the sorted names, email first (keyed in the order given,
    which is the order of iteration), and the sorted names (the order the values are kept in)."""
    layout = _LAYOUTS.get(names)
    if layout is None:
        canon = tuple(sorted(names, key=_email_first))
        position = {name: i for i, name in enumerate(canon)}
        layout = MappingProxyType({name: position[name] for name in names}), canon
        if len(_LAYOUTS) < _LAYOUTS_MAX:
            _LAYOUTS[names] = layout
    return layout


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    # A private, read-only copy; one that is already one is kept as it is (dataclasses.replace
    # hands it back), which saves a copy per record and per link.
    if type(mapping) is Fields or type(mapping) is Digests:
        return mapping
    return Fields(mapping)


def compact_digests(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """``mapping`` as ``Digests`` when every value is a digest (32 lowercase hex characters),
    else as ``Fields``: the same mapping either way."""
    if type(mapping) is Digests:
        return mapping
    values = tuple(mapping.values())
    if all(type(v) is str and len(v) == 2 * _DIGEST_BYTES and _HEX.issuperset(v) for v in values):
        return Digests(mapping)
    return _frozen(mapping)


@dataclass(frozen=True, slots=True)
class Record:
    """One user as a side's adapter reports it, mapped to the common fields.

    ``remote_id`` is the WHMCS client id or the WordPress user id. ``active`` is False for
    a WHMCS client that is Inactive, and for a WordPress user left with no role.
    ``closed`` is True for a WHMCS client that is Closed (a deletion, DESIGN §5.7).
    ``owner_user_id`` is the WHMCS 8 owner user of a client (None on WordPress).
    ``roles`` are the WordPress roles (empty on WHMCS). ``username`` is WordPress's login.
    """

    side: Side
    remote_id: int
    fields: Mapping[str, str]
    active: bool = True
    closed: bool = False
    roles: tuple[str, ...] = ()
    owner_user_id: int | None = None
    username: str = ""
    status: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", _frozen(self.fields))

    @property
    def email(self) -> str:
        return self.fields.get("email", "")

    @property
    def key(self) -> str:
        """The normalised email used to find partners (never the identity once linked)."""
        return normalise_email(self.email)

    def label(self) -> str:
        """How logs and errors name this user: the email, or the remote id when it has none."""
        return self.email.strip() or f"{self.side.value} #{self.remote_id}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A complete listing of one side, taken at one moment.

    ``admin_emails`` are the normalised emails of that side's admins (WHMCS admin users;
    WordPress users with an excluded role), never to be synchronised. ``fields`` are the
    common fields this side can store.
    """

    side: Side
    records: tuple[Record, ...]
    admin_emails: frozenset[str] = frozenset()
    fields: tuple[str, ...] = DEFAULT_FIELDS


_NONE: frozenset[Any] = frozenset()


@dataclass(frozen=True, slots=True)
class Link:
    """A pairing of a WHMCS client and a WordPress user, with the agreed base values.

    ``base`` holds the common field values both sides agreed on at the last successful
    sync. ``digests`` the per-side digest of what was last seen or written. ``gone``
    records which sides the user has left (deleted, or Closed in WHMCS); ``deactivated``
    which sides syncd deactivated; ``saved_roles`` the WordPress roles taken away by a
    deactivation. ``dummy_fields`` names fields whose WHMCS value is a configured dummy.
    """

    whmcs_id: int
    wp_id: int
    base: Mapping[str, str] = field(default_factory=dict)
    owner_user_id: int | None = None
    digests: Mapping[str, str] = field(default_factory=dict)
    gone: frozenset[Side] = frozenset()
    deactivated: frozenset[Side] = frozenset()
    saved_roles: tuple[str, ...] = ()
    dummy_fields: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _frozen(self.base))
        object.__setattr__(self, "digests", compact_digests(self.digests))
        # frozenset() is a new 216-byte object each time: every link without any shares one.
        for name in ("gone", "deactivated", "dummy_fields"):
            if not getattr(self, name):
                object.__setattr__(self, name, _NONE)

    def remote_id(self, side: Side) -> int:
        return self.whmcs_id if side is Side.WHMCS else self.wp_id

    @property
    def key(self) -> str:
        return normalise_email(self.base.get("email", ""))
