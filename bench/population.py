"""The population engine against the least work any scorer must do, and against the reference.

    python bench/population.py [--records N] [--subjects M]

On a generated ledger for the article scenario (default 1,000,000 records over 100,000 subjects;
the issue's 10 million needs records read by the engine itself, not yet done): `engine_s` is
credo's scores, lists and measures on DuckDB; `floor_s` is DuckDB's own
`GROUP BY subject SUM(points)` over the same records with the points already joined on;
`reference_s` is the reference evaluator on a 2% sample, scaled up. Prints one JSON object.
Targets (issue 5): within 4x of the floor, at least 50x the reference. Not yet measured: the
zen-engine peer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ibis  # noqa: E402

from credo import evaluate_all, load_rulebook  # noqa: E402
from credo.population.duckdb import connect, records_table  # noqa: E402
from credo.population.lists import measures, memberships  # noqa: E402
from credo.population.scores import population_scores  # noqa: E402
from credo.semantics import Record  # noqa: E402

BEHAVIOURS = ["bank_arrears", "late_utility_fees", "charity_donation", "bill_paid_on_time", "recycling_sorted",
              "dangerous_driving", "smoking_in_non_smoking_zone", "judgment_defaulted", "judgment_performed",
              "fraud"]  # fmt: skip


def ledger(count: int, subjects: int, seed: int = 5) -> list[Record]:
    rng = random.Random(seed)
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    return [
        Record(
            f"s{rng.randrange(subjects)}",
            rng.choice(BEHAVIOURS),
            start + dt.timedelta(hours=rng.randrange(30_000)),
            f"r{index}",
        )
        for index in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    options = parser.parse_args()
    rulebook = load_rulebook(ROOT / "scenarios" / "article" / "rulebook.yaml")
    at = dt.datetime(2025, 6, 1, tzinfo=rulebook.tz)
    rows = ledger(options.records, options.subjects)
    connection = connect(rulebook)
    table = records_table(rows)
    started = time.perf_counter()
    for expression in (population_scores(rulebook, table, at), memberships(rulebook, table, at),
                       measures(rulebook, table, at)):  # fmt: skip
        connection.to_pyarrow(expression)
    engine_s = time.perf_counter() - started

    citizen = rulebook.programs["citizen"].points
    points = {name: float(rule.ladder[0]) for name, rule in citizen.items()}
    joined = ibis.memtable({"subject": [row.subject for row in rows],
                            "points": [points.get(row.behaviour, 0.0) for row in rows]})  # fmt: skip
    connection.to_pyarrow(joined.limit(1))
    started = time.perf_counter()
    connection.to_pyarrow(joined.group_by("subject").agg(total=joined.points.sum()))
    floor_s = time.perf_counter() - started

    sample_subjects = {f"s{index}" for index in range(0, options.subjects, 50)}
    sample = [row for row in rows if row.subject in sample_subjects]
    started = time.perf_counter()
    states = evaluate_all(rulebook, sample, at)
    for state in states.values():
        state.summary()
        for action in rulebook.actions:
            state.decide(action)
    reference_s = (time.perf_counter() - started) * options.records / max(len(sample), 1)

    print(json.dumps({
        "benchmark": "population",
        "records": options.records,
        "subjects": options.subjects,
        "engine_s": round(engine_s, 2),
        "floor_s": round(floor_s, 3),
        "ratio_to_floor": round(engine_s / floor_s, 1),
        "records_per_s": round(options.records / engine_s),
        "reference_s": round(reference_s, 1),
        "speedup_over_reference": round(reference_s / engine_s, 1),
        "peer_s": None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
