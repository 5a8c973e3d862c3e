"""Records read and checked by DuckDB itself, so that a population run never holds them in Python.

The fast path reads a Parquet, CSV or JSON Lines file with DuckDB, checks every row in SQL (the
same checks as file mode: required fields, known behaviour, ISO 8601 instant, subject kind,
allowed source, unique id) and keeps the checked records as a table in the connection, spilling
to disk under the memory limit. Any row the SQL checks do not pass sends the file through file
mode's own reader instead, which either names the file, line and field of the first bad row or,
for the rare spelling only Python accepts, reads it the slow way: the two paths never disagree.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from credo.errors import RecordError
from credo.ledger.files import IGNORED, OPTIONAL, REQUIRED
from credo.population.duckdb import records_table
from credo.rules.model import Rulebook

#: The instants DuckDB and Python's fromisoformat read alike: a date, or a date and time to the
#: second (fractions allowed), with an optional offset or Z.
ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?)?$"
_tables = itertools.count(1)


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


#: Whitespace other than the space that Python's str.strip() removes (file mode strips every
#: value) as code points: DuckDB's trim() removes spaces only, and trimming the full set costs
#: seven times as much, so a subject or id holding such a character goes to file mode's reader.
#: Other fields need no such care: a behaviour, kind, source or instant with one fails its check.
_EDGES = [ord(char) for char in map(chr, range(0x110000)) if char.isspace() and char != " "]


def _edged(column: str, present: set[str]) -> str:
    """Whether the field holds whitespace other than a space anywhere (false when absent): one
    regular-expression scan, far cheaper than trimming the whole set from every value."""
    if column not in present:
        return "FALSE"
    pattern = "[" + "".join(f"\\x{{{code:x}}}" for code in _EDGES) + "]"
    return f"coalesce(regexp_matches(CAST({column} AS VARCHAR), {_quote(pattern)}), FALSE)"


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


def ledger_table(connection: Any, path: str | Path, rulebook: Rulebook) -> ir.Table:
    """The file's records (subject, kind, behaviour, at, pos) as a table in the DuckDB connection."""
    path = Path(path)
    if not path.is_file():
        raise RecordError("no such records file", file=str(path))
    scan, numbering = _scan(path)
    try:
        described = connection.raw_sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    except Exception:  # DuckDB cannot read it: let file mode's reader say exactly why
        return _slow(path, rulebook)
    types = {row[0]: str(row[1]) for row in described}
    present = set(types) - {"file_row_number"}
    if not set(REQUIRED) <= present or present - set(REQUIRED) - set(OPTIONAL) - set(IGNORED):
        return _slow(path, rulebook)
    name = f"credo_records_{next(_tables)}"
    allowed = [(behaviour, source) for behaviour, defined in rulebook.behaviours.items() for source in defined.sources]
    known = ", ".join(_quote(behaviour) for behaviour in rulebook.behaviours) or "NULL"
    pairs = ", ".join(_quote(f"{b}\x1f{s}") for b, s in allowed) or "NULL"
    limited = ", ".join(sorted({_quote(behaviour) for behaviour, _ in allowed})) or "NULL"
    subject, behaviour = _text("subject", present), _text("behaviour", present)
    kind, source = _optional("kind", present), _optional("source", present)
    at = _instant(types, rulebook.timezone)
    # One pass: the checked columns, and whether the row passes every check file mode makes. Ids
    # are kept only as 64-bit hashes, to find duplicates: a collision (about one in 10^6 for ten
    # million ids) only sends the file to file mode's reader, which compares the ids themselves.
    # File mode names an id-less record line-N, so an id of that form could collide with one.
    record_id = _optional("id", present)
    connection.raw_sql(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {subject} AS subject, coalesce({kind}, 'person') AS kind, {behaviour} AS behaviour, {at} AS "at",
               CAST({numbering} AS BIGINT) AS pos, hash({record_id}) AS id_hash,
               coalesce(NOT ({subject} IS NULL OR {behaviour} IS NULL OR "at" IS NULL
                   OR {behaviour} NOT IN ({known})
                   OR NOT ({_well_formed(types)}) OR {at} IS NULL
                   OR coalesce({kind}, 'person') NOT IN ('person', 'organization')
                   OR ({source} IS NOT NULL AND {behaviour} IN ({limited})
                       AND {behaviour} || chr(31) || {source} NOT IN ({pairs}))
                   OR coalesce(starts_with({record_id}, 'line-'), FALSE)
                   OR {_edged("subject", present)} OR {_edged("id", present)}), FALSE) AS ok,
               {record_id} IS NOT NULL AS has_id
        FROM {scan}
    """)  # fmt: skip
    # Duplicates found by sorting the hashes (cheaper here than a hash table of them all).
    problems = connection.raw_sql(f"""
        SELECT (SELECT count(*) FROM {name} WHERE NOT ok)
             + (SELECT count(*) FROM (SELECT id_hash, lag(id_hash) OVER (ORDER BY id_hash) AS before
                                      FROM {name} WHERE has_id) WHERE id_hash = before)
    """).fetchone()[0]  # fmt: skip
    if problems:
        connection.raw_sql(f"DROP TABLE {name}")
        return _slow(path, rulebook)
    return connection.table(name).select("subject", "kind", "behaviour", "at", "pos")


def _slow(path: Path, rulebook: Rulebook) -> ir.Table:
    """File mode's own reader: the exact error for a bad row, or the records for an odd spelling."""
    from credo.ledger.files import read_records

    return records_table(read_records(path, rulebook))
