"""The population engine: DESIGN §4 as whole-population column expressions (Ibis), on DuckDB.

So far: scores and tiers (rules 1-5), held equal to the reference by property tests. Lists,
measures, Spark and the `credo population` command are still to come (issue 5).
"""

from credo.population.duckdb import connect, records_table, scores
from credo.population.scores import population_scores, program_entries, program_scores

__all__ = ["connect", "population_scores", "program_entries", "program_scores", "records_table", "scores"]
