"""How the simulator grows: `credo simulate` on the article scenario, 1 year, at several sizes.

    python bench/simulate.py [--sizes 100000,1000000,5000000] [--years 1] [--no-detection-check]

Each size runs in its own process (so that its peak memory is its own): the synthetic city is
drawn, simulated month by month, written as Parquet, scored by the population engine at every
snapshot (and once more with equal detection, as `credo simulate` does by default) and reported.
Prints one JSON object: seconds, records and peak RSS per size, and how time and memory grow
between sizes. Targets (issue 6): 1 million subjects over 1 year in at most 60 s and 4 GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def one(size: int, years: int, check: bool) -> dict[str, object]:
    """Run one simulation in this process and measure it."""
    from credo.simulation.run import Plan, load_scenario, simulate

    scenario = load_scenario(ROOT / "scenarios" / "article")
    plan = Plan(size, years, 1, dt.datetime(2024, 1, 1, tzinfo=scenario.rulebook.tz))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = simulate(scenario, plan, Path(folder), counterfactual=check)
        seconds = time.perf_counter() - started
    return {
        "subjects": size,
        "years": years,
        "seconds": round(seconds, 1),
        "records": summary["records"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "flight_ban_share": summary["final"]["measures"]["flight_ban"]["share_of_kind"].get("person"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--no-detection-check", action="store_true", help="skip the equal-detection run")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a child process's size
    options = parser.parse_args()
    check = not options.no_detection_check
    if options.one is not None:
        print(json.dumps(one(options.one, options.years, check)))
        return
    runs = []
    for size in (int(text) for text in options.sizes.split(",")):
        command = [sys.executable, __file__, "--one", str(size), "--years", str(options.years)]
        if not check:
            command.append("--no-detection-check")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"the run of {size:,} subjects failed:\n{result.stderr}")
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    growth = [
        {"from": a["subjects"], "to": b["subjects"], "size_x": round(b["subjects"] / a["subjects"], 1),  # type: ignore[operator]
         "time_x": round(b["seconds"] / a["seconds"], 2), "memory_x": round(b["peak_rss_mib"] / a["peak_rss_mib"], 2)}  # type: ignore[operator]
        for a, b in itertools.pairwise(runs)
    ]  # fmt: skip
    million = next((run for run in runs if run["subjects"] == 1_000_000), None)
    print(json.dumps({
        "benchmark": "simulate",
        "scenario": "article",
        "detection_check": check,
        "runs": runs,
        "growth": growth,
        "targets": {"subjects": 1_000_000, "years": 1, "seconds": 60, "peak_rss_mib": 4096},
        "met": None if million is None else (million["seconds"] <= 60 and million["peak_rss_mib"] <= 4096),  # type: ignore[operator]
    }))  # fmt: skip


if __name__ == "__main__":
    main()
