"""``syncd companion whmcs --out DIR`` as a process: writes the shipped hook file, says where it goes
(WHMCS's includes/hooks/) and which two constants to set, never overwrites a different file without
``--force``, and refuses a bad or unwritable ``--out`` with exit 2 and a plain message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import companions


def _syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=60)


def test_writes_the_hook_file_and_says_where_it_goes_and_what_to_set(tmp_path: Path) -> None:
    out = _syncd("companion", "whmcs", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    written = tmp_path / "syncd_hooks.php"
    assert written.read_bytes() == companions.source("whmcs")
    assert written.stat().st_mode & 0o777 == 0o644  # the web server's user reads it
    assert out.stdout.startswith(f"Wrote {written}.\n")
    assert "includes/hooks/" in out.stdout and "configuration.php" in out.stdout
    assert "define('SYNCD_INTAKE_URL', " in out.stdout and "define('SYNCD_INTAKE_SECRET', " in out.stdout
    assert out.stderr == ""
    again = _syncd("companion", "whmcs", "--out", str(tmp_path))
    assert again.returncode == 0 and "already this version's companion; nothing written" in again.stdout


def test_a_different_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    target = tmp_path / "syncd_hooks.php"
    mine = "<?php define('SYNCD_INTAKE_URL', 'https://sync.example.com:8787'); // the admin's own edit\n"
    target.write_text(mine, encoding="utf-8")
    refused = _syncd("companion", "whmcs", "--out", str(tmp_path))
    assert refused.returncode == 2 and refused.stdout == ""
    assert f"{target} exists and differs" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert target.read_text(encoding="utf-8") == mine
    forced = _syncd("companion", "whmcs", "--out", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes() == companions.source("whmcs")


def test_a_missing_out_directory_is_a_usage_error(tmp_path: Path) -> None:
    missing = _syncd("companion", "whmcs", "--out", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    no_out = _syncd("companion", "whmcs")
    assert no_out.returncode == 2 and "--out" in no_out.stderr and "Traceback" not in no_out.stderr


def test_an_unwritable_directory_is_said_plainly(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o555)
    else:
        # root writes through any mode bits; sysfs refuses a new file even to root
        locked = Path("/sys/kernel")
        if not locked.is_dir():
            pytest.skip("running as root without /sys/kernel: no directory here refuses root a new file")
    out = _syncd("companion", "whmcs", "--out", str(locked))
    assert out.returncode == 2 and out.stdout == ""
    assert f"cannot write {locked / 'syncd_hooks.php'} (" in out.stderr and "choose another --out" in out.stderr
    assert "Traceback" not in out.stderr
