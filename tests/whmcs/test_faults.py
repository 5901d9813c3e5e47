"""Each emulator quirk and fault switch, through the adapter: what is retried (reads; writes
only when nothing reached WHMCS), what is an unknown outcome, what is an incomplete
listing, and how each refusal is classified. Retries sleep through a recorded no-op."""

from __future__ import annotations

import pytest

from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import (
    AccessDenied,
    BadCredentials,
    IncompleteListing,
    IpNotAllowed,
    NotAnApi,
    OutcomeUnknown,
    PermissionDenied,
    Transient,
    UnknownAction,
    Unreachable,
)
from tests.whmcs.conftest import AdapterFactory, Recorder, Sleeps

NEW = {"email": "new@example.com", "first_name": "New", "last_name": "Client"}


# --- quirks of shape and type ----------------------------------------------------------


@pytest.mark.parametrize("shape", ["wrapped", "missing", "empty_string", "empty_list", "empty_object"])
def test_an_empty_whmcs_lists_no_clients_in_any_shape(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                      shape: str) -> None:
    emulator.clients.clear()
    emulator.users.clear()
    emulator.empty_list_shape = shape
    assert make_adapter().snapshot().records == ()


def test_a_single_client_sent_as_an_object_is_read(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.single_object = True
    records = make_adapter(page_size=1).snapshot().records
    assert len(records) == len(emulator.clients)


def test_ids_and_counts_as_strings_read_the_same(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    plain = make_adapter(page_size=2).snapshot()
    emulator.ids_as_strings = True
    stringly = make_adapter(page_size=2).snapshot()
    assert stringly == plain
    assert all(r.owner_user_id is not None for r in stringly.records)


def test_a_server_cap_on_the_page_size_is_followed(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                   log_lines: list[str]) -> None:
    emulator.max_page_size = 2
    adapter = make_adapter(page_size=4, concurrency=2)
    assert len(adapter.snapshot().records) == 5
    assert adapter.calls["GetClients"] == 3
    assert any("at most 2 rows per page" in line for line in log_lines)


def test_a_php_warning_before_the_json_is_stripped_and_logged(make_adapter: AdapterFactory,
                                                              emulator: WhmcsEmulator, log_lines: list[str]) -> None:
    emulator.php_warning = True
    adapter = make_adapter()
    assert len(adapter.snapshot().records) == 5
    assert adapter.create(NEW).remote_id in emulator.clients
    assert any("PHP warning" in line and "Undefined array key" in line for line in log_lines)


def test_whmcs_7_has_no_users_and_the_adapter_copes(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.version = "7.10.2"
    adapter = make_adapter()
    snap = adapter.snapshot()
    assert len(snap.records) == 5 and all(r.owner_user_id is None for r in snap.records)
    assert adapter.whmcs_version() == "7.10.2"  # from GetAdminDetails: WhmcsDetails is 8.0+
    ann = snap.records[0]
    adapter.update(ann, {"first_name": "Anna"})
    assert adapter.calls["UpdateUser"] == 0 and emulator.clients[ann.remote_id].firstname == "Anna"


# --- the address and the door ----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "includes/api.php", "includes/api.php/"])
def test_the_url_may_carry_the_api_path_or_not(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                               suffix: str) -> None:
    url = emulator.start().rstrip("/") + ("/" if suffix and not suffix.startswith("/") else "") + suffix
    assert len(make_adapter("loopback", url=url).snapshot().records) == 5


def test_a_doubled_api_path_is_named(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    url = emulator.start() + "includes/api.php/includes/api.php"
    with pytest.raises(NotAnApi, match="doubled"):
        make_adapter("loopback", url=url).snapshot()


def test_a_wrong_path_is_not_an_api(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    with pytest.raises(NotAnApi, match="WHMCS root"):
        make_adapter("loopback", url=emulator.start() + "billing/").snapshot()


def test_the_maintenance_page_is_not_an_api_and_makes_a_write_unknown(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator
) -> None:
    emulator.maintenance = True
    adapter = make_adapter()
    with pytest.raises(NotAnApi, match="maintenance mode") as caught:
        adapter.snapshot()
    assert "Down for Maintenance" in str(caught.value)
    emulator.maintenance = False
    adapter.admin_emails()
    emulator.maintenance = True
    with pytest.raises(OutcomeUnknown):
        adapter.create(NEW)


def test_an_ip_off_the_allow_list_is_named_and_not_retried(make_adapter: AdapterFactory,
                                                          emulator: WhmcsEmulator, sleeps: Sleeps) -> None:
    emulator.allowed_ips = {"198.51.100.7"}
    emulator.seen_ip = "203.0.113.9"
    adapter = make_adapter()
    with pytest.raises(IpNotAllowed) as caught:
        adapter.snapshot()
    assert caught.value.ip == "203.0.113.9" and "API IP Access Restriction" in str(caught.value)
    assert sum(adapter.calls.values()) == 1 and sleeps == []


def test_the_access_key_lets_an_unlisted_ip_through(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    from pydantic import SecretStr

    from tests.whmcs.conftest import ACCESS_KEY

    emulator.allowed_ips = {"198.51.100.7"}
    emulator.seen_ip = "203.0.113.9"
    assert len(make_adapter(access_key=SecretStr(ACCESS_KEY)).snapshot().records) == 5


def test_wrong_credentials_are_bad_credentials(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.secret = "another-secret"
    with pytest.raises(BadCredentials, match="identifier and secret"):
        make_adapter().snapshot()


@pytest.mark.parametrize("action", ["GetAdminUsers", "GetClients", "GetUsers"])
def test_a_denied_listing_action_is_named_never_skipped(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                        action: str) -> None:
    emulator.deny(action)
    with pytest.raises(PermissionDenied) as caught:
        make_adapter().snapshot()
    assert caught.value.action == action


def test_a_permission_removed_mid_listing_stops_it(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    adapter = make_adapter(page_size=2)
    adapter.snapshot()
    emulator.deny("GetUsers")
    with pytest.raises(PermissionDenied):
        adapter.snapshot()


def test_an_unknown_action_is_unknown(make_adapter: AdapterFactory) -> None:
    with pytest.raises(UnknownAction, match="GetTodoItems"):
        make_adapter().call("GetTodoItems")


# --- transient faults: reads retried ---------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_failing_page_is_retried_and_the_listing_completes(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                             sleeps: Sleeps, status: int) -> None:
    fault = emulator.fail_on("GetClients", page=2, status=status)
    adapter = make_adapter(page_size=2, concurrency=2)
    assert len(adapter.snapshot().records) == 5
    assert fault.hits == 1 and adapter.calls["GetClients"] == 4 and len(sleeps) == 1


def test_a_page_that_keeps_failing_makes_the_listing_incomplete(make_adapter: AdapterFactory,
                                                                emulator: WhmcsEmulator, sleeps: Sleeps) -> None:
    emulator.fail_on("GetClients", page=3, status=503, times=None)
    adapter = make_adapter(page_size=2, retries=3)
    with pytest.raises(IncompleteListing, match="offset 4"):
        adapter.snapshot()
    assert len(sleeps) == 3
    # Exponential: each wait at least the one before it, bounded.
    assert sleeps == sorted(sleeps) and max(sleeps) <= 21


def test_a_first_page_that_keeps_failing_is_transient(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.fail_on("GetAdminUsers", status=502, times=None)
    with pytest.raises(Transient, match="502") as caught:
        make_adapter(retries=2).snapshot()
    assert caught.value.__cause__ is not caught.value and caught.value.__context__ is None


def test_429_honours_retry_after(make_adapter: AdapterFactory, emulator: WhmcsEmulator, sleeps: Sleeps) -> None:
    emulator.fail_on("GetClients", status=429, retry_after=7)
    assert len(make_adapter().snapshot().records) == 5
    assert len(sleeps) == 1 and sleeps[0] >= 7


def test_a_retry_after_too_long_for_a_run_is_not_waited_for(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                            sleeps: Sleeps) -> None:
    emulator.fail_on("GetAdminUsers", status=429, retry_after=3600)
    with pytest.raises(Transient) as caught:
        make_adapter().snapshot()
    assert caught.value.retry_after == 3600 and sleeps == []


@pytest.mark.parametrize("kind", ["truncate", "drop", "refuse", "empty_after_commit", "null_after_commit",
                                  "timeout_after_commit"])
def test_a_read_that_loses_its_answer_is_retried(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                 sleeps: Sleeps, kind: str) -> None:
    emulator.fail_on("GetUsers", kind=kind)
    adapter = make_adapter()
    assert len(adapter.snapshot().records) == 5
    assert adapter.calls["GetUsers"] == 2 and len(sleeps) == 1


def test_a_truncated_answer_that_persists_says_why(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.fail_on("GetAdminUsers", kind="truncate", times=None)
    with pytest.raises(Transient, match="cut-off JSON"):
        make_adapter(retries=1).snapshot()


def test_a_slow_whmcs_times_out_and_is_retried_over_loopback(make_adapter: AdapterFactory,
                                                             emulator: WhmcsEmulator, sleeps: Sleeps) -> None:
    emulator.fail_on("GetClients", kind="timeout_after_commit", seconds=0.6)
    adapter = make_adapter("loopback", timeout_seconds=0.2)
    assert len(adapter.snapshot().records) == 5
    assert adapter.calls["GetClients"] == 2 and len(sleeps) == 1


def test_latency_beyond_the_timeout_is_transient(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                 sleeps: Sleeps) -> None:
    emulator.latency = 0.4
    adapter = make_adapter("loopback", timeout_seconds=0.1, retries=1)
    with pytest.raises(Transient, match="did not answer"):
        adapter.admin_emails()
    assert len(sleeps) == 1


def test_latency_within_the_timeout_is_fine(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.latency = 0.01
    assert len(make_adapter("loopback", page_size=2, concurrency=3).snapshot().records) == 5


def test_a_closed_port_is_unreachable_after_the_retries(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                       sleeps: Sleeps) -> None:
    url = emulator.start()
    emulator.stop()
    with pytest.raises(Unreachable, match="cannot connect"):
        make_adapter("loopback", url=url, retries=2).snapshot()
    assert len(sleeps) == 2


def test_a_firewall_page_with_403_is_access_denied(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.fail_on("GetAdminUsers", status=403)
    with pytest.raises(AccessDenied, match="firewall"):
        make_adapter().snapshot()


# --- incomplete listings ---------------------------------------------------------------


@pytest.mark.parametrize(("delta", "count"), [(1, 5), (-1, 5), (-1, 6), (2, 6), (-2, 6)])
def test_a_totalresults_that_lies_makes_the_listing_incomplete(make_adapter: AdapterFactory,
                                                               emulator: WhmcsEmulator, delta: int,
                                                               count: int) -> None:
    while len(emulator.clients) < count:
        emulator.add_client(f"extra{len(emulator.clients)}@example.com", "Ex", "Tra")
    emulator.fail_on("GetClients", kind="lie_total", delta=delta, times=None)
    with pytest.raises(IncompleteListing):
        make_adapter(page_size=3).snapshot()


def test_a_total_that_changes_between_pages_makes_the_listing_incomplete(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator
) -> None:
    emulator.fail_on("GetClients", kind="lie_total", delta=1, page=2)
    with pytest.raises(IncompleteListing, match="changed while"):
        make_adapter(page_size=2).snapshot()


def test_a_repeated_row_makes_the_listing_incomplete(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    emulator.fail_on("GetClients", kind="repeat_row", page=2)
    with pytest.raises(IncompleteListing, match="same row twice"):
        make_adapter(page_size=2).snapshot()


def test_a_listing_without_a_total_is_incomplete_unless_it_fits_one_page(make_adapter: AdapterFactory) -> None:
    import httpx

    def reply(rows: int) -> httpx.MockTransport:
        clients = [{"id": i, "email": f"{i}@example.com", "status": "Active"} for i in range(1, rows + 1)]
        return httpx.MockTransport(lambda request: httpx.Response(
            200, json={"result": "success", "clients": {"client": clients}}))

    assert len(make_adapter(transport=reply(2), page_size=3).list_all("GetClients", {}, "clients", "client")) == 2
    with pytest.raises(IncompleteListing, match="no totalresults"):
        make_adapter(transport=reply(3), page_size=3).list_all("GetClients", {}, "clients", "client")


# --- writes: never retried once sent ----------------------------------------------------


@pytest.mark.parametrize("kind", ["empty_after_commit", "null_after_commit", "timeout_after_commit", "truncate",
                                  "drop"])
def test_a_create_that_loses_its_answer_is_unknown_and_settled_by_lookup(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator, sleeps: Sleeps, kind: str
) -> None:
    emulator.fail_on("AddClient", kind=kind)
    adapter = make_adapter()
    with pytest.raises(OutcomeUnknown, match="may or may not"):
        adapter.create(NEW)
    assert adapter.calls["AddClient"] == 1 and sleeps == []
    found = adapter.find_by_email(NEW["email"])
    # "drop" closes the connection before WHMCS runs the call; the others run it first.
    assert bool(found) == (kind != "drop")
    if found:
        assert found[0].owner_user_id == emulator.clients[found[0].remote_id].owner_user_id


def test_a_create_that_times_out_over_loopback_is_unknown(make_adapter: AdapterFactory,
                                                         emulator: WhmcsEmulator, sleeps: Sleeps) -> None:
    emulator.fail_on("AddClient", kind="timeout_after_commit", seconds=0.6)
    adapter = make_adapter("loopback", timeout_seconds=0.2)
    with pytest.raises(OutcomeUnknown):
        adapter.create(NEW)
    assert adapter.calls["AddClient"] == 1 and sleeps == []
    assert emulator.client_by_email(NEW["email"]) is not None


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_write_answered_by_a_server_error_is_unknown(make_adapter: AdapterFactory, emulator: WhmcsEmulator,
                                                      status: int) -> None:
    emulator.fail_on("UpdateClient", status=status)
    adapter = make_adapter()
    ann = adapter.find_by_email("ann@example.com")[0]
    with pytest.raises(OutcomeUnknown):
        adapter.deactivate(ann)
    assert adapter.calls["UpdateClient"] == 1


@pytest.mark.parametrize(("kind", "status"), [("refuse", 0), ("status", 429), ("status", 503)])
def test_a_write_that_never_ran_is_retried_once_and_done_once(make_adapter: AdapterFactory,
                                                              emulator: WhmcsEmulator, sleeps: Sleeps,
                                                              kind: str, status: int) -> None:
    emulator.fail_on("AddClient", kind=kind, status=status or 503)
    adapter = make_adapter()
    record = adapter.create(NEW)
    assert adapter.calls["AddClient"] == 2 and len(sleeps) == 1
    assert [c.id for c in emulator.clients.values() if c.email == NEW["email"]] == [record.remote_id]


def test_an_update_user_that_loses_its_answer_stops_before_the_client(make_adapter: AdapterFactory,
                                                                      emulator: WhmcsEmulator) -> None:
    emulator.fail_on("UpdateUser", kind="empty_after_commit")
    adapter = make_adapter()
    ann = adapter.find_by_email("ann@example.com")[0]
    with pytest.raises(OutcomeUnknown):
        adapter.update(ann, {"email": "ann2@example.com"})
    assert adapter.calls["UpdateClient"] == 0
    # Repeating the update (as the next run does) converges: both writes are idempotent.
    adapter.update(ann, {"email": "ann2@example.com"})
    client = emulator.clients[ann.remote_id]
    assert client.email == emulator.users[client.owner_user_id or 0].email == "ann2@example.com"


def test_the_create_form_is_what_whmcs_expects(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    from syncd.config import NewClients

    recorder = Recorder(emulator.transport())
    make_adapter(transport=recorder).create({**NEW, "company": "Co"})
    [form] = recorder.sent("AddClient")
    assert form["responsetype"] == "json" and form["noemail"] == "true" and form["currency"] == "1"
    assert {"address1", "city", "state", "postcode", "country", "phonenumber"} <= set(form)
    assert "skipvalidation" not in form and form["companyname"] == "Co"
    recorder = Recorder(emulator.transport())
    settings = NewClients(missing_fields="skip_validation", send_welcome_email=True)
    make_adapter(transport=recorder, new_clients=settings).create({**NEW, "email": "other@example.com"})
    [form] = recorder.sent("AddClient")
    assert form["skipvalidation"] == "true"
    assert not {"address1", "city", "state", "postcode", "country", "phonenumber", "noemail"} & set(form)


def test_listing_pages_ask_in_a_stable_order(make_adapter: AdapterFactory, emulator: WhmcsEmulator) -> None:
    recorder = Recorder(emulator.transport())
    make_adapter(transport=recorder, page_size=2).snapshot()
    forms = recorder.sent("GetClients")
    assert all(f["orderby"] == "id" and f["sorting"] == "ASC" and f["limitnum"] in ("2", "3") for f in forms)
    assert sorted(f["limitstart"] for f in forms) == ["0", "2", "4"]


def test_when_several_snapshot_calls_fail_the_admins_error_is_the_one_raised(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator
) -> None:
    # GetAdminUsers, GetUsers page 1 and the later GetClients pages are in flight together.
    emulator.deny("GetAdminUsers", "GetUsers")
    with pytest.raises(PermissionDenied) as caught:
        make_adapter(page_size=2, concurrency=3).snapshot()
    assert caught.value.action == "GetAdminUsers"


def test_a_refused_credential_costs_one_call_whatever_the_concurrency(
    make_adapter: AdapterFactory, emulator: WhmcsEmulator
) -> None:
    emulator.secret = "another-secret"
    adapter = make_adapter(page_size=2, concurrency=4)
    with pytest.raises(BadCredentials):
        adapter.snapshot()
    assert dict(adapter.calls) == {"GetClients": 1}
