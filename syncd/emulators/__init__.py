"""Loopback emulators of the WHMCS API and the WordPress users API, for tests and the demo."""
