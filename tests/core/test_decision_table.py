# mypy: disable-error-code="func-returns-value"
"""The decision table of DESIGN §5, one row per case: the state of both sides and the links,
the policy, and exactly what the plan must say. Every row is then executed against the
in-memory sides and must settle: a second plan has nothing left to do, and linked users agree."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.model import Side
from syncd.render import report_json
from tests.core.scenario import P, Row, W, World, summary


def base(email: str = "ann@x.io", first: str = "Ann", last: str = "Lee", company: str = "") -> dict[str, str]:
    return {"email": email, "first_name": first, "last_name": last, "company": company}


def pair(w: World, whmcs: dict[str, Any] | None = None, wp: dict[str, Any] | None = None,
         link: dict[str, Any] | None = None) -> None:
    """Client #1 and user #101 for ann@x.io, linked on ``base()`` unless ``link`` is None-ish."""
    if whmcs is not None:
        w.client(1, **{"email": "ann@x.io", **whmcs})
    if wp is not None:
        w.user(101, **{"email": "ann@x.io", **wp})
    if link is not None:
        w.link(1, 101, **{"base": base(), **link})


def bystander(w: World) -> None:
    """Another linked, unchanged user, so a deletion does not also leave a side empty (a guard case)."""
    w.client(9, "zed@x.io", "Zed", "Zu")
    w.user(109, "zed@x.io", "Zed", "Zu")
    w.link(9, 109)



ROWS = [
    # §5.3 linked users: per-field three-way merge (direction both, priority whmcs unless said)
    Row("5.3 neither side changed: nothing", lambda w: pair(w, {}, {}, {}), []),
    Row("5.3 WHMCS changed: copied to WordPress", lambda w: pair(w, {"first": "Anna"}, {}, {}),
        ["update wordpress #101 first_name='Anna'"]),
    Row("5.3 WordPress changed: copied to WHMCS", lambda w: pair(w, {}, {"first": "Anna"}, {}),
        ["update whmcs #1 first_name='Anna'"]),
    Row("5.3 both changed the same way: only the base moves",
        lambda w: pair(w, {"first": "Anna"}, {"first": "Anna"}, {}), ["rebase base:first_name"]),
    Row("5.3 both changed differently: priority whmcs wins, loser reported",
        lambda w: pair(w, {"first": "Anna"}, {"first": "Annie"}, {}),
        ["update wordpress #101 first_name='Anna'", "conflict first_name whmcs"]),
    Row("5.3 both changed differently: priority wordpress wins",
        lambda w: pair(w, {"first": "Anna"}, {"first": "Annie"}, {}),
        ["update whmcs #1 first_name='Annie'", "conflict first_name wordpress"], {"priority": "wordpress"}),
    Row("5.2 values equal once normalised (case, spaces, NFC) are no change",
        lambda w: pair(w, {"email": "ANN@X.io ", "first": " Zoe\u0308"}, {"first": "Zo\u00eb"},
                       {"base": base(first="Zo\u00eb")}), []),
    Row("5.3 different fields changed on each side: each copied to the other",
        lambda w: pair(w, {"last": "Lea"}, {"first": "Anna"}, {}),
        ["update whmcs #1 first_name='Anna'", "update wordpress #101 last_name='Lea'"]),
    Row("5.8 a WordPress email change goes to WHMCS (client and owner user)",
        lambda w: pair(w, {}, {"email": "ann.new@x.io"}, {}), ["update whmcs #1 email='ann.new@x.io'"]),
    # §5.3 one-way: the source is authoritative and never written
    Row("5.3 whmcs_to_wp: a WordPress edit is overwritten by WHMCS", lambda w: pair(w, {}, {"first": "Annie"}, {}),
        ["update wordpress #101 first_name='Ann'"], {"direction": "whmcs_to_wp"}),
    Row("5.3 whmcs_to_wp: both changed: WHMCS's value, no conflict, WHMCS never written",
        lambda w: pair(w, {"first": "Anna"}, {"first": "Annie"}, {}),
        ["update wordpress #101 first_name='Anna'"], {"direction": "whmcs_to_wp", "priority": "wordpress"}),
    Row("5.3 wp_to_whmcs: a WHMCS edit is overwritten by WordPress", lambda w: pair(w, {"first": "Anna"}, {}, {}),
        ["update whmcs #1 first_name='Ann'"], {"direction": "wp_to_whmcs"}),
    Row("5.3 one-way at first contact: the source wins whatever the priority",
        lambda w: pair(w, {}, {"first": "Annie"}), ["link #1-#101", "update wordpress #101 first_name='Ann'"],
        {"direction": "whmcs_to_wp", "priority": "wordpress"}),
    # §5.4 first contact
    Row("5.4 first contact, equal values: linked, nothing written", lambda w: pair(w, {"email": "Ann@X.io"}, {}),
        ["link #1-#101"]),
    Row("5.4 first contact, differing: priority whmcs", lambda w: pair(w, {}, {"first": "Annie"}),
        ["link #1-#101", "update wordpress #101 first_name='Ann'", "conflict first_name whmcs first"]),
    Row("5.4 first contact, differing: priority wordpress", lambda w: pair(w, {}, {"first": "Annie"}),
        ["link #1-#101", "update whmcs #1 first_name='Annie'", "conflict first_name wordpress first"],
        {"priority": "wordpress"}),
    Row("5.4 first contact: an empty value never blanks a filled one, whatever the priority",
        lambda w: pair(w, {}, {"company": "Acme"}), ["link #1-#101", "update whmcs #1 company='Acme'"]),
    Row("5.8 first contact with a Closed client: linked, marked gone, nothing copied",
        lambda w: pair(w, {"status": "Closed", "first": "Old"}, {}), ["link #1-#101 gone=whmcs"]),
    Row("5.8 first contact with an Inactive client: linked and synchronised",
        lambda w: pair(w, {"status": "Inactive"}, {"last": "Lea"}),
        ["link #1-#101", "update wordpress #101 last_name='Lee'", "conflict last_name whmcs first"]),
    Row("5.4 first contact with a WordPress user with no role: linked", lambda w: pair(w, {}, {"roles": []}),
        ["link #1-#101"]),
    # §5.5 users on one side only
    Row("5.5 an Active client only in WHMCS is created in WordPress", lambda w: pair(w, {}),
        ["create wordpress from #1"]),
    Row("5.5 an Inactive client is not created", lambda w: pair(w, {"status": "Inactive"}), []),
    Row("5.5 a Closed client is not created", lambda w: pair(w, {"status": "Closed"}), []),
    Row("5.5 a WordPress user with a role is created in WHMCS, empty names as dummies",
        lambda w: pair(w, None, {"first": "", "last": ""}), ["create whmcs from #101 dummy=first_name,last_name"]),
    Row("5.7 a WordPress user with no role is not created in WHMCS", lambda w: pair(w, None, {"roles": []}), []),
    Row("5.5 whmcs_to_wp never creates WHMCS clients", lambda w: pair(w, None, {}), [],
        {"direction": "whmcs_to_wp"}),
    Row("5.5 wp_to_whmcs never creates WordPress users", lambda w: pair(w, {}), [], {"direction": "wp_to_whmcs"}),
    Row("5.5 an email WordPress cannot store is a problem, not a create",
        lambda w: pair(w, {"email": "a" * 110 + "@x.io"}), ["problem wordpress email"]),
    Row("5.5 an unknown-outcome create found in the listing is linked, not created again",
        lambda w: (pair(w, {}, {}), w.store.mark_pending_create(P, "ann@x.io")), ["link #1-#101 settles=wordpress"]),
    Row("5.5 an unknown-outcome create not found is retried after a lookup",
        lambda w: (pair(w, {}), w.store.mark_pending_create(P, "ann@x.io")), ["create wordpress from #1 pending"]),
    Row("5.5 an unknown-outcome create no longer wanted is forgotten",
        lambda w: w.store.mark_pending_create(P, "gone@x.io"), ["forget wordpress gone@x.io"]),
    # §5.6 who is never touched
    Row("5.6 a WordPress administrator is never linked or created, nor its WHMCS namesake",
        lambda w: pair(w, {}, {"roles": ["administrator"]}), []),
    Row("5.6 an administrator is excluded even if the configuration omits it",
        lambda w: pair(w, None, {"roles": ["administrator"]}), [], {"exclude_roles": frozenset()}),
    Row("5.6 a WHMCS admin's email is never created, linked or written on either side",
        lambda w: (pair(w, {}, None), w.user(102, "staff@x.io"), w.client(2, "staff@x.io"),
                   w.whmcs.admins.add("staff@x.io")), ["create wordpress from #1"]),
    Row("5.6 a user promoted to administrator later: its link is left as it is, never written",
        lambda w: pair(w, {"first": "Anna"}, {"roles": ["administrator"]}, {}), []),
    Row("5.6 a promoted user is never deactivated either",
        lambda w: (pair(w, None, {"roles": ["administrator"]}, {}), bystander(w)), [], {"on_delete": "deactivate"}),
    Row("5.6 a configured excluded role is never synchronised", lambda w: pair(w, None, {"roles": ["editor"]}), [],
        {"exclude_roles": frozenset({"editor"})}),
    Row("5.6 a record with no valid email is reported and left alone", lambda w: pair(w, {"email": "not-an-email"}),
        ["problem whmcs email"]),
    # §5.7 deletions
    Row("5.7 ignore: a user deleted in WordPress is marked gone, WHMCS left as it is",
        lambda w: (pair(w, {}, None, {}), bystander(w)), ["gone wordpress"]),
    Row("5.7 deactivate: a user deleted in WordPress deactivates the WHMCS client",
        lambda w: (pair(w, {}, None, {}), bystander(w)), ["deactivate whmcs #1 gone=wordpress"],
        {"on_delete": "deactivate"}),
    Row("5.7 deactivate: a client deleted in WHMCS deactivates the WordPress user",
        lambda w: (pair(w, None, {}, {}), bystander(w)), ["deactivate wordpress #101 gone=whmcs"],
        {"on_delete": "deactivate"}),
    Row("5.7 a Closed client is a deletion", lambda w: (pair(w, {"status": "Closed"}, {}, {}), bystander(w)),
        ["deactivate wordpress #101 gone=whmcs"], {"on_delete": "deactivate"}),
    Row("5.7 an Inactive client is not a deletion: still synchronised",
        lambda w: (pair(w, {"status": "Inactive", "first": "Anna"}, {}, {}), bystander(w)),
        ["update wordpress #101 first_name='Anna'"], {"on_delete": "deactivate"}),
    Row("5.7 whmcs_to_wp ignores a deletion in WordPress (its destination)",
        lambda w: (pair(w, {}, None, {}), bystander(w)), [], {"direction": "whmcs_to_wp", "on_delete": "deactivate"}),
    Row("5.7 whmcs_to_wp acts on a deletion in WHMCS (its source)",
        lambda w: (pair(w, None, {}, {}), bystander(w)), ["deactivate wordpress #101 gone=whmcs"],
        {"direction": "whmcs_to_wp", "on_delete": "deactivate"}),
    Row("5.7 wp_to_whmcs ignores a deletion in WHMCS (its destination)",
        lambda w: (pair(w, None, {}, {}), bystander(w)), [], {"direction": "wp_to_whmcs", "on_delete": "deactivate"}),
    Row("5.7 a user already gone is never recreated", lambda w: (pair(w, {}, None, {"gone": frozenset({P})}),
                                                                 bystander(w)), []),
    Row("5.7 gone from both sides", lambda w: (pair(w, None, None, {}), bystander(w)), ["gone whmcs+wordpress"]),
    Row("5.7 a survivor already inactive is only marked gone",
        lambda w: (pair(w, {"status": "Inactive"}, None, {}), bystander(w)), ["gone wordpress"],
        {"on_delete": "deactivate"}),
    # §5.7 users who come back
    Row("5.7 a Closed client made Active again: re-linked, WordPress roles given back",
        lambda w: pair(w, {}, {"roles": []}, {"gone": frozenset({W}), "deactivated": frozenset({P}),
                                               "saved_roles": ("customer",)}),
        ["relink #1-#101 back=whmcs", "reactivate wordpress #101 roles=customer"]),
    Row("5.7 a WordPress user recreated with the same email: re-linked, WHMCS client Active again",
        lambda w: (pair(w, {"status": "Inactive"}, None, {"gone": frozenset({P}), "deactivated": frozenset({W})}),
                   w.user(102, "ann@x.io")),
        ["relink #1-#102 back=wordpress", "reactivate whmcs #1"]),
    Row("5.7 re-activation without remembered roles gives the new-user role",
        lambda w: pair(w, {}, {"roles": []}, {"gone": frozenset({W}), "deactivated": frozenset({P})}),
        ["relink #1-#101 back=whmcs", "reactivate wordpress #101 roles=subscriber"]),
    Row("5.7 deleted and recreated between two runs: re-linked, no deletion",
        lambda w: (pair(w, {}, None, {}), w.user(102, "ann@x.io", first="Annie")),
        ["relink #1-#102 back=wordpress", "update wordpress #102 first_name='Ann'",
         "conflict first_name whmcs first"], {"on_delete": "deactivate"}),
    Row("5.7 a one-way run re-links but never re-activates its source",
        lambda w: (pair(w, {"status": "Inactive"}, None, {"gone": frozenset({P}), "deactivated": frozenset({W})}),
                   w.user(102, "ann@x.io")),
        ["relink #1-#102 back=wordpress"], {"direction": "whmcs_to_wp"}),
    Row("5.7 a survivor someone re-activated already: the flag is just dropped",
        lambda w: pair(w, {}, {}, {"deactivated": frozenset({P}), "saved_roles": ("customer",)}),
        ["rebase -deactivated:wordpress"]),
    # §5.1 duplicates
    Row("5.1 two clients share a key: reported, both left alone, nothing created or linked",
        lambda w: (pair(w, {}, {}), w.client(2, "ANN@x.io")), ["duplicate whmcs ann@x.io"]),
    Row("5.1 a linked user whose key is duplicated is left alone",
        lambda w: (pair(w, {"first": "Anna"}, {}, {}), w.client(2, "Ann@X.io")), ["duplicate whmcs ann@x.io"]),
    # §5.2 fields a side cannot store
    Row("5.2 a field WordPress cannot store is never written and never blanks WHMCS",
        lambda w: (pair(w, {"company": "Acme"}, {}, {}), w.client(2, "bob@x.io", company="Initech")),
        ["create wordpress from #2"], {}, {"wp_fields": ("email", "first_name", "last_name")}),
    Row("5.2 a common field added since the link was made: settled like a first contact",
        lambda w: pair(w, {"company": "Acme"}, {}, {"base": {k: v for k, v in base().items() if k != "company"}}),
        ["update wordpress #101 company='Acme'"]),
    # §5.2 dummies
    Row("5.2 a WHMCS dummy standing for an empty WordPress name is no change",
        lambda w: pair(w, {"first": "Not provided"}, {"first": ""},
                       {"base": base(first=""), "dummy_fields": frozenset({"first_name"})}), []),
    Row("5.2 a real WordPress name replaces the WHMCS dummy",
        lambda w: pair(w, {"first": "Not provided"}, {"first": "Ann"},
                       {"base": base(first=""), "dummy_fields": frozenset({"first_name"})}),
        ["update whmcs #1 first_name='Ann'"]),
    Row("5.2 a WordPress name emptied becomes the WHMCS dummy, not an empty value",
        lambda w: pair(w, {}, {"first": ""}, {}), ["update whmcs #1 first_name='Not provided'"]),
    Row("5.2 first contact with a WHMCS dummy and an empty WordPress name: no write",
        lambda w: pair(w, {"first": "Not provided"}, {"first": ""}), ["link #1-#101"]),
    Row("5.2 first contact: a WHMCS dummy never beats a real WordPress name",
        lambda w: pair(w, {"first": "Not provided"}, {"first": "Ann"}),
        ["link #1-#101", "update whmcs #1 first_name='Ann'"]),
    Row("5.2 whmcs_to_wp: the dummy never flows to WordPress, even at first contact",
        lambda w: pair(w, {"first": "Not provided"}, {"first": "Ann"}), ["link #1-#101"],
        {"direction": "whmcs_to_wp"}),
    Row("5.2 whmcs_to_wp: WordPress mirrors the real (empty) value a dummy stands for",
        lambda w: pair(w, {"first": "Not provided"}, {"first": "Annie"},
                       {"base": base(first=""), "dummy_fields": frozenset({"first_name"})}),
        ["update wordpress #101 first_name=''"], {"direction": "whmcs_to_wp"}),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_decision_table(row: Row) -> None:
    world = World(**row.world)
    row.setup(world)
    planned = world.plan(**row.policy)
    assert summary(planned) == row.expect
    assert not planned.blocked, planned.guard

    report = world.execute(planned)
    assert report.outcome in ("ok", "errors"), report_json(report)
    assert not report.errors, report.errors
    world.whmcs.reset_counts()
    world.wp.reset_counts()
    again = world.plan(**row.policy)
    assert summary(again) == [line for line in row.expect if line.startswith(("problem", "duplicate"))]
    assert world.agree() == []
    assert world.whmcs.writes == [] and world.wp.writes == []


def test_every_kind_of_action_appears_in_the_table() -> None:
    kinds = {line.split()[0] for row in ROWS for line in row.expect}
    assert kinds >= {"create", "update", "link", "relink", "rebase", "deactivate", "reactivate", "gone", "forget",
                     "conflict", "problem", "duplicate"}


def test_fields_a_side_cannot_store_are_not_sent_on_create() -> None:
    world = World(wp_fields=("email", "first_name", "last_name"))
    world.client(2, "bob@x.io", company="Initech")
    world.sync()
    [bob] = world.wp.by_email("bob@x.io")
    assert "company" not in bob.fields
    assert world.whmcs.accounts[2].fields["company"] == "Initech"


def test_first_contact_with_a_dummy_remembers_it() -> None:
    world = World()
    pair(world, {"first": "Not provided"}, {"first": ""})
    world.sync()
    [link] = world.store.links()
    assert link.dummy_fields == frozenset({"first_name"})
    assert link.base["first_name"] == ""


def test_a_create_from_wordpress_remembers_its_dummies_and_they_never_come_back() -> None:
    world = World()
    world.user(101, "ann@x.io", first="", last="Lee")
    world.sync()
    [client] = world.whmcs.by_email("ann@x.io")
    assert client.fields["first_name"] == "Not provided"
    [link] = world.store.links()
    assert link.dummy_fields == frozenset({"first_name"})
    assert world.wp.accounts[101].fields["first_name"] == ""
    assert world.plan().actions == ()


def test_deactivation_remembers_the_roles_and_reactivation_gives_them_back() -> None:
    world = World()
    world.client(1, "ann@x.io")
    world.user(101, "ann@x.io", roles=("customer", "subscriber"))
    bystander(world)
    world.sync(on_delete="deactivate")
    world.whmcs.external_status(1, "Closed")
    world.sync(on_delete="deactivate")
    assert world.wp.accounts[101].roles == []
    link = next(li for li in world.store.links() if li.whmcs_id == 1)
    assert link.saved_roles == ("customer", "subscriber") and link.gone == {W} and link.deactivated == {P}
    world.whmcs.external_status(1, "Active")
    world.sync(on_delete="deactivate")
    assert world.wp.accounts[101].roles == ["customer", "subscriber"]
    link = next(li for li in world.store.links() if li.whmcs_id == 1)
    assert link.gone == frozenset() and link.deactivated == frozenset() and link.saved_roles == ()


def test_conflicts_carry_the_losing_value() -> None:
    world = World()
    pair(world, {"first": "Anna"}, {"first": "Annie"}, {})
    [conflict] = world.plan(priority=Side.WORDPRESS).conflicts
    assert (conflict.winner, conflict.winning, conflict.losing) == (P, "Annie", "Anna")
    assert "Annie" in conflict.describe() and "Anna" in conflict.describe()
