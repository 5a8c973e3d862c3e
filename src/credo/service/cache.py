"""Evaluated subjects, kept until the next instant at which they can change.

An entry is good while nothing was written to the ledger (its head is unchanged: a new record, a
correction or a rulebook version drops the whole cache, whichever process wrote it) and until the
first instant at which a record expires, a list opens or closes, or another rulebook version
takes effect.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

from credo.ledger.book import Ledger
from credo.semantics import RulebookHistory, SubjectState
from credo.storage.sql import SqlStore


@dataclass(frozen=True)
class Cached:
    state: SubjectState
    history: RulebookHistory
    head: int
    until: dt.datetime | None


class StateCache:
    def __init__(self, store: SqlStore, ledger: Ledger, size: int = 100_000) -> None:
        self.store = store
        self.ledger = ledger
        self.size = size
        self.head = -1
        self.history: RulebookHistory | None = None
        self.entries: OrderedDict[str, Cached] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, subject: str, now: dt.datetime) -> Cached:
        """The subject as it stands at `now`, evaluated afresh only when something could differ."""
        head = self.store.head()
        with self.lock:
            if head != self.head or self.history is None:
                self.entries.clear()
                self.head = head
                self.history = self.ledger.history(upto=head)
            history = self.history
            found = self.entries.get(subject)
            if found is not None and found.state.at <= now and (found.until is None or now < found.until):
                self.entries.move_to_end(subject)
                self.hits += 1
                return found
        self.misses += 1
        records = self.ledger.counting_records(subject=subject, upto=head)
        state = history.evaluate(records, subject, now)
        later = [instant for instant in (state.next_change(now), _next_version(history, now)) if instant is not None]
        entry = Cached(state, history, head, min(later, default=None))
        with self.lock:
            if head == self.head:
                self.entries[subject] = entry
                if len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return entry


def _next_version(history: RulebookHistory, now: dt.datetime) -> dt.datetime | None:
    return next((version.effective for version in history.versions if version.effective > now), None)
