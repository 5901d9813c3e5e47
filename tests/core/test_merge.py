"""The per-field merge (DESIGN §5.3-5.4) on its own: a table of cases, then properties that
hold for every value, direction and priority."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.model import Direction, Side, normalise
from syncd.sync.merge import FieldOutcome, first_contact_field, merge_field

W, P = Side.WHMCS, Side.WORDPRESS
BOTH, W2P, P2W = Direction.BOTH, Direction.WHMCS_TO_WP, Direction.WP_TO_WHMCS


@pytest.mark.parametrize(
    ("base", "whmcs", "wp", "direction", "priority", "expect"),
    [
        ("Ann", "Ann", "Ann", BOTH, W, None),
        ("Ann", "Anna", "Ann", BOTH, W, FieldOutcome("first_name", "Anna", write=P)),
        ("Ann", "Ann", "Anna", BOTH, W, FieldOutcome("first_name", "Anna", write=W)),
        ("Ann", "Anna", "Anna", BOTH, P, FieldOutcome("first_name", "Anna")),
        ("Ann", "Anna", "Annie", BOTH, W, FieldOutcome("first_name", "Anna", write=P, winner=W, losing="Annie")),
        ("Ann", "Anna", "Annie", BOTH, P, FieldOutcome("first_name", "Annie", write=W, winner=P, losing="Anna")),
        ("Ann", " Ann", "Ann ", BOTH, W, None),
        ("Ann", "Ann", "Annie", W2P, P, FieldOutcome("first_name", "Ann", write=P)),
        ("Ann", "Anna", "Annie", W2P, P, FieldOutcome("first_name", "Anna", write=P)),
        ("Ann", "Anna", "Anna", W2P, P, FieldOutcome("first_name", "Anna")),
        ("Ann", "Anna", "Ann", P2W, W, FieldOutcome("first_name", "Ann", write=W)),
        ("Ann", "Ann", "Ann", P2W, W, None),
    ],
)
def test_merge_field(base: str, whmcs: str, wp: str, direction: Direction, priority: Side,
                     expect: FieldOutcome | None) -> None:
    assert merge_field("first_name", base, whmcs, wp, direction=direction, priority=priority) == expect


def test_a_whmcs_dummy_is_no_change_and_never_wins() -> None:
    assert merge_field("first_name", "", "Not provided", "", direction=BOTH, priority=W, whmcs_dummy=True) is None
    assert merge_field("first_name", "", "Not provided", "Ann", direction=BOTH, priority=W,
                       whmcs_dummy=True) == FieldOutcome("first_name", "Ann", write=W)
    # a real agreed value replaces the dummy as soon as the run may write WHMCS
    assert merge_field("first_name", "Ann", "Not provided", "Ann", direction=BOTH, priority=W,
                       whmcs_dummy=True) == FieldOutcome("first_name", "Ann", write=W)
    assert merge_field("first_name", "Ann", "Not provided", "Ann", direction=W2P, priority=W, whmcs_dummy=True) is None
    # one-way from WHMCS: the dummy stands for the base, which WordPress mirrors
    assert merge_field("first_name", "", "Not provided", "Ann", direction=W2P, priority=W,
                       whmcs_dummy=True) == FieldOutcome("first_name", "", write=P)


@pytest.mark.parametrize(
    ("whmcs", "wp", "direction", "priority", "dummy", "expect"),
    [
        ("Ann", "ann", BOTH, W, False, FieldOutcome("company", "Ann", write=P, winner=W, losing="ann")),
        ("Ann", " Ann ", BOTH, P, False, FieldOutcome("company", " Ann ")),
        ("", "Acme", BOTH, W, False, FieldOutcome("company", "Acme", write=W)),
        ("Acme", "", BOTH, P, False, FieldOutcome("company", "Acme", write=P)),
        ("", "Acme", W2P, W, False, FieldOutcome("company", "", write=P)),
        ("Acme", "Initech", P2W, W, False, FieldOutcome("company", "Initech", write=W)),
        ("Not provided", "", BOTH, W, True, FieldOutcome("company", "")),
        ("Not provided", "Acme", BOTH, W, True, FieldOutcome("company", "Acme", write=W)),
        ("Not provided", "Acme", W2P, W, True, FieldOutcome("company", "Acme")),
    ],
)
def test_first_contact_field(whmcs: str, wp: str, direction: Direction, priority: Side, dummy: bool,
                             expect: FieldOutcome) -> None:
    assert first_contact_field("company", whmcs, wp, direction=direction, priority=priority,
                               whmcs_dummy=dummy) == expect


VALUES = st.sampled_from(["", "Ann", "ann", " Ann", "Bob", "Zo\u00eb", "Zoe\u0308"])
DIRECTIONS = st.sampled_from(list(Direction))
SIDES = st.sampled_from(list(Side))


def _apply(outcome: FieldOutcome | None, base: str, whmcs: str, wp: str) -> tuple[str, str, str]:
    if outcome is None:
        return base, whmcs, wp
    if outcome.write is W:
        whmcs = outcome.value
    elif outcome.write is P:
        wp = outcome.value
    return outcome.value, whmcs, wp


@given(VALUES, VALUES, VALUES, DIRECTIONS, SIDES)
def test_after_applying_an_outcome_both_sides_agree_and_nothing_is_left(
    base: str, whmcs: str, wp: str, direction: Direction, priority: Side
) -> None:
    outcome = merge_field("x", base, whmcs, wp, direction=direction, priority=priority)
    new_base, w2, p2 = _apply(outcome, base, whmcs, wp)
    assert normalise("x", w2) == normalise("x", p2)
    assert merge_field("x", new_base, w2, p2, direction=direction, priority=priority) is None


@given(VALUES, VALUES, VALUES, DIRECTIONS, SIDES)
def test_a_one_way_run_never_writes_its_source(base: str, whmcs: str, wp: str, direction: Direction,
                                               priority: Side) -> None:
    source = direction.source
    for outcome in (merge_field("x", base, whmcs, wp, direction=direction, priority=priority),
                    first_contact_field("x", whmcs, wp, direction=direction, priority=priority)):
        if source is not None and outcome is not None:
            assert outcome.write is not source


@given(VALUES, VALUES, VALUES, SIDES)
def test_no_update_is_lost(base: str, whmcs: str, wp: str, priority: Side) -> None:
    """Direction both: a change on one side only always survives; changes on both sides end
    on the priority side's value (and that is reported as a conflict when they differ)."""
    outcome = merge_field("x", base, whmcs, wp, direction=BOTH, priority=priority)
    final = _apply(outcome, base, whmcs, wp)[1]
    nb, nw, np = (normalise("x", v) for v in (base, whmcs, wp))
    if nw != nb and np == nb:
        assert normalise("x", final) == nw
    elif np != nb and nw == nb:
        assert normalise("x", final) == np
    elif nw != nb and np != nb:
        assert normalise("x", final) == (nw if priority is W else np)
        assert (outcome is not None and outcome.winner is priority) or nw == np
    else:
        assert normalise("x", final) == nb


@given(VALUES, VALUES, VALUES, SIDES)
def test_swapping_the_sides_and_the_priority_mirrors_the_outcome(base: str, a: str, b: str, priority: Side) -> None:
    one = merge_field("x", base, a, b, direction=BOTH, priority=priority)
    two = merge_field("x", base, b, a, direction=BOTH, priority=priority.other)
    assert (one is None) == (two is None)
    if one is not None and two is not None:
        assert one.value == two.value
        assert (one.write is None) == (two.write is None)
        assert one.write is None or one.write is not two.write
