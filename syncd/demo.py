"""``syncd demo``: both emulators on loopback, sample users, a dry run, a real run, a second run.

It needs no configuration: it writes its own into a fresh directory, which also holds the
state store, and prints both so the operator can go on with ``syncd --config … status``.
The sample users show the rules that matter: an administrator is never touched, a first
contact with differing names is settled by priority, a WordPress user without names gets
WHMCS's dummy fields, and a duplicate email is reported and left alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from syncd import app, exits, render
from syncd.config import load
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator

Echo = Callable[[str], None]

WHMCS_SECRET = "demo-whmcs-secret"


def seed(whmcs: WhmcsEmulator, wp: WordPressEmulator) -> None:
    """The sample users; each line says what the demo shows with it."""
    # Only in WHMCS, Active: created in WordPress with a username from the email.
    whmcs.add_client("alice@example.com", "Alice", "Archer", company="Archer Hosting Ltd")
    # On both sides, names differ: first contact links them, priority (whmcs) settles the names.
    whmcs.add_client("bob@example.com", "Robert", "Baker")
    wp.add_user("bob", "Bob@Example.com", "Bob", "Baker")
    # Only in WordPress, with no names: created in WHMCS with the configured dummy values.
    wp.add_user("carol", "carol@example.com")
    # The same email twice in WHMCS: reported as a conflict, left alone.
    whmcs.add_client("dave@example.com", "Dave", "Duplicate")
    whmcs.add_client("DAVE@example.com", "David", "Duplicate")
    # A WordPress administrator who is also a WHMCS client: never created, linked or written.
    wp.add_user("erin", "erin@example.com", "Erin", "Admin", roles=("administrator",))
    whmcs.add_client("erin@example.com", "Erin", "Client")
    # A WHMCS admin's email on a WordPress subscriber: never synchronised either.
    whmcs.add_admin("frank@example.com", "Frank", "Staff")
    wp.add_user("frank", "frank@example.com", "Frank", "Staff")
    # An Inactive WHMCS client: not eligible to be created in WordPress.
    whmcs.add_client("gina@example.com", "Gina", "Gone", status="Inactive")


def write_config(directory: Path, whmcs_url: str, wp_url: str, wp_password: str) -> Path:
    path = directory / "syncd.toml"
    path.write_text(
        f"""# Written by `syncd demo`. The emulators it points at are gone once the demo ends.
[whmcs]
url = "{whmcs_url}"
identifier = "syncd"
secret_file = "{directory / 'whmcs_secret'}"

[wordpress]
url = "{wp_url}"
username = "admin"
application_password_file = "{directory / 'wordpress_app_password'}"

[sync]
direction = "both"
priority = "whmcs"
state_url = "sqlite:///{directory / 'state.db'}"
lock_wait_seconds = 2
""",
        encoding="utf-8",
    )
    (directory / "whmcs_secret").write_text(WHMCS_SECRET, encoding="utf-8")
    (directory / "wordpress_app_password").write_text(wp_password, encoding="utf-8")
    for name in ("whmcs_secret", "wordpress_app_password"):
        (directory / name).chmod(0o600)
    return path


def run_demo(*, keep: bool = False, echo: Echo = print, directory: Path | None = None) -> int:
    """Run the demonstration; returns the exit code of the real run.

    The directory it makes (configuration, secret files, state store) is removed when the
    demo ends, also on Ctrl-C or an error; ``keep`` keeps it and says where. A ``directory``
    given by the caller is left alone."""
    if directory is not None:
        return _demo(directory, keep=keep, echo=echo)
    made = Path(tempfile.mkdtemp(prefix="syncd-demo-"))
    try:
        return _demo(made, keep=keep, echo=echo)
    finally:
        if keep:
            echo(f"The demo's directory is kept: {made} (it holds secret files; remove it with `rm -r {made}`)")
        else:
            shutil.rmtree(made, ignore_errors=True)


def _demo(directory: Path, *, keep: bool, echo: Echo) -> int:
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    wp = WordPressEmulator(admin_login="admin", admin_email="admin@example.com")
    wp_password = wp.add_app_password("admin")
    seed(whmcs, wp)
    with whmcs.serve() as whmcs_url, wp.serve() as wp_url:
        config_path = write_config(directory, whmcs_url, wp_url, wp_password)
        settings = load(config_path, env={})
        echo(f"WHMCS emulator:     {whmcs_url}  ({len(whmcs.clients)} clients, {len(whmcs.admins)} admin)")
        echo(f"WordPress emulator: {wp_url}  ({len(wp.users)} users, one of them the administrator syncd uses)")
        echo(f"Configuration:      {config_path}")
        echo("")
        echo("== 1. Dry run: what a run would do (nothing is written anywhere) ==")
        dry = app.sync_once(settings, dry_run=True)
        echo(render.sync_text(dry))
        echo("")
        echo("== 2. The real run ==")
        real = app.sync_once(settings)
        echo(render.sync_text(real))
        echo("")
        echo("== 3. A second run: nothing left to do, nothing echoes back ==")
        again = app.sync_once(settings)
        echo(render.sync_text(again))
        echo("")
        echo("== What happened ==")
        for email in ("alice@example.com", "carol@example.com", "dave@example.com", "erin@example.com"):
            echo(render.explain_text(app.explain(settings, email)))
            echo("")
        if keep:
            echo(f"The state store is {directory / 'state.db'}; look at it with:")
            echo(f"  syncd --config {config_path} status")
            echo(f"  syncd --config {config_path} explain bob@example.com")
            echo("The emulators keep running; press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        else:
            echo("(run `syncd demo --keep` to keep the emulators up, and this directory, to try the commands yourself)")
        return exits.of_sync(real)
