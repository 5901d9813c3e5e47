"""Crashes injected from outside syncd: wrappers around its two ports that die at a chosen point.

syncd itself has no crash hook. The crash suite wraps the ``SideAdapter`` and the ``StateStore``
a run is given (``syncd.app.sync_once`` takes their factories) and dies where a ``CrashPoint``
says, counting what the run does through the ports:

- ``CrashPoint.after_write(n)``: as soon as the n-th remote write (create, update, deactivate,
  reactivate on either side) returned, before syncd could commit it to the store;
- ``CrashPoint.before_next_step(saves=n)``: once the store saved n links, at the next step of
  the run: the next remote write, the next link saved, or the run's end (``finish_run``).

``point_for(actions, k, before_commit)`` turns "the k-th action of this plan" into one of
them, so the suite stops a run at every action boundary (after the k-th action was committed)
and between each action's remote write and its commit. What dying means is the caller's: in
process (the core tests) it raises ``Crashed``, which nothing in syncd catches; in the launcher
(``tests/crash/launcher.py``) it is ``os._exit(137)``, as if the process was killed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from syncd.ports import SideAdapter, StateStore

#: The adapter methods that write to a side.
WRITES = frozenset({"create", "update", "deactivate", "reactivate"})
#: Links each kind of action saves: a deactivation saves its intent before the write, then the
#: result; forgetting an unconfirmed create saves none; every other kind saves one.
SAVES = {"deactivate": 2, "forget_pending": 0}
#: The kinds of action that make one remote write.
WRITING_KINDS = frozenset({"create", "update", "deactivate", "reactivate"})


class Crashed(BaseException):
    """The injected crash, in process. A BaseException: syncd's own handlers never catch it."""


def raise_crashed() -> None:
    raise Crashed("stopped hard by the crash suite")


@dataclass(frozen=True)
class CrashPoint:
    """Where a run dies: right ``after`` the n-th remote ``write``, or at the next step once the
    store saved n links (``save``)."""

    after: str  # "write" | "save"
    count: int

    @classmethod
    def after_write(cls, n: int) -> CrashPoint:
        return cls("write", n)

    @classmethod
    def before_next_step(cls, *, saves: int) -> CrashPoint:
        return cls("save", saves)

    def __str__(self) -> str:
        return f"{self.after}:{self.count}"

    @classmethod
    def parse(cls, text: str) -> CrashPoint:
        after, _, count = text.partition(":")
        if after not in ("write", "save") or not count.isdigit():
            raise ValueError(f"not a crash point: {text!r} (write:N or save:N)")
        return cls(after, int(count))


def point_for(kinds: Sequence[str], k: int, before_commit: bool) -> CrashPoint:
    """The crash point of "after the k-th action" of a plan whose actions have these ``kinds``
    (1-based) — with ``before_commit``, after its remote write and before its commit. An action
    that writes to no side has nothing between write and commit: its "before commit" is the
    boundary after the action before it."""
    if not 1 <= k <= len(kinds):
        raise ValueError(f"k={k}: the plan has {len(kinds)} actions")
    if before_commit:
        if kinds[k - 1] in WRITING_KINDS:
            return CrashPoint.after_write(sum(1 for kind in kinds[:k] if kind in WRITING_KINDS))
        k -= 1
    return CrashPoint.before_next_step(saves=sum(SAVES.get(kind, 1) for kind in kinds[:k]))


class Tripwire:
    """Counts the steps of a run through the wrapped ports and calls ``die`` at ``point``."""

    def __init__(self, point: CrashPoint, die: Callable[[], None]) -> None:
        self.point = point
        self._die = die
        self._lock = threading.Lock()  # creates of different users may run on writer threads
        self.writes = 0
        self.saves = 0

    def _armed(self) -> bool:
        return self.point.after == "save" and self.saves >= self.point.count

    def before_step(self) -> None:
        """Before a remote write, a link saved, or the run's end."""
        with self._lock:
            armed = self._armed()
        if armed:
            self._die()

    def wrote(self) -> None:
        with self._lock:
            self.writes += 1
            armed = self.point.after == "write" and self.writes == self.point.count
        if armed:
            self._die()

    def saved(self) -> None:
        with self._lock:
            self.saves += 1


class DyingSide:
    """A ``SideAdapter`` whose writes go through ``tripwire``; every other call goes to ``adapter``."""

    def __init__(self, adapter: SideAdapter, tripwire: Tripwire) -> None:
        self._adapter = adapter
        self._tripwire = tripwire
        self.side = adapter.side

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._adapter, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._tripwire.before_step()
            result = attr(*args, **kwargs)
            self._tripwire.wrote()
            return result

        return write


class DyingStore:
    """A ``StateStore`` whose ``save_link``, ``save_links`` and ``finish_run`` go through ``tripwire``."""

    def __init__(self, store: StateStore, tripwire: Tripwire) -> None:
        self._store = store
        self._tripwire = tripwire

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save_link(self, link: Any, **history: Any) -> None:
        self._tripwire.before_step()
        self._store.save_link(link, **history)
        self._tripwire.saved()

    def save_links(self, links: Any) -> None:
        # One transaction: a crash before it keeps none of them, after it all of them.
        self._tripwire.before_step()
        self._store.save_links(links)
        for _ in links:
            self._tripwire.saved()

    def finish_run(self, run_id: int, **kwargs: Any) -> None:
        self._tripwire.before_step()
        self._store.finish_run(run_id, **kwargs)
