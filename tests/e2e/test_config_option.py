"""Issue 11, item 13: ``--config`` works after the command's name too, as admins type it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.emulated import Emulated, emulated

SECRET = "config-option-secret"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(tmp_path, SECRET) as s:
        s.whmcs.add_client("jane@example.com", "Jane", "Doe")
        yield s


def _syncd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd without a syncd.toml and no $SYNCD_CONFIG: only the option can name the file
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


@pytest.mark.parametrize("args", [
    ("sync", "--dry-run", "--config", "{config}"),
    ("sync", "--config={config}", "--dry-run"),
    ("status", "--config", "{config}"),
    ("check-config", "--config", "{config}"),
    ("explain", "jane@example.com", "--config", "{config}"),
    ("test-connection", "--config", "{config}"),
])
def test_config_after_the_command(sides: Emulated, tmp_path: Path, args: tuple[str, ...]) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = _syncd(*(a.format(config=sides.config) for a in args), cwd=elsewhere)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_config_before_and_after_the_command_must_agree(sides: Emulated, tmp_path: Path) -> None:
    same = _syncd("--config", str(sides.config), "status", "--config", str(sides.config), cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    other = _syncd("--config", str(sides.config), "status", "--config", str(tmp_path / "other.toml"), cwd=tmp_path)
    assert other.returncode == 2
    assert "--config is given twice" in other.stderr
    assert "Traceback" not in other.stderr


def test_a_missing_file_after_the_command_is_named(tmp_path: Path) -> None:
    out = _syncd("check-config", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert out.returncode == 2
    assert "nope.toml" in out.stderr and "--config" in out.stderr
    assert "Traceback" not in out.stderr


def test_commands_without_a_configuration_take_no_config_option() -> None:
    out = subprocess.run([sys.executable, "-m", "syncd", "demo", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    assert "--config" not in out.stdout
