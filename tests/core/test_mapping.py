"""The shared rules of syncd/mapping.py: valid emails, per-side limits, dummies, usernames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd import mapping
from syncd.errors import InvalidRecord
from syncd.model import Side


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("ann@example.com", True),
        ("  Ann.Lee+tag@Example.CO.uk ", True),
        ("a@b.co", True),
        ("o'brien@x.io", True),
        ("", False),
        ("ann", False),
        ("@example.com", False),
        ("ann@", False),
        ("ann@localhost", False),
        ("ann@ex..com", False),
        ("ann@.example.com", False),
        ("ann@-x.io", False),
        ("ann lee@x.io", False),
        ("ann@x@y.io", False),
        ("jürgen@x.io", False),  # WordPress's is_email refuses non-ASCII
        ("ann@bücher.de", False),
        ("a@b.c", False),  # shorter than WordPress's 6 characters
    ],
)
def test_is_valid_email(email: str, valid: bool) -> None:
    assert mapping.is_valid_email(email) is valid


def test_problems_name_the_field_and_respect_each_sides_limits() -> None:
    long_email = "a" * 95 + "@x.io"  # 100: fine
    assert mapping.problems(Side.WORDPRESS, {"email": long_email}) == []
    too_long = "a" * 96 + "@x.io"
    [(name, message)] = mapping.problems(Side.WORDPRESS, {"email": too_long})
    assert name == "email" and "101" in message and "100" in message
    assert mapping.problems(Side.WHMCS, {"email": too_long}) == []
    [(name, message)] = mapping.problems(Side.WHMCS, {"first_name": "Ann\nLee"})
    assert name == "first_name" and "U+000A" in message
    assert mapping.problems(Side.WORDPRESS, {"last_name": "x" * 121})[0][0] == "last_name"
    assert mapping.problems(Side.WORDPRESS, {"first_name": "Zoë 🙂 <b>", "company": ""}) == []


def test_require_valid_raises_invalid_record_naming_user_and_field() -> None:
    with pytest.raises(InvalidRecord) as caught:
        mapping.require_valid(Side.WORDPRESS, {"email": "nope"}, user="client #4")
    assert caught.value.user == "client #4" and caught.value.field == "email"
    assert "client #4" in str(caught.value)


def test_dummies() -> None:
    dummy = {"first_name": "Not provided", "last_name": "Not provided"}
    sent, filled = mapping.fill_dummies({"email": "a@x.io", "first_name": " ", "last_name": "Lee"}, dummy)
    assert sent == {"email": "a@x.io", "first_name": "Not provided", "last_name": "Lee"}
    assert filled == {"first_name"}
    assert mapping.is_dummy("first_name", " not provided", {"first_name": "not provided"})
    assert not mapping.is_dummy("first_name", "Ann", dummy)
    assert not mapping.is_dummy("company", "Not provided", dummy)


@pytest.mark.parametrize(
    ("scheme", "fields", "taken", "expect"),
    [
        ("email", {"email": "Ann.Lee@x.io"}, set(), "Ann.Lee@x.io"),
        ("email", {"email": "ann@x.io"}, {"ann@x.io"}, "ann@x.io-2"),
        ("email", {"email": "ann@x.io"}, {"ann@x.io", "ann@x.io-2"}, "ann@x.io-3"),
        ("name", {"email": "a@x.io", "first_name": "Zoë", "last_name": "Ångström"}, set(), "zoe.angstrom"),
        ("name", {"email": "a@x.io", "first_name": "Mary Ann", "last_name": "Lee"}, {"mary.ann.lee"},
         "mary.ann.lee-2"),
        ("name", {"email": "jo.smith@x.io", "first_name": "", "last_name": ""}, set(), "jo.smith"),
        ("name", {"email": "x@x.io", "first_name": "李", "last_name": "小龙"}, set(), "x"),
    ],
)
def test_unique_username(scheme: str, fields: dict[str, str], taken: set[str], expect: str) -> None:
    assert mapping.unique_username(scheme, fields, taken) == expect  # type: ignore[arg-type]


@given(
    st.sampled_from(["email", "name"]),
    st.text(max_size=80),
    st.text(max_size=80),
    st.emails(),
    st.sets(st.text(max_size=60).map(str.lower), max_size=5),
)
def test_usernames_are_always_valid_and_free(scheme: str, first: str, last: str, email: str, taken: set[str]) -> None:
    login = mapping.unique_username(scheme, {"email": email, "first_name": first, "last_name": last},  # type: ignore[arg-type]
                                    taken)
    assert mapping.is_valid_login(login) and len(login) <= mapping.MAX_LOGIN
    assert login.lower() not in taken


@pytest.mark.parametrize(("value", "said"), [
    ("<b>1</b> Road", "contains markup"),
    ("Flat 2 </br>", "contains markup"),
    ("50%20off Street", "'%20'"),
    ("1 < 2 Road", "contains markup or a '<'"),  # kept as '&lt;' by sanitize_text_field
])
def test_a_mapped_wordpress_field_refuses_what_wordpress_would_strip(value: str, said: str) -> None:
    """The companion stores meta as WooCommerce does (sanitize_text_field): a value that would come
    back changed is refused, naming the field, instead of being rewritten at every run."""
    found = mapping.problems(Side.WORDPRESS, {"address1": value})
    assert [name for name, _ in found] == ["address1"] and said in found[0][1], found
    assert mapping.problems(Side.WHMCS, {"address1": value}) == []  # WHMCS keeps it as sent


@pytest.mark.parametrize("value", ["100% Street", "Smith & Sons", "a>b", "Flat 2, 1 Road"])
def test_a_mapped_wordpress_field_takes_what_comes_back_unchanged(value: str) -> None:
    assert mapping.problems(Side.WORDPRESS, {"address1": value}) == []
