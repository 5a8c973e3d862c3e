"""Store-mode ingest: rows checked against the rulebook in force when they happened, in batches.

By default a file with any bad row is refused whole and nothing is written; with skip_invalid the
good rows land and each bad one is reported with its line, field and reason. Either way the file
is written in one transaction, so nothing is ever half-written, even if the process is killed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, get_args

from credo.errors import CredoError, RecordError
from credo.ledger.chain import micros
from credo.ledger.files import Progress, rows
from credo.ledger.model import Incoming
from credo.rules.time import parse_instant
from credo.semantics.records import SubjectKind
from credo.semantics.versions import RulebookHistory

COLUMNS = ("subject", "behaviour", "at", "source", "id", "kind", "evidence", "confidence")
REQUIRED = ("subject", "behaviour", "at", "source", "id")
KINDS = get_args(SubjectKind)
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


def incoming_from_row(
    row: Mapping[str, Any], history: RulebookHistory, now: dt.datetime, *, file: str, line: int
) -> Incoming | Rejection:
    """Check one row against the rulebook version in force at its `at`."""

    def reject(reason: str, name: str | None) -> Rejection:
        return Rejection(file, line, name, reason)

    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        return reject(f"unknown column {unknown[0]!r}; records have {', '.join(COLUMNS)}", unknown[0])
    values: dict[str, Any] = {}
    for name in REQUIRED:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return reject(
                f"missing {name}"
                + (" (store mode identifies a record by source and id)" if name in {"source", "id"} else ""),
                name,
            )
        values[name] = value.strip() if isinstance(value, str) else value
    latest = history.versions[-1].rulebook
    try:
        at = parse_instant(values["at"], latest.tz)
        rulebook = history.in_force(at)
        if rulebook is not None and rulebook.timezone != latest.timezone and _naive(values["at"]):
            at = parse_instant(values["at"], rulebook.tz)
            rulebook = history.in_force(at)
    except CredoError as exc:
        return reject(str(exc), "at")
    if at > now:
        return reject(f"{at.isoformat()} is in the future; a record reports what has happened", "at")
    if rulebook is None:
        return reject(f"no rulebook version was in force at {at.isoformat()}", "at")
    behaviour_name = str(values["behaviour"])
    behaviour = rulebook.behaviours.get(behaviour_name)
    if behaviour is None:
        return reject(
            f"unknown behaviour {behaviour_name!r} in rulebook {rulebook.rulebook} {rulebook.version}", "behaviour"
        )
    source = str(values["source"])
    if behaviour.sources and source not in behaviour.sources:
        return reject(
            f"source {source!r} may not report {behaviour_name!r}; allowed: {', '.join(behaviour.sources)}", "source"
        )
    kind = str(row.get("kind") or "person").strip()
    if kind not in KINDS:
        return reject(f"unknown subject kind {kind!r}; expected person or organization", "kind")
    confidence: float | None = None
    if row.get("confidence") not in (None, ""):
        try:
            confidence = float(row["confidence"])
        except (TypeError, ValueError):
            return reject(f"expected a number from 0 to 1; got {row['confidence']!r}", "confidence")
        if not 0 <= confidence <= 1:
            return reject(f"expected a number from 0 to 1; got {confidence}", "confidence")
    declared = rulebook.sources.get(source)
    automated = declared is not None and declared.automated
    pending = automated and (
        behaviour.needs_confirmation or confidence is None or confidence < declared.min_confidence  # type: ignore[union-attr]
    )
    evidence = row.get("evidence")
    return Incoming(
        subject=str(values["subject"]),
        kind=kind,  # type: ignore[arg-type]
        behaviour=behaviour_name,
        at_us=micros(at),
        source=source,
        source_id=str(values["id"]),
        evidence=str(evidence) if evidence not in (None, "") else None,
        confidence=confidence,
        pending=pending,
        line=line,
    )


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
    for line, row in numbered:
        result = incoming_from_row(row, history, now, file=file, line=line)
        if isinstance(result, Rejection):
            rejections(result)
        else:
            yield result


def batched(incoming: Iterable[Incoming], size: int = BATCH) -> Iterator[list[Incoming]]:
    iterator = iter(incoming)
    while batch := list(islice(iterator, size)):
        yield batch


def file_batches(
    path: Path,
    history: RulebookHistory,
    now: dt.datetime,
    rejections: Callable[[Rejection], None],
    progress: Progress | None = None,
    size: int = BATCH,
) -> Iterator[list[Incoming]]:
    """The file's good records in batches; each bad row goes to `rejections` (which may raise)."""
    return batched(checked(rows(path, progress), history, now, str(path), rejections), size)
