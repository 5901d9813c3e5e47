"""The configuration of DESIGN §3.2: TOML + environment + ``*_file`` secrets → one frozen Settings.

Validated once, at start; every problem is reported together in one ``ConfigError``;
unknown keys are rejected. Secrets are ``SecretStr`` so they never appear in a repr, a
log line or an error message; each is looked for inline, as ``*_file``, in the environment,
as a systemd credential, then in the credential file beside the configuration file
(``_resolve_secret``), and ``Settings.secret_sources`` says where it was found. Lookup order
of the file: ``--config``, ``$SYNCD_CONFIG``, ``./syncd.toml``, ``/etc/syncd/syncd.toml``.
"""

from __future__ import annotations

import os
import ssl
import stat
import tomllib
from collections.abc import Mapping
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from syncd import fieldmap
from syncd.errors import ConfigError
from syncd.model import Direction, Side
from syncd.state import url as state_url

DEFAULT_LOCATIONS = (Path("syncd.toml"), Path("/etc/syncd/syncd.toml"))

#: The ``@daily``-style schedules of cron, as the 5-field expressions they stand for.
CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

#: WordPress roles that can manage users or options in core; never granted by sync (§5.6).
FORBIDDEN_ROLES = frozenset({"administrator", "super_admin"})

ENV_WHMCS_SECRET = "SYNCD_WHMCS_SECRET"
ENV_WP_PASSWORD = "SYNCD_WORDPRESS_APPLICATION_PASSWORD"
ENV_INTAKE_SECRET = "SYNCD_INTAKE_SECRET"

#: The shortest intake secret accepted: the HMAC key both companions sign events with.
INTAKE_SECRET_MIN_LENGTH = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _between(low: float, high: float, unit: str = "") -> AfterValidator:
    """A number's allowed range, said in the error with its unit (the example configuration,
    ``syncd example config``, documents the same range beside each key)."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be between {_number(low)} and {_number(high)}{unit}")
        return value

    check.bounds = (low, high)  # type: ignore[attr-defined]  # read by the test of every number's range
    return AfterValidator(check)


def bounds_of(metadata: list[Any]) -> tuple[float, float] | None:
    """The range ``_between`` gave a field, from its pydantic metadata; None if it has none."""
    for item in metadata:
        found = getattr(getattr(item, "func", None), "bounds", None)
        if found is not None:
            low, high = found
            return float(low), float(high)
    return None


#: DESIGN §3.2's numbers and their ranges (documented beside each key in the example configuration).
Seconds = Annotated[float, _between(0.1, 600, " seconds")]
Concurrency = Annotated[int, _between(1, 16)]
Retries = Annotated[int, _between(0, 10)]


class DummyValues(_Strict):
    """Values sent for the fields WHMCS requires and WordPress does not have."""

    address1: str = "Not provided"
    city: str = "Not provided"
    state: str = "Not provided"
    postcode: str = "00000"
    country: str = "US"
    phonenumber: str = "0000000000"
    firstname: str = "Not provided"
    lastname: str = "Not provided"

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        if len(v) != 2 or not v.isalpha():
            raise ValueError("must be a 2-letter ISO country code, e.g. US")
        return v.upper()


class NewClients(_Strict):
    missing_fields: Literal["dummy", "skip_validation"] = "dummy"
    currency: Annotated[int, _between(1, 1_000_000)] = 1
    group_id: Annotated[int, _between(0, 1_000_000)] = 0  # AddClient's groupid; 0 = no client group
    send_welcome_email: bool = False
    send_password_reset: bool = False
    dummy: DummyValues = DummyValues()


class NewUsers(_Strict):
    username: Literal["email", "name"] = "email"
    role: str = "subscriber"
    send_password_reset: bool = False

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v.strip().lower() in FORBIDDEN_ROLES:
            raise ValueError(f"role {v!r} can manage users or options; syncd never grants it")
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


class _Connection(_Strict):
    url: str
    timeout_seconds: Seconds = 30.0
    verify_tls: bool = True
    ca_file: Path | None = None  # a PEM bundle of the CA(s) to trust for this side instead of the default ones
    concurrency: Concurrency = 2
    retries: Retries = 4

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None:
            return None
        if info.data.get("verify_tls") is False:  # validated before ca_file, which follows it
            raise ValueError("given, but verify_tls = false checks no certificate: remove one of the two")
        for problem in ca_file_problems(v):
            raise ValueError(problem)
        return v

    @property
    def ca_path(self) -> str | None:
        """``ca_file`` as the TLS layer takes it (None: the default CAs)."""
        return str(self.ca_file) if self.ca_file is not None else None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v.strip()

    @property
    def is_plain_http_off_loopback(self) -> bool:
        parts = urlsplit(self.url)
        if parts.scheme != "http":
            return False
        host = parts.hostname or ""
        if host == "localhost":
            return False
        try:
            return not ip_address(host).is_loopback
        except ValueError:
            return True


class WhmcsSettings(_Connection):
    identifier: str
    secret: SecretStr | None = None
    secret_file: Path | None = None
    access_key: SecretStr | None = None
    page_size: Annotated[int, _between(1, 2500)] = 250
    new_clients: NewClients = NewClients()
    # DESIGN §11: a password changed on WordPress cannot reach an existing WHMCS user through the API;
    # true sends WHMCS's password-reset email to that user instead (only with [passwords] carry = true).
    password_reset_on_wp_change: bool = False


class WordPressSettings(_Connection):
    username: str
    application_password: SecretStr | None = None
    application_password_file: Path | None = None
    page_size: Annotated[int, _between(1, 100)] = 100
    new_users: NewUsers = NewUsers()
    company_meta_key: str = ""
    preset: str = ""  # "" | "woocommerce" (DESIGN §9; checked by syncd.fieldmap)


class SyncSettings(_Strict):
    enabled: bool = True
    direction: Direction = Direction.BOTH
    priority: Side = Side.WHMCS
    interval_seconds: Annotated[int, _between(1, 86_400, " seconds (one day)")] = 300
    full_resync_cron: str = "0 3 * * *"
    state_url: str = "sqlite:////var/lib/syncd/state.db"
    exclude_wp_roles: tuple[str, ...] = ("administrator",)
    on_delete: Literal["ignore", "deactivate"] = "ignore"
    max_deletes: Annotated[int, _between(0, 1_000_000)] = 10
    max_delete_percent: Annotated[float, _between(0, 100, " (a percentage)")] = 50
    lock_wait_seconds: Annotated[float, _between(0, 3_600, " seconds")] = 10

    @field_validator("exclude_wp_roles")
    @classmethod
    def _always_admin(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        roles = [r.strip() for r in v if r.strip()]
        for must in ("administrator",):
            if must not in roles:
                roles.append(must)
        return tuple(roles)

    @field_validator("full_resync_cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        text = " ".join(v.split())
        if not text:
            return ""
        text = CRON_ALIASES.get(text.lower(), text)
        if text.startswith("@"):
            raise ValueError(f"unknown schedule {v.strip()!r}: give {', '.join(CRON_ALIASES)} "
                             "or a 5-field cron expression like '0 3 * * *' (or empty for none)")
        # The daemon's own parser, so that what passes here is exactly what `syncd run` schedules.
        from syncd.service.daemon import crontab_trigger

        try:
            crontab_trigger(text)
        except ValueError as exc:
            raise ValueError(f"{v.strip()!r} is not a valid schedule ({exc}); give a 5-field cron "
                             "expression (minute hour day month weekday, e.g. '0 3 * * *'), an alias "
                             "such as @daily, or empty for none") from None
        return text

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, v: str) -> str:
        for problem in state_url.value_problems(v):
            raise ValueError(problem)
        return v.strip()


class LogSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v


def listen_problem(text: str, *, example_port: int, empty: str) -> str | None:
    """Why ``text`` is not a "host:port" address to listen on (None when it is one); ``empty`` says
    what an empty value does, ``example_port`` is the port the examples in the message use."""
    host, sep, port = text.rpartition(":")
    host = host.strip()
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    good = bool(sep) and port.isdigit() and int(port) <= 65535
    if good and host and host != "localhost":
        try:
            ip_address(host)
        except ValueError:
            good = False
    if good and ":" in host and not bracketed:
        good = False  # an IPv6 address needs brackets: [::1]:9464
    if good:
        return None
    return (f"give an address and a port (0-65535, 0 picks a free one): 127.0.0.1:{example_port}, "
            f"[::1]:{example_port}, localhost:{example_port}, or :{example_port} for every address; {empty}")


def is_loopback_listen(text: str) -> bool:
    """Whether a valid ``listen`` address is a loopback one (``:PORT``, every address, is not)."""
    host = text.strip().rpartition(":")[0].strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _listen_value(value: str, *, example_port: int, empty: str) -> str:
    """A ``listen`` key's value, stripped ("" = off), or the ValueError naming what is wrong with it."""
    text = value.strip()
    problem = listen_problem(text, example_port=example_port, empty=empty) if text else ""
    if problem:
        raise ValueError(problem)
    return text


class MetricsSettings(_Strict):
    listen: str = ""  # e.g. "127.0.0.1:9464"; empty = no Prometheus endpoint

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _listen_value(v, example_port=9464, empty="empty disables the endpoint")


class IntakeSettings(_Strict):
    """``[intake]`` (DESIGN §10): where ``syncd run`` takes the companions' signed events. Off
    (``listen = ""``) by default; the secret is looked for like the sides' (``_resolve_secret``)."""

    listen: str = ""  # e.g. "127.0.0.1:8787"; a non-loopback address needs tls_cert and tls_key
    secret: SecretStr | None = None
    secret_file: Path | None = None
    tls_cert: str = ""  # PEM certificate (chain) the intake serves HTTPS with
    tls_key: str = ""  # its PEM private key

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _listen_value(v, example_port=8787, empty="empty turns the intake off")

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _path(cls, v: str) -> str:
        return v.strip()

    @property
    def enabled(self) -> bool:
        return bool(self.listen)

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    def problems(self) -> list[str]:
        """What keeps this ``[intake]`` from serving (beyond each value's own check): TLS off loopback,
        a certificate without its key, files that do not load, a secret too short."""
        out: list[str] = []
        if bool(self.tls_cert) != bool(self.tls_key):
            given, missing = ("tls_cert", "tls_key") if self.tls_cert else ("tls_key", "tls_cert")
            out.append(f"[intake] {given} is set but {missing} is not: give both (the certificate and its private "
                       "key, PEM files), or neither")
        if not self.enabled:
            return out
        if not is_loopback_listen(self.listen) and not self.tls:
            out.append(f"[intake] listen = {self.listen!r} is not a loopback address, and tls_cert/tls_key are not "
                       "set: events (and, later, passwords) would cross the network in clear. Set tls_cert and "
                       "tls_key, or listen on 127.0.0.1 behind your TLS proxy (nginx, caddy; see the README)")
        if self.tls:
            out += _tls_problems(self.tls_cert, self.tls_key)
        if self.secret is not None:
            n = len(self.secret.get_secret_value())
            if 0 < n < INTAKE_SECRET_MIN_LENGTH:
                out.append(f"[intake] secret is too short ({n} characters): use at least {INTAKE_SECRET_MIN_LENGTH} "
                           "random characters, e.g. the output of `openssl rand -hex 32`, in both companions too")
        return out


def _tls_problems(cert: str, key: str) -> list[str]:
    """Why the intake could not serve TLS with this certificate and key; [] when it can."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        return [f"[intake] tls_cert/tls_key: {exc.filename or 'a file'} does not exist: give the PEM files of the "
                "intake's certificate and private key"]
    except PermissionError as exc:
        return [f"[intake] tls_cert/tls_key: cannot read {exc.filename or 'a file'} (permission denied for "
                f"{_whoami()}): make it readable by the service's user"]
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        return [f"[intake] tls_cert = {cert!r}, tls_key = {key!r}: not a certificate and its matching private key "
                f"in PEM form ({reason}); check that tls_key is the key of tls_cert"]
    return []


class SecretSources(_Strict):
    """Where each secret was read from (``test-connection`` says it): ``inline in FILE``,
    ``secret_file = PATH``, ``$SYNCD_WHMCS_SECRET``, ``systemd credential PATH``, ``credential file
    beside the configuration, PATH``; empty where none was found. Never the value."""

    whmcs: str = ""
    wordpress: str = ""
    intake: str = ""  # only when [intake] listen is set


class PasswordSettings(_Strict):
    """``[passwords]`` (DESIGN §11): whether syncd carries a password set on WHMCS to the linked
    WordPress user, in flight and never stored. Off by default: the operator opts in."""

    carry: bool = False


class Settings(_Strict):
    whmcs: WhmcsSettings
    wordpress: WordPressSettings
    sync: SyncSettings = SyncSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    intake: IntakeSettings = IntakeSettings()
    passwords: PasswordSettings = PasswordSettings()
    # The [[fields]] tables of DESIGN §9, checked by syncd.fieldmap (which names each table in its messages).
    fields: tuple[dict[str, Any], ...] = ()
    source: str = ""  # where the settings came from (a path), for messages
    secret_sources: SecretSources = SecretSources()  # where each secret was read from, never its value

    def field_rules(self) -> tuple[fieldmap.FieldRule, ...]:
        """The field map: the preset's rules and the ``[[fields]]`` tables (validated by ``parse``)."""
        rules, _problems = fieldmap.resolve(self.fields, preset=self.wordpress.preset,
                                            sync_direction=self.sync.direction, company_key=self.company_key())
        return rules

    def company_key(self) -> str:
        return self.wordpress.company_meta_key.strip() or "billing_company"

    @property
    def whmcs_secret(self) -> SecretStr:
        assert self.whmcs.secret is not None  # resolved by load()
        return self.whmcs.secret

    @property
    def wordpress_password(self) -> SecretStr:
        assert self.wordpress.application_password is not None  # resolved by load()
        return self.wordpress.application_password

    @property
    def intake_secret(self) -> SecretStr | None:
        """The intake's shared secret (None where the intake is off, or for ``status``)."""
        return self.intake.secret

    def warnings(self) -> list[str]:
        out = []
        for name, conn in (("whmcs", self.whmcs), ("wordpress", self.wordpress)):
            if conn.is_plain_http_off_loopback:
                out.append(f"[{name}] url is plain http:// on a non-loopback host: secrets travel unencrypted")
            if not conn.verify_tls:
                out.append(f"[{name}] verify_tls = false: the server's certificate is not checked")
        if self.whmcs.password_reset_on_wp_change and not self.passwords.carry:
            out.append("[whmcs] password_reset_on_wp_change = true does nothing while [passwords] carry is off: "
                       "set carry = true, or remove the key")
        return out


def ca_file_problems(path: Path) -> list[str]:
    """Why ``path`` cannot serve as a ``ca_file`` (a readable PEM file with a CA certificate); []."""
    try:
        text = path.read_bytes()
    except IsADirectoryError:
        return [f"{path} is a directory: give the PEM file of the CA (e.g. /etc/syncd/internal-ca.pem)"]
    except FileNotFoundError:
        return [f"{path} does not exist: give the PEM file of the CA that signed the site's certificate"]
    except PermissionError:
        return [f"cannot read {path} (permission denied for {_whoami()}): make it readable by that user"]
    except OSError as exc:
        return [f"cannot read {path} ({exc.strerror or exc})"]
    try:
        ssl.create_default_context().load_verify_locations(cadata=text.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError, ValueError):
        return [f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA's certificate in "
                "PEM form (openssl x509 -in ca.der -inform der -out ca.pem converts a DER one)"]
    return []


def _whoami() -> str:
    uid = os.geteuid()
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _unreadable(path: Path, origin: str, reason: str) -> ConfigError:
    return ConfigError(
        f"cannot read the configuration file {path}{origin}: {reason}. syncd runs as {_whoami()}: make the "
        f"file and every directory above it readable by that user (e.g. chmod 0644 the file and 0755 its "
        "directory: the configuration holds no secret), or run the command as root or as the service's user"
    )


def _config_file(path: Path, origin: str, *, required: bool) -> bool:
    """True if ``path`` is a file; False if absent and not ``required``; ConfigError if it is there
    but cannot be used (a directory, or hidden by a permission), or absent and ``required``."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise ConfigError(f"config file {path}{origin} does not exist") from None
        return False
    except PermissionError:
        raise _unreadable(path, origin, "permission denied (on the file or on a directory above it)") from None
    except OSError as exc:
        raise _unreadable(path, origin, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}{origin} is a directory, not a configuration file: give the path of the "
                          "TOML file (e.g. /etc/syncd/syncd.toml)")
    return True


def find_config(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """The config file by DESIGN §3.1's order; ConfigError naming every place tried, or the
    file that is there but cannot be read."""
    if explicit:
        path = Path(explicit)
        _config_file(path, " (from --config)", required=True)
        return path
    if env.get("SYNCD_CONFIG"):
        path = Path(env["SYNCD_CONFIG"])
        _config_file(path, " (from $SYNCD_CONFIG)", required=True)
        return path
    for path in DEFAULT_LOCATIONS:
        if _config_file(path, "", required=False):
            return path
    tried = ", ".join(str(p) for p in DEFAULT_LOCATIONS)
    raise ConfigError(
        f"no configuration found: give --config FILE, set $SYNCD_CONFIG, or create one of {tried} "
        "(`syncd example config --out /etc/syncd` writes a commented template)"
    )


#: Names of the systemd credentials (``LoadCredential=``) read when nothing else gives a secret:
#: from ``$CREDENTIALS_DIRECTORY`` under systemd, and from the configuration file's directory
#: otherwise (the very files the unit's LoadCredential= reads, so a root shell needs no copy).
CREDENTIAL_NAMES = {"secret": "whmcs_secret", "application_password": "wordpress_app_password"}
#: The intake's secret has its own credential name (its key, ``secret``, is WHMCS's too).
INTAKE_CREDENTIAL = "intake_secret"

#: What the secrets of the example and of the docs look like; never a real secret's shape.
_PLACEHOLDERS = frozenset({"changeme", "change-me", "change_me", "secret", "password", "todo", "xxx",
                           "abcd efgh ijkl mnop qrst uvwx", "the-whmcs-secret", "the whmcs api secret",
                           "the application password"})


def looks_like_placeholder(value: str) -> bool:
    """True for a value copied from an example instead of a real secret (``your-api-secret``, ``...``)."""
    text = value.strip().lower()
    return (text in _PLACEHOLDERS or "..." in text or "…" in text or text.startswith(("your-", "your_", "your "))
            or (text.startswith("<") and text.endswith(">")) or set(text) <= {"x", "*", "-"})


def _read_secret(path: Path, what: str, problems: list[str]) -> str | None:
    """A secret file's text, stripped; None (with the problem added) if unreadable or empty."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except IsADirectoryError:
        problems.append(f"{what}: is a directory; give the path of the file that holds the secret")
        return None
    except PermissionError:
        problems.append(f"{what}: cannot read it (permission denied for {_whoami()}); make it readable by "
                        "that user, or run as root or as the service's user")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        problems.append(f"{what}: cannot read it ({reason})")
        return None
    if not text:
        problems.append(f"{what}: the file is empty; put the secret in it (one line)")
        return None
    if looks_like_placeholder(text):
        problems.append(f"{what}: holds a placeholder copied from an example, not a real secret; put the real "
                        "one in it (one line)")
        return None
    return text


def _hidden(path: Path) -> bool:
    """True if ``path`` exists (or may: a directory above it hides it) but this user cannot read it."""
    try:
        with path.open("rb"):
            return False
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _resolve_secret(section: dict[str, Any], key: str, env_name: str, env: Mapping[str, str],
                    problems: list[str], where: str, *, source: str, hidden_ok: bool = False,
                    credential: str = "") -> str:
    """Fill ``section[key]`` and return where it came from (never the value), looking in this order:
    inline, ``<key>_file``, ``$env_name``, ``$CREDENTIALS_DIRECTORY/<credential>``, and the credential
    file beside the configuration file. ``hidden_ok`` (``check-config``): a credential file beside the
    configuration that exists but this user may not read is no problem (systemd reads it as root)."""
    file_key = f"{key}_file"
    inline = section.get(key)
    path = section.get(file_key)
    cred_name = credential or CREDENTIAL_NAMES[key]
    beside = Path(source).parent / cred_name if source else None
    if inline and path:
        problems.append(f"[{where}] give {key} or {file_key}, not both")
        return ""
    if inline:
        if isinstance(inline, str) and looks_like_placeholder(inline):
            problems.append(f"[{where}] {key} looks like the example's placeholder, not a real secret: remove "
                            f"the line and put the secret in {beside or cred_name} (mode 0600; the unit hands it to "
                            "the service as a systemd credential), or give the real one here")
        return f"inline in {source or 'the configuration'}"
    if path:
        text = _read_secret(Path(str(path)), f"[{where}] {file_key} = {path}", problems)
        if text is not None:
            section[key] = text
        return f"{file_key} = {path}"
    if env.get(env_name):
        section[key] = env[env_name].strip()
        return f"${env_name}"
    if env.get("CREDENTIALS_DIRECTORY"):
        systemd_file = Path(env["CREDENTIALS_DIRECTORY"]) / cred_name
        if systemd_file.is_file():
            text = _read_secret(systemd_file, f"[{where}] {key}: the systemd credential {systemd_file}", problems)
            if text is not None:
                section[key] = text
            return f"systemd credential {systemd_file}"
    if beside is not None:
        if _hidden(beside):
            if not hidden_ok:
                problems.append(f"[{where}] {key} is required: the credential file {beside} is there but "
                                f"{_whoami()} cannot read it; run the command as root (sudo), which reads it "
                                "as the service's LoadCredential= does")
            return f"credential file {beside} (not readable by {_whoami()}; systemd reads it as root)"
        if beside.exists():
            text = _read_secret(beside, f"[{where}] {key}: the credential file {beside}", problems)
            if text is not None:
                section[key] = text
            return f"credential file beside the configuration, {beside}"
    problems.append(f"[{where}] {key} is required: put it in {beside or cred_name} (mode 0600, the unit's "
                    f"LoadCredential=), or give it as {file_key}, inline, or in ${env_name}")
    return ""


def _format_error(err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc[:1] == ["fields"]:
        # [[fields]] tables are an array: name the table by its number, as syncd.fieldmap does.
        where = f"[[fields]] #{int(loc[1]) + 1}" if len(loc) > 1 and loc[1].isdigit() else "[[fields]]"
        return f"{where}: {str(err['msg']).removeprefix('Value error, ')}; each [[fields]] table holds whmcs, " \
               "wordpress, kind, direction, apply and default"
    if err["type"] == "extra_forbidden":
        section = ".".join(loc[:-1])
        return f"[{section}] unknown key {loc[-1]!r}" if section else f"unknown section or key {loc[-1]!r}"
    if err["type"] == "missing":
        section = ".".join(loc[:-1])
        return f"[{section}] {loc[-1]} is required" if section else f"[{loc[-1]}] section is required"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in ("bool_parsing", "bool_type"):
        msg = "must be true or false (TOML's words, without quotes)"
    section = ".".join(loc[:-1])
    where = f"[{section}] {loc[-1]}" if section else loc[-1]
    # Never echo the input value: it may be a secret.
    return f"{where}: {msg}"


def _raw_field_map_problems(raw: Mapping[str, Any]) -> list[str]:
    """The field map's problems when the rest of the configuration did not validate (what
    ``Settings`` would give it, read from the raw tables as far as they can be)."""
    tables = raw.get("fields", ())
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        return []  # already reported by the model
    wordpress = raw.get("wordpress")
    wordpress = wordpress if isinstance(wordpress, dict) else {}
    sync = raw.get("sync")
    try:
        direction = Direction(sync.get("direction", "both")) if isinstance(sync, dict) else Direction.BOTH
    except ValueError:
        direction = Direction.BOTH  # a bad direction is reported on its own; no "wider than" besides
    preset = wordpress.get("preset", "")
    company = wordpress.get("company_meta_key", "")
    _rules, found = fieldmap.resolve(tables, preset=preset if isinstance(preset, str) else "",
                                     sync_direction=direction,
                                     company_key=(company.strip() if isinstance(company, str) else "")
                                     or "billing_company")
    return found


#: What ``need_secrets`` may say: every secret read (``True``), none needed (``False``, ``status``),
#: or ``"check"`` (``check-config``): every configured secret read and checked, but a credential
#: file only root may read is fine (the service gets it from systemd).
NeedSecrets = bool | Literal["check"]


def parse(data: Mapping[str, Any], env: Mapping[str, str] | None = None, source: str = "", *,
          need_secrets: NeedSecrets = True) -> Settings:
    """Validate a parsed TOML document; every problem in one ConfigError. ``need_secrets=False``
    (``syncd status``) leaves a secret that cannot be found unset instead of an error; ``"check"``:
    see ``NeedSecrets``. ``source`` is the file's path: the credential files are looked for beside it."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    problems: list[str] = []
    for internal in ("source", "secret_sources"):
        if internal in raw:
            problems.append(f"unknown section or key {internal!r}")
            raw.pop(internal)
    sources: dict[str, str] = {}
    secret_problems = problems if need_secrets else []
    for side, key, env_name in (("whmcs", "secret", ENV_WHMCS_SECRET),
                                ("wordpress", "application_password", ENV_WP_PASSWORD)):
        section = raw.get(side)
        if isinstance(section, dict):
            raw[side] = section = dict(section)
            sources[side] = _resolve_secret(section, key, env_name, env, secret_problems, side, source=source,
                                            hidden_ok=need_secrets == "check")
    intake = raw.get("intake")
    if isinstance(intake, dict) and isinstance(intake.get("listen"), str) and intake["listen"].strip():
        # Only an intake that is on needs its secret (the companions sign with it).
        raw["intake"] = intake = dict(intake)
        sources["intake"] = _resolve_secret(intake, "secret", ENV_INTAKE_SECRET, env, secret_problems, "intake",
                                            source=source, hidden_ok=need_secrets == "check",
                                            credential=INTAKE_CREDENTIAL)
    try:
        settings = Settings.model_validate({**raw, "source": source, "secret_sources": sources})
    except ValidationError as exc:
        problems.extend(_format_error(e) for e in exc.errors())
        settings = None
        problems += _raw_field_map_problems(raw)  # every problem together, the field map's too
    if settings is not None:
        role = settings.wordpress.new_users.role
        if role in settings.sync.exclude_wp_roles:
            problems.append(
                f"[wordpress.new_users] role {role!r} is in [sync] exclude_wp_roles: "
                "users created with it would never be synchronised"
            )
        _rules, found = fieldmap.resolve(settings.fields, preset=settings.wordpress.preset,
                                         sync_direction=settings.sync.direction,
                                         company_key=settings.company_key())
        problems += found
        problems += settings.intake.problems()
    if problems or settings is None:
        raise ConfigError(f"invalid configuration{f' in {source}' if source else ''}:", sorted(set(problems)))
    return settings


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None, *,
         need_secrets: NeedSecrets = True) -> Settings:
    """Find, read and validate the configuration (``need_secrets``: see ``parse``)."""
    env = os.environ if env is None else env
    found = find_config(path, env)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{found} is not a text file in UTF-8: is it the right file?") from None
    except PermissionError:
        raise _unreadable(found, "", "permission denied") from None
    except OSError as exc:
        raise _unreadable(found, "", exc.strerror or str(exc)) from None
    # Checked on this host, not in parse(): where the state store lives must exist already.
    sync = data.get("sync")
    url = sync.get("state_url") if isinstance(sync, dict) else None
    url = url if isinstance(url, str) else SyncSettings.model_fields["state_url"].default
    here = [] if state_url.value_problems(url) else [
        f"[sync] state_url: {problem}" for problem in state_url.directory_problems(url)]
    try:
        settings = parse(data, env, source=str(found), need_secrets=need_secrets)
    except ConfigError as exc:
        if not here:
            raise
        raise ConfigError(f"invalid configuration in {found}:", sorted(set(exc.problems + here))) from None
    if here:
        raise ConfigError(f"invalid configuration in {found}:", here)
    return settings
