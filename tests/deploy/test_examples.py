"""Item 10: the example configuration and the unit ship in the package, and ``syncd example``
writes them; no message points at a repository path a wheel does not have."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.proc import ROOT
from tests.e2e.emulated import emulated

PACKAGED = {"config": ("conf/syncd.example.toml", "syncd/share/syncd.example.toml"),
            "unit": ("systemd/syncd.service", "syncd/share/syncd.service")}


def _syncd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


@pytest.mark.parametrize("what", sorted(PACKAGED))
def test_the_packaged_files_are_the_repositorys(what: str) -> None:
    repo, packaged = PACKAGED[what]
    assert (ROOT / packaged).read_text() == (ROOT / repo).read_text(), (
        f"{packaged} differs from {repo}: edit {repo}, then `cp {repo} {packaged}`")


@pytest.mark.parametrize("what", sorted(PACKAGED))
def test_example_prints_the_packaged_file(what: str) -> None:
    done = _syncd("example", what)
    assert done.returncode == 0 and done.stdout == (ROOT / PACKAGED[what][0]).read_text(), done.stderr


def test_example_out_writes_and_never_overwrites_without_force(tmp_path: Path) -> None:
    done = _syncd("example", "config", "--out", str(tmp_path))
    target = tmp_path / "syncd.toml"
    assert done.returncode == 0 and done.stdout.strip() == f"wrote {target}", done.stderr
    assert target.read_text() == (ROOT / "conf/syncd.example.toml").read_text()
    assert target.stat().st_mode & 0o777 == 0o644
    target.write_text("# mine\n")
    again = _syncd("example", "config", "--out", str(tmp_path))
    assert again.returncode == 2 and target.read_text() == "# mine\n"
    assert again.stderr.strip() == (f"syncd: {target} exists already and was left as it is: compare it with "
                                    "`syncd example config`, or give --force to replace it")
    forced = _syncd("example", "config", "--out", str(tmp_path), "--force")
    assert forced.returncode == 0 and target.read_text() == (ROOT / "conf/syncd.example.toml").read_text()
    unit = _syncd("example", "unit", "--out", str(tmp_path))
    assert unit.returncode == 0 and (tmp_path / "syncd.service").read_text() == (ROOT / PACKAGED["unit"][0]).read_text()
    missing = _syncd("example", "unit", "--out", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a directory: create it first" in missing.stderr
    assert "Traceback" not in missing.stderr + again.stderr
    bad = _syncd("example", "passwords")
    assert bad.returncode == 2 and "'passwords' is not one of 'config', 'unit'" in bad.stderr


def test_the_printed_example_passes_check_config_once_filled_in(tmp_path: Path) -> None:
    secret = "a-real-looking-whmcs-secret"
    with emulated(tmp_path, secret) as world:
        text = _syncd("example", "config").stdout
        assert "\nsecret =" not in text and "\napplication_password =" not in text  # only commented out
        (tmp_path / "state").mkdir()
        text = (text.replace('url = "https://billing.example.com/"', f'url = "{world.whmcs_url}"')
                .replace('identifier = "your-api-identifier"', 'identifier = "syncd"')
                .replace('url = "https://www.example.com/"', f'url = "{world.wp_url}"')
                .replace('username = "syncd"', 'username = "admin"')
                .replace("sqlite:////var/lib/syncd/state.db", f"sqlite:///{tmp_path / 'state' / 'state.db'}"))
        world.config.write_text(text)
        (tmp_path / "whmcs_secret").write_text(secret + "\n")
        (tmp_path / "wordpress_app_password").write_text(world.wp_password + "\n")
        checked = world.syncd("check-config")
        assert checked.returncode == 0 and checked.stdout.startswith("OK:"), checked.stdout + checked.stderr
        connected = world.syncd("test-connection")
        assert connected.returncode == 0, connected.stdout + connected.stderr


def test_no_message_points_at_a_repository_path() -> None:
    for path in (ROOT / "syncd").rglob("*.py"):
        if path.name == "examples.py":  # its docstring says which repository files it mirrors
            continue
        text = path.read_text()
        for repo_path in ("conf/syncd.example.toml", "systemd/syncd.service"):
            assert repo_path not in text, f"{path} points at {repo_path}: point at `syncd example` instead"


@pytest.mark.slow
def test_the_wheel_carries_both_files(tmp_path: Path) -> None:
    # Built from a copy: pip builds in the source tree and would leave build/ and *.egg-info there.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(".git", ".wp", ".venv", ".hypothesis", "build", "*.egg-info", "__pycache__",
                                  ".mypy_cache", ".ruff_cache", ".pytest_cache")
    shutil.copytree(ROOT, source, ignore=skip)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp_path)],
                           capture_output=True, text=True, timeout=600, cwd=source)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("syncd-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for repo, packaged in PACKAGED.values():
            assert archive.read(packaged).decode() == (ROOT / repo).read_text()
        # the companions `syncd companion wordpress|whmcs` writes out, and the migrations
        for side, name in (("wordpress", "syncd-companion.php"), ("whmcs", "syncd_hooks.php")):
            companion = f"syncd/companions/{side}/{name}"
            assert archive.read(companion) == (ROOT / "companions" / side / name).read_bytes()
        names = set(archive.namelist())
        assert {"syncd/state/migrations/versions/0001_initial_schema.py", "syncd/state/alembic.ini"} <= names
