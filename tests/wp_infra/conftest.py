"""The httpx client fixture shared by the infrastructure tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain client: no auth, and redirects are not followed (tests look at them)."""
    with httpx.Client(timeout=30.0, follow_redirects=False) as client:
        yield client
