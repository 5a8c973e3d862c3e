"""What the ledger stores: records, corrections and rulebook versions, each an append-only entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from credo.ledger.chain import Field, from_micros
from credo.semantics.records import Record, SubjectKind

CorrectionAction = Literal["reverse", "suspend", "reinstate", "confirm"]
CORRECTION_ACTIONS: tuple[CorrectionAction, ...] = ("reverse", "suspend", "reinstate", "confirm")

#: Now, as a store stamps an entry: read under the append lock, so that the stamps of the ledger's
#: entries rise with their positions (a writer that read its clock before another's commit, and
#: appended after it, would stamp its entry as known before one that precedes it).
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A checked record on its way into the ledger."""

    subject: str
    kind: SubjectKind
    behaviour: str
    at_us: int
    source: str
    source_id: str
    evidence: str | None
    confidence: float | None
    pending: bool  # waits for a human to confirm the identification before it counts
    line: int = 0  # where it came from, for reports

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)

    def content(self) -> tuple[Field, ...]:
        """What makes two submissions the same record (everything but when credo learned it)."""
        return (self.subject, self.kind, self.behaviour, self.at_us, self.source, self.source_id, self.evidence,
                self.confidence)  # fmt: skip

    def fields(self, recorded_us: int) -> tuple[Field, ...]:
        """The canonical fields of the stored entry."""
        return (*self.content(), recorded_us, self.pending)

    def canonical(self, recorded_us: int) -> str:
        """chain.canonical("record", self.fields(recorded_us)), written out: ingest's hot path."""
        evidence = "\x00" if self.evidence is None else self.evidence
        # + 0.0 turns -0.0 into 0.0, as chain.canonical does: SQLite keeps no sign of a zero.
        confidence = "\x00" if self.confidence is None else str(self.confidence + 0.0)
        pending = "true" if self.pending else "false"
        return (
            f"record\x1f{self.subject}\x1f{self.kind}\x1f{self.behaviour}\x1f{self.at_us}\x1f{self.source}"
            f"\x1f{self.source_id}\x1f{evidence}\x1f{confidence}\x1f{recorded_us}\x1f{pending}"
        )


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the ledger holds it, with its position and what credo knows of its status."""

    position: int
    subject: str
    kind: SubjectKind
    behaviour: str
    at_us: int
    recorded_us: int
    source: str
    source_id: str
    evidence: str | None
    confidence: float | None
    pending: bool

    @property
    def id(self) -> str:
        """The record's public id: its source and the source's own id."""
        return f"{self.source}:{self.source_id}"

    def as_record(self) -> Record:
        return Record(self.subject, self.behaviour, from_micros(self.at_us), self.id, self.source, self.kind)


@dataclass(frozen=True, slots=True)
class Correction:
    position: int
    record_position: int
    action: CorrectionAction
    reason: str
    actor: str
    recorded_us: int


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A published rulebook version: its text, when it takes effect, and when it was published."""

    position: int
    name: str
    version: str
    effective_us: int
    published_us: int
    retroactive: bool
    text: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer to one submitted record: where it stands in the ledger, and whether it was new."""

    position: int
    duplicate: bool


def counting(records: list[StoredRecord], corrections: list[Correction]) -> list[StoredRecord]:
    """The records that count: not reversed, not suspended, and confirmed when they had to be."""
    status: dict[int, set[str]] = {}
    for correction in sorted(corrections, key=lambda item: item.position):
        flags = status.setdefault(correction.record_position, set())
        if correction.action == "reverse":
            flags.add("reversed")
        elif correction.action == "suspend":
            flags.add("suspended")
        elif correction.action == "reinstate":
            flags.discard("suspended")
        else:
            flags.add("confirmed")
    result = []
    for record in records:
        flags = status.get(record.position, set())
        if "reversed" in flags or "suspended" in flags:
            continue
        if record.pending and "confirmed" not in flags:
            continue
        result.append(record)
    return result
