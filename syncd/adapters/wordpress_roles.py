"""Whether a WordPress role exists and this account may give it, asked without creating anyone.

The REST API has no roles endpoint, and the users schema (``OPTIONS /wp/v2/users``) gives
``roles`` no enum (WordPress 6.1: ``{"type": "array", "items": {"type": "string"}}``, read on
the real site), so the role is probed the way test-connection probes WHMCS's writes: with a
create that cannot succeed. ``POST /wp/v2/users`` checks the roles first (``create_item`` calls
``check_role_update`` before it builds the user: 400 ``rest_user_invalid_role`` "The role x does
not exist.", 403 when the account may not give it), and only then ``wp_insert_user``, which
refuses a username longer than 60 characters (500 ``user_login_too_long``) before it writes
anything, and an email already in use (500 ``existing_user_email``). The probe sends both: a
61-character username and the account's own email, so that no user can come of it even if a
plugin lets one of the two through (reference/wordpress.md, "Errors").
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.adapters.wordpress_http import RestClient
from syncd.adapters.wordpress_users import Account, new_password
from syncd.errors import InvalidRecord, PermissionDenied, RemoteRejected, SyncdError

USERS = "/wp/v2/users"

#: Longer than the 60 characters wp_insert_user allows, and made only of what validate_username
#: accepts, so that the request passes the REST arguments' checks and reaches the role check.
PROBE_USERNAME = "syncd-role-check-" + "x" * 44

#: wp_insert_user's refusal of the too-long username (classify keeps the code in the message).
AFTER_THE_ROLE = "user_login_too_long"
#: wp_insert_user's refusals of a login or an email in use, also after the role check.
_IN_USE = frozenset({"existing_user_email", "existing_user_login"})

#: Roles worth trying when the configured one does not exist: WordPress's own, and WooCommerce's
#: (a hosting company's site often runs a shop); the roles the site's users hold are added to them.
COMMON_ROLES = ("subscriber", "contributor", "author", "editor", "customer", "shop_manager")


@dataclass(frozen=True)
class RoleAnswer:
    """What WordPress said of a role: ``exists`` and ``assignable`` (None: it could not be told),
    and its words (or the error) in ``said``."""

    exists: bool | None
    assignable: bool | None
    said: str = ""


def probe(rest: RestClient, account: Account, role: str) -> RoleAnswer:
    """Whether ``role`` exists on the site and ``account`` may give it to new users."""
    body = {"username": PROBE_USERNAME, "email": account.email, "password": new_password(), "roles": [role]}
    try:
        reply = rest.call("role_check", "POST", USERS, body=body, retry="once", who=f"the role check of {role!r}")
    except InvalidRecord as exc:
        if exc.field == "roles":  # 400 rest_user_invalid_role: "The role x does not exist."
            return RoleAnswer(exists=False, assignable=False, said=str(exc))
        if AFTER_THE_ROLE in str(exc):  # wp_insert_user refused the username: the role had passed
            return RoleAnswer(exists=True, assignable=True)
        # Refused by the REST arguments' checks, which come before the role's: nothing learnt.
        return RoleAnswer(exists=None, assignable=None, said=str(exc))
    except RemoteRejected as exc:  # existing_user_email / existing_user_login: after the role, too
        return RoleAnswer(exists=True, assignable=True) if exc.code in _IN_USE else RoleAnswer(
            exists=None, assignable=None, said=str(exc))
    except PermissionDenied as exc:
        if exc.action == "promote_users":  # 403 rest_user_invalid_role: may not give that role
            return RoleAnswer(exists=True, assignable=False, said=str(exc))
        return RoleAnswer(exists=None, assignable=None, said=str(exc))
    except SyncdError as exc:
        return RoleAnswer(exists=None, assignable=None, said=str(exc))
    # Unreachable past two guards; said plainly if a plugin ever lets it through.
    created = reply.data.get("id") if isinstance(reply.data, dict) else None
    return RoleAnswer(exists=True, assignable=True,
                      said=f"WordPress created user #{created} ({PROBE_USERNAME!r}) while syncd checked the role: "
                           "delete it (Users → All Users)")


def held_roles(rest: RestClient) -> list[str]:
    """The roles held by the first 100 users (by id): roles that exist, for a suggestion."""
    try:
        reply = rest.call("list_page", "GET", USERS,
                          params={"context": "edit", "_fields": "roles", "per_page": 100, "orderby": "id"})
    except SyncdError:
        return []
    rows = reply.data if isinstance(reply.data, list) else []
    held = {str(r) for row in rows if isinstance(row, dict) for r in row.get("roles") or () if isinstance(r, str)}
    return sorted(held)
