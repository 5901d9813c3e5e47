"""What a real WordPress 6.1 stores for hostile names and emails, and that the emulator agrees.

Each pair below was measured on Debian's WordPress 6.1.9 (PHP 8.2, MariaDB 10.11) through
``POST /wp/v2/users`` as an administrator, reading ``first_name`` back in ``context=edit``
(tests/hostile/test_real_wordpress.py measures a sample of them again on every run). In short:
WordPress strips tags and removes ``<script>``/``<style>`` blocks with their content, collapses
runs of space/tab/CR/LF (not U+00A0, U+2028 or U+0085), trims, removes ``%`` + two hex digits,
drops C0 controls, keeps NFD as NFD (no Unicode normalisation), escapes ``& < >`` as entities
(keeping only the HTML 4 entities it knows), takes "0" for no name, and keeps bidi controls,
zero-width characters and emoji as they are. User meta (the company) is stored raw.
"""

from __future__ import annotations

import html

import pytest

from syncd import mapping
from syncd.emulators import wordpress as wp_emulator
from syncd.emulators.wordpress_kses import stored_name
from syncd.model import Side

#: name sent → first_name as WordPress 6.1 stores it (and REST shows it).
MEASURED_NAMES: dict[str, str] = {
    "<b>Ann</b>": "Ann",
    "<script>alert(1)</script>Ann": "Ann",
    '"><img src=x onerror=alert(1)>': '"&gt;',
    "a < b": "a &lt; b",
    "a < b > c": "a &lt;b&gt; c",
    "x < y >": "x ",
    "< a href='x'>y": "&lt;a href='x'&gt;y",
    "AT&T": "AT&amp;T",
    "Tom &amp; Jerry": "Tom &amp; Jerry",
    "&lt;b&gt;": "&lt;b&gt;",
    "&copy2": "&amp;copy2",
    "&bigstar;": "&amp;bigstar;",
    "&apos;x": "&amp;apos;x",
    "&#60;x": "&#060;x",
    "&#x3c;": "&#x3c;",
    "&nbsp;Ann": "&nbsp;Ann",
    "100%ab": "100",
    "Ann%20Lee": "AnnLee",
    "%zz%41%4": "%zz%4",
    "%2541": "41",
    "  Ann  ": "Ann",
    "Mary  Ann": "Mary Ann",
    "Ann\tLee": "Ann Lee",
    "Ann\nLee": "Ann Lee",
    "Ann\x00Lee": "AnnLee",
    "Ann\x07": "Ann",
    "a\x7fb": "a\x7fb",
    "\xa0Ann\xa0": "\xa0Ann\xa0",
    "Ann\u2028Lee": "Ann\u2028Lee",
    "Ann\x85Lee": "Ann\x85Lee",
    "e\u0301": "e\u0301",
    "\u202eevil": "\u202eevil",
    "👩\u200d👩\u200d👧": "👩\u200d👩\u200d👧",
    "\\back\\slash": "\\back\\slash",
    "\\0day": "\\0day",
    "<3 you": "&lt;3 you",
    "<3 you >": "",
    "a<b": "a&lt;b",
    "<b x": "&lt;b x",
    "a<b c>d": "ad",
    "1 <2 >3": "1 3",
    "<<b>>": "&lt;&gt;",
    "'<b>'": "''",
    '"<x y=">">z': '"z',
    "<!-- c -->Ann": "Ann",
    "a<!--b": "a&lt;!--b",
    "<!x>y": "y",
    "<?x>y": "",
    "<?php echo 1; ?>x": "x",
    "Ann<br>Lee": "AnnLee",
    "<b>Acme</b> & Co": "Acme &amp; Co",
    "Robert'); DROP TABLE wp_users;--": "Robert'); DROP TABLE wp_users;--",
    "0": "",
    "%F0%9F": "",
}

#: email sent → stored email, or None when WordPress refused it (400 rest_invalid_param, or a
#: 500 PHP fatal for a 101-character one).
MEASURED_EMAILS: dict[str, str | None] = {
    "Ann.Lee@Example.COM": "Ann.Lee@Example.COM",
    "ann+tag@example.com": "ann+tag@example.com",
    "a..b@example.com": "a..b@example.com",
    ".ann@example.com": ".ann@example.com",
    "a{b}|c~d@example.com": "a{b}|c~d@example.com",
    "ann@xn--bcher-kva.de": "ann@xn--bcher-kva.de",
    "ann@127.0.0.1": "ann@127.0.0.1",
    "ann@example.c": "ann@example.c",
    "ann\n@example.com": "ann@example.com",
    "ann@example.com\n": None,
    " ann@example.com": None,
    "ü@bücher.de": None,
    '"ann"@example.com': None,
    "ann@localhost": None,
    "ann@-example.com": None,
    "ann@exa_mple.com": None,
    "<script>@example.com": None,
    "ann@[127.0.0.1]": None,
}


@pytest.mark.parametrize(("sent", "stored"), MEASURED_NAMES.items(), ids=repr)
def test_the_emulator_stores_names_as_wordpress_does(sent: str, stored: str) -> None:
    assert stored_name(sent) == stored


@pytest.mark.parametrize(("sent", "stored"), MEASURED_NAMES.items(), ids=repr)
def test_mapping_predicts_the_stored_name_or_refuses_it(sent: str, stored: str) -> None:
    refused = [m for n, m in mapping.problems(Side.WORDPRESS, {"first_name": sent}) if "markup" in m]
    if not refused:
        assert mapping.as_stored(Side.WORDPRESS, "first_name", sent) == html.unescape(stored)


@pytest.mark.parametrize(("sent", "stored"), MEASURED_EMAILS.items(), ids=repr)
def test_the_emulator_accepts_and_stores_emails_as_wordpress_does(sent: str, stored: str | None) -> None:
    accepted = wp_emulator.is_email(sent)
    assert accepted == (stored is not None)
    if stored is not None:
        assert wp_emulator.sanitize_email(sent) == stored
        assert mapping.is_valid_email(stored)


def test_measured_display_names() -> None:
    # Created with only a first (or last) name, the display name is that name; with neither, the
    # login; "0" counts as empty. 250 stored characters fit, 251 fail the create with a 500.
    assert wp_emulator.display_name("Ann", "", "", "login") == "Ann"
    assert wp_emulator.display_name("", "Lee", "", "login") == "Lee"
    assert wp_emulator.display_name("", "", "0", "login") == "login"
    assert len(wp_emulator.display_name("", "", "&" * 50, "login")) == 250
