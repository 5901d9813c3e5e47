"""PHP's ``serialize()`` for the one shape WHMCS's API takes it in: custom field values.

AddClient and UpdateClient take ``customfields`` as base64 of a PHP-serialized array keyed by
custom field id (``reference/whmcs-api.md`` §2.9): ``base64_encode(serialize([7 => "value"]))``.
Only that shape is written here (integer keys, string values), so no library is needed. PHP
counts a string's length in bytes, not characters: ``s:5:"Zoë";`` wrong by one would make
WHMCS's ``unserialize()`` fail and drop every value of the call.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping


def _string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return b's:%d:"%s";' % (len(raw), raw)


def serialize_array(values: Mapping[int, str]) -> bytes:
    """``serialize()`` of a PHP array of int keys to string values, in the order given."""
    body = b"".join(b"i:%d;%s" % (key, _string(value)) for key, value in values.items())
    return b"a:%d:{%s}" % (len(values), body)


def custom_fields_param(values: Mapping[int, str]) -> str:
    """The ``customfields`` parameter of AddClient/UpdateClient for these values by field id."""
    return base64.b64encode(serialize_array(values)).decode("ascii")
