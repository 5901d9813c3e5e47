"""WordPress user objects as the REST API sends them in ``context=edit``, read leniently.

What syncd asks of each user (``USER_FIELDS``), how its text and names read back (PHP sends
``[]`` for an empty object, kses encodes ``&``), and what makes a user an administrator in
effect whatever its role is called. Pure functions over decoded JSON: no request is made here.
"""

from __future__ import annotations

import html
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncd.errors import NotAnApi
from syncd.model import Side

SIDE = Side.WORDPRESS.value

#: What a listing, a search and ``/users/me`` ask of each user (``_fields``, WordPress's response
#: filter): all that the adapter's records, ``protection`` and ``verify`` read. A page of 100 users is then
#: about a third of the JSON, and WordPress skips the avatar URLs, links and extra capabilities.
#: ``meta`` must be named whole: WordPress 6.1's users controller computes a field only when its
#: exact name is listed, so ``meta.billing_company`` would drop the meta altogether (measured;
#: tests/wordpress/contract.py holds the proof on the real site and the emulator).
USER_FIELDS = "id,username,email,first_name,last_name,roles,capabilities,meta"

#: A user holding any of these can manage users or the site: an administrator in effect,
#: whatever its role is called (DESIGN §5.6). Never synchronised, never written.
ADMIN_CAPABILITIES = frozenset({
    "manage_options", "edit_users", "promote_users", "list_users", "create_users", "delete_users",
    "remove_users", "manage_network", "manage_network_users", "manage_sites",
})

_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?@[]^_{|}~"  # no backslash


def new_password(length: int = 32) -> str:
    """A strong random password for a new account (WordPress refuses a backslash in one)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Account:
    """The WordPress account syncd uses, as ``/users/me?context=edit`` describes it."""

    id: int
    username: str
    email: str
    roles: tuple[str, ...]
    capabilities: frozenset[str]
    meta_keys: frozenset[str]

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


def as_text(value: object) -> str:
    """A text field; "" for null and for the ``[]``/``{}`` PHP sends where a value is unset."""
    return "" if value is None or isinstance(value, list | dict) else str(value)


def as_name(value: object) -> str:
    """A name as the person wrote it: WordPress stores names through kses, which turns ``&`` into
    ``&amp;`` (measured on 6.1: "AT&T" reads back as "AT&amp;T"); undo that so a written name
    reads back equal and never looks like a change."""
    text = value if type(value) is str else as_text(value)
    return html.unescape(text) if "&" in text else text


def capabilities_of(data: Mapping[str, Any]) -> frozenset[str]:
    caps = data.get("capabilities")
    return frozenset(k for k, v in caps.items() if v) if isinstance(caps, dict) else frozenset()


def admin_powers(caps: object) -> list[str]:
    """The capabilities in ``caps`` (a user's ``capabilities`` object) that make an administrator
    in effect, sorted."""
    if not isinstance(caps, dict) or ADMIN_CAPABILITIES.isdisjoint(caps):
        return []
    return sorted(c for c in ADMIN_CAPABILITIES.intersection(caps) if caps[c])


def meta_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = data.get("meta")
    return meta if isinstance(meta, dict) else {}  # PHP sends an empty object as []


def user_object(data: Any, what: str) -> Mapping[str, Any]:
    """A user object in context=edit, or NotAnApi: a short user means context=edit was ignored."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), int)
        or "email" not in data
        or not isinstance(data.get("roles"), list)
    ):
        raise short_user(what)
    return data


def short_user(what: str) -> NotAnApi:
    return NotAnApi(
        f"WordPress answered {what} without a user's id, email and roles: the REST API ignored "
        "context=edit (a plugin filtering user data?)",
        side=SIDE,
    )
