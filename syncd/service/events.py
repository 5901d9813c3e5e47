"""The queue between the event intake and the daemon's event worker (DESIGN §10).

An event only says "look at this user now". Events for one user coalesce into one pending
entry (matched by the side's id, then by email), so a burst of edits to one profile costs one
one-user run. The queue is bounded: when it is full, the oldest entry is dropped and a normal
poll is asked for instead (``take_poll_request``) — a poll finds every change, so a dropped
hint delays a change, it never loses it. ``put`` never blocks a sender and never grows the
queue past ``capacity``.

A password event (DESIGN §11, only with ``[passwords] carry = true``) puts its password, wrapped
in ``syncd.passwords.Password``, on the user's entry: the newest password wins, an older one is
forgotten at once, and the worker forgets it as soon as it is written or given up. It is held
nowhere else, and an entry's ``repr`` never shows it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from syncd.model import Side
from syncd.passwords import Password

#: How many users may wait for their one-user run at once.
DEFAULT_CAPACITY = 10_000


@dataclass
class Pending:
    """One user's pending one-user run: the ids and email the events named, and when the first
    of its events arrived (``received``, on the queue's monotonic clock) for the latency metric."""

    received: float
    whmcs_id: int | None = None
    wp_id: int | None = None
    email: str = ""
    events: int = 1
    attempts: int = 0  # one-user runs tried for it (a lock held elsewhere, a side down)
    ident: int = field(default=0, repr=False)
    # A password set on ``password_side`` for this user (the newest one), to carry after its run.
    password: Password | None = field(default=None, repr=False, compare=False)
    password_side: Side | None = field(default=None, repr=False)

    def hold_password(self, side: Side, password: Password) -> None:
        """Keep ``password`` (the newest wins: an older one is forgotten now)."""
        if self.password is not None and self.password is not password:
            self.password.forget()
        self.password, self.password_side = password, side

    def drop_password(self) -> bool:
        """Forget the password held, if any; whether there was one."""
        had = self.password is not None and self.password.held
        if self.password is not None:
            self.password.forget()
        self.password, self.password_side = None, None
        return had

    def id_of(self, side: Side) -> int | None:
        return self.whmcs_id if side is Side.WHMCS else self.wp_id

    def label(self) -> str:
        """How logs name it: "WordPress user #5 (ann@example.com)"."""
        parts = [f"{Side.WHMCS.account} #{self.whmcs_id}" if self.whmcs_id is not None else "",
                 f"{Side.WORDPRESS.account} #{self.wp_id}" if self.wp_id is not None else ""]
        who = " and ".join(p for p in parts if p) or "an account"
        return f"{who} ({self.email})" if self.email else who


@dataclass(frozen=True)
class QueueCounts:
    """What the queue has seen since the daemon started."""

    queued: int  # entries waiting now
    accepted: int  # events put
    coalesced: int  # events folded into a waiting entry
    dropped: int  # entries dropped because the queue was full (a poll was asked for instead)


class EventQueue:
    """A bounded, coalescing FIFO of ``Pending`` users; thread-safe, never blocks ``put``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, clock: Callable[[], float] = time.monotonic,
                 on_drop: Callable[[], object] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._clock = clock
        self._on_drop = on_drop  # told of each dropped user (the metrics' counter)
        self._entries: OrderedDict[int, Pending] = OrderedDict()
        self._by_id: dict[tuple[Side, int], int] = {}
        self._by_email: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._poll_wanted = False
        self._accepted = 0
        self._coalesced = 0
        self._dropped = 0

    # ---- senders ------------------------------------------------------------------------------

    def put(self, side: Side, remote_id: int, email: str = "", password: Password | None = None) -> bool:
        """Queue a hint for ``side``'s account ``remote_id`` (``email`` its address, "" if unknown;
        ``password`` one just set there, to carry). True if it was folded into a user already waiting."""
        email = email.strip().lower()
        with self._cond:
            self._accepted += 1
            entry = self._match(side, remote_id, email)
            if entry is not None:
                self._coalesced += 1
                entry.events += 1
                self._set(entry, side, remote_id, email)
                if password is not None:
                    entry.hold_password(side, password)
                return True
            if len(self._entries) >= self.capacity:
                self._drop_oldest()
            entry = Pending(received=self._clock(), ident=next(self._ids))
            self._entries[entry.ident] = entry
            self._set(entry, side, remote_id, email)
            if password is not None:
                entry.hold_password(side, password)
            self._cond.notify()
            return False

    def _match(self, side: Side, remote_id: int, email: str) -> Pending | None:
        ident = self._by_id.get((side, remote_id))
        if ident is None and email:
            ident = self._by_email.get(email)
            if ident is not None:
                held = self._entries[ident].id_of(side)
                if held is not None and held != remote_id:
                    return None  # two accounts of one side share the email: each is looked at on its own
        return None if ident is None else self._entries[ident]

    def _set(self, entry: Pending, side: Side, remote_id: int, email: str) -> None:
        if side is Side.WHMCS:
            entry.whmcs_id = remote_id
        else:
            entry.wp_id = remote_id
        self._by_id[(side, remote_id)] = entry.ident
        if email and email != entry.email:
            # The latest address names the user (an email change); the id finds it anyway.
            if entry.email and self._by_email.get(entry.email) == entry.ident:
                del self._by_email[entry.email]
            entry.email = email
            self._by_email.setdefault(email, entry.ident)

    def _drop_oldest(self) -> None:
        _ident, oldest = self._entries.popitem(last=False)
        self._forget(oldest)
        oldest.drop_password()  # the poll finds the change, never a password
        self._dropped += 1
        self._poll_wanted = True
        if self._on_drop is not None:
            self._on_drop()

    def _forget(self, entry: Pending) -> None:
        for side in Side:
            remote_id = entry.id_of(side)
            if remote_id is not None and self._by_id.get((side, remote_id)) == entry.ident:
                del self._by_id[(side, remote_id)]
        if entry.email and self._by_email.get(entry.email) == entry.ident:
            del self._by_email[entry.email]

    # ---- the worker ---------------------------------------------------------------------------

    def get(self, timeout: float) -> Pending | None:
        """The oldest waiting user, taken out of the queue; None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._entries and not self._cond.wait_for(lambda: bool(self._entries), timeout):
                return None
            _ident, entry = self._entries.popitem(last=False)
            self._forget(entry)
            return entry

    def retry(self, entry: Pending) -> None:
        """Put ``entry`` back at the head (its run could not be made now); events for the same user
        that arrived meanwhile are folded into it. Dropped if the queue is full: a poll is asked for."""
        with self._cond:
            for side in Side:
                remote_id = entry.id_of(side)
                newer = self._by_id.get((side, remote_id)) if remote_id is not None else None
                if newer is None or newer == entry.ident:
                    continue
                waiting = self._entries.pop(newer)
                self._forget(waiting)
                entry.events += waiting.events
                entry.whmcs_id = entry.whmcs_id if entry.whmcs_id is not None else waiting.whmcs_id
                entry.wp_id = entry.wp_id if entry.wp_id is not None else waiting.wp_id
                entry.email = waiting.email or entry.email
                if waiting.password is not None and waiting.password_side is not None:
                    entry.hold_password(waiting.password_side, waiting.password)  # it is the newer one
            if len(self._entries) >= self.capacity:
                entry.drop_password()
                self._dropped += 1
                self._poll_wanted = True
                if self._on_drop is not None:
                    self._on_drop()
                return
            self._entries[entry.ident] = entry
            self._entries.move_to_end(entry.ident, last=False)
            for side in Side:
                remote_id = entry.id_of(side)
                if remote_id is not None:
                    self._by_id.setdefault((side, remote_id), entry.ident)
            if entry.email:
                self._by_email.setdefault(entry.email, entry.ident)
            self._cond.notify()

    def take_poll_request(self) -> bool:
        """True once after the queue dropped a hint (the daemon then starts a poll soon)."""
        with self._cond:
            wanted, self._poll_wanted = self._poll_wanted, False
            return wanted

    def clear(self) -> int:
        """Forget every waiting user (at stop: the next poll finds their changes); how many there were."""
        with self._cond:
            n = len(self._entries)
            for entry in self._entries.values():
                entry.drop_password()
            self._entries.clear()
            self._by_id.clear()
            self._by_email.clear()
            return n

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def counts(self) -> QueueCounts:
        with self._cond:
            return QueueCounts(queued=len(self._entries), accepted=self._accepted, coalesced=self._coalesced,
                               dropped=self._dropped)
