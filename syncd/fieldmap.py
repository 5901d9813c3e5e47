"""The field map of DESIGN §9: which extra profile fields syncd carries, checked at load.

Pure: the vocabulary of both sides (the WHMCS client fields of GetClientsDetails and its custom
fields, the WordPress user fields and user meta), the WooCommerce preset, and ``resolve``, which
turns the ``[[fields]]`` tables of the configuration into ``FieldRule``s or a list of problems,
each naming its table. ``syncd.config`` calls it at load; the planner (``syncd.sync``) reads the
rules through ``Policy.mapped``; the adapters read the WordPress name of each rule.

A mapped field's name in the core is its WHMCS name (``phonenumber``, ``address1``,
``customfield.7``), so that both adapters report it under one name. Decisions written here:

- ``kind`` defaults to the WHMCS field's own kind (``phonenumber`` → phone, ``country`` →
  country, ``postcode`` → postcode, every other field and custom fields → text). WHMCS's
  ``country`` and ``phonenumber`` must keep their kind (WHMCS validates them as a code and a
  phone); ``postcode`` may be text too. A custom field takes any kind. On WordPress a phone,
  country or postcode kind needs user meta: ``nickname``, ``description`` and ``url`` are text.
- ``direction`` defaults to ``[sync] direction`` and may only narrow it.
- ``default`` is sent on a WHMCS create when the value is empty, and is then treated like a
  dummy: it stands for "no value", is never copied to WordPress and never counts as a change.
- What syncd carries already (email, names, company) cannot be mapped again; a field may be
  mapped once on each side. An explicit ``[[fields]]`` for a field the preset maps (on either
  side) replaces the preset's table.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from syncd.model import Direction

Kind = Literal["text", "phone", "country", "postcode"]
Apply = Literal["always", "on_create"]

KINDS: tuple[Kind, ...] = ("text", "phone", "country", "postcode")
APPLIES: tuple[Apply, ...] = ("always", "on_create")
PRESETS = ("", "woocommerce")

#: The WHMCS client fields a map may name (GetClientsDetails, written by AddClient and
#: UpdateClient), with their own kind.
WHMCS_FIELDS: Mapping[str, Kind] = {
    "address1": "text", "address2": "text", "city": "text", "state": "text", "postcode": "postcode",
    "country": "country", "phonenumber": "phone", "tax_id": "text", "notes": "text", "language": "text",
}
#: WHMCS fields syncd already carries as a core field (DESIGN §5.2).
WHMCS_CARRIED: Mapping[str, str] = {
    "email": "email", "firstname": "first name", "lastname": "last name", "companyname": "company",
}
#: Fields GetClientsDetails derives from another one: read-only, and what to map instead.
WHMCS_DERIVED: Mapping[str, str] = {
    "fullname": "firstname and lastname", "fullstate": "state", "statecode": "state", "countrycode": "country",
    "countryname": "country", "phonecc": "phonenumber", "phonenumberformatted": "phonenumber",
    "telephonenumber": "phonenumber",
}
#: The WHMCS fields AddClient requires (unless ``skipvalidation``): empty, they get a stand-in.
WHMCS_REQUIRED = frozenset({"address1", "city", "state", "postcode", "country", "phonenumber"})

#: The WordPress user fields (besides meta) a map may name; all text.
WORDPRESS_FIELDS = frozenset({"nickname", "description", "url"})
WORDPRESS_CARRIED: Mapping[str, str] = {
    "first_name": "first name", "last_name": "last name", "email": "email", "user_email": "email",
}
_META_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,254}")
#: WordPress's own security meta (``wp_capabilities`` and the like): never written by sync.
_SECURITY_META = re.compile(r"(?i)(.*capabilities|.*user_level|session_tokens)")
_CUSTOM = re.compile(r"customfield\.([0-9]+)")

#: ``[wordpress] preset = "woocommerce"``: WooCommerce's billing meta ↔ WHMCS's address and phone.
#: (``billing_company`` ↔ ``companyname`` is the core company field already.)
WOOCOMMERCE: tuple[tuple[str, str, Kind], ...] = (
    ("address1", "meta.billing_address_1", "text"),
    ("address2", "meta.billing_address_2", "text"),
    ("city", "meta.billing_city", "text"),
    ("state", "meta.billing_state", "text"),
    ("postcode", "meta.billing_postcode", "postcode"),
    ("country", "meta.billing_country", "country"),
    ("phonenumber", "meta.billing_phone", "phone"),
)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One mapped field, as the core sees it.

    ``name`` is the common name (the WHMCS field); ``wordpress`` the WordPress field or
    ``meta.<key>``; ``direction`` where it may be written (never wider than the run's);
    ``apply`` ``always`` or ``on_create``; ``default`` the value a WHMCS create sends when it is
    empty; ``required`` whether WHMCS's AddClient requires it.
    """

    name: str
    wordpress: str
    kind: Kind = "text"
    direction: Direction = Direction.BOTH
    apply: Apply = "always"
    default: str = ""

    @property
    def required(self) -> bool:
        return self.name in WHMCS_REQUIRED

    @property
    def meta_key(self) -> str | None:
        """The WordPress user meta key, or None for a WordPress user field."""
        return self.wordpress.removeprefix("meta.") if self.wordpress.startswith("meta.") else None


def narrow(wide: Direction, narrow_to: Direction) -> Direction | None:
    """The direction both allow, or None when they allow nothing in common."""
    if wide is Direction.BOTH:
        return narrow_to
    if narrow_to is Direction.BOTH or narrow_to is wide:
        return wide
    return None


def default_problem(kind: Kind, value: str) -> str | None:
    """Why ``value`` cannot be a default of ``kind``; None when it can (empty always can)."""
    text = value.strip()
    if not text:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        return "contains control characters"
    if len(text) > 255:
        return f"has {len(text)} characters; WHMCS stores at most 255"
    if kind == "country" and not (len(text) == 2 and text.isascii() and text.isalpha()):
        return "is not a 2-letter ISO 3166-1 country code (e.g. US, DE)"
    if kind == "phone" and (not any(ch.isdigit() for ch in text)
                            or any(not (ch.isdigit() or ch in "+-. ()") for ch in text)):
        return "is not a phone number (digits, with + - . ( ) and spaces)"
    if kind == "postcode" and not all(ch.isalnum() or ch in " -" for ch in text):
        return "is not a postcode (letters, digits, spaces and -)"
    return None


def _whmcs_problem(name: str) -> str | None:
    if name in WHMCS_FIELDS:
        return None
    custom = _CUSTOM.fullmatch(name)
    if custom is not None:
        return None if int(custom.group(1)) > 0 else "a custom field's id is a positive number: customfield.<id>"
    lowered = name.lower()
    if lowered in WHMCS_CARRIED:
        return (f"syncd already carries the {WHMCS_CARRIED[lowered]} (a core field); "
                "remove this table")
    if lowered in WHMCS_DERIVED:
        return f"WHMCS derives it from {WHMCS_DERIVED[lowered]}; map {WHMCS_DERIVED[lowered]} instead"
    if lowered in WHMCS_FIELDS and lowered != name:
        return f"WHMCS field names are lower-case: {lowered!r}"
    known = ", ".join(sorted(WHMCS_FIELDS))
    guess = _WHMCS_ALIASES.get(lowered) or next(iter(difflib.get_close_matches(lowered, WHMCS_FIELDS, n=1)), None)
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"unknown WHMCS client field; known: {known}, or customfield.<id>{hint}"


#: What people call WHMCS's fields (WooCommerce's names, the form's labels) → WHMCS's name.
_WHMCS_ALIASES: Mapping[str, str] = {
    "phone": "phonenumber", "telephone": "phonenumber", "phone_number": "phonenumber", "zip": "postcode",
    "zipcode": "postcode", "postal_code": "postcode", "address": "address1", "address_1": "address1",
    "address_2": "address2", "region": "state", "county": "state", "province": "state", "vat": "tax_id",
    "vat_number": "tax_id", "taxid": "tax_id",
}


def _wordpress_problem(name: str, company_key: str) -> str | None:
    if name in WORDPRESS_FIELDS:
        return None
    if name in WORDPRESS_CARRIED:
        return f"syncd already carries the {WORDPRESS_CARRIED[name]} (a core field); remove this table"
    if name.startswith("meta."):
        key = name.removeprefix("meta.")
        if not _META_KEY.fullmatch(key):
            return ("is not a plain meta key: letters, digits, _ and -, not starting with _ "
                    "(protected meta is hidden from the REST API)")
        if _SECURITY_META.fullmatch(key):
            return "is WordPress's own security meta; syncd never writes it"
        if key == company_key:
            return (f"meta.{company_key} is the core company field already ([wordpress] company_meta_key); "
                    "remove this table")
        return None
    known = f"unknown WordPress field; known: {', '.join(sorted(WORDPRESS_FIELDS))}, or meta.<key>"
    if _META_KEY.fullmatch(name):
        return f"{known}; a user meta key (as WooCommerce's are) is written with its prefix: \"meta.{name}\""
    return known


def _kind_problem(kind: Kind, whmcs: str, wordpress: str) -> str | None:
    natural = WHMCS_FIELDS.get(whmcs)
    if natural is not None and kind != natural and not (natural == "postcode" and kind == "text"):
        allowed = f"{natural!r}" + (" or 'text'" if natural == "postcode" else "")
        return f"kind {kind!r} cannot apply to WHMCS's {whmcs} (use {allowed})"
    if natural == "text" and kind != "text":
        return f"kind {kind!r} cannot apply to WHMCS's {whmcs}, a text field (a custom field takes any kind)"
    if kind != "text" and wordpress in WORDPRESS_FIELDS:
        return f"kind {kind!r} cannot apply to WordPress's {wordpress}, a text field (user meta takes any kind)"
    return None


def _label(index: int, table: Mapping[str, object]) -> str:
    whmcs = table.get("whmcs")
    return f"[[fields]] #{index}" + (f" (whmcs = {whmcs!r})" if isinstance(whmcs, str) and whmcs else "")


def resolve(tables: Sequence[Mapping[str, object]], *, preset: str, sync_direction: Direction,
            company_key: str = "billing_company") -> tuple[tuple[FieldRule, ...], list[str]]:
    """The rules of the preset and the ``[[fields]]`` tables (keys ``whmcs``, ``wordpress``,
    ``kind``, ``direction``, ``apply``, ``default``; missing ones take their defaults), and every
    problem found, each naming its table. An explicit table replaces a preset's table that maps
    the same field on either side."""
    problems: list[str] = []
    explicit: list[FieldRule] = []
    for number, table in enumerate(tables, start=1):
        rule = _rule(number, table, sync_direction, company_key, problems)
        if rule is not None:
            explicit.append(rule)
    if preset not in PRESETS:
        problems.append(f"[wordpress] preset: unknown preset {preset!r}; give \"\" or \"woocommerce\"")
    rules: list[FieldRule] = []
    if preset == "woocommerce":
        taken_w = {r.name for r in explicit}
        taken_p = {r.wordpress for r in explicit}
        rules += [FieldRule(w, p, kind, direction=sync_direction) for w, p, kind in WOOCOMMERCE
                  if w not in taken_w and p not in taken_p]
    rules += explicit
    seen_w: dict[str, int] = {}
    seen_p: dict[str, int] = {}
    for number, rule in enumerate(explicit, start=1):
        for seen, value, side in ((seen_w, rule.name, "WHMCS"), (seen_p, rule.wordpress, "WordPress")):
            if value in seen:
                problems.append(f"[[fields]] #{number} (whmcs = {rule.name!r}): {side} "
                                f"field {value!r} is mapped twice (also by [[fields]] #{seen[value]}); "
                                "map each field once")
            else:
                seen[value] = number
    return tuple(rules), problems


def overrides(tables: Sequence[Mapping[str, object]], *, preset: str) -> list[str]:
    """Which preset fields the ``[[fields]]`` tables replace, in words (a table for a field the
    preset maps, on either side, replaces the preset's mapping of it)."""
    if preset != "woocommerce":
        return []
    notes = []
    for number, table in enumerate(tables, start=1):
        whmcs, wordpress = table.get("whmcs"), table.get("wordpress")
        for name, key, _kind in WOOCOMMERCE:
            if (isinstance(whmcs, str) and whmcs.strip() == name) or (
                    isinstance(wordpress, str) and wordpress.strip() == key):
                notes.append(f"{_label(number, table)} replaces the woocommerce preset's {name} ↔ {key}")
    return notes


def _text(table: Mapping[str, object], key: str, label: str, problems: list[str], default: str) -> str | None:
    value = table.get(key, default)
    if not isinstance(value, str):
        problems.append(f"{label}: {key} must be a string")
        return None
    return value.strip()


def _rule(number: int, table: Mapping[str, object], sync_direction: Direction, company_key: str,
          problems: list[str]) -> FieldRule | None:
    label = _label(number, table)
    found: list[str] = []
    whmcs = _text(table, "whmcs", label, found, "")
    wordpress = _text(table, "wordpress", label, found, "")
    kind_text = _text(table, "kind", label, found, "")
    direction_text = _text(table, "direction", label, found, "")
    apply = _text(table, "apply", label, found, "always")
    default = table.get("default", "")
    if not isinstance(default, str):
        found.append(f"{label}: default must be a string")
        default = ""
    for key in sorted(set(table) - {"whmcs", "wordpress", "kind", "direction", "apply", "default"}):
        found.append(f"{label}: unknown key {key!r}; a [[fields]] table takes whmcs, wordpress, kind, "
                     "direction, apply and default")
    if whmcs is not None and not whmcs:
        found.append(f"{label}: whmcs is required (a WHMCS client field, or customfield.<id>)")
    elif whmcs is not None and (problem := _whmcs_problem(whmcs)) is not None:
        found.append(f"{label}: {problem}")
    if wordpress is not None and not wordpress:
        found.append(f"{label}: wordpress is required (nickname, description, url, or meta.<key>)")
    elif wordpress is not None and (problem := _wordpress_problem(wordpress, company_key)) is not None:
        found.append(f"{label}: wordpress = {wordpress!r}: {problem}")
    kind: Kind = WHMCS_FIELDS.get(whmcs or "", "text")
    if kind_text:
        if kind_text not in KINDS:
            found.append(f"{label}: kind {kind_text!r} is not one of {', '.join(KINDS)}")
        else:
            kind = next(k for k in KINDS if k == kind_text)
    if not found and whmcs and wordpress and (problem := _kind_problem(kind, whmcs, wordpress)) is not None:
        found.append(f"{label}: {problem}")
    direction = sync_direction
    if direction_text:
        try:
            direction = Direction(direction_text)
        except ValueError:
            found.append(f"{label}: direction {direction_text!r} is not one of both, whmcs_to_wp, wp_to_whmcs")
        else:
            if narrow(sync_direction, direction) is not direction:
                found.append(f"{label}: direction {direction.value!r} is wider than [sync] direction "
                             f"{sync_direction.value!r}; give {sync_direction.value!r} or leave it out")
    applied: Apply = "always"
    if apply not in (None, *APPLIES):
        found.append(f"{label}: apply {apply!r} is not one of always, on_create")
    elif apply == "on_create":
        applied = "on_create"
    problem = default_problem(kind, default)
    if problem is not None:
        found.append(f"{label}: default {default.strip()!r} {problem}")
    problems += found
    if found or not whmcs or not wordpress:
        return None
    return FieldRule(whmcs, wordpress, kind, direction=direction, apply=applied, default=default.strip())
