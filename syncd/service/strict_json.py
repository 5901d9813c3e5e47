"""Strict JSON for what the intake is sent (events and login checks): a key given twice and the
non-standard constants NaN and Infinity are errors, not silently the last value or a float."""

from __future__ import annotations

import json
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError("a key is given twice")
        seen[key] = value
    return seen


def loads(text: str | bytes) -> Any:
    """The JSON value in ``text``; ``ValueError`` (or ``RecursionError``, for absurd nesting) if it is
    not strictly JSON. Bytes are read as UTF-8 (``UnicodeDecodeError`` is a ``ValueError``)."""
    return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text,
                      object_pairs_hook=_unique_keys, parse_constant=_no_constant)
