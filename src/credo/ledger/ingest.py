"""Store-mode ingest: rows checked against the rulebook in force when they happened, in batches.

By default a file with any bad row is refused whole and nothing is written; with skip_invalid the
good rows land and each bad one is reported with its line, field and reason. Either way the file
is written in one transaction, so nothing is ever half-written, even if the process is killed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, cast

from credo.errors import CredoError, RecordError
from credo.ledger.chain import micros
from credo.ledger.files import Progress, rows
from credo.ledger.incoming import record_row
from credo.ledger.model import Incoming
from credo.rules.model import Rulebook
from credo.rules.time import parse_instant
from credo.semantics.records import SubjectKind
from credo.semantics.versions import RulebookHistory

BATCH = 10_000


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    field: str | None
    reason: str

    def error(self) -> RecordError:
        return RecordError(self.reason, file=self.file, line=self.line, field=self.field)


@dataclass
class RejectionLog:
    """Bad rows: raised at once (the default), or written to a report and counted (skip_invalid)."""

    skip_invalid: bool
    report: Path | None = None
    count: int = 0
    _handle: IO[str] | None = field(default=None, repr=False)
    _writer: Any = field(default=None, repr=False)

    def __call__(self, rejection: Rejection) -> None:
        if not self.skip_invalid:
            raise rejection.error()
        self.count += 1
        if self.report is None:
            return
        if self._writer is None:
            self._handle = self.report.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["file", "line", "field", "reason"])
        self._writer.writerow([rejection.file, rejection.line, rejection.field or "", rejection.reason])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class RowChecker:
    """Checks rows against the rulebook version in force at each row's `at`.

    Ledgers repeat the same instants, behaviours and sources many times over, so what depends only
    on those is worked out once per distinct value.
    """

    def __init__(self, history: RulebookHistory, now: dt.datetime, file: str) -> None:
        self.history = history
        self.now = now
        self.file = file
        self.latest = history.versions[-1].rulebook
        self._instants: dict[Any, tuple[int, Rulebook] | tuple[str, str]] = {}
        self._kinds: dict[tuple[int, str, str], tuple[bool, float | None] | tuple[str, str]] = {}

    def __call__(self, row: Mapping[str, Any], line: int) -> Incoming | Rejection:
        fields = record_row(row)
        if isinstance(fields, tuple):
            return Rejection(self.file, line, fields[0] or None, fields[1])
        source, source_id = fields.source, fields.id
        if source is None or source_id is None:
            name = "source" if source is None else "id"
            return Rejection(self.file, line, name, f"missing {name} (store mode identifies a record by source and id)")
        when = self._instant(fields.at)
        if isinstance(when[0], str):
            return Rejection(self.file, line, "at", when[0])
        at_us, rulebook = when
        checked = self._behaviour(rulebook, fields.behaviour, source)
        if isinstance(checked[0], str):
            return Rejection(self.file, line, checked[1], checked[0])
        automated, min_confidence = checked
        confidence = fields.confidence
        pending = bool(automated) and (min_confidence is None or confidence is None or confidence < min_confidence)
        return Incoming(
            subject=fields.subject,
            kind=fields.kind,
            behaviour=fields.behaviour,
            at_us=at_us,
            source=source,
            source_id=source_id,
            evidence=fields.evidence or None,
            confidence=confidence,
            pending=pending,
            line=line,
        )

    def _instant(self, value: Any) -> tuple[int, Rulebook] | tuple[str, str]:
        key = value if isinstance(value, str) else repr(value)
        if key not in self._instants:
            self._instants[key] = self._work_out_instant(value)
        return self._instants[key]

    def _work_out_instant(self, value: Any) -> tuple[int, Rulebook] | tuple[str, str]:
        try:
            at = parse_instant(value, self.latest.tz)
            rulebook = self.history.in_force(at)
            if rulebook is not None and rulebook.timezone != self.latest.timezone and _naive(value):
                at = parse_instant(value, rulebook.tz)
                rulebook = self.history.in_force(at)
        except CredoError as exc:
            return (str(exc), "at")
        if at > self.now:
            return (f"{at.isoformat()} is in the future; a record reports what has happened", "at")
        if rulebook is None:
            return (f"no rulebook version was in force at {at.isoformat()}", "at")
        return (micros(at), rulebook)

    def _behaviour(
        self, rulebook: Rulebook, behaviour: str, source: str
    ) -> tuple[bool, float | None] | tuple[str, str]:
        """(automated, the confidence it needs; None: always a human) or (reason, field)."""
        key = (id(rulebook), behaviour, source)
        if key not in self._kinds:
            declared = rulebook.behaviours.get(behaviour)
            if declared is None:
                found: tuple[bool, float | None] | tuple[str, str] = (
                    f"unknown behaviour {behaviour!r} in rulebook {rulebook.rulebook} {rulebook.version}",
                    "behaviour",
                )
            elif declared.sources and source not in declared.sources:
                found = (f"source {source!r} may not report {behaviour!r}; allowed: {', '.join(declared.sources)}",
                         "source")  # fmt: skip
            else:
                origin = rulebook.sources.get(source)
                automated = origin is not None and origin.automated
                needed = None if declared.needs_confirmation else (origin.min_confidence if origin else None)
                found = (automated, needed)
            self._kinds[key] = found
        return self._kinds[key]


def incoming_from_row(
    row: Mapping[str, Any], history: RulebookHistory, now: dt.datetime, *, file: str, line: int
) -> Incoming | Rejection:
    """Check one row against the rulebook version in force at its `at`."""
    return RowChecker(history, now, file)(row, line)


def _naive(value: Any) -> bool:
    if isinstance(value, dt.datetime):
        return value.tzinfo is None
    text = str(value)
    return len(text) <= 10 or not (text.endswith("Z") or "+" in text[10:] or "-" in text[10:])


def checked(
    numbered: Iterable[tuple[int, Mapping[str, Any]]],
    history: RulebookHistory,
    now: dt.datetime,
    file: str,
    rejections: Callable[[Rejection], None],
) -> Iterator[Incoming]:
    check = RowChecker(history, now, file)
    for line, row in numbered:
        result = check(row, line)
        if isinstance(result, Rejection):
            rejections(result)
        else:
            yield result


StoredKinds = Callable[[Collection[str]], Mapping[str, Collection[str]]]


class KindCheck:
    """A subject is a person or an organization, never both: each row must agree with the
    subject's records in the ledger (whatever their status) and with the rows before it.

    Run before anything is written, on every path (a file, an HTTP batch). The kinds of the
    subjects seen so far are remembered, since the rows before are not yet committed.
    """

    def __init__(self, stored: StoredKinds, file: str) -> None:
        self.stored = stored
        self.file = file
        self.kinds: dict[str, SubjectKind] = {}

    def __call__(self, batch: Sequence[Incoming]) -> tuple[list[Incoming], list[Rejection]]:
        """The rows that agree, and a rejection for each that does not."""
        new = {item.subject for item in batch} - self.kinds.keys()
        if new:
            for subject, kinds in self.stored(new).items():
                if len(kinds) == 1:
                    self.kinds[subject] = cast(SubjectKind, next(iter(kinds)))
        good: list[Incoming] = []
        bad: list[Rejection] = []
        for item in batch:
            kind = self.kinds.setdefault(item.subject, item.kind)
            if kind == item.kind:
                good.append(item)
            else:
                reason = f"subject {item.subject!r} is recorded as {kind}; this row says {item.kind}"
                bad.append(Rejection(self.file, item.line, "kind", reason))
        return good, bad


def consistent(
    batches: Iterable[list[Incoming]], check: KindCheck, rejections: Callable[[Rejection], None]
) -> Iterator[list[Incoming]]:
    for batch in batches:
        good, bad = check(batch)
        for rejection in bad:
            rejections(rejection)
        yield good


def batched(incoming: Iterable[Incoming], size: int = BATCH) -> Iterator[list[Incoming]]:
    iterator = iter(incoming)
    while batch := list(islice(iterator, size)):
        yield batch


def file_batches(
    path: Path,
    history: RulebookHistory,
    now: dt.datetime,
    rejections: Callable[[Rejection], None],
    stored_kinds: StoredKinds,
    progress: Progress | None = None,
    size: int = BATCH,
) -> Iterator[list[Incoming]]:
    """The file's good records in batches; each bad row goes to `rejections` (which may raise).
    stored_kinds gives the kinds the ledger already holds for some subjects (KindCheck)."""
    good = batched(checked(rows(path, progress), history, now, str(path), rejections), size)
    return consistent(good, KindCheck(stored_kinds, str(path)), rejections)
