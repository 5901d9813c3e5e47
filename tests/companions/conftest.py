"""Fixtures the live tests share: each module's intake port (its site reports there), and both
sides served — the WHMCS emulator and that module's real WordPress ``site``, which each module
defines with the companion set up as it needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.companions.live import free_port
from tests.e2e.harness import Sides, served_sides
from tests.fixtures_wordpress import WordPressSite


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture
def sides(site: WordPressSite, tmp_path: Path) -> Iterator[Sides]:
    with served_sides(site, tmp_path) as both:
        yield both
