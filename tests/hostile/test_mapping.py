"""Hostile input through mapping: usernames, validation, and what WordPress keeps of a name.

Properties, checked on Hypothesis-generated values (tests/hostile/strategies.py):

- a generated login is always one WordPress 6.1 accepts (≤ 60 characters from
  ``[A-Za-z0-9 _.-@]``, no run of spaces, no surrounding space), unique in any case, and the
  same for the same input;
- every problem names its field; ``require_valid`` names the user and the field;
- an email mapping accepts is one both emulated sides accept (WordPress's is_email and length,
  WHMCS's check), and mapping is not stricter than WordPress on plain ASCII emails;
- ``as_stored`` predicts what the emulated WordPress keeps of a name, and the length check
  counts what the display-name column really receives.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd import mapping
from syncd.emulators import wordpress as wp_emulator
from syncd.emulators.wordpress_kses import stored_name
from syncd.errors import InvalidRecord
from syncd.model import Side
from tests.hostile.strategies import HOSTILE, hostile_emails, names, plain_emails

WORDPRESS_LOGIN = re.compile(r"[A-Za-z0-9 _.\-@]{1,60}")
WHMCS_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # the WHMCS emulator's check, after trimming


def assert_wordpress_login(login: str) -> None:
    assert WORDPRESS_LOGIN.fullmatch(login), login
    assert "  " not in login and login == login.strip(), login
    assert wp_emulator.valid_login(login), login  # the emulator's sanitize_user(strict) equality


@HOSTILE
@given(scheme=st.sampled_from(["email", "name"]), email=hostile_emails(), first=names(), last=names(),
       taken_count=st.integers(0, 30))
def test_a_new_login_is_always_valid_unique_and_stable(
    scheme: str, email: str, first: str, last: str, taken_count: int
) -> None:
    fields = {"email": email, "first_name": first, "last_name": last}
    free = mapping.unique_username(scheme, fields, set())  # type: ignore[arg-type]
    assert_wordpress_login(free)
    # Take the login and its first numbered variants, in other cases: the next one is still valid and free.
    from syncd.usernames import candidates

    taken = {c.lower() for c in candidates(free, taken_count + 1)}
    taken |= {t.upper() for t in taken}
    login = mapping.unique_username(scheme, fields, {t.lower() for t in taken})  # type: ignore[arg-type]
    assert_wordpress_login(login)
    assert login.lower() not in {t.lower() for t in taken}
    assert mapping.unique_username(scheme, fields, {t.lower() for t in taken}) == login  # type: ignore[arg-type]


def test_a_case_variant_of_a_taken_login_gets_a_suffix_at_the_very_end() -> None:
    # WordPress refuses a login that exists in any case; the suffix goes last, so the login
    # never reads as another person's email address.
    login = mapping.unique_username("email", {"email": "Ann@Example.com"}, {"ann@example.com"})
    assert login == "Ann@Example.com-2"


@HOSTILE
@given(email=hostile_emails(), first=names(), last=names(), company=names(),
       side=st.sampled_from([Side.WHMCS, Side.WORDPRESS]))
def test_every_problem_names_its_field_and_the_user(email: str, first: str, last: str, company: str,
                                                     side: Side) -> None:
    fields = {"email": email, "first_name": first, "last_name": last, "company": company}
    found = mapping.problems(side, fields)
    for name, message in found:
        assert name in fields and message.strip()
    if found:
        with pytest.raises(InvalidRecord) as caught:
            mapping.require_valid(side, fields, user="user 7")
        assert caught.value.user == "user 7" and caught.value.field == found[0][0]
        assert caught.value.field in str(caught.value) and "user 7" in str(caught.value)
    else:
        mapping.require_valid(side, fields, user="user 7")


@HOSTILE
@given(email=hostile_emails() | plain_emails())
def test_an_email_mapping_accepts_is_one_both_sides_accept(email: str) -> None:
    if mapping.is_valid_email(email):
        stripped = email.strip()
        assert wp_emulator.is_email(stripped)
        assert wp_emulator.sanitize_email(stripped) == stripped  # WordPress stores it as sent
        assert WHMCS_EMAIL.fullmatch(stripped)
        assert not any(ord(c) < 0x20 or c == "\x7f" for c in stripped)
        if len(stripped) > 100:
            assert [n for n, _ in mapping.problems(Side.WORDPRESS, {"email": email})] == ["email"]
        else:
            assert mapping.problems(Side.WORDPRESS, {"email": email}) == []


@HOSTILE
@given(email=plain_emails())
def test_mapping_is_not_stricter_than_wordpress_on_plain_emails(email: str) -> None:
    assert mapping.is_valid_email(email) == wp_emulator.is_email(email)


def test_emails_with_a_newline_or_non_ascii_are_invalid() -> None:
    for email in ("ann\n@example.com", "ann@example.com\n@x", "ü@bücher.de", "аnn@example.com", "ann@exa mple.com",
                  "ann@localhost", "ann@-x.com", '"a b"@example.com', "a@b@example.com"):
        assert not mapping.is_valid_email(email), email
    for email in (" ann@example.com ", "ann@xn--bcher-kva.de", "o'brien@example.com", "a{b}|c~d@example.com"):
        assert mapping.is_valid_email(email), email


@HOSTILE
@given(value=names())
def test_as_stored_predicts_what_wordpress_keeps_of_a_name(value: str) -> None:
    markup = [m for n, m in mapping.problems(Side.WORDPRESS, {"first_name": value}) if "markup" in m]
    stored = stored_name(value)
    if not markup:
        assert mapping.as_stored(Side.WORDPRESS, "first_name", value) == html.unescape(stored)
        too_long = any("stores at most" in m for _, m in mapping.problems(Side.WORDPRESS, {"first_name": value}))
        assert too_long == (len(stored) > mapping.LIMITS[Side.WORDPRESS]["first_name"]), (len(stored), value)
    assert mapping.as_stored(Side.WHMCS, "first_name", value) == value
    assert mapping.as_stored(Side.WORDPRESS, "company", value) == value  # meta is stored raw


@HOSTILE
@given(first=names(), last=names())
def test_names_mapping_lets_through_fit_the_display_name_column(first: str, last: str) -> None:
    fields = {"first_name": first, "last_name": last}
    if mapping.problems(Side.WORDPRESS, fields):
        return
    display = " ".join(p for p in (first.strip(), last.strip()) if p)  # what the adapter sends as "name"
    stored = wp_emulator.display_name(first, last, display, "login")
    assert len(stored) <= 250


def test_measured_names_problems() -> None:
    assert [n for n, _ in mapping.problems(Side.WORDPRESS, {"last_name": "&" * 30})] == ["last_name"]  # 150 stored
    assert mapping.problems(Side.WORDPRESS, {"last_name": "&" * 24}) == []  # 120 stored
    assert mapping.problems(Side.WHMCS, {"last_name": "&" * 30}) == []
    assert [n for n, _ in mapping.problems(Side.WORDPRESS, {"first_name": "a < b > c"})] == ["first_name"]
    assert mapping.problems(Side.WORDPRESS, {"first_name": "<b>Ann</b> <script>x</script>"}) == []
    assert mapping.as_stored(Side.WORDPRESS, "first_name", "<b>Ann</b>  Lee%20") == "Ann Lee"
    # Found by Hypothesis: each name fits alone, but in the display name the lone "<" ending the
    # first name escapes the quotes of the last one (six characters each): 300 > 250.
    pair = {"first_name": "x<", "last_name": "'" * 50}
    assert mapping.problems(Side.WORDPRESS, {"first_name": "x<"}) == []
    assert mapping.problems(Side.WORDPRESS, {"last_name": "'" * 50}) == []
    assert [n for n, _ in mapping.problems(Side.WORDPRESS, pair)] == ["last_name"]
