"""Running the population definition on DuckDB (embedded)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from credo.errors import CredoError
from credo.population.context import PopulationRun
from credo.population.scores import RECORD_SCHEMA, population_scores
from credo.rules.model import Rulebook
from credo.semantics.records import Record


def check_memory_limit(text: str) -> str:
    """The limit if DuckDB reads it as a size (4GB, 500MB); CredoError naming the option if not."""
    import duckdb

    try:
        if "'" in text:
            raise ValueError(text)
        duckdb.connect().execute(f"SET memory_limit = '{text}'")
    except (ValueError, duckdb.Error) as exc:
        raise CredoError(f"--memory-limit: expected a size such as 4GB or 500MB; got {text!r}") from exc
    return text


def connect(rulebook: Rulebook, memory_limit: str | None = None) -> Any:
    """A DuckDB connection whose calendar is the rulebook's timezone."""
    connection = ibis.duckdb.connect()
    connection.raw_sql(f"SET TimeZone = '{rulebook.timezone}'")
    connection.raw_sql("SET preserve_insertion_order = false")
    if memory_limit:
        check_memory_limit(memory_limit)
        connection.raw_sql(f"SET memory_limit = '{memory_limit}'")
    # Beyond the limit DuckDB spills to disk: to the system's temporary folder, not the cwd.
    spill = Path(os.environ.get("CREDO_SPILL_DIR", tempfile.gettempdir())) / f"credo-duckdb-{os.getpid()}"
    connection.raw_sql(f"SET temp_directory = '{spill}'")
    return connection


def records_table(records: Iterable[Record]) -> Any:
    """Records (ledger order = iteration order) as an in-memory table."""
    rows: dict[str, list[Any]] = {"subject": [], "kind": [], "behaviour": [], "at": [], "pos": []}
    for position, record in enumerate(records):
        rows["subject"].append(record.subject)
        rows["kind"].append(record.kind)
        rows["behaviour"].append(record.behaviour)
        rows["at"].append(record.at.astimezone(dt.UTC))
        rows["pos"].append(position)
    arrow = pa.table(rows, schema=RECORD_SCHEMA.to_pyarrow())  # typed even when empty
    return ibis.memtable(arrow)


def scores(
    rulebook: Rulebook, records: Iterable[Record], at: dt.datetime
) -> dict[tuple[str, str], tuple[float, str | None]]:
    """{(subject, program): (score, tier)} for everyone enrolled, computed by DuckDB."""
    connection = connect(rulebook)
    run = PopulationRun(rulebook, records_table(records), at, connection)
    rows = connection.to_pyarrow(population_scores(run)).to_pylist()
    return {(row["subject"], row["program"]): (row["score"], row["tier"]) for row in rows}
