"""Another program holding an exclusive transaction on an SQLite file: the state database
"locked by another process" of the state and fault suites."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLD = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


class SqliteHolder:
    """A process holding ``BEGIN EXCLUSIVE`` on ``path`` from construction until ``release()``."""

    def __init__(self, path: Path) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        assert line == "held", f"the holder did not take the lock: {line!r}"

    def release(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)


@contextmanager
def exclusive_lock_in_another_process(path: Path) -> Iterator[None]:
    holder = SqliteHolder(path)
    try:
        yield
    finally:
        holder.release()
