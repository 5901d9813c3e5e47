"""Item 8: root runs a manual command beside the service, and the state store stays the service's.

The service runs as a dynamic user that owns /var/lib/syncd (really /var/lib/private/syncd behind
a root-only /var/lib/private). A manual ``sudo syncd sync`` must leave every file of the state
directory owned by that uid, including the ones it creates (the database, -wal/-shm, the lock).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.deploy.proc import NOBODY, syncd
from tests.e2e.emulated import emulated

SECRET = "whmcs-secret-for-the-root-test"


def _owned_by_the_service(directory: Path) -> None:
    names = sorted(p.name for p in directory.iterdir())
    assert "state.db" in names and "state.db.lock" in names, names
    for path in directory.iterdir():
        assert (path.stat().st_uid, path.stat().st_gid) == (NOBODY, NOBODY), f"{path} is not the service's"
    assert (directory.stat().st_uid, directory.stat().st_mode & 0o777) == (NOBODY, 0o700)


def _state_directory(path: Path) -> Path:
    path.mkdir(mode=0o700)
    os.chown(path, NOBODY, NOBODY)
    return path


def test_root_sync_leaves_the_store_the_services(base: Path) -> None:
    state = _state_directory(base / "state")
    with emulated(base, SECRET) as world:
        world.write_config(state_url=f"sqlite:///{state / 'state.db'}")
        world.whmcs.add_client("ann@example.com", "Ann", "Lee")
        done = syncd("--config", str(world.config), "sync")
        assert done.returncode == 0, done.stderr
        assert f"running as uid {NOBODY}, gid {NOBODY}, the owner of the state directory {state}" in done.stderr
        _owned_by_the_service(state)
        # The service's uid can go on with the store root's run left (a second run, as that uid).
        again = syncd("--config", str(world.config), "status", uid=NOBODY)
        assert again.returncode == 0 and "running as uid" not in again.stderr, again.stderr
        assert "ann@example.com" in world.wp_emails()


def test_root_crosses_a_root_only_directory_as_systemd_does(base: Path) -> None:
    # DynamicUser's layout: /var/lib/syncd -> private/syncd, /var/lib/private mode 0700 root's.
    private = base / "private"
    private.mkdir(mode=0o700)
    state = _state_directory(private / "syncd")
    (base / "syncd").symlink_to("private/syncd")
    with emulated(base, SECRET) as world:
        world.write_config(state_url=f"sqlite:///{base / 'syncd' / 'state.db'}")
        world.whmcs.add_client("bob@example.com", "Bob", "Ray")
        for args in (["sync"], ["sync", "--dry-run"], ["status"], ["explain", "bob@example.com"], ["check-config"]):
            done = syncd("--config", str(world.config), *args)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            assert "running as uid 65534" in done.stderr, (args, done.stderr)
        _owned_by_the_service(state)
        assert oct(private.stat().st_mode & 0o777) == "0o700" and not list(private.glob("*.db"))


def test_an_ordinary_user_runs_as_itself(base: Path) -> None:
    state = _state_directory(base / "state")
    with emulated(base, SECRET) as world:
        world.write_config(state_url=f"sqlite:///{state / 'state.db'}")
        done = syncd("--config", str(world.config), "sync", uid=NOBODY)
        assert done.returncode == 0, done.stderr
        assert "running as uid" not in done.stderr
        _owned_by_the_service(state)


def test_a_root_owned_state_directory_is_left_alone(base: Path) -> None:
    state = base / "state"
    state.mkdir(mode=0o700)
    with emulated(base, SECRET) as world:
        world.write_config(state_url=f"sqlite:///{state / 'state.db'}")
        done = syncd("--config", str(world.config), "sync")
        assert done.returncode == 0 and "running as uid" not in done.stderr, done.stderr
        assert {p.stat().st_uid for p in state.iterdir()} == {0}
