"""The passing of time: lapse overdue appeals, and tell subjects what time alone changed.

Run it every so often (`credo sweep`, from cron). It first recomputes every hash chain from its
first entry and records what it found in a checkpoint (a server over the ledger reads it within
its next check); over a broken chain it does nothing else. It compares each subject as credo knew them at
the previous sweep with how they stand now, so records that arrived by file in between are
covered too; what a notice already said since then is not said twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros, micros
from credo.semantics import NoRulebookInForce
from credo.service.appeals import Appeals
from credo.service.notices import appeal_text, changes
from credo.storage.chains import record_checkpoint
from credo.storage.sql import SqlStore


@dataclass(frozen=True)
class SweepReport:
    since: str | None
    now: str
    lapsed_appeals: int
    notices: int
    chain: str | None = None  # the problem, when a chain does not verify (and nothing was swept)


def _topic(kind: str, body: dict[str, object]) -> tuple[str, object]:
    return kind, body.get("list") or body.get("program") or body.get("measure")


def sweep(store: SqlStore, clock: Callable[[], dt.datetime], whole: bool = True) -> SweepReport:
    """Check the chains (whole: from their first entries; else from the last checkpoint), then
    lapse overdue appeals and notify what time changed."""
    ledger = Ledger(store, clock)
    now = clock()
    report = store.verify(whole=whole)
    record_checkpoint(store, report, now, whole=whole)
    if not report.ok:
        return SweepReport(None, now.isoformat(), 0, 0, report.problem or "the chain does not verify")
    lapsed = Appeals(store, ledger, clock).lapse_overdue()
    last = store.last_sweep()
    sent = 0
    if last is not None:
        since = from_micros(last)
        for subject in store.subjects():
            try:
                after = ledger.state(subject, now)
                before = ledger.state(subject, since, known_at=since)
            except NoRulebookInForce:
                continue
            told = {
                _topic(notice["kind"], notice) for notice in store.notices(subject) if notice["at"] >= since.isoformat()
            }
            for kind, body in changes(before, after):
                if _topic(kind, body) in told:
                    continue
                store.add_notice(
                    uuid.uuid4().hex,
                    subject,
                    kind,
                    micros(now),
                    {"at": now.isoformat(), **body, "appeal": appeal_text(after)},
                )
                sent += 1
    store.record_sweep(micros(now))
    return SweepReport(None if last is None else from_micros(last).isoformat(), now.isoformat(), lapsed, sent)
