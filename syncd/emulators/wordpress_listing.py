"""``GET /wp/v2/users`` in the WordPress emulator: filters, search, order and pages.

Parameters are checked as WordPress's schema does (all invalid ones reported together);
without ``list_users`` only authors with published posts are visible; ``search`` follows
WordPress's column rules; the answer carries ``X-WP-Total``, ``X-WP-TotalPages`` and the
``Link`` header with ``prev``/``next``, built from the query as it was sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from syncd.emulators.wordpress_errors import ApiError, invalid_params
from syncd.emulators.wordpress_fields import requested_fields
from syncd.emulators.wordpress_json import CONTEXTS, ORDERBY, Raw, render_listing, rest_url
from syncd.emulators.wordpress_users import EmuUser, by_id, can

if TYPE_CHECKING:
    from syncd.emulators.wordpress import WordPressEmulator


def list_users(
    emu: WordPressEmulator,
    query: Mapping[str, str],
    query_order: list[tuple[str, str]],
    actor: EmuUser | None,
    site: str,
    pretty: bool,
) -> tuple[int, Any, list[tuple[str, str]]]:
    invalid: dict[str, tuple[str, str]] = {}
    context = query.get("context", "view")
    if context not in CONTEXTS:
        invalid["context"] = ("rest_not_in_enum", "context is not one of view, embed, and edit.")
    page = _int_param(query, "page", 1, invalid, minimum=1)
    per_page = _int_param(query, "per_page", 10, invalid, minimum=1, maximum=100)
    offset = _int_param(query, "offset", None, invalid)
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        invalid["order"] = ("rest_not_in_enum", "order is not one of asc and desc.")
    orderby = query.get("orderby", "name")
    if orderby not in ORDERBY:
        invalid["orderby"] = ("rest_not_in_enum",
                              "orderby is not one of id, include, name, registered_date, slug, include_slugs, "
                              "email, and url.")
    if invalid:
        raise invalid_params(invalid)
    can_list = can(emu, actor, "list_users")
    if context == "edit" and not can_list:
        raise ApiError(403 if actor else 401, "rest_forbidden_context",
                       "Sorry, you are not allowed to edit users.")
    users: list[EmuUser] = by_id(emu)  # shared: every step below makes a new list
    if not can_list:
        users = [u for u in users if u.published_posts]  # what anyone may see: authors
    if query.get("roles"):
        wanted = set(query["roles"].split(","))
        users = [u for u in users if wanted & set(u.roles)]
    if query.get("include"):
        ids = [int(i) for i in query["include"].split(",") if i.strip().isdigit()]
        users = [u for u in users if u.id in ids]
    if query.get("exclude"):
        skip = {int(i) for i in query["exclude"].split(",") if i.strip().isdigit()}
        users = [u for u in users if u.id not in skip]
    if query.get("slug"):
        slugs = set(query["slug"].split(","))
        users = [u for u in users if u.slug in slugs]
    if query.get("search"):
        users = [u for u in users if _search_match(u, query["search"])]
    if orderby == "id":
        if order == "desc":
            users = users[::-1]
    else:
        users = sorted(users, key=lambda u: (_sort_key(u, orderby, query), u.id), reverse=order == "desc")
    total = len(users)
    pages = math.ceil(total / per_page) if total else 0
    start = offset if offset is not None else (page - 1) * per_page
    chunk = users[start:start + per_page]
    body = Raw(render_listing(emu, chunk, context, site, pretty, requested_fields(query_order)))
    extra = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
    links = []
    base = rest_url(site, "/wp/v2/users", pretty)

    def page_link(number: int) -> str:
        items = [(k, v) for k, v in query_order if k != "page"]
        positions = [k for k, _ in query_order]
        if "page" in positions:
            items.insert(positions.index("page"), ("page", str(number)))
        else:
            items.append(("page", str(number)))
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}{urlencode(items, quote_via=quote)}"

    if page > 1:
        links.append(f"<{page_link(min(page - 1, pages) if pages else 1)}>; rel=\"prev\"")
    if page < pages:
        links.append(f"<{page_link(page + 1)}>; rel=\"next\"")
    if links:
        extra.append(("Link", ", ".join(links)))
    extra.append(("Allow", "GET, POST"))
    return 200, body, extra


def _int_param(query: Mapping[str, str], name: str, default: int | None, invalid: dict[str, tuple[str, str]], *,
               minimum: int | None = None, maximum: int | None = None) -> Any:
    if name not in query:
        return default
    raw = query[name].strip()
    if not re.fullmatch(r"-?\d+", raw):
        invalid[name] = ("rest_invalid_type", f"{name} is not of type integer.")
        return default
    value = int(raw)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        invalid[name] = ("rest_out_of_bounds",
                         f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)")
    elif minimum is not None and value < minimum:
        invalid[name] = ("rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}")
    return value


def _search_match(user: EmuUser, term: str) -> bool:
    """WordPress's user search: ``*term*``, case-insensitive; '@' → email only; digits → login or ID."""
    core = term.strip("*").casefold()
    if "@" in term:
        columns = [user.email]
    elif term.isdigit():
        if str(user.id) == term:
            return True
        columns = [user.login]
    elif re.match(r"^https?://", term):
        columns = [user.url]
    else:
        columns = [user.login, user.url, user.email, user.slug, user.display_name]
    return any(core in c.casefold() for c in columns)


def _sort_key(user: EmuUser, orderby: str, query: Mapping[str, str]) -> Any:
    if orderby == "id":
        return user.id
    if orderby == "include":
        ids = [int(i) for i in query.get("include", "").split(",") if i.strip().isdigit()]
        return ids.index(user.id) if user.id in ids else len(ids)
    if orderby == "registered_date":
        return user.registered
    if orderby in ("slug", "include_slugs"):
        return user.slug
    if orderby == "email":
        return user.email.casefold()
    if orderby == "url":
        return user.url.casefold()
    return user.display_name.casefold()
