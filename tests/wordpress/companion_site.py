"""A real WordPress with the syncd companion installed as the README says (``syncd companion
wordpress --out`` into wp-content/mu-plugins) and no user meta registered but by it: pytest
fixtures for the test modules that import them (each module gets its own site)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory


@pytest.fixture(scope="module")
def fresh_wordpress_site() -> Iterator[WordPressSiteFactory]:
    """The function-scoped factory of tests/fixtures_wordpress.py, kept for the whole module."""
    from tests.fixtures_wordpress import _start_for_test, stop_wordpress

    started: list[WordPressSite] = []

    def factory(**knobs: object) -> WordPressSite:
        started.append(_start_for_test(**knobs))
        return started[-1]

    try:
        yield factory  # type: ignore[misc]
    finally:
        for wp in started:
            stop_wordpress(wp)


@pytest.fixture(scope="module")
def companion_site(fresh_wordpress_site: WordPressSiteFactory) -> WordPressSite:
    wp = fresh_wordpress_site(user_meta=False)
    mu = wp.dir / "wp" / "wp-content" / "mu-plugins"
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(mu)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return wp
