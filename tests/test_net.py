"""The HTTP layer both adapters share: the transport (certificates checked by default with one
context made once, off only when asked; requests sent without Nagle's delay), what a failed
request means (``net.failure``), the retry policy (``retry``) and the paging helper
(``paging``). Nothing here waits: sleeps are recorded, futures are settled by hand."""

from __future__ import annotations

import random
import socket
import ssl
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from loguru import logger
from pydantic import SecretStr

from syncd.adapters import net, paging, retry
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import WhmcsSettings, WordPressSettings, parse
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import IncompleteListing, OutcomeUnknown, SideError, Transient, Unreachable


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


# -- what a failed request means (net.failure) --------------------------------------------

REQUEST = httpx.Request("POST", "https://billing.example.test/includes/api.php")


def _failure(exc: httpx.HTTPError, *, write: bool = False, redact: Callable[[str], str] = lambda t: t) -> net.Failure:
    return net.failure(exc, side="whmcs", where="billing.example.test", what="GetClients", write=write, redact=redact)


@pytest.mark.parametrize("write", [False, True])
@pytest.mark.parametrize("exc", [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ConnectTimeout("t"),
                                 httpx.PoolTimeout("no connection free"), httpx.ProxyError("proxy said 403")],
                         ids=lambda e: type(e).__name__)
def test_a_request_that_never_left_is_unreachable_and_may_be_sent_again_even_a_write(exc: httpx.HTTPError,
                                                                                    write: bool) -> None:
    failed = _failure(exc, write=write)
    assert type(failed.error) is Unreachable and failed.retry
    assert failed.error.side == "whmcs"
    assert failed.error.message.startswith("cannot connect to WHMCS at billing.example.test (GetClients): ")
    assert type(exc).__name__ not in failed.error.message  # plain words, not the library's class names
    assert "[whmcs]" in failed.error.message or "$HTTPS_PROXY" in failed.error.message  # ... and what to look at


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("timed out"), httpx.WriteTimeout("timed out"),
                                 httpx.ReadError("reset by peer"), httpx.WriteError("broken pipe"),
                                 httpx.RemoteProtocolError("Server disconnected without sending a response."),
                                 httpx.DecodingError("bad gzip")],
                         ids=lambda e: type(e).__name__)
def test_a_lost_answer_is_transient_for_a_read_and_unknown_for_a_write(exc: httpx.HTTPError) -> None:
    read, write = _failure(exc), _failure(exc, write=True)
    assert type(read.error) is Transient and read.retry
    assert read.error.message.startswith("WHMCS did not answer GetClients")
    assert type(write.error) is OutcomeUnknown and not write.retry
    assert "after it was sent" in write.error.message and "may have happened" in write.error.message
    late = isinstance(exc, httpx.TimeoutException)
    assert ("in time" in read.error.message) is late and ("in time" in write.error.message) is late


def test_an_untrusted_certificate_is_named_and_not_retried() -> None:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    exc = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    exc.__cause__ = cause
    failed = _failure(exc, write=True)
    assert type(failed.error) is Unreachable and not failed.retry
    assert "its TLS certificate is not trusted" in failed.error.message
    assert "set [whmcs] ca_file" in failed.error.message and "[whmcs] verify_tls = false" in failed.error.message
    assert "CERTIFICATE_VERIFY_FAILED" not in failed.error.message and "SSL" not in failed.error.message
    quiet = httpx.ConnectError("handshake failed")  # the text says nothing; the cause does
    quiet.__context__ = cause
    assert not _failure(quiet).retry


@pytest.mark.parametrize("exc", [httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
                                 httpx.LocalProtocolError("Illegal header value")],
                         ids=lambda e: type(e).__name__)
def test_a_request_that_cannot_be_made_is_unreachable_and_not_retried(exc: httpx.HTTPError) -> None:
    failed = _failure(exc)
    assert type(failed.error) is Unreachable and not failed.retry
    assert failed.error.message.startswith("request to WHMCS at billing.example.test failed (GetClients)")


def test_the_library_text_is_redacted_and_the_side_named() -> None:
    failed = _failure(httpx.ReadError("reset while sending secret=hunter22hunter22"),
                      redact=lambda t: t.replace("hunter22hunter22", "***"))
    assert "hunter22" not in failed.error.message and "***" in failed.error.message
    wp = net.failure(httpx.ConnectError(""), side="wordpress", where="https://wp.example.test", what="a list_page",
                     write=False)
    assert wp.error.message == ("cannot connect to WordPress at https://wp.example.test (a list_page): the "
                                "connection could not be opened; check [wordpress] url and the network between "
                                "this host and the site")
    assert wp.error.side == "wordpress"


# -- the retry policy (retry) --------------------------------------------------------------

WHMCS_LIKE = retry.Backoff(initial=0.5, cap=20.0, jitter=0.5, relative_jitter=False, retry_after_limit=120.0,
                           give_up_beyond_limit=True)
WP_LIKE = retry.Backoff(initial=0.25, cap=10.0, jitter=0.5, relative_jitter=True, retry_after_limit=60.0,
                        give_up_beyond_limit=False)


class Attempts:
    """An attempt that fails with ``errors`` in turn (``TryAgain`` around a ``SideError`` asks
    for another try), then returns "done"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def _again(error: SideError, cause: BaseException | None = None) -> retry.TryAgain:
    wrapped = retry.TryAgain(error)
    wrapped.__cause__ = cause
    return wrapped


def _call(attempt: Callable[[], str], sleeps: list[float], *, attempts: int = 3,
          backoff: retry.Backoff = WHMCS_LIKE) -> str:
    return retry.call(attempt, attempts=attempts, backoff=backoff, sleep=sleeps.append, rng=random.Random(7))


def test_backoff_doubles_up_to_its_cap_with_jitter_of_either_kind() -> None:
    rng = random.Random(1)
    for n, base in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0], start=1):
        assert base <= WHMCS_LIKE.delay(n, None, rng) <= base + 0.5
    for n, base in enumerate([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0], start=1):
        assert base <= WP_LIKE.delay(n, None, rng) <= base * 1.5


def test_retry_after_is_a_floor_under_the_backoff_up_to_the_limit() -> None:
    rng = random.Random(2)
    assert WHMCS_LIKE.delay(1, 7.0, rng) == 7.0
    assert 4.0 <= WP_LIKE.delay(5, 0.0, rng) <= 6.0  # never sooner than the backoff
    assert WP_LIKE.delay(1, 3600.0, rng) == 60.0  # WordPress waits its limit ...
    assert WHMCS_LIKE.gives_up(3600.0) and not WHMCS_LIKE.gives_up(120.0)  # ... WHMCS does not wait at all
    assert not WP_LIKE.gives_up(3600.0) and not WHMCS_LIKE.gives_up(None)


def test_a_call_is_tried_until_it_works_sleeping_between_tries() -> None:
    sleeps: list[float] = []
    attempt = Attempts(_again(Transient("HTTP 502", side="whmcs")), _again(Unreachable("refused", side="whmcs")))
    assert _call(attempt, sleeps) == "done"
    assert attempt.count == 3 and len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 <= sleeps[1] <= 1.5


def test_when_the_attempts_are_spent_the_last_error_is_raised_from_its_cause() -> None:
    sleeps: list[float] = []
    cause = httpx.ReadTimeout("timed out")
    errors = [Transient(f"try {n}", side="wordpress") for n in range(3)]
    attempt = Attempts(*(_again(e, cause) for e in errors))
    with pytest.raises(Transient) as caught:
        _call(attempt, sleeps)
    assert caught.value is errors[-1] and caught.value.__cause__ is cause
    assert attempt.count == 3 and len(sleeps) == 2


def test_anything_but_try_again_ends_the_call_at_once() -> None:
    sleeps: list[float] = []
    unknown = OutcomeUnknown("sent, answer lost", side="whmcs")
    attempt = Attempts(unknown)
    with pytest.raises(OutcomeUnknown) as caught:
        _call(attempt, sleeps)
    assert caught.value is unknown and attempt.count == 1 and sleeps == []


def test_a_retry_after_too_long_for_a_run_ends_the_call_or_is_capped_per_side() -> None:
    whmcs_sleeps: list[float] = []
    with pytest.raises(Transient):
        _call(Attempts(_again(Transient("429", side="whmcs", retry_after=3600))), whmcs_sleeps)
    assert whmcs_sleeps == []
    wp_sleeps: list[float] = []
    _call(Attempts(_again(Transient("429", side="wordpress", retry_after=3600))), wp_sleeps, backoff=WP_LIKE)
    assert wp_sleeps == [60.0]


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip()), level="WARNING", format="{message}")
    yield lines
    logger.remove(sink)


def test_each_retry_is_one_warning_saying_why_and_how_long(warnings: list[str]) -> None:
    sleeps: list[float] = []
    _call(Attempts(_again(Transient("WordPress is rate-limiting us (HTTP 429)", side="wordpress", retry_after=7))),
          sleeps)
    assert warnings == ["WordPress is rate-limiting us (HTTP 429); trying again in 7.0s (1 of 2)"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry.retry_after_seconds("7", now) == 7.0
    assert retry.retry_after_seconds(" -3 ", now) == 0.0
    assert retry.retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry.retry_after_seconds("soon", now) is None and retry.retry_after_seconds(None) is None


# -- both adapters retry the same way ------------------------------------------------------


def _refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def _whmcs(transport: httpx.BaseTransport, sleeps: list[float]) -> WhmcsAdapter:
    settings = WhmcsSettings(url="https://billing.example.test/", identifier="i" * 32, secret=SecretStr("s" * 32),
                             retries=2)
    return WhmcsAdapter(settings, SecretStr("s" * 32), transport=transport, sleep=sleeps.append)


def _wordpress(transport: httpx.BaseTransport, sleeps: list[float]) -> WordPressAdapter:
    settings = WordPressSettings(url="http://wp.test/", username="admin", retries=2)
    return WordPressAdapter(settings, SecretStr("Abcd1234Efgh5678Ijkl9012"), exclude_roles=[],
                            transport=transport, sleep=sleeps.append)


def _wp_transport(fail: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """The WordPress emulator, except that requests for users fail with ``fail``."""
    emulator = WordPressEmulator()
    emulator.add_app_password("admin", "Abcd1234Efgh5678Ijkl9012")
    inner = emulator.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if "/wp/v2/users" in str(request.url):
            return fail(request)
        return inner.handle_request(request)

    return httpx.MockTransport(handler)


def test_a_refused_connection_is_retried_alike_on_both_sides() -> None:
    whmcs_sleeps: list[float] = []
    with _whmcs(httpx.MockTransport(_refusing), whmcs_sleeps) as whmcs, pytest.raises(Unreachable) as w:
        whmcs.snapshot()
    assert whmcs.calls["GetClients"] == 3 and len(whmcs_sleeps) == 2
    wp_sleeps: list[float] = []
    with _wordpress(_wp_transport(_refusing), wp_sleeps) as wp, pytest.raises(Unreachable) as p:
        wp.verify()
    assert wp.calls["me"] == 3 and len(wp_sleeps) == 2
    refused = "the connection was refused (nothing listens on that address and port"
    assert str(w.value).startswith(f"cannot connect to WHMCS at billing.example.test (GetClients): {refused}")
    assert str(p.value).startswith(
        f"cannot connect to WordPress at http://wp.test (reading our own account (/users/me)): {refused}")
    assert "check the host and port in [whmcs] url" in str(w.value)
    assert "check the host and port in [wordpress] url" in str(p.value)


def test_an_untrusted_certificate_is_not_retried_on_either_side() -> None:
    def untrusted(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request)

    sleeps: list[float] = []
    with _whmcs(httpx.MockTransport(untrusted), sleeps) as whmcs, pytest.raises(Unreachable, match="ca_file"):
        whmcs.snapshot()
    with _wordpress(_wp_transport(untrusted), sleeps) as wp, pytest.raises(Unreachable, match="ca_file"):
        wp.verify()
    assert whmcs.calls["GetClients"] == 1 and wp.calls["me"] == 1 and sleeps == []


# -- the paging helper (paging) ------------------------------------------------------------


def _settled(value: Any = None, error: BaseException | None = None) -> Future[Any]:
    future: Future[Any] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return future


def test_pages_are_built_in_page_order_in_the_callers_thread() -> None:
    caller = threading.get_ident()
    built: list[tuple[int, str, bool]] = []

    def build(number: int, page: str) -> str:
        built.append((number, page, threading.get_ident() == caller))
        return page.upper()

    with ThreadPoolExecutor(max_workers=2) as workers:
        later = paging.submit(workers, [lambda: "b", lambda: "c", lambda: "d"])
        assert paging.collect("a", later, build) == ["A", "B", "C", "D"]
    assert built == [(1, "a", True), (2, "b", True), (3, "c", True), (4, "d", True)]


def test_a_page_is_let_go_once_built() -> None:
    # A listing keeps what it built of each page, never the page itself: at 100,000 WordPress
    # users the decoded pages held until the end were ~100 MB of a run's peak.
    class Page:
        pass

    fetched: list[weakref.ref[Page]] = []

    def fetch() -> Page:
        page = Page()
        fetched.append(weakref.ref(page))
        return page

    def build(number: int, page: Page) -> int:
        assert all(ref() is None for ref in fetched[:number - 2]), f"pages before {number} still held"
        return number

    with ThreadPoolExecutor(max_workers=1) as workers:
        later = paging.submit(workers, [fetch] * 4)
        assert paging.collect(Page(), later, build) == [1, 2, 3, 4, 5]
        assert not later


def test_a_failed_page_cancels_the_pages_not_yet_sent() -> None:
    pending: list[Future[str]] = [Future(), Future()]
    later = [_settled("b"), _settled(error=Transient("HTTP 502", side="wordpress")), *pending]
    with pytest.raises(Transient):
        paging.collect("a", later, lambda n, page: page)
    assert all(f.cancelled() for f in pending)
    blocked: list[Future[str]] = [Future()]
    with pytest.raises(ValueError, match="page 1"):
        paging.collect("a", blocked, lambda n, page: (_ for _ in ()).throw(ValueError(f"page {n}")))
    assert blocked[0].cancelled()  # a page that cannot be built stops the listing too


def test_several_listings_schedule_their_pages_and_the_first_error_in_order_wins() -> None:
    inline = paging.pool(1, "test", inline_when_one=True)
    assert isinstance(inline, paging.Inline)
    firsts = [inline.submit(lambda: paging.FirstPage("a1", 3, (lambda: "a2", lambda: "a3"))),
              inline.submit(lambda: paging.FirstPage("b1", 1))]
    [a, b] = paging.schedule(inline, firsts)
    assert [f.result() for f in a] == ["a2", "a3"] and not b
    watched = _settled(error=Unreachable("admins", side="whmcs"))
    failing = [_settled(error=Transient("clients", side="whmcs"))]
    with pytest.raises(Unreachable, match="admins"):
        paging.schedule(inline, failing, watch=[watched])
    threaded = paging.pool(1, "test")
    assert isinstance(threaded, ThreadPoolExecutor)  # one worker still fetches ahead of the caller
    threaded.shutdown()


def test_a_listing_is_complete_or_shifted() -> None:
    paging.check_complete([1, 2, 3], 3, what="WHMCS GetClients", total_from="totalresults", side="whmcs")
    paging.check_total(3, 3, what="x", where="on page 2", side="wordpress")
    with pytest.raises(paging.ListingShifted, match=r"same row twice, on two pages \(ids \[2\]\)"):
        paging.check_complete([1, 2, 2], 3, what="WHMCS GetClients", total_from="totalresults", side="whmcs")
    with pytest.raises(paging.ListingShifted, match=r"sent 2 rows but X-WP-Total says there are 3 \(a plugin"):
        paging.check_complete([1, 2], 3, what="WordPress", total_from="X-WP-Total", side="wordpress",
                              hint=" (a plugin hides some)")
    with pytest.raises(IncompleteListing, match=r"changed while it was being read \(total 3, then 4 on page 2\)"):
        paging.check_total(4, 3, what="WordPress", where="on page 2", side="wordpress")


def test_wordpress_retries_its_rest_index_as_any_read_and_then_says_why_in_plain_words() -> None:
    sleeps: list[float] = []
    with _wordpress(httpx.MockTransport(_refusing), sleeps) as wp, pytest.raises(Unreachable) as p:
        wp.verify()
    assert wp.calls["index"] == 3 and len(sleeps) == 2  # retries = 2, as WHMCS's calls
    assert str(p.value).startswith("cannot reach WordPress at http://wp.test: the connection was refused (")
    assert "check the host and port in [wordpress] url" in str(p.value)
    assert "ConnectError" not in str(p.value) and "Errno" not in str(p.value)


@pytest.mark.parametrize(("exc", "said", "fix"), [
    (httpx.ConnectError("[Errno -2] Name or service not known"), "the host name could not be resolved (DNS)",
     "check the host name in [wordpress] url"),
    (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "could not be resolved (DNS)",
     "DNS resolver"),
    (httpx.ConnectError("[Errno 113] No route to host"), "no network route to that host", "routes"),
    (httpx.ConnectTimeout("timed out"), "the connection timed out", "raise [wordpress] timeout_seconds"),
    (httpx.ReadTimeout("The read operation timed out"), "no answer within the timeout",
     "raise [wordpress] timeout_seconds"),
    (httpx.ReadError("[Errno 104] Connection reset by peer"), "the connection was reset", "error log"),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."),
     "the server closed the connection without answering", "error log"),
    (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
     "the server does not speak https on that port", "scheme and the port of [wordpress] url"),
    (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"),
     "its TLS certificate has expired", "renew the certificate"),
    (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
     "not an http:// or https:// URL", "set [wordpress] url"),
], ids=["dns", "dns-temporary", "no-route", "connect-timeout", "read-timeout", "reset", "disconnected",
        "http-on-https", "expired", "scheme"])
def test_every_transport_failure_is_said_in_plain_words_with_what_to_do(exc: httpx.HTTPError, said: str,
                                                                        fix: str) -> None:
    words = net.plain(exc, "wordpress")
    assert said in words.what and fix in words.fix
    message = net.failure(exc, side="wordpress", where="https://wp.example.test", what="a me", write=False)
    assert said in str(message.error) and fix in str(message.error)
    assert type(exc).__name__ not in str(message.error) and "Errno" not in str(message.error)
    assert "[SSL" not in str(message.error) and "_ssl.c" not in str(message.error)


def test_real_socket_failures_are_read_from_their_causes() -> None:
    """The chain httpx really raises (httpx ← httpcore ← the socket's error), not only its text."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get(f"http://127.0.0.1:{port}/")
    assert net.plain(refused.value, "whmcs").what.startswith("the connection was refused")
    with pytest.raises(httpx.ConnectError) as unknown:
        httpx.get("http://no-such-host.invalid/")
    assert net.plain(unknown.value, "whmcs").what == "the host name could not be resolved (DNS)"


def test_a_password_reset_that_cannot_be_sent_is_a_plain_warning(warnings: list[str]) -> None:
    from syncd.model import Record, Side

    def refused_login(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    emulator = WordPressEmulator()
    emulator.add_app_password("admin", "Abcd1234Efgh5678Ijkl9012")
    inner = emulator.transport()
    transport = httpx.MockTransport(
        lambda r: refused_login(r) if r.url.path.endswith("wp-login.php") else inner.handle_request(r))
    record = Record(side=Side.WORDPRESS, remote_id=5, fields={"email": "ann@example.com"}, username="ann")
    with _wordpress(transport, []) as wp:
        assert wp.send_password_reset(record) is False
    [line] = [w for w in warnings if "password-reset" in w]
    assert "the connection was refused" in line and "check the host and port in [wordpress] url" in line
    assert "ConnectError" not in line and "Errno" not in line
