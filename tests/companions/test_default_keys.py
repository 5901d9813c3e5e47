"""The meta keys syncd says the WordPress companion registers by default (``test-connection``'s advice)
are the ones the shipped PHP file registers: one list in two languages, kept equal here."""

from __future__ import annotations

import re

from syncd.companions import WORDPRESS_DEFAULT_META_KEYS, source


def test_the_python_list_of_default_meta_keys_is_the_php_one() -> None:
    php = source("wordpress").decode("utf-8")
    block = re.search(r"DEFAULT_META_KEYS = \[(.*?)\];", php, re.S)
    assert block is not None
    assert tuple(re.findall(r"'([A-Za-z0-9_\-]+)'", block.group(1))) == WORDPRESS_DEFAULT_META_KEYS
