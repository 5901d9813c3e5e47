"""Hostile names and emails: Hypothesis strategies, and a fixed sample for the real WordPress.

What a hosting company's customers really type, and what an attacker types: Unicode in both
normal forms, CJK, Cyrillic look-alikes of Latin letters, right-to-left text and bidi
controls, emoji with zero-width joiners, HTML and script tags, SQL-ish strings, values longer
than either side's columns, NUL and control characters, surrounding whitespace, case
variants, internationalised domains (raw and punycode), and emails WHMCS takes but WordPress
refuses. ``SAMPLE_NAMES`` / ``SAMPLE_EMAILS`` are the fixed, representative values sent to the
real WordPress (random values there would make a failure impossible to replay).
"""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: The profile of this suite: enough examples to matter, no deadline (runs go through HTTP
#: emulators and SQLite), the whole directory within about three minutes.
settings.register_profile(
    "hostile", max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
HOSTILE = settings.get_profile("hostile")
#: Adapter round trips (a dozen HTTP calls per example) and whole runs (two runs, a state store
#: and two emulators per example) get fewer examples.
HOSTILE_ADAPTERS = settings(HOSTILE, max_examples=100)
HOSTILE_RUNS = settings(HOSTILE, max_examples=40)

# -- pieces ---------------------------------------------------------------------------------

COMBINING = "\u0301\u0308\u0327\u030a\u0303"  # acute, diaeresis, cedilla, ring, tilde
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
CONTROLS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\t\n\r"
SPACES = " \t\u00a0\u2028\u3000"
HOMOGLYPHS = "АВЕКМНОРСТХаеорсух"  # Cyrillic letters that look Latin

MARKUP = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "<b>", "</b>", "<i>x</i>", "<br>", "<!-- c -->",
    "<a href='javascript:alert(1)'>", "<svg/onload=alert(1)>", "a < b", "a > b", "<3", "&amp;", "&lt;", "&nbsp;",
    "&copy2", "&#60;", "AT&T", "%20", "%3Cscript%3E", "<?php echo 1; ?>",
]
SQLISH = ["'; DROP TABLE wp_users;--", "' OR '1'='1", "Robert'); DROP TABLE tblclients;--", "\\'", "\\0", "1; --",
          '" OR ""="', "admin'--"]
WORDS = ["Ann", "Lee", "Zoë", "José", "Ægir", "Łukasz", "Søren", "Straße", "Nguyễn", "O'Brien", "van der Berg",
         "Mary-Ann", "李小龍", "山田", "김민준", "Иван", "Олена", "שרה", "محمد", "Δημήτρης", "🎉", "👩‍👩‍👧",
         "🏳️‍🌈", "👍🏽", "ﷺ", "İstanbul", "ǅ"]


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


word = st.sampled_from(WORDS) | st.sampled_from(WORDS).map(_nfd)
glyph = st.sampled_from(COMBINING + BIDI + ZERO_WIDTH + CONTROLS + SPACES + HOMOGLYPHS)
noise = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)  # utf-8: no lone surrogates
piece = st.one_of(word, glyph, st.sampled_from(MARKUP), st.sampled_from(SQLISH), noise)


@st.composite
def names(draw: st.DrawFn) -> str:
    """A first or last name: mostly short mixes of the pieces above, sometimes very long."""
    parts = draw(st.lists(piece, max_size=6))
    text = draw(st.sampled_from(["", " "])).join(parts)
    length = draw(st.sampled_from([0, 0, 0, 0, 101, 121, 256, 1001]))
    if length:
        text = (text or "x") * (length // max(1, len(text or "x")) + 1)
        text = text[:length]
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", "  ", "\t", "\u00a0"])) + text + draw(st.sampled_from(["", " ", "\n"]))
    return text


# -- emails -------------------------------------------------------------------------------------

_LOCAL_OK = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_'{|}~!#$%&*=?^`/",
                    min_size=1, max_size=20)
_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@st.composite
def plain_emails(draw: st.DrawFn) -> str:
    """Emails both sides accept (mostly): ASCII local part, dotted ASCII domain."""
    local = draw(st.from_regex(r"\A[a-z0-9][a-z0-9._+\-]{0,15}[a-z0-9]\Z"))
    labels = draw(st.lists(st.from_regex(r"\A[a-z0-9](?:[a-z0-9\-]{0,8}[a-z0-9])?\Z"), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "de", "co.uk", "test", "museum", "xn--p1ai"]))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def hostile_emails(draw: st.DrawFn) -> str:
    """Emails of every kind: valid, case variants, IDN, whitespace, too long, odd or broken."""
    base = draw(plain_emails())
    kind = draw(st.sampled_from([
        "plain", "upper", "mixed", "spaces", "idn", "punycode", "long101", "long255", "long1001", "odd_local",
        "quoted", "no_at", "two_at", "control", "markup", "homoglyph", "trailing_dot", "empty", "raw_local",
    ]))
    local, _, domain = base.partition("@")
    if kind == "plain":
        return base
    if kind == "upper":
        return base.upper()
    if kind == "mixed":
        return "".join(c.upper() if i % 2 else c for i, c in enumerate(base))
    if kind == "spaces":
        return draw(st.sampled_from([" ", "  ", "\t", "\u00a0"])) + base + draw(st.sampled_from(["", " ", "\n"]))
    if kind == "idn":
        return draw(st.sampled_from(["ü", "jürgen", "用户", "почта"])) + "@" + draw(
            st.sampled_from(["bücher.de", "例え.jp", "пример.рф", domain]))
    if kind == "punycode":
        return f"{local}@xn--bcher-kva.de"
    if kind.startswith("long"):
        size = int(kind[4:])
        return ("x" * size)[: size - len(domain) - 1] + "@" + domain
    if kind == "odd_local":
        return draw(_LOCAL_OK) + "@" + domain
    if kind == "quoted":
        return f'"{local} x"@{domain}'
    if kind == "no_at":
        return local + domain
    if kind == "two_at":
        return f"{local}@{local}@{domain}"
    if kind == "control":
        return local + draw(st.sampled_from(["\x00", "\n", "\r\n", "\x1b"])) + "@" + domain
    if kind == "markup":
        return draw(st.sampled_from(["<script>", '"><img src=x>', "a'--"])) + "@" + domain
    if kind == "homoglyph":
        return local.replace("a", "а").replace("o", "о") + "x@" + domain  # Cyrillic а, о
    if kind == "trailing_dot":
        return f"{local}@{domain}."
    if kind == "raw_local":
        return draw(noise) + "@" + domain
    return ""


# -- the fixed sample for the real WordPress --------------------------------------------------------

#: Names sent to the real WordPress, each for a reason (see test_real_wordpress.py).
SAMPLE_NAMES: tuple[str, ...] = (
    "Zoë",                                   # NFC
    _nfd("Zoë"),                             # the same name in NFD
    "李小龍",                                 # CJK
    "Аnn",                                   # a Cyrillic А
    "\u202eevil\u202c",                      # right-to-left override
    "שרה",                                   # Hebrew
    "👩\u200d👩\u200d👧",                     # an emoji ZWJ sequence
    "<b>Ann</b>",                            # a tag WordPress strips
    "<script>alert(1)</script>Bo",           # a script block WordPress removes with its content
    '"><img src=x onerror=alert(1)>',        # an attribute break-out
    "AT&T",                                  # an ampersand (kses stores &amp;)
    "a < b",                                 # a lone less-than
    "Robert'); DROP TABLE wp_users;--",      # SQL-ish
    "Mary  Ann",                             # a run of spaces (WordPress collapses it)
    "  Padded  ",                            # surrounding whitespace
    "100%ab",                                # a %-octet WordPress strips
    "Ann\x00Lee",                            # NUL
    "Ann\nLee",                              # a newline
    "x" * 121,                               # longer than a name may be on WordPress
    "\\0day",                                # a backslash-zero kses removes
    "&nbsp;Ann",                             # an entity typed as text
)

#: Emails sent to the real WordPress: what it accepts, and what syncd must keep away from it.
SAMPLE_EMAILS: tuple[str, ...] = (
    "Ann.Lee@Example.COM",                   # case kept, matched case-insensitively
    "ann+tag@example.com",                   # plus addressing
    "o'brien@example.com",                   # an apostrophe in the local part
    "a{b}|c~d@example.com",                  # odd but valid local part
    "ann@xn--bcher-kva.de",                  # punycode
    "ü@bücher.de",                           # IDN (WordPress refuses)
    " padded@example.com ",                  # surrounding whitespace
    "x" * 88 + "@example.com",               # 100 characters: the most WordPress stores
    "x" * 89 + "@example.com",               # 101 characters: WHMCS takes it, WordPress dies on it
    "<script>@example.com",                  # markup
    "аnn@example.com",                       # a Cyrillic а
    "ann@localhost",                         # no dot in the domain
)
