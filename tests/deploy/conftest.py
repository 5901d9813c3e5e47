"""The deployment tests' shared fixture."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.proc import needs_root


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory any uid may cross (pytest's own is root's, mode 0700), removed afterwards."""
    needs_root()
    path = Path(tempfile.mkdtemp(prefix="syncd-deploy-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
