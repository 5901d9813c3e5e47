"""Items 8 and 9: where the secrets come from, said by ``test-connection``; the credential files
beside the configuration (the unit's LoadCredential= sources) serve a root shell; placeholders refused.

Every test runs ``python -m syncd`` as a process; none may print a secret's value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.deploy.proc import NOBODY, syncd
from tests.e2e.emulated import Emulated, emulated

SECRET = "whmcs-secret-from-a-credential-file"


def _config(world: Emulated, whmcs_extra: str = "", wordpress_extra: str = "") -> Path:
    """A configuration with no secret in it (the README's way), its state directory the service's."""
    state = world.tmp / "state"
    if not state.exists():
        state.mkdir(mode=0o700)
        os.chown(state, NOBODY, NOBODY)
    world.config.write_text(
        f'[whmcs]\nurl = "{world.whmcs_url}"\nidentifier = "syncd"\n{whmcs_extra}'
        f'[wordpress]\nurl = "{world.wp_url}"\nusername = "admin"\n{wordpress_extra}'
        f'[sync]\nstate_url = "sqlite:///{state / "state.db"}"\nlock_wait_seconds = 0.5\n', encoding="utf-8")
    world.config.chmod(0o644)
    return world.config


def _credential(path: Path, value: str) -> Path:
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)  # root's alone, as the README installs them
    return path


@contextmanager
def _site(base: Path) -> Iterator[Emulated]:
    with emulated(base, SECRET) as world:
        _config(world)
        _credential(base / "whmcs_secret", SECRET)
        _credential(base / "wordpress_app_password", world.wp_password)
        yield world


def _no_secret_in(world: Emulated, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text and world.wp_password not in text


def test_root_reads_the_credential_files_beside_the_configuration(base: Path) -> None:
    with _site(base) as world:
        world.whmcs.add_client("ann@example.com", "Ann", "Lee")
        for args in (["sync"], ["explain", "ann@example.com"], ["check-config"], ["status"]):
            done = syncd("--config", str(world.config), *args)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            _no_secret_in(world, done.stdout, done.stderr)
        assert "ann@example.com" in world.wp_emails()
        shown = syncd("--config", str(world.config), "test-connection")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert (f"[whmcs] API secret read from credential file beside the configuration, {base / 'whmcs_secret'}"
                in shown.stdout)
        assert (f"[wordpress] application password read from credential file beside the configuration, "
                f"{base / 'wordpress_app_password'}" in shown.stdout)
        _no_secret_in(world, shown.stdout, shown.stderr)


def test_test_connection_json_says_each_source_in_the_lookup_order(base: Path) -> None:
    with _site(base) as world:
        creds = base / "creds"
        creds.mkdir()
        _credential(creds / "wordpress_app_password", world.wp_password)
        cases = [
            # (configuration additions, environment, expected sources)
            (("", ""), {"CREDENTIALS_DIRECTORY": str(creds)},
             {"whmcs": f"credential file beside the configuration, {base / 'whmcs_secret'}",
              "wordpress": f"systemd credential {creds / 'wordpress_app_password'}"}),
            (("", ""), {"SYNCD_WHMCS_SECRET": SECRET, "CREDENTIALS_DIRECTORY": str(creds)},
             {"whmcs": "$SYNCD_WHMCS_SECRET", "wordpress": f"systemd credential {creds / 'wordpress_app_password'}"}),
            ((f'secret_file = "{base / "whmcs_secret"}"\n', f'application_password = "{world.wp_password}"\n'),
             {"SYNCD_WHMCS_SECRET": "not-this-one"},
             {"whmcs": f"secret_file = {base / 'whmcs_secret'}", "wordpress": f"inline in {world.config}"}),
        ]
        for (whmcs_extra, wp_extra), env, expected in cases:
            _config(world, whmcs_extra, wp_extra)
            done = syncd("--config", str(world.config), "test-connection", "--json", env=env)
            assert done.returncode == 0, (expected, done.stdout, done.stderr)
            assert json.loads(done.stdout)["secrets"] == expected
            _no_secret_in(world, done.stdout, done.stderr)


def test_an_example_placeholder_is_a_configuration_error_naming_the_key(base: Path) -> None:
    with _site(base) as world:
        _config(world, 'secret = "your-api-secret"\n', 'application_password = "abcd efgh ijkl mnop qrst uvwx"\n')
        for args in (["check-config"], ["test-connection"], ["sync"]):
            done = syncd("--config", str(world.config), *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert "[whmcs] secret looks like the example's placeholder" in done.stderr
            assert "[wordpress] application_password looks like the example's placeholder" in done.stderr
            assert "your-api-secret" not in done.stderr and "Traceback" not in done.stderr


def test_a_user_who_cannot_read_the_credentials(base: Path) -> None:
    with _site(base) as world:
        # status and check-config need no secret: the service gets the files from systemd.
        for args in (["status"], ["check-config"]):
            done = syncd("--config", str(world.config), *args, uid=NOBODY)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        checked = syncd("--config", str(world.config), "check-config", uid=NOBODY)
        assert checked.stdout.startswith("OK:"), checked.stdout
        # A command that calls a side says what to do: run it as root.
        done = syncd("--config", str(world.config), "sync", uid=NOBODY)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"the credential file {base / 'whmcs_secret'} is there but" in done.stderr
        assert "run the command as root (sudo)" in done.stderr and "Traceback" not in done.stderr


def test_check_config_reports_a_secret_that_is_configured_but_empty_or_missing(base: Path) -> None:
    with _site(base) as world:
        _credential(base / "whmcs_secret", "")
        (base / "wordpress_app_password").unlink()
        done = syncd("--config", str(world.config), "check-config")
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"[whmcs] secret: the credential file {base / 'whmcs_secret'}: the file is empty" in done.stderr
        assert (f"[wordpress] application_password is required: put it in {base / 'wordpress_app_password'}"
                in done.stderr)


def test_a_credential_file_holding_the_readmes_placeholder_is_refused(base: Path) -> None:
    with _site(base) as world:
        _credential(base / "whmcs_secret", "the WHMCS API secret")  # the README's line, pasted as is
        done = syncd("--config", str(world.config), "check-config")
        assert done.returncode == 2, done.stdout + done.stderr
        assert (f"[whmcs] secret: the credential file {base / 'whmcs_secret'}: holds a placeholder copied from an "
                "example") in done.stderr
