"""``syncd test-connection``: checks that each print OK or a fix in plain words (DESIGN §6.3).

Each side's module yields ``Check`` results; the CLI prints them and exits 3 if any failed.
A write permission is probed only with a call that cannot succeed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from syncd.config import Settings


@dataclass(frozen=True)
class Check:
    """One check: ``ok`` with a short ``detail``, or not ok with the ``fix`` to apply."""

    side: str
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"[{self.side}] OK    {self.name}" + (f": {self.detail}" if self.detail else "")
        text = f"[{self.side}] FAIL  {self.name}" + (f": {self.detail}" if self.detail else "")
        return text + (f"\n        fix: {self.fix}" if self.fix else "")


def secret_sources(settings: Settings) -> dict[str, str]:
    """Where each side's secret was read from (item 9: a copied placeholder must not hide the
    credential file): ``inline in FILE``, ``secret_file = PATH``, ``$SYNCD_WHMCS_SECRET``,
    ``systemd credential PATH``, ``credential file beside the configuration, PATH``. Never a value."""
    sources = {"whmcs": settings.secret_sources.whmcs, "wordpress": settings.secret_sources.wordpress}
    if settings.intake.enabled:
        sources["intake"] = settings.secret_sources.intake
    return sources


def secret_lines(sources: Mapping[str, str]) -> str:
    """``test-connection``'s first lines: which source each secret came from."""
    what = {"whmcs": "API secret", "wordpress": "application password", "intake": "intake secret"}
    return "\n".join(f"[{side}] {what.get(side, 'secret')} read from {source or 'nowhere'}"
                     for side, source in sources.items())


def checks_json(checks: Sequence[Check], warnings: Sequence[str] = (),
                secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``syncd test-connection --json``: every check with its side, name, ok, message and fix, and
    where each secret was read from (``secrets``)."""
    failed = sum(1 for c in checks if not c.ok)
    return {
        "ok": failed == 0,
        "failed": failed,
        "warnings": list(warnings),
        "secrets": dict(secrets or {}),
        "checks": [{"side": c.side, "name": c.name, "ok": c.ok, "message": c.detail, "fix": c.fix} for c in checks],
    }
