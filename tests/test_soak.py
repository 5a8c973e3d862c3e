"""The soak, short run (issue 13 item 8): bench/soak.py as a user runs it, for half a minute.

The long run is `python bench/soak.py` (30 minutes); its figures are in README.md, "Crash, soak
and fuzz harnesses". This one holds what the long run's report promises: every kind of traffic
sent, no error, no traceback, and the memory read at each window's end
and at rest, split as /proc gives it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.service_process import child_env

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"appeals", "decisions", "me", "me_explanation", "me_export", "me_notices", "me_records", "records",
         "reviews", "reviews_pending", "sweeps"}  # fmt: skip
PARTS = {"rss", "anon", "file", "shmem", "server_rss", "server_anon", "relay_rss", "relay_anon"}


def test_a_short_soak_reports_every_kind_no_error_and_the_memory_at_rest() -> None:
    command = [sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.6", "--window-minutes", "0.3",
               "--rest-seconds", "3", "--subjects", "30", "--clients", "3", "--sweep-seconds", "10"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report["requests"]) == KINDS and all(report["requests"].values())
    assert report["error_total"] == 0 and report["errors"] == {}
    assert report["server_tracebacks"] == 0
    assert report["outbox_owed_at_end"] >= 0  # late, not lost: the last writes' notices may be on their way
    assert [window["window"] for window in report["windows"]] == [0, 1]
    for window in report["windows"]:
        for reading in ("memory_kib_start", "memory_kib_end", "memory_kib_at_rest_after"):
            memory = window[reading]
            assert set(memory) == PARTS, (reading, memory)
            assert memory["rss"] == memory["anon"] + memory["file"] + memory["shmem"] or reading.endswith("after")
            assert memory["rss"] >= memory["server_rss"] > memory["server_anon"] > 0
    assert set(report["growth_after_first_window_kib"]) == PARTS | {"rss_busy"}
