"""The in-memory shape of records and links (issue 15): the same mappings, in fewer bytes.

``Fields`` and ``Digests`` must read exactly as the dicts they were made from (the planner's
rules see no difference), and the bytes a run holds per user must stay within a budget:
a 100,000-user run holds 300,000 such mappings, so what each costs is the run's memory.
"""

from __future__ import annotations

import pickle
import tracemalloc
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.model import Digests, Fields, Link, Record, Side, compact_digests, digest, normalise_email
from syncd.state.store import _link, link_values

VALUES = {"email": "Ann@Example.test", "first_name": "Ann", "last_name": "Lee", "company": ""}


def test_fields_read_as_the_dict_they_were_made_from() -> None:
    fields = Fields(VALUES)
    assert fields == VALUES and VALUES == fields  # noqa: SIM300 - both ways round, a dict on either side
    assert list(fields) == list(VALUES) and list(fields.items()) == list(VALUES.items())
    assert len(fields) == 4 and "company" in fields and "phone" not in fields and 3 not in fields
    assert fields["last_name"] == "Lee" and fields.get("phone") is None and fields.get("phone", "x") == "x"
    with pytest.raises(KeyError):
        fields["phone"]
    assert fields != {**VALUES, "company": "ACME"} and fields != {"email": VALUES["email"]}
    assert dict(fields) == VALUES and repr(fields) == repr(VALUES)
    assert pickle.loads(pickle.dumps(fields)) == fields
    with pytest.raises(TypeError):
        hash(fields)  # a mapping, compared by value, as the dict it replaces


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
def test_fields_equal_their_dict_whatever_the_names(values: dict[str, str]) -> None:
    fields = Fields(values)
    assert fields == values and dict(fields.items()) == values
    assert all(fields.get(k) == v for k, v in values.items())


def test_records_and_links_take_any_mapping_and_compare_by_value() -> None:
    one = Record(Side.WHMCS, 1, VALUES)
    other = Record(Side.WHMCS, 1, Fields(VALUES))
    assert one == other and type(one.fields) is Fields
    assert replace(one, active=False).fields is one.fields  # kept, not copied
    assert one.key == "ann@example.test"
    link = Link(1, 2, base=VALUES)
    assert link == Link(1, 2, base=Fields(VALUES)) and type(link.base) is Fields


def test_the_same_values_in_another_order_are_the_same_fields_and_keep_their_order() -> None:
    # The state store gives a link's base with its names sorted; a listing gives them its own way.
    stored = Fields(dict(sorted(VALUES.items())))
    listed = Fields(VALUES)
    assert stored.same(listed) and listed.same(stored) and stored == listed
    assert list(stored) == sorted(VALUES) and list(listed) == list(VALUES)
    assert not stored.same(Fields({**VALUES, "last_name": "Li"})) and not stored.same(VALUES)
    assert not Fields({"a": "x", "b": ""}).same(Fields({"a": "", "c": "x"}))
    assert listed.covers({"email", "company"}) and not listed.covers({"email", "phone"})


def test_one_listing_shares_one_layout_of_names() -> None:
    first, second = Fields(VALUES), Fields({**VALUES, "email": "bob@example.test"})
    assert first._at is second._at


def test_digests_are_kept_as_bytes_and_read_back_as_the_same_hex() -> None:
    agreed = digest(VALUES, VALUES)
    digests = {"whmcs": agreed, "wordpress": digest({**VALUES, "company": "ACME"}, VALUES)}
    link = Link(1, 2, base=VALUES, digests=digests)
    assert type(link.digests) is Digests and link.digests == digests and dict(link.digests) == digests
    assert link.digests["whmcs"] == agreed and "wordpress" in link.digests and link.digests.get("x") is None
    assert pickle.loads(pickle.dumps(link.digests)) == digests
    assert link_values(link)["digests"] == digests  # what the store writes is the hex text


@pytest.mark.parametrize("odd", [{"whmcs": "ABCDEF" * 6}, {"whmcs": "abc"}, {"whmcs": "z" * 32}, {}])
def test_digests_that_are_not_syncds_own_are_kept_as_they_are(odd: dict[str, str]) -> None:
    # A state store written by hand or by an older syncd: never refused, never altered.
    kept = compact_digests(odd)
    assert kept == odd and dict(kept) == odd


def test_links_read_from_the_store_are_the_links_saved() -> None:
    link = Link(3, 4, base=VALUES, owner_user_id=7,
                digests={"whmcs": digest(VALUES, VALUES), "wordpress": digest(VALUES, VALUES)},
                gone=frozenset({Side.WHMCS}), saved_roles=("subscriber",), dummy_fields=frozenset({"company"}))
    values = link_values(link)
    row = (values["whmcs_id"], values["wp_id"], values["base"], values["owner_user_id"], values["digests"],
           values["gone_whmcs"], values["gone_wordpress"], values["deactivated_whmcs"],
           values["deactivated_wordpress"], values["saved_roles"], values["dummy_fields"])
    assert _link(*row) == link


def test_links_without_sets_share_one_empty_set() -> None:
    # frozenset() is a new 216-byte object each time; 100,000 links held three each.
    first, second = Link(1, 2, dummy_fields=frozenset()), Link(3, 4, gone=frozenset([]))
    assert first.dummy_fields is second.dummy_fields is second.gone is first.deactivated


def test_an_email_already_in_its_key_form_is_its_own_key() -> None:
    email = "ann.lee@example.test"
    assert normalise_email(email) is email  # no copy per record of a listing
    assert normalise_email(" Ann.Lee@Example.TEST ") == email
    assert normalise_email("STRASSE@x.test") == normalise_email("straße@x.test") == "strasse@x.test"
    assert normalise_email("123@456.test") == "123@456.test"


def _bytes_per(make: Callable[[int], object], n: int = 5000) -> float:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(i) for i in range(n)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    return held / n


def _values(i: int) -> dict[str, str]:
    # Fresh strings, as a decoded listing gives them.
    return {"email": f"user{i:06d}@example.test", "first_name": f"First{i}", "last_name": f"Last{i}",
            "company": f"Company {i}"}


def test_a_record_costs_what_its_values_need_plus_a_few_pointers() -> None:
    # A dict per record and a string per value made it ~615 bytes (measured before issue 15); ~295 now.
    per = _bytes_per(lambda i: Record(Side.WHMCS, i, _values(i), status="Active"))
    assert per < 360, per


def test_a_link_costs_what_its_values_need_plus_a_few_pointers() -> None:
    # Base and digests as dicts of strings and a new empty set made a link ~1,055 bytes; ~410 now.
    agreed = digest(_values(0), _values(0))
    per = _bytes_per(lambda i: Link(i, i, base=_values(i), digests={"whmcs": agreed, "wordpress": agreed},
                                    dummy_fields=frozenset()))
    assert per < 480, per
