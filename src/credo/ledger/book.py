"""The ledger in store mode: publish rulebooks, ingest and correct records, and ask questions
"as of t, as known at k" with the same reference semantics as file mode."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from credo.errors import CredoError, InstantError, RecordError
from credo.ledger.chain import LedgerReport, from_micros, micros
from credo.ledger.incoming import identifier
from credo.ledger.ingest import BATCH, Rejection, RejectionLog, file_batches
from credo.ledger.model import Clock, Correction, CorrectionAction, Incoming, StoredRecord, StoredVersion, counting
from credo.rules.lint import load_rulebook, loads_rulebook
from credo.rules.model import Rulebook
from credo.rules.time import parse_instant
from credo.semantics.records import Record
from credo.semantics.state import SubjectState, subject_kind
from credo.semantics.versions import RulebookHistory, Version

MAX_POSITION = 2**63 - 1  # a position is a 64-bit integer in every store


class LedgerError(CredoError, ValueError):
    """A store-mode request that cannot be carried out (named, with what to do)."""


class Tally(Protocol):
    accepted: int
    duplicates: int
    first_position: int | None
    last_position: int | None


class LedgerStore(Protocol):
    """What the ledger needs of a store (credo.storage provides it)."""

    def publish(self, *, name: str, version: str, effective: dt.datetime, clock: Clock, retroactive: bool,
                text: str) -> int: ...  # fmt: skip

    def correct(self, *, record_position: int, action: CorrectionAction, reason: str, actor: str,
                clock: Clock) -> int: ...  # fmt: skip

    def ingest(self, batches: Iterable[Sequence[Incoming]], clock: Clock,
               on_conflict: Callable[[Incoming, int], None],
               on_batch: Callable[[int], None] | None = None, receipts: bool = False,
               owe: bool = True) -> Any: ...  # fmt: skip

    def records(
        self, subject: str | None = None, known_at: dt.datetime | None = None, upto: int | None = None
    ) -> list[StoredRecord]: ...

    def record(self, position: int | None = None, key: tuple[str, str] | None = None) -> StoredRecord | None: ...

    def subject_kinds(self, subjects: Collection[str]) -> dict[str, set[str]]: ...

    def corrections(
        self, known_at: dt.datetime | None = None, upto: int | None = None, subject: str | None = None
    ) -> list[Correction]: ...

    def versions(self, known_at: dt.datetime | None = None, upto: int | None = None) -> Sequence[StoredVersion]: ...

    def head(self) -> int: ...

    def verify(self) -> LedgerReport: ...


@dataclass(frozen=True)
class IngestSummary:
    accepted: int
    duplicates: int
    rejected: int
    first_position: int | None
    last_position: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "first_position": self.first_position,
            "last_position": self.last_position,
        }


class RulebookConflict(LedgerError):
    """A different text under a name and version already published: a version is never edited."""


@dataclass(frozen=True)
class Publication:
    """What publishing did: the version's ledger position, and whether anything was written."""

    position: int
    new: bool  # False: the same text was already in force from that instant; nothing was written


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Ledger:
    """Store mode: the clock is injected so that tests and replays can fix time."""

    def __init__(self, store: LedgerStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._parsed: dict[int, Rulebook] = {}

    # Rulebook versions.

    def history(self, known_at: dt.datetime | None = None, upto: int | None = None) -> RulebookHistory:
        versions = []
        for stored in self.store.versions(known_at, upto):
            if stored.position not in self._parsed:
                self._parsed[stored.position] = loads_rulebook(stored.text, f"<rulebook version at {stored.position}>")
            versions.append(Version(from_micros(stored.effective_us), self._parsed[stored.position], stored.position))
        return RulebookHistory(versions)

    def publish(self, path: Path, effective: str, retroactive: bool = False) -> int:
        """Publish a rulebook file (lint errors refuse it) to take effect at `effective`."""
        return self.publish_file(path, effective, retroactive).position

    def publish_file(self, path: Path, effective: str, retroactive: bool = False) -> Publication:
        load_rulebook(path)  # the file's own name in any error
        return self.publication(path.read_text(encoding="utf-8"), effective, retroactive, str(path))

    def publish_text(self, text: str, effective: str, retroactive: bool = False, file: str = "<rulebook>") -> int:
        """Publish a rulebook's text; a version is never edited, only succeeded."""
        return self.publication(text, effective, retroactive, file).position

    def publication(
        self, text: str, effective: str, retroactive: bool = False, file: str = "<rulebook>"
    ) -> Publication:
        """Publish a rulebook's text, unless the same text is already in force from `effective` (a
        no-op, so that a deployment can publish on every start); a different text under a name and
        version already published is refused (RulebookConflict)."""
        rulebook = loads_rulebook(text, file)
        now = self.clock()
        try:
            when = parse_instant(effective, rulebook.tz)
        except InstantError as exc:
            raise RecordError(str(exc), field="effective") from exc
        published = self.store.versions()
        for stored in published:
            if (stored.name, stored.version) == (rulebook.rulebook, rulebook.version) and stored.text != text:
                raise RulebookConflict(
                    f"{file}: rulebook {rulebook.rulebook} version {rulebook.version} is already published (ledger "
                    f"position {stored.position}) with a different text; a version is never edited: give the new "
                    "text a new `version`"
                )
        in_force = max((stored for stored in published if stored.effective_us <= micros(when)),
                       key=lambda stored: (stored.effective_us, stored.position), default=None)  # fmt: skip
        if in_force is not None and in_force.text == text:
            return Publication(in_force.position, new=False)
        if published and when < now and not retroactive:
            raise LedgerError(
                f"--effective {when.isoformat()} is in the past: a later version that applies to what already "
                "happened changes people's scores after the fact; add --retroactive to publish it as such"
            )
        position = self.store.publish(
            name=rulebook.rulebook, version=rulebook.version, effective=when, clock=self.clock,
            retroactive=retroactive and when < now, text=text,
        )  # fmt: skip
        return Publication(position, new=True)

    # Records.

    def ingest(
        self,
        path: Path,
        *,
        skip_invalid: bool = False,
        report: Path | None = None,
        progress: Callable[[int], None] | None = None,
        batch_size: int = BATCH,
        notify: bool = True,
    ) -> IngestSummary:
        """Ingest a CSV, JSON Lines or Parquet file in one transaction (see credo.ledger.ingest).

        The store owes the notices the new records bring in the same transaction; notify=False is
        for a backfill of history that nobody is to be told of.
        """
        history = self.history()
        if not history:
            raise LedgerError("no rulebook is published in this store; run `credo rulebook publish FILE --effective T`")
        now = self.clock()
        log = RejectionLog(skip_invalid, report)

        def conflict(incoming: Incoming, position: int) -> None:
            log(Rejection(str(path), incoming.line, "id",
                          f"record {incoming.source}:{incoming.source_id} is already in the ledger at position "
                          f"{position} with different content"))  # fmt: skip

        try:
            batches = file_batches(path, history, now, log, self.store.subject_kinds, progress, batch_size)
            tally: Tally = self.store.ingest(batches, self.clock, conflict, owe=notify)
        finally:
            log.close()
        return IngestSummary(tally.accepted, tally.duplicates, log.count, tally.first_position, tally.last_position)

    def find(self, reference: str) -> StoredRecord:
        """A record by its ledger position or by SOURCE:ID."""
        record = None
        reference = identifier(reference, "record")
        if reference.isascii() and reference.isdigit():  # not "²": str.isdigit takes any digit
            position = int(reference)
            record = self.store.record(position=position) if position <= MAX_POSITION else None
        elif ":" in reference:
            source, source_id = reference.split(":", 1)
            record = self.store.record(key=(source, source_id))
        if record is None:
            raise RecordError(f"no record {reference!r} in the ledger (give a position or SOURCE:ID)", field="record")
        return record

    def correct(self, reference: str, action: CorrectionAction, reason: str, actor: str) -> int:
        if not reason.strip() or not actor.strip():
            raise LedgerError("a correction needs a reason and who made it (--reason, --by)")
        record = self.find(reference)
        return self.store.correct(
            record_position=record.position, action=action, reason=reason, actor=actor, clock=self.clock
        )

    def counting_records(
        self, known_at: dt.datetime | None = None, subject: str | None = None, upto: int | None = None
    ) -> list[Record]:
        """The records that count, as known at `known_at` (or at ledger position `upto`), in ledger order."""
        stored = self.store.records(subject, known_at, upto)
        fixes = self.store.corrections(known_at, upto, subject)
        return [record.as_record() for record in counting(stored, fixes)]

    # Questions.

    def instant(self, text: str, known_at: dt.datetime | None = None) -> dt.datetime:
        history = self.history(known_at)
        if not history:
            raise LedgerError("no rulebook is published in this store")
        return parse_instant(text, history.versions[-1].rulebook.tz)

    def state(
        self, subject: str, at: dt.datetime, known_at: dt.datetime | None = None, upto: int | None = None
    ) -> SubjectState:
        history = self.history(known_at, upto)
        return history.evaluate(self.counting_records(known_at, subject, upto), subject, at)

    def states(self, at: dt.datetime, known_at: dt.datetime | None = None) -> Iterator[SubjectState]:
        history = self.history(known_at)
        rulebook = history.require(at)
        by_subject: dict[str, list[Record]] = {}
        for record in self.counting_records(known_at):
            by_subject.setdefault(record.subject, []).append(record)
        for subject in sorted(by_subject):
            own = sorted((record for record in by_subject[subject] if record.at <= at), key=lambda r: r.at)
            kind = subject_kind(subject, by_subject[subject])
            yield SubjectState(rulebook, subject, kind, own, at, history.points_of)

    def verify(self) -> LedgerReport:
        return self.store.verify()
