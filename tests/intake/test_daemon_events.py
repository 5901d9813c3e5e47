"""`syncd run` as a process with the intake on and `interval_seconds = 3600` (DESIGN §10, issue 13):
an accepted event leads to a one-user run that writes the change to the other side within
seconds (no poll could have done it); hostile requests and a flood write nothing on either side
and the daemon keeps syncing; status and test-connection show the intake; SIGTERM stops it
cleanly; no secret, signature or password in its output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.companions.live import free_port, wait_for
from tests.e2e.emulated import Emulated, emulated
from tests.intake.harness import SECRET, body_of, headers
from tests.service.helpers import NotifyListener

WHMCS_SECRET = "events-whmcs-secret-51c0"
PASSWORD = "Correct-Horse-Battery-9"
WAIT = 60.0



@dataclass
class Running:
    world: Emulated
    proc: subprocess.Popen[str]
    listener: NotifyListener
    url: str
    stderr_path: Path

    def post(self, data: object, **kw: object) -> httpx.Response:
        body = body_of(data)
        return httpx.post(self.url + "/v1/events", content=body, headers=kw.get("hdrs") or headers(body),  # type: ignore[arg-type]
                          timeout=10)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def status(self) -> dict[str, object]:
        out = self.world.syncd("status", "--json")
        assert out.returncode == 0, out.stderr
        data: dict[str, object] = json.loads(out.stdout)
        return data


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with emulated(tmp_path, WHMCS_SECRET, interval_seconds=3600, full_resync_cron="") as world:
        ann = world.whmcs.add_client("ann@example.com", "Ann", "Archer")
        bob = world.whmcs.add_client("bob@example.com", "Bob", "Baker")
        assert ann and bob
        port = free_port()
        with world.config.open("a", encoding="utf-8") as f:
            f.write(f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n')
        listener = NotifyListener()
        stderr_path = tmp_path / "daemon.stderr"
        env = {**os.environ, "NOTIFY_SOCKET": listener.address}
        with stderr_path.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(world.config), "run"],
                                    stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        r = Running(world, proc, listener, f"http://127.0.0.1:{port}", stderr_path)
        try:
            listener.wait_line("READY=1", timeout=WAIT)
            # The first run (at start) links both clients to new WordPress users.
            wait_for(lambda: world.wp_emails() == ["admin@example.com", "ann@example.com", "bob@example.com"]
                  and _first_run_done(r), "the first run to create both users and finish")
            yield r
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            listener.close()


def _first_run_done(r: Running) -> bool:
    runs = r.status()["runs"]
    return isinstance(runs, list) and any(run["outcome"] == "ok" and not run.get("user") for run in runs)


def _wp_id(world: Emulated, email: str) -> int:
    return next(u.id for u in world.wp.users.values() if u.email == email)


def _client(world: Emulated, email: str) -> object:
    cid = world.whmcs.client_by_email(email)
    assert cid is not None
    return world.whmcs.clients[cid]


def test_an_event_reaches_the_other_side_within_seconds_and_sigterm_stops_cleanly(running: Running) -> None:
    world = running.world
    ann_wp = _wp_id(world, "ann@example.com")
    world.wp.users[ann_wp].last_name = "Archer-Smith"  # an edit in WordPress; the next poll is an hour away
    r = running.post({"side": "wordpress", "event": "changed", "id": ann_wp, "email": "ann@example.com"})
    assert r.status_code == 202, r.text
    wait_for(lambda: _client(world, "ann@example.com").lastname == "Archer-Smith",  # type: ignore[attr-defined]
          "the event's one-user run to update WHMCS")
    assert _client(world, "bob@example.com").lastname == "Baker"  # type: ignore[attr-defined]
    # A WHMCS edit announced with a password event (from loopback): a "changed" hint; the password goes nowhere.
    bob_id = world.whmcs.client_by_email("bob@example.com")
    world.whmcs.clients[bob_id].firstname = "Robert"  # type: ignore[index]
    r = running.post({"side": "whmcs", "event": "password", "id": bob_id, "email": "bob@example.com",
                      "password": PASSWORD})
    assert r.status_code == 202
    wait_for(lambda: world.wp.users[_wp_id(world, "bob@example.com")].first_name == "Robert", "bob's update")
    # The password reached no file syncd writes: not the state store, not the intake's report.
    for path in world.tmp.iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    # status: the event runs are recorded as such, and the intake's report is there.
    def reported() -> bool:
        intake = running.status()["intake"]
        assert isinstance(intake, dict)
        report = intake.get("report")
        return isinstance(report, dict) and report["event_runs"] >= 2
    wait_for(reported, "the intake's report for status")
    data = running.status()
    runs = data["runs"]
    assert isinstance(runs, list)
    assert any("event run" in str(run.get("message")) for run in runs), runs
    intake = data["intake"]
    assert isinstance(intake, dict) and intake["enabled"] is True
    report = intake["report"]
    assert isinstance(report, dict) and report["accepted"] >= 2 and report["latency_seconds"]["samples"] >= 2
    text = world.syncd("status").stdout
    assert "Event intake: on" in text and "event run" in text
    # test-connection: the intake answers and accepts the secret.
    check = world.syncd("test-connection", "--json")
    data = json.loads(check.stdout)
    intake_checks = [c for c in data["checks"] if c["side"] == "intake"]
    assert [c["ok"] for c in intake_checks] == [True, True], intake_checks
    # SIGTERM: a clean stop, exit 0.
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=WAIT) == 0
    err = running.stderr()
    assert "syncd daemon stopped" in err and "Traceback" not in err
    for needle in (SECRET, WHMCS_SECRET, PASSWORD, world.wp_password):
        assert needle not in err
    # With the daemon gone, test-connection says so plainly (exit 3).
    after = world.syncd("test-connection")
    assert after.returncode == 3 and "nothing answers at" in after.stdout and "syncd run" in after.stdout
    assert "Traceback" not in after.stdout + after.stderr


def test_hostile_requests_and_a_flood_write_nothing_and_the_daemon_keeps_syncing(running: Running) -> None:
    world = running.world
    bob_wp = _wp_id(world, "bob@example.com")
    world.wp.users[bob_wp].last_name = "Changed-But-Not-Announced"
    bob = {"side": "wordpress", "event": "changed", "id": bob_wp, "email": "bob@example.com"}
    body = body_of(bob)
    good = headers(body)
    stale = headers(body, timestamp=int(time.time()) - 301)
    statuses = [
        running.post(bob, hdrs={"Content-Type": "application/json"}).status_code,  # unsigned
        running.post(bob, hdrs=headers(body, secret="the-wrong-secret-entirely")).status_code,
        running.post(bob, hdrs=stale).status_code,
        running.post({**bob, "id": True}).status_code,
        running.post({**bob, "role": "administrator"}).status_code,
        running.post({**bob, "id": str(bob_wp)}).status_code,
        httpx.post(running.url + "/v1/events", content=b"{" + b" " * (17 * 1024) + b"}", headers=good,
                   timeout=10).status_code,
        httpx.post(running.url + "/v1/events", content=b"\xff\xfe", headers=headers(b"\xff\xfe"),
                   timeout=10).status_code,
        httpx.get(running.url + "/v1/events", timeout=10).status_code,
        # An event's body, signed, sent to the login check: not its shape (issue 14 routed /v1/verify).
        httpx.post(running.url + "/v1/verify", content=body, headers=good, timeout=10).status_code,
        httpx.post(running.url + "/v1/nothing", content=body, headers=good, timeout=10).status_code,
    ]
    assert statuses == [401, 401, 401, 400, 400, 400, 413, 400, 405, 400, 404]
    # A flood: thousands of requests, nearly all refused (1 in 40 valid, for accounts no side has,
    # each a one-user run that finds nobody); the server answers every one.
    with httpx.Client(timeout=10) as client:
        for i in range(2000):
            flood = body_of({"side": "whmcs", "event": "changed", "id": 10_000 + i})
            hdrs = headers(flood) if i % 40 == 0 else headers(flood, secret="flooding-with-a-wrong-secret")
            assert client.post(running.url + "/v1/events", content=flood, headers=hdrs).status_code in (202, 401)
    # Bob's WordPress edit was never announced by a valid event: WHMCS still has the old name
    # (a later valid event for someone else proves the queue was drained meanwhile).
    ann_wp = _wp_id(world, "ann@example.com")
    world.wp.users[ann_wp].first_name = "Annie"
    assert running.post({"side": "wordpress", "event": "changed", "id": ann_wp}).status_code == 202
    wait_for(lambda: _client(world, "ann@example.com").firstname == "Annie",  # type: ignore[attr-defined]
          "the daemon to keep syncing after the flood")
    assert _client(world, "bob@example.com").lastname == "Baker"  # type: ignore[attr-defined]
    assert running.proc.poll() is None
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=WAIT) == 0
    err = running.stderr()
    assert "Traceback" not in err
    for needle in (SECRET, WHMCS_SECRET, good["X-Syncd-Signature"], stale["X-Syncd-Signature"],
                   "Changed-But-Not-Announced"):
        assert needle not in err
    refused_lines = [ln for ln in err.splitlines() if "refused a request" in ln]
    assert 0 < len(refused_lines) <= 40, len(refused_lines)  # rate-limited, not one per request


def test_a_lock_held_by_another_process_delays_the_event_run_without_losing_it(running: Running) -> None:
    from syncd.service.lock import run_lock

    world = running.world
    ann_wp = _wp_id(world, "ann@example.com")
    state_url = f"sqlite:///{world.tmp / 'state.db'}"
    with run_lock(state_url, wait_seconds=5):  # a manual run, or the other host, holds it
        world.wp.users[ann_wp].last_name = "Held-Then-Synced"
        assert running.post({"side": "wordpress", "event": "changed", "id": ann_wp}).status_code == 202
        wait_for(lambda: "could not be made now" in running.stderr(), "the event run to find the lock held")
        assert _client(world, "ann@example.com").lastname == "Archer"  # type: ignore[attr-defined]
    wait_for(lambda: _client(world, "ann@example.com").lastname == "Held-Then-Synced",  # type: ignore[attr-defined]
          "the event run once the lock is free")
