"""``syncd explain EMAIL`` as a process against both emulators, on the production path: a user
with pending actions is explained in plain words (each action's sentence, no Python dict), and
``--json`` carries the same actions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.faults.world import World


def test_explain_prints_the_pending_actions_in_plain_words(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    world.wp.add_user("cat", "Cat@Example.com", "Cat", "Cole")
    world.whmcs.add_client("ann@example.com", "Ann", "Archer")
    with world.served() as sides:
        shown = sides.syncd("explain", "cat@example.com")
        as_json = sides.syncd("explain", "cat@example.com", "--json")
        created = sides.syncd("explain", "ann@example.com")
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "cat@example.com:"
    assert lines[1:] == [
        "  WHMCS: #1 Catherine Cole <cat@example.com> (status Active)",
        "  WordPress: #2 Cat Cole <Cat@Example.com> (roles subscriber)",
        "  link: none yet",
        "  a run would link WHMCS client cat@example.com (#1) with WordPress user Cat@Example.com (#2)",
        "  a run would update WordPress user Cat@Example.com (#2): first_name 'Cat' → 'Catherine'",
        "  conflict on first_name: WHMCS wins with 'Catherine'; WordPress's 'Cat' is overwritten",
    ]
    assert not any(ch in shown.stdout for ch in "{}"), shown.stdout  # no dict, no braces
    assert "'description'" not in shown.stdout and "'action'" not in shown.stdout
    data = json.loads(as_json.stdout)
    assert [a["action"] for a in data["actions"]] == ["link", "update"]
    assert all(a["description"] in shown.stdout for a in data["actions"])
    assert created.code == 0 and "  a run would create WordPress user ann@example.com" in created.stdout
    assert "{" not in created.stdout
