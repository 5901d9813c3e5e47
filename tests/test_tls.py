"""The shared TLS context: certificates checked by default, made once, off only when asked."""

from __future__ import annotations

import ssl

from syncd.adapters import tls
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.config import parse


def test_the_default_context_checks_certificates_and_hostnames() -> None:
    context = tls.client_context(True)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded
    assert tls.client_context(True) is context  # made once per process


def test_verify_tls_false_checks_nothing() -> None:
    context = tls.client_context(False)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


def test_both_sides_share_one_context() -> None:
    settings = parse({
        "whmcs": {"url": "https://billing.example.test/", "identifier": "i" * 32, "secret": "s" * 32},
        "wordpress": {"url": "https://www.example.test/", "username": "syncd", "application_password": "a" * 24},
    }, env={})
    first, second = WhmcsAdapter.from_settings(settings), WhmcsAdapter.from_settings(settings)
    try:
        pools = [a._http._transport._pool for a in (first, second)]  # type: ignore[attr-defined]
        assert pools[0]._ssl_context is pools[1]._ssl_context is tls.client_context(True)
    finally:
        first.close()
        second.close()
