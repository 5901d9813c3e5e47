"""The adapters' transport: certificates checked by default with one context made once (off
only when asked), and requests sent without Nagle's delay."""

from __future__ import annotations

import socket
import ssl

from syncd.adapters import net
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import parse


def test_the_default_context_checks_certificates_and_hostnames() -> None:
    context = net.client_context(True)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded
    assert net.client_context(True) is context  # made once per process


def test_verify_tls_false_checks_nothing() -> None:
    context = net.client_context(False)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


def test_both_sides_share_one_context_and_send_at_once() -> None:
    settings = parse({
        "whmcs": {"url": "https://billing.example.test/", "identifier": "i" * 32, "secret": "s" * 32},
        "wordpress": {"url": "https://www.example.test/", "username": "syncd", "application_password": "a" * 24},
    }, env={})
    whmcs, wp = WhmcsAdapter.from_settings(settings), WordPressAdapter.from_settings(settings)
    try:
        # httpx's own attributes: the pool each client sends through.
        pools = [whmcs._http._transport._pool, wp._rest._http._transport._pool]  # type: ignore[attr-defined]
        for pool in pools:
            assert pool._ssl_context is net.client_context(True)
            assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in pool._socket_options
    finally:
        whmcs.close()
        wp.close()
