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
from typing import IO, Any, cast, get_args

from credo.errors import CredoError, RecordError
from credo.ledger.chain import micros
from credo.ledger.files import Progress, rows
from credo.ledger.model import Incoming
from credo.rules.model import Rulebook
from credo.rules.time import parse_instant
from credo.semantics.records import SubjectKind
from credo.semantics.versions import RulebookHistory

COLUMNS = ("subject", "behaviour", "at", "source", "id", "kind", "evidence", "confidence")
REQUIRED = ("subject", "behaviour", "at", "source", "id")
COLUMN_SET = frozenset(COLUMNS)
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
        if not row.keys() <= COLUMN_SET:
            unknown = sorted(set(row) - COLUMN_SET)[0]
            return Rejection(self.file, line, unknown, f"unknown column {unknown!r}; records have {', '.join(COLUMNS)}")
        for name in REQUIRED:
            value = row.get(name)
            if value is None or value == "" or (isinstance(value, str) and not value.strip()):
                hint = " (store mode identifies a record by source and id)" if name in {"source", "id"} else ""
                return Rejection(self.file, line, name, f"missing {name}{hint}")
        when = self._instant(row["at"])
        if isinstance(when[0], str):
            return Rejection(self.file, line, "at", when[0])
        at_us, rulebook = when
        behaviour = str(row["behaviour"]).strip()
        source = str(row["source"]).strip()
        checked = self._behaviour(rulebook, behaviour, source)
        if isinstance(checked[0], str):
            return Rejection(self.file, line, checked[1], checked[0])
        automated, min_confidence = checked
        kind = row.get("kind") or "person"
        if kind not in KINDS:
            kind = str(kind).strip()
            if kind not in KINDS:
                return Rejection(
                    self.file, line, "kind", f"unknown subject kind {kind!r}; expected person or organization"
                )
        confidence: float | None = None
        raw = row.get("confidence")
        if raw is not None and raw != "":
            try:
                confidence = float(raw)
            except (TypeError, ValueError):
                return Rejection(self.file, line, "confidence", f"expected a number from 0 to 1; got {raw!r}")
            if not 0 <= confidence <= 1:
                return Rejection(self.file, line, "confidence", f"expected a number from 0 to 1; got {confidence}")
        pending = bool(automated) and (min_confidence is None or confidence is None or confidence < min_confidence)
        evidence = row.get("evidence")
        return Incoming(
            subject=str(row["subject"]).strip(),
            kind=cast(SubjectKind, kind),
            behaviour=behaviour,
            at_us=at_us,
            source=source,
            source_id=str(row["id"]).strip(),
            evidence=str(evidence) if evidence is not None and evidence != "" else None,
            confidence=confidence,
            pending=pending,
            line=line,
        )

    def _instant(self, value: Any) -> tuple[int, Rulebook] | tuple[str, str]:
        key = value if isinstance(value, str) else repr(value)
        if key not in self._instants:
            self._instants[key] = self._work_out_instant(value.strip() if isinstance(value, str) else value)
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
