"""Shared fixtures. The real WordPress fixture lives in tests/fixtures_wordpress.py."""

pytest_plugins = ["tests.fixtures_wordpress", "tests.e2e.harness"]  # harness: the `sides` fixture
