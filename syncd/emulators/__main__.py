"""``python -m syncd.emulators whmcs|wordpress``: either emulator as a process, seeded from a file.

It serves on loopback until SIGTERM or Ctrl-C. The first line on stdout is one JSON object
saying where and how to reach it (``url``, then per emulator: WHMCS's ``identifier`` and
``version``; WordPress's ``admin_user`` and its ``app_password``), so a test or a script
can start it on port 0 and read the port back; a line for people goes to stderr. Each
emulator's module docstring describes its seed file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from syncd.emulators.server import Served
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator, load_seed

__all__ = ["main"]


def _whmcs(seed: Mapping[str, Any]) -> tuple[Served, dict[str, Any], str]:
    emulator = WhmcsEmulator.from_seed(seed)
    told = {"identifier": emulator.identifier, "version": emulator.version}
    line = f"WHMCS emulator {emulator.version} with {len(emulator.clients)} clients, API at {{url}}includes/api.php"
    return emulator, told, line


def _wordpress(seed: Mapping[str, Any]) -> tuple[Served, dict[str, Any], str]:
    admin = seed.get("admin", {})
    emulator = WordPressEmulator(admin_login=admin.get("login", "admin"),
                                 admin_email=admin.get("email", "admin@example.test"))
    passwords = load_seed(emulator, seed)
    told = {"admin_user": emulator.admin_login, "app_password": passwords[emulator.admin_login]}
    return emulator, told, f"WordPress emulator with {len(emulator.users)} users at {{url}}"


#: Each emulator's builder from a seed document: the emulator, what stdout tells, a line for stderr.
EMULATORS: Mapping[str, Callable[[Mapping[str, Any]], tuple[Served, dict[str, Any], str]]] = {
    "whmcs": _whmcs,
    "wordpress": _wordpress,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m syncd.emulators",
                                     description="Serve a loopback emulator of WHMCS or WordPress until interrupted.")
    parser.add_argument("emulator", choices=sorted(EMULATORS), help="which API to emulate")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--seed", type=Path, help="a JSON seed file (its format: the emulator's module docstring)")
    parser.add_argument("--latency", type=float, default=None, help="seconds added to every answer")
    args = parser.parse_args(argv)
    try:
        seed: dict[str, Any] = json.loads(args.seed.read_text(encoding="utf-8")) if args.seed else {}
        emulator, told, line = EMULATORS[args.emulator](seed)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"cannot use the seed file {args.seed}: {exc!r}", file=sys.stderr)
        return 2
    if args.latency is not None:
        emulator.latency = args.latency
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    url = emulator.start(args.port, args.host)
    print(json.dumps({"url": url, **told}), flush=True)
    print(line.format(url=url), file=sys.stderr, flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
