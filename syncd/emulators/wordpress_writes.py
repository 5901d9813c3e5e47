"""One user in the WordPress emulator: read, create, update, delete, Application Passwords.

Checks run in WordPress's order (missing arguments, schema, sanitising, permissions, then
wp_insert_user's own), with its status codes and quirks: a duplicate email on create is a 500,
``roles: []`` leaves no role, an email or display name too long for its column silently
drops that row write, unregistered meta is ignored, meta is written after the row exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from syncd.emulators.wordpress_errors import CRITICAL, ApiError, invalid_params, no_route
from syncd.emulators.wordpress_json import CONTEXTS, rest_url, serialise
from syncd.emulators.wordpress_kses import DISPLAY_NAME_MAX
from syncd.emulators.wordpress_text import (
    display_name,
    is_email,
    php_empty,
    sanitize_email,
    sanitize_text,
    sanitize_title,
    valid_login,
)
from syncd.emulators.wordpress_users import EmuUser, by_email, by_login, can, can_edit, insert

if TYPE_CHECKING:
    from syncd.emulators.wordpress import WordPressEmulator


def get_user(emu: WordPressEmulator, query: Mapping[str, str], actor: EmuUser | None, target: EmuUser, site: str,
             pretty: bool) -> dict[str, Any]:
    context = query.get("context", "view")
    if context not in CONTEXTS:
        raise invalid_params({"context": ("rest_not_in_enum", "context is not one of view, embed, and edit.")})
    status = 403 if actor else 401
    if context == "edit" and not can_edit(emu, actor, target):
        raise ApiError(status, "rest_forbidden_context", "Sorry, you are not allowed to edit this user.")
    if not (target.published_posts or can(emu, actor, "list_users") or (actor and actor.id == target.id)):
        raise ApiError(status, "rest_user_cannot_view", "Sorry, you are not allowed to list users.")
    return serialise(emu, target, context, site, pretty=pretty)


def _validate_user_args(emu: WordPressEmulator, data: Mapping[str, Any], *, creating: bool) -> None:
    """WordPress's argument checks, in its order: missing, then schema, then sanitize."""
    if creating:
        missing = [k for k in ("username", "email", "password") if k not in data]
        if missing:
            raise ApiError(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                           {"status": 400, "params": missing})
    invalid: dict[str, tuple[str, str]] = {}
    if "email" in data and not is_email(str(data["email"])):
        invalid["email"] = ("rest_invalid_email", "Invalid email address.")
    if "locale" in data and data["locale"] not in ("", "en_US"):
        invalid["locale"] = ("rest_not_in_enum", "locale is not one of  and en_US.")
    if "roles" in data and not isinstance(data["roles"], list):
        invalid["roles"] = ("rest_invalid_type", "roles is not of type array.")
    if invalid:
        raise invalid_params(invalid)
    sanitize: dict[str, tuple[str, str]] = {}
    if "username" in data and not valid_login(str(data["username"])):
        sanitize["username"] = ("rest_user_invalid_username", "This username is invalid because it uses illegal "
                                "characters. Please enter a valid username.")
    if "password" in data:
        password = str(data["password"])
        if not password.strip():
            sanitize["password"] = ("rest_user_invalid_password", "Passwords cannot be empty.")
        elif "\\" in password:
            sanitize["password"] = ("rest_user_invalid_password", "Passwords cannot contain the \"\\\" character.")
    if sanitize:
        raise invalid_params(sanitize, detail_data=True)


def _check_roles(emu: WordPressEmulator, roles: Sequence[str], actor: EmuUser, target: EmuUser | None) -> None:
    for role in roles:
        if role not in emu.roles:
            raise ApiError(400, "rest_user_invalid_role", f"The role {role} does not exist.")
    # WordPress refuses to let you take away your own power to edit users.
    if target is not None and target.id == actor.id and any("edit_users" not in emu.roles[r] for r in roles):
        raise ApiError(403, "rest_user_invalid_role", "Sorry, you are not allowed to give users that role.")


def _write_meta(emu: WordPressEmulator, user: EmuUser, meta: Any) -> None:
    if not isinstance(meta, dict):
        return
    for key, value in meta.items():
        kind = emu.registered_meta.get(key)
        if kind is None:
            continue  # unregistered meta is silently ignored (201/200, not stored)
        if key in emu.readonly_meta:
            raise ApiError(403, "rest_cannot_update",
                           f"Sorry, you are not allowed to edit the {key} custom field.",
                           {"key": key, "status": 403})
        if kind == "integer" and not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            raise ApiError(400, "rest_invalid_type", f"meta.{key} is not of type integer.", {"status": 400},
                           additional_data=[{"param": f"meta.{key}"}])
        user.meta[key] = int(value) if kind == "integer" else ("" if value is None else str(value))


def create_user(emu: WordPressEmulator, data: dict[str, Any], actor: EmuUser | None, site: str,
                pretty: bool) -> tuple[int, Any, list[tuple[str, str]]]:
    _validate_user_args(emu, data, creating=True)
    if not can(emu, actor, "create_users"):
        raise ApiError(403 if actor else 401, "rest_cannot_create_user",
                       "Sorry, you are not allowed to create new users.")
    assert actor is not None
    roles = data.get("roles")
    if roles:
        _check_roles(emu, roles, actor, None)
        if not can(emu, actor, "promote_users"):
            raise ApiError(403, "rest_cannot_edit_roles", "Sorry, you are not allowed to edit roles of this user.")
    login, email = str(data["username"]), sanitize_email(str(data["email"]))
    # wp_insert_user's own checks, in its order; its WP_Errors carry no status, hence 500.
    if len(login) > 60:
        raise ApiError(500, "user_login_too_long", "Username may not be longer than 60 characters.", None)
    if by_login(emu, login):
        raise ApiError(500, "existing_user_login", "Sorry, that username already exists!", None)
    if by_email(emu, email):
        raise ApiError(500, "existing_user_email", "Sorry, that email address is already used!", None)
    first, last, name = (str(data.get(k) or "") for k in ("first_name", "last_name", "name"))
    if len(email) > 100 or len(display_name(first, last, name, login)) > DISPLAY_NAME_MAX:
        # The row insert fails on the 100-character email or 250-character display_name column
        # (as stored: "&" counts as "&amp;") and PHP dies in the controller.
        raise ApiError(500, "internal_server_error", CRITICAL, additional_errors=[])
    user = insert(emu, login, email, str(data["password"]), first, last, name, str(data.get("nickname") or ""))
    if data.get("url"):
        user.url = str(data["url"])
    if data.get("description"):
        user.description = str(data["description"])
    user.roles = list(roles) if isinstance(roles, list) else ["subscriber"]
    # Meta is written after the row exists: a meta error leaves the user created (pitfall 6).
    _write_meta(emu, user, data.get("meta"))
    location = rest_url(site, f"/wp/v2/users/{user.id}", pretty)
    return 201, serialise(emu, user, "edit", site, pretty=pretty), [("Location", location)]


def update_user(emu: WordPressEmulator, data: dict[str, Any], actor: EmuUser | None, target: EmuUser, site: str,
                pretty: bool) -> dict[str, Any]:
    _validate_user_args(emu, data, creating=False)
    status = 403 if actor else 401
    if not can_edit(emu, actor, target):
        raise ApiError(status, "rest_cannot_edit", "Sorry, you are not allowed to edit this user.")
    assert actor is not None
    roles = data.get("roles")
    if roles and not can(emu, actor, "promote_users"):
        raise ApiError(403, "rest_cannot_edit_roles", "Sorry, you are not allowed to edit roles of this user.")
    email = sanitize_email(str(data["email"])) if "email" in data else None
    if email is not None and email.casefold() != target.email.casefold():
        owner = by_email(emu, email)
        if owner is not None and owner.id != target.id:
            raise ApiError(400, "rest_user_invalid_email", "Invalid email address.")
    if "username" in data and data["username"] != target.login:
        raise ApiError(400, "rest_user_invalid_argument", "Username is not editable.")
    if "slug" in data:
        slug = sanitize_title(str(data["slug"]))
        if any(u.slug == slug and u.id != target.id for u in emu.users.values()):
            raise ApiError(400, "rest_user_invalid_slug", "Invalid slug.")
    if roles:
        _check_roles(emu, roles, actor, target)
    display = None
    if "name" in data:
        name = str(data["name"] or "")
        display = target.login if php_empty(name) else sanitize_text(name)
    # wp_users is written as one row: an email or a display name too long for its column makes
    # that write fail without an error, and the rest of the row with it (measured on 6.1); the
    # usermeta (names, nickname, description) is written all the same.
    if (email is None or len(email) <= 100) and (display is None or len(display) <= DISPLAY_NAME_MAX):
        if email is not None:
            target.email = email
        if display is not None:
            target.display_name = display
        if "slug" in data:
            target.slug = sanitize_title(str(data["slug"]))
        if "url" in data:
            target.url = str(data["url"] or "")
        if "password" in data:
            target.password = str(data["password"])
    for key in ("first_name", "last_name"):
        if key in data:
            setattr(target, key, sanitize_text(str(data[key] or "")))
    if "nickname" in data:
        nickname = str(data["nickname"] or "")
        target.nickname = target.login if php_empty(nickname) else sanitize_text(nickname)
    if "description" in data:
        target.description = str(data["description"] or "")
    if isinstance(roles, list):
        target.roles = list(roles)  # replaces; [] leaves the user with no role at all
    _write_meta(emu, target, data.get("meta"))
    return serialise(emu, target, "edit", site, pretty=pretty)


def delete_user(emu: WordPressEmulator, query: Mapping[str, str], data: Mapping[str, Any], actor: EmuUser | None,
                target: EmuUser, site: str, pretty: bool) -> dict[str, Any]:
    args = {**data, **query}
    if "reassign" not in args:
        raise ApiError(400, "rest_missing_callback_param", "Missing parameter(s): reassign",
                       {"status": 400, "params": ["reassign"]})
    if not (actor is not None and can(emu, actor, "delete_users")):
        raise ApiError(403 if actor else 401, "rest_user_cannot_delete",
                       "Sorry, you are not allowed to delete this user.")
    if str(args.get("force", "")).lower() not in ("true", "1"):
        raise ApiError(501, "rest_trash_not_supported",
                       "Users do not support trashing. Set 'force=true' to delete.")
    reassign = str(args["reassign"])
    if reassign not in ("false", "") and (not reassign.isdigit() or int(reassign) == target.id
                                          or int(reassign) not in emu.users):
        raise ApiError(400, "rest_user_invalid_reassign", "Invalid user ID for reassignment.")
    previous = serialise(emu, target, "edit", site, pretty=pretty)
    del emu.users[target.id]
    return {"deleted": True, "previous": previous}


def app_passwords(emu: WordPressEmulator, method: str, data: Mapping[str, Any], actor: EmuUser | None, target: EmuUser,
                  site: str, pretty: bool) -> tuple[int, Any, list[tuple[str, str]]]:
    if not can_edit(emu, actor, target):
        raise ApiError(403 if actor else 401, "rest_cannot_manage_application_passwords",
                       "Sorry, you are not allowed to manage application passwords for this user.")
    if method == "GET":
        items = [{"uuid": u, "app_id": "", "name": n, "created": "", "last_used": None, "last_ip": None}
                 for u, n, _ in target.app_passwords]
        return 200, items, []
    if method != "POST":
        raise no_route()
    name = str(data.get("name", "")).strip()
    if not name:
        raise ApiError(400, "rest_missing_callback_param", "Missing parameter(s): name",
                       {"status": 400, "params": ["name"]})
    raw = emu.add_app_password(target.login, name=name)
    uid = target.app_passwords[-1][0]
    shown = " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))  # REST groups it by four
    body = {"uuid": uid, "app_id": "", "name": name, "created": emu._clock().strftime("%Y-%m-%dT%H:%M:%S"),
            "last_used": None, "last_ip": None, "password": shown,
            "_links": {"self": [{"href": rest_url(site, f"/wp/v2/users/{target.id}/application-passwords/"
                                                  f"{uid}", pretty)}]}}
    return 201, body, []
