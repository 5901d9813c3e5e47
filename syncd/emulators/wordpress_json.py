"""How the WordPress emulator's users and the API's own documents look as JSON.

A user per ``context`` (view, embed, edit) with its links, avatars, capabilities and
registered meta; the REST index (``/wp-json/``), the users schema and ``OPTIONS`` document;
and a listing's body, assembled from each user's JSON cached while that user is unchanged
(what keeps a page of a 100,000-user site well under a millisecond).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syncd.emulators.wordpress_fields import FieldSpec, trim_user
from syncd.emulators.wordpress_text import php_json
from syncd.emulators.wordpress_users import EmuUser, capabilities

if TYPE_CHECKING:
    from syncd.emulators.wordpress import WordPressEmulator


ORDERBY = ("id", "include", "name", "registered_date", "slug", "include_slugs", "email", "url")
CONTEXTS = ("view", "embed", "edit")


@dataclass(frozen=True)
class Raw:
    """A response body already encoded (a listing assembled from each user's cached JSON)."""

    body: bytes


def rest_url(site: str, route: str, pretty: bool) -> str:
    return f"{site}/wp-json{route}" if pretty else f"{site}/index.php?rest_route={route}"


def _meta_out(emu: WordPressEmulator, user: EmuUser, context: str) -> dict[str, Any]:
    out: dict[str, Any] = {"persisted_preferences": []} if context == "edit" else {}
    for key, kind in emu.registered_meta.items():
        if context != "edit" and key in emu.edit_only_meta:
            continue
        default: Any = 0 if kind == "integer" else ""
        out[key] = user.meta.get(key, default)
    return out


def _avatars(user: EmuUser) -> dict[str, str]:
    digest = hashlib.md5(user.email.strip().lower().encode()).hexdigest()  # Gravatar's hash, not security
    host = int(digest[0], 16) % 3
    return {str(s): f"http://{host}.gravatar.com/avatar/{digest}?s={s}&d=mm&r=g" for s in (24, 48, 96)}


def serialise(emu: WordPressEmulator, user: EmuUser, context: str, site: str, *, pretty: bool) -> dict[str, Any]:
    """The user as WordPress shows it in ``context``."""
    caps = capabilities(emu, user) if context == "edit" else {}
    return _shape(emu, user, context, site, pretty, _avatars(user), caps)


def _listed(emu: WordPressEmulator, user: EmuUser, context: str, site: str, pretty: bool,
            spec: FieldSpec | None) -> Any:
    """The user as a listing shows it, trimmed by ``_fields`` if given (and then what it leaves
    out, avatars and capabilities, is never computed)."""
    if spec is None:
        return serialise(emu, user, context, site, pretty=pretty)
    avatars = _avatars(user) if "avatar_urls" in spec.computed else {}
    caps = capabilities(emu, user) if context == "edit" and "capabilities" in spec.computed else {}
    return trim_user(_shape(emu, user, context, site, pretty, avatars, caps), spec)


def _shape(emu: WordPressEmulator, user: EmuUser, context: str, site: str, pretty: bool, avatars: dict[str, str],
           caps: dict[str, bool]) -> dict[str, Any]:
    link = f"{site}/author/{user.slug}/" if pretty else f"{site}/?author={user.id}"
    url = site if user.id == emu.admin_id and not user.url else user.url
    links = {
        "self": [{"href": rest_url(site, f"/wp/v2/users/{user.id}", pretty)}],
        "collection": [{"href": rest_url(site, "/wp/v2/users", pretty)}],
    }
    if context == "edit":
        return {
            "id": user.id, "username": user.login, "name": user.display_name, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email, "url": url, "description": user.description,
            "link": link, "locale": "en_US", "nickname": user.nickname, "slug": user.slug,
            "roles": list(user.roles), "registered_date": user.registered, "capabilities": caps,
            "extra_capabilities": {r: True for r in user.roles}, "avatar_urls": avatars,
            "meta": _meta_out(emu, user, context), "_links": links,
        }
    out: dict[str, Any] = {
        "id": user.id, "name": user.display_name, "url": url, "description": user.description, "link": link,
        "slug": user.slug, "avatar_urls": avatars,
    }
    if context == "view":
        out["meta"] = _meta_out(emu, user, context)
    out["_links"] = links
    return out


def index_document(emu: WordPressEmulator, site: str, pretty: bool) -> dict[str, Any]:
    auth: Any = (
        {"application-passwords": {"endpoints": {"authorization": f"{site}/wp-admin/authorize-application.php"}}}
        if emu.environment == "local" else []
    )
    routes = {
        "/": {"namespace": "", "methods": ["GET"]},
        "/wp/v2": {"namespace": "wp/v2", "methods": ["GET"]},
        "/wp/v2/users": {"namespace": "wp/v2", "methods": ["GET", "POST"]},
        "/wp/v2/users/(?P<id>[\\d]+)": {"namespace": "wp/v2", "methods": ["GET", "POST", "PUT", "PATCH",
                                                                          "DELETE"]},
        "/wp/v2/users/me": {"namespace": "wp/v2", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
    }
    return {
        "name": emu.site_name, "description": "", "url": site, "home": site, "gmt_offset": "0",
        "timezone_string": "", "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1",
                                                *(["syncd/v1"] if emu.companion is not None else [])],
        "authentication": auth, "routes": routes, "site_logo": 0, "site_icon": 0, "site_icon_url": "",
        "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
    }


def schema_document(emu: WordPressEmulator) -> dict[str, Any]:
    def prop(kind: str | list[str], contexts: list[str], **more: Any) -> dict[str, Any]:
        return {"type": kind, "context": contexts, **more}

    meta_props = {k: {"type": v, "context": ["edit"] if k in emu.edit_only_meta else ["view", "edit"]}
                  for k, v in emu.registered_meta.items()}
    return {
        "$schema": "http://json-schema.org/draft-04/schema#", "title": "user", "type": "object",
        "properties": {
            "id": prop("integer", ["embed", "view", "edit"], readonly=True),
            "username": prop("string", ["edit"], required=True),
            "name": prop("string", ["embed", "view", "edit"]),
            "first_name": prop("string", ["edit"]), "last_name": prop("string", ["edit"]),
            "email": prop("string", ["edit"], format="email", required=True),
            "url": prop("string", ["embed", "view", "edit"], format="uri"),
            "description": prop("string", ["embed", "view", "edit"]),
            "link": prop("string", ["embed", "view", "edit"], format="uri", readonly=True),
            "locale": prop("string", ["edit"], enum=["", "en_US"]),
            "nickname": prop("string", ["edit"]), "slug": prop("string", ["embed", "view", "edit"]),
            "registered_date": prop("string", ["edit"], format="date-time", readonly=True),
            "roles": prop("array", ["edit"], items={"type": "string"}),
            "password": prop("string", [], required=True),
            "capabilities": prop("object", ["edit"], readonly=True),
            "extra_capabilities": prop("object", ["edit"], readonly=True),
            "avatar_urls": prop("object", ["embed", "view", "edit"], readonly=True),
            "meta": {"type": "object", "context": ["view", "edit"], "properties": meta_props},
        },
    }


def render_listing(emu: WordPressEmulator, users: Sequence[EmuUser], context: str, site: str, pretty: bool,
                   spec: FieldSpec | None) -> bytes:
    """A listing's JSON, each user's part reused from ``_rendered`` while that user is unchanged:
    serialising 100 users (capabilities, avatar hashes, json) for every page made a page of
    a large site cost 5-8 ms of the emulator's time; reused, it is a fraction of one."""
    shape = (context, site, pretty, spec.fields if spec else None, emu.admin_id,
             tuple(emu.registered_meta.items()), tuple(sorted(emu.edit_only_meta)), tuple(emu.roles.items()))
    cache = emu._rendered.get(shape)
    if cache is None:
        if len(emu._rendered) >= 4:  # bounded: a run lists in one or two shapes
            emu._rendered.clear()
        cache = emu._rendered[shape] = {}
    parts = []
    for user in users:
        mark = (user.login, user.email, user.first_name, user.last_name, user.display_name, user.nickname,
                user.slug, user.url, user.description, user.registered, tuple(user.roles),
                tuple(user.meta.items()))
        hit = cache.get(user.id)
        if hit is None or hit[0] != mark:
            hit = (mark, php_json(_listed(emu, user, context, site, pretty, spec)))
            cache[user.id] = hit
        parts.append(hit[1])
    return b"[" + b",".join(parts) + b"]"


def options_document(emu: WordPressEmulator) -> dict[str, Any]:
    return {
        "namespace": "wp/v2",
        "methods": ["GET", "POST"],
        "endpoints": [
            {"methods": ["GET"], "args": {
                "context": {"type": "string", "enum": list(CONTEXTS), "default": "view", "required": False},
                "page": {"type": "integer", "default": 1, "minimum": 1, "required": False},
                "per_page": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100, "required": False},
                "search": {"type": "string", "required": False},
                "orderby": {"type": "string", "default": "name", "enum": list(ORDERBY), "required": False},
                "order": {"type": "string", "default": "asc", "enum": ["asc", "desc"], "required": False},
            }},
            {"methods": ["POST"], "args": {
                "username": {"type": "string", "required": True},
                "email": {"type": "string", "format": "email", "required": True},
                "password": {"type": "string", "required": True},
            }},
        ],
        "schema": schema_document(emu),
    }
