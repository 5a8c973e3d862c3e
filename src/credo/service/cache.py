"""Evaluated subjects, kept until the next instant at which they can change.

An entry is good while nothing was written to the ledger about its subject (whichever process
wrote it: when the head moves, the subjects of the new records and corrections are dropped, and a
new rulebook version drops everything) and until the first instant at which a record expires, a
list opens or closes, or another rulebook version takes effect.

A question is answered in three steps so that the service can run the costly ones off its event
loop (credo.service.work): `hit` (the head and a dictionary), `read` (the subject's entries from
the store), `evaluate` (the reference semantics, pure Python).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from credo.ledger.book import Ledger
from credo.ledger.model import counting
from credo.semantics import Record, RulebookHistory, SubjectState, explain
from credo.storage.sql import Reader, SqlStore

_DROP_ALL_PAST = 10_000  # subjects changed at once past which the whole cache is dropped instead
#: What an entry weighs besides its records, in records. Measured (tracemalloc, the article's
#: rulebook): an evaluated state holds about 2 KB and 0.3 KB per counting record, twice that
#: once its explanation was asked, plus the records themselves (0.2 KB each). The cache is bounded
#: by weight, not by entries: bounded by entries, a soak whose subjects kept gaining records grew
#: the server by 260 MB in 25 minutes.
_ENTRY_WEIGHT = 4
#: The default bound, in records: 50 to 100 MB of evaluated states (`credo serve --cache-records`).
CACHE_RECORDS = 100_000


@dataclass
class Cached:
    state: SubjectState
    history: RulebookHistory
    head: int
    _until: dt.datetime | bool | None = False  # False: not worked out yet
    _explained: dict[str, Any] | None = None
    weight: int = _ENTRY_WEIGHT
    #: Told how much more the entry weighs once its explanation is kept (StateCache._grew).
    grew: Callable[[Cached, int], None] | None = field(default=None, repr=False, compare=False)

    def explanation(self) -> dict[str, Any]:
        """explain(state), worked out once per entry: the person's page asks it on every view, and
        the way to the next tier re-evaluates the subject once per behaviour that would help.

        Kept, it weighs about as much as the state (tracemalloc: 110 KB beside 104 KB for 190
        records), so the entry's weight doubles. Left uncounted, the cache's bound in records
        held ever more bytes as the subjects whose pages are viewed, and whose files grow, took
        the place of those only decided about: a soak's server gained 15 MB after its first
        window with its cache full all along."""
        if self._explained is None:
            explained = explain(self.state)
            if self._explained is None:  # not counted twice when two requests worked it out at once
                self._explained = explained
                if self.grew is not None:
                    self.grew(self, self.weight)
        return self._explained

    def until(self) -> dt.datetime | None:
        """The first instant at which the state can change (None: never). Worked out on the
        first reuse: most entries under a population-wide load are never asked for again."""
        if self._until is False:
            at = self.state.at
            later = [instant for instant in (self.state.next_change(at), _next_version(self.history, at)) if instant]
            self._until = min(later, default=None)
        return self._until  # type: ignore[return-value]


@dataclass(frozen=True)
class Reading:
    """A subject's counting records as the ledger held them at `head`, not yet evaluated."""

    subject: str
    head: int
    history: RulebookHistory
    records: list[Record]


class StateCache:
    def __init__(self, store: SqlStore, ledger: Ledger, weight: int = CACHE_RECORDS) -> None:
        """`weight`: how much the cache may hold, in records (about 1 KB each, see _ENTRY_WEIGHT)."""
        self.store = store
        self.ledger = ledger
        self.limit = weight
        self.held = 0
        self.head = -1
        self.history: RulebookHistory | None = None
        self.entries: OrderedDict[str, Cached] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, subject: str, now: dt.datetime) -> Cached:
        """The subject as it stands at `now`, evaluated afresh only when something could differ."""
        return self.hit(subject, now) or self.evaluate(self.read(subject), now)

    def hit(self, subject: str, now: dt.datetime) -> Cached | None:
        """The cached state, if it still holds at `now` (one small query: the ledger's head)."""
        with self.store.reading() as reader:
            head = reader.head()
            with self.lock:
                if head != self.head or self.history is None:
                    self._moved_to(reader, head)
                found = self.entries.get(subject)
                if found is not None and found.state.at <= now and _holds_at(found.until(), now):
                    self.entries.move_to_end(subject)
                    self.hits += 1
                    return found
        self.misses += 1
        return None

    def count(self, subject: str) -> int:
        """How many records the subject has: what reading and evaluating it will cost."""
        with self.store.reading() as reader:
            return reader.size(subject, reader.head())

    def read(self, subject: str) -> Reading:
        """The subject's counting records at the current head (a query; its cost grows with them)."""
        with self.store.reading() as reader:
            head = reader.head()
            with self.lock:
                if head != self.head or self.history is None:
                    self._moved_to(reader, head)
                history = self.history
            assert history is not None
            stored, fixes = reader.subject(subject, head)
        return Reading(subject, head, history, [record.as_record() for record in counting(stored, fixes)])

    def evaluate(self, reading: Reading, at: dt.datetime, keep: bool = True) -> Cached:
        """The subject's state at `at` (the costly step), kept for later questions when `keep`."""
        state = reading.history.evaluate(reading.records, reading.subject, at)
        entry = Cached(state, reading.history, reading.head, weight=_ENTRY_WEIGHT + len(reading.records))
        if keep:
            with self.lock:
                if reading.head == self.head:
                    self._forget(reading.subject)
                    self.entries[reading.subject] = entry
                    entry.grew = self._grew
                    self.held += entry.weight
                    self._shrink()
        return entry

    def _grew(self, entry: Cached, more: int) -> None:
        """An entry now keeps its explanation too: count it, while the entry is still held."""
        with self.lock:
            entry.weight += more
            if self.entries.get(entry.state.subject) is entry:
                self.held += more
                self._shrink()

    def _shrink(self) -> None:
        while self.held > self.limit and self.entries:  # the least recently used go first
            self.held -= self.entries.popitem(last=False)[1].weight

    def _forget(self, subject: str) -> None:
        dropped = self.entries.pop(subject, None)
        if dropped is not None:
            self.held -= dropped.weight

    def _moved_to(self, reader: Reader, head: int) -> None:
        """The ledger's head moved (under self.lock): drop what the new entries may have changed."""
        changed = reader.changed_subjects(self.head, head) if self.history is not None and head > self.head else None
        if changed is None or len(changed) > _DROP_ALL_PAST:
            self.entries.clear()
            self.held = 0
            self.history = self.ledger.history(upto=head)
        else:
            for subject in changed:
                self._forget(subject)
        self.head = head


def _holds_at(until: dt.datetime | None, now: dt.datetime) -> bool:
    return until is None or now < until


def _next_version(history: RulebookHistory, now: dt.datetime) -> dt.datetime | None:
    return next((version.effective for version in history.versions if version.effective > now), None)
