"""The ``customfields`` parameter: PHP's serialize() written by syncd, read back by the emulator's
unserialize() as WHMCS reads it (lengths in UTF-8 bytes)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.adapters.php_serial import custom_fields_param, serialize_array
from syncd.emulators.php_unserialize import parse_custom_fields, unserialize_array


def test_the_shape_php_writes() -> None:
    # PHP: serialize([1 => "Google"]) === 'a:1:{i:1;s:6:"Google";}'
    assert serialize_array({1: "Google"}) == b'a:1:{i:1;s:6:"Google";}'
    assert serialize_array({}) == b"a:0:{}"
    assert custom_fields_param({1: "Google"}) == base64.b64encode(b'a:1:{i:1;s:6:"Google";}').decode()


def test_a_string_length_is_its_utf8_byte_count_not_its_characters() -> None:
    # PHP: serialize([7 => "Zoë"]) === 'a:1:{i:7;s:4:"Zoë";}' — ë is two bytes
    assert serialize_array({7: "Zoë"}) == 'a:1:{i:7;s:4:"Zoë";}'.encode()
    assert serialize_array({2: "東京"}) == 'a:1:{i:2;s:6:"東京";}'.encode()
    assert serialize_array({3: 'say "hi";}'}) == b'a:1:{i:3;s:10:"say "hi";}";}'


def test_a_character_count_would_not_unserialize() -> None:
    wrong = 'a:1:{i:7;s:3:"Zoë";}'.encode()  # what a serializer counting characters writes
    with pytest.raises(ValueError):
        unserialize_array(wrong)
    assert parse_custom_fields(base64.b64encode(wrong).decode()) is None
    assert parse_custom_fields("not base64!") is None


@given(st.dictionaries(st.integers(min_value=1, max_value=10**6), st.text(max_size=40), max_size=6))
def test_round_trip_through_the_emulators_unserialize(values: dict[int, str]) -> None:
    assert parse_custom_fields(custom_fields_param(values)) == values
