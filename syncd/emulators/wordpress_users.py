"""The WordPress emulator's users table: who exists, with which roles, and what they may do.

``EmuUser`` is one row of wp_users with its usermeta; ``CORE_ROLES`` are WordPress 6.1's roles
and capabilities. The functions look users up the way MySQL's collation does (logins and
emails case-insensitively), insert them as wp_insert_user would (names sanitised, a unique
slug, the display name WordPress derives), and answer capability checks. They work on the
``WordPressEmulator``'s state, under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syncd.emulators.wordpress_text import display_name, php_empty, sanitize_text, sanitize_title

if TYPE_CHECKING:
    from syncd.emulators.wordpress import WordPressEmulator


_ADMIN_CAPS: tuple[str, ...] = (
    "switch_themes", "edit_themes", "activate_plugins", "edit_plugins", "edit_users", "edit_files",
    "manage_options", "moderate_comments", "manage_categories", "manage_links", "upload_files", "import",
    "unfiltered_html", "edit_posts", "edit_others_posts", "edit_published_posts", "publish_posts", "edit_pages",
    "read", "level_10", "level_9", "level_8", "level_7", "level_6", "level_5", "level_4", "level_3", "level_2",
    "level_1", "level_0", "edit_others_pages", "edit_published_pages", "publish_pages", "delete_pages",
    "delete_others_pages", "delete_published_pages", "delete_posts", "delete_others_posts",
    "delete_published_posts", "delete_private_posts", "edit_private_posts", "read_private_posts",
    "delete_private_pages", "edit_private_pages", "read_private_pages", "delete_users", "create_users",
    "unfiltered_upload", "edit_dashboard", "update_plugins", "delete_plugins", "install_plugins",
    "update_themes", "install_themes", "update_core", "list_users", "remove_users", "promote_users",
    "edit_theme_options", "delete_themes", "export",
)
_EDITOR_CAPS: tuple[str, ...] = (
    "moderate_comments", "manage_categories", "manage_links", "upload_files", "unfiltered_html", "edit_posts",
    "edit_others_posts", "edit_published_posts", "publish_posts", "edit_pages", "read", "level_7", "level_6",
    "level_5", "level_4", "level_3", "level_2", "level_1", "level_0", "edit_others_pages",
    "edit_published_pages", "publish_pages", "delete_pages", "delete_others_pages", "delete_published_pages",
    "delete_posts", "delete_others_posts", "delete_published_posts", "delete_private_posts",
    "edit_private_posts", "read_private_posts", "delete_private_pages", "edit_private_pages",
    "read_private_pages",
)
_AUTHOR_CAPS: tuple[str, ...] = (
    "upload_files", "edit_posts", "edit_published_posts", "publish_posts", "read", "level_2", "level_1",
    "level_0", "delete_posts", "delete_published_posts",
)
#: WordPress core's roles and their capabilities, in the order 6.1 lists them.
CORE_ROLES: dict[str, tuple[str, ...]] = {
    "administrator": _ADMIN_CAPS,
    "editor": _EDITOR_CAPS,
    "author": _AUTHOR_CAPS,
    "contributor": ("edit_posts", "read", "level_1", "level_0", "delete_posts"),
    "subscriber": ("read", "level_0"),
}


@dataclass
class EmuUser:
    """One user row with its usermeta, as the emulator keeps it."""

    id: int
    login: str
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    nickname: str = ""
    slug: str = ""
    url: str = ""
    description: str = ""
    registered: str = ""
    roles: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    app_passwords: list[tuple[str, str, str]] = field(default_factory=list)  # (uuid, name, normalised password)
    published_posts: bool = False


def by_login(emu: WordPressEmulator, login: str) -> EmuUser | None:
    wanted = login.casefold()  # MySQL's collation: logins and emails compare case-insensitively
    return next((u for u in emu.users.values() if u.login.casefold() == wanted), None)


def by_email(emu: WordPressEmulator, email: str) -> EmuUser | None:
    wanted = email.casefold()
    return next((u for u in emu.users.values() if u.email.casefold() == wanted), None)


def by_id(emu: WordPressEmulator) -> list[EmuUser]:
    """Every user in id order; shared, so callers never change it. Kept until a user is added
    or deleted: copying and sorting 100,000 users for each page made a listing of a large
    site cost ~30 ms a page (the benchmarks read 1,000 pages)."""
    key = (len(emu.users), emu._next_id)
    if emu._ordered_key != key:
        emu._ordered = sorted(emu.users.values(), key=lambda u: u.id)
        emu._ordered_key = key
    return emu._ordered


def unique_slug(emu: WordPressEmulator, login: str, exclude: int = 0, taken: set[str] | None = None) -> str:
    base = sanitize_title(login) or "user"
    slug, n = base, 2
    if taken is None:
        taken = {u.slug for u in emu.users.values() if u.id != exclude}
    while slug in taken:
        suffix = f"-{n}"
        slug, n = base[: 50 - len(suffix)] + suffix, n + 1
    return slug


def insert(emu: WordPressEmulator, login: str, email: str, password: str, first: str, last: str, display: str = "",
           nickname: str = "", *, taken_slugs: set[str] | None = None) -> EmuUser:
    user = EmuUser(
        id=emu._next_id,
        login=login,
        email=email,
        password=password,
        first_name=sanitize_text(first),
        last_name=sanitize_text(last),
        display_name=display_name(first, last, display, login),
        nickname=login if php_empty(nickname) else sanitize_text(nickname),
        slug=unique_slug(emu, login, taken=taken_slugs),
        registered=emu._clock().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    )
    emu.users[user.id] = user
    emu._next_id += 1
    return user


def capabilities(emu: WordPressEmulator, user: EmuUser) -> dict[str, bool]:
    caps: dict[str, bool] = {}
    for role in user.roles:
        caps.update((c, True) for c in emu.roles.get(role, ()))
    caps.update((r, True) for r in user.roles)
    return caps


def can(emu: WordPressEmulator, user: EmuUser | None, capability: str) -> bool:
    return user is not None and capabilities(emu, user).get(capability, False)


def can_edit(emu: WordPressEmulator, actor: EmuUser | None, target: EmuUser) -> bool:
    return actor is not None and (actor.id == target.id or can(emu, actor, "edit_users"))
