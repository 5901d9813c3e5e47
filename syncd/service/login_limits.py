"""The limit on failed login checks of DESIGN §11's login fallback: at most ``FAILURES`` failed tries
per login (case-insensitively) and per browser address within ``WINDOW_SECONDS``, in memory.

``FailureLimiter`` is thread-safe (the intake's server threads share it) and bounded: each kind
remembers at most ``CAPACITY`` keys, the one untouched longest forgotten first, and a key whose
newest failure left the window is dropped. A try is counted when it arrives (``reserve``) and
taken back (``forgive``) when it turns out not to be a failure, so tries in flight at once for
one login cannot exceed the limit. The clock is injected (tests move it; nothing sleeps).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

#: Failed tries allowed per login and per address within ``WINDOW_SECONDS`` (DESIGN §11).
FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
#: Logins and addresses remembered at most (each); past it the one untouched longest is forgotten.
CAPACITY = 50_000


class FailureLimiter:
    """Failed tries per login (case-insensitively) and per address, each kept ``window`` seconds;
    ``limited`` once either has ``limit``. Thread-safe; memory bounded by ``capacity`` per kind."""

    def __init__(self, *, limit: int = FAILURES, window: float = WINDOW_SECONDS, capacity: int = CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        # kind → key → times of its failures (newest last); ordered by the last failure, oldest first.
        self._tries: dict[str, OrderedDict[str, deque[float]]] = {"login": OrderedDict(), "address": OrderedDict()}

    @staticmethod
    def _keys(login: str, address: str) -> list[tuple[str, str]]:
        keys = [("login", login.strip().lower())]
        if address:
            keys.append(("address", address))
        return keys

    def _expire(self, now: float) -> None:
        for tries in self._tries.values():
            # The first entry has the oldest last failure: once it is out of the window, all of it is.
            while tries:
                key, times = next(iter(tries.items()))
                if now - times[-1] < self._window:
                    break
                del tries[key]

    def limited(self, login: str, address: str = "") -> str:
        """"login" or "address" if that one is at the limit now, else ""."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            for kind, key in self._keys(login, address):
                times = self._tries[kind].get(key)
                if times is not None and sum(1 for t in times if now - t < self._window) >= self._limit:
                    return kind
        return ""

    def failed(self, login: str, address: str = "") -> float:
        """Count one failed try for ``login`` and ``address``; its time (for ``forgive``)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            self._count(login, address, now)
        return now

    def _count(self, login: str, address: str, now: float) -> None:
        for kind, key in self._keys(login, address):
            tries = self._tries[kind]
            times = tries.pop(key, None) or deque(maxlen=self._limit)
            times.append(now)
            tries[key] = times  # to the end: the newest failure
            while len(tries) > self._capacity:
                tries.popitem(last=False)

    def reserve(self, login: str, address: str = "") -> tuple[str, float]:
        """``limited`` and, if not limited, a failed try counted at once, atomically (its time is
        returned: ``forgive`` it when the try did not fail). Counting before asking WHMCS keeps
        concurrent tries for one login within the limit too."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            for kind, key in self._keys(login, address):
                times = self._tries[kind].get(key)
                if times is not None and sum(1 for t in times if now - t < self._window) >= self._limit:
                    return kind, now
            self._count(login, address, now)
        return "", now

    def forgive(self, login: str, address: str, stamp: float) -> None:
        """Take back the try counted at ``stamp`` (a success, or a refusal that is no failed try)."""
        with self._lock:
            for kind, key in self._keys(login, address):
                times = self._tries[kind].get(key)
                if times is not None and stamp in times:
                    times.remove(stamp)
                    if not times:
                        del self._tries[kind][key]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(t) for t in self._tries.values())
