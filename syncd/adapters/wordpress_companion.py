"""What the syncd companion plugin says about itself, when it is installed on the WordPress site.

``GET /wp-json/syncd/v1/companion`` (for a user who can list users) answers ``{"version",
"meta_keys", "configured_meta_keys"}``: the meta keys it registered for REST, and those of
SYNCD_META_KEYS. A site without the companion answers 404 ``rest_no_route``: that is None here,
never an error, since the companion is optional.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.adapters.wordpress_http import RestClient
from syncd.errors import SyncdError

ROUTE = "/syncd/v1/companion"


@dataclass(frozen=True)
class Companion:
    """The installed companion: its version, the meta keys it registered, and SYNCD_META_KEYS."""

    version: str
    meta_keys: frozenset[str]
    configured: frozenset[str]


def _keys(value: object) -> frozenset[str]:
    return frozenset(str(k) for k in value) if isinstance(value, list) else frozenset()


def read(rest: RestClient) -> Companion | None:
    """The companion's answer, or None when it is not installed (or answers something else)."""
    try:
        reply = rest.call("companion", "GET", ROUTE)
    except SyncdError:
        return None  # 404 rest_no_route without it; optional either way: the meta checks say what is missing
    data = reply.data
    if not isinstance(data, dict) or "version" not in data:
        return None
    return Companion(str(data["version"]), _keys(data.get("meta_keys")), _keys(data.get("configured_meta_keys")))
