"""The population engine: DESIGN §4 as whole-population column expressions (Ibis), executed on
DuckDB (embedded) or Spark, held equal to the reference by property tests.

In a notebook::

    from credo import load_rulebook
    from credo.population import start, frames

    rulebook = load_rulebook("scenarios/article/rulebook.yaml")
    run = start(rulebook, "ledger.parquet", at)        # DuckDB reads and checks the file itself
    tables = frames(run)                               # scores, lists and measures as DataFrames
"""

from __future__ import annotations

from typing import Any

from credo.population.context import PopulationRun
from credo.population.duckdb import connect, records_table, scores
from credo.population.lists import measures, memberships
from credo.population.run import start, summaries, write_population
from credo.population.scores import population_scores, program_entries, program_scores


def frames(run: PopulationRun) -> dict[str, Any]:
    """Everyone's scores, lists and applying measures at the run's instant, as pandas DataFrames."""
    outputs = {"scores": population_scores(run), "lists": memberships(run), "measures": measures(run)}
    return {name: run.connection.to_pyarrow(table).to_pandas() for name, table in outputs.items()}


__all__ = [
    "PopulationRun",
    "connect",
    "frames",
    "measures",
    "memberships",
    "population_scores",
    "program_entries",
    "program_scores",
    "records_table",
    "scores",
    "start",
    "summaries",
    "write_population",
]
