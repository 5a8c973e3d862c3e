"""The deliverer: turns what the outbox owes into notices, after the write that owed them.

It runs after each write (in the writing command, or the writing request of an app made with
create_app), in the relay process beside `credo serve` (credo.service.relay), when a server
starts, and in `credo sweep`, so whatever a kill left owed is delivered by the next of them. A delivery is
idempotent: each notice's id comes from its outbox entry and subject, an entry is marked
delivered in the transaction that stores its last notices, and a delivery cut short stores the
rest when run again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator

from credo.errors import CredoError
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros, micros
from credo.ledger.model import Correction, StoredRecord, counting
from credo.semantics import RulebookHistory, SubjectState
from credo.service.consequences import Consequence, consequences
from credo.service.notices import Event, Notice, compose
from credo.storage.outbox import Owed, StoredNotice
from credo.storage.sql import SqlStore

log = logging.getLogger(__name__)


class Deliverer:
    """One per process: deliveries in it run one at a time; several processes may deliver at once."""

    def __init__(self, store: SqlStore, ledger: Ledger, chunk: int = 500, budget: float = 2.0, page: int = 200) -> None:
        self.store = store
        self.ledger = ledger
        self.chunk = chunk
        self.page = page  # outbox entries read at once
        self.budget = budget  # seconds a writing request delivers for before handing over
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._low = 0  # every entry up to this id is delivered (ids grow in commit order)
        self._carrier: threading.Thread | None = None  # delivers what a request handed over
        self._carrying = threading.Lock()  # guards _carrier

    def run(self, with_time: bool = True, budget: float | None = None) -> int:
        """Deliver everything owed; return how many notices were stored. A call made while another
        thread delivers leaves the work to it (that thread looks again before it stops).

        Without `with_time`, a sweep's entries are passed over (they stay owed): telling everyone
        what time changed is the sweep's own work, and the next sweep's or start's should it die.
        With a `budget` (seconds), the call stops once it is spent and the deliverer's own thread
        (the carrier) carries on: the other writers' entries keep coming while one delivers, and a
        request that delivered them until none were left answered after four minutes in the soak."""
        ends = None if budget is None else time.monotonic() + budget
        self._wanted.set()
        sent = 0
        while self._wanted.is_set():
            if not self._lock.acquire(blocking=False):
                return sent
            try:
                self._wanted.clear()
                done, finished = self._owed(with_time, ends)
                sent += done
                if not finished:
                    self._hand_over(with_time)
                    return sent
            finally:
                self._lock.release()
        return sent

    def _owed(self, with_time: bool, ends: float | None) -> tuple[int, bool]:
        """Deliver what is owed (the lock held) until `ends`; whether all of it was delivered.

        Read a page at a time: read whole, a backlog was held in memory while it was delivered
        (11,630 entries in a soak whose relay had fallen behind), and what it took stayed with
        the process after."""
        sent, passed_over, after = 0, False, self._low
        # What later writes owe is the next call's: the relay looks at its chains between calls.
        upto = self.store.outbox_head()
        while True:
            page = self.store.owed(after, limit=self.page, upto=upto)
            for entry in page:
                if ends is not None and time.monotonic() >= ends:
                    return sent, False
                after = entry.id
                if entry.kind == "time" and not with_time:
                    passed_over = True
                    continue
                sent += self._deliver(entry)
                if not passed_over:  # _low never passes an entry still owed
                    self._low = entry.id
            if len(page) < self.page:
                return sent, True

    def _hand_over(self, with_time: bool) -> None:
        """Leave what is still owed to the carrier, started unless it runs; it waits for the lock
        (held by the caller) and delivers until nothing is owed and nobody asked again."""
        with self._carrying:
            self._wanted.set()
            if self._carrier is None:
                self._carrier = threading.Thread(
                    target=self._carry, args=(with_time,), name="credo-carrier", daemon=True
                )
                self._carrier.start()

    def _carry(self, with_time: bool) -> None:
        failed = False
        while True:
            with self._lock:
                self._wanted.clear()
                try:
                    self._owed(with_time, None)
                except Exception:  # the next write hands over again; a start or a sweep delivers too
                    log.exception("notices stay owed: delivery failed")
                    failed = True
            with self._carrying:  # _hand_over sees the carrier running, or starts another
                if failed or not self._wanted.is_set():
                    self._carrier = None
                    return

    def after_write(self) -> int:
        """Deliver after a write whose answer is already due: a failure leaves the notices owed
        (the next write, start or sweep delivers them) rather than failing an acknowledged write.
        A request delivers for at most `budget` seconds, then hands the rest to the carrier.

        A sweep's entry is left to the sweep: delivered here, a request that came while
        `credo sweep` ran waited on the notices of the whole ledger (an appeal answered after 63 s
        in the soak)."""
        return self._logged(with_time=False, budget=self.budget)

    def follow(self, alive: Callable[[], bool], trusted: Callable[[], bool], every: float = 0.1) -> int:
        """Deliver what writes owe as they commit, whoever wrote them, while alive() holds: what a
        kill left owed first (a sweep's entries included), then every `every` seconds whatever
        is new (a sweep's entries are the sweep's). Nothing is delivered while trusted() is
        False (a chain is broken: no notice tells a person what an altered ledger says). The
        relay process beside `credo serve` runs this (credo.service.relay); return how many
        notices were stored."""
        sent, caught_up = 0, False
        while alive():
            done = 0
            if trusted():
                done = self._logged(with_time=not caught_up)
                caught_up = True
            sent += done
            if not done:
                time.sleep(every)
        return sent

    def catch_up(self) -> int:
        """Deliver whatever a kill left owed, a sweep's entries included (when a server starts)."""
        return self._logged(with_time=True)

    def _logged(self, with_time: bool, budget: float | None = None) -> int:
        try:
            return self.run(with_time, budget)
        except Exception:
            log.exception("notices stay owed: delivery failed")
            return 0

    def _deliver(self, entry: Owed) -> int:
        sent, batch = 0, []
        now_us = micros(self.ledger.clock())
        for notice in self._notices(entry):
            batch.append(StoredNotice(notice.id, notice.subject, notice.kind, entry.at_us,
                                      notice.model_dump(mode="json", exclude={"id", "subject", "kind"})))  # fmt: skip
            if len(batch) == self.chunk:
                sent += self.store.deliver(entry, batch, False, now_us)
                batch = []
        return sent + self.store.deliver(entry, batch, True, now_us)

    def _notices(self, entry: Owed) -> Iterator[Notice]:
        if entry.kind == "time":
            yield from self._time(entry)
            return
        at = from_micros(entry.at_us)
        earlier, later = self.ledger.history(upto=entry.head_before), self.ledger.history(upto=entry.head_after)
        disputed = None
        if "record" in entry.facts:
            source, source_id = str(entry.facts["record"]).split(":", 1)
            disputed = self.store.record(key=(source, source_id))
        for subject in self.store.touched(entry):
            stored, fixes = self.store.subject_view(subject, entry.head_after)
            by_position = {record.position: record for record in stored}
            before = _state(earlier, subject, at, [r for r in stored if r.position <= entry.head_before],
                            [f for f in fixes if f.position <= entry.head_before])  # fmt: skip
            after = _state(later, subject, at, stored, fixes)
            event = Event(
                entry.kind, at, entry.facts,
                records=[record for record in stored if record.position > entry.head_before],
                corrections=[(fix, by_position[fix.record_position]) for fix in fixes
                             if fix.position > entry.head_before and fix.record_position in by_position],
                disputed=disputed,
            )  # fmt: skip
            found = _changes(before, after)
            rulebook = after.rulebook if after is not None else later.versions[-1].rulebook
            notice = compose(entry.notice_id(subject), subject, event, found, rulebook)
            if notice is not None:
                yield notice

    def _time(self, entry: Owed) -> Iterator[Notice]:
        """What time alone changed since the previous sweep; what a notice told since then is not
        told again.

        Every subject is read once (the state as known at the previous sweep is the same entries
        filtered by when they were recorded), and a subject whose entries and rulebook did not
        change, and whose state has no instant of change before now, is passed over without a
        second evaluation: nothing can have changed for them. Without that a sweep's cost grew
        with the ledger (a minute for a few minutes of traffic, in the soak)."""
        since_us = entry.facts["since_us"]
        since, now = from_micros(since_us), from_micros(entry.at_us)
        earlier, later = self.ledger.history(known_at=since), self.ledger.history(upto=entry.head_after)
        same_rules = [v.position for v in earlier.versions] == [v.position for v in later.versions]
        for subject in self.store.subjects():
            stored, fixes = self.store.subject_view(subject, entry.head_after)
            known = [record for record in stored if record.recorded_us <= since_us]
            known_fixes = [fix for fix in fixes if fix.recorded_us <= since_us]
            before = _state(earlier, subject, since, known, known_fixes)
            if before is None:
                continue
            if same_rules and len(known) == len(stored) and len(known_fixes) == len(fixes):
                change = min((t for t in (before.next_change(since), _next_version(later, since)) if t), default=None)
                if change is None or change > now:
                    continue  # the same entries, the same rules, and no instant of change since
            after = _state(later, subject, now, stored, fixes)
            if after is None:
                continue
            found = _changes(before, after)
            if not found:
                continue
            told = {
                item.topic
                for notice in self.store.notices(subject)
                if since_us <= notice.created_us < entry.at_us
                for item in Notice.from_stored(notice).consequences
            }
            found = [item for item in found if item.topic not in told]
            notice = compose(entry.notice_id(subject), subject, Event("time", now, {}), found, after.rulebook)
            if notice is not None:
                yield notice


def _next_version(history: RulebookHistory, after: dt.datetime) -> dt.datetime | None:
    return next((version.effective for version in history.versions if version.effective > after), None)


def _state(
    history: RulebookHistory, subject: str, at: dt.datetime, stored: list[StoredRecord], fixes: list[Correction]
) -> SubjectState | None:
    try:
        return history.evaluate([record.as_record() for record in counting(stored, fixes)], subject, at)
    except CredoError:  # no rulebook in force then, or records that contradict one another
        return None


def _changes(before: SubjectState | None, after: SubjectState | None) -> list[Consequence]:
    if after is None:
        return []
    try:
        return consequences(before, after)
    except CredoError:
        return []
