"""The engine (DESIGN §5.1 step 4, §5.5, §5.9): failures isolated per user, unknown outcomes
settled without duplicates, no echo, immediate commits, stop requests, crashes (injected through the
ports, tests/crash/inject.py), and whole-side failures that stop the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncd.errors import (
    AccessDenied,
    GuardTripped,
    NotAnApi,
    OutcomeUnknown,
    RemoteRejected,
    StateError,
    Transient,
    Unreachable,
)
from syncd.model import Direction, Side
from syncd.render import explain_json, explain_text, plan_json, report_json
from syncd.sync.engine import execute, run_sync
from syncd.sync.explain import explain
from syncd.sync.policy import Policy
from tests.core.memory import DUMMY, MemorySide, MemoryStore
from tests.core.scenario import P, W, World, now
from tests.crash.inject import Crashed, CrashPoint, DyingSide, DyingStore, Tripwire, raise_crashed


def three_clients(world: World) -> None:
    for i, name in enumerate(("ann", "bob", "cy"), start=1):
        world.client(i, f"{name}@x.io", name.title(), "Lee")


def test_a_failure_is_recorded_against_its_user_and_the_others_go_on() -> None:
    world = World()
    three_clients(world)
    world.wp.fail_next("create", RemoteRejected("WordPress refused the role", side="wordpress"), email="bob@x.io")
    _plan, report = world.sync()
    assert report.outcome == "errors" and report.counts == {"create": 2}
    [error] = report.errors
    assert error.key == "bob@x.io" and error.side == "wordpress" and "WordPress refused the role" in error.message
    assert sorted(a.key for a in world.wp.accounts.values()) == ["ann@x.io", "cy@x.io"]
    [issue] = world.store.open_issues()
    assert (issue.key, issue.kind) == ("bob@x.io", "error")
    assert world.store.runs()[0].outcome == "errors" and world.store.runs()[0].errors == 1
    assert any(level == "ERROR" and "bob@x.io" in msg and "retried next run" in msg for level, msg in world.logs)
    # retried next run, and the issue is resolved
    _plan, report = world.sync()
    assert report.outcome == "ok" and report.counts == {"create": 1}
    assert world.store.open_issues() == []


@pytest.mark.parametrize("exc", [
    Transient("timed out after 4 attempts", side="whmcs"),
    OutcomeUnknown("the reply was lost", side="whmcs"),
    RemoteRejected("Invalid email", side="whmcs"),
])
def test_per_user_failures_of_every_kind_are_isolated(exc: Exception) -> None:
    world = World()
    for i, name in enumerate(("ann", "bob"), start=1):
        world.client(i, f"{name}@x.io")
        world.user(100 + i, f"{name}@x.io", first="Changed")
        world.link(i, 100 + i, base={"email": f"{name}@x.io", "first_name": "Ann", "last_name": "Lee", "company": ""})
    world.whmcs.fail_next("update", exc, email="ann@x.io")  # type: ignore[arg-type]
    _plan, report = world.sync()
    assert [e.key for e in report.errors] == ["ann@x.io"]
    assert world.whmcs.accounts[2].fields["first_name"] == "Changed"
    assert world.whmcs.accounts[1].fields["first_name"] == "Ann"
    _plan, report = world.sync()
    assert report.outcome == "ok" and world.whmcs.accounts[1].fields["first_name"] == "Changed"


def test_after_a_failure_the_rest_of_that_users_actions_wait() -> None:
    world = World()
    world.client(1, "ann@x.io", last="Lea")
    world.user(101, "ann@x.io", first="Anna")
    world.link(1, 101, base={"email": "ann@x.io", "first_name": "Ann", "last_name": "Lee", "company": ""})
    world.whmcs.fail_next("update", RemoteRejected("no", side="whmcs"))
    planned, report = world.sync()
    assert [a.kind for a in planned.actions] == ["update", "update"]
    assert world.wp.writes == [] and report.done == 2 and len(report.errors) == 1


def test_an_unknown_create_is_settled_by_the_listing_next_run_without_a_duplicate() -> None:
    world = World()
    world.client(1, "ann@x.io")
    world.wp.fail_next("create", OutcomeUnknown("empty reply", side="wordpress"), after_write=True)
    _plan, report = world.sync()
    assert report.outcome == "errors" and len(world.wp.accounts) == 1
    assert world.store.pending_creates().keys() == {(P, "ann@x.io")}
    assert world.store.links() == []
    planned, report = world.sync()
    assert [a.kind for a in planned.actions] == ["link"]
    assert len(world.wp.accounts) == 1 and world.wp.writes == [("create", 101)]  # only the first, lost, create
    assert world.store.pending_creates() == {}
    assert report.outcome == "ok" and world.store.open_issues() == []


def test_an_unknown_create_is_looked_up_before_it_is_retried() -> None:
    world = World()
    world.client(1, "ann@x.io")
    world.wp.fail_next("create", OutcomeUnknown("timed out", side="wordpress"))  # never reached WordPress
    world.sync()
    assert world.wp.accounts == {}
    planned = world.plan()
    [create] = planned.actions
    assert create.kind == "create" and create.pending  # type: ignore[attr-defined]
    # the lost create lands after the listing was read: the lookup finds it, nothing is created twice
    world.wp.external_add("ann@x.io", "Ann", "Lee")
    world.wp.reset_counts()
    report = world.execute(planned)
    assert report.outcome == "ok"
    assert world.wp.calls["find"] == 1 and world.wp.calls["create"] == 0
    assert len(world.wp.accounts) == 1 and len(world.store.links()) == 1 and world.store.pending_creates() == {}
    # and when the lookup finds nothing, it creates
    world2 = World()
    world2.client(1, "ann@x.io")
    world2.store.mark_pending_create(P, "ann@x.io")
    _plan, report = world2.sync()
    assert world2.wp.calls["find"] == 1 and world2.wp.calls["create"] == 1 and report.outcome == "ok"
    assert world2.store.pending_creates() == {}


def test_writes_never_echo_back() -> None:
    world = World()
    world.client(1, "ann@x.io", "Ann", "Lee")
    world.user(101, "bob@x.io", "Bob", "", roles=("subscriber",))
    world.client(2, "cy@x.io", "Cy", "Lee")
    world.user(102, "CY@x.io", "Cyrus", "Lee")
    world.sync()
    assert world.whmcs.writes and world.wp.writes
    world.whmcs.reset_counts()
    world.wp.reset_counts()
    assert world.plan().actions == ()
    for link in world.store.links():
        assert set(link.digests) == {"whmcs", "wordpress"}
    # edits on each side travel once, then nothing
    world.whmcs.external_edit(1, last_name="Lea")
    world.wp.external_edit(101, first_name="Bobby")
    _plan, report = world.sync()
    assert report.counts == {"update": 2}
    assert world.plan().actions == ()


def test_a_wordpress_email_change_updates_the_whmcs_client_and_its_owner_user() -> None:
    world = World()
    world.client(1, "ann@x.io")
    world.user(101, "ann@x.io")
    world.link(1, 101)
    world.wp.external_edit(101, email="Ann.New@x.io")
    world.sync()
    assert world.whmcs.accounts[1].fields["email"] == "Ann.New@x.io"
    assert world.whmcs.owner_users[5001]["email"] == "Ann.New@x.io"
    [link] = world.store.links()
    assert link.base["email"] == "Ann.New@x.io" and link.owner_user_id == 5001


def test_each_success_is_committed_at_once() -> None:
    world = World()
    three_clients(world)
    saved: list[int] = []
    original = world.store.save_link

    def spy(link, **history):  # type: ignore[no-untyped-def]
        saved.append(len(world.wp.accounts))  # how many creates had happened when this link was saved
        original(link, **history)

    world.store.save_link = spy  # type: ignore[method-assign]
    world.sync()
    assert saved == [1, 2, 3]


def _crash_at(world: World, point: CrashPoint) -> None:
    """Execute the world's plan through ports that die at ``point`` (tests/crash/inject.py)."""
    planned = world.plan()
    run_id = world.store.begin_run(direction=planned.policy.direction.value, full=False)
    tripwire = Tripwire(point, raise_crashed)
    with pytest.raises(Crashed):
        execute(planned, whmcs=DyingSide(world.whmcs, tripwire), wp=DyingSide(world.wp, tripwire),  # type: ignore[arg-type]
                store=DyingStore(world.store, tripwire), run_id=run_id,  # type: ignore[arg-type]
                log=lambda level, msg: world.logs.append((level, msg)), now=now)


def test_a_crash_after_two_actions_loses_nothing_and_the_next_run_converges() -> None:
    world = World()
    for i in range(1, 6):
        world.client(i, f"u{i}@x.io")
    _crash_at(world, CrashPoint.before_next_step(saves=2))
    assert len(world.wp.accounts) == 2 and len(world.store.links()) == 2
    assert world.store.runs()[0].outcome == "running"  # a crash records nothing more
    world.sync()
    assert len(world.wp.accounts) == 5 and len(world.store.links()) == 5
    assert world.plan().actions == ()


def test_a_crash_between_a_write_and_its_commit_is_settled_by_first_contact() -> None:
    world = World()
    for i in range(1, 4):
        world.client(i, f"u{i}@x.io")
    _crash_at(world, CrashPoint.after_write(2))
    assert len(world.wp.accounts) == 2 and len(world.store.links()) == 1  # the second create was not committed
    planned, _report = world.sync()
    assert [a.kind for a in planned.actions] == ["link", "create"]
    assert len(world.wp.accounts) == 3 and len(world.store.links()) == 3


def test_should_stop_is_honoured_between_actions() -> None:
    world = World()
    for i in range(1, 6):
        world.client(i, f"u{i}@x.io")
    asked = iter([False, False, True])
    report = world.execute(world.plan(), should_stop=lambda: next(asked))
    assert report.outcome == "stopped" and report.done == 2 and report.counts == {"create": 2}
    assert len(world.store.links()) == 2
    assert world.store.runs()[0].outcome == "stopped"
    _plan, report = world.sync()
    assert report.counts == {"create": 3}


@pytest.mark.parametrize("exc", [
    AccessDenied("Invalid Permissions", side="whmcs"),
    NotAnApi("an HTML page", side="whmcs"),
    Unreachable("connection refused", side="whmcs"),
])
def test_a_whole_side_failure_stops_the_run_after_recording_it(exc: Exception) -> None:
    world = World()
    for i in range(1, 4):
        world.user(100 + i, f"u{i}@x.io")
    world.whmcs.fail_next("create", exc, email="u2@x.io")  # type: ignore[arg-type]
    with pytest.raises(type(exc)):
        world.sync()
    assert [a.key for a in world.whmcs.accounts.values()] == ["u1@x.io"]
    run = world.store.runs()[0]
    assert run.outcome == "failed" and str(exc) in run.message


def test_a_state_store_failure_stops_the_run() -> None:
    world = World()
    world.client(1, "u1@x.io")
    world.client(2, "u2@x.io")
    world.store.fail_saves = StateError("disk full")
    with pytest.raises(StateError):
        world.sync()
    assert len(world.wp.accounts) == 1  # the write happened; its link will be found by first contact
    world.store.fail_saves = None
    world.sync()
    assert len(world.wp.accounts) == 2 and len(world.store.links()) == 2


def make_sides() -> tuple[MemorySide, MemorySide, MemoryStore]:
    return MemorySide(W), MemorySide(P), MemoryStore()


def test_run_sync_stops_before_planning_when_a_listing_fails() -> None:
    whmcs, wp, store = make_sides()
    whmcs.external_add("ann@x.io", "Ann", "Lee")
    wp.listing_error = Unreachable("connection refused", side="wordpress")
    logs: list[tuple[str, str]] = []
    with pytest.raises(Unreachable):
        run_sync(whmcs=whmcs, wp=wp, store=store, policy=Policy(dummy_values=DUMMY),
                 log=lambda lvl, msg: logs.append((lvl, msg)), now=now)
    assert whmcs.writes == [] and wp.writes == [] and store.links() == []
    assert store.runs()[0].outcome == "failed" and "nothing was written" in logs[-1][1]


def test_run_sync_dry_run_writes_nothing_anywhere() -> None:
    whmcs, wp, store = make_sides()
    whmcs.external_add("ann@x.io", "Ann", "Lee")
    wp.external_add("bob@x.io", "Bob", "")
    plan, report = run_sync(whmcs=whmcs, wp=wp, store=store, policy=Policy(dummy_values=DUMMY),
                            log=lambda lvl, msg: None, now=now, dry_run=True)
    assert report.outcome == "dry-run" and report.counts == {"create": 2}
    assert whmcs.writes == [] and wp.writes == [] and store.links() == [] and store.runs() == []
    data = plan_json(plan)
    json.dumps(data)
    assert data["counts"] == {"create": 2}
    [ann] = [u for u in data["users"] if u["key"] == "ann@x.io"]
    assert ann["actions"][0]["fields"]["first_name"] == "Ann"


def test_a_dry_run_of_a_blocked_plan_raises_the_guard_and_writes_nothing() -> None:
    world = World()
    world.client(1, "u1@x.io")
    world.client(2, "u2@x.io")
    world.link(1, 101)
    world.link(2, 102)
    planned = world.plan(max_deletes=1)
    assert planned.blocked and plan_json(planned)["blocked"] is True
    with pytest.raises(GuardTripped):
        world.execute(planned, dry_run=True)
    assert world.store.runs()[0].outcome == "running"  # begun by the test, never touched by the dry run


def test_plan_json_shows_each_field_before_and_after() -> None:
    world = World()
    world.client(1, "ann@x.io", first="Anna")
    world.user(101, "ann@x.io", first="Annie")
    data = plan_json(world.plan())
    json.dumps(data)
    [user] = data["users"]
    assert [a["action"] for a in user["actions"]] == ["link", "update"]
    assert user["actions"][1]["changes"] == {"first_name": {"before": "Annie", "after": "Anna"}}
    assert user["actions"][1]["description"] == (
        "update WordPress user ann@x.io (#101): first_name 'Annie' → 'Anna'")
    assert data["conflicts"][0]["losing"] == "Annie"


def test_the_report_counts_logs_and_json() -> None:
    world = World()
    world.client(1, "ann@x.io", first="Anna")
    world.user(101, "ann@x.io", first="Annie")
    world.user(102, "root@x.io", roles=("administrator",))
    world.client(3, "bad-email")
    _plan, report = world.sync()
    data = report_json(report)
    json.dumps(data)
    assert data["counts"] == {"link": 1, "update": 1}
    assert data["outcome"] == "errors" and len(data["problems"]) == 1 and len(data["conflicts"]) == 1
    info = [msg for level, msg in world.logs if level == "INFO"]
    assert any(msg.startswith("run 1: update WordPress user ann@x.io") for msg in info)
    assert any(level == "DEBUG" and "root@x.io" in msg and "excluded role" in msg for level, msg in world.logs)
    kinds = sorted((i.key, i.kind) for i in world.store.open_issues())
    assert kinds == [("ann@x.io", "conflict"), ("bad-email", "error")]
    # once the bad client is fixed, a complete run resolves the stale issues
    world.whmcs.external_edit(3, email="fixed@x.io")
    world.sync()
    assert world.store.open_issues() == []


def test_explain() -> None:
    world = World()
    world.client(1, "ann@x.io", first="Anna")
    world.user(101, "Ann@X.io", first="Annie")
    world.client(2, "bob@x.io")
    world.user(102, "bob@x.io")
    world.link(2, 102)
    policy = world.policy()
    args = (world.whmcs.snapshot(), world.wp.snapshot(), world.store.links(), policy)
    found = explain("ANN@x.io", *args)
    info = explain_json(found)
    json.dumps(info)
    assert info["found"] and [r["remote_id"] for r in info["whmcs"]] == [1]
    assert [a["action"] for a in info["actions"]] == ["link", "update"]
    assert "conflict on first_name" in info["verdict"]
    bob = explain_json(explain("bob@x.io", *args))
    assert bob["actions"] == [] and "in sync" in bob["verdict"] and len(bob["links"]) == 1
    nobody = explain_json(explain("nobody@x.io", *args))
    assert not nobody["found"] and "neither side" in nobody["verdict"]
    text = explain_text(found)
    assert "WHMCS: #1" in text and "WordPress: #101" in text and "a run would link" in text
    assert "{" not in text and "'description'" not in text


def test_policy_of_settings() -> None:
    from syncd import config
    from syncd.app import policy_of

    settings = config.parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "s"},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "p"},
        "sync": {"direction": "wp_to_whmcs", "priority": "wordpress", "on_delete": "deactivate",
                 "exclude_wp_roles": ["editor"], "max_deletes": 3, "max_delete_percent": 20},
    }, env={})
    policy = policy_of(settings, force=True)
    assert policy.direction is Direction.WP_TO_WHMCS and policy.priority is Side.WORDPRESS
    assert policy.on_delete == "deactivate" and policy.max_deletes == 3 and policy.max_delete_percent == 20
    assert policy.exclude_roles >= {"editor", "administrator"} and policy.force
    assert policy.dummy_values["first_name"] == "Not provided"
    assert policy_of(settings, direction=Direction.BOTH).direction is Direction.BOTH


def test_report_times_come_from_the_injected_clock() -> None:
    ticks = iter([datetime(2024, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(60)])
    world = World()
    world.client(1, "ann@x.io")
    run_id = world.store.begin_run(direction="both", full=False)
    from syncd.sync.engine import execute

    report = execute(world.plan(), whmcs=world.whmcs, wp=world.wp, store=world.store, run_id=run_id,
                     log=lambda lvl, msg: None, now=lambda: next(ticks))
    assert report.duration_seconds == 1.0


def test_a_bug_in_an_action_records_the_run_as_failed_and_surfaces() -> None:
    world = World()
    three_clients(world)
    world.wp.fail_next("create", RuntimeError("a bug"), email="bob@x.io")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="a bug"):
        world.sync()
    run = world.store.runs()[0]
    assert run.outcome == "failed" and "internal error" in run.message and "a bug" in run.message
    assert any(level == "ERROR" and "internal error while trying to create" in msg for level, msg in world.logs)
