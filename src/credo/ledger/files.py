"""Records from CSV or JSON Lines files (file mode), checked row by row against a rulebook."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

from credo.errors import CredoError, RecordError
from credo.ledger.incoming import record_row
from credo.rules.model import Rulebook
from credo.rules.time import parse_instant
from credo.semantics.records import Record, SubjectKind

REQUIRED = ("subject", "behaviour", "at")
OPTIONAL = ("id", "source", "kind")
#: Store-mode columns a file-mode read accepts and ignores, so one file serves both modes.
IGNORED = ("evidence", "confidence")
KINDS = get_args(SubjectKind)


def record_from_row(row: Mapping[str, Any], rulebook: Rulebook, *, file: str, line: int) -> Record:
    """Check one row (the one record model, credo.ledger.incoming) and make it a Record;
    RecordError names the file, line and field."""

    def fail(message: str, field: str | None) -> RecordError:
        return RecordError(message, file=file, line=line, field=field)

    fields = record_row(row)
    if isinstance(fields, tuple):
        raise fail(fields[1], fields[0] or None)
    behaviour = fields.behaviour
    if behaviour not in rulebook.behaviours:
        raise fail(f"unknown behaviour {behaviour!r}; rulebook {rulebook.rulebook!r} does not declare it", "behaviour")
    try:
        at = parse_instant(fields.at, rulebook.tz)
    except CredoError as exc:
        raise fail(str(exc), "at") from exc
    source = fields.source
    allowed = rulebook.behaviours[behaviour].sources
    if source is not None and allowed and source not in allowed:
        raise fail(f"source {source!r} may not report {behaviour!r}; allowed: {', '.join(allowed)}", "source")
    return Record(fields.subject, behaviour, at, fields.id or f"line-{line}", source, fields.kind)


Progress = Callable[[int], None]


def _lines(path: Path, progress: Progress | None) -> Iterator[str]:
    """The file's lines as text, telling progress how many bytes each took."""
    with path.open("rb") as handle:
        encoding = "utf-8-sig"  # a byte-order mark before the first line is not part of it
        for number, raw in enumerate(handle, start=1):
            if progress is not None:
                progress(len(raw))
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RecordError(f"not UTF-8 text: {exc.reason}", file=str(path), line=number) from exc
            encoding = "utf-8"


def _csv_rows(path: Path, progress: Progress | None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(_lines(path, progress))
    try:
        if reader.fieldnames is None:
            return
        missing = [name for name in REQUIRED if name not in reader.fieldnames]
        if missing:
            separators = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
            single = reader.fieldnames[0] if len(reader.fieldnames) == 1 else ""
            found = [name for mark, name in separators.items() if mark in single]
            if found:  # one column holding every name: the file is not separated by commas
                raise RecordError(
                    f"the header is one column, {reader.fieldnames[0]!r}: the file is separated by {found[0]}, and "
                    "credo reads CSV separated by commas; save it as comma-separated CSV",
                    file=str(path), line=1,
                )  # fmt: skip
            raise RecordError(f"the header has no column {missing[0]!r}", file=str(path), line=1, field=missing[0])
        for row in reader:
            if None in row:
                raise RecordError("more values than columns", file=str(path), line=reader.line_num)
            yield reader.line_num, row
    except csv.Error as exc:
        # The csv module's own limit (131,072 characters a field) bounds what one bad row costs; a
        # record's longest field (its evidence) is far below it.
        # line_num counts the lines read before the one that failed.
        raise RecordError(f"not a valid CSV row: {exc}", file=str(path), line=reader.line_num + 1) from exc


def _json_rows(path: Path, progress: Progress | None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, text in enumerate(_lines(path, progress), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"not valid JSON: {exc.msg}", file=str(path), line=line) from exc
        except RecursionError as exc:  # a record is a flat object; a thousand nested arrays is not one
            raise RecordError("not a record: JSON nested too deep", file=str(path), line=line) from exc
        if not isinstance(row, dict):
            raise RecordError("expected a JSON object per line", file=str(path), line=line)
        yield line, row


def _parquet_rows(path: Path, progress: Progress | None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Parquet rows, read a row group slice at a time; 'line' is the 1-based row number."""
    import pyarrow.parquet as pq  # only Parquet input needs it

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise RecordError(f"not a Parquet file: {exc}", file=str(path)) from exc
    missing = [name for name in REQUIRED if name not in parquet.schema_arrow.names]
    if missing:
        raise RecordError(f"the file has no column {missing[0]!r}", file=str(path), line=0, field=missing[0])
    size = path.stat().st_size
    total = max(parquet.metadata.num_rows, 1)
    number = 0
    for batch in parquet.iter_batches(batch_size=50_000):
        for row in batch.to_pylist():
            number += 1
            yield number, row
        if progress is not None:
            progress(size * batch.num_rows // total)


FORMATS = {
    ".csv": _csv_rows,
    ".jsonl": _json_rows,
    ".ndjson": _json_rows,
    ".json": _json_rows,
    ".parquet": _parquet_rows,
}


def rows(path: str | Path, progress: Progress | None = None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line, row) pairs of a CSV, JSON Lines or Parquet file, chosen by its extension."""
    path = Path(path)
    if not path.is_file():
        raise RecordError("no such records file", file=str(path))
    reader = FORMATS.get(path.suffix.lower())
    if reader is None:
        raise RecordError(f"unknown records format {path.suffix!r}; use .csv, .jsonl or .parquet", file=str(path))
    return reader(path, progress)


def read_records(path: str | Path, rulebook: Rulebook) -> list[Record]:
    """Every record of a file, in file order; the first bad row stops the read with its place."""
    return check_rows(rows(path), rulebook, str(path))


def check_rows(numbered: Iterable[tuple[int, Mapping[str, Any]]], rulebook: Rulebook, file: str) -> list[Record]:
    records: list[Record] = []
    seen: dict[str, int] = {}
    try:
        for line, row in numbered:
            record = record_from_row(row, rulebook, file=file, line=line)
            if record.id in seen:
                raise RecordError(
                    f"record id {record.id!r} already used on line {seen[record.id]}", file=file, line=line, field="id"
                )
            seen[record.id] = line
            records.append(record)
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 text: {exc.reason}", file=file) from exc
    return records
