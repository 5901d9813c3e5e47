"""The StateStore contract, run against SQLite and a real PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, timedelta

import pytest

from syncd.app import read_status
from syncd.errors import StateError
from syncd.model import Link, Side
from syncd.ports import Change, ChangeKind, LinkStats, RunOutcome, StateStore
from syncd.render.items import link_json
from syncd.render.status import status_json
from syncd.state.store import SqlStateStore
from tests.state.conftest import StepClock


@pytest.fixture
def store(store_url: str, clock: StepClock) -> Iterator[SqlStateStore]:
    opened = SqlStateStore.open(store_url, clock=clock)
    yield opened
    opened.close()


def _full_link() -> Link:
    return Link(
        whmcs_id=10,
        wp_id=20,
        base={"email": "Zoë@Example.com", "first_name": "Zoë", "last_name": "Ng", "company": "Ng & Co"},
        owner_user_id=7,
        digests={"whmcs": "a" * 32, "wordpress": "b" * 32},
        gone=frozenset({Side.WHMCS}),
        deactivated=frozenset({Side.WORDPRESS}),
        saved_roles=("customer", "subscriber"),
        dummy_fields=frozenset({"last_name", "company"}),
    )


def test_it_is_a_state_store(store: SqlStateStore) -> None:
    as_port: StateStore = store  # mypy checks the Protocol; this line keeps that check in the suite
    assert as_port.links() == []


def test_a_link_comes_back_exactly_as_saved(store: SqlStateStore) -> None:
    link = _full_link()
    store.save_link(link)
    store.save_link(Link(whmcs_id=3, wp_id=4))
    assert store.links() == [Link(whmcs_id=3, wp_id=4), link]  # by WHMCS client id


def test_saving_again_replaces_the_link_of_the_same_client(store: SqlStateStore) -> None:
    store.save_link(_full_link())
    changed = Link(whmcs_id=10, wp_id=20, base={"email": "zoe@example.com"}, owner_user_id=7)
    store.save_link(changed)
    assert store.links() == [changed]


def test_a_wordpress_user_relinked_to_another_client_leaves_one_link(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=100))
    store.save_link(Link(whmcs_id=2, wp_id=100))
    assert store.links() == [Link(whmcs_id=2, wp_id=100)]


def test_a_link_taking_ids_from_two_links_replaces_both(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=100))
    store.save_link(Link(whmcs_id=2, wp_id=200))
    store.save_link(Link(whmcs_id=1, wp_id=200))
    assert store.links() == [Link(whmcs_id=1, wp_id=200)]


def test_link_stats_count_gone_and_deactivated_links(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=1))
    store.save_link(Link(whmcs_id=2, wp_id=2, gone=frozenset({Side.WHMCS}), deactivated=frozenset({Side.WORDPRESS})))
    store.save_link(Link(whmcs_id=3, wp_id=3, gone=frozenset({Side.WHMCS, Side.WORDPRESS})))
    assert store.link_stats() == LinkStats(
        total=3, gone=2, deactivated=1, gone_whmcs=2, gone_wordpress=1, deactivated_whmcs=0, deactivated_wordpress=1,
    )


def test_pending_creates_keep_their_first_time_until_cleared(store: SqlStateStore, clock: StepClock) -> None:
    first = clock.now
    store.mark_pending_create(Side.WORDPRESS, "a@example.com")
    store.mark_pending_create(Side.WORDPRESS, "a@example.com")
    store.mark_pending_create(Side.WHMCS, "a@example.com")
    pending = store.pending_creates()
    assert pending == {
        (Side.WORDPRESS, "a@example.com"): first,
        (Side.WHMCS, "a@example.com"): first + timedelta(seconds=1),
    }
    store.clear_pending_create(Side.WORDPRESS, "a@example.com")
    store.clear_pending_create(Side.WORDPRESS, "nobody@example.com")  # clearing nothing is fine
    assert list(store.pending_creates()) == [(Side.WHMCS, "a@example.com")]


def test_runs_are_listed_newest_first_with_what_finish_recorded(store: SqlStateStore, clock: StepClock) -> None:
    started = clock.now
    first = store.begin_run(direction="both", full=True)
    store.finish_run(first, outcome="ok", counts={"update": 2, "create": 1}, errors=0, conflicts=1, message="fine")
    second = store.begin_run(direction="whmcs_to_wp", full=False)
    assert second > first
    newest, older = store.runs()
    assert newest.run_id == second and newest.outcome == "running" and newest.finished_at is None
    assert newest.direction == "whmcs_to_wp" and newest.full is False
    assert older.run_id == first and older.full is True
    assert (older.started_at, older.finished_at) == (started, started + timedelta(seconds=1))
    assert older.duration_seconds == 1.0
    assert dict(older.counts) == {"update": 2, "create": 1}
    assert (older.errors, older.conflicts, older.message) == (0, 1, "fine")
    assert [r.run_id for r in store.runs(limit=1)] == [second]


def test_finishing_an_unknown_run_is_a_state_error(store: SqlStateStore) -> None:
    with pytest.raises(StateError, match="run 999 is not in the state database"):
        store.finish_run(999, outcome="ok", counts={}, errors=0, conflicts=0)


def test_last_success_is_the_latest_run_that_got_to_the_end(store: SqlStateStore) -> None:
    assert store.last_success() is None
    ok = store.begin_run(direction="both", full=False)
    store.finish_run(ok, outcome="ok", counts={}, errors=0, conflicts=0)
    with_errors = store.begin_run(direction="both", full=False)
    store.finish_run(with_errors, outcome="errors", counts={}, errors=2, conflicts=0)
    finished = store.runs(1)[0].finished_at
    for outcome in ("guard", "failed"):
        stopped = store.begin_run(direction="both", full=False)
        store.finish_run(stopped, outcome=outcome, counts={}, errors=0, conflicts=0)
    store.begin_run(direction="both", full=False)  # still running
    assert store.last_success() == finished


def test_one_user_runs_and_manual_rows_say_nothing_of_the_whole_runs(store: SqlStateStore) -> None:
    """An event's one-user run, or a manual link, must not hide a guard-stopped or failing poll from
    ``status --check`` (nor count as the success that keeps it from going stale)."""
    guard = store.begin_run(direction="both", full=False)
    store.finish_run(guard, outcome="guard", counts={}, errors=0, conflicts=0)
    one = store.begin_run(direction="both", full=False, user="ann@example.com")
    store.finish_run(one, outcome="ok", counts={"update": 1}, errors=0, conflicts=0)
    manual = store.begin_run(direction="both", full=False)
    store.finish_run(manual, outcome="manual", counts={"manual_link": 1}, errors=0, conflicts=0)
    store.begin_run(direction="both", full=False)  # a poll still going
    assert store.last_success() is None
    assert [r.run_id for r in store.runs(5, whole=True)] == [guard]
    assert [r.run_id for r in store.runs(5)][:3] == [manual + 1, manual, one]


def test_an_issue_is_refreshed_while_open_and_reopened_after_resolution(store: SqlStateStore, clock: StepClock) -> None:
    run1 = store.begin_run(direction="both", full=False)
    store.record_issue(run1, key="a@example.com", side="wordpress", kind="error", message="rejected: bad email")
    first_seen = clock.now - timedelta(seconds=1)
    run2 = store.begin_run(direction="both", full=False)
    store.record_issue(run2, key="a@example.com", side="wordpress", kind="error", message="rejected again")
    (issue,) = store.open_issues()
    assert (issue.first_seen, issue.run_id, issue.message) == (first_seen, run2, "rejected again")
    assert issue.last_seen > issue.first_seen
    store.resolve_issues("a@example.com")
    assert store.open_issues() == []
    store.record_issue(run2, key="a@example.com", side="wordpress", kind="error", message="back")
    (reopened,) = store.open_issues()
    assert reopened.first_seen > issue.last_seen


def test_open_issues_are_oldest_first_and_resolve_can_narrow_to_a_kind(store: SqlStateStore) -> None:
    run = store.begin_run(direction="both", full=False)
    store.record_issue(run, key="b@example.com", side="whmcs", kind="conflict", message="two clients")
    store.record_issue(run, key="a@example.com", side="wordpress", kind="error", message="rejected")
    store.record_issue(run, key="b@example.com", side="whmcs", kind="error", message="timeout")
    assert [(i.key, i.kind) for i in store.open_issues()] == [
        ("b@example.com", "conflict"), ("a@example.com", "error"), ("b@example.com", "error")]
    oldest = store.oldest_open_issue()
    assert oldest is not None and (oldest.key, oldest.kind) == ("b@example.com", "conflict")
    store.resolve_issues("b@example.com", kind="error")
    assert [(i.key, i.kind) for i in store.open_issues()] == [("b@example.com", "conflict"), ("a@example.com", "error")]
    store.resolve_issues("b@example.com")
    store.resolve_issues("a@example.com")
    assert store.oldest_open_issue() is None


def test_an_issue_must_belong_to_a_recorded_run(store: SqlStateStore) -> None:
    # Foreign keys are enforced (SQLite needs them switched on per connection).
    with pytest.raises(StateError):
        store.record_issue(424242, key="a@example.com", side="whmcs", kind="error", message="x")
    assert store.open_issues() == []


def test_every_write_is_visible_to_another_connection_at_once(store_url: str, clock: StepClock) -> None:
    writer = SqlStateStore.open(store_url, clock=clock)
    reader = SqlStateStore.open(store_url)
    try:
        writer.save_link(Link(whmcs_id=1, wp_id=2))
        run = writer.begin_run(direction="both", full=False)
        writer.record_issue(run, key="a@example.com", side="whmcs", kind="error", message="x")
        writer.mark_pending_create(Side.WHMCS, "a@example.com")
        assert reader.links() == [Link(whmcs_id=1, wp_id=2)]
        assert [r.run_id for r in reader.runs()] == [run]
        assert [i.key for i in reader.open_issues()] == ["a@example.com"]
        assert list(reader.pending_creates()) == [(Side.WHMCS, "a@example.com")]
    finally:
        writer.close()
        reader.close()


def test_times_are_aware_utc(store: SqlStateStore) -> None:
    run = store.begin_run(direction="both", full=False)
    store.finish_run(run, outcome="ok", counts={}, errors=0, conflicts=0)
    summary = store.runs()[0]
    assert summary.started_at.tzinfo is UTC and summary.finished_at is not None and summary.finished_at.tzinfo is UTC
    last = store.last_success()
    assert last is not None and last.tzinfo is UTC


def test_a_read_only_store_reads_but_never_writes(store_url: str) -> None:
    with SqlStateStore.open(store_url) as writer:
        writer.save_link(Link(whmcs_id=1, wp_id=2))
    with SqlStateStore.open(store_url, create=False, read_only=True) as reader:
        assert reader.links() == [Link(whmcs_id=1, wp_id=2)]
        with pytest.raises(StateError, match="read-only"):
            reader.save_link(Link(whmcs_id=3, wp_id=4))
        with pytest.raises(StateError, match="read-only"):
            reader.begin_run(direction="both", full=False)
    with SqlStateStore.open(store_url) as again:
        assert again.links() == [Link(whmcs_id=1, wp_id=2)]


def test_what_the_store_holds_renders_as_plain_json(store: SqlStateStore) -> None:
    store.save_link(_full_link())
    run = store.begin_run(direction="both", full=False)
    store.record_issue(run, key="a@example.com", side="whmcs", kind="error", message="x")
    store.finish_run(run, outcome=RunOutcome.ERRORS, counts={"update": 1}, errors=1, conflicts=0)
    store.mark_pending_create(Side.WORDPRESS, "b@example.com")
    dumped = json.loads(json.dumps(status_json(read_status(store))))
    assert dumped["schema_revision"] == "0002"
    assert dumped["link_stats"]["total"] == 1
    links = json.loads(json.dumps([link_json(link) for link in store.links()]))
    assert links[0]["gone"] == ["whmcs"] and links[0]["key"] == "zoë@example.com"
    assert dumped["runs"][0]["outcome"] == "errors" and dumped["runs"][0]["duration_seconds"] == 2.0
    assert dumped["open_issues"][0]["key"] == "a@example.com"
    (pending,) = dumped["pending_creates"]
    assert (pending["side"], pending["key"]) == ("wordpress", "b@example.com")
    assert dumped["last_success"] == dumped["runs"][0]["finished_at"]


def test_a_run_left_running_is_interrupted_when_the_next_one_begins(store: SqlStateStore) -> None:
    killed = store.begin_run(direction="both", full=False)  # its process died: finish_run never came
    done = store.begin_run(direction="both", full=False)
    store.finish_run(done, outcome="ok", counts={}, errors=0, conflicts=0)
    latest = store.begin_run(direction="both", full=False)
    by_id = {r.run_id: r for r in store.runs()}
    assert by_id[killed].outcome == "interrupted" and by_id[killed].finished_at is None
    assert "killed" in by_id[killed].message
    assert by_id[done].outcome == "ok"
    assert by_id[latest].outcome == "running"


def test_old_history_is_pruned_but_recent_runs_and_open_issues_stay(
    store: SqlStateStore, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.state import store as store_module

    monkeypatch.setattr(store_module, "KEEP_RUNS", 2)
    a, b, c, d = (store.begin_run(direction="both", full=False) for _ in range(4))
    store.record_issue(a, key="open@example.com", side="whmcs", kind="error", message="still failing")
    store.record_issue(b, key="fixed@example.com", side="whmcs", kind="error", message="failed once")
    store.resolve_issues("fixed@example.com")
    clock.now += timedelta(days=store_module.KEEP_DAYS - 1)
    store.begin_run(direction="both", full=False)  # nothing is old enough yet
    assert len(store.runs(limit=100)) == 5
    clock.now += timedelta(days=2)
    e = store.begin_run(direction="both", full=False)
    kept = [r.run_id for r in store.runs(limit=100)]
    # b and c are old and not among the latest two (d and the run in between): gone, b's issue was
    # resolved long ago; a stays, an open issue points at it.
    assert kept == [e, e - 1, d, a]
    assert c not in kept
    assert [i.key for i in store.open_issues()] == ["open@example.com"]


def _linked(whmcs_id: int, wp_id: int) -> Change:
    return Change(key=f"u{whmcs_id}@example.com", side="", kind=ChangeKind.LINK, field="", before="",
                  after=f"WHMCS client #{whmcs_id} ⇄ WordPress user #{wp_id}", run_id=1, whmcs_id=whmcs_id, wp_id=wp_id)


def test_a_batch_of_new_links_is_saved_with_its_history(store: SqlStateStore) -> None:
    store.save_link(_full_link())
    batch = [(Link(whmcs_id=i, wp_id=100 + i, base={"email": f"u{i}@example.com"}), [_linked(i, 100 + i)])
             for i in (3, 1, 2)]
    store.save_links(batch)
    assert store.links() == [batch[1][0], batch[2][0], batch[0][0], _full_link()]
    assert [e.change.whmcs_id for e in store.history("u1@example.com")] == [1]
    store.save_links([])  # nothing to do, and no transaction


def test_a_batch_keeps_every_column_as_one_save_would(store: SqlStateStore, clock: StepClock) -> None:
    # save_links writes its JSON and times itself (not through the typed columns): a link with
    # every column set, non-ASCII values included, must read back exactly as save_link keeps it.
    full, when = _full_link(), clock.now
    store.save_links([(full, [_linked(10, 20)]), (Link(whmcs_id=11, wp_id=21), ())])
    assert store.links() == [full, Link(whmcs_id=11, wp_id=21)]
    entry = store.history("u10@example.com")[0]
    assert entry.at == when and entry.at.tzinfo is not None
    assert store.link_stats().gone_whmcs == 1 and store.link_stats().deactivated_wordpress == 1


def test_a_batch_replaces_the_links_that_shared_its_ids_as_one_save_would(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=100))
    store.save_link(Link(whmcs_id=2, wp_id=200))
    store.save_links([(Link(whmcs_id=1, wp_id=200), ()), (Link(whmcs_id=3, wp_id=300), ())])
    assert store.links() == [Link(whmcs_id=1, wp_id=200), Link(whmcs_id=3, wp_id=300)]


def test_a_batch_that_fails_keeps_none_of_its_links(store: SqlStateStore) -> None:
    store.save_link(Link(whmcs_id=1, wp_id=100))
    # The last history row breaks a NOT NULL constraint: the batch's one transaction fails whole.
    broken = replace(_linked(3, 300), key=None)  # type: ignore[arg-type]
    with pytest.raises(StateError):
        store.save_links([(Link(whmcs_id=2, wp_id=200), [_linked(2, 200)]), (Link(whmcs_id=3, wp_id=300), [broken])])
    assert store.links() == [Link(whmcs_id=1, wp_id=100)]


def test_links_of_finds_one_persons_links_as_every_link_has_them(store: SqlStateStore) -> None:
    full = _full_link()
    store.save_links([(full, ()), (Link(whmcs_id=11, wp_id=21), ()), (Link(whmcs_id=12, wp_id=22), ())])
    everyone = {link.whmcs_id: link for link in store.links()}
    assert store.links_of(whmcs_ids={12, 11, 99}) == [everyone[11], everyone[12]]
    assert store.links_of(whmcs_ids=[full.whmcs_id]) == [full]
    assert store.links_of(wp_id=22) == [everyone[12]]
    assert store.links_of(wp_id=999) == [] and store.links_of() == []
