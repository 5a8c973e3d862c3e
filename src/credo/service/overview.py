"""The population overview: a population run over the store, kept there for the pages."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credo.ledger.book import Ledger, utc_now
from credo.ledger.chain import micros
from credo.storage.runs import PopulationRunRow
from credo.storage.sql import SqlStore


def count_population(
    ledger: Ledger,
    store: SqlStore,
    at: dt.datetime,
    out: Path,
    *,
    engine: str = "duckdb",
    memory_limit: str | None = None,
    known_at: dt.datetime | None = None,
    step: Callable[[str], None] = lambda _: None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> dict[str, Any]:
    """Score everyone in the store at `at` (as known at `known_at`), write the outputs to `out`,
    keep the run's counts in the store, and return its summary."""
    from credo.population.run import start, write_population

    head = store.head()
    history = ledger.history(known_at, upto=head)
    versions = [(version.effective, version.rulebook) for version in history.versions]
    records = ledger.counting_records(known_at, upto=head)
    run = start(history.require(at), records, at, engine, memory_limit, versions)
    summary = write_population(run, out, step)
    store.add_population_run(PopulationRunRow(uuid.uuid4().hex, micros(clock()), micros(at), head, summary))
    return summary
