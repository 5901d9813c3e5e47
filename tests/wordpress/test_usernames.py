"""WordPress logins for new users: the configured scheme, made valid as WordPress 6.1 requires."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.usernames import (
    MAX_LOGIN,
    ascii_fold,
    base_username,
    candidates,
    is_valid_login,
    with_suffix,
)


@pytest.mark.parametrize(("email", "first", "last", "scheme", "login"), [
    ("ann@example.com", "Ann", "Lee", "email", "ann@example.com"),
    ("Ann.Lee@Example.COM", "", "", "email", "Ann.Lee@Example.COM"),  # the case is kept
    ("ann+shop@example.com", "", "", "email", "annshop"),  # '+' is not allowed: the local part, cleaned
    ("ann@example.com", "José", "Müller", "name", "jose.muller"),
    ("ann@example.com", "Mary Ann", "O'Neil-Smith", "name", "mary.ann.oneil-smith"),
    ("ann@example.com", "Åsa", "Øster", "name", "asa.oster"),
    ("ann@example.com", "Straße", "", "name", "strasse"),
    ("ann@example.com", "", "", "name", "ann"),  # no names: the email's local part
    ("ann@example.com", "李", "王", "name", "ann"),  # nothing transliterates: the local part
    ("李@example.com", "", "", "email", "user"),  # nothing usable at all
])
def test_base_username(email: str, first: str, last: str, scheme: str, login: str) -> None:
    assert base_username(scheme, email, first, last) == login  # type: ignore[arg-type]
    assert is_valid_login(login)


def test_a_long_email_falls_back_to_its_local_part_within_60_characters() -> None:
    email = "a" * 70 + "@example.com"
    assert base_username("email", email) == "a" * MAX_LOGIN
    assert base_username("email", "b" * 50 + "@example.com") == "b" * 50  # 62 in all: too long whole


def test_suffixes_stay_within_60_characters_and_never_look_like_an_email() -> None:
    assert with_suffix("ann@example.com", 2) == "ann@example.com-2"
    assert with_suffix("x" * 60, 12) == "x" * 57 + "-12"
    assert list(candidates("ann", 3)) == ["ann", "ann-2", "ann-3"]


def test_ascii_fold() -> None:
    assert ascii_fold("Ærøskøbing Łódź Crème") == "AEroskobing Lodz Creme"


@given(st.text(max_size=80), st.text(max_size=40), st.text(max_size=40), st.sampled_from(["email", "name"]),
       st.integers(min_value=2, max_value=999))
def test_every_login_is_valid(email: str, first: str, last: str, scheme: str, n: int) -> None:
    login = base_username(scheme, email, first, last)  # type: ignore[arg-type]
    assert is_valid_login(login), login
    assert is_valid_login(with_suffix(login, n))
