"""Parquet ledgers read and checked by Spark itself, so that no record passes through the driver.

A national ledger (billions of records on shared storage) cannot be read by file mode's Python
reader on one machine and handed to the cluster. Spark reads the Parquet file or folder in
parallel and checks every row with file mode's own checks: each value stripped of the whitespace
Python's str.strip() removes, required fields, known behaviour, ISO 8601 instant, subject kind,
allowed source, unique id. When a row fails, the first such row in reading order is found and
checked by file mode's own row check, so the error names the file, the row and the field in file
mode's words. A local file whose only failing rows are spellings that Python reads and these
checks do not is read by file mode instead, as before; CSV and JSON Lines files always are.

Rows are numbered in Spark's reading order (`monotonically_increasing_id`: increasing in file
order within a file), which orders records of one instant as the file does.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from credo.errors import RecordError
from credo.ledger.files import IGNORED, KINDS, OPTIONAL, REQUIRED, read_records, record_from_row
from credo.population.duckdb import records_table
from credo.population.source import ISO, SPACES
from credo.rules.model import Rulebook

#: Every character Python's str.strip() removes, at either edge (a Java regular expression).
_EDGES = f"\\A[ {SPACES}]+|[ {SPACES}]+\\z"
_views = itertools.count(1)


def ledger_table(connection: Any, path: str | Path, rulebook: Rulebook) -> ir.Table:
    """The records (subject, kind, behaviour, at, pos) of a Parquet file or folder, as a Spark view."""
    text = str(path)
    local = Path(text)
    parquet = text.lower().endswith(".parquet") or local.is_dir() or "://" in text
    if not parquet:  # CSV and JSON Lines: file mode's reader (line numbers are its own)
        return records_table(read_records(local, rulebook))
    if "://" not in text and not local.exists():
        raise RecordError("no such records file", file=text)
    from pyspark.sql import functions as F

    session = connection._session
    try:
        frame = session.read.parquet(text)
    except Exception as exc:  # Spark cannot read it: say so as file mode would
        if local.is_file():
            return records_table(read_records(local, rulebook))
        raise RecordError(f"not a Parquet file or folder: {str(exc).splitlines()[0]}", file=text) from exc
    columns = set(frame.columns)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise RecordError(f"the file has no column {missing[0]!r}", file=text, line=0, field=missing[0])
    frame = frame.withColumn("credo_row", F.monotonically_increasing_id())
    if columns - set(REQUIRED) - set(OPTIONAL) - set(IGNORED):
        first = frame.agg(F.min("credo_row")).first()[0]
        if first is None:  # no rows: nothing for file mode's row check to refuse either
            return records_table([])
        return _refuse(frame, first, text, rulebook, local)
    # Read and checked once, kept on the executors: the checks below and the population
    # definition read the records many times over, and a plan of the checks would repeat them.
    checked = _checked(frame, rulebook, dict(frame.dtypes)).localCheckpoint(eager=True)
    found = checked.agg(
        F.min(F.when(~F.col("ok"), F.col("credo_row"))).alias("bad"),
        F.max(F.col("id").isNull().cast("int")).alias("idless"),
        F.min(F.when(F.col("id").startswith("line-"), F.col("credo_row"))).alias("like_a_line"),
    ).first()
    bad = found["bad"]
    # File mode names a record without an id line-N: an id of that form could be taken twice.
    if found["idless"] and found["like_a_line"] is not None:
        bad = found["like_a_line"] if bad is None else min(bad, found["like_a_line"])
    ids = (
        checked.filter(F.col("id").isNotNull())
        .groupBy("id")
        .agg(F.count("*").alias("times"), F.min("credo_row").alias("first"))
    )
    repeated = ids.filter(F.col("times") > 1)
    repeat = None
    if repeated.limit(1).count():  # the earliest row whose id an earlier row has
        again = checked.join(repeated, "id").filter(F.col("credo_row") > F.col("first"))
        repeat = again.orderBy("credo_row").select("id", "credo_row", "first").first()
    if bad is None and repeat is None:
        name = f"credo_ledger_{next(_views)}"
        records = checked.select("subject", "kind", "behaviour", "at", F.col("credo_row").alias("pos"))
        records.createOrReplaceTempView(name)
        table = connection.table(name)
        return table.mutate(at=table.at.cast("timestamp('UTC', 6)"))
    if repeat is not None and (bad is None or repeat["credo_row"] < bad):
        line = _line(frame, repeat["credo_row"])
        first = _line(frame, repeat["first"])
        raise RecordError(f"record id {repeat['id']!r} already used on line {first}", file=text, line=line, field="id")
    return _refuse(frame, bad, text, rulebook, local)


def _checked(frame: Any, rulebook: Rulebook, types: dict[str, str]) -> Any:
    """The frame with stripped values and `ok`: whether the row passes every check file mode makes."""
    from pyspark.sql import Column
    from pyspark.sql import functions as F

    def raw(name: str) -> Column:
        return F.col(name).cast("string") if name in types else F.lit(None).cast("string")

    def stripped(name: str) -> Column:
        return F.regexp_replace(raw(name), _EDGES, "")

    def optional(name: str) -> Column:  # absent when null or empty, else stripped (spaces alone: empty)
        return F.when(raw(name).isNull() | (raw(name) == ""), F.lit(None)).otherwise(stripped(name))

    def required(name: str) -> Column:
        value = stripped(name)
        return F.when(value != "", value)

    at_type = types["at"].lower()
    if at_type.startswith("timestamp") or at_type == "date":  # naive ones are read in the rulebook's zone
        at, formed = F.col("at").cast("timestamp"), F.col("at").isNotNull()
    else:
        text = stripped("at")
        at, formed = F.when(text.rlike(ISO), text.try_cast("timestamp")), text.rlike(ISO)
    subject, behaviour = required("subject"), required("behaviour")
    kind = F.coalesce(optional("kind"), F.lit("person"))
    source = optional("source")
    known = behaviour.isin(list(rulebook.behaviours))
    refused = [
        (behaviour == name) & ~source.isin(list(defined.sources))
        for name, defined in rulebook.behaviours.items()
        if defined.sources
    ]
    wrong_source = source.isNotNull() & functools.reduce(lambda a, b: a | b, refused, F.lit(False))
    ok = (
        subject.isNotNull() & behaviour.isNotNull() & known & formed & at.isNotNull()
        & kind.isin(list(KINDS)) & ~wrong_source
    )  # fmt: skip
    return frame.select(
        subject.alias("subject"), kind.alias("kind"), behaviour.alias("behaviour"), at.alias("at"),
        optional("id").alias("id"), F.coalesce(ok, F.lit(False)).alias("ok"), "credo_row",
    )  # fmt: skip


def _line(frame: Any, row: int) -> int:
    """The 1-based row number of a row in reading order (counted: ids are not consecutive)."""
    from pyspark.sql import functions as F

    return int(frame.filter(F.col("credo_row") < row).count()) + 1


def _refuse(frame: Any, row: int, text: str, rulebook: Rulebook, local: Path) -> ir.Table:
    """File mode's error for the first failing row; a spelling only Python reads goes to file
    mode's reader when the file is local, and is refused by name when it is not."""
    from pyspark.sql import functions as F

    values = frame.filter(F.col("credo_row") == row).drop("credo_row").first().asDict()
    line = _line(frame, row)
    record_from_row(values, rulebook, file=text, line=line)  # raises file mode's own error
    if local.is_file():
        return records_table(read_records(local, rulebook))
    raise RecordError(
        "an instant Spark does not read; write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]",
        file=text,
        line=line,
        field="at",
    )
