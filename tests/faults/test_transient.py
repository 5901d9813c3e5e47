"""Faults worth one more try — a timeout, a 5xx, a 429 with Retry-After, a cut-off or null
answer — and a PHP warning printed before WHMCS's JSON: the run goes through, every user is
synchronised exactly once (a retried create never makes a second account), the wait honours
Retry-After, and the operator is told what happened.

In process against both emulators; the adapters sleep through a recorder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.faults.world import POPULATION, World, populated

Fault = Callable[[World], object]  # what a switch returns (a planted fault) is not used


def _wp_list_times_out_once(world: World) -> None:
    left = [1]

    def gate(request: httpx.Request) -> None:
        if left and request.method == "GET" and request.url.path.endswith("/wp/v2/users"):
            left.pop()
            raise httpx.ReadTimeout("no answer in time (test)", request=request)

    world.wp_gate = gate


FAULTS: dict[str, Fault] = {
    "whmcs-timeout": lambda w: w.whmcs.fail_on("GetClients", kind="timeout_after_commit"),
    "whmcs-5xx": lambda w: w.whmcs.fail_on("GetUsers", status=502),
    "whmcs-truncated-json": lambda w: w.whmcs.fail_on("GetClients", kind="truncate"),
    "whmcs-null-answer": lambda w: w.whmcs.fail_on("GetClients", kind="null_after_commit"),
    "whmcs-dropped-connection": lambda w: w.whmcs.fail_on("GetAdminUsers", kind="drop"),
    "wp-timeout": _wp_list_times_out_once,
    "wp-5xx": lambda w: w.wp.inject("list_page", "error", status=502),
    "wp-truncated-json": lambda w: w.wp.inject("list_page", "truncated"),
    "wp-maintenance-503": lambda w: w.wp.inject("list_page", "maintenance", retry_after=4),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_fault_that_passes_is_retried_and_the_run_goes_through(tmp_path: Path, name: str) -> None:
    world = populated(tmp_path)
    FAULTS[name](world)
    done = world.run()
    assert done.code == 0 and done.counts == {"create": 2, "update": 1}, done.text()
    assert len(world.sleeps) == 1, world.sleeps  # one backoff, then it worked
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


@pytest.mark.parametrize("where", ["whmcs-listing", "whmcs-create", "wp-create"])
def test_a_429_waits_as_long_as_retry_after_says_and_creates_only_once(tmp_path: Path, where: str) -> None:
    world = populated(tmp_path)
    creates = world.whmcs.calls["AddClient"], world.wp.calls["create"]
    if where == "whmcs-listing":
        world.whmcs.fail_on("GetClients", status=429, retry_after=7)
    elif where == "whmcs-create":
        world.whmcs.fail_on("AddClient", status=429, retry_after=7)
    else:
        world.wp.inject("create", "too_many", retry_after=7)
    done = world.run()
    assert done.code == 0 and done.counts == {"create": 2, "update": 1}, done.text()
    assert world.sleeps == [7.0]
    if where == "whmcs-create":
        assert world.whmcs.calls["AddClient"] - creates[0] == 2  # refused once (nothing done), then done once
    if where == "wp-create":
        assert world.wp.calls["create"] - creates[1] == 2
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])


def test_a_php_warning_before_every_whmcs_answer_is_read_through_and_reported(tmp_path: Path) -> None:
    world = populated(tmp_path)
    world.whmcs.php_warning = True
    done = world.run()
    assert done.code == 0 and done.counts == {"create": 2, "update": 1}, done.text()
    warnings = [line for line in done.logs if line.startswith("WARNING") and "PHP warning" in line]
    assert warnings and all("display_errors" in line for line in warnings)
    assert world.whmcs.calls["AddClient"] == 1
    world.settle()
    world.check(POPULATION, edited_in_whmcs=["a2@example.com"])
