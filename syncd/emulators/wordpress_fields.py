"""The ``_fields`` response filter of the WordPress users routes, as 6.1 applies it (measured).

``requested_fields`` reads it from the query with PHP's rules; ``trim_user`` cuts one
serialised user down to it, listed or alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """A request's ``_fields``, as WordPress 6.1 applies it to the users routes (measured, see
    tests/wordpress/contract.py): ``computed`` are the top-level fields the users controller
    fills in (a name given exactly, and ``id`` always: its ``in_array`` checks ignore a dotted
    ``meta.key`` or ``capabilities.read``, which therefore drop that field altogether);
    ``links`` whether ``_links`` is added (``rest_is_field_included``: ``_links`` or
    ``_links.self`` asks for it); ``tree`` what ``rest_filter_response_fields`` keeps of each
    item, nested for dotted names."""

    fields: tuple[str, ...]
    computed: frozenset[str]
    links: bool
    tree: Mapping[str, Any]


def requested_fields(query_order: Sequence[tuple[str, str]]) -> FieldSpec | None:
    """The ``_fields`` of a query (PHP's rules: the last ``_fields`` or run of ``_fields[]`` wins),
    or None when there is none or it lists nothing (then nothing is filtered)."""
    raw: list[str] | None = None
    listed = False
    for key, value in query_order:
        if key == "_fields":
            raw, listed = re.split(r"[\s,]+", value), False  # wp_parse_list on a string
        elif re.fullmatch(r"_fields\[\d*\]", key):
            raw = [*raw, value] if listed and raw is not None else [value]
            listed = True
    if raw is None:
        return None
    fields = tuple(f.strip() for f in raw if f.strip() or listed)
    if not fields:
        return None
    tree: dict[str, Any] = {}
    for name in fields:
        *parents, last = name.split(".")
        ref = tree
        for part in parents:
            if ref.get(part) is True:
                return _spec(fields, tree)  # WordPress's `break 2`: the rest of the list is ignored
            ref = ref.setdefault(part, {})
        ref[last] = True
    return _spec(fields, tree)


def _spec(fields: tuple[str, ...], tree: dict[str, Any]) -> FieldSpec:
    links = any(f in ("_links", "_embedded") or f.startswith(("_links.", "_embedded.")) for f in fields)
    return FieldSpec(fields, frozenset(f for f in fields if "." not in f) | {"id"}, links, tree)


def _intersect(data: Mapping[str, Any], tree: Mapping[str, Any]) -> Any:
    """``_rest_array_intersect_key_recursive``: the keys of ``tree``, in ``data``'s order; an
    array left empty is PHP's empty array, ``[]`` in JSON."""
    out = {
        k: _intersect(v, tree[k]) if isinstance(v, dict) and isinstance(tree[k], dict) else v
        for k, v in data.items() if k in tree
    }
    return out if out else []


def trim_user(data: Mapping[str, Any], spec: FieldSpec, *, listed: bool = True) -> Any:
    """One serialised user as WordPress answers it under ``_fields``. In a listing each user's
    ``_links`` are part of its data when the filter runs (so ``_links.self`` keeps only self);
    a single user's links are added after it, whole, when asked for at all."""
    if listed:
        return _intersect({k: v for k, v in data.items() if k in spec.computed or (k == "_links" and spec.links)},
                          spec.tree)
    out = _intersect({k: v for k, v in data.items() if k in spec.computed}, spec.tree)
    if spec.links and "_links" in data:
        out = {**(out or {}), "_links": data["_links"]}
    return out
