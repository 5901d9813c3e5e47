"""The run the crash suite kills: eight planned actions of every kind that writes.

``prepare(world)`` seeds both emulators, runs syncd once to link the first users, then
changes both sides so that the next run plans exactly these actions (``KINDS``):

- ann: a WHMCS client only          → create a WordPress user
- bob: a WordPress user only, no last name → create a WHMCS client (last name a dummy)
- cat: on both sides, names differ  → link at first contact, then update WordPress (priority whmcs)
- dan: linked; first name edited in WHMCS  → update WordPress
- eve: linked; last name edited in WordPress → update WHMCS (client and owner user)
- fay: linked; deleted from WordPress → deactivate the WHMCS client (on_delete = deactivate)
- gus: linked; client Closed in WHMCS, WordPress role "author" → deactivate the WordPress user

``EXPECTED`` is what both sides hold once a run converged; ``INACTIVE`` who is deactivated.
``come_back`` brings fay and gus back, to show that what syncd deactivated it re-activates,
gus with the role he had: nothing was lost on the way.
"""

from __future__ import annotations

from collections import Counter

from tests.faults.world import World

SYNC = {"on_delete": "deactivate"}
KINDS = Counter({"create": 2, "link": 1, "update": 3, "deactivate": 2})
PLANNED = sum(KINDS.values())

EXPECTED: dict[str, dict[str, str]] = {
    "ann@example.com": {"first_name": "Ann", "last_name": "Archer", "company": "Archer Ltd"},
    "bob@example.com": {"first_name": "Bob"},
    "cat@example.com": {"first_name": "Catherine", "last_name": "Cole"},
    "dan@example.com": {"first_name": "Daniel", "last_name": "Dunn"},
    "eve@example.com": {"first_name": "Eve", "last_name": "Evans-Smith"},
    "gus@example.com": {"first_name": "Gus", "last_name": "Grant"},
}
INACTIVE = ("gus@example.com",)


def prepare(world: World) -> None:
    """Seed, link the first users with one clean run, then make the eight changes."""
    world.sync.update(SYNC)
    w, p = world.whmcs, world.wp
    for name, first, last in (("dan", "Dan", "Dunn"), ("eve", "Eve", "Evans"), ("fay", "Fay", "Ford"),
                              ("gus", "Gus", "Grant")):
        w.add_client(f"{name}@example.com", first, last)
    linked = world.run()
    assert linked.code == 0 and linked.counts == {"create": 4}, linked.text()
    p.users[world.wp_user("gus@example.com").id].roles = ["author"]
    settled = world.run()
    assert settled.code == 0 and not settled.counts, settled.text()
    # The changes the next run must carry over.
    w.add_client("ann@example.com", "Ann", "Archer", company="Archer Ltd")
    p.add_user("bob", "bob@example.com", "Bob", "")
    w.add_client("cat@example.com", "Catherine", "Cole")
    p.add_user("cat", "Cat@Example.com", "Cat", "Cole")
    world.client("dan@example.com").firstname = "Daniel"
    p.users[world.wp_user("eve@example.com").id].last_name = "Evans-Smith"
    del p.users[world.wp_user("fay@example.com").id]
    world.client("gus@example.com").status = "Closed"


def check_converged(world: World) -> None:
    """Both sides hold what they should, fay's client is Inactive, gus's user has no role."""
    world.check(EXPECTED, inactive=INACTIVE, edited_in_whmcs=["dan@example.com"])
    assert world.client("fay@example.com").status == "Inactive"
    assert not world.has_wp_user("fay@example.com"), "fay was recreated in WordPress"
    assert world.wp_user("gus@example.com").roles == []
    bob = world.client("bob@example.com")
    assert bob.lastname == "Not provided"  # the dummy WHMCS requires ...
    assert world.wp_user("bob@example.com").last_name == ""  # ... never flows back to WordPress
    assert not world.pending()


def come_back(world: World) -> None:
    """gus's client is Active again and fay signs up in WordPress again: the next run re-activates
    fay's WHMCS client and gives gus's WordPress user back the role he had."""
    world.client("gus@example.com").status = "Active"
    world.wp.add_user("fay2", "fay@example.com", "Fay", "Ford")
    back = world.run()
    assert back.code == 0, back.text()
    assert world.wp_user("gus@example.com").roles == ["author"], "gus's remembered role was lost"
    assert world.client("fay@example.com").status == "Active", "fay's client, deactivated by syncd, stays Inactive"
    world.settle()
    world.check({**EXPECTED, "fay@example.com": {"first_name": "Fay", "last_name": "Ford"}},
                edited_in_whmcs=["dan@example.com"])
