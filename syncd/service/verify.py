"""``POST /v1/verify`` on the intake (DESIGN §11): may this person log in to WordPress with the
password WHMCS knows? The WordPress companion asks it when a WordPress login failed, with
``SYNCD_LOGIN_FALLBACK`` on; the request is checked like an event (signature, window, replay,
TLS or loopback) by ``syncd.service.intake`` before it reaches this module.

Here: the request's strict shape (``parse_verify``), the limit on failed tries (``FailureLimiter``:
at most ``FAILURES`` per login and per browser address in ``WINDOW_SECONDS``, in memory, bounded),
and ``Verifier``, which answers ``{"ok": true, "user_id": N}`` or the one ``{"ok": false}`` for every
refusal — a wrong password, an unknown login, an administrator, a rate limit, WHMCS down — so the
answer never tells why. The real reason is logged at INFO (WARNING when a side failed), naming the
login, never the password. The decision itself (WHMCS's ValidateLogin, the linked WordPress user,
the one-user run that creates it) is the injected ``LoginJob`` (``app.login_job``): this module
talks to no side. The password is forgotten before the answer leaves.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from loguru import logger

from syncd.config import Settings
from syncd.passwords import Password
from syncd.service import strict_json
from syncd.service.login_limits import FAILURES, WINDOW_SECONDS, FailureLimiter

VERIFY_PATH = "/v1/verify"
#: The longest wait for the daemon's run mutex before a login's one-user run is given up.
RUN_WAIT_SECONDS = 5.0
MAX_LOGIN = 254
MAX_PASSWORD = 4096  # the same as a password event's (syncd.service.intake)
_MAX_ADDRESS = 64
_MAX_NONCE = 64
_KEYS = frozenset({"login", "password", "address", "nonce"})
OK_FALSE: dict[str, Any] = {"ok": False}


class BadVerify(ValueError):
    """A /v1/verify body not in the protocol's shape; the message names no value it carried."""


@dataclass(frozen=True)
class VerifyRequest:
    """An accepted /v1/verify request: what the person typed, and the address the companion saw."""

    login: str
    password: Password = field(repr=False, compare=False)
    address: str = ""


@dataclass(frozen=True)
class Verdict:
    """What a ``LoginJob`` decided: the WordPress user to log in (None: refused) and why, in words for
    the log. ``counts``: whether a refusal is a failed try (not when a side failed or a run could not
    be made: the person may be right); ``level``: the log level of the reason."""

    user_id: int | None
    reason: str
    counts: bool = True
    level: str = "INFO"


#: Runs ``work`` under the daemon's run mutex; False if the mutex was not free in time.
Locked = Callable[[Callable[[], object]], bool]
#: ``login_job(settings, login, password, locked)``: the decision (``app.login_job``).
LoginJob = Callable[[Settings, str, Password, Locked], Verdict]


def _printable(text: str) -> bool:
    return not any(ord(c) < 32 or ord(c) == 127 for c in text)


def parse_verify(body: bytes) -> VerifyRequest:
    """The request in ``body`` (its password wrapped); ``BadVerify`` for anything else."""
    try:
        data = strict_json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadVerify("the body is not a JSON object") from None
    if not isinstance(data, dict):
        raise BadVerify("the body is not a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        raise BadVerify(f"{len(unknown)} unknown key(s): only login, password, address and nonce are allowed")
    login, password, address = data.get("login"), data.get("password"), data.get("address", "")
    if not isinstance(login, str) or not 1 <= len(login) <= MAX_LOGIN or not login.strip() or not _printable(login):
        raise BadVerify(f'"login" must be a string of 1 to {MAX_LOGIN} printable characters')
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD:
        raise BadVerify(f'"password" must be a string of 1 to {MAX_PASSWORD} characters')
    if not isinstance(address, str) or len(address) > _MAX_ADDRESS:
        raise BadVerify('"address" must be the browser\'s IP address (or left out)')
    nonce = data.get("nonce", "")
    if not isinstance(nonce, str) or len(nonce) > _MAX_NONCE:
        # Only there to make two identical tries in one second two bodies (else the second is a replay).
        raise BadVerify(f'"nonce" must be a string of at most {_MAX_NONCE} characters (or left out)')
    if address:
        try:
            address = str(ip_address(address))
        except ValueError:
            raise BadVerify('"address" must be the browser\'s IP address (or left out)') from None
    return VerifyRequest(login.strip(), Password(password), address)


def shown(login: str) -> str:
    """How a log line names a login: quoted, as typed (``parse_verify`` let no control character in)."""
    return repr(login[:MAX_LOGIN])


class Verifier:
    """Answers accepted /v1/verify requests with ``job``, under the rules above."""

    def __init__(self, job: LoginJob, *, settings: Callable[[], Settings], run_mutex: threading.Lock,
                 stopping: Callable[[], bool] = lambda: False, limiter: FailureLimiter | None = None,
                 say: Callable[[str, str, str], object] | None = None,
                 run_wait_seconds: float = RUN_WAIT_SECONDS) -> None:
        self._job = job
        self._settings = settings
        self._run_mutex = run_mutex
        self._stopping = stopping
        self.limiter = limiter or FailureLimiter()
        # say(key, message, level): refusals go through the intake's throttled log (``RefusalLog.say``),
        # so that a flood is counted, not logged line by line.
        self._say = say or (lambda _key, message, level: logger.log(level, "{}", message))
        self._run_wait = run_wait_seconds
        self._said_carry_off = False

    def locked(self, work: Callable[[], object]) -> bool:
        """Run ``work`` under the run mutex (after a scheduled or event run in flight), if it is free
        within ``run_wait_seconds`` and syncd is not stopping; whether it ran."""
        if self._stopping() or not self._run_mutex.acquire(timeout=self._run_wait):
            return False
        try:
            if self._stopping():
                return False
            work()
            return True
        finally:
            self._run_mutex.release()

    def answer(self, request: VerifyRequest) -> dict[str, Any]:
        """The answer for the companion: ``{"ok": true, "user_id": N}`` or ``OK_FALSE``."""
        who = shown(request.login)
        try:
            if not self._settings().passwords.carry:
                if not self._said_carry_off:
                    self._said_carry_off = True
                    logger.info("login fallback: a WordPress login was sent to check against WHMCS but [passwords] "
                                "carry is off, so it was refused; set carry = true to turn the login fallback on, "
                                "or remove SYNCD_LOGIN_FALLBACK from wp-config.php (README \"Passwords\"); said once")
                return OK_FALSE
            limited, stamp = self.limiter.reserve(request.login, request.address)
            if limited:
                what = f"login {who}" if limited == "login" else f"address {request.address}"
                self._say("verify-limit", f"login fallback: refused {who}: the {what} had {FAILURES} failed tries "
                                          f"in the last {WINDOW_SECONDS / 60:g} minutes (WHMCS was not asked)",
                          "WARNING")
                return OK_FALSE
            verdict = self._decide(request)
        finally:
            request.password.forget()
        if verdict.user_id is not None or not verdict.counts:
            self.limiter.forgive(request.login, request.address, stamp)
        if verdict.user_id is not None:
            logger.info("login fallback: WHMCS accepted the password of {}: WordPress user #{} may log in (the "
                        "companion sets that password on WordPress)", who, verdict.user_id)
            return {"ok": True, "user_id": verdict.user_id}
        message = f"login fallback: refused {who}: {verdict.reason}"
        if verdict.level == "INFO":
            # One line per failed try: the limiter bounds them (five per login and per address each
            # quarter of an hour, each costing a WHMCS call), and each says whom it was about.
            logger.info("{}", message)
        else:  # a side down or a bug: the same line for everyone, so a flood is counted
            self._say(f"verify-{verdict.level}", message, verdict.level)
        return OK_FALSE

    def _decide(self, request: VerifyRequest) -> Verdict:
        try:
            return self._job(self._settings(), request.login, request.password, self.locked)
        except Exception as exc:  # a bug: refused, one line
            # Where it happened, not the message nor a traceback: either could hold what was typed.
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
            return Verdict(None, f"unexpected error {type(exc).__name__}{where} (a bug: please report it)",
                           counts=False, level="ERROR")
