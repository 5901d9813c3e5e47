"""WordPress usernames for new users: made by the configured scheme, valid as WordPress requires.

WordPress 6.1 accepts a login of at most 60 characters from ``[A-Za-z0-9 _.\\-@]`` (its
``sanitize_user`` in strict mode must leave it unchanged; runs of spaces are refused) and
refuses a login that exists in any case (``existing_user_login``). Pure: no IO; the adapter
tries ``candidates()`` in order until WordPress accepts one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Literal

MAX_LOGIN = 60
MAX_EMAIL = 100

Scheme = Literal["email", "name"]

_DISALLOWED = re.compile(r"[^A-Za-z0-9 _.\-@]")
_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"\.{2,}")

# Letters that Unicode does not decompose into an ASCII base letter; the rest (é, ü, ñ, …)
# lose their accents through NFKD below, as WordPress's remove_accents() does.
_SPECIAL = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L",
    "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "OE", "ð": "d", "Ð": "D", "ı": "i", "ħ": "h", "Ħ": "H",
})


def ascii_fold(text: str) -> str:
    """Transliterate to ASCII where a Latin base letter exists; drop what has none."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()


def clean(text: str) -> str:
    """A string WordPress accepts as (part of) a login: allowed characters, single spaces, trimmed."""
    folded = _DISALLOWED.sub("", ascii_fold(text))
    return _SPACES.sub(" ", folded).strip()


def _name_part(text: str) -> str:
    # "Mary Ann" → "mary.ann": no spaces at all, so no run of spaces can appear after a cut.
    return _DOTS.sub(".", clean(text).lower().replace(" ", ".")).strip(".")


def _cut(text: str, limit: int) -> str:
    return text[:limit].rstrip(" .-_")


def base_username(scheme: Scheme, email: str, first_name: str = "", last_name: str = "") -> str:
    """The first login to try: the email itself, or ``first.last``; never empty, ≤ 60 chars."""
    local = email.strip().split("@", 1)[0]
    if scheme == "email":
        whole = clean(email).replace(" ", "")
        if whole and len(whole) <= MAX_LOGIN and whole == email.strip():
            return whole
        # An email WordPress cannot take as a login (too long, non-ASCII): its cleaned local part.
        candidate = _cut(clean(local).replace(" ", ""), MAX_LOGIN)
    else:
        parts = [p for p in (_name_part(first_name), _name_part(last_name)) if p]
        candidate = _cut(".".join(parts), MAX_LOGIN) or _cut(_name_part(local), MAX_LOGIN)
    return candidate or "user"


def with_suffix(base: str, number: int) -> str:
    """``base`` with ``-N`` appended, cut so the whole stays within 60 characters.

    The suffix goes at the very end (``ann@example.com-2``), so a login never looks like
    another person's email address.
    """
    suffix = f"-{number}"
    return _cut(base, MAX_LOGIN - len(suffix)) + suffix


def candidates(base: str, attempts: int) -> Iterator[str]:
    """``base``, then ``base-2``, ``base-3``, … (``attempts`` logins in all)."""
    yield base
    for number in range(2, attempts + 1):
        yield with_suffix(base, number)


def is_valid_login(login: str) -> bool:
    """True if WordPress 6.1 would accept ``login`` as a new user's login (uniqueness aside)."""
    return (
        0 < len(login) <= MAX_LOGIN
        and not _DISALLOWED.search(login)
        and "  " not in login
        and login == login.strip()
    )
