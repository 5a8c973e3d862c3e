"""`credo population`: everyone's scores, lists and measures at once, as Parquet and a summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from credo.cli.common import (
    DEFAULT_STORE,
    EngineLogOpt,
    MemoryOpt,
    StoreOpt,
    fail,
    instant_syntax,
    stderr,
    stdout,
    store,
)
from credo.errors import CredoError
from credo.ledger.book import Ledger
from credo.rules import load_rulebook, parse_instant


def population(
    rulebook: Annotated[
        Path | None, typer.Argument(help="The rulebook YAML file (omit both to read the store).", show_default=False)
    ] = None,
    records: Annotated[
        str | None,
        typer.Argument(
            help="Records as Parquet, CSV or JSON Lines; with --engine spark also a Parquet folder or URL.",
            show_default=False,
        ),
    ] = None,
    *,
    at: Annotated[str, typer.Option("--at", help="The instant asked about (ISO 8601).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for scores, lists and measures (Parquet).")],
    memory_limit: MemoryOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")] = "duckdb",
    engine_log: EngineLogOpt = False,
    url: StoreOpt = DEFAULT_STORE,
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", callback=instant_syntax, help="Store mode: as credo knew things at this instant."),
    ] = None,
) -> None:
    """Score a whole population with DuckDB or Spark; write Parquet files and summary.json.

    Given RULEBOOK and RECORDS it reads the file (DuckDB reads and checks it itself); given
    neither it reads the counting records and every rulebook version from the store, and keeps
    the run's counts there (the public rulebook page and the desk show the newest).
    """
    if engine not in {"duckdb", "spark"}:
        fail(f"unknown engine {engine!r}; use duckdb or spark")
    if (rulebook is None) != (records is None):
        fail("give both RULEBOOK and RECORDS (file mode), or neither (store mode)")
    from credo.population.run import start, write_population
    from credo.service.overview import count_population

    began = time.perf_counter()
    try:
        with stderr.status("reading records") as status:
            if rulebook is not None and records is not None:
                book = load_rulebook(rulebook)
                instant = parse_instant(at, book.tz)
                run = start(book, records, instant, engine, memory_limit)
            else:
                run = None

            def step(name: str) -> None:
                status.update(f"computing {name} ({time.perf_counter() - began:.0f} s so far)")

            if run is not None:
                summary = write_population(run, out, step)
            else:  # store mode: the run's counts are kept in the store for the pages
                opened = store(url)
                stored = Ledger(opened)
                instant = stored.instant(at)
                known = None if known_at is None else stored.instant(known_at)
                summary = count_population(stored, opened, instant, out, engine=engine, memory_limit=memory_limit,
                                           known_at=known, step=step)  # fmt: skip
    except CredoError as exc:
        fail(str(exc))
    stdout.print(json.dumps(summary, indent=2), markup=False)
    stderr.print(
        f"wrote {out}/scores.parquet, lists.parquet, measures.parquet and summary.json "
        f"in {time.perf_counter() - began:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command()(population)
