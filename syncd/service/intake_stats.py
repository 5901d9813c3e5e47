"""What the running daemon's event intake has done, as a small JSON file ``syncd status`` reads.

``syncd status`` is another process, without the daemon's memory: the daemon writes this file
beside the SQLite state store (or in ``$STATE_DIRECTORY``, systemd's, for PostgreSQL) every few
seconds while the intake is on. It holds counts and latencies only: no email, id, body,
signature, secret or password.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd.state import url as state_url

FILE_NAME = "intake-stats.json"
REFUSAL_STATUSES = ("400", "401", "403", "404", "405", "413")


def path_for(url: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Where the report of the daemon using ``url`` is: beside its SQLite file, else in
    ``$STATE_DIRECTORY``; None where neither exists (the metrics endpoint still has it all)."""
    env = os.environ if env is None else env
    try:
        path = state_url.sqlite_path(state_url.parse(url))
    except Exception:  # an unusable URL is reported elsewhere; no report then
        path = None
    if path is not None:
        return path.parent / FILE_NAME
    directory = env.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(directory) / FILE_NAME if directory else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` (0-1) percentile of ``values``, None for none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[max(0, min(98, round(share * 100) - 1))]


def report(*, listen: str, received: int, accepted: int, refused: Mapping[str, int], queued: int, coalesced: int,
           dropped: int, runs: int, latencies: Sequence[float], now: datetime | None = None) -> dict[str, Any]:
    """The report's JSON object (``latencies``: the latest event-to-run-end seconds)."""
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return {
        "updated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "listen": listen,
        "received": received,
        "accepted": accepted,
        "refused": {status: int(refused.get(status, 0)) for status in REFUSAL_STATUSES},
        "queued": queued,
        "coalesced": coalesced,
        "dropped": dropped,
        "event_runs": runs,
        "latency_seconds": {"samples": len(latencies), "p50": None if p50 is None else round(p50, 3),
                            "p95": None if p95 is None else round(p95, 3)},
    }


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the report at once (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path | None) -> dict[str, Any] | None:
    """The report at ``path``; None where there is none or it cannot be read."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
