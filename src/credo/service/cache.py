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
from typing import Any

from credo.ledger.book import Ledger
from credo.ledger.model import counting
from credo.semantics import RulebookHistory, SubjectState, explain
from credo.storage.sql import SqlStore


@dataclass
class Cached:
    state: SubjectState
    history: RulebookHistory
    head: int
    _until: dt.datetime | bool | None = False  # False: not worked out yet
    _explained: dict[str, Any] | None = None

    def explanation(self) -> dict[str, Any]:
        """explain(state), worked out once per entry: the person's page asks it on every view, and
        the way to the next tier re-evaluates the subject once per behaviour that would help."""
        if self._explained is None:
            self._explained = explain(self.state)
        return self._explained

    def until(self) -> dt.datetime | None:
        """The first instant at which the state can change (None: never). Worked out on the
        first reuse: most entries under a population-wide load are never asked for again."""
        if self._until is False:
            at = self.state.at
            later = [instant for instant in (self.state.next_change(at), _next_version(self.history, at)) if instant]
            self._until = min(later, default=None)
        return self._until  # type: ignore[return-value]


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
        with self.store.reading() as reader:
            head = reader.head()
            with self.lock:
                if head != self.head or self.history is None:
                    self.entries.clear()
                    self.head = head
                    self.history = self.ledger.history(upto=head)
                history = self.history
                found = self.entries.get(subject)
                if found is not None and found.state.at <= now and _holds_at(found.until(), now):
                    self.entries.move_to_end(subject)
                    self.hits += 1
                    return found
            self.misses += 1
            stored, fixes = reader.subject(subject, head)
        records = [record.as_record() for record in counting(stored, fixes)]
        entry = Cached(history.evaluate(records, subject, now), history, head)
        with self.lock:
            if head == self.head:
                self.entries[subject] = entry
                if len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return entry


def _holds_at(until: dt.datetime | None, now: dt.datetime) -> bool:
    return until is None or now < until


def _next_version(history: RulebookHistory, now: dt.datetime) -> dt.datetime | None:
    return next((version.effective for version in history.versions if version.effective > now), None)
