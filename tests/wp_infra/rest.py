"""Small readers of WordPress REST answers used by the infrastructure tests."""

from __future__ import annotations

import httpx


def error_code(response: httpx.Response) -> str:
    """WordPress's error ``code`` from a JSON error body (fails on anything that is not JSON)."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.text[:200]
    code = response.json()["code"]
    assert isinstance(code, str)
    return code


def is_json(response: httpx.Response) -> bool:
    """Whether WordPress answered JSON (the API) rather than a page."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")
