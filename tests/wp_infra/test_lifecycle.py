"""scripts/wp-site's life cycle: `down` leaves no process behind, the watchdog cleans up after an
owner that died, foreign directories are never deleted, `deps` is a no-op when everything is
installed and says loudly why it cannot help otherwise, and the fixtures skip (or, under CI=true,
fail) when WordPress cannot be provided."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.fixtures_wordpress import (
    SCRIPT,
    WordPressSite,
    give_up,
    start_wordpress,
    stop_wordpress,
    wordpress_unavailable_reason,
)

REPO = SCRIPT.parent.parent


@pytest.fixture
def needs_wordpress() -> None:
    reason = wordpress_unavailable_reason()
    if reason is not None:
        give_up(reason)


def _site_processes(site: WordPressSite) -> list[psutil.Process]:
    """Every live process the site started: the php -S group, mariadbd and the watchdog group."""
    groups = {site.php_pid} | ({site.watchdog_pid} if site.watchdog_pid else set())
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if proc.pid == site.mariadb_pid or os.getpgid(proc.pid) in groups:
                found.append(proc)
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return found


def _alive(proc: psutil.Process) -> bool:
    # A killed process may stay a zombie until PID 1 reaps it: that is dead for our purpose.
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.wordpress
def test_down_leaves_no_process_behind(needs_wordpress: None) -> None:
    site = start_wordpress()
    procs = _site_processes(site)
    names = sorted(p.name() for p in procs)
    # php -S leader + 4 workers, mariadbd, the watchdog shell and its tail.
    assert names.count("php") == 5 and "mariadbd" in names and "tail" in names, names
    assert _port_open(site.port)
    stop_wordpress(site)
    assert [p for p in procs if _alive(p)] == []
    assert not site.dir.exists()
    assert not _port_open(site.port)


@pytest.mark.wordpress
def test_watchdog_tears_the_site_down_when_its_owner_dies(needs_wordpress: None) -> None:
    owner = subprocess.Popen(["sleep", "600"])
    site = start_wordpress(owner_pid=owner.pid)
    procs = _site_processes(site)
    assert any(p.pid == site.watchdog_pid for p in procs)
    owner.kill()
    owner.wait()
    # tail --pid notices within about a second; allow a generous margin on a loaded machine.
    deadline = time.monotonic() + 60
    while site.dir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not site.dir.exists(), "the watchdog did not run `down`"
    while any(_alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in procs if _alive(p)] == []


def test_down_refuses_a_directory_without_the_marker(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    proc = subprocess.run([str(SCRIPT), "down", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "not a wp-site directory" in proc.stderr
    assert precious.read_text() == "keep me"


@pytest.mark.wordpress
def test_up_refuses_a_foreign_non_empty_directory(tmp_path: Path, needs_wordpress: None) -> None:
    (tmp_path / "other.txt").write_text("not ours")
    proc = subprocess.run([str(SCRIPT), "up", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "is not a wp-site directory" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]


def test_down_of_a_missing_directory_is_a_no_op(tmp_path: Path) -> None:
    proc = subprocess.run([str(SCRIPT), "down", str(tmp_path / "gone")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0


@pytest.mark.wordpress
def test_status_reports_a_running_site(wordpress_site: WordPressSite) -> None:
    proc = subprocess.run([str(SCRIPT), "status", str(wordpress_site.dir)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "php -S: running" in proc.stdout and "mariadbd: running" in proc.stdout
    assert "HTTP 200" in proc.stdout


def test_usage_errors_exit_2() -> None:
    for args in ([], ["bogus"], ["up"], ["seed", "/tmp/x", "many"]):
        proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 2, args


def _deps(env: dict[str, str], as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT), "deps"]
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False)


@pytest.mark.wordpress
def test_deps_is_a_no_op_when_everything_is_installed(needs_wordpress: None) -> None:
    first, second = _deps({}), _deps({})
    assert first.returncode == second.returncode == 0
    assert "nothing to do" in second.stderr


def test_deps_refuses_to_install_when_told_not_to() -> None:
    proc = _deps({"WP_SITE_WORDPRESS_DIR": "/nonexistent", "WP_SITE_NO_INSTALL": "1"})
    assert proc.returncode == 3
    assert "CANNOT be provided" in proc.stderr
    assert "WordPress in /nonexistent" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_deps_without_root_says_so_loudly() -> None:
    # Packages "missing" (WordPress looked for elsewhere) and not root: it must not try apt-get.
    proc = _deps({"WP_SITE_WORDPRESS_DIR": "/nonexistent"}, as_nobody=True)
    assert proc.returncode == 3, proc.stderr
    assert "needs root" in proc.stderr
    assert proc.stderr.count("#####") >= 2


def test_give_up_skips_normally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="cannot be provided"):
        give_up("no Debian here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        give_up("no Debian here")


def _run_inner_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """A separate pytest run whose WordPress cannot be provided (and may not be installed)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    wordpress: real WordPress\n")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        def test_uses_the_site(wordpress_site):
            raise AssertionError("must not run without WordPress")
    """))
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"}}
    env.update({"WP_SITE_WORDPRESS_DIR": "/nonexistent", "WP_SITE_NO_INSTALL": "1"})
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.fixtures_wordpress", "-c", str(tmp_path / "pytest.ini"),
         "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-rs", str(tmp_path / "test_inner.py")],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120,
    )


def test_fixture_skips_loudly_when_wordpress_cannot_be_provided(tmp_path: Path) -> None:
    proc = _run_inner_pytest(tmp_path, ci=None)
    assert proc.returncode == 0, proc.stdout
    assert "1 skipped" in proc.stdout
    assert "REAL WORDPRESS UNAVAILABLE" in proc.stdout
    assert "WP_SITE_NO_INSTALL=1" in proc.stdout


def test_fixture_fails_under_ci_when_wordpress_cannot_be_provided(tmp_path: Path) -> None:
    proc = _run_inner_pytest(tmp_path, ci="true")
    assert proc.returncode == 1, proc.stdout
    assert "skipped" not in proc.stdout
    assert "1 error" in proc.stdout
    assert "CI=true" in proc.stdout
