"""The command line of DESIGN §3.1 — the one place that turns exceptions into messages.

What each command prints comes from ``syncd.render``; its exit code from ``syncd.exits``
(0 success; 1 some users failed; 2 usage or configuration; 3 a side; 4 a safety guard; 5 the
lock; 6 the state store).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from syncd import __version__, exits
from syncd.config import Settings, load
from syncd.errors import SyncdError
from syncd.model import Direction

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, exc: BaseException) -> None:
    from syncd.logs import is_journal, redact_text

    text = f"syncd: {redact_text(message)}"
    if is_journal(sys.stderr):  # under systemd: every line at priority err, as the log lines are
        text = "\n".join(f"<3>{line}" for line in text.split("\n"))
    click.echo(text, err=True)
    sys.exit(exits.of_error(exc))


def handles_errors(func: F) -> F:
    """Turn syncd's exception tree into a message on stderr and its exit code; anything else
    (a bug) into one line that names it, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SyncdError as exc:
            _fail(str(exc), exc)
        except KeyboardInterrupt as exc:
            _fail("interrupted", exc)
        except click.ClickException:  # a usage error found in the command: click says it, exit 2
            raise
        except Exception as exc:  # a bug: one line, not a traceback
            _fail(f"internal error: {type(exc).__name__}: {exc}", exc)
        return None

    return wrapper  # type: ignore[return-value]


def _show(text: str, data: dict[str, Any], as_json: bool) -> None:
    """One JSON object on stdout, or the text."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(text)


class Context:
    """What the group option gives every command: where the config is, loaded on demand."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load(self.config_path, os.environ)
        return self._settings

    def settings_without_secrets(self) -> Settings:
        """The configuration for commands that call neither side (``status``): no secret needed."""
        return load(self.config_path, os.environ, need_secrets=False)

    def settings_for_check(self) -> Settings:
        """``check-config``: every configured secret readable, a root-only credential file aside."""
        return load(self.config_path, os.environ, need_secrets="check")


def _setup_logging(settings: Settings | None, *, level: str | None = None, libraries: bool = True) -> None:
    from syncd.logs import setup_logging

    secrets: list[str] = []
    fmt = "text"
    lvl = level or "INFO"
    if settings is not None:
        for secret in (settings.whmcs.secret, settings.wordpress.application_password, settings.whmcs.access_key,
                       settings.intake_secret):
            if secret is not None:  # None where a command needs no secret (status)
                secrets.append(secret.get_secret_value())
        fmt = settings.log.format
        lvl = level or settings.log.level
    setup_logging(lvl, fmt, secrets=secrets, library_debug=libraries)


EPILOG = """\b
Exit codes:
  0    success (a dry run; a run in which nobody failed; a run stopped on request)
  1    the run finished but some users failed (retried at the next run)
  2    usage or configuration error, found before anything was read or written
  3    a side could not be reached or refused the credentials or a permission
  4    a safety guard stopped the run before any write (--force lets it through)
  5    another run holds the lock
  6    the state store could not be opened or written
  130  interrupted (Ctrl-C)

\b
Environment:
  SYNCD_CONFIG                          configuration file, when --config is not given
  SYNCD_WHMCS_SECRET                    the WHMCS API secret
  SYNCD_WORDPRESS_APPLICATION_PASSWORD  the WordPress application password
  CREDENTIALS_DIRECTORY                 systemd credentials whmcs_secret, wordpress_app_password
  JOURNAL_STREAM                        set by systemd: logs get syslog priority prefixes

See `syncd COMMAND --help` for each command, and the README for the whole story.
"""


CONFIG_HELP = "Configuration file. Default: $SYNCD_CONFIG, ./syncd.toml, /etc/syncd/syncd.toml."

#: Commands that read no configuration, so take no ``--config``.
WITHOUT_CONFIG = frozenset({"demo", "example", "companion"})


def _config_after(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``syncd COMMAND --config FILE``: the same as ``syncd --config FILE COMMAND``."""
    if value is None:
        return
    obj = ctx.find_object(Context)
    if obj is None:  # pragma: no cover - the group always makes one
        return
    if obj.config_path is not None and obj.config_path != value:
        raise click.UsageError(f"--config is given twice ({obj.config_path} and {value}); give it once", ctx=ctx)
    obj.config_path = value


class Commands(click.Group):
    """syncd's group: every command that reads the configuration also takes ``--config`` after its
    name, as admins type it (``syncd sync --config /etc/syncd/syncd.toml``)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if (name or cmd.name) not in WITHOUT_CONFIG and not any(p.name == "config_after" for p in cmd.params):
            cmd.params.append(click.Option(["--config", "config_after"], type=click.Path(dir_okay=False),
                                           expose_value=False, callback=_config_after, help=CONFIG_HELP))
        super().add_command(cmd, name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help=CONFIG_HELP)
@click.version_option(__version__, prog_name="syncd")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Keep WHMCS clients and WordPress users synchronised."""
    ctx.obj = Context(config_path)


@main.command()
@click.pass_obj
@handles_errors
def run(obj: Context) -> None:
    """Run the daemon in the foreground (systemd runs this)."""
    from syncd import app
    from syncd.service.daemon import Daemon

    settings = obj.settings()
    _setup_logging(settings)
    for warning in settings.warnings():
        from loguru import logger

        logger.warning(warning)

    def load_settings() -> Settings:
        return load(obj.config_path, os.environ)

    code = Daemon(load_settings, app.daemon_job, source=settings.source, event_job=app.event_job,
                  login_job=app.login_job).run()
    sys.exit(code)


@main.command()
@click.option(
    "--full",
    is_flag=True,
    help="Record this run as a full resync. Every run already reads both sides completely and "
    "compares every user, so it does the same work as any other run.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing anywhere, not even the state store.")
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default=None,
    help="Override the configured direction for this run.",
)
@click.option("--force", is_flag=True, help="Let this run pass a safety guard.")
@click.option("--json", "as_json", is_flag=True, help="Print the report (or the plan) as one JSON object.")
@click.option("-v", "--verbose", is_flag=True, help="DEBUG logs: every user skipped and why (syncd's own lines only).")
@click.option("--user", "user", metavar="EMAIL", default=None,
              help="A one-user run: only this user's accounts on both sides (by link, then by email), the same "
              "rules and lock; it never deactivates anyone (the next full run decides deletions). "
              "Exit 1 if neither side has the email. Not with --full.")
@click.pass_obj
@handles_errors
def sync(obj: Context, full: bool, dry_run: bool, direction: str | None, force: bool, as_json: bool,
         verbose: bool, user: str | None) -> None:
    """One run now, then exit."""
    from syncd import app, render

    if user is not None:
        if full:
            raise click.UsageError("--full and --user cannot go together: a one-user run reads one user, a full "
                                   "run everyone. Drop one of them.")
        _email_argument(click.get_current_context(), _USER_OPTION, user)
    settings = obj.settings()
    become_state_owner(settings)
    _setup_logging(settings, level="DEBUG" if verbose else None, libraries=False)
    if not settings.sync.enabled:
        click.echo(
            "syncd: note: [sync] enabled = false in the configuration: this manual run goes ahead, "
            "but the daemon (syncd run) would not run.",
            err=True,
        )
    if user is not None:
        _sync_user(settings, user, dry_run=dry_run, direction=direction, force=force, as_json=as_json)
    try:
        result = app.sync_once(
            settings,
            full=full,
            dry_run=dry_run,
            direction=Direction(direction) if direction else None,
            force=force,
            progress=not as_json and sys.stderr.isatty(),
        )
    except (SyncdError, KeyboardInterrupt) as exc:
        _failure_json(exc, as_json)
        raise
    if result.dry_run:
        from loguru import logger

        for skip in result.plan.skips:
            logger.debug("dry run: {}", skip.describe())
    _show(render.sync_text(result), render.sync_json(result), as_json)
    sys.exit(exits.of_sync(result))


def _email_argument(_ctx: click.Context, _param: click.Parameter, email: str) -> str:
    """A usage error (exit 2) for an argument that cannot be anyone's email address."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email.strip()):
        shown = repr(email) if email.strip() else "an empty argument"
        raise click.BadParameter(f"{shown} is not an email address: give the user's email, e.g. jane@example.com",
                                 param_hint="EMAIL")
    return email


_USER_OPTION = click.Option(["--user"])


def _failure_json(exc: BaseException, as_json: bool) -> None:
    """With --json, stdout still carries one JSON object when a command fails: the outcome and the message."""
    if as_json:
        from syncd import render
        from syncd.logs import redact_text

        _show("", render.failure_json(exc, redact_text(str(exc) or "interrupted"), int(exits.of_error(exc))), True)


def _sync_user(settings: Settings, user: str, *, dry_run: bool, direction: str | None, force: bool,
               as_json: bool) -> None:
    """``sync --user EMAIL``: the one-user run, its report, its exit code."""
    from syncd import app, render

    try:
        result = app.sync_user(settings, email=user.strip(), dry_run=dry_run,
                               direction=Direction(direction) if direction else None, force=force)
    except (SyncdError, KeyboardInterrupt) as exc:
        _failure_json(exc, as_json)
        raise
    _show(render.user_sync_text(result), render.user_sync_json(result), as_json)
    sys.exit(exits.of_user_sync(result))


@main.command("link")
@click.argument("whmcs_client_id", type=click.IntRange(min=1))
@click.argument("wp_user_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON object.")
@click.pass_obj
@handles_errors
def link_command(obj: Context, whmcs_client_id: int, wp_user_id: int, as_json: bool) -> None:
    """Pair a WHMCS client with a WordPress user by hand (a duplicate or a mismatched email).

    Nothing is written to either side, only the state store; the next run settles the two as at
    first contact. Admins, protected or Closed accounts and accounts already linked are refused
    (exit 2; `syncd unlink` first); another run holding the lock: exit 5."""
    from syncd import app, render

    settings = obj.settings()
    become_state_owner(settings)
    _setup_logging(settings, libraries=False)
    try:
        result = app.link(settings, whmcs_client_id, wp_user_id)
    except (SyncdError, KeyboardInterrupt) as exc:
        _failure_json(exc, as_json)
        raise
    _show(render.manual_text(result), render.manual_json(result), as_json)


@main.command("unlink")
@click.argument("email", callback=_email_argument)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON object.")
@click.pass_obj
@handles_errors
def unlink_command(obj: Context, email: str, as_json: bool) -> None:
    """Forget the link of the user with EMAIL (on either side); nothing is written to either side.

    The next run sees the two accounts as unlinked (the output says what it would do). No link
    with this email: exit 1; several: they are listed, exit 2; another run holding the lock: exit 5."""
    from syncd import app, render

    settings = obj.settings()
    become_state_owner(settings)
    _setup_logging(settings, libraries=False)
    try:
        result = app.unlink(settings, email.strip())
    except (SyncdError, KeyboardInterrupt) as exc:
        _failure_json(exc, as_json)
        raise
    _show(render.manual_text(result), render.manual_json(result), as_json)


@main.command("test-connection")
@click.option("--json", "as_json", is_flag=True,
              help="Print every check (side, name, ok, message, fix) as one JSON object; same exit codes.")
@click.pass_obj
@handles_errors
def test_connection(obj: Context, as_json: bool) -> None:
    """Check both sides and say, in plain words, what is wrong and how to fix it.

    Exit 0 if every check passed, 3 if one failed, 2 for a configuration error."""
    from syncd.checks import checks_json, secret_lines, secret_sources
    from syncd.checks import intake as intake_checks
    from syncd.checks import whmcs as whmcs_checks
    from syncd.checks import wordpress as wp_checks

    with _config_failure_json(as_json):
        settings = obj.settings()
    _setup_logging(settings, level="WARNING")
    warnings = settings.warnings()
    if not as_json:
        for warning in warnings:
            click.echo(f"warning: {warning}")
        click.echo(secret_lines(secret_sources(settings)))
    checks = []
    for module in (whmcs_checks, wp_checks, intake_checks):
        for check in module.run(settings):
            checks.append(check)
            if not as_json:
                click.echo(check.line())
    failed = sum(1 for check in checks if not check.ok)
    if as_json:
        _show("", checks_json(checks, warnings, secret_sources(settings)), True)
    else:
        click.echo(f"{failed} check{'' if failed == 1 else 's'} failed." if failed else "All checks passed.")
    sys.exit(exits.of_checks(failed))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@click.option("--check", "as_check", is_flag=True,
              help="One line for monitoring; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.")
@click.pass_obj
@handles_errors
def status(obj: Context, as_json: bool, as_check: bool) -> None:
    """Last runs, their counts, users in error or conflict, links. Needs no secret.

    With --check: the monitoring-plugin exit codes (0 OK, 1 WARNING: the last run had failures
    or a user is in error for over a day, 2 CRITICAL: no successful run within 3 intervals or
    ever, or the last run was stopped by the guard or could not reach a side, 3 UNKNOWN: the
    configuration or the state store cannot be read)."""
    from syncd import app, render

    if as_check:
        _status_check(obj)
    settings = obj.settings_without_secrets()
    become_state_owner(settings)
    _setup_logging(settings, level="WARNING")
    shown = app.status(settings)
    _show(render.status_text(shown), render.status_json(shown), as_json)


@main.command("check-config")
@click.option("--json", "as_json", is_flag=True,
              help="Print the verdict (ok, problems, warnings, the field map) as one JSON object; same exit codes.")
@click.pass_obj
@handles_errors
def check_config(obj: Context, as_json: bool) -> None:
    """Validate the configuration as `syncd run` would, without calling either side: exit 0 (OK) or 2."""
    from syncd import fieldmap
    from syncd.errors import ConfigError
    from syncd.render.checks import config_ok_json, config_ok_text
    from syncd.state import url as state_url
    from syncd.sync.fieldview import mapped_fields

    # Every value, the schedule, the metrics address, the secrets (a credential file only root may
    # read is fine: systemd reads it for the service), the state directory, as the service's user.
    with _config_failure_json(as_json):
        settings = obj.settings_for_check()
        become_state_owner(settings)
        problems = state_url.access_problems(settings.sync.state_url)
        if not as_json:
            for warning in settings.warnings():
                click.echo(f"warning: {warning}")
        if problems:
            raise ConfigError(f"invalid configuration in {settings.source}:",
                              [f"[sync] state_url: {p}" for p in problems])
    # The field map as a run would carry it, were both sides to store every field.
    names = tuple(r.name for r in settings.field_rules())
    mapped = mapped_fields(settings.field_rules(), settings.sync.direction, names, names)
    notes = list(fieldmap.overrides(settings.fields, preset=settings.wordpress.preset))
    notes += [f"{name} must be a client custom field id of your WHMCS (Configuration → System Settings → Custom "
              "Client Fields; GetClientsDetails lists them under \"customfields\"); `syncd test-connection` checks it"
              for name in names if name.startswith("customfield.")]  # ids are install-specific: only WHMCS can tell
    _show(config_ok_text(settings.source, mapped, notes),
          config_ok_json(settings.source, settings.warnings(), mapped, notes), as_json)


@contextmanager
def _config_failure_json(as_json: bool) -> Iterator[None]:
    """With --json, a configuration that does not load still prints one JSON object on stdout (its
    problems, exit code 2), besides the message on stderr."""
    from syncd.errors import ConfigError
    from syncd.logs import redact_text
    from syncd.render.checks import config_failure_json

    try:
        yield
    except ConfigError as exc:
        if as_json:
            _show("", config_failure_json(redact_text(str(exc).split("\n", 1)[0]),
                                          [redact_text(p) for p in exc.problems], int(exits.of_error(exc))), True)
        raise


def _status_check(obj: Context) -> None:
    """``status --check``: one line on stdout and a monitoring-plugin exit code, never another one."""
    from datetime import UTC, datetime

    from syncd import app, render
    from syncd.logs import redact_text

    try:
        settings = obj.settings_without_secrets()
        become_state_owner(settings, quiet=True)
        _setup_logging(settings, level="ERROR")
        shown = app.status(settings)
    except (SyncdError, OSError) as exc:
        click.echo(render.check_unknown(redact_text(str(exc)) or type(exc).__name__))
        sys.exit(exits.CheckCode.UNKNOWN)
    now = datetime.now(UTC)
    interval = settings.sync.interval_seconds
    code, findings = exits.of_status_check(shown, interval_seconds=interval, now=now)
    click.echo(render.check_line(shown, code, findings, interval_seconds=interval, now=now))
    sys.exit(code)


@main.command()
@click.argument("email", callback=_email_argument)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@click.pass_obj
@handles_errors
def explain(obj: Context, email: str, as_json: bool) -> None:
    """Both sides' records for one user, the link, and what a run would do and why."""
    from syncd import app, render

    settings = obj.settings()
    become_state_owner(settings)
    _setup_logging(settings, level="WARNING")
    result = app.explain(settings, email)
    _show(render.explain_text(result), render.explain_json(result), as_json)
    sys.exit(exits.of_explain(result))


@main.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the emulators running until Ctrl-C, and keep the demo's directory (configuration, "
    "secret files, state store) afterwards; without it the directory is removed.",
)
@handles_errors
def demo(keep: bool) -> None:
    """A self-contained demonstration on loopback emulators; needs no configuration."""
    from syncd.demo import run_demo

    _setup_logging(None)
    sys.exit(run_demo(keep=keep, echo=click.echo))


@main.command()
@click.argument("side", type=click.Choice(["wordpress", "whmcs"]))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The directory to write the file into (it must exist).")
@click.option("--force", is_flag=True, help="Replace a different file of the same name.")
@handles_errors
def companion(side: str, out: Path, force: bool) -> None:
    """Write the companion file for SIDE into --out, and say how to install it (DESIGN §10).

    wordpress: syncd-companion.php, a one-file plugin (or mu-plugin) that registers the user meta
    syncd maps for the REST API.

    whmcs: syncd_hooks.php, a hook file for WHMCS's includes/hooks/ that tells syncd's intake at
    once which client changed."""
    from syncd import companions
    from syncd.render.companion import companion_text

    path, written = companions.write(side, out, force=force)
    click.echo(companion_text(side, path, written))


@main.command()
@click.argument("email", callback=_email_argument)
@click.option("--json", "as_json", is_flag=True, help="Print the history as one JSON object.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, metavar="N",
              help="Show only the latest N changes.")
@click.pass_obj
@handles_errors
def history(obj: Context, email: str, as_json: bool, limit: int) -> None:
    """What syncd changed for one person, field by field, when and in which run, newest first.

    EMAIL may be the person's current email or any earlier one. Read-only, takes no lock, needs
    no secret. Exit 1 when syncd has recorded no change for that email."""
    from syncd import app, render
    from syncd.sync.fieldview import labels as labels_of

    settings = obj.settings_without_secrets()
    become_state_owner(settings)
    _setup_logging(settings, level="WARNING")
    shown, limited = app.history(settings, email, limit=limit)
    labels = labels_of(settings.field_rules())  # a mapped field reads as the operator wrote it
    _show(render.history_text(email, shown, limited=limited, labels=labels),
          render.history_json(email, shown, limited=limited, labels=labels), as_json)
    sys.exit(exits.of_history(bool(shown)))


def become_state_owner(settings: Settings, *, quiet: bool = False) -> None:
    """Root running a command beside the service: go on as the state directory's owner (said in one
    line on stderr), so the store stays the service's. Call it after the settings (and the secrets)
    are loaded and before the state store or the lock is opened."""
    from syncd.service.privileges import become_state_owner as switch

    switched = switch(settings.sync.state_url)
    if switched.note and not quiet:
        click.echo(f"syncd: note: {switched.note}", err=True)


@main.command()
@click.argument("what", type=click.Choice(["config", "unit"]))
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Write DIR/syncd.toml (config) or DIR/syncd.service (unit), mode 0644, instead of printing it.")
@click.option("--force", is_flag=True, help="With --out: replace a file that is already there.")
@handles_errors
def example(what: str, out: str | None, force: bool) -> None:
    """Print the example configuration or the systemd unit that ship with syncd, or write it.

    `syncd example config --out /etc/syncd` writes /etc/syncd/syncd.toml; `syncd example unit
    --out /etc/systemd/system` writes the unit. An existing file is kept (exit 2) unless --force."""
    from pathlib import Path

    from syncd import examples

    if out is None:
        click.echo(examples.text_of(what), nl=False)
        return
    target = examples.write(what, Path(out), force=force)
    click.echo(f"wrote {target}")
