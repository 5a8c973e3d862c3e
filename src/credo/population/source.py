"""Records read and checked by DuckDB itself, so that a population run never holds them in Python.

The fast path reads a Parquet, CSV or JSON Lines file with DuckDB, checks every row in SQL (the
same checks as file mode: required fields, known behaviour, ISO 8601 instant, subject kind,
allowed source, unique id) and keeps the checked records as a table in the connection, spilling
to disk under the memory limit. Any row the SQL checks do not pass sends the file through file
mode's own reader instead, which either names the file, line and field of the first bad row or,
for the rare spelling only Python accepts, reads it the slow way: the two paths never disagree.

Most files are written by programs and hold every value already as file mode reads it (no
padding to strip). Those are read as they are: the few distinct behaviours, kinds and sources are
checked once each in Python, the subjects once each (there are ten records to a subject), and only
the instant and the id row by row. A file with any other value takes the general path, which
strips and checks every value of every row in SQL.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from credo.errors import RecordError
from credo.ledger.files import IGNORED, KINDS, OPTIONAL, REQUIRED
from credo.population.duckdb import records_table
from credo.rules.model import Rulebook

#: The instants DuckDB and Python's fromisoformat read alike: a date, or a date and time to the
#: second (fractions allowed), with an optional offset or Z.
ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?)?$"
_tables = itertools.count(1)

#: Whitespace other than the space that Python's str.strip() removes (file mode strips every
#: value), as a regular-expression class: DuckDB's trim() removes spaces only, and trimming the
#: full set costs seven times as much, so a subject or id holding such a character goes to file
#: mode's reader. Other fields need no such care: a behaviour, kind, source or instant with one
#: fails its check.
SPACES = "".join(f"\\x{{{ord(char):x}}}" for char in map(chr, range(0x110000)) if char.isspace() and char != " ")
#: A value file mode would not read as it is: padded at either edge, or holding other whitespace.
_UNREAD = f"^[ {SPACES}]|[ {SPACES}]$|[{SPACES}]"


@dataclass(frozen=True)
class Ledger:
    """The checked records (subject, kind, behaviour, at, pos) as a table in the connection, and
    (subject, kind) of everyone they name when reading them found it already."""

    records: ir.Table
    subjects: ir.Table | None = None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scan(path: Path) -> tuple[str, str]:
    """The DuckDB table function reading the file, and how to number its rows in file order."""
    name = _quote(str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet({name}, file_row_number = true)", "file_row_number"
    if suffix == ".csv":
        return f"read_csv({name}, header = true, all_varchar = true)", "row_number() OVER ()"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return f"read_json({name}, format = 'newline_delimited')", "row_number() OVER ()"
    raise RecordError(f"unknown records format {path.suffix!r}; use .csv, .jsonl or .parquet", file=str(path))


def _raw(column: str, present: set[str]) -> str:
    return f"CAST({column} AS VARCHAR)" if column in present else "CAST(NULL AS VARCHAR)"


def _edged(column: str, present: set[str]) -> str:
    """Whether the field holds whitespace other than a space anywhere (false when absent): one
    regular-expression scan, far cheaper than trimming the whole set from every value."""
    if column not in present:
        return "FALSE"
    return f"coalesce(regexp_matches(CAST({column} AS VARCHAR), {_quote(f'[{SPACES}]')}), FALSE)"


def _text(column: str, present: set[str]) -> str:
    """A required field as file mode reads it: stripped, and null (missing) when nothing is left."""
    if column not in present:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(trim(CAST({column} AS VARCHAR)), '')"


def _optional(column: str, present: set[str]) -> str:
    """An optional field as file mode reads it: absent when null or empty, else stripped (so a
    value of spaces alone is an empty value, which the checks then refuse as file mode does)."""
    if column not in present:
        return "CAST(NULL AS VARCHAR)"
    text = f"CAST({column} AS VARCHAR)"
    return f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL ELSE trim({text}) END"


def _instant(types: dict[str, str], tz: str) -> str:
    kind = types["at"].upper()
    if kind == "TIMESTAMP WITH TIME ZONE":
        return '"at"'
    if kind.startswith("TIMESTAMP") or kind == "DATE":  # naive: read in the rulebook's zone
        return f'timezone({_quote(tz)}, CAST("at" AS TIMESTAMP))'
    return 'try_cast(trim(CAST("at" AS VARCHAR)) AS TIMESTAMPTZ)'


def _well_formed(types: dict[str, str]) -> str:
    kind = types["at"].upper()
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return '"at" IS NOT NULL'
    return f'regexp_full_match(trim(CAST("at" AS VARCHAR)), {_quote(ISO)})'


def read_ledger(connection: Any, path: str | Path, rulebook: Rulebook) -> Ledger:
    """The file's records, read by DuckDB when it reads them as file mode does, else by file mode."""
    path = Path(path)
    if path.is_dir():
        raise RecordError("a folder: DuckDB reads one file (Spark reads a folder of Parquet parts)", file=str(path))
    if not path.is_file():
        raise RecordError("no such records file", file=str(path))
    scan, numbering = _scan(path)
    try:
        described = connection.raw_sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    except Exception:  # DuckDB cannot read it: let file mode's reader say exactly why
        return Ledger(_slow(path, rulebook))
    types = {row[0]: str(row[1]) for row in described}
    present = set(types) - {"file_row_number"}
    if not set(REQUIRED) <= present or present - set(REQUIRED) - set(OPTIONAL) - set(IGNORED):
        return Ledger(_slow(path, rulebook))
    file = _File(connection, scan, numbering, types, present)
    if _as_written(file, rulebook):
        ledger = _read_as_written(file, rulebook)
        if ledger is not None:
            return ledger
    records = _read_stripped(file, rulebook)
    return Ledger(records if records is not None else _slow(path, rulebook))


def ledger_table(connection: Any, path: str | Path, rulebook: Rulebook) -> ir.Table:
    """The file's records (subject, kind, behaviour, at, pos) as a table in the DuckDB connection."""
    return read_ledger(connection, path, rulebook).records


@dataclass(frozen=True)
class _File:
    connection: Any
    scan: str
    numbering: str
    types: dict[str, str]
    present: set[str]

    def count(self, query: str) -> int:
        return int(self.connection.raw_sql(query).fetchone()[0])

    def duplicates_or_bad(self, name: str) -> int:
        """Rows not ok, and ids whose hash another row shares: found by sorting the hashes (cheaper
        here than a hash table of them all). A collision (about one in 10^6 for ten million ids)
        only sends the file to the next reader, which compares the ids themselves."""
        return self.count(f"""
            SELECT (SELECT count(*) FROM {name} WHERE NOT ok)
                 + (SELECT count(*) FROM (SELECT id_hash, lag(id_hash) OVER (ORDER BY id_hash) AS before
                                          FROM {name} WHERE has_id) WHERE id_hash = before)
        """)  # fmt: skip


def _as_written(file: _File, rulebook: Rulebook) -> bool:
    """Whether every (behaviour, kind, source) of the file is one file mode reads as it is and
    accepts: checked once per distinct combination, in Python."""
    kind, source = _raw("kind", file.present), _raw("source", file.present)
    combinations = file.connection.raw_sql(
        f"SELECT DISTINCT CAST(behaviour AS VARCHAR), {kind}, {source} FROM {file.scan}"
    ).fetchall()
    for behaviour, kind_value, source_value in combinations:
        defined = rulebook.behaviours.get(behaviour) if behaviour == (behaviour or "").strip() else None
        if defined is None or kind_value not in (None, "", *KINDS):
            return False
        if source_value not in (None, "") and (
            source_value != source_value.strip() or (defined.sources and source_value not in defined.sources)
        ):
            return False
    return True


def _read_as_written(file: _File, rulebook: Rulebook) -> Ledger | None:
    """The records as they are, with the subjects; None when a value needs file mode's stripping
    or a row fails a check (the general path then decides)."""
    present, connection = file.present, file.connection
    name, everyone = f"credo_records_{next(_tables)}", f"credo_subjects_{next(_tables)}"
    record_id = _raw("id", file.present)
    kind = f"coalesce(nullif({_raw('kind', present)}, ''), 'person')"
    # File mode names an id-less record line-N, so an id of that form could collide with one.
    unread_id = f"coalesce(regexp_matches({record_id}, {_quote('^line-|' + _UNREAD)}), FALSE)"
    connection.raw_sql(f"""
        CREATE TEMP TABLE {name} AS
        SELECT CAST(subject AS VARCHAR) AS subject, {kind} AS kind, CAST(behaviour AS VARCHAR) AS behaviour,
               {_instant(file.types, rulebook.timezone)} AS "at", CAST({file.numbering} AS BIGINT) AS pos,
               hash(nullif({record_id}, '')) AS id_hash, nullif({record_id}, '') IS NOT NULL AS has_id,
               coalesce({_well_formed(file.types)} AND {_instant(file.types, rulebook.timezone)} IS NOT NULL
                        AND NOT {unread_id}, FALSE) AS ok
        FROM {file.scan}
    """)  # fmt: skip
    connection.raw_sql(f"CREATE TEMP TABLE {everyone} AS SELECT DISTINCT subject, kind FROM {name}")
    unread = file.count(f"""
        SELECT count(*) FROM {everyone}
        WHERE subject IS NULL OR subject = '' OR regexp_matches(subject, {_quote(_UNREAD)})
    """)  # fmt: skip
    if unread or file.duplicates_or_bad(name):
        connection.raw_sql(f"DROP TABLE {name}")
        connection.raw_sql(f"DROP TABLE {everyone}")
        return None
    records = connection.table(name).select("subject", "kind", "behaviour", "at", "pos")
    return Ledger(records, connection.table(everyone))


def _read_stripped(file: _File, rulebook: Rulebook) -> ir.Table | None:
    """Every value stripped as file mode strips it and every row checked, in SQL; None when a row
    fails a check (file mode's reader then names it)."""
    present, connection = file.present, file.connection
    name = f"credo_records_{next(_tables)}"
    allowed = [(behaviour, source) for behaviour, defined in rulebook.behaviours.items() for source in defined.sources]
    known = ", ".join(_quote(behaviour) for behaviour in rulebook.behaviours) or "NULL"
    pairs = ", ".join(_quote(f"{b}\x1f{s}") for b, s in allowed) or "NULL"
    limited = ", ".join(sorted({_quote(behaviour) for behaviour, _ in allowed})) or "NULL"
    subject, behaviour = _text("subject", present), _text("behaviour", present)
    kind, source = _optional("kind", present), _optional("source", present)
    at = _instant(file.types, rulebook.timezone)
    record_id = _optional("id", present)
    connection.raw_sql(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {subject} AS subject, coalesce({kind}, 'person') AS kind, {behaviour} AS behaviour, {at} AS "at",
               CAST({file.numbering} AS BIGINT) AS pos, hash({record_id}) AS id_hash,
               coalesce(NOT ({subject} IS NULL OR {behaviour} IS NULL OR "at" IS NULL
                   OR {behaviour} NOT IN ({known})
                   OR NOT ({_well_formed(file.types)}) OR {at} IS NULL
                   OR coalesce({kind}, 'person') NOT IN ('person', 'organization')
                   OR ({source} IS NOT NULL AND {behaviour} IN ({limited})
                       AND {behaviour} || chr(31) || {source} NOT IN ({pairs}))
                   OR coalesce(starts_with({record_id}, 'line-'), FALSE)
                   OR {_edged("subject", present)} OR {_edged("id", present)}), FALSE) AS ok,
               {record_id} IS NOT NULL AS has_id
        FROM {file.scan}
    """)  # fmt: skip
    if file.duplicates_or_bad(name):
        connection.raw_sql(f"DROP TABLE {name}")
        return None
    return connection.table(name).select("subject", "kind", "behaviour", "at", "pos")


def _slow(path: Path, rulebook: Rulebook) -> ir.Table:
    """File mode's own reader: the exact error for a bad row, or the records for an odd spelling."""
    from credo.ledger.files import read_records

    return records_table(read_records(path, rulebook))
