"""Processes killed with SIGKILL mid-ingest, and two processes ingesting at once."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from credo.ledger.book import Ledger
from credo.storage import SqlStore
from tests.conftest import ROOT, SCENARIOS
from tests.stores import initialised

BEHAVIOURS = [("fraud", "court"), ("bank_arrears", "bank"), ("charity_donation", "charity_federation")]


def prepare(url: str) -> SqlStore:
    store = initialised(url)
    Ledger(store).publish(SCENARIOS / "article" / "rulebook.yaml", "2019-01-01")
    return store


def files(folder: Path, count: int, rows: int, prefix: str = "f") -> list[Path]:
    rng = random.Random(count * rows)
    made = []
    for number in range(count):
        path = folder / f"{prefix}{number:03d}.csv"
        lines = ["subject,behaviour,at,source,id"]
        for index in range(rows):
            behaviour, source = rng.choice(BEHAVIOURS)
            day = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randint(0, 900))
            lines.append(f"s{rng.randint(0, 40)},{behaviour},{day},{source},{path.stem}-{index}")
        path.write_text("\n".join(lines) + "\n")
        made.append(path)
    return made


def worker(url: str, paths: list[Path], pause: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "tests" / "ingest_worker.py"), url, str(pause), *map(str, paths)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stored_ids(store: SqlStore) -> list[str]:
    """The ids of the records in the ledger (not those of a file left pending by a killed ingest)."""
    query = "SELECT source_id FROM records WHERE position <= :head ORDER BY position"
    with store.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(query), {"head": store.head()})]


def positions(store: SqlStore) -> list[int]:
    with store.engine.connect() as connection:
        query = "SELECT position FROM records UNION ALL SELECT position FROM rulebook_versions ORDER BY 1"
        return [row[0] for row in connection.execute(text(query))]


def test_sigkill_never_loses_an_acknowledged_record(store_url: str, tmp_path: Path) -> None:
    """Each round ingests new files and is killed part-way; a file is all there or not at all."""
    store = prepare(store_url)
    rng = random.Random(7)
    rounds = [files(tmp_path, count=20, rows=300, prefix=f"r{round_}x") for round_ in range(12)]
    acknowledged: set[str] = set()
    kills = 0
    for paths in rounds:
        process = worker(store_url, paths, pause=0.05)
        time.sleep(rng.uniform(0.6, 1.8))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate()
        kills += process.returncode == -signal.SIGKILL
        acknowledged |= {Path(line.split()[1]).stem for line in out.splitlines() if line.startswith("ack ")}
        ids = stored_ids(store)
        assert len(ids) == len(set(ids)), "a record was stored twice"
        per_file: dict[str, int] = {}
        for row in ids:
            stem = row.rsplit("-", 1)[0]
            per_file[stem] = per_file.get(stem, 0) + 1
        assert set(per_file.values()) <= {300}, "a file was half-written"
        assert acknowledged <= set(per_file), "an acknowledged file was lost"
        assert store.verify().ok
    everything = [path for paths in rounds for path in paths]
    process = worker(store_url, everything)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert len(stored_ids(store)) == 12 * 20 * 300
    assert positions(store) == list(range(1, 12 * 20 * 300 + 2))
    assert store.verify().ok
    assert kills >= 10  # the kills landed mid-run, not after it had finished
    print(f"crash test: {kills} SIGKILLs mid-ingest, {len(acknowledged)} files acknowledged before them, all present")


def test_two_processes_ingesting_at_once(store_url: str, tmp_path: Path) -> None:
    store = prepare(store_url)
    shared = files(tmp_path, count=10, rows=50, prefix="shared")
    first = worker(store_url, [*files(tmp_path, 10, 50, "a"), *shared])
    second = worker(store_url, [*shared, *files(tmp_path, 10, 50, "b")])
    for process in (first, second):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 30 * 50
    assert positions(store) == list(range(1, 30 * 50 + 2))
    assert store.verify().ok
