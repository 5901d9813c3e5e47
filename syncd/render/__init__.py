"""Everything an operator reads, rendered in one place, from the data the core and the store return.

- ``items``: the JSON of one record, link, run, issue, pending create; a run's counts in words.
- ``run``: ``syncd sync`` — the dry run's plan and the run report, as text and JSON.
- ``explain``: ``syncd explain`` — one user, as text and JSON.
- ``history``: ``syncd history`` — what syncd changed for one person, as text and JSON.
- ``manual``: ``syncd sync --user``, ``syncd link``, ``syncd unlink`` — one user, as text and JSON.
- ``status``: ``syncd status`` — the state store's runs, issues and links, as text and JSON.
- ``daemon``: the ``STATUS=`` line systemd shows after each scheduled run.

The sentence of one action, conflict, problem or duplicate (``describe()``) and its JSON
(``to_json()``) stay with the item in ``syncd.sync.actions``: the engine logs the sentence and
the store keeps it as an issue's message. Everything composed from them is here. Nothing here
reads, writes or decides; the exit code of what is shown is ``syncd.exits``'s.
"""

from syncd.render.daemon import run_status_line
from syncd.render.explain import explain_json, explain_text
from syncd.render.history import history_json, history_text
from syncd.render.items import failure_json
from syncd.render.manual import manual_json, manual_text, user_sync_json, user_sync_text
from syncd.render.run import (
    plan_json,
    plan_text,
    report_json,
    report_text,
    sync_json,
    sync_text,
    unlinked_start_notice,
)
from syncd.render.status import check_line, check_unknown, status_json, status_text

__all__ = [
    "check_line", "check_unknown", "explain_json", "explain_text", "failure_json",
    "history_json", "history_text", "manual_json", "manual_text", "plan_json", "plan_text",
    "report_json", "report_text", "run_status_line", "status_json", "status_text", "sync_json", "sync_text",
    "unlinked_start_notice", "user_sync_json", "user_sync_text",
]
