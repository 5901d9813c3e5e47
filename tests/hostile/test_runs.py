"""Hostile users through whole runs: ``app.sync_once`` with both emulators behind the real adapters.

Each example seeds both sides with generated users (plus one well-formed "canary" per side)
and runs syncd twice, in each direction. It asserts:

- a run never dies on one user's data: no exception escapes (the harness turns even a
  documented ``syncd.errors`` class into a failure, since hostile *data* must never stop a run);
- invalid users are reported per user, naming the user and the field, and skipped, while the
  canaries sync;
- nothing is sent to a side that it would reject: WordPress never receives an email it cannot
  take (syntax, > 100 characters), a control character, or a name whose display name would
  overflow its column; WHMCS never receives an invalid email;
- after a run, a second run sends no write at all (no endless update loop on values WordPress
  rewrites, no create retried forever).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from syncd import mapping
from syncd.emulators import wordpress as wp_emulator
from syncd.emulators.wordpress import is_email
from syncd.model import Direction, Side, normalise, normalise_email
from syncd.sync.engine import RunReport
from tests.hostile.harness import World
from tests.hostile.strategies import HOSTILE_RUNS, hostile_emails, names, plain_emails

Person = tuple[str, str, str, str]  # email, first name, last name, company
people = st.lists(st.tuples(hostile_emails() | plain_emails(), names(), names(), names()), max_size=4)
canary = st.tuples(names(), names())
directions = st.sampled_from(list(Direction))


def seed(world: World, whmcs: Sequence[Person], wp: Sequence[Person]) -> None:
    for email, first, last, company in whmcs:
        world.whmcs.add_client(email, first, last, company)
    for number, (email, first, last, company) in enumerate(wp):
        with contextlib.suppress(ValueError):  # the same email (in any case) twice: WordPress cannot hold that
            world.wp.add_user(f"seeded{number}", email, first, last, company=company)


def assert_reported_per_user(report: RunReport) -> None:
    fields = {"email", "first_name", "last_name", "company", "id", "username"}
    for problem in report.problems:
        assert problem.key.strip() and problem.field in fields, problem
        assert problem.side in (Side.WHMCS, Side.WORDPRESS)
    for error in report.errors:
        assert error.key.strip() and error.message.strip(), error


def assert_nothing_sent_that_the_other_side_rejects(world: World) -> None:
    for _method, _path, body in world.wp_writes:
        if "email" in body:
            email = str(body["email"])
            assert is_email(email) and len(email) <= 100 and email == email.strip(), email
        for name in ("first_name", "last_name"):
            if name in body:
                value = str(body[name]).strip()  # surrounding whitespace is trimmed on both sides
                assert not any(unicodedata.category(c) == "Cc" for c in value), body
                assert not mapping.problems(Side.WORDPRESS, {name: value}), body
    for _method, _path, form in world.whmcs_writes:
        if form.get("action") in ("AddClient", "UpdateClient", "UpdateUser") and "email" in form:
            assert mapping.is_valid_email(form["email"]), form
        for key in ("firstname", "lastname", "companyname"):
            assert not any(unicodedata.category(c) == "Cc" for c in form.get(key, "").strip()), form


def assert_canary_synced(world: World, direction: Direction, email: str, source: Side) -> None:
    """The canary of ``source`` exists on the other side with its names as that side keeps them."""
    target = source.other
    key = normalise_email(email)
    held = {Side.WHMCS: world.whmcs_clients(), Side.WORDPRESS: world.wp_users()}
    fields = {n: held[source][key][n] for n in ("email", "first_name", "last_name")}  # as its adapter reads it
    if not direction.allows_write_to(target) or mapping.problems(target, fields):
        return
    assert key in held[target], f"{email} was not created on {target.display}"
    for name in ("first_name", "last_name"):
        if target is Side.WHMCS and not fields[name].strip():
            continue  # WHMCS got the configured dummy
        expected = mapping.as_stored(target, name, fields[name])
        got = held[target][key][name]
        assert normalise(name, got) == normalise(name, expected), (name, got, expected)


@HOSTILE_RUNS
@given(whmcs=people, wp=people, whmcs_canary=canary, wp_canary=canary, direction=directions)
def test_hostile_users_never_stop_a_run_and_a_second_run_writes_nothing(
    whmcs: list[Person], wp: list[Person], whmcs_canary: tuple[str, str], wp_canary: tuple[str, str],
    direction: Direction,
) -> None:
    world = World()
    seed(world, whmcs, wp)
    world.whmcs.add_client("canary.whmcs@example.com", *whmcs_canary)
    world.wp.add_user("canary-wp", "canary.wp@example.com", *wp_canary)

    first = world.run(direction=direction.value)
    assert first.outcome in ("ok", "errors"), first.message
    assert_reported_per_user(first)
    assert_nothing_sent_that_the_other_side_rejects(world)
    assert_canary_synced(world, direction, "canary.whmcs@example.com", source=Side.WHMCS)
    assert_canary_synced(world, direction, "canary.wp@example.com", source=Side.WORDPRESS)
    for email, *_ in whmcs:
        if not mapping.is_valid_email(email):
            assert any(p.field == "email" and p.side is Side.WHMCS for p in first.problems), email

    sent = world.writes_sent()
    second = world.run(direction=direction.value)
    assert_reported_per_user(second)
    assert world.writes_sent() == sent, (
        f"the second run wrote again: {world.wp_writes[-3:]} {world.whmcs_writes[-3:]} "
        f"{[e.message for e in second.errors]}"
    )
    assert second.writes() == 0 and not second.errors


@HOSTILE_RUNS
@given(email=plain_emails(), first=names(), last=names(), direction=directions,
       variant=st.sampled_from(["upper", "title", "spaces", "nfd_names"]))
def test_one_person_in_two_spellings_is_linked_not_duplicated(
    email: str, first: str, last: str, direction: Direction, variant: str
) -> None:
    world = World()
    other_email = {"upper": email.upper(), "title": email.title(), "spaces": f"  {email} ",
                   "nfd_names": email}[variant]
    nfd = variant == "nfd_names"
    world.whmcs.add_client(other_email, unicodedata.normalize("NFD", first) if nfd else first, last)
    world.wp.add_user("person", email, unicodedata.normalize("NFC", first) if nfd else first, last)
    world.run(direction=direction.value)
    assert len(world.wp_users()) == 1 and len(world.whmcs.clients) == 1
    sent = world.writes_sent()
    world.run(direction=direction.value)
    assert world.writes_sent() == sent


Edit = tuple[int, Side, str, str]  # user number, side edited, field, new value
edits = st.lists(st.tuples(st.integers(0, 2), st.sampled_from([Side.WHMCS, Side.WORDPRESS]),
                           st.sampled_from(["first_name", "last_name", "company", "email"]),
                           names() | hostile_emails()), min_size=1, max_size=5)


def apply_edit(world: World, number: int, side: Side, name: str, value: str) -> None:
    """Edit a linked user on one side as a person would there (WordPress keeps what it keeps)."""
    if side is Side.WHMCS:
        client = next(c for c in world.whmcs.clients.values() if c.id == number + 1)
        attribute = {"first_name": "firstname", "last_name": "lastname", "company": "companyname", "email": "email"}
        setattr(client, attribute[name], value)
        return
    user = next(u for u in world.wp.users.values() if u.login == f"linked{number}")
    if name == "email":
        taken = {u.email.casefold() for u in world.wp.users.values() if u is not user}
        if wp_emulator.is_email(value) and len(value) <= 100 and value.casefold() not in taken:
            user.email = wp_emulator.sanitize_email(value)  # WordPress refuses anything else
    elif name == "company":
        user.meta["billing_company"] = value
    else:
        setattr(user, name, wp_emulator.sanitize_text(value))


@HOSTILE_RUNS
@given(changes=edits, direction=directions)
def test_hostile_edits_of_linked_users_settle_in_one_run(changes: list[Edit], direction: Direction) -> None:
    world = World()
    for number in range(3):
        world.whmcs.add_client(f"linked{number}@example.com", f"First{number}", f"Last{number}", f"Co{number}")
        world.wp.add_user(f"linked{number}", f"linked{number}@example.com", f"First{number}", f"Last{number}",
                          company=f"Co{number}")
    world.run(direction=direction.value)
    for number, side, name, value in changes:
        apply_edit(world, number, side, name, value)
    first = world.run(direction=direction.value)
    assert first.outcome in ("ok", "errors"), first.message
    assert_reported_per_user(first)
    assert_nothing_sent_that_the_other_side_rejects(world)
    sent = world.writes_sent()
    second = world.run(direction=direction.value)
    assert world.writes_sent() == sent, (world.wp_writes[-3:], world.whmcs_writes[-3:],
                                         [e.message for e in second.errors])


def test_the_same_email_twice_on_one_side_is_left_alone_while_the_rest_syncs() -> None:
    world = World()
    world.whmcs.add_client("dup@example.com", "Dup", "One")
    world.whmcs.add_client("DUP@Example.com ", "Dup", "Two")
    world.whmcs.add_client("fine@example.com", "<b>Fine</b>", "Mary  Ann")
    report = world.run()
    assert [d.key for d in report.duplicates] == ["dup@example.com"]
    assert set(world.wp_users()) == {"fine@example.com"}
    assert world.wp_users()["fine@example.com"]["first_name"] == "Fine"
    assert world.wp_users()["fine@example.com"]["last_name"] == "Mary Ann"
    sent = world.writes_sent()
    world.run()
    assert world.writes_sent() == sent


def test_names_wordpress_rewrites_settle_in_one_run_in_every_direction() -> None:
    # The bug these tests found: WordPress stores "<b>Ann</b>" as "Ann" and "Lee  Smith" as
    # "Lee Smith"; a one-way run rewrote them every run, a two-way run echoed them into WHMCS.
    for direction in Direction:
        world = World()
        world.whmcs.add_client("ann@example.com", "<b>Ann</b>", "Lee  Smith")
        world.whmcs.add_client("bo@example.com", "Bo", "<script>alert(1)</script>Ng 100%")
        world.wp.add_user("cy", "cy@example.com", "Cy", "Lee")
        world.whmcs.add_client("cy@example.com", "Cy", "Lee\u00a0 ")  # a no-break space, then a space
        world.run(direction=direction.value)
        sent = world.writes_sent()
        again = world.run(direction=direction.value)
        assert world.writes_sent() == sent and not again.errors, direction
        assert world.whmcs_clients()["ann@example.com"]["first_name"] == "<b>Ann</b>"  # never echoed back
        if direction.allows_write_to(Side.WORDPRESS):
            assert world.wp_users()["bo@example.com"]["last_name"] == "Ng 100%"


def test_an_email_wordpress_cannot_take_is_reported_and_never_sent() -> None:
    world = World()
    long_email = "x" * 89 + "@example.com"  # 101 characters: WHMCS takes it, WordPress dies on it
    world.whmcs.add_client(long_email, "Long", "Mail")
    world.whmcs.add_client("ü@bücher.de", "Idn", "Mail")
    world.whmcs.add_client(" padded@example.com\t", "Pad", "Ded")
    world.whmcs.add_client("ok@example.com", "Ok", "Mail")
    report = world.run()
    fields = {(p.key, p.field) for p in report.problems}
    assert (long_email, "email") in fields
    assert ("ü@bücher.de", "email") in fields
    assert set(world.wp_users()) == {"ok@example.com", "padded@example.com"}
    assert all(len(str(body.get("email", ""))) <= 100 for _m, _p, body in world.wp_writes)
    assert not report.errors


def test_an_internationalised_domain_in_either_spelling_is_one_user() -> None:
    # WHMCS may hold the Unicode spelling; WordPress only takes the punycode one (measured,
    # test_wordpress_facts.py). Same mailbox, same key: linked, never created twice, no loop.
    world = World()
    world.whmcs.add_client("ann@bücher.de", "Ann", "Idn")
    world.wp.add_user("ann", "ann@xn--bcher-kva.de", "Ann", "Idn")
    world.whmcs.add_client("bob@XN--BCHER-KVA.de", "Bob", "Idn")
    world.wp.add_user("bob", "Bob@bücher.de", "Bob", "Idn")
    world.whmcs.add_client("cy@bücher.de", "Cy", "Alone")  # no partner: WordPress cannot take this spelling
    first = world.run()
    assert first.counts == {"link": 2}, first
    assert [(p.key, p.side, p.field) for p in first.problems] == [("cy@bücher.de", Side.WORDPRESS, "email")]
    assert not first.errors and not world.wp_writes and not world.whmcs_writes
    again = world.run()
    assert again.counts == {} and len(again.problems) == 1
    assert normalise_email("ann@xn--bcher-kva.de") == normalise_email("Ann@Bücher.DE") == "ann@bücher.de"
    assert normalise_email("x@xn--zz.de") == "x@xn--zz.de"  # not valid punycode: compared as written


def test_an_email_given_up_by_one_user_is_taken_by_another_in_the_same_run() -> None:
    # Found by Hypothesis: in a whmcs_to_wp run, WHMCS gives user 0 the email that user 1 was
    # given in WordPress (where WHMCS's value wins, so user 1 gets its own back). User 1's
    # update must be planned and run first, or user 0's email waits a run for no reason.
    world = World()
    for number in range(2):
        world.whmcs.add_client(f"linked{number}@example.com", f"First{number}", f"Last{number}")
        world.wp.add_user(f"linked{number}", f"linked{number}@example.com", f"First{number}", f"Last{number}")
    world.run(direction="whmcs_to_wp")
    apply_edit(world, 0, Side.WHMCS, "email", "moved@example.com")
    apply_edit(world, 1, Side.WORDPRESS, "email", "moved@example.com")
    report = world.run(direction="whmcs_to_wp")
    assert report.counts == {"update": 2} and not report.problems and not report.errors, report
    assert [body["email"] for _m, _p, body in world.wp_writes] == ["linked1@example.com", "moved@example.com"]
    assert set(world.wp_users()) == {"moved@example.com", "linked1@example.com"}
    sent = world.writes_sent()
    assert world.run(direction="whmcs_to_wp").counts == {} and world.writes_sent() == sent
