"""The shared rules between the two sides' common fields: usernames, dummy values, validity.

Adapters parse their own wire formats into ``Record``s; what both sides and the planner
must agree on lives here: which email is valid, how long a field may be on each side, which
values are configured dummies, and how a new WordPress login is made. Pure: no IO, so the
planner (``syncd.sync``) uses it too.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from html.entities import name2codepoint
from typing import Literal

from syncd.errors import InvalidRecord
from syncd.model import DEFAULT_FIELDS, Side, normalise
from syncd.usernames import MAX_LOGIN, base_username, candidates, is_valid_login

__all__ = [
    "LIMITS",
    "MAX_LOGIN",
    "as_stored",
    "fill_dummies",
    "is_dummy",
    "is_transit_email",
    "is_valid_email",
    "is_valid_login",
    "problems",
    "require_valid",
    "transit_email",
    "unique_username",
]

#: Longest value each side stores, by common field, in characters. WordPress: the email column
#: is 100 (a longer one is a PHP fatal, reference/wordpress.md); the adapter builds
#: display_name (250) from "first last", so each name gets 120, counted as WordPress stores it
#: (``&`` as ``&amp;``: see ``as_stored``). WHMCS keeps names and company in wide columns; 255
#: is the most its admin forms accept.
LIMITS: Mapping[Side, Mapping[str, int]] = {
    Side.WORDPRESS: {"email": 100, "first_name": 120, "last_name": 120, "company": 255, "phonenumber": 64},
    Side.WHMCS: {"email": 255, "first_name": 255, "last_name": 255, "company": 255, "phonenumber": 64},
}
DEFAULT_LIMIT = 255
#: WordPress's display_name column, which the adapter fills with "first last" on create.
DISPLAY_NAME_LIMIT = 250

# WordPress's is_email(): the stricter of the two sides, so an email valid here is one both
# sides accept. Local part: these ASCII characters; domain: at least two dot-separated ASCII
# labels, none empty, none starting or ending with "-". One expression: the planner checks
# every listed account on every run.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.\-]+@{_LABEL}(?:\.{_LABEL})+")


def is_matchable_email(value: str) -> bool:
    """True if ``value`` can be a user's key: valid as it is, or once its internationalised
    domain is written in punycode (``ann@bücher.de``: WordPress only takes ``ann@xn--bcher-kva.de``,
    the same mailbox, which may be the partner it must be linked with). Writing such an email
    to WordPress is still refused (``problems``)."""
    if is_valid_email(value):
        return True
    local, at, domain = value.strip().rpartition("@")
    if not at or domain.isascii():
        return False
    try:
        return is_valid_email(f"{local}@{domain.encode('idna').decode('ascii')}")
    except UnicodeError:
        return False


def is_valid_email(value: str) -> bool:
    """True if ``value`` (trimmed) is an email address both sides accept (WordPress's is_email rules)."""
    email = value.strip()
    # fullmatch, not match with "$": "$" would let a final newline through.
    return len(email) >= 6 and _EMAIL.fullmatch(email) is not None


#: The domain of the temporary addresses syncd parks an account on while linked users swap
#: emails (DESIGN §5.3, issue 10): ``.invalid`` is reserved (RFC 2606, RFC 6761), so no
#: person owns such an address and no mail sent to it is ever delivered; and both sides
#: accept it (WordPress's is_email wants two dot-separated labels, WHMCS a user@host.tld shape).
TRANSIT_DOMAIN = "syncd.invalid"
_TRANSIT_SUFFIX = "@" + TRANSIT_DOMAIN


def transit_email(side: Side, remote_id: int) -> str:
    """The temporary address of one account, derived from its side and id: unique on its side,
    recognisable, and valid on both sides (``is_valid_email``)."""
    return f"syncd-transit-{side.value}-{remote_id}{_TRANSIT_SUFFIX}"


def is_transit_email(value: str) -> bool:
    """True for an address on syncd's transit domain: an account "in transit" between two emails,
    never an edit made by a person, never copied to the other side, never a key to match on."""
    return value.strip().casefold().endswith(_TRANSIT_SUFFIX)


# What WordPress does to a first or last name as it stores it (measured on 6.1, and modelled in
# full by the emulator): sanitize_text_field() twice (the REST argument, then pre_user_*),
# kses, then < > & escaped; the adapter reads the stored text back HTML-unescaped.
_MARKUP = re.compile(r"<[^<>]*>")  # a "<" closed by a ">" before the next "<": a tag to WordPress
_SCRIPT_STYLE = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.I | re.S)
_LONE_LT = re.compile(r"<[^>]*?(?:(?=<)|>|$)", re.S)  # wp_pre_kses_less_than(): no ">" in it = a lone "<"
_WP_SPACES = re.compile(r"[\r\n\t ]+")
_WP_OCTET = re.compile(r"%[a-fA-F0-9]{2}")
_WP_NULLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WP_ENTITY = re.compile(r"&(?:([A-Za-z]{2,8}[0-9]{0,2})|#(0*[0-9]{1,7})|#[xX](0*[0-9A-Fa-f]{1,6}));")
_PHP_TRIM = " \t\n\r\0\x0b"
_NAME_FIELDS = frozenset({"first_name", "last_name"})


def _known_entity(match: re.Match[str]) -> bool:
    named, decimal, hexadecimal = match.groups()
    if named is not None:
        return named in name2codepoint
    number = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return (number in (0x9, 0xA, 0xD) or 0x20 <= number <= 0xD7FF or 0xE000 <= number <= 0xFFFD
            or 0x10000 <= number <= 0x10FFFF)


def _normalised_entity(match: re.Match[str]) -> str:
    named, decimal, hexadecimal = match.groups()
    if named is not None:
        return match.group()
    if decimal is not None:
        return f"&#{decimal.lstrip('0').rjust(3, '0')};"
    return f"&#x{hexadecimal.lstrip('0')};"


def _escape_lone(match: re.Match[str]) -> str:
    text = match.group()
    if ">" in text:
        return text  # a tag
    return text.replace("<", "&lt;").replace('"', "&quot;").replace("'", "&#039;")  # esc_html()


def _strip_tags(text: str) -> str | None:
    """``text`` as WordPress strips it: a lone ``<`` escaped, script/style blocks removed, then
    tags and comments; None for markup that PHP's strip_tags() and kses treat in ways not worth
    predicting (a space after ``<``, quotes or ``<?`` in a tag)."""
    text = _SCRIPT_STYLE.sub("", _LONE_LT.sub(_escape_lone, text))
    for tag in _MARKUP.finditer(text):
        inner = tag.group()[1:-1]
        if inner[:1] in (" ", "\t", "\n", "\r", "\x0b", "\x0c", "?") or "'" in inner or '"' in inner:
            return None
    return _MARKUP.sub("", text).strip(_PHP_TRIM)


def _wordpress_name(value: str) -> tuple[int, str] | None:
    """(the length of the text WordPress stores, the text the adapter reads back) for a name, or
    None when the name holds markup that WordPress rewrites in ways not worth predicting."""
    if value in ("", "0"):  # PHP's empty(): "0" is no name
        return 0, ""
    stripped = _strip_tags(value) if "<" in value else value
    if stripped is None:
        return None
    text = stripped
    for _ in range(2):
        text = _WP_SPACES.sub(" ", text).strip(_PHP_TRIM)
        found = False
        while (octet := _WP_OCTET.search(text)) is not None:
            text = text.replace(octet.group(), "")
            found = True
        if found:
            text = re.sub(" +", " ", text).strip(_PHP_TRIM)
    text = _WP_NULLS.sub("", text)
    stored: list[str] = []
    read: list[str] = []
    position = 0
    for match in [*_WP_ENTITY.finditer(text), None]:
        plain = text[position:] if match is None else text[position:match.start()]
        stored.append(html.escape(plain, quote=False))
        read.append(plain)
        if match is None:
            break
        known = _known_entity(match)
        stored.append(_normalised_entity(match) if known else html.escape(match.group(), quote=False))
        read.append(html.unescape(match.group()) if known else match.group())
        position = match.end()
    return sum(map(len, stored)), "".join(read)


def as_stored(side: Side, name: str, value: str) -> str:
    """``value`` as ``side`` keeps it, read back by its adapter, once written to field ``name``.

    WordPress rewrites names: tags, script blocks and comments are stripped, runs of spaces,
    tabs and newlines become one space, ``%`` and two hex digits are removed, control
    characters dropped, entities it knows (``&amp;``) decoded, "0" taken for no name. The
    planner compares what WordPress holds with this, so such a rewrite never looks like an
    edit. Markup whose fate cannot be told is returned unchanged: ``problems`` refuses to send
    it. Every other value, and everything on WHMCS, is kept as sent.
    """
    if side is Side.WORDPRESS and name in _NAME_FIELDS:
        rewritten = _wordpress_name(value)
        if rewritten is not None:
            return rewritten[1]
    return value


def _control_chars(value: str) -> list[str]:
    return sorted({f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) == "Cc"})


#: What WordPress strips from a mapped field as it stores it (the companion sanitises meta with
#: ``sanitize_text_field``, as WooCommerce does): tags, a lone ``<`` (kept as ``&lt;``), and ``%``
#: with two hex digits.
_TAG = re.compile(r"<")
_PERCENT_OCTET = re.compile(r"%[0-9A-Fa-f]{2}")


def _stripped_from_meta(value: str) -> str:
    """Why a mapped value would not come back from WordPress as sent (so it would be rewritten at
    every run), or "" when it would."""
    tag = _TAG.search(value)
    if tag:
        return (f"contains markup or a '<' ({value[tag.start():tag.start() + 12]!r}), which WordPress strips or "
                "rewrites in this field; remove it where the value comes from")
    octet = _PERCENT_OCTET.search(value)
    if octet:
        return (f"contains {octet.group()!r}, which WordPress strips from this field as an encoded character; "
                "write it another way where the value comes from")
    return ""


def problems(side: Side, fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """What stops ``fields`` from being written to ``side``: ``(field, message)`` pairs, empty if none.

    Checks the email's syntax, each value's length on that side, control characters (a
    newline or a NUL in a name is never what a person typed into a form), and, for a name
    going to WordPress, markup whose fate there cannot be told (see ``as_stored``).
    """
    found: list[tuple[str, str]] = []
    limits = LIMITS[side]
    for name in sorted(fields):
        value = fields[name]
        if name == "email" and not is_valid_email(value):
            found.append((name, f"{value.strip()!r} is not a valid email address"))
            continue
        limit = limits.get(name, DEFAULT_LIMIT)
        length, counted = len(value.strip()), ""
        if side is Side.WORDPRESS and name in _NAME_FIELDS:
            wordpress = _wordpress_name(value)
            if wordpress is None:
                found.append((name, "contains markup that WordPress would rewrite unpredictably (a space after "
                                    "'<', quotes or '<?' inside a tag)"))
            elif wordpress[0] != length:  # as stored: "&" takes five characters of the column
                length, counted = wordpress[0], " as WordPress stores it"
        if length > limit:
            found.append((name, f"has {length} characters{counted}; {side.display} stores at most {limit}"))
        if side is Side.WORDPRESS and name not in DEFAULT_FIELDS:
            stripped = _stripped_from_meta(value)
            if stripped:
                found.append((name, stripped))
        bad = _control_chars(value.strip())  # a tab or newline around a value is whitespace, trimmed everywhere
        if bad:
            found.append((name, f"contains control characters ({', '.join(bad)})"))
    if side is Side.WORDPRESS and "first_name" in fields and "last_name" in fields:
        found += _display_name_problem(fields["first_name"], fields["last_name"])
    return found


def _display_name_problem(first: str, last: str) -> list[tuple[str, str]]:
    """The two names side by side must fit WordPress's display-name column too: a lone ``<`` at
    the end of one escapes the quotes of the other, so two names that fit alone may not together
    (a create WordPress then answers with a PHP fatal)."""
    display = " ".join(p for p in (first.strip(), last.strip()) if p)
    stored = _wordpress_name(display)
    # Unpredictable markup: bound it by escaping every character that can grow.
    length = stored[0] if stored is not None else sum(
        6 if c in "'\"" else 5 if c == "&" else 4 if c in "<>" else 1 for c in display)
    if length <= DISPLAY_NAME_LIMIT:
        return []
    return [("last_name", f"with the first name makes a display name of {length} characters as WordPress "
                          f"stores it; WordPress stores at most {DISPLAY_NAME_LIMIT}")]


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
