"""Whole-population answers in the shapes file mode prints, and the `credo population` outputs."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from credo.population.duckdb import connect, records_table
from credo.population.lists import measures, memberships
from credo.population.scores import population_scores
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.semantics.records import Record


def _number(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def engine(rulebook: Rulebook, name: str = "duckdb", memory_limit: str | None = None) -> Any:
    """A connection to the engine that runs the population definition: duckdb or spark."""
    if name == "spark":
        from credo.population import spark

        return spark.connect(rulebook)
    return connect(rulebook, memory_limit)


def summaries(
    rulebook: Rulebook, records: Sequence[Record], at: dt.datetime, engine_name: str = "duckdb"
) -> list[dict[str, Any]]:
    """The `score --json` lines, computed by an engine: equal to the reference's, subject by subject."""
    connection = engine(rulebook, engine_name)
    table = records_table(records)
    programs: dict[str, dict[str, Any]] = {record.subject: {} for record in records}
    for row in connection.to_pyarrow(population_scores(rulebook, table, at)).to_pylist():
        programs[row["subject"]][row["program"]] = {"score": _number(row["score"]), "tier": row["tier"]}
    lists: dict[str, list[str]] = {subject: [] for subject in programs}
    for row in connection.to_pyarrow(memberships(rulebook, table, at)).to_pylist():
        lists[row["subject"]].append(row["list"])
    stamp = iso(at, rulebook.tz)
    return [
        {"subject": subject, "at": stamp,
         "programs": {name: programs[subject][name] for name in rulebook.programs if name in programs[subject]},
         "lists": sorted(lists[subject])}
        for subject in sorted(programs)
    ]  # fmt: skip


def write_population(
    rulebook: Rulebook,
    records: Sequence[Record],
    at: dt.datetime,
    out: Path,
    memory_limit: str | None = None,
    step: Callable[[str], None] = lambda _: None,
    engine_name: str = "duckdb",
) -> dict[str, Any]:
    """Scores, lists and measures of everyone as Parquet files in `out`, and a summary."""
    out.mkdir(parents=True, exist_ok=True)
    connection = engine(rulebook, engine_name, memory_limit)
    table = records_table(records)
    step("scores")
    scores = connection.to_pyarrow(population_scores(rulebook, table, at))
    step("lists")
    lists = connection.to_pyarrow(memberships(rulebook, table, at))
    step("measures")
    applying = connection.to_pyarrow(measures(rulebook, table, at))
    step("writing")
    import pyarrow.parquet as pq

    pq.write_table(scores, out / "scores.parquet")
    pq.write_table(lists, out / "lists.parquet")
    pq.write_table(applying, out / "measures.parquet")
    tiers = Counter((row["program"], row["tier"]) for row in scores.select(["program", "tier"]).to_pylist())
    summary = {
        "rulebook": rulebook.rulebook,
        "version": rulebook.version,
        "at": iso(at, rulebook.tz),
        "subjects": len({record.subject for record in records}),
        "records": len(records),
        "tiers": {program: {str(tier): count for (p, tier), count in sorted(tiers.items(), key=str) if p == program}
                  for program in rulebook.programs},
        "lists": dict(sorted(Counter(row["list"] for row in lists.select(["list"]).to_pylist()).items())),
        "measures": dict(sorted(Counter(row["measure"] for row in applying.select(["measure"]).to_pylist()).items())),
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
