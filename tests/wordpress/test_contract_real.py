"""The WordPress contract, run against a real WordPress 6.1 on loopback (tests/fixtures_wordpress.py).

The site is shared by the whole run; the tests make their own users under unique prefixes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from tests.fixtures_wordpress import WordPressSite
from tests.wordpress.conftest import Site
from tests.wordpress.contract import WordPressContract


def real_site(wp: WordPressSite) -> Site:
    """The ``Site`` interface over a site of scripts/wp-site."""

    def add_role(name: str, capabilities: Sequence[str]) -> None:
        caps = json.dumps({c: True for c in capabilities})
        wp.php(f"add_role({json.dumps(name)}, {json.dumps(name)}, json_decode({json.dumps(caps)}, true));")

    return Site("real", wp.url, wp.admin_user, wp.app_password, wp.add_user,
                lambda count, prefix: wp.seed(count, prefix), add_role, wp.mail_log,
                plain=wp.permalinks == "plain", secrets={wp.app_password, wp.admin_password})


class TestRealWordPressContract(WordPressContract):
    @pytest.fixture
    def site(self, wordpress_site: WordPressSite) -> Site:
        return real_site(wordpress_site)
