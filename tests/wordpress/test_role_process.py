"""``[wordpress.new_users] role`` that does not exist on the site (issue 11, item 11), through
``python -m syncd test-connection`` as a process: against the emulators, and against the real
WordPress the suite starts. test-connection used to pass, and then every create failed; now it
fails (exit 3), says the role does not exist, and names the roles that do."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.emulated import emulated
from tests.e2e.harness import Sides

ROLE_LINE = "[wordpress] FAIL  new users' role ([wordpress.new_users] role): the role 'ghost-role' does not exist"


def _with_role(config: Path, role: str) -> None:
    config.write_text(config.read_text(encoding="utf-8") + f'[wordpress.new_users]\nrole = "{role}"\n',
                      encoding="utf-8")


def test_a_role_missing_on_the_emulated_site(tmp_path: Path) -> None:
    with emulated(tmp_path, "role-test-whmcs-secret-0123456789") as world:
        world.wp.add_role("customer", ["read"])
        _with_role(world.config, "ghost-role")
        run = world.syncd("test-connection")
        users = len(world.wp.users)
        assert run.returncode == 3, run.stdout + run.stderr
        assert ROLE_LINE in run.stdout
        assert "fix: set [wordpress.new_users] role to one that exists: subscriber, contributor, author, editor, " \
               "customer;" in run.stdout
        assert run.stdout.count("FAIL") == 1 and "Traceback" not in run.stderr

        world.write_config()
        _with_role(world.config, "customer")
        good = world.syncd("test-connection", "--json")
        assert good.returncode == 0, good.stdout
        assert "'customer' exists and may be given" in good.stdout
        assert len(world.wp.users) == users  # the probes created nobody


def test_a_role_missing_on_the_real_wordpress(sides: Sides) -> None:
    sides.write_config()
    _with_role(sides.config, "ghost-role")
    before = len(sides.wp_users())
    run = sides.syncd("test-connection")
    assert run.code == 3, run.stdout + run.stderr
    assert ROLE_LINE in run.stdout
    assert "fix: set [wordpress.new_users] role to one that exists: subscriber, contributor, author, editor" \
        in run.stdout
    sides.write_config()
    _with_role(sides.config, "author")
    good = sides.syncd("test-connection")
    assert good.code == 0, good.stdout + good.stderr
    assert "[wordpress] OK    new users' role ([wordpress.new_users] role): 'author' exists" in good.stdout
    assert len(sides.wp_users()) == before  # nobody was created by the probes
