"""Issue 11, item 15: `syncd demo` removes its temporary directory (it holds secret files),
also on Ctrl-C and on an error; `--keep` keeps it and says where."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import demo
from tests.e2e.harness import interruptible

WAIT = 120.0


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp)}


def test_demo_removes_its_directory_when_it_ends(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "syncd", "demo"], capture_output=True, text=True,
                         timeout=WAIT, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "syncd-demo-" in out.stdout  # it said where its configuration was while it ran
    assert list(tmp_path.iterdir()) == []


def test_demo_keep_keeps_the_directory_and_says_where_after_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "demo", "--keep"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(tmp_path), preexec_fn=interruptible)
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=WAIT)
    kept = list(tmp_path.iterdir())
    assert len(kept) == 1 and (kept[0] / "whmcs_secret").exists(), (lines, rest, err)
    assert f"kept: {kept[0]}" in rest, rest
    assert "Traceback" not in err


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_demo_removes_its_directory_on_ctrl_c_and_on_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              failure: type[BaseException]) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR

    def echo(line: str) -> None:
        if line.startswith("== 2."):
            assert any(tmp_path.iterdir())  # the directory exists while the demo runs
            raise failure()

    with pytest.raises(failure):
        demo.run_demo(echo=echo)
    assert list(tmp_path.iterdir()) == []
