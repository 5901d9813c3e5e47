"""PHP's ``unserialize()`` as WHMCS applies it to the ``customfields`` parameter, for the emulator.

WHMCS reads AddClient/UpdateClient ``customfields`` as ``unserialize(base64_decode(...))``
(``reference/whmcs-api.md`` §2.9). Only what that parameter holds is read here: one array whose
keys are ints or strings and whose values are strings, ints, floats, booleans or null. A string's
length is in bytes, as PHP counts it. Anything else, or a length that does not match (a
serializer that counted characters), is not a valid serialization: WHMCS then has no custom
field values at all, which ``parse_custom_fields`` returns as None.
"""

from __future__ import annotations

import base64
import binascii
import re

_INT = re.compile(rb"i:(-?[0-9]+);")
_FLOAT = re.compile(rb"d:(-?[0-9.eE+\-INFA]+);")
_BOOL = re.compile(rb"b:([01]);")
_STRING_HEAD = re.compile(rb's:([0-9]+):"')
_ARRAY_HEAD = re.compile(rb"a:([0-9]+):\{")


class _Invalid(Exception):
    pass


def _scalar(data: bytes, at: int) -> tuple[str | int | None, int]:
    if data.startswith(b"N;", at):
        return None, at + 2
    for pattern, convert in ((_INT, int), (_BOOL, int)):
        match = pattern.match(data, at)
        if match:
            return convert(match.group(1)), match.end()
    match = _FLOAT.match(data, at)
    if match:
        return match.group(1).decode("ascii"), match.end()
    match = _STRING_HEAD.match(data, at)
    if match:
        start = match.end()
        end = start + int(match.group(1))
        if data[end:end + 2] != b'";':
            raise _Invalid("string length does not match")
        try:
            return data[start:end].decode("utf-8"), end + 2
        except UnicodeDecodeError as exc:  # PHP keeps bytes; WHMCS stores them: not a case worth modelling
            raise _Invalid("not UTF-8") from exc
    raise _Invalid(f"unexpected value at byte {at}")


def unserialize_array(data: bytes) -> dict[int | str, str]:
    """The flat array ``data`` serializes (values as PHP would print them); ``ValueError`` if it is not one."""
    match = _ARRAY_HEAD.match(data)
    if not match:
        raise ValueError("not a serialized array")
    at = match.end()
    out: dict[int | str, str] = {}
    try:
        for _ in range(int(match.group(1))):
            key, at = _scalar(data, at)
            value, at = _scalar(data, at)
            if key is None:
                raise _Invalid("null key")
            out[key] = "" if value is None else str(value)
    except _Invalid as exc:
        raise ValueError(str(exc)) from exc
    if data[at:] != b"}":
        raise ValueError("trailing data after the array")
    return out


def parse_custom_fields(param: str) -> dict[int, str] | None:
    """field id → value of a ``customfields`` parameter; None when it is not base64 of a serialized array."""
    try:
        raw = base64.b64decode(param.strip(), validate=True)
        values = unserialize_array(raw)
    except (binascii.Error, ValueError):
        return None
    found: dict[int, str] = {}
    for key, value in values.items():
        try:
            found[int(key)] = value
        except ValueError:
            continue  # a field given by name: WHMCS takes ids only
    return found
