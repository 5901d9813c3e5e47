"""With the real WordPress the suite starts (and the WHMCS emulator): `syncd run` as a process,
`interval_seconds = 3600`, the intake on. A change on either side, announced by a signed event
(sent here as a companion sends it), is on the other side within seconds — no poll could have
carried it (issue 13's "done when", the companions aside: tests/companions/test_live_events.py
has them send the events themselves)."""

from __future__ import annotations

import signal

import httpx

from tests.companions.live import WAIT, daemon, free_port, wait_for
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.intake.harness import SECRET, body_of, headers


def test_an_edit_on_either_side_reaches_the_other_within_seconds(sides: Sides) -> None:
    sides.whmcs.add_client("ann@example.com", "Ann", "Archer")
    ben_wp = sides.wp_add("ben", "ben@example.com", "Ben", "Baker")
    config = sides.write_config(interval_seconds=3600, full_resync_cron="")
    port = free_port()
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[intake]\nlisten = "127.0.0.1:{port}"\nsecret = "{SECRET}"\n')
    url = f"http://127.0.0.1:{port}/v1/events"

    def send(data: object) -> int:
        body = body_of(data)
        return httpx.post(url, content=body, headers=headers(body), timeout=10).status_code

    err_path = sides.tmp / "daemon.stderr"
    with daemon(config, err_path) as run:
        # The first run (at start) creates Ann in WordPress and Ben in WHMCS.
        wait_for(lambda: "ann@example.com" in sides.wp_users() and sides.whmcs.client_by_email("ben@example.com")
                 is not None and "last sync ok" in run.text(), "the first run")
        # WordPress → WHMCS: an edit through WordPress's REST API, then its event.
        sides.wp_update(ben_wp, last_name="Baker-Jones")
        assert send({"side": "wordpress", "event": "changed", "id": ben_wp, "email": "ben@example.com"}) == 202
        wait_for(lambda: sides.client("ben@example.com").lastname == "Baker-Jones", "Ben's edit to reach WHMCS")
        # WHMCS → WordPress: an edit in WHMCS, then its event (as the hook file sends it).
        ann_id = sides.whmcs.client_by_email("ann@example.com")
        assert ann_id is not None
        sides.whmcs.clients[ann_id].firstname = "Annie"
        assert send({"side": "whmcs", "event": "changed", "id": ann_id, "email": "ann@example.com"}) == 202
        wait_for(lambda: sides.wp_users()["ann@example.com"]["first_name"] == "Annie", "Ann's edit to reach WordPress")
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=WAIT) == 0
    run.assert_clean_log(SECRET, WHMCS_SECRET, sides.site.app_password)
