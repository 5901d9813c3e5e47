"""Stage 4, the safety guard (DESIGN §5.7): a plan that would deactivate or unlink too many users,
or that sees one side empty while links exist, must stop before it writes anything.

The guard only says why, in plain words; the engine refuses a blocked plan, and ``--force``
(``Policy.force``) is what lets it through. It looks at the whole plan, so it comes last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from syncd.model import Side, Snapshot
from syncd.sync.policy import Policy


def guard(whmcs: Snapshot, wp: Snapshot, *, links: int, live: Mapping[Side, int], deletions: int,
          policy: Policy) -> str | None:
    """The guard's message for a plan with ``deletions`` out of ``links`` links (``live``: per side,
    the links not gone there), or None if it may run."""
    empty = [side for side, snapshot in ((Side.WHMCS, whmcs), (Side.WORDPRESS, wp)) if not snapshot.records]
    return guard_message(deletions=deletions, links=links, live_links=live, empty_sides=empty, policy=policy)


#: How the guard's verdict says the run ended; a dry run's text says "would" in its place.
STOPPED = "the run was stopped before writing anything"


def guard_message(
    *, deletions: int, links: int, live_links: Mapping[Side, int], empty_sides: Sequence[Side], policy: Policy
) -> str | None:
    """Why this plan must stop before any write (DESIGN §5.7), or None if it may run.

    ``deletions`` counts the users the plan would deactivate or mark gone; ``links`` all
    links; ``live_links`` the links whose record on that side is not gone yet;
    ``empty_sides`` the sides whose listing came back empty. ``force`` is not looked at
    here: the caller decides whether a tripped guard is overridden.
    """
    reasons: list[str] = []
    for side in empty_sides:
        if live_links.get(side, 0) > 0:
            reasons.append(
                f"{side.display} listed no users at all while {_users(live_links[side], 'linked ')} should be there "
                "(a failed or filtered read must never look like 'everyone was deleted')"
            )
    if deletions > policy.max_deletes:
        reasons.append(f"it would deactivate or unlink {_users(deletions)}, "
                       f"more than max_deletes = {policy.max_deletes}")
    if links >= 10 and deletions * 100 > policy.max_delete_percent * links:
        share = deletions * 100 / links
        reasons.append(
            f"it would deactivate or unlink {deletions} of {links} linked users ({share:.0f}%), more than "
            f"max_delete_percent = {policy.max_delete_percent:g}%"
        )
    if not reasons:
        return None
    return (
        f"safety guard: {STOPPED}, because "
        + "; and ".join(reasons)
        + ". Check both sides; if this is really intended, run `syncd sync --force` once to let it through."
    )


def _users(n: int, what: str = "") -> str:
    return f"{n} {what}user{'' if n == 1 else 's'}"
