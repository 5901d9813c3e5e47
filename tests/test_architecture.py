"""The import rules of DESIGN §4, as a test that can fail.

- The core (``syncd/sync/``, ``model.py``, ``mapping.py``, ``usernames.py``, ``fieldmap.py``) imports no IO
  library, and of syncd's own modules only the core itself, ``errors`` and ``ports``: no
  adapter, store, service, configuration or CLI module.
- Adapters import no store, engine, service, app or CLI module.
- Emulators import no adapter (they stand for the real systems the adapters talk to).
- Only adapters, emulators, the connection checks, the demo and the service import httpx.

Every import counts: at the top, inside a function, under ``if TYPE_CHECKING:``, relative or
absolute. ``test_the_rules_catch_*`` prove each rule fails on a deliberate violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "syncd"

IO_LIBRARIES = {"httpx", "sqlmodel", "sqlalchemy", "alembic", "apscheduler", "click", "loguru", "rich",
                "prometheus_client", "filelock", "socket", "subprocess", "requests", "urllib", "http",
                "sqlite3", "os", "pathlib", "io", "shutil", "threading", "asyncio", "time", "random",
                "psycopg", "orjson", "concurrent", "selectors", "ssl", "signal", "tempfile", "logging"}

#: What the core may import of syncd: itself, the exception tree and the ports (Protocols only).
CORE_MAY_IMPORT = ("syncd.sync", "syncd.model", "syncd.mapping", "syncd.usernames", "syncd.fieldmap", "syncd.errors",
                   "syncd.ports")
ADAPTERS_MAY_NOT = ("syncd.state", "syncd.sync", "syncd.service", "syncd.app", "syncd.cli", "syncd.demo")
EMULATORS_MAY_NOT = ("syncd.adapters", "syncd.state", "syncd.sync", "syncd.service", "syncd.app", "syncd.cli")
HTTPX_ALLOWED = {"adapters", "emulators", "checks", "demo.py", "service"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            # ``from syncd import app`` imports syncd.app: count each name as a submodule too.
            names.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def core_files(root: Path) -> list[Path]:
    files = [root / "model.py", root / "mapping.py", root / "usernames.py", root / "fieldmap.py",
             *(root / "sync").rglob("*.py")]
    return sorted(p for p in files if p.exists())


def violations(root: Path = ROOT) -> list[str]:
    """Every broken rule under ``root`` (a package laid out like ``syncd/``), in plain words."""
    found: list[str] = []
    for path in core_files(root):
        names = imports(path, root)
        io = sorted({n.split(".")[0] for n in names} & IO_LIBRARIES)
        if io:
            found.append(f"{path.relative_to(root.parent)}: the core imports IO libraries {io}")
        own = sorted(n for n in names if _under(n, ("syncd",)) and n != "syncd" and not _under(n, CORE_MAY_IMPORT))
        if own:
            found.append(f"{path.relative_to(root.parent)}: the core imports {own}")
    for folder, banned, what in (("adapters", ADAPTERS_MAY_NOT, "an adapter"),
                                 ("emulators", EMULATORS_MAY_NOT, "an emulator")):
        for path in sorted((root / folder).rglob("*.py")):
            bad = sorted(n for n in imports(path, root) if _under(n, banned))
            if bad:
                found.append(f"{path.relative_to(root.parent)}: {what} imports {bad}")
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] not in HTTPX_ALLOWED and any(_under(n, ("httpx",)) for n in imports(path, root)):
            found.append(f"{path.relative_to(root.parent)}: imports httpx outside the adapters")
    return found


def test_syncd_keeps_its_import_rules() -> None:
    assert violations() == [], "DESIGN §4's import rules are broken:\n" + "\n".join(violations())


def test_every_core_module_is_checked() -> None:
    names = {module_name(p, ROOT) for p in core_files(ROOT)}
    assert {"syncd.model", "syncd.mapping", "syncd.usernames", "syncd.fieldmap", "syncd.sync.plan",
            "syncd.sync.engine"} <= names


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "syncd"
    for rel, text in {"__init__.py": "", "model.py": "", "mapping.py": "", "sync/__init__.py": "",
                      "adapters/__init__.py": "", "emulators/__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("rel", "text", "expected"), [
    ("sync/plan.py", "import httpx\n", "the core imports IO libraries ['httpx']"),
    ("sync/plan.py", "def f():\n    import sqlite3\n", "the core imports IO libraries ['sqlite3']"),
    ("mapping.py", "from syncd.adapters.wordpress import x\n", "the core imports ['syncd.adapters.wordpress'"),
    ("model.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from syncd.config import Settings\n",
     "the core imports ['syncd.config'"),
    ("sync/stage.py", "from ..state import store\n", "the core imports ['syncd.state'"),
    ("sync/stage.py", "from syncd import cli\n", "the core imports ['syncd.cli']"),
    ("adapters/whmcs.py", "from syncd.state.store import SqlStateStore\n", "an adapter imports ['syncd.state"),
    ("adapters/whmcs.py", "from syncd.sync import engine\n", "an adapter imports ['syncd.sync"),
    ("emulators/wordpress.py", "from ..adapters import wordpress\n", "an emulator imports ['syncd.adapters"),
    ("app.py", "import httpx\n", "imports httpx outside the adapters"),
])
def test_the_rules_catch_a_deliberate_violation(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    found = violations(_tree(tmp_path, {rel: text}))
    assert any(expected in line for line in found), found


def test_the_rules_accept_what_is_allowed(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "sync/plan.py": "from syncd.model import Side\nfrom syncd import mapping\nfrom . import merge\n",
        "mapping.py": "from syncd.errors import InvalidRecord\nimport unicodedata\n",
        "adapters/whmcs.py": "import httpx\nfrom syncd.ports import SideAdapter\n",
        "emulators/whmcs.py": "import httpx\nfrom syncd.model import Side\n",
    })
    assert violations(root) == []
