"""The WordPress companion's login fallback (``Syncd_Companion_Login``) with WordPress's functions as
stand-ins, for what the real site of ``test_live_login.py`` cannot be configured as: with
SYNCD_INTAKE_URL plain http to another host, or without the secret, the fallback sends nothing,
returns WordPress's error unchanged, says why in debug.log and in Site Health — and with it off
nothing of it runs. PHP 8.2 with every notice shown must print nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd import companions

FILE = Path(companions.__file__).parent / "wordpress" / "syncd-companion.php"

STANDINS = """<?php define('ABSPATH', '/'); define('WP_DEBUG', true); define('WP_DEBUG_LOG', true);
%(defines)s
$hooks = []; $sent = []; ini_set('error_log', __DIR__ . '/debug.log');
class WP_User {}
class WP_Error {
    public function __construct(public string $code = '') {}
    public function get_error_code() { return $this->code; }
}
function add_action($h, $f, $p = 10, $n = 1) { }
function add_filter($h, $f, $p = 10, $n = 1) { global $hooks; $hooks[$h] = $f; }
function register_deactivation_hook($f, $c) { }
function wp_parse_url($u) { return parse_url($u); }
function esc_html($t) { return htmlspecialchars($t); }
function wp_remote_post($url, $args) { global $sent; $sent[] = $url; return ['response' => ['code' => 200]]; }
function get_transient($k) { return false; }
function set_transient($k, $v, $t) { return true; }
function wp_json_encode($v, $o = 0) { return json_encode($v, $o); }
function is_wp_error($r) { return false; }
function wp_unslash($v) { return stripslashes($v); }
function wp_remote_retrieve_response_code($r) { return $r['response']['code']; }
function wp_remote_retrieve_body($r) { return '{"ok": false}'; }
$_SERVER['REMOTE_ADDR'] = '203.0.113.7';
require %(file)s;
$error = new WP_Error('incorrect_password');
$same = call_user_func($hooks['authenticate'], $error, 'ann@example.com', 'Pa55-word') === $error;
$health = isset($hooks['site_status_tests']) ? call_user_func($hooks['site_status_tests'], []) : [];
$status = isset($health['direct']['syncd_login_fallback'])
    ? call_user_func($health['direct']['syncd_login_fallback']['test']) : null;
$logged = is_file(__DIR__ . '/debug.log') ? file(__DIR__ . '/debug.log', FILE_IGNORE_NEW_LINES) : [];
echo json_encode(['same' => $same, 'sent' => $sent, 'logged' => $logged,
                  'health' => $status === null ? null : [$status['status'], $status['description']]]);
"""


def _run(tmp_path: Path, defines: dict[str, object]) -> dict[str, object]:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed (./scripts/test installs it)")
    lines = "\n".join(f"define({json.dumps(k)}, {json.dumps(v)});" for k, v in defines.items())
    script = tmp_path / "login.php"
    script.write_text(STANDINS % {"defines": lines, "file": json.dumps(str(FILE))}, encoding="utf-8")
    run = subprocess.run([php, "-d", "error_reporting=-1", "-d", "display_errors=1", str(script)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stdout + run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    return result


@pytest.mark.parametrize(("url", "secret", "why"), [
    ("http://sync.example.com:8787", "k" * 32, "must be https://"),
    ("http://127.0.0.1.example.com:8787", "k" * 32, "must be https://"),
    ("https://sync.example.com:8787", "", "must both be set"),
])
def test_a_fallback_that_cannot_run_safely_sends_nothing_and_says_why(tmp_path: Path, url: str, secret: str,
                                                                     why: str) -> None:
    result = _run(tmp_path, {"SYNCD_INTAKE_URL": url, "SYNCD_INTAKE_SECRET": secret, "SYNCD_LOGIN_FALLBACK": True})
    assert result["same"] is True and result["sent"] == []
    logged = result["logged"]
    assert isinstance(logged, list) and len(logged) == 1 and why in logged[0] and "Pa55-word" not in logged[0]
    health = result["health"]
    assert isinstance(health, list) and health[0] == "critical" and why in health[1]


@pytest.mark.parametrize("fallback", [None, False, 1, "true"])
def test_without_the_constant_set_to_true_nothing_of_it_runs(tmp_path: Path, fallback: object) -> None:
    defines: dict[str, object] = {"SYNCD_INTAKE_URL": "https://sync.example.com", "SYNCD_INTAKE_SECRET": "k" * 32}
    if fallback is not None:
        defines["SYNCD_LOGIN_FALLBACK"] = fallback
    result = _run(tmp_path, defines)
    assert result == {"same": True, "sent": [], "logged": [], "health": None}


@pytest.mark.parametrize("api", ["XMLRPC_REQUEST", "REST_REQUEST"])
def test_an_api_login_is_left_to_wordpress(tmp_path: Path, api: str) -> None:
    result = _run(tmp_path, {"SYNCD_INTAKE_URL": "https://sync.example.com", "SYNCD_INTAKE_SECRET": "k" * 32,
                             "SYNCD_LOGIN_FALLBACK": True, api: True})
    assert result["same"] is True and result["sent"] == [] and result["logged"] == []


def test_a_safe_configuration_asks_syncd_and_keeps_the_error_on_a_no(tmp_path: Path) -> None:
    result = _run(tmp_path, {"SYNCD_INTAKE_URL": "https://sync.example.com/", "SYNCD_INTAKE_SECRET": "k" * 32,
                             "SYNCD_LOGIN_FALLBACK": True})
    assert result["same"] is True and result["sent"] == ["https://sync.example.com/v1/verify"]
    assert result["logged"] == [] and result["health"] == ["good", result["health"][1]]  # type: ignore[index]
