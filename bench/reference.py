"""Decisions per second from the reference semantics, for one subject with 10, 20, 100 and 1,000 records.

    python bench/reference.py            # prints one JSON object

"cold" evaluates the subject's records from scratch for every decision (what a first request
costs); "warm" asks one already-evaluated subject state (what a cached request costs, as the
service will do). The baseline, run in the same process, is the cost of only sorting and
filtering the same records, the least any evaluator must do.
Target (issues 2 and 15): at least 20,000 decisions a second on one core for a subject with 20 records.
Rates are per second of CPU time (time.process_time), so that other work on the machine does not count.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path
from typing import Any

from credo import evaluate, load_rulebook
from credo.semantics import Record

ROOT = Path(__file__).resolve().parent.parent
BEHAVIOURS = [
    "bank_arrears", "late_utility_fees", "dangerous_driving", "smoking_in_non_smoking_zone",
    "bill_paid_on_time", "recycling_sorted", "charity_donation", "judgment_defaulted", "judgment_performed",
]  # fmt: skip


def ledger(size: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    rows = [
        Record("s", rng.choice(BEHAVIOURS), start + dt.timedelta(hours=rng.randint(0, 3 * 365 * 24)), f"r{index}")
        for index in range(size)
    ]
    return sorted(rows, key=lambda record: record.at)


def rate(work: Any, budget_s: float = 1.0) -> float:
    """Calls per second of work(), timed over about budget_s of this process's CPU time: the
    figure is for one core, and on a shared machine the other processes' time is not ours."""
    calls, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < budget_s:
        work()
        calls += 1
    return calls / elapsed


def main() -> None:
    rulebook = load_rulebook(ROOT / "scenarios" / "article" / "rulebook.yaml")
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    figures: dict[str, Any] = {"benchmark": "reference", "action": "buy_flight_ticket", "sizes": {}}
    for size in (10, 20, 100, 1000):
        rows = ledger(size, seed=size)
        state = evaluate(rulebook, rows, "s", at)
        cold = rate(lambda rows=rows: evaluate(rulebook, rows, "s", at).decide("buy_flight_ticket"))
        warm = rate(lambda state=state: state.decide("buy_flight_ticket"))
        baseline = rate(
            lambda rows=rows: sorted((r for r in rows if r.subject == "s" and r.at <= at), key=lambda r: r.at)
        )
        figures["sizes"][str(size)] = {
            "cold_decisions_per_s": round(cold),
            "warm_decisions_per_s": round(warm),
            "baseline_sort_filter_per_s": round(baseline),
            "cold_ratio_to_baseline": round(cold / baseline, 4),
        }
    twenty = figures["sizes"]["20"]
    figures["target_20_records_per_s"] = 20_000
    figures["cold_meets_target"] = twenty["cold_decisions_per_s"] >= 20_000
    figures["warm_meets_target"] = twenty["warm_decisions_per_s"] >= 20_000
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
