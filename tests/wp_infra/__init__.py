"""Tests of the test infrastructure itself: scripts/wp-site and tests/fixtures_wordpress.py."""
