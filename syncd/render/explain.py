"""``syncd explain EMAIL``: one user on both sides, its link, and what a run would do and why."""

from __future__ import annotations

from syncd.model import Link, Record, Side
from syncd.render.fields import action_json, action_line, field_state_lines
from syncd.render.items import JSON, link_json, record_json
from syncd.sync.actions import Action
from syncd.sync.explain import Explanation


def explain_text(info: Explanation) -> str:
    """The explanation in plain words, one line per record, link and planned item."""
    if not info.found:
        return f"{info.key}: on neither side, and in no link."
    lines = [f"{info.key}:"]
    for side in (Side.WHMCS, Side.WORDPRESS):
        records = info.records(side)
        if not records:
            lines.append(f"  {side.display}: no account with this email")
        lines += [f"  {side.display}: {_record_line(r)}" for r in records]
    lines += [f"  link: {_link_line(link)}" for link in info.links]
    if not info.links:
        lines.append("  link: none yet")
    if info.fields:
        lines.append("  mapped fields:")
        lines += [f"    {line}" for line in field_state_lines(info.fields)]
    lines += [f"  a run would {_action(info, a)}" for a in info.actions]
    if not info.actions:
        lines.append("  a run would do nothing for this user")
    labels = {f.rule.name: f.label for f in info.mapped}
    for c in info.conflicts:
        lines.append(f"  conflict on {labels.get(c.field, c.field)}: {c.winner.display} wins with {c.winning!r}; "
                     f"{c.winner.other.display}'s {c.losing!r} is overwritten")
    lines += [f"  problem ({p.side.display}, field {labels.get(p.field, p.field)}): {p.message}"
              for p in info.problems]
    for d in info.duplicates:
        ids = ", ".join(f"#{i}" for i in d.remote_ids)
        lines.append(f"  duplicate: {len(d.remote_ids)} {d.side.display} accounts share this email ({ids}); "
                     "all are left alone until only one has it")
    lines += [f"  left alone: {s.reason}" for s in info.skips]
    if info.guard:
        lines.append(f"  note: {info.guard}")
    return "\n".join(lines)


def _action(info: Explanation, action: Action) -> str:
    return action_line(action, info.actions, info.conflicts, info.mapped, info.direction)


_SHOWN = frozenset({"email", "first_name", "last_name", "company"})


def _record_line(r: Record) -> str:
    names = " ".join(v for v in (r.fields.get("first_name", ""), r.fields.get("last_name", "")) if v)
    extra = []
    if r.side is Side.WORDPRESS:
        extra.append("roles " + (",".join(r.roles) or "none"))
    if r.status:
        extra.append(f"status {r.status}")
    company = r.fields.get("company")
    if company:
        extra.append(f"company {company!r}")
    # The mapped fields of the field map (DESIGN §9), by their common (WHMCS) name, as read.
    extra += [f"{name} {value!r}" for name, value in sorted(r.fields.items())
              if name not in _SHOWN and value]
    return f"#{r.remote_id} {names or '(no name)'} <{r.fields.get('email', '')}>" + (
        f" ({'; '.join(extra)})" if extra else ""
    )


def _link_line(link: Link) -> str:
    text = f"WHMCS client #{link.whmcs_id} ⇄ WordPress user #{link.wp_id}"
    for word, sides in (("gone", link.gone), ("deactivated", link.deactivated)):
        if sides:
            text += f"; {word} on {', '.join(sorted(s.value for s in sides))}"
    return text


def verdict(info: Explanation) -> str:
    """The explanation in a few lines, for the JSON's ``verdict``."""
    if not info.found:
        return f"{info.key} is on neither side and in no link."
    lines = [f"a run would {_action(info, a)}" for a in info.actions]
    lines += [f"conflict on {c.field}: {c.winner.value} wins with {c.winning!r} over {c.losing!r}"
              for c in info.conflicts]
    lines += [f"problem on {p.side.value}: {p.field} {p.message}" for p in info.problems]
    lines += [f"duplicate: several {d.side.value} accounts share this email ({list(d.remote_ids)}); left alone"
              for d in info.duplicates]
    lines += [f"left alone: {s.reason}" for s in info.skips]
    if not lines:
        lines.append("in sync: a run would do nothing for this user.")
    if info.guard:
        lines.append(f"note: the run as a whole would stop: {info.guard}")
    return "\n".join(lines)


def explain_json(info: Explanation) -> JSON:
    return {
        "key": info.key,
        "found": info.found,
        "whmcs": [record_json(r) for r in info.whmcs],
        "wordpress": [record_json(r) for r in info.wordpress],
        "links": [link_json(link) for link in info.links],
        "actions": [action_json(a, info.actions, info.conflicts, info.mapped, info.direction) for a in info.actions],
        "conflicts": [c.to_json() for c in info.conflicts],
        "problems": [p.to_json() for p in info.problems],
        "duplicates": [d.to_json() for d in info.duplicates],
        "skips": [s.to_json() for s in info.skips],
        "guard": info.guard,
        "verdict": verdict(info),
        "mapped_fields": [f.to_json() for f in info.mapped],
        "fields": list(info.fields),
    }

