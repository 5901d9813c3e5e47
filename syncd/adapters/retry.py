"""The one retry policy of both adapters: which attempt comes next and when, on tenacity.

A call is one function that either returns or raises. It asks for another attempt by raising
``TryAgain(error)``; anything else it raises ends the call at once. Which faults are worth
another attempt is the adapter's business (it alone knows whether a write reached its side);
how many attempts, how long to wait between them and what ``Retry-After`` means is decided
here, the same way for both sides:

- exponential backoff from ``initial`` doubling up to ``cap``, plus random jitter;
- a ``Retry-After`` the side sent is a floor under the backoff (never retry sooner than
  asked); one longer than ``retry_after_limit`` is either not waited for at all (the call
  fails, the next run tries again) or waited only up to the limit, per side;
- every wait goes through an injected ``sleep`` and every jitter through an injected
  ``random.Random``, so tests record the waits instead of spending them;
- each retry is logged as a warning saying why and for how long.

tenacity, not stamina: tenacity takes the ``sleep`` and the wait and stop rules as plain
parameters, which is all this needs (stamina, built on it, hides them behind its own
defaults and a global testing switch).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity
from loguru import logger

from syncd.errors import SideError, Transient

_T = TypeVar("_T")


class TryAgain(Exception):
    """Raised by an attempt to ask for another one; ``error`` is what the caller gets if none is left."""

    def __init__(self, error: SideError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Backoff:
    """How long to wait before the next attempt (the constants are each side's, see the adapters)."""

    initial: float
    """The first wait; each next one doubles it."""
    cap: float
    """No backoff beyond this (before jitter)."""
    jitter: float
    """Up to this much more, at random: seconds, or a share of the backoff if ``relative_jitter``."""
    relative_jitter: bool
    retry_after_limit: float
    """A ``Retry-After`` beyond this is too long to wait for in a run ..."""
    give_up_beyond_limit: bool
    """... and then the call fails at once (True) or waits only ``retry_after_limit`` (False)."""

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1 for the first), ``Retry-After`` considered."""
        base: float = min(self.cap, self.initial * 2 ** (retry - 1))
        wait: float = base + rng.uniform(0, base * self.jitter if self.relative_jitter else self.jitter)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_limit))
        return wait

    def gives_up(self, retry_after: float | None) -> bool:
        """True if the side asked for a wait longer than a run should spend on it."""
        return self.give_up_beyond_limit and retry_after is not None and retry_after > self.retry_after_limit


def _retry_after(error: SideError) -> float | None:
    return error.retry_after if isinstance(error, Transient) else None


def call(
    attempt: Callable[[], _T],
    *,
    attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> _T:
    """``attempt()`` until it returns, raises anything but ``TryAgain``, or ``attempts`` are spent.

    When no attempt is left, the last ``TryAgain``'s error is raised, chained to what caused it.
    """

    def requested(state: tenacity.RetryCallState) -> TryAgain | None:
        exc = state.outcome.exception() if state.outcome else None
        return exc if isinstance(exc, TryAgain) else None

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= attempts:
            return True
        retry = requested(state)
        return retry is not None and backoff.gives_up(_retry_after(retry.error))

    def wait(state: tenacity.RetryCallState) -> float:
        retry = requested(state)
        return backoff.delay(state.attempt_number, _retry_after(retry.error) if retry else None, rng)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning("{reason}; trying again in {delay:.1f}s ({n} of {m})", reason=state.outcome.exception()
                       if state.outcome else "", delay=delay, n=state.attempt_number, m=attempts - 1)

    retrying = tenacity.Retrying(stop=stop, wait=wait, retry=tenacity.retry_if_exception_type(TryAgain), sleep=sleep,
                                 before_sleep=before_sleep, reraise=True)
    try:
        return retrying(attempt)
    except TryAgain as final:
        failure = final
    # Raised outside the except block, so the error does not chain to TryAgain (or to itself).
    error, cause = failure.error, failure.__cause__
    if cause is None or cause is error:
        raise error
    raise error from cause


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
