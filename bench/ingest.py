"""Records a second into the ledger, beside a raw write of the same rows in the same run.

    python bench/ingest.py [--records N] [--postgres URL]

SQLite: credo's durable ingest (WAL, synchronous=FULL, validation, duplicate check, hash chain)
against `executemany` of the same rows into a bare table with the same pragmas.
PostgreSQL (CREDO_TEST_POSTGRES or --postgres): credo's ingest (COPY) against a bare COPY.
Prints one JSON object. Targets (issue 3): at least 100,000 records a second into SQLite and at
least half of the raw baseline on both stores.

A third figure bounds what any ingest into credo's ledger can reach: the same rows, already
checked, hashed and laid out as credo stores them, written by a bare `executemany` (or `COPY`)
into a fresh ledger's own `records` table, with the indexes it needs (one on (source, id), which
makes a record sent twice a duplicate, and one on (subject, at), which every question about a
person reads). `bound_ratio` is that figure over the bare baseline: no checking or hashing,
however fast, lifts credo's ratio above it while the ledger keeps those indexes.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credo.ledger.book import Ledger  # noqa: E402
from credo.storage import open_store  # noqa: E402

BEHAVIOURS = [("fraud", "court"), ("bank_arrears", "bank"), ("charity_donation", "charity_federation"),
              ("late_utility_fees", "utility"), ("recycling_sorted", "neighbourhood_committee")]  # fmt: skip
COLUMNS = ["subject", "behaviour", "at", "source", "id"]


def write_ledger(path: Path, count: int) -> None:
    start = dt.date(2022, 1, 1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index in range(count):
            behaviour, source = BEHAVIOURS[index % len(BEHAVIOURS)]
            day = start + dt.timedelta(days=(index * 7919) % 1000)
            writer.writerow([f"s{(index * 104729) % (count // 10 + 1)}", behaviour, day.isoformat(), source, index])


def raw_rows(path: Path) -> list[tuple[Any, ...]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [tuple(row) for row in reader]


def credo_ingest(url: str, path: Path) -> float:
    store = open_store(url)
    store.migrate()
    ledger = Ledger(store, lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ledger.publish(ROOT / "scenarios" / "article" / "rulebook.yaml", "2019-01-01")
    started = time.perf_counter()
    summary = ledger.ingest(path)
    elapsed = time.perf_counter() - started
    assert summary.rejected == 0 and summary.accepted > 0
    store.close()
    return elapsed


def sqlite_raw(folder: Path, rows: list[tuple[Any, ...]]) -> float:
    connection = sqlite3.connect(folder / "raw.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE records (subject TEXT, behaviour TEXT, at TEXT, source TEXT, id TEXT)")
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def laid_out(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows as credo's records table holds them (the hash a placeholder of its length)."""
    placeholder, recorded = "0" * 64, 1_767_225_600_000_000
    return [
        (index + 1, placeholder, subject, "person", behaviour, int(dt.datetime.fromisoformat(at).timestamp() * 1e6),
         source, source_id, None, None, recorded, False)
        for index, (subject, behaviour, at, source, source_id) in enumerate(rows)
    ]  # fmt: skip


RECORD_COLUMNS = ("position, hash, subject, subject_kind, behaviour, at_us, source, source_id, evidence, confidence,"
                  " recorded_us, pending")  # fmt: skip


def sqlite_schema_raw(folder: Path, rows: list[tuple[Any, ...]]) -> float:
    """The bound: credo's own records table, with its indexes, filled by a bare executemany."""
    store = open_store(f"sqlite:///{folder / 'bound.db'}")
    store.migrate()
    store.close()
    connection = sqlite3.connect(folder / "bound.db", isolation_level=None)
    connection.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO records ({RECORD_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def postgres_schema(base: str) -> tuple[str, str]:
    schema = f"credo_bench_{uuid.uuid4().hex[:10]}"
    separator = "&" if "?" in base else "?"
    return schema, f"{base}{separator}options=-csearch_path%3D{schema}"


def postgres_runs(base: str, path: Path, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    import psycopg

    plain = base.replace("postgresql+psycopg://", "postgresql://")
    results = {}
    with psycopg.connect(plain, autocommit=True) as admin:
        schema, url = postgres_schema(base)
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            results["credo_s"] = credo_ingest(url, path)
            admin.execute(f"CREATE TABLE {schema}.raw (subject text, behaviour text, at text, source text, id text)")
            started = time.perf_counter()
            with admin.transaction(), admin.cursor() as cursor, cursor.copy(f"COPY {schema}.raw FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            results["raw_s"] = time.perf_counter() - started
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
        schema, url = postgres_schema(base)  # the bound: credo's own table, with its indexes
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            store = open_store(url)
            store.migrate()
            store.close()
            started = time.perf_counter()
            with (
                admin.transaction(),
                admin.cursor() as cursor,
                cursor.copy(f"COPY {schema}.records ({RECORD_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in laid_out(rows):
                    copy.write_row(row)
            results["schema_raw_s"] = time.perf_counter() - started
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--postgres", default=os.environ.get("CREDO_TEST_POSTGRES"))
    options = parser.parse_args()
    count = options.records
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "records.csv"
        write_ledger(path, count)
        rows = raw_rows(path)
        figures: dict[str, Any] = {"benchmark": "ingest", "records": count}
        credo_s = credo_ingest(f"sqlite:///{folder / 'credo.db'}", path)
        raw_s = sqlite_raw(folder, rows)
        bound_s = sqlite_schema_raw(folder, laid_out(rows))
        figures["sqlite"] = {
            "credo_records_per_s": round(count / credo_s),
            "raw_executemany_records_per_s": round(count / raw_s),
            "schema_raw_records_per_s": round(count / bound_s),
            "ratio_to_raw": round(raw_s / credo_s, 3),
            "bound_ratio": round(raw_s / bound_s, 3),
            "ratio_to_bound": round(bound_s / credo_s, 3),
            "meets_100k": count / credo_s >= 100_000,
            "meets_half_of_raw": raw_s / credo_s >= 0.5,
        }
        if options.postgres:
            runs = postgres_runs(options.postgres, path, rows)
            figures["postgres"] = {
                "credo_records_per_s": round(count / runs["credo_s"]),
                "raw_copy_records_per_s": round(count / runs["raw_s"]),
                "schema_raw_records_per_s": round(count / runs["schema_raw_s"]),
                "ratio_to_raw": round(runs["raw_s"] / runs["credo_s"], 3),
                "bound_ratio": round(runs["raw_s"] / runs["schema_raw_s"], 3),
                "ratio_to_bound": round(runs["schema_raw_s"] / runs["credo_s"], 3),
                "meets_half_of_raw": runs["raw_s"] / runs["credo_s"] >= 0.5,
            }
        else:
            figures["postgres"] = None
        figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
