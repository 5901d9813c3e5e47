"""Progress of a long run: the engine reports each action done; the CLI prints a throttled line."""

from __future__ import annotations

from loguru import logger

from syncd.app import _Progress
from tests.core.scenario import World


def test_the_engine_reports_every_action_done() -> None:
    world = World()
    for i in range(1, 5):
        world.client(i, f"u{i}@x.io", "U", f"N{i}")
    seen: list[tuple[int, int]] = []
    world.execute(world.plan(), progress=lambda done, planned: seen.append((done, planned)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_terminal_line_is_throttled_and_has_a_rate_and_eta() -> None:
    t = [0.0]
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        progress = _Progress(clock=lambda: t[0])
        for done in range(1, 101):
            t[0] = done * 0.5  # two actions a second
            progress(done, 200)
    finally:
        logger.remove(sink)
    assert len(lines) == 10  # every 5 s over 50 s
    assert lines[0] == "progress: 10/200 actions (5%), 2.0/s, about 95s left"
