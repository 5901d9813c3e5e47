"""``syncd companion wordpress --out DIR`` as a process: writes the shipped file, says how to install
it, never overwrites a different file without ``--force``, and refuses a bad ``--out`` with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from syncd import companions


def _syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=60)


def test_writes_the_file_and_says_how_to_install_it(tmp_path: Path) -> None:
    out = _syncd("companion", "wordpress", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    written = tmp_path / "syncd-companion.php"
    assert written.read_bytes() == companions.source("wordpress")
    assert written.stat().st_mode & 0o777 == 0o644  # the web server's user reads it
    assert "wp-content/plugins/" in out.stdout and "wp-content/mu-plugins/" in out.stdout
    assert "SYNCD_META_KEYS" in out.stdout
    again = _syncd("companion", "wordpress", "--out", str(tmp_path))
    assert again.returncode == 0 and "already this version's companion; nothing written" in again.stdout


def test_a_different_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    target = tmp_path / "syncd-companion.php"
    target.write_text("<?php // the admin's own edits\n", encoding="utf-8")
    refused = _syncd("companion", "wordpress", "--out", str(tmp_path))
    assert refused.returncode == 2
    assert f"{target} exists and differs" in refused.stderr and "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "<?php // the admin's own edits\n"
    forced = _syncd("companion", "wordpress", "--out", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes() == companions.source("wordpress")


def test_bad_out_and_bad_side_are_usage_errors(tmp_path: Path) -> None:
    missing = _syncd("companion", "wordpress", "--out", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    a_file = tmp_path / "f"
    a_file.write_text("x", encoding="utf-8")
    not_dir = _syncd("companion", "wordpress", "--out", str(a_file))
    assert not_dir.returncode == 2 and "Traceback" not in not_dir.stderr
    no_out = _syncd("companion", "wordpress")
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    side = _syncd("companion", "joomla", "--out", str(tmp_path))
    assert side.returncode == 2 and "Traceback" not in side.stderr


def test_an_unwritable_directory_is_said_plainly(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    (locked / "syncd-companion.php").mkdir()  # even root cannot write a file where a directory is
    out = _syncd("companion", "wordpress", "--out", str(locked))
    assert out.returncode == 2 and "is a directory" in out.stderr and "Traceback" not in out.stderr


def test_the_wordpress_companion_s_instructions_say_when_a_password_is_sent(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "only to an https:// URL or to this host's loopback" in out.stdout
    assert "[passwords] carry = true" in out.stdout
