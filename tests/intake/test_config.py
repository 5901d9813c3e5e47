"""``[intake]`` (DESIGN §10): off by default; on, it needs a secret found like the sides' ones
(placeholders and short ones refused) and TLS off loopback; every problem named with its key;
``check-config`` as a process says so with exit 2."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from syncd import config
from syncd.errors import ConfigError
from tests.intake.harness import SECRET
from tests.intake.tls import self_signed

ROOT = Path(__file__).resolve().parent.parent.parent
BASE: dict[str, Any] = {
    "whmcs": {"url": "https://billing.example.com/", "identifier": "id", "secret": "s3cr3t-whmcs"},
    "wordpress": {"url": "https://www.example.com/", "username": "syncd", "application_password": "app pass word"},
}


def _parse(intake: dict[str, Any], env: dict[str, str] | None = None, source: str = "", **kw: Any) -> config.Settings:
    return config.parse({**BASE, "intake": intake}, env=env or {}, source=source, **kw)


def _problems(intake: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        _parse(intake, **kw)
    return str(exc.value)


def test_off_by_default_and_needs_no_secret_then() -> None:
    settings = config.parse(BASE, env={})
    assert settings.intake.enabled is False and settings.intake_secret is None
    assert _parse({"listen": ""}).intake.enabled is False


def test_on_loopback_with_a_secret() -> None:
    settings = _parse({"listen": "127.0.0.1:8787", "secret": SECRET})
    assert settings.intake.enabled and not settings.intake.tls
    assert settings.secret_sources.intake.startswith("inline")


def test_listen_without_a_secret_is_an_error_naming_where_to_put_it(tmp_path: Path) -> None:
    text = _problems({"listen": "127.0.0.1:8787"}, source=str(tmp_path / "syncd.toml"))
    assert "[intake] secret is required" in text and "intake_secret" in text and "SYNCD_INTAKE_SECRET" in text


def test_the_secret_is_looked_for_like_the_sides_ones(tmp_path: Path) -> None:
    source = str(tmp_path / "syncd.toml")
    (tmp_path / "intake_secret").write_text(SECRET + "\n")
    settings = _parse({"listen": "127.0.0.1:8787"}, source=source)
    assert settings.intake_secret is not None and settings.intake_secret.get_secret_value() == SECRET
    assert "credential file beside the configuration" in settings.secret_sources.intake
    env_settings = _parse({"listen": "127.0.0.1:8787"}, env={config.ENV_INTAKE_SECRET: SECRET + "-env"})
    assert env_settings.secret_sources.intake == f"${config.ENV_INTAKE_SECRET}"
    secret_file = tmp_path / "elsewhere"
    secret_file.write_text(SECRET)
    assert _parse({"listen": "127.0.0.1:8787", "secret_file": str(secret_file)}).secret_sources.intake.startswith(
        "secret_file")
    # status needs no secret at all
    assert _parse({"listen": "127.0.0.1:8787"}, need_secrets=False).intake.enabled


@pytest.mark.parametrize("secret", ["your-intake-secret", "changeme", "...", "xxxxxxxxxxxxxxxxxxxx"])
def test_a_placeholder_secret_is_refused(secret: str) -> None:
    assert "placeholder" in _problems({"listen": "127.0.0.1:8787", "secret": secret})


def test_a_short_secret_is_refused_without_being_echoed() -> None:
    text = _problems({"listen": "127.0.0.1:8787", "secret": "short-Secret1"})
    assert "too short" in text and "openssl rand" in text and "short-Secret1" not in text


@pytest.mark.parametrize("listen", [":8787", "0.0.0.0:8787", "192.0.2.10:8787", "[::]:8787"])
def test_off_loopback_without_tls_is_an_error_saying_what_to_do(listen: str) -> None:
    text = _problems({"listen": listen, "secret": SECRET})
    assert "not a loopback address" in text and "tls_cert" in text and "TLS proxy" in text


@pytest.mark.parametrize("listen", ["localhost:8787", "[::1]:8787", "127.0.0.1:0"])
def test_loopback_forms_need_no_tls(listen: str) -> None:
    assert _parse({"listen": listen, "secret": SECRET}).intake.enabled


def test_a_bad_listen_address_is_named() -> None:
    assert "[intake] listen" in _problems({"listen": "sync.example.com", "secret": SECRET})


def test_tls_needs_both_files_and_files_that_load(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    assert "give both" in _problems({"listen": "127.0.0.1:8787", "secret": SECRET, "tls_cert": str(cert)})
    missing = _problems({"listen": ":8787", "secret": SECRET, "tls_cert": str(cert), "tls_key": str(tmp_path / "no")})
    assert "does not exist" in missing
    wrong = _problems({"listen": ":8787", "secret": SECRET, "tls_cert": str(cert), "tls_key": str(cert)})
    assert "private key" in wrong
    settings = _parse({"listen": ":8787", "secret": SECRET, "tls_cert": str(cert), "tls_key": str(key)})
    assert settings.intake.tls


def test_unknown_intake_keys_are_refused() -> None:
    assert "unknown key 'port'" in _problems({"listen": "127.0.0.1:8787", "secret": SECRET, "port": 1})


def test_the_example_documents_every_intake_key_and_loads() -> None:
    text = (ROOT / "conf" / "syncd.example.toml").read_text()
    assert "[intake]" in text
    for key in config.IntakeSettings.model_fields:
        assert f"{key} =" in text, key
    env = {config.ENV_WHMCS_SECRET: "w-secret", config.ENV_WP_PASSWORD: "wp pass"}
    assert config.parse(tomllib.loads(text), env=env).intake.enabled is False


def test_the_intake_secret_is_redacted_from_logs() -> None:
    from syncd.logs import secret_values

    assert SECRET in secret_values(_parse({"listen": "127.0.0.1:8787", "secret": SECRET}))


def _config(tmp_path: Path, intake: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(f'[whmcs]\nurl = "https://b.example.com/"\nidentifier = "i"\nsecret = "whmcs-secret-1234"\n'
                    f'[wordpress]\nurl = "https://w.example.com/"\nusername = "u"\n'
                    f'application_password = "bcde FGHI jklm NOPQ"\n'
                    f'[sync]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n[intake]\n{intake}')
    return path


@pytest.mark.parametrize(("intake", "needle"), [
    ('listen = "0.0.0.0:8787"\nsecret = "' + SECRET + '"\n', "not a loopback address"),
    ('listen = "127.0.0.1:8787"\n', "[intake] secret is required"),
    ('listen = "127.0.0.1:8787"\nsecret = "your-secret"\n', "placeholder"),
])
def test_check_config_as_a_process_names_the_intake_problem(tmp_path: Path, intake: str, needle: str) -> None:
    path = _config(tmp_path, intake)
    out = subprocess.run([sys.executable, "-m", "syncd", "--config", str(path), "check-config"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert SECRET not in out.stderr + out.stdout


def test_check_config_accepts_a_good_intake(tmp_path: Path) -> None:
    path = _config(tmp_path, f'listen = "127.0.0.1:8787"\nsecret = "{SECRET}"\n')
    out = subprocess.run([sys.executable, "-m", "syncd", "--config", str(path), "check-config"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
