"""Configuration problems through the CLI as a process (issue 11, items 1, 2, 4, 5, 6, 13, 18):
each is a plain message that names what is wrong and what to do, with exit 2 (a configuration
error) or 6 (the state store), never a traceback. None of these tests needs either side: the
URLs point at closed loopback ports, and every command here must stop before calling them.

Tests run as root, who reads any file; ``as_unprivileged`` runs the command as root without
the capabilities that bypass file permissions (``setpriv``), so modes apply as to anyone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Run

BASE = {
    "whmcs": {"url": "http://127.0.0.1:9/", "identifier": "i", "secret": "whmcs-secret-e2e-cfg"},
    "wordpress": {"url": "http://127.0.0.1:9/", "username": "u", "application_password": "wp-pass-e2e-cfg"},
}
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
          "--inh-caps", "-dac_override,-dac_read_search"]


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(tmp: Path, *, drop: tuple[str, ...] = (), **sections: dict[str, object]) -> Path:
    """A configuration in ``tmp``: BASE, a state store in ``tmp``, and ``sections`` on top
    (``sync={...}``, ``log={...}``, ...); ``drop`` removes keys given as "section.key"."""
    merged: dict[str, dict[str, object]] = {k: dict(v) for k, v in BASE.items()}
    merged["sync"] = {"state_url": f"sqlite:///{tmp / 'state.db'}", "lock_wait_seconds": 0}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    for dotted in drop:
        section, _, key = dotted.partition(".")
        merged[section].pop(key, None)
    lines: list[str] = []
    for name, values in merged.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    path = tmp / "syncd.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def syncd(tmp: Path, *args: str, config: Path | None = None, env: dict[str, str] | None = None,
          as_unprivileged: bool = False) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_") and k != "CREDENTIALS_DIRECTORY"}
    full_env.update(env or {})
    command = [sys.executable, "-m", "syncd"]
    if config is not None:
        command += ["--config", str(config)]
    if as_unprivileged:
        command = NO_DAC + command
    proc = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=full_env, cwd=tmp)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def plain(run: Run) -> str:
    """The output, having checked that no traceback reached the operator."""
    text = run.stdout + run.stderr
    assert "Traceback" not in text and "internal error" not in text, text
    return text


def _dac_can_be_dropped(tmp: Path) -> bool:
    if shutil.which("setpriv") is None:
        return False
    probe = tmp / "probe"
    probe.write_text("x")
    probe.chmod(0)
    ok = subprocess.run([*NO_DAC, "cat", str(probe)], capture_output=True).returncode != 0
    probe.unlink()
    return ok


@pytest.fixture
def unprivileged(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        return  # permissions apply already
    if not _dac_can_be_dropped(tmp_path):
        pytest.skip("needs setpriv and the right to drop CAP_DAC_OVERRIDE to make a file unreadable to root")


# -- item 1: a configuration file the process cannot read ------------------------------------------


@pytest.mark.usefixtures("unprivileged")
@pytest.mark.parametrize("how", ["--config", "$SYNCD_CONFIG", "./syncd.toml"])
def test_a_config_in_a_directory_the_process_cannot_enter_is_a_plain_error(tmp_path: Path, how: str) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    config = write_config(etc)
    etc.chmod(0)  # like /etc/syncd 0750 root:root and the service's dynamic user
    try:
        if how == "--config":
            run = syncd(tmp_path, "status", config=config, as_unprivileged=True)
        elif how == "$SYNCD_CONFIG":
            run = syncd(tmp_path, "status", env={"SYNCD_CONFIG": str(config)}, as_unprivileged=True)
        else:
            (tmp_path / "syncd.toml").symlink_to(config)
            run = syncd(tmp_path, "status", as_unprivileged=True)
    finally:
        etc.chmod(0o755)
    text = plain(run)
    assert run.code == 2, text
    assert "cannot read the configuration file" in text and "syncd.toml" in text, text
    assert "permission denied" in text and "readable by that user" in text, text


@pytest.mark.usefixtures("unprivileged")
def test_an_unreadable_config_file_is_a_plain_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.chmod(0)
    run = syncd(tmp_path, "check-config", env={"SYNCD_CONFIG": str(config)}, as_unprivileged=True)
    text = plain(run)
    assert run.code == 2, text
    assert f"cannot read the configuration file {config}" in text and "permission denied" in text, text


def test_a_directory_given_as_the_config_is_a_plain_error(tmp_path: Path) -> None:
    run = syncd(tmp_path, "status", env={"SYNCD_CONFIG": str(tmp_path)})
    text = plain(run)
    assert run.code == 2, text
    assert f"{tmp_path} (from $SYNCD_CONFIG) is a directory, not a configuration file" in text, text


# -- item 2: bounds on every number --------------------------------------------------------------


@pytest.mark.parametrize(("section", "key", "value", "said"), [
    ("sync", "interval_seconds", 99999999999999, "between 1 and 86400 seconds"),
    ("sync", "interval_seconds", 0, "between 1 and 86400 seconds"),
    ("sync", "lock_wait_seconds", 1e300, "between 0 and 3600 seconds"),
    ("sync", "max_deletes", -1, "between 0 and 1000000"),
    ("sync", "max_delete_percent", 150, "between 0 and 100"),
    ("whmcs", "timeout_seconds", 1e12, "between 0.1 and 600 seconds"),
    ("wordpress", "concurrency", 1000, "between 1 and 16"),
])
def test_a_number_out_of_its_range_is_named_with_the_range(
        tmp_path: Path, section: str, key: str, value: float, said: str) -> None:
    config = write_config(tmp_path, **{section: {key: value}})
    for command in ("run", "check-config"):
        run = syncd(tmp_path, command, config=config)
        text = plain(run)
        assert run.code == 2, text
        assert f"[{section}] {key}: must be {said}" in text, text
        assert "OverflowError" not in text


def test_not_a_number_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    write_config(tmp_path)
    config.write_text(config.read_text().replace("lock_wait_seconds = 0", "lock_wait_seconds = inf"))
    run = syncd(tmp_path, "check-config", config=config)
    assert run.code == 2 and "[sync] lock_wait_seconds" in plain(run), run


# -- items 4 and 5: the state store ----------------------------------------------------------------


def test_a_state_directory_that_does_not_exist_is_a_configuration_error_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "var" / "lib" / "synd"  # a typo
    config = write_config(tmp_path, sync={"state_url": f"sqlite:///{missing / 'state.db'}"})
    for command in ("sync", "status", "check-config", "test-connection"):
        run = syncd(tmp_path, command, config=config)
        text = plain(run)
        assert run.code == 2, (command, text)
        assert f"the directory {missing} of the state database does not exist" in text, text
        assert f"install -d -m 0700 {missing}" in text, text
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(("url", "said"), [
    ("not a url at all hunter2", "the state_url setting cannot be parsed"),
    ("mysql://syncd:hunter2@db/syncd", "names a 'mysql' database, which syncd does not support"),
    ("sqlite+foo:///x.db", "uses the driver 'foo'"),
])
def test_a_garbage_or_unsupported_state_url_is_a_configuration_error_everywhere(
        tmp_path: Path, url: str, said: str) -> None:
    config = write_config(tmp_path, sync={"state_url": url})
    for command in ("sync", "status", "check-config", "test-connection"):
        run = syncd(tmp_path, command, config=config)
        text = plain(run)
        assert run.code == 2, (command, text)
        assert "[sync] state_url: " in text and said in text, text
        assert "hunter2" not in text  # a URL may carry a password: never echoed


def test_postgresql_without_its_driver_is_a_configuration_error(tmp_path: Path) -> None:
    # Hide psycopg from the process, as on a host where syncd[postgres] was not installed.
    blocker = tmp_path / "hide"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'psycopg' or name.startswith('psycopg.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n"
    )
    config = write_config(tmp_path, sync={"state_url": "postgresql+psycopg://syncd@127.0.0.1:9/syncd"})
    pythonpath = os.pathsep.join(p for p in (str(blocker), os.environ.get("PYTHONPATH", "")) if p)
    for command in ("sync", "check-config", "test-connection"):
        run = syncd(tmp_path, command, config=config, env={"PYTHONPATH": pythonpath})
        text = plain(run)
        assert run.code == 2, (command, text)
        assert "needs the psycopg package" in text and "pip install 'syncd[postgres]'" in text, text


@pytest.mark.usefixtures("unprivileged")
def test_a_read_only_lock_file_is_a_state_store_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    lock = tmp_path / "state.db.lock"
    lock.write_text("")
    lock.chmod(0o444)
    run = syncd(tmp_path, "sync", config=config, as_unprivileged=True)
    text = plain(run)
    assert run.code == 6, text
    assert str(lock) in text, text
    check = syncd(tmp_path, "check-config", config=config, as_unprivileged=True)
    assert check.code == 2 and f"{lock} is not writable" in plain(check), check


@pytest.mark.usefixtures("unprivileged")
def test_an_unwritable_state_directory_is_found_by_check_config(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o555)
    try:
        config = write_config(tmp_path, sync={"state_url": f"sqlite:///{state / 'state.db'}"})
        check = syncd(tmp_path, "check-config", config=config, as_unprivileged=True)
        run = syncd(tmp_path, "sync", config=config, as_unprivileged=True)
    finally:
        state.chmod(0o755)
    assert check.code == 2 and f"the state directory {state} is not writable" in plain(check), check
    assert run.code == 6, plain(run)


# -- item 6: everything validated at load ---------------------------------------------------------


@pytest.mark.parametrize(("section", "key", "value"), [
    ("sync", "full_resync_cron", "61 25 * * *"),
    ("sync", "full_resync_cron", "@sometimes"),
    ("metrics", "listen", "127.0.0.1"),
    ("metrics", "listen", "localhost:99999"),
    ("metrics", "listen", "not-an-address:9464"),
])
def test_a_bad_schedule_or_metrics_address_fails_every_command(tmp_path: Path, section: str, key: str,
                                                               value: str) -> None:
    config = write_config(tmp_path, **{section: {key: value}})
    for command in ("status", "sync", "test-connection", "check-config"):
        run = syncd(tmp_path, command, config=config)
        text = plain(run)
        assert run.code == 2, (command, text)
        assert f"[{section}] {key}:" in text, text


@pytest.mark.parametrize("schedule", ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually",
                                      "@midnight", "@DAILY"])
def test_cron_aliases_and_lower_case_log_levels_are_accepted(tmp_path: Path, schedule: str) -> None:
    config = write_config(tmp_path, sync={"full_resync_cron": schedule}, log={"level": "debug"})
    run = syncd(tmp_path, "check-config", config=config)
    assert run.code == 0, plain(run)
    assert run.stdout.startswith("OK:"), run.stdout


# -- item 13: an empty secret file; explain with something that is not an email ----------------------


def test_an_empty_secret_file_is_said_to_be_empty(tmp_path: Path) -> None:
    secret = tmp_path / "whmcs_secret"
    secret.write_text("\n")
    config = write_config(tmp_path, whmcs={"secret_file": str(secret)}, drop=("whmcs.secret",))
    run = syncd(tmp_path, "check-config", config=config)
    text = plain(run)
    assert run.code == 2, text
    assert f"[whmcs] secret_file = {secret}: the file is empty" in text, text
    assert "is required" not in text, text


@pytest.mark.parametrize("argument", ["", "not an email", "jane", "@example.com"])
def test_explain_refuses_what_is_not_an_email(tmp_path: Path, argument: str) -> None:
    config = write_config(tmp_path)
    run = syncd(tmp_path, "explain", argument, config=config)
    text = plain(run)
    assert run.code == 2, text
    assert "is not an email address" in text, text


# -- item 18: check-config ---------------------------------------------------------------------------


def test_check_config_says_ok_without_calling_either_side(tmp_path: Path) -> None:
    # Both URLs point at a closed port: a command that called a side would fail.
    config = write_config(tmp_path)
    run = syncd(tmp_path, "check-config", config=config)
    assert run.code == 0, plain(run)
    assert run.stdout.startswith(f"OK: {config} is valid"), run.stdout
    assert not (tmp_path / "state.db").exists()  # and it created nothing


def test_check_config_lists_every_problem_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, sync={"interval_seconds": 0, "full_resync_cron": "61 25 * * *",
                                          "state_url": f"sqlite:///{tmp_path / 'typo' / 'state.db'}"},
                          metrics={"listen": "nowhere"}, log={"level": "loud"})
    run = syncd(tmp_path, "check-config", config=config)
    text = plain(run)
    assert run.code == 2, text
    for key in ("[sync] interval_seconds", "[sync] full_resync_cron", "[metrics] listen", "[log] level",
                "[sync] state_url: the directory"):
        assert key in text, text
    assert "whmcs-secret-e2e-cfg" not in text and "wp-pass-e2e-cfg" not in text
