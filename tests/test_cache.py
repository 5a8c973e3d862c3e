"""The decision cache answers exactly as a fresh evaluation would, and notices every change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from credo.ledger.book import Ledger
from credo.service.cache import StateCache
from tests.ledger_contract import ARTICLE, EXAMPLE, Clock
from tests.stores import initialised, sqlite_url


def test_cached_answers_equal_fresh_ones_as_time_passes_and_records_arrive(tmp_path: Path) -> None:
    store = initialised(sqlite_url(tmp_path))
    clock = Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))
    ledger = Ledger(store, clock)
    ledger.publish(ARTICLE, "2019-01-01")
    clock.now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    ledger.ingest(EXAMPLE)
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
