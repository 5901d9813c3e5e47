"""The WordPress contract: what every WordPress (the real one, our emulator) must do through the
adapter, and the measured REST behaviour the adapter relies on (reference/wordpress.md).

vdirsyncer's storage-tests pattern: this base class holds the tests and an abstract ``site``
fixture; ``test_contract_real.py`` binds it to a real WordPress, ``test_contract_emulator.py`` to
the emulator served on loopback. The real site is shared by the whole run, so every test makes
its own users under a unique prefix and never assumes a count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd import mapping
from syncd.adapters.wordpress import USER_FIELDS, WordPressAdapter
from syncd.errors import (
    BadCredentials,
    DuplicateEmail,
    InvalidRecord,
    NotFound,
    PermissionDenied,
    RefusedWrite,
)
from syncd.model import Record, Side
from tests.wordpress.conftest import (
    AdapterFactory,
    Site,
    Sleeps,
    assert_no_secret,
    make_adapter_factory,
    rest_create_users,
    unique,
)


def _raw_ids(site: Site) -> list[int]:
    """Every user id, listed by plain REST calls independent of the adapter."""
    ids: list[int] = []
    with site.client() as client:
        page = 1
        while True:
            response = client.get(site.rest_url("/users"), params={"context": "edit", "per_page": 100, "page": page,
                                                                   "orderby": "id"})
            assert response.status_code == 200
            ids += [u["id"] for u in response.json()]
            if page >= int(response.headers["X-WP-TotalPages"]):
                return ids
            page += 1


class WordPressContract:
    """Tests every WordPress binding must pass; subclasses provide the ``site`` fixture."""

    @pytest.fixture
    def site(self) -> Site:
        raise NotImplementedError("a subclass binds the site")

    @pytest.fixture
    def adapter_factory(self, site: Site, sleeps: Sleeps) -> Iterator[AdapterFactory]:
        made: list[WordPressAdapter] = []
        yield make_adapter_factory(site, sleeps, made)
        for adapter in made:
            adapter.close()

    @pytest.fixture
    def adapter(self, adapter_factory: AdapterFactory) -> WordPressAdapter:
        return adapter_factory()

    def get(self, site: Site, user_id: int) -> dict[str, Any]:
        with site.client() as client:
            response = client.get(site.rest_url(f"/users/{user_id}"), params={"context": "edit"})
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def make(self, adapter: WordPressAdapter, p: str, name: str = "ann", **fields: str) -> Record:
        return adapter.create({"email": f"{p}{name}@example.test", "first_name": name.title(),
                               "last_name": f"Lee{p}", **fields})

    # -- the account -----------------------------------------------------------------------

    def test_verify_learns_the_account_and_where_rest_lives(self, site: Site, adapter: WordPressAdapter) -> None:
        account = adapter.verify()
        assert account.username == site.admin_user
        assert "administrator" in account.roles and account.can("list_users")
        info = adapter.discover()
        assert info.pretty and info.app_passwords_available and "wp/v2" in info.namespaces
        assert adapter.calls["me"] == 1 and adapter.verify() is account  # learnt once

    def test_wrong_application_password_fails_loudly(self, site: Site, adapter_factory: AdapterFactory,
                                                     secret_sink: list[str]) -> None:
        wrong = "Wrong0pass1Wrong2pass3xyz"
        adapter = adapter_factory(password=wrong, concurrency=2)
        with pytest.raises(BadCredentials) as caught:
            adapter.snapshot()
        # /users/me's verdict, not the anonymous listing's: page 1 went out alongside /users/me
        # (one round trip less) and its answer is dropped; no further page is asked for.
        assert "did not accept the application password" in str(caught.value)
        assert adapter.calls["me"] == 1 and adapter.calls["list_page"] <= 1
        serial = adapter_factory(password=wrong, concurrency=1)
        with pytest.raises(BadCredentials, match="did not accept the application password"):
            serial.snapshot()
        assert serial.calls["list_page"] == 0  # one request at a time: /users/me alone first
        assert_no_secret([str(caught.value), repr(adapter), *secret_sink], {wrong, site.app_password})

    def test_unknown_user_fails_loudly(self, adapter_factory: AdapterFactory) -> None:
        with pytest.raises(BadCredentials):
            adapter_factory(username="nobody-" + unique()).verify()

    def test_password_with_spaces_and_email_as_username(self, site: Site, adapter: WordPressAdapter,
                                                        adapter_factory: AdapterFactory) -> None:
        email = adapter.verify().email
        spaced = " ".join(site.app_password[i:i + 4] for i in range(0, len(site.app_password), 4))
        assert adapter_factory(username=email, password=spaced).verify().username == site.admin_user

    def test_subscriber_cannot_list(self, site: Site, adapter_factory: AdapterFactory) -> None:
        login = unique("sub")
        password = site.add_user(login, "subscriber", f"{login}@example.test")
        adapter = adapter_factory(username=login, password=password)
        assert adapter.verify().username == login
        with pytest.raises(PermissionDenied) as caught:
            adapter.snapshot()
        assert caught.value.action == "list_users"

    # -- listing ---------------------------------------------------------------------------

    def test_snapshot_is_complete_across_pages(self, site: Site, adapter_factory: AdapterFactory) -> None:
        prefix = unique("s")
        site.seed(23, prefix)
        adapter = adapter_factory(page_size=7, concurrency=2)
        snapshot = adapter.snapshot()
        ids = [r.remote_id for r in snapshot.records]
        assert len(ids) == len(set(ids))
        assert sorted(ids) == sorted(_raw_ids(site))
        seeded = {f"{prefix}-{i:05d}@example.test" for i in range(1, 24)}
        assert seeded <= {r.email for r in snapshot.records}
        assert adapter.calls["list_page"] == math.ceil(len(ids) / 7)
        assert snapshot.side is Side.WORDPRESS

    def test_snapshot_past_one_hundred_users(self, site: Site, adapter: WordPressAdapter) -> None:
        prefix = unique("h")
        site.seed(101, prefix)
        snapshot = adapter.snapshot()
        emails = [r.email for r in snapshot.records]
        assert len(emails) == len(set(emails)) > 101
        assert {f"{prefix}-{i:05d}@example.test" for i in range(1, 102)} <= set(emails)
        assert adapter.calls["list_page"] == math.ceil(len(emails) / 100) >= 2

    def test_snapshot_maps_fields_roles_and_admins(self, site: Site, adapter_factory: AdapterFactory) -> None:
        p = unique()
        ann, ed, off = rest_create_users(site, [
            {"username": f"{p}ann", "email": f"{p}Ann@Example.test", "first_name": "Ann", "last_name": "O'Lee",
             "meta": {"billing_company": "Lee & Co"}},
            {"username": f"{p}ed", "email": f"{p}ed@example.test", "roles": ["editor"]},
            {"username": f"{p}off", "email": f"{p}off@example.test", "roles": []},
        ])
        snapshot = adapter_factory(exclude_roles=["editor"]).snapshot()
        by_id = {r.remote_id: r for r in snapshot.records}
        assert dict(by_id[ann].fields) == {"email": f"{p}Ann@Example.test", "first_name": "Ann",
                                           "last_name": "O'Lee", "company": "Lee & Co"}
        assert by_id[ann].roles == ("subscriber",) and by_id[ann].active and by_id[ann].username == f"{p}ann"
        assert by_id[off].roles == () and not by_id[off].active
        assert snapshot.fields == ("email", "first_name", "last_name", "company")
        assert f"{p}ed@example.test" in snapshot.admin_emails  # excluded role
        assert by_id[ed].roles == ("editor",)
        admin = next(r for r in snapshot.records if r.username == site.admin_user)
        assert admin.key in snapshot.admin_emails
        assert f"{p}ann@example.test" not in snapshot.admin_emails

    def test_a_role_that_manages_users_counts_as_admin(self, site: Site, adapter: WordPressAdapter) -> None:
        p = unique("r")
        site.add_role(f"{p}_manager", ["read", "list_users", "edit_users"])
        (uid,) = rest_create_users(site, [{"username": f"{p}m", "email": f"{p}m@example.test",
                                           "roles": [f"{p}_manager"]}])
        snapshot = adapter.snapshot()
        assert f"{p}m@example.test" in snapshot.admin_emails
        record = next(r for r in snapshot.records if r.remote_id == uid)
        with pytest.raises(RefusedWrite, match="administrator in effect"):
            adapter.update(record, {"first_name": "X"})

    # -- _fields: what the adapter asks for (measured on WordPress 6.1) ----------------------

    def test_fields_trims_the_listing_to_the_same_values(self, site: Site) -> None:
        p = unique("f")
        rest_create_users(site, [
            {"username": f"{p}ann", "email": f"{p}ann@example.test", "first_name": "A&B", "last_name": "O'Lee",
             "meta": {"billing_company": "Lee & Co"}},
            {"username": f"{p}ed", "email": f"{p}ed@example.test", "roles": ["editor"]},
            {"username": f"{p}off", "email": f"{p}off@example.test", "roles": []},
        ])
        wanted = USER_FIELDS.split(",")
        base: dict[str, str | int] = {"context": "edit", "per_page": 2, "orderby": "id", "order": "asc"}
        with site.client() as c:
            full = c.get(site.rest_url("/users"), params=base)
            total = int(full.headers["X-WP-Total"])
            last: dict[str, str | int] = {**base, "page": math.ceil(total / 2)}
            for params in (base, last):
                whole = c.get(site.rest_url("/users"), params=params)
                trimmed = c.get(site.rest_url("/users"), params={**params, "_fields": USER_FIELDS})
                assert trimmed.status_code == 200
                for header in ("X-WP-Total", "X-WP-TotalPages"):  # the totals survive
                    assert trimmed.headers[header] == whole.headers[header], header
                for rel in ('rel="next"', 'rel="prev"'):  # and so does paging
                    assert (rel in trimmed.headers.get("Link", "")) == (rel in whole.headers.get("Link", "")), rel
                assert [u["id"] for u in trimmed.json()] == [u["id"] for u in whole.json()]
                for small, big in zip(trimmed.json(), whole.json(), strict=True):
                    # the same values, in WordPress's own order (not the request's); no _links
                    assert small == {k: v for k, v in big.items() if k in wanted}
                    assert list(small) == [k for k in big if k in wanted]
                    assert "_links" in big and "_links" not in small and "avatar_urls" not in small
            # Every user the adapter must protect is still told apart by the trimmed listing.
            ours = c.get(site.rest_url("/users"), params={"context": "edit", "per_page": 100, "search": p,
                                                           "_fields": USER_FIELDS}).json()
            by_login = {u["username"]: u for u in ours}
            assert by_login[f"{p}ann"]["meta"]["billing_company"] == "Lee & Co"
            assert by_login[f"{p}ann"]["first_name"] == "A&amp;B"  # kses-escaped, as without _fields
            assert by_login[f"{p}ed"]["roles"] == ["editor"] and by_login[f"{p}off"]["roles"] == []
            me = c.get(site.rest_url("/users/me"), params={"context": "edit", "_fields": USER_FIELDS}).json()
            assert set(me) == set(wanted) and me["capabilities"]["list_users"] is True

    def test_fields_quirks(self, site: Site) -> None:
        """What WordPress 6.1 does with ``_fields`` beyond plain names; the emulator must agree."""
        (uid,) = rest_create_users(site, [{"username": unique("q"), "email": f"{unique('q')}@example.test",
                                           "meta": {"billing_company": "Q Ltd"}}])
        one = site.rest_url(f"/users/{uid}")

        def get(fields: Any, route: str = one) -> Any:
            key = "_fields[]" if isinstance(fields, list) else "_fields"
            with site.client() as c:
                r = c.get(route, params={"context": "edit", key: fields})
            assert r.status_code == 200
            return r.json()

        # The users controller computes meta, capabilities and avatars only when named exactly:
        # a dotted name drops the field altogether (meta.billing_company would lose the company).
        assert get("id,meta.billing_company") == {"id": uid}
        assert get("id,capabilities.read") == {"id": uid}
        assert get("avatar_urls.24,id") == {"id": uid}
        assert get("id,meta")["meta"]["billing_company"] == "Q Ltd"
        assert get("id,meta.billing_company,meta")["meta"]["billing_company"] == "Q Ltd"
        # A dotted name under one already asked for whole ends the list (WordPress's `break 2`).
        assert list(get("meta,meta.billing_company,id")) == ["meta"]
        # _links only when asked for; a single user's whole, a listed user's trimmed like any object.
        assert "_links" not in get("id,email")
        assert list(get("id,_links.self")["_links"]) == ["self", "collection"]
        assert set(get("_links")) == {"_links"} and set(get("ID,_links")) == {"_links"}
        with site.client() as c:
            def listed(fields: str) -> Any:
                r = c.get(site.rest_url("/users"), params={"context": "edit", "per_page": 1, "_fields": fields})
                return r.json()[0]

            assert list(listed("id,_links.self")["_links"]) == ["self"]
            assert listed("_links.nope") == {"_links": []}
        # Case-sensitive names; whitespace and commas separate; an empty list filters nothing.
        assert get("ID,Email") == []
        assert get(" id  email,,") == {"id": uid, "email": get("email")["email"]}
        assert "avatar_urls" in get(",")
        assert get(["id", "email"]) == {"id": uid, "email": get("email")["email"]}
        assert get("id.x") == {"id": uid}
        with site.client() as c:
            shown = c.get(site.rest_url("/users"), params={"context": "edit", "per_page": 1, "_fields": "ID"})
            assert shown.json() == [[]] and int(shown.headers["X-WP-TotalPages"]) >= 1

    # -- find_by_email ---------------------------------------------------------------------

    def test_find_by_email_is_exact_and_case_insensitive(self, site: Site, adapter: WordPressAdapter) -> None:
        p = unique()
        ann_id, _ = rest_create_users(site, [
            {"username": f"{p}ann", "email": f"{p}ann@example.test", "first_name": f"Zed{p}"},
            {"username": f"jo{p}ann", "email": f"jo{p}ann@example.test"},  # contains ann's email
        ])
        found = adapter.find_by_email(f"  {p.upper()}ANN@EXAMPLE.TEST ")
        assert [r.remote_id for r in found] == [ann_id]
        assert adapter.find_by_email(f"nobody{p}@example.test") == []
        assert adapter.find_by_email(f"Zed{p}") == []  # no email equals a first name

    def test_lookup_by_email_and_id_a_gone_user_absent_admins_protected(
        self, site: Site, adapter_factory: AdapterFactory
    ) -> None:
        p = unique("l")
        ann, ed, gone = rest_create_users(site, [
            {"username": f"{p}ann", "email": f"{p}Ann@Example.test", "first_name": "Ann"},
            {"username": f"{p}ed", "email": f"{p}ed@example.test", "roles": ["editor"]},
            {"username": f"{p}gone", "email": f"{p}gone@example.test"},
        ])
        adapter = adapter_factory(exclude_roles=["editor"])
        with site.client() as client:
            client.delete(site.rest_url(f"/users/{gone}"),
                          params={"force": "true", "reassign": adapter.verify().id}).raise_for_status()
        part = adapter.lookup([f"{p}ANN@example.test", f"{p}nobody@example.test"], [ed, gone])
        assert sorted(r.remote_id for r in part.records) == sorted([ann, ed])  # the deleted one is absent
        assert part.admin_emails == {f"{p}ed@example.test"}  # the excluded role, and not Ann
        assert part.fields == adapter.fields
        assert next(r for r in part.records if r.remote_id == ann).fields["first_name"] == "Ann"

    # -- create ----------------------------------------------------------------------------

    def test_create_with_the_email_scheme(self, site: Site, adapter: WordPressAdapter) -> None:
        p = unique()
        record = adapter.create({"email": f"{p}Ann@Example.test", "first_name": "Ann", "last_name": "Lee",
                                 "company": "Lee Ltd"})
        assert record.username == f"{p}Ann@Example.test"
        assert record.roles == ("subscriber",) and record.active
        assert dict(record.fields) == {"email": f"{p}Ann@Example.test", "first_name": "Ann", "last_name": "Lee",
                                       "company": "Lee Ltd"}
        stored = self.get(site, record.remote_id)
        assert stored["name"] == "Ann Lee" and stored["meta"]["billing_company"] == "Lee Ltd"

    def test_create_with_the_name_scheme_transliterates_and_stays_unique(
        self, adapter_factory: AdapterFactory
    ) -> None:
        p = unique()
        adapter = adapter_factory(username_scheme="name")
        first = adapter.create({"email": f"{p}1@example.test", "first_name": "José", "last_name": f"Müller {p}"})
        second = adapter.create({"email": f"{p}2@example.test", "first_name": "José", "last_name": f"Müller {p}"})
        assert first.username == f"jose.muller.{p}"
        assert second.username == f"jose.muller.{p}-2"
        assert adapter.calls["create"] == 3  # one refusal (existing_user_login), then the suffix

    def test_create_a_taken_login_gets_a_suffix(self, site: Site, adapter: WordPressAdapter) -> None:
        p = unique()
        email = f"{p}@example.test"
        rest_create_users(site, [{"username": email, "email": f"other{p}@example.test"}])
        assert adapter.create({"email": email}).username == f"{email}-2"

    def test_create_an_email_that_exists_is_a_duplicate(self, adapter: WordPressAdapter) -> None:
        p = unique()
        self.make(adapter, p)
        with pytest.raises(DuplicateEmail):
            adapter.create({"email": f"{p.upper()}ANN@example.test", "first_name": "Other"})

    def test_create_refuses_a_too_long_email_before_sending(self, adapter: WordPressAdapter) -> None:
        p = unique()
        long_email = f"{p}{'x' * (101 - len(p) - len('@example.test'))}@example.test"
        assert len(long_email) == 101
        with pytest.raises(InvalidRecord) as caught:
            adapter.create({"email": long_email})
        assert caught.value.field == "email" and caught.value.user == long_email
        assert adapter.calls["create"] == 0
        hundred = long_email[1:]
        record = adapter.create({"email": hundred})  # 100 is allowed; a login takes at most 60
        assert record.email == hundred and record.username == hundred.split("@")[0][:60]

    def test_create_with_the_configured_role(self, adapter_factory: AdapterFactory) -> None:
        record = self.make(adapter_factory(role="author"), unique())
        assert record.roles == ("author",)

    def test_create_with_a_role_the_site_lacks_is_invalid(self, adapter_factory: AdapterFactory) -> None:
        with pytest.raises(InvalidRecord) as caught:
            self.make(adapter_factory(role="customer"), unique())
        assert caught.value.field == "roles"

    def test_create_can_send_a_password_reset(self, site: Site, adapter_factory: AdapterFactory) -> None:
        record = self.make(adapter_factory(send_password_reset=True), unique())
        mails = [m for m in site.mails() if m["to"] == record.email]
        assert any("Password Reset" in m["subject"] for m in mails)

    # -- update ----------------------------------------------------------------------------

    def test_update_names_email_and_company(self, site: Site, adapter: WordPressAdapter) -> None:
        p = unique()
        record = self.make(adapter, p)
        updated = adapter.update(record, {"first_name": "Anna", "email": f"{p}anna@example.test",
                                          "company": "New & Co", "phone": "+1 555"})
        assert dict(updated.fields) == {"email": f"{p}anna@example.test", "first_name": "Anna",
                                        "last_name": f"Lee{p}", "company": "New & Co"}
        stored = self.get(site, record.remote_id)
        assert stored["name"] == f"Anna Lee{p}"  # the default display name follows the names
        assert stored["username"] == record.username  # never edited
        assert updated in adapter.snapshot().records

    def test_update_keeps_a_display_name_the_person_chose(self, site: Site, adapter: WordPressAdapter) -> None:
        record = self.make(adapter, unique())
        with site.client() as client:
            client.post(site.rest_url(f"/users/{record.remote_id}"), json={"name": "Annie L."}).raise_for_status()
        adapter.update(record, {"last_name": "Moe"})
        assert self.get(site, record.remote_id)["name"] == "Annie L."

    def test_update_reads_back_names_with_ampersands_as_written(self, adapter: WordPressAdapter) -> None:
        record = self.make(adapter, unique())
        updated = adapter.update(record, {"last_name": "Smith & Sons"})
        assert updated.fields["last_name"] == "Smith & Sons"  # stored as "Smith &amp; Sons"
        again = next(r for r in adapter.snapshot().records if r.remote_id == record.remote_id)
        assert again.fields["last_name"] == "Smith & Sons"

    def test_update_to_an_email_in_use_is_a_duplicate(self, adapter: WordPressAdapter) -> None:
        p = unique()
        ann, bob = self.make(adapter, p, "ann"), self.make(adapter, p, "bob")
        with pytest.raises(DuplicateEmail):
            adapter.update(bob, {"email": ann.email.upper()})

    def test_two_users_swap_emails_through_the_transit_address(self, adapter: WordPressAdapter) -> None:
        # What the planner's Park does (DESIGN §5.3, issue 10): WordPress takes syncd's temporary
        # .invalid address as an email, and then lets the two accounts trade their emails.
        p = unique()
        ann, bob = self.make(adapter, p, "ann"), self.make(adapter, p, "bob")
        parked = adapter.update(ann, {"email": mapping.transit_email(Side.WORDPRESS, ann.remote_id)})
        assert mapping.is_transit_email(parked.email)
        ann_email, bob_email = ann.email, bob.email
        bob = adapter.update(bob, {"email": ann_email})
        ann = adapter.update(parked, {"email": bob_email})
        assert (ann.email, bob.email) == (bob_email, ann_email)
        found = {r.remote_id: r.email for r in adapter.snapshot().records}
        assert (found[ann.remote_id], found[bob.remote_id]) == (bob_email, ann_email)

    def test_update_refuses_a_too_long_email(self, adapter: WordPressAdapter) -> None:
        record = self.make(adapter, unique())
        with pytest.raises(InvalidRecord) as caught:
            adapter.update(record, {"email": "x" * 95 + "@example.test"})
        assert caught.value.field == "email" and adapter.calls["update"] == 0

    def test_update_of_a_deleted_user_is_not_found(self, site: Site, adapter: WordPressAdapter) -> None:
        record = self.make(adapter, unique())
        with site.client() as client:
            client.delete(site.rest_url(f"/users/{record.remote_id}"),
                          params={"force": "true", "reassign": adapter.verify().id}).raise_for_status()
        with pytest.raises(NotFound):
            adapter.update(record, {"first_name": "Gone"})

    # -- deactivate / reactivate -----------------------------------------------------------

    def test_deactivate_leaves_no_role_and_reactivate_gives_roles_back(
        self, site: Site, adapter: WordPressAdapter
    ) -> None:
        record = self.make(adapter, unique())
        off = adapter.deactivate(record)
        assert off.roles == () and not off.active
        stored = self.get(site, record.remote_id)
        assert stored["roles"] == [] and not stored["capabilities"]
        assert adapter.deactivate(off).roles == ()  # already off: nothing to write
        assert adapter.reactivate(off, ("author",)).roles == ("author",)
        adapter.deactivate(off)
        assert adapter.reactivate(off).roles == ("subscriber",)  # roles unknown: the new-user role

    def test_reactivate_never_grants_an_excluded_or_admin_role(self, adapter_factory: AdapterFactory) -> None:
        adapter = adapter_factory(exclude_roles=["editor"])
        record = adapter.deactivate(self.make(adapter, unique()))
        for role in ("administrator", "editor"):
            with pytest.raises(RefusedWrite):
                adapter.reactivate(record, (role,))
        assert adapter.calls["update"] == 1  # only the deactivation

    # -- refusals --------------------------------------------------------------------------

    def test_refuses_to_write_to_admins_excluded_roles_and_itself(
        self, site: Site, adapter_factory: AdapterFactory
    ) -> None:
        p = unique()
        adapter = adapter_factory(exclude_roles=["editor"])
        other_admin, editor = rest_create_users(site, [
            {"username": f"{p}boss", "email": f"{p}boss@example.test", "roles": ["administrator"]},
            {"username": f"{p}ed", "email": f"{p}ed@example.test", "roles": ["editor"]},
        ])
        me = adapter.verify().id
        for uid in (other_admin, editor, me):
            record = Record(side=Side.WORDPRESS, remote_id=uid, fields={"email": f"{uid}@x.test"},
                            roles=("subscriber",))
            for write in (lambda r: adapter.update(r, {"first_name": "X"}), adapter.deactivate,
                          lambda r: adapter.reactivate(r, ("subscriber",))):
                with pytest.raises(RefusedWrite):
                    write(record)
        assert adapter.calls["update"] == 0

    def test_set_password_refuses_admins_excluded_roles_and_itself(
        self, site: Site, adapter_factory: AdapterFactory
    ) -> None:
        """Issue 14: a carried password is set on a subscriber, never on an administrator, an excluded
        role or syncd's own account (read fresh), and no message says the password."""
        from syncd.passwords import Password

        p = unique()
        adapter = adapter_factory(exclude_roles=["editor"])
        other_admin, editor = rest_create_users(site, [
            {"username": f"{p}boss", "email": f"{p}boss@example.test", "roles": ["administrator"]},
            {"username": f"{p}ed", "email": f"{p}ed@example.test", "roles": ["editor"]},
        ])
        for uid in (other_admin, editor, adapter.verify().id):
            with pytest.raises(RefusedWrite, match="refusing to set the password") as refused:
                adapter.set_password(uid, Password(f"{p}-Never-Set-9"))
            assert f"{p}-Never-Set-9" not in str(refused.value)
        assert adapter.calls["update"] == 0
        record = self.make(adapter, unique())
        written = adapter.set_password(record.remote_id, Password(f"{p}-Carried-Pa55"))
        assert written.remote_id == record.remote_id and adapter.calls["update"] == 1

    def test_refuses_a_user_promoted_since_it_was_read(self, site: Site, adapter: WordPressAdapter) -> None:
        record = self.make(adapter, unique())
        with site.client() as client:
            client.post(site.rest_url(f"/users/{record.remote_id}"), json={"roles": ["administrator"]}
                        ).raise_for_status()
        with pytest.raises(RefusedWrite, match="administrator"):
            adapter.deactivate(record)  # the record still says subscriber; the fresh read does not

    # -- the measured REST behaviour the adapter relies on (reference/wordpress.md) --------

    def _code(self, response: httpx.Response) -> tuple[int, str]:
        body = response.json()
        return response.status_code, body.get("code", "") if isinstance(body, dict) else ""

    def test_error_table_on_create(self, site: Site) -> None:
        p = unique()
        base = {"username": f"{p}u", "email": f"{p}u@example.test", "password": "Pass-word-1"}
        users = site.rest_url("/users")
        with site.client() as c:
            assert c.post(users, json=base).status_code == 201
            r = c.post(users, json={**base, "username": f"{p}v", "email": f"{p}U@EXAMPLE.test"})
            assert self._code(r) == (500, "existing_user_email") and r.json()["data"] is None
            r = c.post(users, json={**base, "username": f"{p}U".upper(), "email": f"{p}w@example.test"})
            assert self._code(r) == (500, "existing_user_login")
            r = c.post(users, json={**base, "username": f"{p}x", "email": "not-an-email"})
            assert self._code(r) == (400, "rest_invalid_param")
            assert r.json()["data"]["details"]["email"]["code"] == "rest_invalid_email"
            r = c.post(users, json={"username": f"{p}x"})
            assert self._code(r) == (400, "rest_missing_callback_param")
            assert r.json()["data"]["params"] == ["email", "password"]
            for bad_login in ("jürgen" + p, "bad name!<>", "two  spaces"):
                r = c.post(users, json={**base, "username": bad_login, "email": f"{p}y@example.test"})
                assert self._code(r) == (400, "rest_invalid_param")
                assert r.json()["data"]["details"]["username"]["code"] == "rest_user_invalid_username"
            r = c.post(users, json={**base, "username": "l" * 61, "email": f"{p}y@example.test"})
            assert self._code(r) == (500, "user_login_too_long")
            long_email = f"{p}{'e' * 90}@example.test"
            r = c.post(users, json={**base, "username": f"{p}long", "email": long_email})
            assert self._code(r) == (500, "internal_server_error")
            assert c.get(users, params={"search": long_email, "context": "edit"}).json() == []  # not created
            for password in ("", "back\\slash"):
                r = c.post(users, json={**base, "username": f"{p}z", "email": f"{p}z@example.test",
                                        "password": password})
                assert self._code(r) == (400, "rest_invalid_param")
                assert r.json()["data"]["details"]["password"]["code"] == "rest_user_invalid_password"
            r = c.post(users, json={**base, "username": f"{p}z", "email": f"{p}z@example.test", "roles": ["customer"]})
            assert self._code(r) == (400, "rest_user_invalid_role")
            r = c.post(users, json={**base, "username": f"{p}z", "email": f"{p}z@example.test", "locale": "de_DE"})
            assert self._code(r) == (400, "rest_invalid_param")
            # Unregistered meta is dropped silently; a registered key of the wrong type fails after the insert.
            r = c.post(users, json={**base, "username": f"{p}m", "email": f"{p}m@example.test",
                                    "meta": {"not_registered": "x", "billing_company": "Co"}})
            assert r.status_code == 201 and "not_registered" not in r.json()["meta"]
            r = c.post(users, json={**base, "username": f"{p}t", "email": f"{p}t@example.test",
                                    "meta": {"whmcs_client_id": "abc"}})
            assert self._code(r) == (400, "rest_invalid_type")
            found = c.get(users, params={"search": f"{p}t@example.test", "context": "edit"}).json()
            assert [u["username"] for u in found] == [f"{p}t"]  # created all the same

    def test_error_table_on_update_and_delete(self, site: Site) -> None:
        p = unique()
        users = site.rest_url("/users")
        with site.client() as c:
            ann = c.post(users, json={"username": f"{p}a", "email": f"{p}a@example.test", "password": "P-1x"}).json()
            bob = c.post(users, json={"username": f"{p}b", "email": f"{p}b@example.test", "password": "P-1x"}).json()
            one = site.rest_url(f"/users/{bob['id']}")
            assert self._code(c.post(one, json={"email": ann["email"].upper()})) == (400, "rest_user_invalid_email")
            assert self._code(c.post(one, json={"username": "renamed"})) == (400, "rest_user_invalid_argument")
            assert c.post(one, json={"username": f"{p}b"}).status_code == 200  # the same login is fine
            r = c.post(one, json={"email": "x" * 95 + "@example.test"})
            assert r.status_code == 200 and r.json()["email"] == f"{p}b@example.test"  # dropped silently
            r = c.post(one, json={"roles": ["editor"]})
            assert r.json()["roles"] == ["editor"]  # roles are replaced, not added
            r = c.post(one, json={"roles": []})
            assert r.json()["roles"] == [] and not r.json()["capabilities"]
            r = c.post(one, json={"first_name": "  A  &  B "})
            assert r.json()["first_name"] == "A &amp; B" and r.json()["name"] == f"{p}b"  # name does not follow
            missing = site.rest_url("/users/987654")
            assert self._code(c.get(missing)) == (404, "rest_user_invalid_id")
            assert self._code(c.post(missing, json={"first_name": "x"})) == (404, "rest_user_invalid_id")
            me = c.get(site.rest_url("/users/me")).json()["id"]
            assert self._code(c.delete(one, params={"force": "true"})) == (400, "rest_missing_callback_param")
            assert self._code(c.delete(one, params={"reassign": me})) == (501, "rest_trash_not_supported")
            r = c.delete(one, params={"force": "true", "reassign": bob["id"]})
            assert self._code(r) == (400, "rest_user_invalid_reassign")
            r = c.delete(one, params={"force": "true", "reassign": me})
            assert r.status_code == 200 and r.json()["deleted"] is True

    def test_error_table_on_listing(self, site: Site) -> None:
        p = unique()
        rest_create_users(site, [{"username": f"{p}{n}", "email": f"{p}{n}@example.test"} for n in range(2)])
        users = site.rest_url("/users")
        with site.client() as c:
            for params in ({"orderby": "modified"}, {"per_page": 101}, {"per_page": 0}, {"page": 0},
                           {"order": "up"}, {"context": "foo"}):
                assert self._code(c.get(users, params=params)) == (400, "rest_invalid_param"), params
            first = c.get(users, params={"context": "edit", "per_page": 1})
            total = int(first.headers["X-WP-Total"])
            assert int(first.headers["X-WP-TotalPages"]) == total
            assert 'rel="next"' in first.headers["Link"]
            beyond = c.get(users, params={"context": "edit", "per_page": 100, "page": 999})
            assert beyond.status_code == 200 and beyond.json() == []
            assert int(beyond.headers["X-WP-Total"]) == total
            empty = c.get(users, params={"search": unique("none"), "context": "edit"})
            assert empty.json() == [] and empty.headers["X-WP-TotalPages"] == "0"
            assert set(first.json()[0]) >= {"id", "username", "email", "roles", "capabilities", "meta"}
            view = c.get(users, params={"per_page": 1}).json()[0]
            assert set(view) == {"id", "name", "url", "description", "link", "slug", "avatar_urls", "meta", "_links"}
            routed = c.get(f"{site.url}/", params={"rest_route": "/wp/v2/users", "context": "edit", "per_page": 1})
            assert routed.status_code == 200 and routed.headers["X-WP-Total"] == str(total)

    def test_search_matches_emails_not_first_names(self, site: Site) -> None:
        p = unique()
        rest_create_users(site, [{"username": f"{p}s", "email": f"{p}s@example.test", "first_name": f"First{p}",
                                  "name": f"Shown{p}"}])
        with site.client() as c:
            def search(term: str) -> list[str]:
                r = c.get(site.rest_url("/users"), params={"search": term, "context": "edit"})
                return [u["email"] for u in r.json()]

            assert search(f"{p}S@EXAMPLE") == [f"{p}s@example.test"]  # *term*, case-insensitive
            assert search(f"First{p}") == []  # first/last names are not searched
            assert search(f"Shown{p}") == [f"{p}s@example.test"]  # the display name is

    def test_wrong_credentials_run_as_anonymous(self, site: Site) -> None:
        p = unique()
        (uid,) = rest_create_users(site, [{"username": f"{p}x", "email": f"{p}x@example.test"}])
        users = site.rest_url("/users")
        for auth in ((site.admin_user, "Wrong0pass1Wrong2pass3xyz"), ("", "")):
            with site.client(auth) as c:
                assert self._code(c.get(users, params={"context": "edit"})) == (401, "rest_forbidden_context")
                assert self._code(c.get(site.rest_url("/users/me"))) == (401, "rest_not_logged_in")
                r = c.post(users, json={"username": f"{p}n", "email": f"{p}n@example.test", "password": "P-1x"})
                assert self._code(r) == (401, "rest_cannot_create_user")
                one = site.rest_url(f"/users/{uid}")
                assert self._code(c.post(one, json={"first_name": "x"})) == (401, "rest_cannot_edit")
                assert self._code(c.get(one)) == (401, "rest_user_cannot_view")
                r = c.delete(one, params={"force": "true", "reassign": 1})
                assert self._code(r) == (401, "rest_user_cannot_delete")
                listed = c.get(users)  # a public listing answers 200: only authors are shown
                assert listed.status_code == 200 and all(u["id"] != uid for u in listed.json())

    def test_a_subscriber_is_refused_with_403(self, site: Site) -> None:
        login = unique("sub")
        password = site.add_user(login, "subscriber", f"{login}@example.test")
        with site.client((login, password)) as c:
            me = c.get(site.rest_url("/users/me"), params={"context": "edit"}).json()
            assert me["roles"] == ["subscriber"] and me["capabilities"] == {"read": True, "level_0": True,
                                                                             "subscriber": True}
            users = site.rest_url("/users")
            assert self._code(c.get(users, params={"context": "edit"})) == (403, "rest_forbidden_context")
            r = c.post(users, json={"username": f"{login}n", "email": f"{login}n@example.test", "password": "P-1x"})
            assert self._code(r) == (403, "rest_cannot_create_user")
            r = c.post(site.rest_url(f"/users/{me['id']}"), json={"roles": ["editor"]})
            assert self._code(r) == (403, "rest_cannot_edit_roles")
            assert c.post(site.rest_url(f"/users/{me['id']}"), json={"first_name": "Me"}).status_code == 200
