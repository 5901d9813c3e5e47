"""What WordPress 6.1 stores for a user's name, for the emulator: its text filters, re-told in Python.

first_name, last_name, nickname and display_name ("name" in REST) pass through
sanitize_text_field() (the REST argument's sanitizer, and again the ``pre_user_*`` filter),
then wp_filter_kses() with the default allowed tags, then _wp_specialchars(). In words:

- a ``<`` with no ``>`` before the next ``<`` is text (escaped); ``<script>``/``<style>`` blocks
  go with their content; PHP's strip_tags() removes every other tag, comment and ``<?…``;
- runs of space, tab, CR and LF become one space; the value is trimmed; ``%`` followed by two
  hex digits is removed (repeatedly);
- kses removes the C0 controls other than tab/LF/CR, keeps only the entities it knows
  (HTML 4 names, valid numeric references) and escapes every other ``&``; a leftover
  ``< b >`` (a space after ``<`` fools strip_tags) is rebuilt if ``b`` is an allowed tag and
  dropped otherwise; ``<`` and ``>`` end up as ``&lt;`` and ``&gt;``.

Checked value by value against a real WordPress 6.1 (tests/hostile/test_real_wordpress.py
and reference/wordpress.md); attribute filtering of allowed tags (URL protocols) is not
modelled. A display name longer than 250 characters *as stored* does not fit its column.
"""

from __future__ import annotations

import re
from html.entities import name2codepoint

#: kses's $allowedtags (the "default" context), with the attributes each may keep.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}), "abbr": frozenset({"title"}), "acronym": frozenset({"title"}),
    "b": frozenset(), "blockquote": frozenset({"cite"}), "cite": frozenset(), "code": frozenset(),
    "del": frozenset({"datetime"}), "em": frozenset(), "i": frozenset(), "q": frozenset({"cite"}),
    "s": frozenset(), "strike": frozenset(), "strong": frozenset(),
}
DISPLAY_NAME_MAX = 250  # wp_users.display_name is varchar(250)

_PHP_SPACE = " \t\n\r\x0b\x0c"  # C's isspace()
_PHP_TRIM = " \t\n\r\0\x0b"  # PHP's trim() default
_LESS_THAN = re.compile(r"<[^>]*?((?=<)|>|$)", re.S)
_SCRIPT_STYLE = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.I | re.S)
_WHITESPACE = re.compile(r"[\r\n\t ]+")
_OCTET = re.compile(r"%[a-f0-9]{2}", re.I)
_NULLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_KSES_SPLIT = re.compile(r"(<!--.*?(-->|$))|(<[^>]*(>|$)|>)", re.S)
_KSES_TAG = re.compile(r"^<\s*(/\s*)?([a-zA-Z0-9-]+)([^>]*)>?$", re.S)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-\w:.]*)(\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""")
_ENTITY = re.compile(r"&(?:([A-Za-z]{2,8}[0-9]{0,2})|#(0*[0-9]{1,7})|#[xX](0*[0-9A-Fa-f]{1,6}));")


def _valid_unicode(number: int) -> bool:
    return (number in (0x9, 0xA, 0xD) or 0x20 <= number <= 0xD7FF or 0xE000 <= number <= 0xFFFD
            or 0x10000 <= number <= 0x10FFFF)


def normalize_entities(text: str) -> str:
    """kses: every ``&`` becomes ``&amp;`` unless it starts an entity kses knows."""
    out: list[str] = []
    position = 0
    for match in _ENTITY.finditer(text):
        out.append(text[position:match.start()].replace("&", "&amp;"))
        named, decimal, hexadecimal = match.groups()
        if named is not None:
            out.append(match.group() if named in name2codepoint else "&amp;" + match.group()[1:])
        elif decimal is not None:
            ok = _valid_unicode(int(decimal))
            out.append(f"&#{decimal.lstrip('0').rjust(3, '0')};" if ok else "&amp;" + match.group()[1:])
        else:
            ok = _valid_unicode(int(hexadecimal, 16))
            out.append(f"&#x{hexadecimal.lstrip('0')};" if ok else "&amp;" + match.group()[1:])
        position = match.end()
    out.append(text[position:].replace("&", "&amp;"))
    return "".join(out)


def _esc_html(text: str) -> str:
    text = normalize_entities(text)
    return text.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#039;")


def pre_kses_less_than(text: str) -> str:
    """A ``<`` that no ``>`` follows before the next ``<`` (or the end) is text: escape it."""
    return _LESS_THAN.sub(lambda m: m.group() if ">" in m.group() else _esc_html(m.group()), text)


def strip_tags(text: str) -> str:
    """PHP 8's strip_tags() with no allowed tags: its state machine (text, tag, ``<?``, ``<!``, comment)."""
    out: list[str] = []
    state = 0  # 0 text, 1 tag, 2 "<?", 3 "<!", 4 "<!--"
    depth = 0
    quote = ""
    for i, c in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c == "<":
            if quote:
                continue
            if nxt and nxt in _PHP_SPACE:
                out.append(c)
            elif state == 0:
                state = 1
            elif state == 1:
                depth += 1
        elif c == ">":
            if depth:
                depth -= 1
            elif quote:
                continue
            elif state in (1, 3) or (state == 2 and prev == "?") or (state == 4 and text[i - 2:i] == "--"):
                state, quote = 0, ""
            elif state == 0:
                out.append(c)
        elif c in "\"'":
            if state == 0:
                out.append(c)
            elif state != 4 and (state == 1 or prev != "\\") and (not quote or c == quote):
                quote = "" if quote else c
        elif c == "!" and state == 1 and prev == "<":
            state = 3
        elif c == "-" and state == 3 and text[i - 2:i] == "!-":
            state = 4
        elif c == "?" and state == 1 and prev == "<":
            state = 2
        elif state == 0:
            out.append(c)
    return "".join(out)


def sanitize_text_field(value: str) -> str:
    """WordPress's sanitize_text_field() (newlines not kept)."""
    text = value
    if "<" in text:
        text = pre_kses_less_than(text)
        text = strip_tags(_SCRIPT_STYLE.sub("", text)).strip(_PHP_TRIM)  # wp_strip_all_tags()
        text = text.replace("<\n", "&lt;\n")
    text = _WHITESPACE.sub(" ", text).strip(_PHP_TRIM)
    found = False
    while (match := _OCTET.search(text)) is not None:
        text = text.replace(match.group(), "")
        found = True
    if found:
        text = re.sub(" +", " ", text).strip(_PHP_TRIM)
    return text


def _kses_piece(match: re.Match[str]) -> str:
    piece = match.group().replace('\\"', '"')
    if not piece.startswith("<"):
        return "&gt;"
    if piece.startswith("<!--"):
        return ""  # strip_tags() removed every whole comment already; what is left is not one
    tag = _KSES_TAG.match(piece)
    if tag is None:
        return ""
    slash, element, attributes = tag.groups()
    allowed = ALLOWED_TAGS.get(element.lower())
    if allowed is None:
        return ""
    if slash and slash.strip():
        return f"</{element}>"
    kept = [m.group() for m in _ATTRIBUTE.finditer(attributes) if m.group(1).lower() in allowed]
    xhtml = " /" if re.search(r"\s*/\s*$", attributes) else ""
    return f"<{element}{''.join(' ' + a for a in kept)}{xhtml}>"


def kses(text: str) -> str:
    """wp_kses() with the default allowed tags (no C0 controls, known entities, allowed tags rebuilt)."""
    text = _NULLS.sub("", text)
    text = normalize_entities(text)
    return _KSES_SPLIT.sub(_kses_piece, text)


def stored_name(value: str) -> str:
    """What WordPress stores (and REST shows) for a name field written with ``value``.

    PHP's empty() comes first: "0" counts as no name at all.
    """
    if value in ("", "0"):
        return ""
    text = sanitize_text_field(sanitize_text_field(value))  # the REST argument, then pre_user_*
    text = kses(text)
    return normalize_entities(text).replace("<", "&lt;").replace(">", "&gt;")  # _wp_specialchars()
