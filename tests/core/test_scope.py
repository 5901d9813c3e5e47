"""``syncd.sync.scope``: one user's part of a run (``sync --user``) and the rules of ``syncd link``,
pure: what is gathered, which links are involved, that a one-user plan deletes nobody, which
accounts a manual link refuses, and what the next run does after a manual link."""

from __future__ import annotations

from collections.abc import Collection

from syncd.model import Direction, Link, Record, Side, Snapshot
from syncd.sync.actions import LinkPair, MarkGone, Update
from syncd.sync.plan import plan
from syncd.sync.policy import Policy
from syncd.sync.scope import gather, involved, manual_link, one_user, pending_of, protection

W, P = Side.WHMCS, Side.WORDPRESS


def rec(side: Side, rid: int, email: str, first: str = "Ann", last: str = "Archer", **kw: object) -> Record:
    roles = kw.pop("roles", ("subscriber",) if side is P else ())
    return Record(side=side, remote_id=rid, fields={"email": email, "first_name": first, "last_name": last,
                                                    "company": ""}, roles=roles, **kw)  # type: ignore[arg-type]


def snap(side: Side, *records: Record, admins: Collection[str] = ()) -> Snapshot:
    return Snapshot(side=side, records=tuple(records), admin_emails=frozenset(admins))


class Lookups:
    """A side that answers ``lookup`` from a fixed list and counts what it was asked."""

    def __init__(self, side: Side, *records: Record, admins: Collection[str] = ()) -> None:
        self.side = side
        self.records = records
        self.admins = frozenset(admins)
        self.asked: list[tuple[list[str], list[int]]] = []

    def lookup(self, emails: Collection[str], ids: Collection[int]) -> Snapshot:
        self.asked.append((sorted(emails), sorted(ids)))
        found = [r for r in self.records if r.key in emails or r.remote_id in ids]
        return snap(self.side, *found, admins=self.admins)


def linked(whmcs: Record, wp: Record) -> Link:
    return Link(whmcs_id=whmcs.remote_id, wp_id=wp.remote_id, base=dict(whmcs.fields))


def test_gather_finds_the_partner_by_link_when_the_emails_differ_and_nobody_else() -> None:
    ann_w, ann_p = rec(W, 1, "ann.new@example.com"), rec(P, 7, "ann@example.com")
    bob_w, bob_p = rec(W, 2, "bob@example.com", "Bob"), rec(P, 8, "bob@example.com", "Bob")
    whmcs, wp = Lookups(W, ann_w, bob_w), Lookups(P, ann_p, bob_p)
    links = [Link(1, 7, base={"email": "ann@example.com"}), linked(bob_w, bob_p)]
    found = gather(whmcs, wp, links, email="Ann.New@example.com")  # type: ignore[arg-type]
    assert [r.remote_id for r in found.whmcs.records] == [1]
    assert [r.remote_id for r in found.wp.records] == [7]
    assert [(link.whmcs_id, link.wp_id) for link in found.links] == [(1, 7)]
    assert ([], [7]) in wp.asked or (["ann@example.com"], [7]) in wp.asked  # the partner read by its id
    assert found.found and found.all_keys() == {"ann.new@example.com", "ann@example.com"}


def test_gather_stops_after_a_few_steps_and_from_an_id_alone() -> None:
    chain = [rec(W, i, f"u{i}@example.com") for i in range(1, 30)]
    partners = [rec(P, 100 + i, f"u{i + 1}@example.com") for i in range(1, 30)]
    links = [Link(i, 100 + i, base={}) for i in range(1, 30)]
    whmcs, wp = Lookups(W, *chain), Lookups(P, *partners)
    found = gather(whmcs, wp, links, wp_id=101)  # type: ignore[arg-type]
    assert 0 < len(found.whmcs.records) < 10 and len(found.keys) <= 8


def test_nobody_found_is_not_found() -> None:
    found = gather(Lookups(W), Lookups(P), [], email="nobody@example.com")  # type: ignore[arg-type]
    assert not found.found


def test_involved_links_and_pending_creates_are_only_this_users() -> None:
    ann_w = rec(W, 1, "ann@example.com")
    links = [Link(1, 7), Link(2, 8, base={"email": "ann@example.com"}), Link(3, 9, base={"email": "x@example.com"})]
    mine = involved(links, snap(W, ann_w), snap(P), {"ann@example.com"})
    assert [link.whmcs_id for link in mine] == [1, 2]
    pending = {(P, "ann@example.com"): 1, (P, "bob@example.com"): 2}
    assert dict(pending_of(pending, {"ann@example.com"})) == {(P, "ann@example.com"): 1}


def test_a_one_user_plan_deletes_nobody_and_trips_no_guard_on_a_partial_snapshot() -> None:
    ann_w, ann_p = rec(W, 1, "ann@example.com"), rec(P, 7, "ann@example.com")
    policy = Policy(on_delete="deactivate")
    full = plan(snap(W, ann_w), snap(P), [linked(ann_w, ann_p)], policy)  # WordPress lists nobody for Ann
    assert full.guard is not None and full.deletions == 1  # what a full run would make of it
    scoped, notes = one_user(full)
    assert scoped.actions == () and scoped.deletions == 0 and scoped.guard is None and not scoped.blocked
    assert len(notes) == 1 and "gone from WordPress (WordPress user #7)" in notes[0]
    assert "the next full run decides" in notes[0]
    ignore = plan(snap(W, ann_w), snap(P), [linked(ann_w, ann_p)], Policy())
    assert any(isinstance(a, MarkGone) for a in ignore.actions)
    assert one_user(ignore)[0].actions == ()


def test_protection_of_a_manual_link() -> None:
    policy = Policy()
    admin = rec(P, 1, "admin@example.com", roles=("administrator",))
    assert "excluded role administrator" in protection(admin, snap(W), snap(P, admin), policy)
    client = rec(W, 5, "admin@example.com")
    assert "protected WordPress account" in protection(client, snap(W, client), snap(P, admin), policy)
    boss = rec(W, 6, "boss@example.com")
    assert "WHMCS admin" in protection(boss, snap(W, boss, admins={"boss@example.com"}), snap(P), policy)
    closed = rec(W, 7, "gone@example.com", closed=True, status="Closed")
    assert "Closed" in protection(closed, snap(W, closed), snap(P), policy)
    assert "not a valid email" in protection(rec(W, 8, "nope"), snap(W), snap(P), policy)
    plain = rec(P, 9, "ann@example.com")
    assert protection(plain, snap(W), snap(P, plain), policy) == ""


def test_after_a_manual_link_of_mismatched_emails_the_next_run_settles_them_by_priority() -> None:
    client = rec(W, 1, "jane@old.example", "Jane", "Doe")
    user = rec(P, 7, "jane@new.example", "Janet", "")
    pair = manual_link(client, user)
    assert pair.base == {} and (pair.whmcs_id, pair.wp_id) == (1, 7)
    for priority, target, email in ((W, P, "jane@old.example"), (P, W, "jane@new.example")):
        result = plan(snap(W, client), snap(P, user), [pair], Policy(priority=priority))
        updates = [a for a in result.actions if isinstance(a, Update) and a.side is target]
        assert len(updates) == 1, result.describe()
        assert updates[0].send()["email"] == email
        back = [u for u in result.actions if isinstance(u, Update) and u.side is priority]
        assert all("email" not in u.send() for u in back)
        assert not any(isinstance(a, LinkPair) for a in result.actions)  # no second pairing, no create
        assert {a.kind for a in result.actions} <= {"update", "rebase"}
    # An empty field gets the other side's value whatever the priority: the last name goes to WordPress.
    toward_wp = plan(snap(W, client), snap(P, user), [pair], Policy(priority=P))
    wp_updates = [a for a in toward_wp.actions if isinstance(a, Update) and a.side is P]
    assert wp_updates and wp_updates[0].send().get("last_name") == "Doe"
    # One way from WHMCS: WordPress takes WHMCS's values, WHMCS is never written.
    one_way = plan(snap(W, client), snap(P, user), [pair], Policy(direction=Direction.WHMCS_TO_WP, priority=P))
    assert {a.side for a in one_way.actions if a.side is not None} == {P}
