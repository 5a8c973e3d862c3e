"""The population engine: DESIGN §4 as whole-population column expressions (Ibis), executed on
DuckDB (embedded) or Spark.

Scores, tiers, lists and measures, held equal to the reference by property tests. Still to come
(issue 5): reading the ledger store, records read by the engine itself, the scale runs.
"""

from credo.population.duckdb import connect, records_table, scores
from credo.population.lists import measures, memberships
from credo.population.run import summaries, write_population
from credo.population.scores import population_scores, program_entries, program_scores

__all__ = [
    "connect",
    "measures",
    "memberships",
    "population_scores",
    "program_entries",
    "program_scores",
    "records_table",
    "scores",
    "summaries",
    "write_population",
]
