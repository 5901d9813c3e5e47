"""``test-connection``'s intake checks against a real intake: OK with the same secret; a different
secret (a daemon not reloaded) and another program on the port are said as such; off: no check."""

from __future__ import annotations

import threading
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from syncd import config
from syncd.app import IntakeView
from syncd.checks import intake as intake_checks
from syncd.render.intake import intake_json, intake_lines
from tests.intake.harness import SECRET, served


def _settings(port: int, secret: str = SECRET) -> config.Settings:
    return config.parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-123"},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
        "intake": {"listen": f"127.0.0.1:{port}", "secret": secret},
    }, env={})


def test_off_means_no_intake_check() -> None:
    settings = config.parse({
        "whmcs": {"url": "https://b.example.com/", "identifier": "i", "secret": "whmcs-secret-123"},
        "wordpress": {"url": "https://w.example.com/", "username": "u", "application_password": "bcde FGHI jklm"},
    }, env={})
    assert intake_checks.run(settings) == []


def test_the_same_secret_passes_and_queues_nothing() -> None:
    with served() as s:
        checks = intake_checks.run(_settings(s.port))
        assert [c.ok for c in checks] == [True, True], checks
        assert len(s.queue) == 0


def test_every_address_is_probed_on_loopback() -> None:
    base = _settings(8787)
    every = base.model_copy(update={"intake": base.intake.model_copy(update={"listen": ":8787"})})
    assert intake_checks.probe_url(every) == "http://127.0.0.1:8787/v1/probe"


def test_another_secret_is_said_with_what_to_do() -> None:
    with served() as s:
        checks = intake_checks.run(_settings(s.port, secret="a-different-secret-value"))
        assert not checks[1].ok and "refused this configuration's signature" in checks[1].detail
        assert "reload" in checks[1].fix


def test_another_program_on_the_port_is_said() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    server: WSGIServer = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        checks = intake_checks.run(_settings(server.server_port))
        assert not checks[1].ok and "HTTP 200" in checks[1].detail and "another program" in checks[1].fix
    finally:
        server.shutdown()
        server.server_close()


def test_status_lines_of_the_intake() -> None:
    assert intake_lines(None) == [] and intake_json(None) == {"enabled": False}
    waiting = intake_lines(IntakeView("127.0.0.1:8787", None))
    assert "no report yet" in waiting[0] and "syncd run" in waiting[0]
    report = {"pid": 1, "updated_at": "2026-01-01T00:00:00+00:00", "received": 10, "accepted": 7,
              "refused": {"401": 2, "400": 1, "403": 0, "404": 0, "405": 0, "413": 0}, "queued": 1,
              "coalesced": 3, "dropped": 0, "event_runs": 4,
              "latency_seconds": {"samples": 4, "p50": 0.4, "p95": 1.2}}
    text = "\n".join(intake_lines(IntakeView("127.0.0.1:8787", report)))
    for needle in ("10 requests received, 7 accepted", "2 signature or timestamp (401)",
                   "1 not the protocol's shape (400)", "1 user waiting now, 3 coalesced", "4 event runs",
                   "p50 0.4 s, p95 1.2 s"):
        assert needle in text, (needle, text)
    assert intake_json(IntakeView("127.0.0.1:8787", report))["report"] == report
