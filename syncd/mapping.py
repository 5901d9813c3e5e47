"""The shared rules between the two sides' common fields: usernames, dummy values, validity.

Adapters parse their own wire formats into ``Record``s; what both sides and the planner
must agree on lives here: which email is valid, how long a field may be on each side, which
values are configured dummies, and how a new WordPress login is made. Pure: no IO, so the
planner (``syncd.sync``) uses it too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

from syncd.adapters.wordpress_usernames import MAX_LOGIN, base_username, candidates, is_valid_login
from syncd.errors import InvalidRecord
from syncd.model import Side, normalise

__all__ = [
    "LIMITS",
    "MAX_LOGIN",
    "fill_dummies",
    "is_dummy",
    "is_valid_email",
    "is_valid_login",
    "problems",
    "require_valid",
    "unique_username",
]

#: Longest value each side stores, by common field, in characters. WordPress: the email column
#: is 100 (a longer one is a PHP fatal, reference/wordpress.md); the adapter builds
#: display_name (250) from "first last", so each name gets 120. WHMCS keeps names and
#: company in wide columns; 255 is the most its admin forms accept.
LIMITS: Mapping[Side, Mapping[str, int]] = {
    Side.WORDPRESS: {"email": 100, "first_name": 120, "last_name": 120, "company": 255, "phone": 64},
    Side.WHMCS: {"email": 255, "first_name": 255, "last_name": 255, "company": 255, "phone": 64},
}
DEFAULT_LIMIT = 255

# WordPress's is_email(): the stricter of the two sides, so an email valid here is one both
# sides accept. Local part: these ASCII characters; domain: dot-separated ASCII labels.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+$")
_LABEL = re.compile(r"^[A-Za-z0-9\-]+$")


def is_valid_email(value: str) -> bool:
    """True if ``value`` (trimmed) is an email address both sides accept (WordPress's is_email rules)."""
    email = value.strip()
    if len(email) < 6 or "@" not in email[1:]:
        return False
    local, _, domain = email.partition("@")
    if not _LOCAL.match(local):
        return False
    if ".." in domain or domain.strip(".") != domain:
        return False
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    return all(_LABEL.match(label) and label.strip("-") == label for label in labels)


def _control_chars(value: str) -> list[str]:
    return sorted({f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) == "Cc"})


def problems(side: Side, fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """What stops ``fields`` from being written to ``side``: ``(field, message)`` pairs, empty if none.

    Checks the email's syntax, each value's length on that side, and control characters
    (a newline or a NUL in a name is never what a person typed into a form).
    """
    found: list[tuple[str, str]] = []
    limits = LIMITS[side]
    for name in sorted(fields):
        value = fields[name]
        if name == "email" and not is_valid_email(value):
            found.append((name, f"{value.strip()!r} is not a valid email address"))
            continue
        limit = limits.get(name, DEFAULT_LIMIT)
        if len(value.strip()) > limit:
            found.append((name, f"has {len(value.strip())} characters; {side.display} stores at most {limit}"))
        bad = _control_chars(value)
        if bad:
            found.append((name, f"contains control characters ({', '.join(bad)})"))
    return found


def require_valid(side: Side, fields: Mapping[str, str], *, user: str) -> None:
    """Raise ``InvalidRecord`` naming ``user`` and the first bad field, if ``fields`` cannot go to ``side``."""
    found = problems(side, fields)
    if found:
        name, message = found[0]
        raise InvalidRecord(f"cannot write {name} of {user} to {side.display}: {message}", user=user, field=name)


def is_dummy(name: str, value: str | None, dummy_values: Mapping[str, str]) -> bool:
    """True if ``value`` is the configured dummy of field ``name`` (compared normalised)."""
    dummy = dummy_values.get(name)
    return dummy is not None and value is not None and normalise(name, value) == normalise(name, dummy)


def fill_dummies(
    fields: Mapping[str, str], dummy_values: Mapping[str, str], names: Iterable[str] | None = None
) -> tuple[dict[str, str], frozenset[str]]:
    """``fields`` with every empty field that has a dummy replaced by it, and the names replaced.

    WHMCS requires a first and a last name (and a phone) that a WordPress user may not have;
    the dummies are sent verbatim and remembered, so they never flow back (DESIGN §5.2).
    ``names`` limits which fields are considered (default: all of ``fields``).
    """
    out = dict(fields)
    filled: set[str] = set()
    for name in fields if names is None else names:
        if name in dummy_values and name in out and not out[name].strip():
            out[name] = dummy_values[name]
            filled.add(name)
    return out, frozenset(filled)


def unique_username(
    scheme: Literal["email", "name"], fields: Mapping[str, str], taken: Collection[str], *, attempts: int = 1000
) -> str:
    """A WordPress login by ``scheme`` ("email" or "name"), valid and not in ``taken`` (any case).

    ``taken`` must hold the existing logins lowercased (WordPress refuses a login that exists
    in any case). Numeric suffixes (``-2``, ``-3``, …) make it unique, within 60 characters.
    """
    base = base_username(scheme, fields.get("email", ""), fields.get("first_name", ""), fields.get("last_name", ""))
    for login in candidates(base, attempts):
        if login.lower() not in taken:
            return login
    raise InvalidRecord(f"no free WordPress username near {base!r} after {attempts} tries", field="username")
