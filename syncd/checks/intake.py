"""``syncd test-connection``, event intake part (DESIGN §10), when ``[intake] listen`` is set: the
secret is set, and the intake of the running ``syncd run`` answers from this host and accepts
this configuration's signature.

The probe is ``POST /v1/probe`` with an empty JSON object, signed exactly like an event: the
intake answers 204 and does nothing (no event is queued, nothing is written anywhere); a 401
means the daemon signs with another secret (it was not reloaded since the secret changed).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import httpx

from syncd.checks import Check
from syncd.config import Settings
from syncd.service.intake import PROBE_PATH, sign
from syncd.service.metrics import parse_listen

SIDE = "intake"
TIMEOUT_SECONDS = 5.0


def _check(name: str, ok: bool, detail: str = "", fix: str = "") -> Check:
    return Check(side=SIDE, name=name, ok=ok, detail=detail, fix=fix)


def probe_url(settings: Settings) -> str:
    """Where this host reaches the intake: its own address, or loopback for "every address"."""
    host, port = parse_listen(settings.intake.listen)
    if host in ("0.0.0.0", "", "localhost"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if settings.intake.tls else 'http'}://{host}:{port}{PROBE_PATH}"


def _tls_context(settings: Settings) -> ssl.SSLContext:
    # The intake's own certificate is the one to trust; it is reached by address, so its name is not checked.
    context = ssl.create_default_context(cafile=settings.intake.tls_cert)
    context.check_hostname = False
    return context


def run(settings: Settings, *, transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time) -> list[Check]:
    """The intake's checks; none when the intake is off."""
    intake = settings.intake
    if not intake.enabled:
        return []
    secret = intake.secret.get_secret_value() if intake.secret is not None else ""
    if not secret:
        return [_check("secret set", False, "[intake] listen is set but no secret was found",
                       "put the secret in /etc/syncd/intake_secret (mode 0600), or give [intake] secret_file")]
    checks = [_check("secret set", True, f"read from {settings.secret_sources.intake or 'the configuration'}")]
    url = probe_url(settings)
    body = b"{}"
    stamp = str(int(clock()))
    headers = {"X-Syncd-Timestamp": stamp, "X-Syncd-Signature": sign(secret.encode("utf-8"), stamp, body),
               "Content-Type": "application/json"}
    name = "intake reachable and accepting this secret"
    verify: ssl.SSLContext | bool = _tls_context(settings) if intake.tls else True
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, verify=verify, transport=transport) as client:
            answer = client.post(url, content=body, headers=headers)
    except httpx.ConnectError:
        checks.append(_check(name, False, f"nothing answers at {url.removesuffix(PROBE_PATH)}",
                             "the intake runs inside `syncd run`: start the service (systemctl start syncd) or, if "
                             "it runs, check its log for 'event intake' (the port may be taken) and reload it "
                             "after setting [intake] (systemctl reload syncd)"))
        return checks
    except httpx.TimeoutException:
        checks.append(_check(name, False, f"{url.removesuffix(PROBE_PATH)} did not answer within "
                                          f"{TIMEOUT_SECONDS:g} s",
                             "check that syncd is not stopped or overloaded, and the firewall on this host"))
        return checks
    except httpx.HTTPError as exc:
        checks.append(_check(name, False, f"{url.removesuffix(PROBE_PATH)}: {type(exc).__name__}: {exc}",
                             "check [intake] listen, tls_cert and tls_key, and that syncd serves there"))
        return checks
    if answer.status_code == 204:
        checks.append(_check(name, True, f"{url.removesuffix(PROBE_PATH)} answered and accepted the signature"))
    elif answer.status_code == 401:
        checks.append(_check(name, False, f"the intake at {url.removesuffix(PROBE_PATH)} refused this "
                                          "configuration's signature",
                             "the running daemon has another secret (or this host's clock is off by more than "
                             "300 s): reload it after changing [intake] secret (systemctl reload syncd), and "
                             "check both clocks"))
    else:
        checks.append(_check(name, False, f"{url.removesuffix(PROBE_PATH)} answered HTTP {answer.status_code}, "
                                          "not as syncd's intake does",
                             "another program answers on that port: give [intake] listen a free port, or stop it"))
    return checks
