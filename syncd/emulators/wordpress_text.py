"""What WordPress does to the text it is given, for the emulator: emails, logins, slugs, names.

``is_email`` and ``valid_login`` decide what WordPress accepts; ``sanitize_*`` and
``display_name`` what it stores (names go through ``wordpress_kses``); ``php_json`` writes JSON
as PHP's json_encode does. syncd's own rules for WordPress usernames are tested against these.
"""

from __future__ import annotations

import json
import re
from typing import Any

from syncd.emulators.wordpress_kses import stored_name

_LOGIN_DISALLOWED = re.compile(r"[^A-Za-z0-9 _.\-@]")
_EMAIL_LOCAL = re.compile(r"^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_PART = re.compile(r"^[a-z0-9-]+$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_EMAIL_STRAY = re.compile(r"[^a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]")


def sanitize_text(value: str) -> str:
    """What WordPress stores for a name (sanitize_text_field + kses + _wp_specialchars; see wordpress_kses)."""
    return stored_name(value)


def sanitize_email(value: str) -> str:
    """What WordPress stores for an email is_email() accepted: trimmed, the local part's stray characters
    dropped (``ann\\n@example.com`` passes is_email, PHP's ``$`` allowing a final newline, and is stored
    without it)."""
    local, _, domain = value.strip().partition("@")
    return _EMAIL_STRAY.sub("", local) + "@" + domain


def sanitize_title(value: str) -> str:
    """WordPress's user_nicename (slug): lower case, dots → dashes, only [a-z0-9_-], ≤ 50 chars."""
    text = value.lower().replace(".", "-")
    text = re.sub(r"[^a-z0-9 _-]", "", text)
    text = re.sub(r"\s+", "-", text)
    text = re.sub(r"-+", "-", text).strip("-")
    return text[:50]


def is_email(value: str) -> bool:
    """WordPress's is_email(), closely enough: ASCII local part and a dotted hostname."""
    if len(value) < 6 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or not _EMAIL_LOCAL.match(local) or ".." in domain:
        return False
    parts = domain.split(".")
    # PHP trims each label of whitespace and hyphens and refuses it if that changed anything.
    return len(parts) >= 2 and all(p and _DOMAIN_PART.match(p) and p.strip(" \t\n\r\0\x0b-") == p for p in parts)


def php_empty(value: str) -> bool:
    return value in ("", "0")  # PHP's empty() on a string: "0" is empty too


def display_name(first: str, last: str, display: str, login: str) -> str:
    """The display name wp_insert_user stores on create: the one given, else "first last", the one
    name there is, or the login (each name as stored; a name of "0" counts as none)."""
    if not php_empty(display):
        return sanitize_text(display)
    names = [n for n in (sanitize_text(f) for f in (first, last) if not php_empty(f)) if not php_empty(n)]
    return sanitize_text(" ".join(names)) if names else login


def valid_login(login: str) -> bool:
    cleaned = " ".join(_LOGIN_DISALLOWED.sub("", _TAGS.sub("", login)).split())
    return bool(cleaned) and cleaned == login


def normalise_app_password(value: str) -> str:
    return re.sub(r"[^a-z\d]", "", value, flags=re.IGNORECASE)


def php_json(data: Any) -> bytes:
    """JSON as PHP's json_encode writes it: ASCII with \\u escapes, and escaped slashes."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode("ascii")
