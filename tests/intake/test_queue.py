"""The event queue: coalescing by id and by email, bounded (the oldest dropped, a poll asked for),
never blocking a sender; and a flood of requests to the real server that keeps it bounded."""

from __future__ import annotations

import threading
import time

import httpx

from syncd.model import Side
from syncd.service.events import EventQueue
from tests.intake.harness import body_of, headers, served


def test_events_coalesce_by_id_and_by_email() -> None:
    q = EventQueue()
    assert q.put(Side.WORDPRESS, 5, "a@x.org") is False
    assert q.put(Side.WORDPRESS, 5) is True  # same account, no email
    assert q.put(Side.WHMCS, 9, "A@X.org") is True  # the same person on the other side, by email
    assert q.put(Side.WORDPRESS, 6, "b@x.org") is False
    assert len(q) == 2
    first = q.get(timeout=1)
    assert first is not None and (first.wp_id, first.whmcs_id, first.email, first.events) == (5, 9, "a@x.org", 3)
    second = q.get(timeout=1)
    assert second is not None and second.wp_id == 6
    assert q.get(timeout=0.05) is None
    assert q.counts().coalesced == 2


def test_two_accounts_of_one_side_sharing_an_email_stay_apart() -> None:
    q = EventQueue()
    q.put(Side.WORDPRESS, 5, "dup@x.org")
    assert q.put(Side.WORDPRESS, 6, "dup@x.org") is False
    assert len(q) == 2


def test_an_email_change_is_followed_by_the_id() -> None:
    q = EventQueue()
    q.put(Side.WHMCS, 3, "old@x.org")
    assert q.put(Side.WHMCS, 3, "new@x.org") is True
    entry = q.get(timeout=1)
    assert entry is not None and entry.email == "new@x.org"


def test_a_full_queue_drops_the_oldest_and_asks_for_a_poll_never_growing() -> None:
    dropped: list[int] = []
    q = EventQueue(capacity=3, on_drop=lambda: dropped.append(1))
    for i in range(1, 11):
        q.put(Side.WHMCS, i)
        assert len(q) <= 3
    assert q.take_poll_request() is True
    assert q.take_poll_request() is False  # once
    assert len(dropped) == 7 and q.counts().dropped == 7
    assert [q.get(0.1).whmcs_id for _ in range(3)] == [8, 9, 10]  # type: ignore[union-attr]


def test_a_retried_user_goes_back_to_the_head_and_absorbs_newer_events() -> None:
    q = EventQueue()
    q.put(Side.WHMCS, 1)
    q.put(Side.WHMCS, 2)
    entry = q.get(0.1)
    assert entry is not None and entry.whmcs_id == 1
    q.put(Side.WHMCS, 1, "one@x.org")  # arrived while its run could not be made
    q.retry(entry)
    assert len(q) == 2
    again = q.get(0.1)
    assert again is not None and again.whmcs_id == 1 and again.email == "one@x.org" and again.events == 2


def test_put_never_blocks_while_the_worker_waits_or_holds_the_queue() -> None:
    q = EventQueue(capacity=100)
    waiting = threading.Thread(target=q.get, args=(5.0,), daemon=True)
    waiting.start()
    started = time.monotonic()
    for i in range(5000):
        q.put(Side.WORDPRESS, i + 1)
    assert time.monotonic() - started < 30  # a bound on a hang, not a speed
    assert len(q) <= 100
    waiting.join(5)


def test_a_flood_keeps_the_queue_bounded_and_the_server_answering() -> None:
    with served(capacity=50) as s, httpx.Client(timeout=10) as client:
        statuses: dict[int, int] = {}
        for i in range(1, 1501):
            if i % 3 == 0:  # every third is hostile: mis-signed
                body = body_of({"side": "whmcs", "event": "changed", "id": i})
                hdrs = headers(body, secret="flooding-with-a-wrong-secret")
            else:
                body = body_of({"side": "wordpress", "event": "changed", "id": i})
                hdrs = headers(body)
            r = client.post(s.url + "/v1/events", content=body, headers=hdrs)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert len(s.queue) <= 50
        assert statuses == {202: 1000, 401: 500}
        assert s.queue.take_poll_request() is True
        assert s.sample("syncd_events_dropped_total") == 950
        # Still answering after the flood.
        body = body_of({"side": "whmcs", "event": "changed", "id": 99999})
        assert client.post(s.url + "/v1/events", content=body, headers=headers(body)).status_code == 202
        # The refusals were not logged one by one.
        refusals = [line for line in s.logs if "refused" in line]
        assert len(refusals) <= 10, len(refusals)
