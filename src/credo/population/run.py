"""Whole-population answers in the shapes file mode prints, and the `credo population` outputs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from credo.errors import CredoError
from credo.population.context import PopulationRun
from credo.population.duckdb import connect, records_table
from credo.population.lists import measures, memberships
from credo.population.scores import population_scores, subjects
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.semantics.records import Record

Versions = Sequence[tuple[dt.datetime | None, Rulebook]]


def _number(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def engine(rulebook: Rulebook, name: str = "duckdb", memory_limit: str | None = None) -> Any:
    """A connection to the engine that runs the population definition: duckdb or spark."""
    if name == "spark":
        from credo.population import spark

        return spark.connect(rulebook)
    return connect(rulebook, memory_limit)


@contextlib.contextmanager
def _within_memory(connection: Any) -> Iterator[None]:
    """DuckDB running out of its memory limit, said as a CredoError the CLI prints in one line."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        limit = connection.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        first = str(exc).splitlines()[0]
        raise CredoError(
            f"the run needs more memory than its limit of {limit} ({first}); raise --memory-limit, or point "
            "CREDO_SPILL_DIR at a disk with room to spill to"
        ) from exc


def start(
    rulebook: Rulebook,
    records: Sequence[Record] | str | Path,
    at: dt.datetime,
    engine_name: str = "duckdb",
    memory_limit: str | None = None,
    versions: Versions = (),
) -> PopulationRun:
    """A run over records in memory or in a file (which DuckDB reads and checks itself)."""
    connection = engine(rulebook, engine_name, memory_limit)
    with _within_memory(connection):
        everyone = None
        if isinstance(records, (str, Path)):
            if engine_name == "duckdb":
                from credo.population.source import read_ledger

                ledger = read_ledger(connection, records, rulebook)
                table, everyone = ledger.records, ledger.subjects
            else:  # Spark reads a Parquet ledger itself; other files as file mode reads them
                from credo.population.spark_source import ledger_table

                table = ledger_table(connection, records, rulebook)
        else:
            table = records_table(records)
        run = PopulationRun(rulebook, table, at, connection, versions, known_subjects=everyone)
        subjects(run)  # a subject recorded as two kinds stops the run before anything is written
    return run


def summaries(run: PopulationRun) -> list[dict[str, Any]]:
    """The `score --json` lines, computed by an engine: equal to the reference's, subject by subject."""
    connection, rulebook = run.connection, run.rulebook
    named = connection.to_pyarrow(subjects(run).select("subject")).column("subject").to_pylist()
    programs: dict[str, dict[str, Any]] = {subject: {} for subject in named}
    for row in connection.to_pyarrow(population_scores(run)).to_pylist():
        programs[row["subject"]][row["program"]] = {"score": _number(row["score"]), "tier": row["tier"]}
    lists: dict[str, list[str]] = {subject: [] for subject in programs}
    for row in connection.to_pyarrow(memberships(run)).to_pylist():
        lists[row["subject"]].append(row["list"])
    stamp = iso(run.at, rulebook.tz)
    return [
        {"subject": subject, "at": stamp,
         "programs": {name: programs[subject][name] for name in rulebook.programs if name in programs[subject]},
         "lists": sorted(lists[subject])}
        for subject in sorted(programs)
    ]  # fmt: skip


def _counts(connection: Any, table: Any, *keys: str) -> list[dict[str, Any]]:
    grouped = connection.to_pyarrow(table.group_by(list(keys)).agg(count=table.count()))
    return sorted(grouped.to_pylist(), key=lambda row: tuple(str(row[key]) for key in keys))


def write_population(run: PopulationRun, out: Path, step: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Scores, lists and measures of everyone as Parquet files in `out`, and a summary.

    On DuckDB each output is kept in the engine and written by it, so the run stays within the
    memory limit however large the population; only the summary's counts come back to Python.
    The files are written beside `out` first and moved in when all are done, so a run that
    fails leaves nothing half-written.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with _within_memory(run.connection):
            summary = _write(run, staging, step)
        out.mkdir(exist_ok=True)
        for written in staging.iterdir():
            if (out / written.name).is_dir():  # Spark writes each output as a folder of parts
                shutil.rmtree(out / written.name)
            written.replace(out / written.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _write(run: PopulationRun, out: Path, step: Callable[[str], None]) -> dict[str, Any]:
    connection, rulebook = run.connection, run.rulebook
    outputs = {}
    for name, build in (("scores", population_scores), ("lists", memberships), ("measures", measures)):
        step(name)
        outputs[name] = run.keep("output", name, lambda build=build: build(run))  # type: ignore[misc]
        # The engine writes it (Spark as a folder of parts, one per task): nothing passes
        # through this process, however large the population.
        connection.to_parquet(outputs[name], out / f"{name}.parquet")
        if connection.name == "pyspark":  # its plans are lazy: count what was written, not again
            outputs[name] = connection.read_parquet(out / f"{name}.parquet")
    step("summary")
    size = {"records": connection.to_pyarrow(run.records.count()).as_py(),
            "subjects": connection.to_pyarrow(subjects(run).count()).as_py()}  # fmt: skip
    tiers = _counts(connection, outputs["scores"], "program", "tier")
    summary = {
        "rulebook": rulebook.rulebook,
        "version": rulebook.version,
        "at": iso(run.at, rulebook.tz),
        "subjects": size["subjects"],
        "records": size["records"],
        "tiers": {program: {str(row["tier"]): row["count"] for row in tiers if row["program"] == program}
                  for program in rulebook.programs},
        "lists": {row["list"]: row["count"] for row in _counts(connection, outputs["lists"], "list")},
        "measures": {row["measure"]: row["count"] for row in _counts(connection, outputs["measures"], "measure")},
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
