"""`syncd run` as a process with the intake on and `[passwords] carry = true`, both emulators on
loopback: `POST /v1/verify` answers a linked client's WHMCS password with its WordPress user,
creates the account of a client that has none first, refuses a wrong password, the 6th try and
everything while WHMCS is down with the same `{"ok": false}`; a reload turning carry off refuses
every check; no password in the daemon's log (DEBUG), `status --json`, `history` or the state
database; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.companions.live import free_port, wait_for
from tests.e2e.emulated import Emulated, emulated
from tests.intake.harness import SECRET, body_of, headers
from tests.service.helpers import NotifyListener

WHMCS_SECRET = "verify-whmcs-secret-7e2d"
ANN = "Ann-WHMCS-Pa55 \"q\" é"
NEW = "New-WHMCS-Pa55!"
BOB = "Bob-WHMCS-Pa55?"
WRONG = "Wrong-Pa55-guess"
WAIT = 60.0


@dataclass
class Running:
    world: Emulated
    proc: subprocess.Popen[str]
    url: str
    stderr_path: Path

    def verify(self, login: str, password: str, address: str = "198.51.100.7") -> httpx.Response:
        body = body_of({"login": login, "password": password, "address": address,
                        "nonce": os.urandom(6).hex()})
        return httpx.post(self.url + "/v1/verify", content=body, headers=headers(body), timeout=30)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _config(world: Emulated, port: int, *, carry: bool) -> None:
    world.write_config(log={"level": "DEBUG"})
    with world.config.open("a", encoding="utf-8") as f:
        f.write(f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n'
                f'[passwords]\ncarry = {"true" if carry else "false"}\n')


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with emulated(tmp_path, WHMCS_SECRET, interval_seconds=3600, full_resync_cron="") as world:
        world.whmcs.add_client("ann@example.com", "Ann", "Archer", password=ANN)
        world.whmcs.add_client("bob@example.com", "Bob", "Baker", password=BOB)
        port = free_port()
        _config(world, port, carry=True)
        listener = NotifyListener()
        stderr_path = tmp_path / "daemon.stderr"
        env = {**os.environ, "NOTIFY_SOCKET": listener.address}
        with stderr_path.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(world.config), "run"],
                                    stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        r = Running(world, proc, f"http://127.0.0.1:{port}", stderr_path)
        try:
            listener.wait_line("READY=1", timeout=WAIT)
            wait_for(lambda: "bob@example.com" in world.wp_emails() and "last sync ok" in r.stderr(), "the first run")
            yield r
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            listener.close()


def _wp_id(world: Emulated, email: str) -> int:
    return next(u.id for u in world.wp.users.values() if u.email == email)


def test_verify_answers_from_whmcs_creates_first_and_refuses_alike(running: Running, tmp_path: Path) -> None:
    world = running.world
    ann = _wp_id(world, "ann@example.com")
    login = world.wp.users[ann].login

    assert running.verify("ann@example.com", ANN).json() == {"ok": True, "user_id": ann}
    assert running.verify(login, ANN).json() == {"ok": True, "user_id": ann}  # a username, resolved through REST
    assert running.verify("ann@example.com", WRONG).json() == {"ok": False}
    assert running.verify("nobody@example.com", ANN).json() == {"ok": False}

    # A client with no WordPress account: the one-user run creates it before the answer.
    world.whmcs.add_client("new@example.com", "New", "Comer", password=NEW)
    answer = running.verify("new@example.com", NEW).json()
    assert answer == {"ok": True, "user_id": _wp_id(world, "new@example.com")}

    # Five wrong tries for Bob (from five addresses): the right password is refused next, WHMCS not asked.
    for n in range(5):
        assert running.verify("BOB@example.com", WRONG, f"203.0.113.{n + 1}").json() == {"ok": False}
    asked = world.whmcs.calls["ValidateLogin"]
    assert running.verify("bob@example.com", BOB, "203.0.113.99").json() == {"ok": False}
    assert world.whmcs.calls["ValidateLogin"] == asked
    assert "the login 'bob@example.com' had 5 failed tries" in running.stderr()

    # WHMCS down: refused the same way, a WARNING, not counted; the daemon goes on.
    world.whmcs.stop()
    assert running.verify("ann@example.com", ANN, "192.0.2.50").json() == {"ok": False}
    wait_for(lambda: "WARNING" in running.stderr() and "refused 'ann@example.com'" in running.stderr(), "the warning")
    assert running.proc.poll() is None

    # A reload turning carry off: every check refused, said once.
    world.whmcs.start(port=int(world.whmcs_url.rsplit(":", 1)[1].strip("/")))
    _config(world, int(running.url.rsplit(":", 1)[1]), carry=False)
    running.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in running.stderr(), "the reload")
    assert running.verify("ann@example.com", ANN, "192.0.2.60").json() == {"ok": False}
    assert running.verify("ann@example.com", ANN, "192.0.2.61").json() == {"ok": False}
    assert running.stderr().count("[passwords] carry is off, so it was refused") == 1

    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=WAIT) == 0

    # No password anywhere syncd writes or shows.
    log = running.stderr()
    assert "Traceback" not in log and "HTTP Request: POST" in log
    status = world.syncd("status", "--json")
    history = world.syncd("history", "ann@example.com")
    assert status.returncode in (0, 1) and history.returncode == 0, status.stderr + history.stderr
    json.loads(status.stdout)
    state = [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db") or p.suffix == ".json"]
    for password in (ANN, NEW, BOB, WRONG):
        for text in (log, status.stdout, status.stderr, history.stdout, history.stderr):
            assert password not in text and password.encode("unicode_escape").decode() not in text, password
        assert all(password.encode() not in data for data in state), password
    for needle in (SECRET, WHMCS_SECRET, world.wp_password):
        assert needle not in log


def test_the_companion_command_says_how_to_turn_the_login_fallback_on(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "syncd", "companion", "wordpress", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "define('SYNCD_LOGIN_FALLBACK', true);" in out.stdout and "[passwords] carry = true" in out.stdout
    assert "define('SYNCD_LOGIN_FALLBACK', true);" in (tmp_path / "syncd-companion.php").read_text()
