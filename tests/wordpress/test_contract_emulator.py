"""The WordPress contract, run against our emulator served on loopback HTTP."""

from __future__ import annotations

import pytest

from tests.wordpress.conftest import Site
from tests.wordpress.contract import WordPressContract


class TestEmulatorContract(WordPressContract):
    @pytest.fixture
    def site(self, emulator_site: Site) -> Site:
        return emulator_site
