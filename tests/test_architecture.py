"""The import rule of DESIGN §4: the core (syncd/sync/, syncd/model.py) imports no IO library,
and only adapters import httpx."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "syncd"
IO_LIBRARIES = {"httpx", "sqlmodel", "sqlalchemy", "alembic", "apscheduler", "click", "loguru", "rich",
                "prometheus_client", "filelock", "socket", "subprocess", "requests", "urllib", "http",
                "sqlite3", "os", "pathlib", "io", "shutil", "threading", "asyncio", "time", "random"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


CORE = sorted([ROOT / "model.py", *(ROOT / "sync").rglob("*.py")])


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_core_imports_no_io_library(path: Path) -> None:
    bad = _imports(path) & IO_LIBRARIES
    assert not bad, f"{path} imports {sorted(bad)}: the core must stay pure (DESIGN §4)"


def test_only_adapters_checks_emulators_and_tools_import_httpx() -> None:
    allowed = {"adapters", "emulators", "checks", "demo.py", "service"}
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if "httpx" in _imports(p) and p.relative_to(ROOT).parts[0] not in allowed
    ]
    assert not offenders, f"httpx imported outside the adapters: {offenders}"


def test_the_rule_itself_catches_an_io_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom sqlmodel import Session\n")
    assert _imports(bad) & IO_LIBRARIES == {"httpx", "sqlmodel"}
