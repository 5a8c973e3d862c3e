"""`credo population`: everyone's scores, lists and measures at once, as Parquet and a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from credo.cli.common import RulebookArg, fail, stderr, stdout
from credo.errors import CredoError
from credo.ledger.files import read_records
from credo.rules import load_rulebook, parse_instant


def population(
    rulebook: RulebookArg,
    ledger: Annotated[Path, typer.Argument(help="Records as CSV, JSON Lines or Parquet.", show_default=False)],
    at: Annotated[str, typer.Option("--at", help="The instant asked about (ISO 8601).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for scores, lists and measures (Parquet).")],
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="DuckDB's memory limit, such as 4GB.")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")] = "duckdb",
) -> None:
    """Score a whole population with DuckDB or Spark; write Parquet files and summary.json."""
    if engine not in {"duckdb", "spark"}:
        fail(f"unknown engine {engine!r}; use duckdb or spark")
    from credo.population.run import write_population

    try:
        book = load_rulebook(rulebook)
        instant = parse_instant(at, book.tz)
        with stderr.status("reading records") as status:
            records = read_records(ledger, book)
            summary = write_population(
                book, records, instant, out, memory_limit,
                step=lambda name: status.update(f"computing {name}"), engine_name=engine,
            )  # fmt: skip
    except CredoError as exc:
        fail(str(exc))
    stdout.print(json.dumps(summary, indent=2), markup=False)
    stderr.print(f"wrote {out}/scores.parquet, lists.parquet, measures.parquet and summary.json")


def register(app: typer.Typer) -> None:
    app.command()(population)
