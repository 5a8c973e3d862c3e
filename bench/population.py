"""The population engine against the least work any scorer must do, the reference and a peer.

    python bench/population.py [--records N] [--subjects M] [--memory-limit 8GB] [--json]

On a generated ledger for the article scenario (default 10,000,000 records over 1,000,000
subjects), written as Parquet by DuckDB:

- `engine_s`: credo on DuckDB, from the Parquet file to everyone's scores, lists and measures
  (reading and checking the records included; `engine_read_s` of it, with listing the subjects);
- `floor_s`: in the same run, DuckDB's own `GROUP BY subject SUM(points)` over the same records
  with the points already joined on: the least work any scorer must do;
- `reference_s`: the reference evaluator (one subject at a time) on a 1% sample of subjects,
  scaled up to the whole ledger (its records handed over in memory: reading is not timed, so
  `speedup_over_reference` counts credo's reading against it and
  `speedup_over_reference_after_reading` compares the evaluation alone);
- `peer_s`: what a team would build instead: GoRules zen-engine with a decision table giving each
  record's points (timed on a sample of records, scaled up), plus a pandas group-by (timed whole).

With `--write-ledger PATH` it only writes the ledger, for a scale run of `credo population`
(see the README). Prints one JSON object. Targets (issue 5): within 4x of the floor, at least 50x the reference,
at least 10x the peer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402

from credo import evaluate_all, load_rulebook  # noqa: E402
from credo.population.lists import measures, memberships  # noqa: E402
from credo.population.run import start  # noqa: E402
from credo.population.scores import population_scores  # noqa: E402
from credo.rules.model import Rulebook  # noqa: E402
from credo.semantics import Record  # noqa: E402

BEHAVIOURS = ["bank_arrears", "late_utility_fees", "charity_donation", "bill_paid_on_time", "recycling_sorted",
              "dangerous_driving", "smoking_in_non_smoking_zone", "judgment_defaulted", "judgment_performed",
              "fraud"]  # fmt: skip
PEER_SAMPLE = 20_000


def write_ledger(path: Path, records: int, subjects: int) -> None:
    """`records` records over `subjects` persons across 2022-2025, as Parquet (DuckDB writes it)."""
    names = ", ".join(f"'{name}'" for name in BEHAVIOURS)
    duckdb.execute("SELECT setseed(0.5)")
    duckdb.execute(f"""
        COPY (
            SELECT 'r' || i AS id, 's' || CAST(floor(random() * {subjects}) AS BIGINT) AS subject,
                   'person' AS kind, ([{names}])[1 + CAST(floor(random() * {len(BEHAVIOURS)}) AS INT)] AS behaviour,
                   TIMESTAMPTZ '2022-01-01 00:00:00+00' + to_hours(CAST(floor(random() * 30000) AS BIGINT)) AS "at"
            FROM range({records}) AS r(i)
        ) TO '{path}' (FORMAT parquet)
    """)  # fmt: skip


def engine_seconds(rulebook: Rulebook, path: Path, at: dt.datetime, memory_limit: str | None) -> tuple[float, float]:
    """(whole run, of which reading and checking the file)."""
    started = time.perf_counter()
    run = start(rulebook, path, at, memory_limit=memory_limit)
    read = time.perf_counter() - started
    for expression in (population_scores(run), memberships(run), measures(run)):
        run.connection.to_pyarrow(expression)
    return time.perf_counter() - started, read


def points_of(rulebook: Rulebook) -> dict[str, float]:
    return {name: float(rule.ladder[0]) for name, rule in rulebook.programs["citizen"].points.items()}


def floor_seconds(rulebook: Rulebook, path: Path) -> float:
    """DuckDB's GROUP BY subject SUM(points), the points already joined on, in memory."""
    connection = duckdb.connect()
    connection.execute("CREATE TABLE points (behaviour VARCHAR, points DOUBLE)")
    connection.executemany("INSERT INTO points VALUES (?, ?)", list(points_of(rulebook).items()))
    connection.execute(f"""
        CREATE TABLE joined AS SELECT subject, coalesce(points, 0) AS points
        FROM read_parquet('{path}') LEFT JOIN points USING (behaviour)
    """)  # fmt: skip
    started = time.perf_counter()
    connection.execute("SELECT subject, sum(points) FROM joined GROUP BY subject").to_arrow_table()
    return time.perf_counter() - started


def sample(path: Path, where: str, rulebook: Rulebook) -> list[Record]:
    rows = duckdb.execute(
        f"SELECT id, subject, behaviour, epoch_us(\"at\") FROM read_parquet('{path}', file_row_number = true) "
        f"WHERE {where} ORDER BY file_row_number"
    ).fetchall()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [Record(subject, behaviour, (epoch + dt.timedelta(microseconds=us)).astimezone(rulebook.tz), id_)
            for id_, subject, behaviour, us in rows]  # fmt: skip


def reference_seconds(rulebook: Rulebook, path: Path, at: dt.datetime, records: int, subjects: int) -> float:
    """The reference on every 100th subject, scaled up by the share of records it read."""
    rows = sample(path, "hash(subject) % 100 = 0", rulebook)
    started = time.perf_counter()
    for state in evaluate_all(rulebook, rows, at).values():
        state.summary()
        for action in rulebook.actions:
            state.decide(action)
    return (time.perf_counter() - started) * records / max(len(rows), 1)


def decision_table(points: dict[str, float]) -> str:
    """The citizen point table as a GoRules JSON decision model: behaviour in, points out."""
    rules = [{"_id": f"r{index}", "behaviour": json.dumps(name), "points": str(value)}
             for index, (name, value) in enumerate(points.items())]  # fmt: skip
    rules.append({"_id": "otherwise", "behaviour": "", "points": "0"})
    node = {"hitPolicy": "first", "inputs": [{"id": "behaviour", "field": "behaviour", "name": "Behaviour"}],
            "outputs": [{"id": "points", "field": "points", "name": "Points"}], "rules": rules}  # fmt: skip
    position = {"x": 0, "y": 0}
    return json.dumps({
        "nodes": [{"id": "in", "type": "inputNode", "name": "Record", "position": position},
                  {"id": "table", "type": "decisionTableNode", "name": "Points", "position": position,
                   "content": node},
                  {"id": "out", "type": "outputNode", "name": "Points", "position": position}],
        "edges": [{"id": "a", "type": "edge", "sourceId": "in", "targetId": "table"},
                  {"id": "b", "type": "edge", "sourceId": "table", "targetId": "out"}],
    })  # fmt: skip


def peer_seconds(rulebook: Rulebook, path: Path, records: int) -> dict[str, Any]:
    """zen-engine's points for a sample of records (scaled up) plus a pandas group-by of them all."""
    import zen

    decision = zen.ZenEngine().create_decision(decision_table(points_of(rulebook)))
    rows = duckdb.execute(f"SELECT behaviour FROM read_parquet('{path}') LIMIT {PEER_SAMPLE}").fetchall()
    started = time.perf_counter()
    for (behaviour,) in rows:
        decision.evaluate({"behaviour": behaviour})
    rules_s = (time.perf_counter() - started) * records / max(len(rows), 1)
    frame = duckdb.execute(f"SELECT subject, behaviour FROM read_parquet('{path}')").df()
    frame["points"] = frame["behaviour"].map(points_of(rulebook)).fillna(0.0)  # zen's answers, as a column
    started = time.perf_counter()
    frame.groupby("subject")["points"].sum()
    group_s = time.perf_counter() - started
    return {"peer_s": rules_s + group_s, "peer_rules_s": rules_s, "peer_groupby_s": group_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=None, help="default: records / 10")
    parser.add_argument("--memory-limit", default=None, help="DuckDB's memory limit for credo, such as 8GB")
    parser.add_argument("--json", action="store_true", help="print only the JSON object (the default output too)")
    parser.add_argument("--write-ledger", type=Path, default=None,
                        help="only write the ledger to this Parquet file, for `credo population`")  # fmt: skip
    options = parser.parse_args()
    subjects = options.subjects or max(options.records // 10, 1)
    if options.write_ledger is not None:
        write_ledger(options.write_ledger, options.records, subjects)
        return
    rulebook = load_rulebook(ROOT / "scenarios" / "article" / "rulebook.yaml")
    at = dt.datetime(2025, 6, 1, tzinfo=rulebook.tz)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.parquet"
        write_ledger(path, options.records, subjects)
        engine_s, read_s = engine_seconds(rulebook, path, at, options.memory_limit)
        engine_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        floor_s = floor_seconds(rulebook, path)
        reference_s = reference_seconds(rulebook, path, at, options.records, subjects)
        peer = peer_seconds(rulebook, path, options.records)
    print(json.dumps({
        "benchmark": "population",
        "records": options.records,
        "subjects": subjects,
        "engine_s": round(engine_s, 2),
        "engine_read_s": round(read_s, 2),
        "floor_s": round(floor_s, 3),
        "ratio_to_floor": round(engine_s / floor_s, 1),
        "records_per_s": round(options.records / engine_s),
        "reference_s": round(reference_s, 1),
        "speedup_over_reference": round(reference_s / engine_s, 1),
        "speedup_over_reference_after_reading": round(reference_s / (engine_s - read_s), 1),
        "peer_s": round(peer["peer_s"], 1),
        "peer_rules_s": round(peer["peer_rules_s"], 1),
        "peer_groupby_s": round(peer["peer_groupby_s"], 2),
        "speedup_over_peer": round(peer["peer_s"] / engine_s, 1),
        "peak_rss_mib_engine": engine_rss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "targets": {"ratio_to_floor": 4, "speedup_over_reference": 50, "speedup_over_peer": 10},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
