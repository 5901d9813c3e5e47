"""The configuration of DESIGN §3.2: TOML + environment + ``*_file`` secrets → one frozen Settings.

Validated once, at start; every problem is reported together in one ``ConfigError``;
unknown keys are rejected. Secrets are ``SecretStr`` so they never appear in a repr, a
log line or an error message. Lookup order of the file: ``--config``, ``$SYNCD_CONFIG``,
``./syncd.toml``, ``/etc/syncd/syncd.toml``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from syncd.errors import ConfigError
from syncd.model import Direction, Side

DEFAULT_LOCATIONS = (Path("syncd.toml"), Path("/etc/syncd/syncd.toml"))

#: WordPress roles that can manage users or options in core; never granted by sync (§5.6).
FORBIDDEN_ROLES = frozenset({"administrator", "super_admin"})

ENV_WHMCS_SECRET = "SYNCD_WHMCS_SECRET"
ENV_WP_PASSWORD = "SYNCD_WORDPRESS_APPLICATION_PASSWORD"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    currency: int = 1
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
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    verify_tls: bool = True
    concurrency: int = Field(default=2, ge=1, le=16)
    retries: int = Field(default=4, ge=0, le=10)

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
    page_size: int = Field(default=250, ge=1, le=2500)
    new_clients: NewClients = NewClients()


class WordPressSettings(_Connection):
    username: str
    application_password: SecretStr | None = None
    application_password_file: Path | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    new_users: NewUsers = NewUsers()
    company_meta_key: str = ""


class SyncSettings(_Strict):
    enabled: bool = True
    direction: Direction = Direction.BOTH
    priority: Side = Side.WHMCS
    interval_seconds: int = Field(default=300, ge=1)
    full_resync_cron: str = "0 3 * * *"
    state_url: str = "sqlite:////var/lib/syncd/state.db"
    exclude_wp_roles: tuple[str, ...] = ("administrator",)
    on_delete: Literal["ignore", "deactivate"] = "ignore"
    max_deletes: int = Field(default=10, ge=0)
    max_delete_percent: float = Field(default=50, ge=0, le=100)
    lock_wait_seconds: float = Field(default=10, ge=0)

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
        if v and len(v.split()) != 5:
            raise ValueError("must be a 5-field cron expression like '0 3 * * *' (or empty)")
        return v


class LogSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class MetricsSettings(_Strict):
    listen: str = ""  # e.g. "127.0.0.1:9464"; empty = no Prometheus endpoint


class Settings(_Strict):
    whmcs: WhmcsSettings
    wordpress: WordPressSettings
    sync: SyncSettings = SyncSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    source: str = ""  # where the settings came from (a path), for messages

    @property
    def whmcs_secret(self) -> SecretStr:
        assert self.whmcs.secret is not None  # resolved by load()
        return self.whmcs.secret

    @property
    def wordpress_password(self) -> SecretStr:
        assert self.wordpress.application_password is not None  # resolved by load()
        return self.wordpress.application_password

    def warnings(self) -> list[str]:
        out = []
        for name, conn in (("whmcs", self.whmcs), ("wordpress", self.wordpress)):
            if conn.is_plain_http_off_loopback:
                out.append(f"[{name}] url is plain http:// on a non-loopback host: secrets travel unencrypted")
            if not conn.verify_tls:
                out.append(f"[{name}] verify_tls = false: the server's certificate is not checked")
        return out


def find_config(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """The config file by DESIGN §3.1's order; ConfigError naming every place tried."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from --config) does not exist")
        return path
    if env.get("SYNCD_CONFIG"):
        path = Path(env["SYNCD_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"config file {path} (from $SYNCD_CONFIG) does not exist")
        return path
    for path in DEFAULT_LOCATIONS:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in DEFAULT_LOCATIONS)
    raise ConfigError(
        f"no configuration found: give --config FILE, set $SYNCD_CONFIG, or create one of {tried} "
        "(conf/syncd.example.toml is a commented template)"
    )


#: Names of the systemd credentials (``LoadCredential=``) read when nothing else gives a secret.
CREDENTIAL_NAMES = {"secret": "whmcs_secret", "application_password": "wordpress_app_password"}


def _resolve_secret(
    section: dict[str, Any], key: str, env_name: str, env: Mapping[str, str], problems: list[str], where: str
) -> None:
    """Fill ``section[key]`` from inline, ``<key>_file``, the environment, or a systemd credential."""
    file_key = f"{key}_file"
    inline = section.get(key)
    path = section.get(file_key)
    if inline and path:
        problems.append(f"[{where}] give {key} or {file_key}, not both")
        return
    if path:
        try:
            section[key] = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"[{where}] {file_key} = {path}: cannot read it ({exc.strerror})")
            return
    elif not inline and env.get(env_name):
        section[key] = env[env_name].strip()
    elif not inline and env.get("CREDENTIALS_DIRECTORY"):
        credential = Path(env["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAMES[key]
        if credential.is_file():
            section[key] = credential.read_text(encoding="utf-8").strip()
    if not section.get(key):
        problems.append(f"[{where}] {key} is required (inline, as {file_key}, or in ${env_name})")


def _format_error(err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden":
        section = ".".join(loc[:-1])
        return f"[{section}] unknown key {loc[-1]!r}" if section else f"unknown section or key {loc[-1]!r}"
    if err["type"] == "missing":
        section = ".".join(loc[:-1])
        return f"[{section}] {loc[-1]} is required" if section else f"[{loc[-1]}] section is required"
    msg = str(err["msg"]).removeprefix("Value error, ")
    section = ".".join(loc[:-1])
    where = f"[{section}] {loc[-1]}" if section else loc[-1]
    # Never echo the input value: it may be a secret.
    return f"{where}: {msg}"


def parse(data: Mapping[str, Any], env: Mapping[str, str] | None = None, source: str = "", *,
          need_secrets: bool = True) -> Settings:
    """Validate a parsed TOML document; every problem in one ConfigError. ``need_secrets=False``
    (``syncd status``) leaves a secret that cannot be found unset instead of an error."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    problems: list[str] = []
    if "source" in raw:
        problems.append("unknown section or key 'source'")
        raw.pop("source")
    whmcs = raw.get("whmcs")
    if isinstance(whmcs, dict):
        _resolve_secret(whmcs, "secret", ENV_WHMCS_SECRET, env, problems if need_secrets else [], "whmcs")
    wordpress = raw.get("wordpress")
    if isinstance(wordpress, dict):
        _resolve_secret(wordpress, "application_password", ENV_WP_PASSWORD, env, problems if need_secrets else [],
                        "wordpress")
    try:
        settings = Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        problems.extend(_format_error(e) for e in exc.errors())
        settings = None
    if settings is not None:
        role = settings.wordpress.new_users.role
        if role in settings.sync.exclude_wp_roles:
            problems.append(
                f"[wordpress.new_users] role {role!r} is in [sync] exclude_wp_roles: "
                "users created with it would never be synchronised"
            )
    if problems or settings is None:
        raise ConfigError(f"invalid configuration{f' in {source}' if source else ''}:", sorted(set(problems)))
    return settings


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None, *,
         need_secrets: bool = True) -> Settings:
    """Find, read and validate the configuration (``need_secrets``: see ``parse``)."""
    env = os.environ if env is None else env
    found = find_config(path, env)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {found}: {exc.strerror}") from None
    return parse(data, env, source=str(found), need_secrets=need_secrets)
