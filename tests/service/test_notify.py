"""The systemd notify protocol over a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.service import notify
from tests.service.helpers import NotifyListener


@pytest.fixture()
def short_dir() -> Iterator[Path]:
    # A socket path must fit in 108 bytes: pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as d:
        yield Path(d)


def test_path_socket_receives_one_datagram_per_call(short_dir: Path) -> None:
    with NotifyListener(short_dir, abstract=False) as listener:
        env = {"NOTIFY_SOCKET": listener.address}
        assert notify.notify("READY=1", "STATUS=all good", env=env)
        listener.wait_line("STATUS=all good")
        assert listener.datagrams == [["READY=1", "STATUS=all good"]]


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    with NotifyListener() as listener:
        assert listener.address.startswith("@")
        monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
        assert notify.ready("started")
        assert notify.status("running")
        assert notify.watchdog()
        assert notify.reloading("reloading")
        assert notify.stopping("bye")
        listener.wait_line("STOPPING=1")
        kinds = [d[0] for d in listener.datagrams]
        assert kinds == ["READY=1", "STATUS=running", "WATCHDOG=1", "RELOADING=1", "STOPPING=1"]
        assert listener.datagrams[0] == ["READY=1", "STATUS=started"]
        reload_lines = listener.datagrams[3]
        assert reload_lines[1].startswith("MONOTONIC_USEC=") and int(reload_lines[1].split("=")[1]) > 0
        assert reload_lines[2] == "STATUS=reloading"


def test_a_newline_in_a_status_cannot_inject_another_line() -> None:
    with NotifyListener() as listener:
        assert notify.notify("STATUS=bad\nREADY=1", env={"NOTIFY_SOCKET": listener.address})
        listener.wait_for(lambda lines: len(lines) >= 1, "one line")
        assert listener.lines == ["STATUS=bad READY=1"]


def test_unset_socket_is_a_quiet_no_op() -> None:
    assert notify.notify("READY=1", env={}) is False
    assert notify.notify("READY=1", env={"NOTIFY_SOCKET": ""}) is False


def test_unusable_socket_reports_false_and_never_raises(short_dir: Path) -> None:
    assert notify.notify("READY=1", env={"NOTIFY_SOCKET": str(short_dir / "nobody-listens")}) is False
    assert notify.notify("READY=1", env={"NOTIFY_SOCKET": "vsock:2:1234"}) is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert notify.watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert notify.watchdog_interval({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}) == 1.5


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": ""},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"},  # meant for another process
        {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "x"},
    ],
)
def test_no_watchdog_interval(env: dict[str, str]) -> None:
    if env.get("WATCHDOG_PID") == "1" and os.getpid() == 1:
        pytest.skip("this test process is pid 1")
    assert notify.watchdog_interval(env) is None
