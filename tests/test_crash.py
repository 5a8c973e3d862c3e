"""The crash test at scale, short run (issue 13 item 7): `credo serve` under concurrent record
batches, decisions, appeals and resolutions, SIGKILLed at random moments and restarted; every
acknowledged write is there exactly once, the chain verifies, no notice is missing or doubled.

The long run (1,000 kills on each store) is `python -m tests.crash_harness --kills 1000`; see
README.md, "Crash, soak and fuzz harnesses". CREDO_CRASH_KILLS sets the kills of this short run.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.crash_harness import run
from tests.stores import require_postgres

KILLS = int(os.environ.get("CREDO_CRASH_KILLS", "5"))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_server_killed_at_random_keeps_every_acknowledged_write(store: str) -> None:
    if store == "postgres":
        require_postgres()
    report = run(store, kills=KILLS, seed=13, workers=4, min_gap=0.2, max_gap=0.8, max_seconds=600)
    print(json.dumps(report, sort_keys=True))
    assert report["kills"] == KILLS
    assert report["acknowledged"]["receipts"] > 0 and report["acknowledged"]["decisions"] > 0
    assert report["acknowledged"]["appeals"] > 0
    assert report["lost_batches_resent"] == report["in_doubt"].get("records", 0)
    assert report["drain"]["owed_at_check"] == 0  # every notice a kill left owed was delivered
    broken = {name: count for name, count in report["violations"].items() if count}
    assert not broken, f"crash harness found: {broken}"
    assert report["verify"]["ok"] and report["verify"]["cli_exit"] == 0
    assert report["server_tracebacks"] == 0
    assert not [kind for kind in report["answered"] if kind.split()[-1].startswith("5")]
    assert report["ok"]
