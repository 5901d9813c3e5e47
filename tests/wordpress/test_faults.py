"""What the WordPress adapter does when things go wrong, driven through the emulator's switches
(in process, so no test waits): retries of reads with bounded backoff, creates never repeated
blindly, listings that cannot be proven complete, blocked or misconfigured sites, and secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter, new_password
from syncd.config import NewUsers, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import (
    AccessDenied,
    BadCredentials,
    IncompleteListing,
    NotAnApi,
    OutcomeUnknown,
    Transient,
    Unreachable,
)
from syncd.model import CORE_FIELDS
from tests.wordpress.conftest import Sleeps, assert_no_secret, full_settings

PASSWORD = "Abcd1234Efgh5678Ijkl9012"


def seeded(count: int = 12) -> WordPressEmulator:
    emulator = WordPressEmulator()
    emulator.add_app_password("admin", PASSWORD)
    for i in range(count):
        emulator.add_user(f"u{i:02d}", f"u{i:02d}@example.test", f"First{i}", f"Last{i}", company=f"Co{i}")
    return emulator


def make(emulator: WordPressEmulator, sleeps: Sleeps, *, transport: httpx.BaseTransport | None = None,
         **overrides: Any) -> WordPressAdapter:
    settings = WordPressSettings(**{"url": "http://wp.test/", "username": "admin", "page_size": 5, "retries": 2,
                                    **overrides})
    return WordPressAdapter(settings, SecretStr(PASSWORD), exclude_roles=["administrator"],
                            transport=transport or emulator.transport(), sleep=sleeps)


def wrapping(emulator: WordPressEmulator, change: Callable[[httpx.Request, httpx.Response], httpx.Response]
             ) -> httpx.MockTransport:
    """The emulator's transport with its answers passed through ``change`` (a proxy in between)."""
    inner = emulator.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        response.read()
        return change(request, response)

    return httpx.MockTransport(handler)


# -- reads: retried, bounded, and never mistaken for an empty side ------------------------


def test_a_failing_page_is_retried_with_bounded_backoff(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "error", page=2)
    adapter = make(emulator, sleeps)
    assert len(adapter.snapshot().records) == 13
    assert adapter.calls["list_page"] == 4  # 3 pages + one retry
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.25 * 1.5


def test_backoff_grows_and_stays_bounded(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "error", page=1, times=5, status=502)
    adapter = make(emulator, sleeps, retries=5)
    assert len(adapter.snapshot().records) == 13
    bases = [0.25, 0.5, 1.0, 2.0, 4.0]  # doubling, each with up to 50 % jitter, capped at 10 s
    assert len(sleeps) == 5 and all(b <= s <= b * 1.5 for b, s in zip(bases, sleeps, strict=True))


def test_a_page_that_keeps_failing_makes_the_listing_incomplete(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "error", page=3, times=99)
    with pytest.raises(IncompleteListing, match="page 3"):
        make(emulator, sleeps).snapshot()
    assert len(sleeps) == 2  # retries=2


def test_maintenance_mode_is_retried_then_reported(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "maintenance", times=99, retry_after=30)
    with pytest.raises(IncompleteListing, match="maintenance"):
        make(emulator, sleeps).snapshot()
    assert sleeps == [30.0, 30.0]  # Retry-After honoured


def test_rate_limiting_honours_retry_after(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "too_many", page=2, retry_after=7)
    assert len(make(emulator, sleeps).snapshot().records) == 13
    assert sleeps == [7.0]


def test_a_truncated_page_is_read_again(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "truncated", page=2)
    adapter = make(emulator, sleeps)
    assert len(adapter.snapshot().records) == 13 and adapter.calls["list_page"] == 4


def test_an_html_page_instead_of_json_is_not_an_api(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.inject("list_page", "html", page=2)
    adapter = make(emulator, sleeps)
    with pytest.raises(NotAnApi, match="HTML page"):
        adapter.snapshot()
    assert sleeps == []


def test_a_listing_that_changes_while_read_is_read_again(sleeps: Sleeps) -> None:
    emulator = seeded()
    added = []

    def add_once(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.params.get("page") == "1" and not added:
            added.append(emulator.add_user("late", "late@example.test"))  # arrives after page 1 was read
        return response

    adapter = make(emulator, sleeps, transport=wrapping(emulator, add_once), concurrency=1)
    snapshot = adapter.snapshot()
    assert len(snapshot.records) == 14 and "late@example.test" in {r.email for r in snapshot.records}
    assert adapter.calls["list_page"] == 3 + 3


def test_a_total_that_never_matches_is_an_incomplete_listing(sleeps: Sleeps) -> None:
    emulator = seeded()

    def lie(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if "x-wp-total" in response.headers:  # a plugin hiding one user from the list but not the count
            response.headers["X-WP-Total"] = str(int(response.headers["x-wp-total"]) + 1)
        return response

    with pytest.raises(IncompleteListing):
        make(emulator, sleeps, transport=wrapping(emulator, lie)).snapshot()


def test_missing_paging_headers_cannot_prove_completeness(sleeps: Sleeps) -> None:
    emulator = seeded()

    def strip(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        for name in ("x-wp-total", "x-wp-totalpages"):
            if name in response.headers:
                del response.headers[name]
        return response

    with pytest.raises(IncompleteListing, match="X-WP-Total"):
        make(emulator, sleeps, transport=wrapping(emulator, strip)).snapshot()


def test_the_same_user_on_two_pages_is_an_incomplete_listing(sleeps: Sleeps) -> None:
    emulator = seeded()

    def repeat(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.params.get("page") == "2":
            body = json.loads(response.content)
            body[0] = body[1]
            return httpx.Response(200, headers=response.headers, content=json.dumps(body).encode())
        return response

    with pytest.raises(IncompleteListing, match="two pages"):
        make(emulator, sleeps, transport=wrapping(emulator, repeat)).snapshot()


def test_a_closed_port_is_unreachable(sleeps: Sleeps) -> None:
    settings = WordPressSettings(url="http://127.0.0.1:9/", username="admin", retries=1)
    adapter = WordPressAdapter(settings, SecretStr(PASSWORD), exclude_roles=(), sleep=sleeps)
    with pytest.raises(Unreachable):
        adapter.snapshot()


def test_a_read_timeout_is_retried(sleeps: Sleeps) -> None:
    emulator = seeded()
    inner = emulator.transport()
    timeouts = [1]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2" and timeouts:
            timeouts.pop()
            raise httpx.ReadTimeout("timed out", request=request)
        return inner.handle_request(request)

    adapter = make(emulator, sleeps, transport=httpx.MockTransport(handler))
    assert len(adapter.snapshot().records) == 13 and len(sleeps) == 1


# -- writes: a create is never repeated blindly ------------------------------------------


@pytest.mark.parametrize("fault", ["empty_after_commit", "truncated", "disconnect_after_commit"])
def test_a_create_whose_answer_is_lost_is_unknown_and_not_repeated(sleeps: Sleeps, fault: Any) -> None:
    emulator = seeded(0)
    emulator.inject("create", fault)
    adapter = make(emulator, sleeps)
    with pytest.raises(OutcomeUnknown):
        adapter.create({"email": "ann@example.test", "first_name": "Ann"})
    assert adapter.calls["create"] == 1 and sleeps == []
    assert [r.email for r in adapter.find_by_email("ann@example.test")] == ["ann@example.test"]  # it happened


def test_a_create_that_fails_with_a_500_is_unknown(sleeps: Sleeps) -> None:
    emulator = seeded(0)
    emulator.inject("create", "error")
    adapter = make(emulator, sleeps)
    with pytest.raises(OutcomeUnknown, match="critical error"):
        adapter.create({"email": "ann@example.test"})
    assert adapter.calls["create"] == 1


def test_a_create_timing_out_is_unknown(sleeps: Sleeps) -> None:
    emulator = seeded(0)
    inner = emulator.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            inner.handle_request(request)
            raise httpx.ReadTimeout("timed out", request=request)
        return inner.handle_request(request)

    adapter = make(emulator, sleeps, transport=httpx.MockTransport(handler))
    with pytest.raises(OutcomeUnknown, match="in time"):
        adapter.create({"email": "ann@example.test"})
    assert adapter.calls["create"] == 1


def test_a_rate_limited_create_is_sent_again(sleeps: Sleeps) -> None:
    emulator = seeded(0)
    emulator.inject("create", "too_many", retry_after=2)
    adapter = make(emulator, sleeps)
    record = adapter.create({"email": "ann@example.test"})
    assert sleeps == [2.0] and adapter.calls["create"] == 2
    assert [r.remote_id for r in adapter.find_by_email("ann@example.test")] == [record.remote_id]


def test_an_update_is_retried_and_unknown_only_when_it_keeps_failing(sleeps: Sleeps) -> None:
    emulator = seeded(2)
    adapter = make(emulator, sleeps)
    record = adapter.find_by_email("u00@example.test")[0]
    emulator.inject("update", "disconnect_after_commit")
    assert adapter.update(record, {"first_name": "Again"}).fields["first_name"] == "Again"
    emulator.inject("update", "error", times=99)
    with pytest.raises(OutcomeUnknown, match="may or may not"):
        adapter.update(record, {"first_name": "Never"})
    assert adapter.calls["update"] == 2 + 3


def test_a_lost_password_email_that_fails_does_not_fail_the_create(sleeps: Sleeps,
                                                                   secret_sink: list[str]) -> None:
    emulator = seeded(0)
    emulator.inject("lostpassword", "error")
    adapter = make(emulator, sleeps, new_users=NewUsers(send_password_reset=True))
    assert adapter.create({"email": "ann@example.test"}).email == "ann@example.test"
    assert any("did not confirm a password-reset" in line for line in secret_sink)
    assert adapter.create({"email": "bob@example.test"}).email == "bob@example.test"
    assert emulator.mail == [{"to": "bob@example.test", "subject": "[Sync Test] Password Reset"}]


# -- sites that are not as expected -------------------------------------------------------


def test_plain_permalinks_fall_back_to_rest_route(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.plain_permalinks = True
    adapter = make(emulator, sleeps)
    assert len(adapter.snapshot().records) == 13
    assert not adapter.discover().pretty and adapter.calls["index"] == 2  # /wp-json/ (a 301), then rest_route


def test_application_passwords_unavailable_are_bad_credentials_with_the_reason(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.environment = "production"
    with pytest.raises(BadCredentials, match="WP_ENVIRONMENT_TYPE"):
        make(emulator, sleeps).snapshot()


def test_rest_disabled_for_everyone_is_access_denied(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.rest_disabled = "all"
    with pytest.raises(AccessDenied, match="security plugins") as caught:
        make(emulator, sleeps).snapshot()
    assert not isinstance(caught.value, BadCredentials)


def test_rest_removed_is_not_an_api(sleeps: Sleeps) -> None:
    emulator = seeded()
    emulator.rest_disabled = "html"
    with pytest.raises(NotAnApi, match="HTML page"):
        make(emulator, sleeps).snapshot()


def test_a_redirect_to_https_names_the_url_to_set(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": f"https://wp.test{request.url.raw_path.decode()}"})

    with pytest.raises(NotAnApi, match=r"https://wp\.test"):
        make(seeded(0), sleeps, transport=httpx.MockTransport(handler)).snapshot()


def test_a_site_without_company_meta_has_no_company_field(sleeps: Sleeps) -> None:
    emulator = WordPressEmulator(registered_meta={})
    emulator.add_app_password("admin", PASSWORD)
    emulator.add_user("ann", "ann@example.test", "Ann", "Lee")
    adapter = make(emulator, sleeps)
    snapshot = adapter.snapshot()
    assert snapshot.fields == CORE_FIELDS
    assert all("company" not in r.fields for r in snapshot.records)
    record = adapter.create({"email": "bob@example.test", "company": "Bob Ltd"})
    assert "company" not in record.fields
    assert adapter.update(record, {"company": "X"}) == record and adapter.calls["update"] == 0


def test_a_configured_company_key_is_used(sleeps: Sleeps) -> None:
    emulator = WordPressEmulator(registered_meta={"company_name": "string"})
    emulator.add_app_password("admin", PASSWORD)
    emulator.add_user("ann", "ann@example.test", meta={"company_name": "Ann Ltd"})
    adapter = make(emulator, sleeps, company_meta_key="company_name")
    record = next(r for r in adapter.snapshot().records if r.username == "ann")
    assert record.fields["company"] == "Ann Ltd"
    assert adapter.update(record, {"company": "New"}).fields["company"] == "New"


# -- secrets ------------------------------------------------------------------------------


def test_no_secret_in_repr_errors_or_logs(sleeps: Sleeps, secret_sink: list[str]) -> None:
    emulator = seeded(3)
    adapter = make(emulator, sleeps, new_users=NewUsers(send_password_reset=True))
    texts = [repr(adapter), repr(adapter.verify())]
    record = adapter.create({"email": "new@example.test", "first_name": "New"})
    created_password = next(u.password for u in emulator.users.values() if u.id == record.remote_id)
    for fault in ("error", "empty_after_commit"):
        emulator.inject("create", fault)  # type: ignore[arg-type]
        with pytest.raises(OutcomeUnknown) as caught:
            adapter.create({"email": f"{fault}@example.test"})
        texts += [str(caught.value), repr(caught.value)]
    wrong = WordPressAdapter(WordPressSettings(url="http://wp.test/", username="admin"), SecretStr("Zz" * 12),
                             exclude_roles=(), transport=emulator.transport(), sleep=sleeps)
    with pytest.raises(BadCredentials) as bad:
        wrong.verify()
    texts += [str(bad.value), *secret_sink]
    assert_no_secret(texts, {PASSWORD, created_password, "Zz" * 12})
    assert len(created_password) == 32


def test_new_passwords_are_strong_and_never_hold_a_backslash() -> None:
    passwords = {new_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 32 and "\\" not in p for p in passwords)
    assert all(any(c.isdigit() for c in p) or any(c.isupper() for c in p) for p in passwords)


def test_transient_is_what_a_read_raises_when_the_index_keeps_failing(sleeps: Sleeps) -> None:
    emulator = seeded(0)
    emulator.inject("me", "error", times=99)
    with pytest.raises(Transient):
        make(emulator, sleeps).verify()
    assert len(sleeps) == 2


def test_from_settings_takes_the_exclusions_and_counts_users(sleeps: Sleeps) -> None:
    emulator = seeded(2)
    emulator.add_user("ed", "ed@example.test", roles=("editor",))
    wordpress = WordPressSettings(url="http://wp.test/", username="admin", application_password=SecretStr(PASSWORD))
    adapter = WordPressAdapter.from_settings(full_settings(wordpress, exclude_roles=["editor"]),
                                             transport=emulator.transport(), sleep=sleeps)
    assert adapter.exclude_roles == {"administrator", "editor"}
    assert adapter.count_users() == 4
    assert "ed@example.test" in adapter.snapshot().admin_emails
