"""Running ``python -m syncd`` as a process the way a deployed host would: as root, or as another
uid (the service's), with this interpreter reachable by that uid.

This machine's Python lives under /root (mode 0700), which no other uid may cross; an installed
syncd lives in /opt/syncd/venv, readable by all. ``command`` makes the interpreter reachable the
same way, for the child process only: a private mount namespace (``unshare -m``) with a tmpfs
over the closed directory and the interpreter's prefix bound back in it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

NOBODY = 65534
ROOT = Path(__file__).resolve().parents[2]


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("SKIPPED: needs root (switching uids, chown, mount namespaces); the project's machines are root")
    if not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("SKIPPED: needs util-linux's unshare and setpriv")


def _closed_above(path: Path, uid: int) -> Path | None:
    for parent in reversed([path, *path.parents]):
        mode = parent.stat().st_mode
        if parent.stat().st_uid != uid and not mode & stat.S_IXOTH:
            return parent
    return None


def command(*args: str, uid: int | None = None) -> list[str]:
    """``python -m syncd ARGS`` as root (``uid`` None) or as ``uid``, the interpreter reachable."""
    python = [sys.executable, "-m", "syncd", *args]
    prefix = Path(sys.base_prefix).resolve()
    closed = _closed_above(prefix, NOBODY)
    steps = []
    if closed is not None:
        stash = Path("/mnt/stash")  # on a tmpfs of the namespace: nothing is left on the host
        steps = ["mount -t tmpfs tmpfs /mnt", f"mkdir {stash}", f"mount --bind {closed} {stash}",
                 f"mount -t tmpfs -o mode=0755 tmpfs {closed}", f"mkdir -p {prefix}",
                 f"mount --bind {stash / prefix.relative_to(closed)} {prefix}"]
    run_as = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    if not steps:
        return [*run_as, *python]
    script = " && ".join([*steps, 'exec "$@"'])
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *run_as, *python]


def syncd(*args: str, uid: int | None = None, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_") and k != "CREDENTIALS_DIRECTORY"}
    environ["PYTHONPATH"] = str(ROOT)
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(command(*args, uid=uid), capture_output=True, text=True, timeout=120,
                          env={**environ, **(env or {})}, cwd=cwd or "/")
