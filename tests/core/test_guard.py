"""The safety guard of DESIGN §5.7: its three conditions, its edges, ``--force``, and that it
stops a run before anything is written."""

from __future__ import annotations

import pytest

from syncd.errors import GuardTripped
from syncd.model import Side
from syncd.sync.policy import Policy
from syncd.sync.stages.guard import guard_message
from tests.core.scenario import P, W, World


def linked_world(n: int) -> World:
    world = World()
    for i in range(1, n + 1):
        world.client(i, f"u{i}@x.io")
        world.user(100 + i, f"u{i}@x.io")
        world.link(i, 100 + i)
    return world


def delete_wp(world: World, count: int) -> None:
    for i in range(1, count + 1):
        world.wp.external_delete(100 + i)


@pytest.mark.parametrize(
    ("links", "deleted", "policy", "trips"),
    [
        pytest.param(5, 3, {"max_deletes": 2}, True, id="more than max_deletes"),
        pytest.param(5, 2, {"max_deletes": 2}, False, id="exactly max_deletes passes"),
        pytest.param(10, 6, {"max_deletes": 100, "max_delete_percent": 50}, True, id="more than the share of links"),
        pytest.param(10, 5, {"max_deletes": 100, "max_delete_percent": 50}, False, id="exactly the share passes"),
        pytest.param(9, 8, {"max_deletes": 100, "max_delete_percent": 50}, False,
                     id="the share applies only from 10 links"),
        pytest.param(3, 3, {"max_deletes": 100}, True, id="one side empty while links exist"),
        pytest.param(3, 3, {"max_deletes": 100, "direction": "whmcs_to_wp"}, True,
                     id="an empty side trips even when the run would ignore its deletions"),
    ],
)
def test_guard_conditions(links: int, deleted: int, policy: dict[str, object], trips: bool) -> None:
    world = linked_world(links)
    delete_wp(world, deleted)
    planned = world.plan(**policy)
    assert planned.blocked is trips
    if trips:
        assert planned.guard is not None and "--force" in planned.guard
        forced = world.plan(force=True, **policy)
        assert forced.guard == planned.guard and not forced.blocked


def test_the_message_says_what_it_would_have_done() -> None:
    world = linked_world(12)
    delete_wp(world, 7)
    message = world.plan(max_deletes=5).guard
    assert message is not None
    assert "7 users" in message and "max_deletes = 5" in message
    assert "7 of 12" in message and "max_delete_percent" in message
    assert "syncd sync --force" in message


def test_an_empty_side_whose_links_are_all_gone_there_is_not_a_guard_case() -> None:
    world = World()
    world.client(1, "u1@x.io")
    world.link(1, 101, gone=frozenset({P}))
    assert world.plan().guard is None


def test_a_first_run_into_an_empty_side_is_not_a_guard_case() -> None:
    world = World()
    world.client(1, "u1@x.io")
    planned = world.plan()
    assert planned.guard is None and len(planned.actions) == 1


def test_a_tripped_guard_stops_before_any_write_and_records_the_run() -> None:
    world = linked_world(5)
    world.client(9, "new@x.io")  # a create that must not happen either
    world.whmcs.external_edit(5, first_name="Changed")  # an update that must not happen
    delete_wp(world, 3)
    planned = world.plan(max_deletes=2, on_delete="deactivate")
    links_before = world.store.links()
    with pytest.raises(GuardTripped) as caught:
        world.execute(planned)
    assert caught.value.exit_code == 4 and "--force" in str(caught.value)
    assert world.whmcs.writes == [] and world.wp.writes == []
    assert world.store.links() == links_before and world.store.saves == 0
    [run] = world.store.runs()
    assert run.outcome == "guard" and "--force" in run.message


def test_force_lets_the_run_through() -> None:
    world = linked_world(5)
    delete_wp(world, 3)
    _plan, report = world.sync(max_deletes=2, on_delete="deactivate", force=True)
    assert report.counts == {"deactivate": 3}
    assert [w for w in world.whmcs.writes] == [("deactivate", 1), ("deactivate", 2), ("deactivate", 3)]
    assert any("overridden by --force" in msg for _level, msg in world.logs)


def test_guard_message_is_none_when_nothing_is_wrong() -> None:
    policy = Policy()
    assert guard_message(deletions=0, links=0, live_links={}, empty_sides=[], policy=policy) is None
    assert guard_message(deletions=0, links=3, live_links={Side.WHMCS: 0, Side.WORDPRESS: 3},
                         empty_sides=[W], policy=policy) is None
