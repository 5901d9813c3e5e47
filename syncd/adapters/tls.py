"""The TLS context both adapters' HTTP clients share, made once per process."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context(verify: bool) -> ssl.SSLContext:
    """httpx's own default context (its CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``),
    or one that checks nothing when ``verify`` is False. Made once: loading the CA bundle costs
    ~30-50 ms of CPU, which every run paid twice before its first request."""
    return httpx.create_ssl_context(verify=verify)
