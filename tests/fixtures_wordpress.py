"""pytest plugin: a real WordPress on loopback, brought up by ``scripts/wp-site`` (issue 3).

Fixtures:

- ``wordpress_site`` (session): one site per test run (per xdist worker), torn down at the end.
  Tests share it; call ``site.reset()`` to start from "only the admin exists".
- ``fresh_wordpress_site`` (function): a factory, ``fresh_wordpress_site(**knobs) -> WordPressSite``,
  for a clean or differently configured site (REST API blocked, production environment, plain
  permalinks, no registered user meta); every site it made is torn down after the test.

Tests that use either fixture get ``@pytest.mark.wordpress`` automatically. When WordPress cannot
be provided here (not Debian, not root while the packages are missing, apt-get failing), such
tests are skipped with the reason, and a banner repeats it at the end of the run; with
``CI=true`` they fail instead, so a CI machine can never go green without WordPress.

``start_wordpress`` / ``stop_wordpress`` are the same machinery without pytest, for scripts such as
``benchmarks/wordpress.py``. Secrets (the admin's passwords, application passwords) are never part
of a repr or an error message.

Environment: ``CI`` (true: fail instead of skip); ``WP_SITE_TMPDIR`` (where site directories go;
default /dev/shm when it has 1 GiB free, else the temp dir); ``WP_SITE_NO_INSTALL=1`` (never run
apt-get); ``WP_SITE_WORDPRESS_DIR`` and ``WP_SITE_CACHE_DIR`` (see scripts/wp-site). Other ``WP_*``
variables of the caller's shell are not passed to the script.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol
from urllib.parse import urlencode

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "wp-site"
WORDPRESS_FIXTURES = frozenset({"wordpress_site", "fresh_wordpress_site"})
EXIT_UNAVAILABLE = 3  # scripts/wp-site: "WordPress cannot be provided on this machine"
_SCRIPT_TIMEOUT = 600.0  # `deps` may download and install ~50 packages on a fresh machine

EnvironmentType = Literal["local", "production", "staging", "development"]
Permalinks = Literal["pretty", "plain"]
RestDisabled = Literal[False, True, "all", "anonymous"]


class WordPressUnavailable(Exception):
    """WordPress cannot be provided on this machine (the reason is in the message)."""


class WordPressSiteError(Exception):
    """scripts/wp-site failed although the packages are there: a real error, never a skip."""


@dataclass(frozen=True)
class WordPressSite:
    """A running WordPress on 127.0.0.1, as ``scripts/wp-site up`` described it in ``dir/env``.

    ``api`` is the REST base that works on this site: ``{url}/wp-json/wp/v2``, or
    ``{url}/?rest_route=/wp/v2`` with plain permalinks. Mind that httpx's ``params=`` *replaces*
    a URL's query string (so it would drop ``rest_route``): ``rest_url(route, params)`` builds a
    URL that is right for both forms.
    """

    url: str
    api: str
    admin_user: str
    admin_password: str = field(repr=False)  # the login password: REST Basic auth refuses it
    app_password: str = field(repr=False)  # the admin's Application Password (24 chars, no spaces)
    dir: Path
    port: int
    environment_type: str  # local | production | staging | development
    permalinks: str  # pretty | plain
    rest_disabled: str  # "0" | "all" | "anonymous"
    user_meta: bool  # whmcs_client_id and billing_company registered for REST
    db_socket: Path
    php_pid: int
    mariadb_pid: int
    watchdog_pid: int | None

    @property
    def auth(self) -> tuple[str, str]:
        """(user, application password) for Basic auth, e.g. ``httpx.Client(auth=site.auth)``."""
        return (self.admin_user, self.app_password)

    def rest_url(self, route: str, params: Mapping[str, str | int] | None = None) -> str:
        """The full URL of a ``wp/v2`` route (``"/users/me"``) with its query, for either permalink form."""
        query = urlencode(dict(params or {}))
        if self.permalinks == "plain":
            return f"{self.api}{route}" + (f"&{query}" if query else "")
        return f"{self.api}{route}" + (f"?{query}" if query else "")

    @property
    def mail_log_path(self) -> Path:
        """Where the mail-sink mu-plugin appends one JSON line per email WordPress would send."""
        return self.dir / "wp" / "wp-content" / "mail.log"

    def add_user(self, login: str, role: str = "subscriber", email: str | None = None) -> str:
        """Create a user with ``role`` (through PHP) and return a new Application Password for it."""
        args = ["add-user", str(self.dir), login, role] + ([email] if email else [])
        out = _run_checked(args, what=f"add-user {login}")
        parts = out.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise WordPressSiteError(f"add-user {login}: unexpected output from scripts/wp-site")
        return parts[1]

    def reset(self) -> int:
        """Delete every user except this site's admin, in one PHP process; empty the mail log.

        Other administrators go too. Their posts are reassigned to the admin. Returns how many
        users were deleted.
        """
        return int(_run_checked(["reset", str(self.dir)], what="reset").strip())

    def seed(self, count: int, prefix: str = "seed", method: Literal["sql", "api"] = "sql") -> None:
        """Add ``count`` subscribers ``{prefix}-00001``... with first/last names, in one PHP process.

        ``sql`` (default) writes the rows ``wp_insert_user`` would write with batched INSERTs
        (10,000 users in about 2 s); ``api`` calls ``wp_insert_user`` in a loop (about 35 users/s).
        """
        _run_checked(["seed", str(self.dir), str(count), prefix, method], what=f"seed {count}")

    def php(self, code: str) -> str:
        """Run PHP code (no ``<?php`` needed) inside this WordPress, in a CLI process; return stdout."""
        return _run_checked(["eval", str(self.dir)], what="eval", stdin=code)

    def mail_log(self) -> list[dict[str, Any]]:
        """The emails WordPress tried to send since the start (or the last reset)."""
        try:
            lines = self.mail_log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


class WordPressSiteFactory(Protocol):
    """The callable that ``fresh_wordpress_site`` yields."""

    def __call__(
        self,
        *,
        environment_type: EnvironmentType = "local",
        permalinks: Permalinks = "pretty",
        rest_disabled: RestDisabled = False,
        user_meta: bool = True,
        workers: int = 4,
        debug: bool = False,
        defines: Mapping[str, str | int | bool] | None = None,
    ) -> WordPressSite: ...


# ---------------------------------------------------------------------------------------------
# Running scripts/wp-site


def _script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # A developer's shell may export WP_PORT & co. for a site of their own: the fixture's sites
    # must not inherit them. WP_SITE_* (install policy, paths) is passed through on purpose.
    env = {k: v for k, v in os.environ.items() if not (k.startswith("WP_") and not k.startswith("WP_SITE_"))}
    env.update(extra or {})
    return env


def _run(
    args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env if env is not None else _script_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=_SCRIPT_TIMEOUT,
        check=False,
    )


def _run_checked(args: list[str], *, what: str, stdin: str | None = None) -> str:
    proc = _run(args, stdin=stdin)
    if proc.returncode != 0:
        raise WordPressSiteError(f"scripts/wp-site {what} failed (exit {proc.returncode}): {_tail(proc.stderr)}")
    return proc.stdout


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


_deps_lock = threading.Lock()
_deps_checked = False
_unavailable_reason: str | None = None


def wordpress_unavailable_reason() -> str | None:
    """None when WordPress can run here (installing the packages first if needed), else why not.

    Runs ``scripts/wp-site deps`` once per process: a quick no-op when the packages are present.
    """
    global _deps_checked, _unavailable_reason
    with _deps_lock:
        if not _deps_checked:
            if not SCRIPT.is_file():
                _unavailable_reason = f"{SCRIPT} is missing"
            else:
                proc = _run(["deps"])
                if proc.returncode != 0:
                    _unavailable_reason = f"`scripts/wp-site deps` exited {proc.returncode}:\n{_tail(proc.stderr)}"
            _deps_checked = True
        return _unavailable_reason


def _base_dir() -> Path:
    # tmpfs when there is one: copying WordPress (2,800 files) to ext4 costs 1-3 s here, to tmpfs
    # 0.2 s. The path must stay short: the MariaDB socket path is limited to 108 bytes.
    chosen = os.environ.get("WP_SITE_TMPDIR")
    if chosen:
        return Path(chosen)
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize > 1 << 30:
            return shm
    except OSError:
        pass
    tmp = Path(tempfile.gettempdir())
    return tmp if len(str(tmp)) <= 40 else Path("/tmp")


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, raw = line.partition("=")
        if sep:
            values[key] = "".join(shlex.split(raw)) if raw else ""
    return values


_running: dict[Path, WordPressSite] = {}
_running_lock = threading.Lock()


def start_wordpress(
    base_dir: Path | None = None,
    *,
    environment_type: EnvironmentType = "local",
    permalinks: Permalinks = "pretty",
    rest_disabled: RestDisabled = False,
    user_meta: bool = True,
    workers: int = 4,
    owner_pid: int | None = None,
    debug: bool = False,
    defines: Mapping[str, str | int | bool] | None = None,
) -> WordPressSite:
    """Bring up a site in a new directory under ``base_dir`` (default: /dev/shm or the temp dir).

    ``defines``: more constants for wp-config.php (e.g. the companion's SYNCD_INTAKE_URL), set before
    the server starts, as an admin would set them.

    ``owner_pid`` (default: this process) gets a watchdog that tears the site down if that process
    dies without doing it (kill -9, a crashed worker). Raises ``WordPressUnavailable`` when
    WordPress cannot run here, ``WordPressSiteError`` when bringing it up failed.
    """
    reason = wordpress_unavailable_reason()
    if reason is not None:
        raise WordPressUnavailable(reason)
    disabled = {False: "0", True: "all", "all": "all", "anonymous": "anonymous"}[rest_disabled]
    knobs = {
        "WP_ENVIRONMENT_TYPE": environment_type,
        "WP_PERMALINKS": permalinks,
        "WP_REST_DISABLED": disabled,
        "WP_USER_META": "1" if user_meta else "0",
        "WP_WORKERS": str(workers),
        "WP_DEBUG": "1" if debug else "0",  # on: WP_DEBUG, notices logged to DIR/logs/debug.log
        "WP_OWNER_PID": str(owner_pid if owner_pid is not None else os.getpid()),
    }
    if defines:
        knobs["WP_DEFINES"] = json.dumps(dict(defines))
    site_dir = Path(tempfile.mkdtemp(prefix="wps-", dir=base_dir or _base_dir()))
    proc = _run(["up", str(site_dir)], env=_script_env(knobs))
    if proc.returncode != 0:
        logs = _failure_logs(site_dir)
        if proc.returncode == EXIT_UNAVAILABLE:
            shutil.rmtree(site_dir, ignore_errors=True)
            raise WordPressUnavailable(_tail(proc.stderr))
        shutil.rmtree(site_dir, ignore_errors=True)
        raise WordPressSiteError(f"scripts/wp-site up failed (exit {proc.returncode}):\n{_tail(proc.stderr)}{logs}")
    env = _read_env(site_dir / "env")
    site = WordPressSite(
        url=env["WP_URL"],
        api=env["WP_API"],
        admin_user=env["WP_ADMIN_USER"],
        admin_password=env["WP_ADMIN_PASS"],
        app_password=env["WP_APP_PASSWORD"],
        dir=Path(env["WP_DIR"]),
        port=int(env["WP_PORT"]),
        environment_type=env["WP_ENVIRONMENT_TYPE"],
        permalinks=env["WP_PERMALINKS"],
        rest_disabled=env["WP_REST_DISABLED"],
        user_meta=env["WP_USER_META"] == "1",
        db_socket=Path(env["WP_DB_SOCKET"]),
        php_pid=int(env["WP_PHP_PID"]),
        mariadb_pid=int(env["WP_MARIADB_PID"]),
        watchdog_pid=int(env["WP_WATCHDOG_PID"]) if env.get("WP_WATCHDOG_PID") else None,
    )
    with _running_lock:
        _running[site.dir] = site
    return site


def _failure_logs(site_dir: Path) -> str:
    # The script keeps DIR/logs when `up` fails; none of these files holds a secret.
    parts = []
    for name in ("setup.log", "php-server.log", "mysqld.err", "mariadb-install-db.log"):
        path = site_dir / "logs" / name
        if path.is_file() and path.stat().st_size:
            parts.append(f"\n--- {name} (last lines)\n{_tail(path.read_text(encoding='utf-8', errors='replace'))}")
    return "".join(parts)


def stop_wordpress(site: WordPressSite) -> None:
    """Stop the site's processes (by their recorded PIDs and process groups) and delete its directory."""
    with _running_lock:
        _running.pop(site.dir, None)
    proc = _run(["down", str(site.dir)])
    if proc.returncode != 0:
        raise WordPressSiteError(f"scripts/wp-site down failed (exit {proc.returncode}): {_tail(proc.stderr)}")


@atexit.register
def _stop_leftovers() -> None:
    # Normally the fixtures' teardown has run; this covers a second Ctrl-C during teardown and
    # scripts that forgot stop_wordpress(). A kill -9 is covered by the script's watchdog.
    with _running_lock:
        sites = list(_running.values())
    for site in sites:
        with contextlib.suppress(WordPressSiteError, OSError, subprocess.SubprocessError):
            stop_wordpress(site)


# ---------------------------------------------------------------------------------------------
# pytest glue


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def give_up(reason: str) -> NoReturn:
    """Skip the current test because WordPress cannot be provided, or fail it under CI=true."""
    message = f"A real WordPress cannot be provided on this machine: {reason}"
    if _ci():
        pytest.fail(f"{message}\n(CI=true: the WordPress tests must run in CI, so this is a failure, not a skip)",
                    pytrace=False)
    pytest.skip(message)


def _start_for_test(**knobs: Any) -> WordPressSite:
    try:
        return start_wordpress(**knobs)
    except WordPressUnavailable as exc:
        reason = str(exc)
    give_up(reason)  # outside the except block: the report shows the reason, not a chained traceback


@pytest.fixture(scope="session")
def wordpress_site() -> Iterator[WordPressSite]:
    """One real WordPress for the whole run; tests share it (use ``reset()`` to start clean)."""
    site = _start_for_test()
    try:
        yield site
    finally:
        stop_wordpress(site)


@pytest.fixture
def fresh_wordpress_site() -> Iterator[WordPressSiteFactory]:
    """A factory of new sites with the given knobs; each is torn down after the test."""
    started: list[WordPressSite] = []

    def factory(
        *,
        environment_type: EnvironmentType = "local",
        permalinks: Permalinks = "pretty",
        rest_disabled: RestDisabled = False,
        user_meta: bool = True,
        workers: int = 4,
        debug: bool = False,
        defines: Mapping[str, str | int | bool] | None = None,
    ) -> WordPressSite:
        site = _start_for_test(environment_type=environment_type, permalinks=permalinks,
                               rest_disabled=rest_disabled, user_meta=user_meta, workers=workers, debug=debug,
                               defines=defines)
        started.append(site)
        return site

    try:
        yield factory
    finally:
        errors = []
        for site in reversed(started):
            try:
                stop_wordpress(site)
            except WordPressSiteError as exc:
                errors.append(str(exc))
        if errors:
            raise WordPressSiteError("; ".join(errors))


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker here too, so the plugin works in a project that does not declare it."""
    config.addinivalue_line("markers", "wordpress: needs a real WordPress on loopback (started by the suite itself)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a real WordPress, directly or through another fixture."""
    for item in items:
        if WORDPRESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.wordpress)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat, where nobody can miss it, that the WordPress tests did not run and why."""
    if _deps_checked and _unavailable_reason is not None:
        terminalreporter.write_sep("!", "REAL WORDPRESS UNAVAILABLE: the WordPress tests did not run", red=True)
        terminalreporter.write_line(_unavailable_reason)
        if not _ci():
            terminalreporter.write_line("(skipped; with CI=true they fail instead)")
