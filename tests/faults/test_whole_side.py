"""A side that fails as a whole — unreachable, answering HTML, cut off, a failing middle page,
refusing our IP — stops the run before planning with exit 3 and writes nothing anywhere
(DESIGN §5.1 step 1): above all, a failed read is never taken for deletions, although these
runs deactivate users who are gone. The error names the side and the fault; the next run,
once the side is well, does everything that waited.

In process against both emulators (no test waits: retries sleep through a recorder).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncd.state.store import SqlStateStore
from tests.faults.world import POPULATION, World, everything, heal, populated

Fault = Callable[[World], object]  # what a switch returns (a planted fault) is not used


def _wp_times_out(world: World) -> None:
    def gate(request: httpx.Request) -> None:
        if request.url.path.endswith("/wp/v2/users") and request.method == "GET":
            raise httpx.ReadTimeout("no answer in time (test)", request=request)

    world.wp_gate = gate


FAULTS: dict[str, tuple[Fault, tuple[str, ...]]] = {
    "whmcs-5xx": (lambda w: w.whmcs.fail_on("GetClients", status=503, times=None),
                  ("WHMCS", "GetClients", "HTTP 503")),
    "whmcs-timeout": (lambda w: w.whmcs.fail_on("GetClients", kind="timeout_after_commit", times=None),
                      ("WHMCS did not answer GetClients",)),
    "whmcs-maintenance-page-200": (lambda w: setattr(w.whmcs, "maintenance", True),
                                   ("WHMCS", "HTML page", "maintenance mode")),
    "whmcs-truncated-json": (lambda w: w.whmcs.fail_on("GetClients", kind="truncate", times=None),
                             ("WHMCS", "cut-off JSON", "GetClients")),
    "whmcs-middle-page": (lambda w: w.whmcs.fail_on("GetClients", page=2, status=503, times=None),
                          ("WHMCS GetClients", "page at offset 2 failed")),
    "whmcs-total-disagrees": (lambda w: w.whmcs.fail_on("GetClients", kind="lie_total", delta=1, times=None),
                              ("WHMCS GetClients sent 0 rows", "of a total of 7")),
    "whmcs-invalid-ip": (lambda w: setattr(w.whmcs, "allowed_ips", {"203.0.113.9"}),
                         ("WHMCS refused this machine's IP address 127.0.0.1", "access_key")),
    "wp-5xx-middle-page": (lambda w: w.wp.inject("list_page", "error", page=2, times=10),
                           ("page 2 of the WordPress users could not be read", "500")),
    "wp-maintenance-503": (lambda w: w.wp.inject("list_page", "maintenance", times=10),
                           ("WordPress", "503", "maintenance mode")),
    "wp-firewall-html-200": (lambda w: w.wp.inject("list_page", "html", times=10),
                             ("WordPress", "HTML page (HTTP 200)", "security plugin")),
    "wp-truncated-json": (lambda w: w.wp.inject("list_page", "truncated", times=10),
                          ("WordPress users could not be read", "truncated")),
    "wp-timeout": (_wp_times_out, ("WordPress", "did not answer")),
    "wp-429": (lambda w: w.wp.inject("list_page", "too_many", times=10, retry_after=2),
               ("WordPress", "429")),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_failing_side_stops_the_run_before_any_write_and_the_next_run_catches_up(
    tmp_path: Path, name: str
) -> None:
    world = populated(tmp_path)
    fault, needles = FAULTS[name]
    fault(world)
    before, links_before = everything(world), world.links()

    failed = world.run()

    assert failed.code == 3, failed.text()
    for needle in needles:
        assert needle in failed.error, f"{needle!r} not in {failed.error!r}"
    assert everything(world) == before  # nothing written on either side: no user created, changed or deactivated
    assert world.links() == links_before
    with SqlStateStore.open(world.state_url, create=False, read_only=True) as store:
        [last, *_] = store.runs(1)
    assert last.outcome == "failed" and last.message == failed.error  # `syncd status` says why
    assert any(line.startswith("ERROR") and "nothing was written" in line for line in failed.logs)

    heal(world)
    caught_up = world.run()
    assert caught_up.code == 0 and caught_up.counts == {"create": 2, "update": 1}, caught_up.text()
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


def test_a_page_that_fails_once_is_read_again_and_the_run_goes_through(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.whmcs.fail_on("GetClients", page=2, status=503)
    world.wp.inject("list_page", "error", page=2)
    done = world.run()
    assert done.code == 0 and done.counts == {"create": 2, "update": 1}, done.text()
    assert len(world.sleeps) == 2  # one backoff per side
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])
