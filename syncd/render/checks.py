"""``syncd check-config``: the verdict on a configuration, as text and as one JSON object.

(``syncd test-connection``'s lines are the checks' own, ``syncd.checks``.) A configuration that
is valid says so with the field map it gives (DESIGN §9): each mapped field by the names the
operator wrote, and which of the preset's fields a ``[[fields]]`` table replaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncd.render.items import JSON
from syncd.sync.fieldview import MappedField


def config_ok_text(source: str, mapped: Sequence[MappedField], notes: Sequence[str]) -> str:
    lines = [f"OK: {source} is valid (neither side was called; `syncd test-connection` checks them)"]
    if mapped:
        lines.append(f"field map ([[fields]], [wordpress] preset): {len(mapped)} "
                     f"field{'' if len(mapped) == 1 else 's'}")
        lines += [f"  {f.describe()}" for f in mapped]
        lines.append("  (whether WordPress exposes each meta key, and WHMCS each field, is for "
                     "`syncd test-connection` to say)")
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def config_ok_json(source: str, warnings: Sequence[str], mapped: Sequence[MappedField],
                   notes: Sequence[str]) -> JSON:
    return {"ok": True, "exit_code": 0, "source": source, "problems": [], "warnings": list(warnings),
            "mapped_fields": [f.to_json() for f in mapped], "notes": list(notes)}


def config_failure_json(message: str, problems: Sequence[str], exit_code: int) -> JSON:
    """A configuration that does not load: its message and every problem, each naming its key."""
    return {"ok": False, "exit_code": exit_code, "message": message, "problems": list(problems)}
