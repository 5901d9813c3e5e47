"""The configuration contract of DESIGN §3.2: defaults, lookup order, secrets, all problems at once."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from syncd import config
from syncd.errors import ConfigError
from syncd.model import Direction, Side

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = {
    "whmcs": {"url": "https://billing.example.com/", "identifier": "id", "secret": "s3cr3t-whmcs"},
    "wordpress": {"url": "https://www.example.com/", "username": "syncd", "application_password": "app pass word"},
}


def test_the_example_file_loads_and_documents_every_key() -> None:
    # parse(), not load(): the example's state directory (/var/lib/syncd) need not exist here. Its
    # secrets are commented out (the credential files are the recommended way): given by environment.
    env = {config.ENV_WHMCS_SECRET: "w-secret", config.ENV_WP_PASSWORD: "wp pass"}
    settings = config.parse(tomllib.loads((ROOT / "conf" / "syncd.example.toml").read_text()), env=env)
    assert settings.sync.direction is Direction.BOTH
    assert settings.sync.priority is Side.WHMCS
    text = (ROOT / "conf" / "syncd.example.toml").read_text()
    # Every settable key of every section appears in the example (commented or not).
    for section_name, model in [
        ("whmcs", config.WhmcsSettings), ("wordpress", config.WordPressSettings),
        ("sync", config.SyncSettings), ("log", config.LogSettings), ("metrics", config.MetricsSettings),
        ("whmcs.new_clients", config.NewClients), ("wordpress.new_users", config.NewUsers),
        ("whmcs.new_clients.dummy", config.DummyValues),
    ]:
        assert f"[{section_name}]" in text
        for key in model.model_fields:
            if key in ("new_clients", "new_users", "dummy"):
                continue
            assert f"{key} =" in text, f"{section_name}.{key} is not documented in conf/syncd.example.toml"


def test_defaults_are_the_designs() -> None:
    s = config.parse(MINIMAL, env={})
    assert s.sync.direction is Direction.BOTH and s.sync.priority is Side.WHMCS
    assert s.sync.interval_seconds == 300 and s.sync.full_resync_cron == "0 3 * * *"
    assert s.sync.on_delete == "ignore" and s.sync.max_deletes == 10 and s.sync.max_delete_percent == 50
    assert s.sync.exclude_wp_roles == ("administrator",)
    assert s.sync.lock_wait_seconds == 10
    assert s.wordpress.new_users.username == "email" and s.wordpress.new_users.role == "subscriber"
    assert s.whmcs.new_clients.missing_fields == "dummy" and s.whmcs.new_clients.dummy.country == "US"


def test_every_problem_is_reported_together_and_unknown_keys_rejected() -> None:
    data = {
        "whmcs": {"url": "ftp://x", "identifier": "id", "secret": "s", "bogus": 1},
        "wordpress": {"url": "https://w.example/", "username": "u", "application_password": "p"},
        "sync": {"direction": "sideways", "priority": "nobody", "max_deletes": -1},
        "extra": {},
    }
    with pytest.raises(ConfigError) as exc:
        config.parse(data, env={})
    text = str(exc.value)
    for needle in ("[whmcs] url", "unknown key 'bogus'", "[sync] direction", "[sync] priority",
                   "[sync] max_deletes", "'extra'"):
        assert needle in text, text
    assert exc.value.exit_code == 2


def test_a_switch_that_is_not_true_or_false_says_what_it_takes() -> None:
    data = {**MINIMAL, "passwords": {"carry": "sometimes"},
            "whmcs": {**MINIMAL["whmcs"], "password_reset_on_wp_change": [1]}}
    with pytest.raises(ConfigError) as exc:
        config.parse(data, env={})
    text = str(exc.value)
    assert "[passwords] carry: must be true or false" in text, text
    assert "[whmcs] password_reset_on_wp_change: must be true or false" in text, text
    assert "sometimes" not in text  # a value is never echoed


def test_administrator_is_always_excluded_and_never_granted() -> None:
    data = {**MINIMAL, "sync": {"exclude_wp_roles": ["editor"]}}
    assert config.parse(data, env={}).sync.exclude_wp_roles == ("editor", "administrator")
    bad = {**MINIMAL, "wordpress": {**MINIMAL["wordpress"], "new_users": {"role": "administrator"}}}
    with pytest.raises(ConfigError, match="can manage users or options"):
        config.parse(bad, env={})


def test_secrets_inline_file_or_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "whmcs_secret"
    secret_file.write_text("from-file\n")
    data = {
        "whmcs": {"url": "https://b.example/", "identifier": "id", "secret_file": str(secret_file)},
        "wordpress": {"url": "https://w.example/", "username": "u"},
    }
    s = config.parse(data, env={"SYNCD_WORDPRESS_APPLICATION_PASSWORD": "from-env"})
    assert s.whmcs_secret.get_secret_value() == "from-file"
    assert s.wordpress_password.get_secret_value() == "from-env"
    with pytest.raises(ConfigError) as exc:
        config.parse(data, env={})
    assert "application_password is required" in str(exc.value)


def test_secrets_from_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "whmcs_secret").write_text("cred-whmcs\n")
    (tmp_path / "wordpress_app_password").write_text("cred-wp\n")
    data = {
        "whmcs": {"url": "https://b.example/", "identifier": "id"},
        "wordpress": {"url": "https://w.example/", "username": "u"},
    }
    s = config.parse(data, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert s.whmcs_secret.get_secret_value() == "cred-whmcs"
    assert s.wordpress_password.get_secret_value() == "cred-wp"


def test_secrets_never_appear_in_repr_or_errors() -> None:
    s = config.parse(MINIMAL, env={})
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "s3cr3t-whmcs" not in text and "app pass word" not in text
    bad = {**MINIMAL, "whmcs": {**MINIMAL["whmcs"], "timeout_seconds": "s3cr3t-whmcs"}}
    with pytest.raises(ConfigError) as exc:
        config.parse(bad, env={})
    assert "s3cr3t-whmcs" not in str(exc.value)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    for p in (a, b):
        p.write_text("")
    monkeypatch.chdir(tmp_path)
    assert config.find_config(a, {"SYNCD_CONFIG": str(b)}) == a
    assert config.find_config(None, {"SYNCD_CONFIG": str(b)}) == b
    (tmp_path / "syncd.toml").write_text("")
    assert config.find_config(None, {}) == Path("syncd.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        config.find_config(tmp_path / "missing.toml", {})


def test_plain_http_warns_unless_loopback() -> None:
    data = {**MINIMAL, "whmcs": {**MINIMAL["whmcs"], "url": "http://billing.example.com/"},
            "wordpress": {**MINIMAL["wordpress"], "url": "http://127.0.0.1:8080/"}}
    warnings = config.parse(data, env={}).warnings()
    assert len(warnings) == 1 and warnings[0].startswith("[whmcs]")


def test_example_is_valid_toml() -> None:
    tomllib.loads((ROOT / "conf" / "syncd.example.toml").read_text())


def test_every_number_has_a_range_that_the_example_documents() -> None:
    text = (ROOT / "conf" / "syncd.example.toml").read_text()
    models = [config.WhmcsSettings, config.WordPressSettings, config.SyncSettings, config.LogSettings,
              config.MetricsSettings, config.NewClients, config.NewUsers, config.DummyValues]
    for model in models:
        for name, field in model.model_fields.items():
            if field.annotation not in (int, float):
                continue
            bounds = config.bounds_of(field.metadata)
            assert bounds is not None, f"{model.__name__}.{name} has no range"
            low, high = (config._number(b) for b in bounds)
            assert f"{low}-{high}" in text, f"{model.__name__}.{name}: the example does not say {low}-{high}"


def test_cron_aliases_become_their_five_fields_and_log_levels_any_case() -> None:
    s = config.parse({**MINIMAL, "sync": {"full_resync_cron": " @Weekly "}, "log": {"level": "warning"}}, env={})
    assert s.sync.full_resync_cron == "0 0 * * 0" and s.log.level == "WARNING"
    assert config.parse({**MINIMAL, "sync": {"full_resync_cron": ""}}, env={}).sync.full_resync_cron == ""
