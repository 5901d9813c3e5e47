"""The WHMCS side's contract, through ``WhmcsAdapter`` against the emulator: over real
loopback HTTP and through the in-process transport (each test runs both ways)."""

from __future__ import annotations

import math

import pytest

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.config import DummyValues, NewClients
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.errors import DuplicateEmail, NotFound, RefusedWrite
from syncd.fieldmap import FieldRule
from syncd.model import Record, Side
from tests.whmcs.conftest import AdapterFactory


@pytest.fixture(params=["inprocess", "loopback"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestWhmcsContract:
    def test_snapshot_lists_every_client_with_its_owner_and_the_admins(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode, page_size=2, concurrency=3)
        snap = adapter.snapshot()
        assert snap.side is Side.WHMCS
        assert [r.remote_id for r in snap.records] == sorted(emulator.clients)
        by_email = {r.email: r for r in snap.records}
        ann = by_email["ann@example.com"]
        assert dict(ann.fields) == {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                                    "company": "Lee Ltd"}
        assert (ann.active, ann.closed, ann.status) == (True, False, "Active")
        assert (by_email["bob@example.com"].active, by_email["bob@example.com"].closed) == (False, False)
        assert (by_email["carol@example.com"].active, by_email["carol@example.com"].closed) == (False, True)
        for record in snap.records:
            assert record.owner_user_id == emulator.clients[record.remote_id].owner_user_id
        # Disabled admins are admins too: their identity is never synchronised.
        assert snap.admin_emails == {"boss@example.com", "old-admin@example.com"}

    def test_a_listing_costs_one_call_per_page_and_no_per_client_call(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        for i in range(20):
            emulator.add_client(f"bulk{i}@example.com", "Bulk", str(i))
        adapter = make_adapter(mode, page_size=4, concurrency=2)
        snap = adapter.snapshot()
        pages_clients = math.ceil(len(emulator.clients) / 4)
        pages_users = math.ceil(len(emulator.users) / 4)
        assert len(snap.records) == len(emulator.clients)
        assert dict(adapter.calls) == {"GetAdminUsers": 1, "GetClients": pages_clients, "GetUsers": pages_users}

    def test_find_by_email_is_exact_and_case_insensitive_though_search_is_a_prefix(
        self, mode: str, make_adapter: AdapterFactory
    ) -> None:
        adapter = make_adapter(mode)
        found = adapter.find_by_email("ANN@example.com")
        assert [r.email for r in found] == ["ann@example.com"]
        assert found[0].owner_user_id is not None
        assert [r.email for r in adapter.find_by_email("dave.moe@example.COM")] == ["Dave.Moe@Example.com"]
        assert adapter.find_by_email("nobody@example.com") == []
        assert adapter.find_by_email("  ") == []

    def test_lookup_by_email_and_id_with_the_admins_a_gone_client_absent(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        ann = emulator.client_by_email("ann@example.com")
        carol = emulator.client_by_email("carol@example.com")
        assert ann is not None and carol is not None
        part = adapter.lookup(["ANN@example.com", "nobody@example.com"], [carol, 9999])
        assert [r.remote_id for r in part.records] == sorted([ann, carol])  # no client #9999: simply absent
        by_id = {r.remote_id: r for r in part.records}
        assert by_id[carol].closed and by_id[carol].status == "Closed"
        assert by_id[ann].owner_user_id == emulator.clients[ann].owner_user_id
        assert dict(by_id[ann].fields) == {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                                           "company": "Lee Ltd"}
        assert part.admin_emails == {"boss@example.com", "old-admin@example.com"}
        assert adapter.read(9999) is None

    def test_create_with_dummy_values_creates_the_client_and_its_owner_user(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        fields = {"email": "new@example.com", "first_name": "", "last_name": "Neu"}
        record = adapter.create(fields)
        client = emulator.clients[record.remote_id]
        dummy = DummyValues()
        assert (client.address1, client.city, client.state, client.postcode, client.country, client.phonenumber) == (
            dummy.address1, dummy.city, dummy.state, dummy.postcode, dummy.country, dummy.phonenumber)
        assert (client.firstname, client.lastname, client.email) == (dummy.firstname, "Neu", "new@example.com")
        assert record.owner_user_id == client.owner_user_id
        owner = emulator.users[client.owner_user_id or 0]
        assert owner.email == "new@example.com" and owner.has_password and owner.clients == {record.remote_id: True}
        assert record.fields["first_name"] == dummy.firstname
        assert adapter.dummy_fields_for(fields) == {"first_name"}
        assert "phonenumber" not in record.fields  # not a mapped field here: not reported
        mapped = make_adapter(mode, mapped=(FieldRule("phonenumber", "meta.billing_phone", "phone"),))
        with_phone = mapped.create({"email": "tel@example.com", "first_name": "T", "last_name": "", "phonenumber": ""})
        assert with_phone.fields["phonenumber"] == dummy.phonenumber
        assert emulator.clients[with_phone.remote_id].phonenumber == dummy.phonenumber
        assert with_phone.fields["last_name"] == dummy.lastname
        assert mapped.dummy_fields_for({"first_name": "T", "last_name": "", "phonenumber": ""}) == {
            "last_name", "phonenumber"}
        assert mapped.dummy_fields_for({"first_name": "T", "last_name": "L", "phonenumber": "+1 503 555 1212"}) == set()
        assert (record.active, record.status) == (True, "Active")
        assert emulator.emails_sent == []  # send_welcome_email defaults to false

    def test_create_with_skip_validation_sends_no_dummy_value(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode, new_clients=NewClients(missing_fields="skip_validation"))
        fields = {"email": "skip@example.com", "first_name": "Sk", "last_name": "Ip", "company": "Co"}
        record = adapter.create(fields)
        client = emulator.clients[record.remote_id]
        assert (client.address1, client.city, client.state, client.postcode, client.phonenumber) == ("",) * 5
        assert client.companyname == "Co"
        assert adapter.dummy_fields_for(fields) == frozenset()
        assert dict(record.fields) == fields

    def test_create_can_send_the_welcome_and_the_password_reset_emails(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode, new_clients=NewClients(send_welcome_email=True, send_password_reset=True))
        adapter.create({"email": "mail@example.com", "first_name": "Ma", "last_name": "Il"})
        assert emulator.emails_sent == [("Client Signup Email", "mail@example.com"),
                                        ("Password Reset Validation", "mail@example.com")]

    def test_create_of_a_taken_email_is_a_duplicate(self, mode: str, make_adapter: AdapterFactory) -> None:
        adapter = make_adapter(mode)
        with pytest.raises(DuplicateEmail, match="already exists"):
            adapter.create({"email": "ANN@example.com", "first_name": "A", "last_name": "B"})

    def test_writes_to_an_admins_identity_are_refused_before_any_call(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        with pytest.raises(RefusedWrite):
            adapter.create({"email": "Boss@example.com", "first_name": "B", "last_name": "S"})
        ann = adapter.find_by_email("ann@example.com")[0]
        with pytest.raises(RefusedWrite):
            adapter.update(ann, {"email": "old-admin@example.com"})
        assert adapter.calls["AddClient"] == adapter.calls["UpdateClient"] == adapter.calls["UpdateUser"] == 0
        assert emulator.clients[ann.remote_id].email == "ann@example.com"

    def test_update_writes_the_client_and_its_owner_user(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        ann = next(r for r in adapter.snapshot().records if r.email == "ann@example.com")
        updated = adapter.update(ann, {"email": "ann.lee@example.com", "first_name": "Anne", "company": "Lee Plc"})
        client = emulator.clients[ann.remote_id]
        user = emulator.users[client.owner_user_id or 0]
        assert (client.email, client.firstname, client.companyname) == ("ann.lee@example.com", "Anne", "Lee Plc")
        assert (user.email, user.firstname, user.lastname) == ("ann.lee@example.com", "Anne", "Lee")
        assert dict(updated.fields) == {"email": "ann.lee@example.com", "first_name": "Anne", "last_name": "Lee",
                                        "company": "Lee Plc"}
        assert adapter.calls["UpdateUser"] == adapter.calls["UpdateClient"] == 1

    def test_update_of_a_company_alone_leaves_the_user_alone(
        self, mode: str, make_adapter: AdapterFactory
    ) -> None:
        adapter = make_adapter(mode)
        ann = adapter.find_by_email("ann@example.com")[0]
        adapter.update(ann, {"company": "Other"})
        assert adapter.calls["UpdateUser"] == 0 and adapter.calls["UpdateClient"] == 1

    def test_update_learns_a_missing_owner_from_the_details(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        cid = emulator.client_by_email("bob@example.com") or 0
        bare = Record(side=Side.WHMCS, remote_id=cid, fields={"email": "bob@example.com"})
        updated = adapter.update(bare, {"last_name": "Rock"})
        assert updated.owner_user_id == emulator.clients[cid].owner_user_id
        assert emulator.users[updated.owner_user_id or 0].lastname == "Rock"

    def test_update_of_a_vanished_client_is_not_found(self, mode: str, make_adapter: AdapterFactory) -> None:
        adapter = make_adapter(mode)
        ghost = Record(side=Side.WHMCS, remote_id=999, fields={"email": "ghost@example.com"}, owner_user_id=999)
        with pytest.raises(NotFound):
            adapter.update(ghost, {"first_name": "Boo"})

    def test_deactivate_and_reactivate_change_the_status_and_never_close_or_delete(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        records = {r.email: r for r in adapter.snapshot().records}
        off = adapter.deactivate(records["ann@example.com"])
        assert (off.active, off.status) == (False, "Inactive")
        assert emulator.clients[off.remote_id].status == "Inactive"
        on = adapter.reactivate(off, ["subscriber"])
        assert (on.active, on.status) == (True, "Active")
        assert emulator.clients[on.remote_id].status == "Active"
        closed = adapter.deactivate(records["carol@example.com"])
        assert closed.closed and emulator.clients[closed.remote_id].status == "Closed"
        assert emulator.calls["CloseClient"] == emulator.calls["DeleteClient"] == 0
        assert len(emulator.clients) == 5

    def test_details_version_and_admin_details(
        self, mode: str, make_adapter: AdapterFactory, emulator: WhmcsEmulator
    ) -> None:
        adapter = make_adapter(mode)
        cid = emulator.client_by_email("ann@example.com") or 0
        details = adapter.client_details(cid)
        assert details["email"] == "ann@example.com"
        assert details["users"]["user"][0]["is_owner"] is True
        with pytest.raises(NotFound):
            adapter.client_details(999)
        assert adapter.whmcs_version() == emulator.version
        assert adapter.admin_details()["whmcs"]["version"] == emulator.version


def test_the_adapter_is_a_side_adapter(make_adapter: AdapterFactory) -> None:
    from syncd.ports import SideAdapter

    adapter: SideAdapter = make_adapter()
    assert isinstance(adapter, WhmcsAdapter) and adapter.side is Side.WHMCS
