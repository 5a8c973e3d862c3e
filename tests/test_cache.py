"""The decision cache answers exactly as a fresh evaluation would, and notices every change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credo.ledger.book import Ledger
from credo.service.cache import StateCache
from credo.storage import SqlStore
from tests.ledger_contract import ARTICLE, EXAMPLE, Clock
from tests.stores import initialised, sqlite_url

SUBJECTS = ["p-zhang-wei", "p-wang-fang", "p-zhao-lei", "p-li-na", "p-new-one"]  # persons: the rows say no kind
BEHAVIOURS = [("judgment_defaulted", "court"), ("bill_paid_on_time", "bank"), ("fraud", "court"),
              ("charity_donation", "charity_federation"), ("judgment_performed", "court")]  # fmt: skip


def example_ledger(tmp_path: Path) -> tuple[SqlStore, Ledger, Clock]:
    """The article's rulebook and example records in a fresh SQLite ledger, the clock at 2025-06-01."""
    store = initialised(sqlite_url(tmp_path))
    clock = Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))
    ledger = Ledger(store, clock)
    ledger.publish(ARTICLE, "2019-01-01")
    clock.now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    ledger.ingest(EXAMPLE)
    return store, ledger, clock


def test_cached_answers_equal_fresh_ones_as_time_passes_and_records_arrive(tmp_path: Path) -> None:
    store, ledger, clock = example_ledger(tmp_path)
    cache = StateCache(store, ledger)
    subjects = ["p-zhang-wei", "p-wang-fang", "p-zhao-lei", "o-jinxin-trading", "p-chen-jie"]
    late = tmp_path / "late.csv"
    late.write_text("subject,behaviour,at,source,id\np-wang-fang,judgment_defaulted,2025-08-01,court,late-1\n")
    for day in range(0, 800, 9):
        now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC) + dt.timedelta(days=day, hours=day % 24)
        clock.now = now
        if day == 90:
            ledger.ingest(late)  # a write: the cache must drop what it had
        for subject in subjects:
            fresh = ledger.state(subject, now)
            cached = cache.get(subject, now).state
            for action in ("buy_flight_ticket", "bid_for_procurement", "enrol_university", "ride_public_transport"):
                assert cached.decide(action, now).as_dict() == fresh.decide(action).as_dict(), (subject, now, action)
    assert cache.hits > cache.misses  # it did serve from the cache most of the time


def test_a_write_drops_only_the_subjects_it_touched_and_a_version_drops_all(tmp_path: Path) -> None:
    """Issue 15 item 2: decisions stay warm while records about other subjects keep arriving."""
    store, ledger, clock = example_ledger(tmp_path)
    now = clock.now
    cache = StateCache(store, ledger)
    kept, touched = "p-zhang-wei", "p-wang-fang"
    first_kept, first_touched = cache.get(kept, now), cache.get(touched, now)
    late = tmp_path / "late.csv"
    late.write_text("subject,behaviour,at,source,id\np-wang-fang,judgment_defaulted,2025-05-01,court,late-1\n")
    ledger.ingest(late)
    assert cache.get(kept, now) is first_kept  # another subject's record: still the same entry
    again = cache.get(touched, now)
    assert again is not first_touched  # its own record: evaluated afresh
    assert (
        again.state.decide("buy_flight_ticket", now).as_dict()
        == ledger.state(touched, now).decide("buy_flight_ticket").as_dict()
    )
    ledger.publish_text(ARTICLE.read_text().replace('version: "2019.1"', 'version: "2019.2"'), "2030-01-01")
    assert cache.get(kept, now) is not first_kept  # a new rulebook version may change everyone


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["write", "ask"]), st.sampled_from(SUBJECTS), st.integers(0, 400)),
        min_size=5,
        max_size=15,
    )
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_answer_is_older_than_a_write_it_should_have_seen(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str, int]]
) -> None:
    """Writes about random subjects interleaved with questions: every cached answer equals a fresh
    evaluation at that moment."""
    folder = tmp_path_factory.mktemp("cache")
    store = initialised(sqlite_url(folder))
    clock = Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))
    ledger = Ledger(store, clock)
    ledger.publish(ARTICLE, "2019-01-01")
    clock.now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    ledger.ingest(EXAMPLE)
    cache = StateCache(store, ledger)
    for number, (step, subject, day) in enumerate(steps):
        now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC) + dt.timedelta(days=day // 4)
        clock.now = max(clock.now, now)
        if step == "write":
            row = folder / f"w{number}.csv"
            behaviour, source = BEHAVIOURS[day % len(BEHAVIOURS)]
            at = (clock.now - dt.timedelta(days=1 + day % 300)).date().isoformat()
            row.write_text(f"subject,behaviour,at,source,id\n{subject},{behaviour},{at},{source},w{number}\n")
            ledger.ingest(row)
            continue
        for action in ("buy_flight_ticket", "bid_for_procurement", "enrol_university"):
            fresh = ledger.state(subject, clock.now).decide(action).as_dict()
            assert cache.get(subject, clock.now).state.decide(action, clock.now).as_dict() == fresh, (subject, action)
    store.close()


def test_the_cache_is_bounded_by_the_records_it_holds_not_by_its_entries(tmp_path: Path) -> None:
    """Issue 13 item 8: bounded by entries, the cache of a server whose subjects keep gaining
    records grew without end (the soak's resident memory rose 260 MB in 25 minutes)."""
    store, ledger, clock = example_ledger(tmp_path)
    now = clock.now
    subjects = ["p-zhang-wei", "p-wang-fang", "p-zhao-lei", "o-jinxin-trading", "p-chen-jie"]
    weights = {subject: StateCache(store, ledger).get(subject, now).weight for subject in subjects}
    limit = sum(sorted(weights.values())[-2:])  # room for the two heaviest, never for all five
    cache = StateCache(store, ledger, weight=limit)
    for subject in subjects:
        cache.get(subject, now)
        assert cache.held == sum(entry.weight for entry in cache.entries.values()) <= limit
    assert subjects[-1] in cache.entries and len(cache.entries) < len(subjects)  # the oldest went first
    assert cache.get(subjects[0], now).state.decide("buy_flight_ticket", now).as_dict() == (
        ledger.state(subjects[0], now).decide("buy_flight_ticket").as_dict()
    )


def test_an_explanation_kept_counts_in_the_bound(tmp_path: Path) -> None:
    """Issue 13 item 8: a kept explanation weighs about what its state does. Uncounted, a full
    cache held ever more bytes as viewed subjects (explained, with growing files) displaced the
    others, and the soak's server kept growing after its first window."""
    store, ledger, clock = example_ledger(tmp_path)
    now = clock.now
    subjects = ["p-zhang-wei", "p-wang-fang", "p-zhao-lei", "o-jinxin-trading"]
    weights = {subject: StateCache(store, ledger).get(subject, now).weight for subject in subjects}
    cache = StateCache(store, ledger, weight=sum(weights.values()))
    for subject in subjects:
        cache.get(subject, now)
    assert list(cache.entries) == subjects and cache.held == sum(weights.values())  # all fit, unexplained
    first = cache.get(subjects[0], now)
    explanation = first.explanation()
    assert first.weight == 2 * weights[subjects[0]]
    assert first.explanation() is explanation and first.weight == 2 * weights[subjects[0]]  # counted once
    assert cache.held == sum(entry.weight for entry in cache.entries.values()) <= cache.limit
    assert subjects[0] in cache.entries and subjects[1] not in cache.entries  # the least recently used made room
    store.close()
