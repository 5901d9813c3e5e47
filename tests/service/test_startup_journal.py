"""Issue 11, item 14: `syncd run` refusing a configuration at start, under journald — every
line carries its syslog priority prefix (so `journalctl -p err` shows it whole) and names the file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.service.helpers import WAIT, config_text


def _run_under_journal(tmp_path: Path, config: Path) -> tuple[int, str]:
    stderr_path = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    with stderr_path.open("wb") as stderr:
        st = os.fstat(stderr.fileno())
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        command = [sys.executable, "-m", "syncd", "--config", str(config), "run"]
        code = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env, timeout=WAIT).returncode
    return code, stderr_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda text: text.replace('identifier = "syncd-test"\n', ""), id="missing-setting"),
        pytest.param(lambda text: text.replace("[sync]\n", "[sync]\nmystery = 1\n"), id="unknown-setting"),
        pytest.param(lambda text: text + "\nthis is not toml [\n", id="not-toml"),
        pytest.param(lambda text: text.replace('full_resync_cron = "0 3 * * *"', 'full_resync_cron = "61 25 * * *"'),
                     id="bad-cron"),
    ],
)
def test_a_configuration_refused_at_start_is_said_at_priority_err_with_the_file(
    tmp_path: Path, broken: Callable[[str], str]
) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(broken(config_text(state_url=f"sqlite:///{tmp_path / 'state.db'}")), encoding="utf-8")
    code, text = _run_under_journal(tmp_path, config)
    assert code == 2, text
    lines = [line for line in text.splitlines() if line]
    assert lines, "nothing was said"
    assert all(line[:3] in ("<3>", "<4>") for line in lines), text  # no line at journald's default priority
    errors = [line for line in lines if line.startswith("<3>")]
    assert errors and str(config) in errors[0], text
    assert "Traceback" not in text
