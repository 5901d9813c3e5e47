"""What ``syncd status`` says of the event intake (DESIGN §10): off, or the running daemon's counts
of events received, accepted, refused by reason, waiting, coalesced and dropped, and the latency
from an event to the end of its one-user run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from syncd.render.items import JSON, plural

if TYPE_CHECKING:
    from syncd.app import IntakeView

#: Why each refusal status is given (the protocol of DESIGN §10).
REFUSALS = {"401": "signature or timestamp", "400": "not the protocol's shape", "413": "over 16 KiB",
            "403": "password without TLS", "404": "unknown path", "405": "not POST"}


def _number(report: Mapping[str, Any], key: str) -> int:
    value = report.get(key, 0)
    return value if isinstance(value, int) else 0


def intake_lines(view: IntakeView | None) -> list[str]:
    if view is None:
        return []  # the intake is off: status says nothing of it (its JSON says "enabled": false)
    report = view.report
    if report is None:
        return [f"Event intake: on {view.listen}, no report yet: is `syncd run` running? (it writes one every "
                "few seconds while the intake is on)"]
    refused = report.get("refused") if isinstance(report.get("refused"), dict) else {}
    assert isinstance(refused, dict)
    parts = [f"{n} {REFUSALS.get(code, code)} ({code})" for code, n in sorted(refused.items())
             if isinstance(n, int) and n]
    latency = report.get("latency_seconds") if isinstance(report.get("latency_seconds"), dict) else {}
    assert isinstance(latency, dict)
    if latency.get("samples"):
        took = (f"event to the end of its one-user run: p50 {latency.get('p50')} s, p95 {latency.get('p95')} s "
                f"over the last {plural(int(latency['samples']), 'run')}")
    else:
        took = "no event run yet"
    return [
        f"Event intake: on {view.listen} (report of pid {report.get('pid')}, {report.get('updated_at')})",
        f"  {plural(_number(report, 'received'), 'request')} received, {_number(report, 'accepted')} accepted, "
        f"refused: {', '.join(parts) if parts else 'none'}",
        f"  {plural(_number(report, 'queued'), 'user')} waiting now, {_number(report, 'coalesced')} coalesced, "
        f"{_number(report, 'dropped')} dropped for a full queue (a poll ran instead); "
        f"{plural(_number(report, 'event_runs'), 'event run')}; {took}",
    ]


def intake_json(view: IntakeView | None) -> JSON:
    if view is None:
        return {"enabled": False}
    return {"enabled": True, "listen": view.listen, "report": dict(view.report) if view.report is not None else None}
