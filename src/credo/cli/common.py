"""What every command shares: consoles, the error exit, JSON output, the shared options."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from credo.errors import CredoError
from credo.ledger.book import Ledger
from credo.storage import DEFAULT_URL, SqlStore, open_store

stdout = Console(highlight=False, emoji=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

RulebookArg = Annotated[Path, typer.Argument(help="The rulebook YAML file.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line) instead of tables.")]
StoreOpt = Annotated[
    str,
    typer.Option(
        "--store", envvar="CREDO_STORE", help="The ledger: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB."
    ),
]
DEFAULT_STORE = DEFAULT_URL


def _memory_limit(text: str | None) -> str | None:
    """Checked when the command line is read, before a command writes anything."""
    from credo.population.duckdb import check_memory_limit

    try:
        return None if text is None else check_memory_limit(text)
    except CredoError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--memory-limit: ")) from exc


MemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-limit", callback=_memory_limit, help="DuckDB's memory limit, such as 4GB; it spills to disk."
    ),
]


def _engine_log(show: bool) -> bool:
    """Spark reads its level from CREDO_SPARK_LOG when it starts (credo.population.spark)."""
    if show:
        os.environ["CREDO_SPARK_LOG"] = "INFO"
    return show


EngineLogOpt = Annotated[
    bool,
    typer.Option("--engine-log", callback=_engine_log, help="Show Spark's own log (INFO); quiet by default."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """One clean message on stderr and a non-zero exit (2: bad input)."""
    stderr.print(f"[red]credo: error:[/red] {escape(message)}", markup=True)  # a message may hold [a, b]
    raise typer.Exit(code)


def emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def store(url: str, *, existing: bool = True) -> SqlStore:
    """Open the store a URL names; an existing ledger is upgraded to this credo's schema."""
    try:
        opened = open_store(url, create=not existing)
        if existing:
            opened.require_ledger()
    except CredoError as exc:
        fail(str(exc))
    return opened


def ledger(url: str) -> Ledger:
    return Ledger(store(url))


def instant_syntax(text: str | None) -> str | None:
    """An instant option checked when the command line is read, so that its error names the option.

    Only the syntax: the zone of a bare date is the rulebook's, known once the command runs.
    """
    import datetime as dt

    from credo.rules import parse_instant

    if text is None:
        return None
    try:
        parse_instant(text, dt.UTC)
    except CredoError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return text


def checked_ledger(url: str) -> Ledger:
    """The ledger, with a warning on stderr when a chain does not verify (checked from the last
    checkpoint, as a server does): the answers then come from a ledger that may have been altered."""
    opened = store(url)
    report = opened.verify(whole=False)
    if not report.ok:
        stderr.print(
            f"credo: warning: the ledger's hash chain is broken: {report.problem}; these answers come from a "
            "ledger that does not verify (see `credo verify`)",
            markup=False,
        )
    return Ledger(opened)


class DataTable:
    """Rows to print with render.table: cells fold on a terminal, and off one (a pipe) each row is
    one tab-separated line of whole values, so an id can be copied, grepped and used again."""

    def __init__(self, *columns: str) -> None:
        self.columns = columns
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)

    def show(self) -> None:
        from credo.render import table

        table(stdout, self.columns, self.rows)


def data_table(*columns: str) -> DataTable:
    return DataTable(*columns)
