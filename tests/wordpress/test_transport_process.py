"""A WordPress that cannot be reached, through ``python -m syncd`` as a process (issue 11, item 12):
its transport failures are retried under ``[wordpress] retries`` as WHMCS's are (one warning per
retry, saying why and when), then reported in plain words with what to do, exit 3."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.emulated import emulated

SECRET = "transport-test-whmcs-secret-012345"


def test_a_refused_wordpress_is_retried_then_reported_in_plain_words(tmp_path: Path) -> None:
    with emulated(tmp_path, SECRET) as world:
        world.wp.stop()  # nothing listens on its port any more
        text = world.config.read_text(encoding="utf-8")
        world.config.write_text(text.replace("[wordpress]\n", "[wordpress]\nretries = 2\n", 1), encoding="utf-8")
        run = world.syncd("sync")
    out = run.stdout + run.stderr
    assert run.returncode == 3, out
    retries = [line for line in out.splitlines() if "trying again in" in line]
    assert len(retries) == 2, out
    assert all("the connection was refused" in line for line in retries)
    assert re.search(r"\(2 of 2\)", retries[-1])
    assert "check the host and port in [wordpress] url" in out
    for raw in ("ConnectError", "Errno", "Traceback", "httpx", "httpcore"):
        assert raw not in out, raw


def test_test_connection_retries_once_and_says_what_to_do(tmp_path: Path) -> None:
    with emulated(tmp_path, SECRET) as world:
        world.wp.stop()
        run = world.syncd("test-connection")
    assert run.returncode == 3, run.stdout + run.stderr
    failed = [line for line in run.stdout.splitlines() if "[wordpress] FAIL" in line]
    assert failed and "the connection was refused" in failed[0]
    assert "fix: check the host and port in [wordpress] url" in run.stdout
    assert "ConnectError" not in run.stdout + run.stderr and "Traceback" not in run.stderr
    # test-connection fails fast: one retry at most, whatever [wordpress] retries says (4 here).
    retries = [line for line in run.stderr.splitlines() if "trying again in" in line]
    assert len(retries) == 1 and retries[0].endswith("(1 of 1)"), run.stderr
