"""The passing of time: lapse overdue appeals, and tell subjects what time alone changed.

Run it every so often (`credo sweep`, from cron). It first recomputes every hash chain from its
first entry and records what it found in a checkpoint (a server over the ledger reads it within
its next check); over a broken chain it does nothing else. Then it delivers whatever notices a
crash left owed, and compares each subject as credo knew them at the previous sweep with how they
stand now (the sweep is an outbox entry like any write, so a kill during it loses nothing); what a
notice already said since then is not said twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros, micros
from credo.service.appeals import Appeals
from credo.service.delivery import Deliverer
from credo.storage.chains import record_checkpoint
from credo.storage.sql import SqlStore


@dataclass(frozen=True)
class SweepReport:
    since: str | None
    now: str
    lapsed_appeals: int
    notices: int
    chain: str | None = None  # the problem, when a chain does not verify (and nothing was swept)


def sweep(store: SqlStore, clock: Callable[[], dt.datetime], whole: bool = True) -> SweepReport:
    """Check the chains (whole: from their first entries; else from the last checkpoint), then
    deliver what a crash left owed, lapse overdue appeals and notify what time changed."""
    ledger = Ledger(store, clock)
    deliverer = Deliverer(store, ledger)
    now = clock()
    report = store.verify(whole=whole)
    record_checkpoint(store, report, now, whole=whole)
    if not report.ok:
        return SweepReport(None, now.isoformat(), 0, 0, report.problem or "the chain does not verify")
    sent = deliverer.run()  # what a crash left owed
    lapsed = Appeals(store, ledger, clock).lapse_overdue()
    last = store.last_sweep()
    store.record_sweep(micros(now), last)
    sent += deliverer.run()
    return SweepReport(None if last is None else from_micros(last).isoformat(), now.isoformat(), lapsed, sent)
