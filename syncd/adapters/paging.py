"""Paged listings, read concurrently and proven complete: the one paging helper of both adapters.

A listing is the hot path of a run that changes nothing, so it is read the same fast way on
both sides. Page 1 comes first (it tells the total and so the other pages); then every later
page goes to a pool of ``concurrency`` workers at once. The workers only fetch and decode
(orjson, inside the adapters' calls); the caller's thread turns each page into what it needs,
in page order, while the next pages are still in flight, so ``concurrency`` requests stay out
the whole time. Each later page's reply is dropped once built: only what was built is kept.

A listing is complete or raises. A failed page cancels the pages not yet sent, and the checks
below turn every inconsistency (a total that moved, a row on two pages, a count short of the
total) into ``ListingShifted``, an ``IncompleteListing``: never a shorter list, which would
read as "these users are gone". Which page a side asks for, and how it reads one, stays in
the adapter (offsets for WHMCS, page numbers for WordPress).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from syncd.errors import IncompleteListing

_P = TypeVar("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class ListingShifted(IncompleteListing):
    """The listing changed while its pages were read (users added or removed): reading it again
    may succeed, and the WordPress adapter does so once."""


class Inline(Executor):
    """An executor that runs each call at once in the caller's thread: one call at a time, in
    the order they are submitted, and no thread at all."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever reads the future, as a pool would
            future.set_exception(exc)
        return future


def pool(concurrency: int, name: str, *, inline_when_one: bool = False) -> Executor:
    """Where a listing's calls run: up to ``concurrency`` at once, in threads named ``name``.

    ``inline_when_one``: with a concurrency of 1, run every call in the caller's thread as it
    is submitted (WHMCS: strictly one call after another). Otherwise a single worker still
    fetches the next page while the caller builds the last one.
    """
    if inline_when_one and concurrency <= 1:
        return Inline()
    return ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=name)


@dataclass(frozen=True)
class FirstPage(Generic[_P]):
    """Page 1 of a listing and what it told: the listing's total, and the calls that fetch the
    other pages, in page order (each returns a page as the adapter reads it)."""

    page: _P
    total: int
    later: tuple[Callable[[], _P], ...] = ()


def submit(workers: Executor, fetches: Iterable[Callable[[], _P]]) -> deque[Future[_P]]:
    """Every page call sent to ``workers`` at once, in page order. A queue that ``collect``
    empties as it builds: a future it took is held nowhere else, nor the page it returned."""
    return deque(workers.submit(fetch) for fetch in fetches)


def schedule(workers: Executor, firsts: Sequence[Future[FirstPage[_P]]],
             watch: Iterable[Future[Any]] = ()) -> list[deque[Future[_P]]]:
    """The later pages of several listings whose pages 1 are already in ``workers``.

    A listing's later pages are sent as soon as its own page 1 has told the total, so no
    listing waits for another. ``watch`` names other calls in the same pool that must not
    fail either. When a call fails, nothing more is sent and the error of the first failed
    call in the order ``watch``, ``firsts`` is raised.
    """
    watched = list(watch)
    later: dict[int, deque[Future[_P]]] = {}
    order = {id(f): n for n, f in enumerate(firsts)}
    for done in as_completed([*watched, *firsts]):
        if done.exception() is not None:
            for call in (*watched, *firsts):
                call.result()  # raises the first error, in order
        n = order.get(id(done))
        if n is not None:
            later[n] = submit(workers, done.result().later)
    return [later.get(n, deque()) for n in range(len(firsts))]


def collect(first: _P, later: Iterable[Future[_P]], build: Callable[[int, _P], _R]) -> list[_R]:
    """``build(number, page)`` for page 1 and then each later page as it arrives, in page order,
    in this thread. If a page or a build fails, the pages not yet started are cancelled.

    ``later`` as ``submit`` gives it is emptied as the pages are built, so that each reply is
    dropped once built: a list of futures kept by the caller held every decoded page of a
    listing until its end (~100 MB at 100,000 WordPress users)."""
    waiting = later if isinstance(later, deque) else deque(later)
    try:
        built = [build(1, first)]
        number = 1
        while waiting:
            number += 1
            # Popped, so the reply is dropped once built (nothing holds its future any more).
            built.append(build(number, waiting.popleft().result()))
    except BaseException:
        for future in waiting:  # the listing is lost: send no more of it
            future.cancel()
        raise
    return built


def check_total(now: int, total: int, *, what: str, where: str, side: str) -> None:
    """``ListingShifted`` if a page says the listing has ``now`` rows after page 1 said ``total``."""
    if now != total:
        raise ListingShifted(f"{what} changed while it was being read (total {total}, then {now} {where})",
                             side=side)


def check_complete(ids: Sequence[int], total: int, *, what: str, total_from: str, side: str,
                   hint: str = "") -> None:
    """``ListingShifted`` unless ``ids`` (every row read, in order) are ``total`` distinct rows.

    ``total_from`` names what announced the total, ``hint`` what else may explain a shortfall.
    """
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise ListingShifted(f"{what} sent the same row twice, on two pages (ids {repeated}): the listing shifted "
                             "while it was read", side=side)
    if len(ids) != total:
        raise ListingShifted(f"{what} sent {len(ids)} rows but {total_from} says there are {total}{hint}", side=side)
