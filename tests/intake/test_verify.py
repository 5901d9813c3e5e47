"""``POST /v1/verify`` (DESIGN §11's login fallback): the request's shape, the failed-try limiter on an
injected clock, the ``Verifier``'s one answer for every refusal, and the hostile-input suite over
real HTTP to the real cheroot server — unsigned, mis-signed, replayed, stale, oversize, malformed,
off loopback without TLS, a flood — with no password in any log line."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.config import Settings, parse
from syncd.passwords import Password
from syncd.service.events import EventQueue
from syncd.service.intake import IntakeApp, RefusalLog, sign
from syncd.service.login_limits import FAILURES, WINDOW_SECONDS, FailureLimiter
from syncd.service.metrics import SyncMetrics
from syncd.service.verify import (
    MAX_LOGIN,
    MAX_PASSWORD,
    BadVerify,
    Locked,
    Verdict,
    Verifier,
    parse_verify,
)
from tests.intake.harness import SECRET, Served, body_of, headers, served

PASSWORD = "Wh1cms-only pass\"word\" é"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the shape ---------------------------------------------------------------------------------------


def test_a_well_formed_request_is_parsed_and_its_password_wrapped() -> None:
    request = parse_verify(body_of({"login": " Ann@Example.com ", "password": PASSWORD, "address": "203.0.113.9"}))
    assert request.login == "Ann@Example.com" and request.address == "203.0.113.9"
    assert request.password.reveal() == PASSWORD and PASSWORD not in repr(request)
    assert parse_verify(body_of({"login": "ann", "password": "p"})).address == ""
    assert parse_verify(body_of({"login": "ann", "password": "p", "nonce": "0f3a9c"})).login == "ann"
    assert parse_verify(body_of({"login": "ann", "password": "p", "address": "::FFFF:203.0.113.9"})).address \
        == "::ffff:cb00:7109"  # one spelling per address, so a limit cannot be dodged by respelling it


@pytest.mark.parametrize("body", [
    b"", b"[]", b"\xff\xfe", b'"text"', b"{", b'{"login": "a", "password": NaN}',
    body_of({"password": PASSWORD}), body_of({"login": "a"}),
    body_of({"login": "", "password": PASSWORD}), body_of({"login": "   ", "password": PASSWORD}),
    body_of({"login": "a" * (MAX_LOGIN + 1), "password": PASSWORD}),
    body_of({"login": "a\nFAKE LOG LINE", "password": PASSWORD}),
    body_of({"login": 5, "password": PASSWORD}), body_of({"login": "a", "password": ""}),
    body_of({"login": "a", "password": "p" * (MAX_PASSWORD + 1)}), body_of({"login": "a", "password": 123}),
    body_of({"login": "a", "password": PASSWORD, "address": "not-an-ip"}),
    body_of({"login": "a", "password": PASSWORD, "address": 7}),
    body_of({"login": "a", "password": PASSWORD, "role": "administrator"}),
    body_of({"login": "a", "password": PASSWORD, "nonce": 5}),
    body_of({"login": "a", "password": "p", "nonce": "n" * 65}),
    b'{"login": "a", "login": "b", "password": "p"}',
])
def test_anything_else_is_refused_without_echoing_it(body: bytes) -> None:
    with pytest.raises(BadVerify) as raised:
        parse_verify(body)
    assert PASSWORD not in str(raised.value) and "FAKE" not in str(raised.value)


# --- the limiter -------------------------------------------------------------------------------------


def test_five_failures_per_login_limit_it_for_fifteen_minutes_case_insensitively() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock)
    for n in range(FAILURES):
        assert limiter.limited("Ann@Example.com") == ""
        limiter.failed("ann@example.com" if n % 2 else "ANN@example.com")
        clock.now += 1
    assert limiter.limited("ann@EXAMPLE.com") == "login"
    assert limiter.limited("bob@example.com") == ""
    clock.now += WINDOW_SECONDS - FAILURES  # the first failure leaves the window: one try back
    assert limiter.limited("ann@example.com") == ""
    limiter.failed("ann@example.com")
    assert limiter.limited("ann@example.com") == "login"
    clock.now += WINDOW_SECONDS
    assert limiter.limited("ann@example.com") == "" and len(limiter) == 0  # forgotten, not only ignored


def test_five_failures_from_one_address_limit_every_login_from_it() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock)
    for n in range(FAILURES):
        limiter.failed(f"user{n}@example.com", "203.0.113.9")
    assert limiter.limited("someone-new@example.com", "203.0.113.9") == "address"
    assert limiter.limited("someone-new@example.com", "203.0.113.10") == ""
    assert limiter.limited("someone-new@example.com") == ""  # no address given: only the login counts


def test_a_reserved_try_counts_at_once_and_is_taken_back_when_forgiven() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock)
    stamps = [limiter.reserve("ann@example.com", "192.0.2.1") for _ in range(FAILURES)]
    assert [kind for kind, _ in stamps] == [""] * FAILURES
    # Five tries in flight at once (none answered yet): the sixth is already refused.
    assert limiter.reserve("ANN@example.com", "192.0.2.9")[0] == "login"
    assert limiter.reserve("bob@example.com", "192.0.2.1")[0] == "address"
    limiter.forgive("ann@example.com", "192.0.2.1", stamps[0][1])  # one of them succeeded
    assert limiter.limited("ann@example.com", "192.0.2.1") == ""
    for _, stamp in stamps[1:]:
        limiter.forgive("ann@example.com", "192.0.2.1", stamp)
    assert len(limiter) == 0


def test_memory_is_bounded_under_a_flood_of_distinct_logins() -> None:
    clock = Clock()
    limiter = FailureLimiter(clock=clock, capacity=100)
    for n in range(10_000):
        limiter.failed(f"flood{n}@example.com", f"10.0.{n // 250}.{n % 250}")
    assert len(limiter) <= 200
    assert limiter.limited("flood9999@example.com") == ""  # one failure each: none limited


# --- the Verifier ------------------------------------------------------------------------------------


def _settings(carry: bool = True) -> Settings:
    return parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-1"},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
        "passwords": {"carry": carry}}, env={})


class Job:
    """A LoginJob that answers what it is told and remembers what it saw."""

    def __init__(self, verdict: Verdict | Exception) -> None:
        self.verdict = verdict
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, settings: Settings, login: str, password: Password, locked: Locked) -> Verdict:
        self.calls.append((login, password.held and password.reveal() == PASSWORD))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict


def _ask(verifier: Verifier, login: str = "ann@example.com", address: str = "") -> tuple[dict[str, Any], Password]:
    request = parse_verify(body_of({"login": login, "password": PASSWORD, **({"address": address} if address else {})}))
    return verifier.answer(request), request.password


@pytest.fixture
def lines() -> Iterator[list[str]]:
    from tests.intake.harness import captured_logs

    with captured_logs() as captured:
        yield captured
    assert all(PASSWORD not in line for line in captured)


def test_a_yes_answers_the_user_id_and_does_not_count(lines: list[str]) -> None:
    job = Job(Verdict(7, "linked"))
    verifier = Verifier(job, settings=_settings, run_mutex=threading.Lock())
    for _ in range(FAILURES + 2):
        answer, password = _ask(verifier)
        assert answer == {"ok": True, "user_id": 7} and not password.held  # forgotten before the answer
    assert len(job.calls) == FAILURES + 2 and all(saw for _, saw in job.calls)
    assert any("WordPress user #7 may log in" in line for line in lines)


def test_concurrent_tries_for_one_login_stay_within_the_limit() -> None:
    gate = threading.Event()

    class Slow(Job):
        def __call__(self, settings: Settings, login: str, password: Password, locked: Locked) -> Verdict:
            gate.wait(10)
            return super().__call__(settings, login, password, locked)

    job = Slow(Verdict(None, "wrong"))
    verifier = Verifier(job, settings=_settings, run_mutex=threading.Lock())
    answers: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: answers.append(_ask(verifier)[0])) for _ in range(FAILURES + 3)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # every thread has asked by now; only FAILURES of them wait in the job
    gate.set()
    for t in threads:
        t.join(10)
    assert answers == [{"ok": False}] * (FAILURES + 3) and len(job.calls) == FAILURES


def test_every_refusal_is_the_same_answer_and_the_sixth_try_does_not_reach_whmcs(lines: list[str]) -> None:
    job = Job(Verdict(None, "WHMCS does not accept this email and password (ValidateLogin)"))
    verifier = Verifier(job, settings=_settings, run_mutex=threading.Lock())
    answers = [_ask(verifier, "Ann@example.com")[0] for _ in range(FAILURES + 3)]
    assert answers == [{"ok": False}] * (FAILURES + 3)
    assert len(job.calls) == FAILURES  # once limited, not even asked
    refused = [line for line in lines if "refused 'Ann@example.com'" in line]
    assert any(line.startswith("INFO") and "ValidateLogin" in line for line in refused)
    assert any(line.startswith("WARNING") and "5 failed tries" in line and "WHMCS was not asked" in line
               for line in refused)


def test_a_side_down_refuses_without_counting_a_failed_try(lines: list[str]) -> None:
    job = Job(Verdict(None, "WHMCS did not answer", counts=False, level="WARNING"))
    verifier = Verifier(job, settings=_settings, run_mutex=threading.Lock())
    for _ in range(FAILURES + 2):
        assert _ask(verifier)[0] == {"ok": False}
    assert len(job.calls) == FAILURES + 2 and len(verifier.limiter) == 0
    assert any(line.startswith("WARNING") and "WHMCS did not answer" in line for line in lines)


def test_a_bug_in_the_job_is_a_refusal_with_one_line_and_no_traceback_above_debug(lines: list[str]) -> None:
    verifier = Verifier(Job(RuntimeError(f"boom {PASSWORD}")), settings=_settings, run_mutex=threading.Lock())
    answer, password = _ask(verifier)
    assert answer == {"ok": False} and not password.held
    assert any(line.startswith("ERROR") and "unexpected error RuntimeError at test_verify.py:" in line
               for line in lines)
    assert all("Traceback" not in line and "boom" not in line for line in lines)


def test_with_carry_off_nothing_is_asked_and_it_is_said_once(lines: list[str]) -> None:
    job = Job(Verdict(7, "linked"))
    verifier = Verifier(job, settings=lambda: _settings(carry=False), run_mutex=threading.Lock())
    assert [_ask(verifier)[0] for _ in range(3)] == [{"ok": False}] * 3
    assert job.calls == []
    assert len([line for line in lines if "carry is off" in line and line.startswith("INFO")]) == 1


def test_locked_waits_for_the_run_mutex_and_gives_up_in_time() -> None:
    mutex = threading.Lock()
    verifier = Verifier(Job(Verdict(None, "x")), settings=_settings, run_mutex=mutex, run_wait_seconds=0.2)
    ran: list[int] = []
    assert verifier.locked(lambda: ran.append(1)) is True and not mutex.locked()
    with mutex:  # a scheduled run in flight
        started = time.monotonic()
        assert verifier.locked(lambda: ran.append(2)) is False
        assert time.monotonic() - started < 2
    stopping = Verifier(Job(Verdict(None, "x")), settings=_settings, run_mutex=mutex, stopping=lambda: True)
    assert stopping.locked(lambda: ran.append(3)) is False
    assert ran == [1]


# --- over HTTP: the hostile suite ----------------------------------------------------------------------


@pytest.fixture
def verifying() -> Iterator[tuple[Served, Job]]:
    job = Job(Verdict(None, "WHMCS does not accept this email and password (ValidateLogin)"))
    verifier = Verifier(job, settings=_settings, run_mutex=threading.Lock(), say=RefusalLog().say)  # as the daemon
    with served(verifier=verifier) as s:
        yield s, job


def _post(s: Served, body: bytes, hdrs: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(s.url + "/v1/verify", content=body, headers=hdrs or headers(body), timeout=10)


def _clean(s: Served, *extra: str) -> None:
    text = "\n".join(s.logs)
    for needle in (SECRET, PASSWORD, *extra):
        assert needle not in text, needle
    assert "Traceback" not in text


def test_a_signed_request_from_loopback_is_answered_at_once(verifying: tuple[Served, Job]) -> None:
    s, job = verifying
    r = _post(s, body_of({"login": "ann@example.com", "password": PASSWORD, "address": "198.51.100.4"}))
    assert r.status_code == 200 and r.json() == {"ok": False} and r.headers["content-type"] == "application/json"
    assert job.calls == [("ann@example.com", True)] and len(s.queue) == 0
    assert s.sample("syncd_login_checks_total", answer="refused") == 1
    assert s.sample("syncd_login_checks_total", answer="ok") == 0
    _clean(s, headers(b"x")["X-Syncd-Signature"])


def test_unsigned_mis_signed_stale_and_replayed_are_401_and_never_asked(verifying: tuple[Served, Job]) -> None:
    s, job = verifying
    body = body_of({"login": "ann@example.com", "password": PASSWORD})
    assert _post(s, body, {"Content-Type": "application/json"}).status_code == 401
    assert _post(s, body, headers(body, secret="not-the-intake-secret")).status_code == 401
    assert _post(s, body, headers(body, timestamp=int(time.time()) - 330)).status_code == 401
    assert _post(s, body, headers(body, timestamp=int(time.time()) + 330)).status_code == 401
    good = headers(body)
    assert _post(s, body, good).status_code == 200
    assert _post(s, body, good).status_code == 401  # the same signature again: a replay
    assert len(job.calls) == 1
    _clean(s, good["X-Syncd-Signature"])


def test_oversize_and_malformed_are_refused_and_never_asked(verifying: tuple[Served, Job]) -> None:
    s, job = verifying
    big = body_of({"login": "ann@example.com", "password": "p" * (17 * 1024)})
    assert _post(s, big).status_code == 413
    for bad in (body_of({"login": "ann@example.com", "password": PASSWORD, "extra": 1}),
                body_of({"login": "ann@example.com", "password": "p" * (MAX_PASSWORD + 1)}),
                body_of({"login": "x" * 300, "password": PASSWORD}), b"not json", b"\xff"):
        r = _post(s, bad)
        assert r.status_code == 400 and PASSWORD not in r.text
    assert httpx.get(s.url + "/v1/verify", timeout=10).status_code == 405
    assert job.calls == []
    _clean(s)


def test_off_loopback_without_tls_is_403_and_never_asked() -> None:
    job = Job(Verdict(7, "linked"))
    app = IntakeApp(SECRET.encode(), EventQueue(), SyncMetrics(),
                    verifier=Verifier(job, settings=_settings, run_mutex=threading.Lock()))
    stamp = str(int(time.time()))

    def call(remote: str, scheme: str, login: str) -> tuple[str, bytes]:
        body = body_of({"login": login, "password": PASSWORD})
        statuses: list[str] = []
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/verify", "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": scheme, "REMOTE_ADDR": remote,
                   "HTTP_X_SYNCD_TIMESTAMP": stamp, "HTTP_X_SYNCD_SIGNATURE": sign(SECRET.encode(), stamp, body)}
        out = b"".join(app(environ, lambda status, _headers: statuses.append(status)))
        return statuses[0], out

    status, out = call("203.0.113.9", "http", "a@example.com")
    assert status.startswith("403") and PASSWORD.encode() not in out and job.calls == []
    assert call("203.0.113.9", "https", "b@example.com") == ("200 OK", b'{"ok": true, "user_id": 7}')
    assert call("::1", "http", "c@example.com")[0] == "200 OK"


def test_a_flood_is_limited_bounded_and_logged_in_a_few_lines(verifying: tuple[Served, Job]) -> None:
    s, job = verifying
    with httpx.Client(timeout=10) as client:
        for n in range(300):
            body = body_of({"login": "victim@example.com", "password": f"{PASSWORD}{n}", "address": "192.0.2.1"})
            r = client.post(s.url + "/v1/verify", content=body, headers=headers(body))
            assert r.status_code == 200 and r.json() == {"ok": False}
        for n in range(300):  # many logins from one address
            body = body_of({"login": f"u{n}@example.com", "password": PASSWORD, "address": "192.0.2.2"})
            assert client.post(s.url + "/v1/verify", content=body, headers=headers(body)).json() == {"ok": False}
    assert len(job.calls) == 2 * FAILURES  # only the first five of each reached the job (WHMCS)
    limit_lines = [line for line in s.logs if "failed tries" in line or "more requests refused" in line]
    assert len(limit_lines) <= 10  # throttled: counted, not one line each
    _clean(s)


def test_without_a_verifier_the_path_is_404() -> None:
    with served() as s:
        body = body_of({"login": "ann@example.com", "password": PASSWORD})
        assert _post(s, body).status_code == 404
        _clean(s)

