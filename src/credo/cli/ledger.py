"""Store-mode commands: init, ingest, correct, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from credo.cli.common import DEFAULT_STORE, JsonOpt, StoreOpt, emit, fail, ledger, stderr, stdout, store
from credo.errors import CredoError
from credo.ledger.book import Ledger, utc_now
from credo.ledger.model import CORRECTION_ACTIONS
from credo.service.delivery import Deliverer
from credo.storage.chains import check_head, record_checkpoint
from credo.storage.sql import SqlStore, safe_url


def deliver(book: Ledger) -> int:
    """The notices the write owes (recorded with it), delivered now; left owed for the next
    `credo sweep` or server start if delivery fails."""
    assert isinstance(book.store, SqlStore)
    return Deliverer(book.store, book).after_write()


def init(url: StoreOpt = DEFAULT_STORE) -> None:
    """Create the ledger in the store (or bring an older one up to this credo's schema)."""
    opened = store(url, existing=False)
    try:
        opened.migrate()
    except CredoError as exc:
        fail(str(exc))
    stdout.print(f"ledger ready at {safe_url(url)}")


def ingest(
    file: Annotated[Path, typer.Argument(help="Records as CSV, JSON Lines or Parquet.", show_default=False)],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the good rows; write the bad ones to the report.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Where bad rows go with --skip-invalid (default FILE.rejected.csv).")
    ] = None,
    no_notices: Annotated[
        bool, typer.Option("--no-notices", help="A backfill of history: tell nobody of these records.")
    ] = False,
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Ingest records: all of a file or none of it (or the good rows with --skip-invalid); again is a no-op."""
    book = ledger(url)
    report = report or (file.with_name(file.name + ".rejected.csv") if skip_invalid else None)
    size = file.stat().st_size if file.is_file() else 0
    columns = (TextColumn("ingest"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("ingest", total=size)
        try:
            summary = book.ingest(
                file,
                skip_invalid=skip_invalid,
                report=report,
                progress=lambda n: bar.advance(task, n),
                notify=not no_notices,
            )
        except CredoError as exc:
            fail(f"{exc}\nnothing was written")
    notified = deliver(book)
    if as_json:
        emit(summary.as_dict())
        return
    stdout.print(
        f"accepted {summary.accepted}, duplicates {summary.duplicates}, rejected {summary.rejected}"
        + (f" (positions {summary.first_position}-{summary.last_position})" if summary.accepted else "")
    )
    if summary.rejected and report is not None:
        stderr.print(f"rejected rows are listed in {report}")
    if notified:
        stderr.print(f"{notified} notice(s) sent")


def correct(
    record: Annotated[str, typer.Argument(help="The record: its ledger position, or SOURCE:ID.")],
    action: Annotated[str, typer.Argument(help="reverse, suspend, reinstate or confirm.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger and shown to the subject).")],
    actor: Annotated[str, typer.Option("--by", help="Who makes the correction.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Reverse, suspend, reinstate or confirm a record: a new entry, never an edit."""
    if action not in CORRECTION_ACTIONS:
        fail(f"unknown correction {action!r}; use {', '.join(CORRECTION_ACTIONS)}")
    book = ledger(url)
    try:
        position = book.correct(record, action, reason, actor)
    except CredoError as exc:
        fail(str(exc))
    deliver(book)
    if as_json:
        emit({"position": position})
    else:
        stdout.print(f"{action} of {record} recorded at ledger position {position}")


def verify(
    url: StoreOpt = DEFAULT_STORE,
    head: Annotated[
        str | None, typer.Option("--head", help="A head an earlier verify printed, kept elsewhere: check it holds.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every hash chain; name the first entry altered, inserted or deleted (exit 1)."""
    opened = store(url)
    try:
        report = opened.verify()
        if head is not None:
            report = check_head(opened, report, head.strip())
        kept = record_checkpoint(opened, report, utc_now(), whole=True)
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        chains = {chain.chain: {"entries": chain.entries, "head": chain.head} for chain in report.chains}
        emit({"ok": report.ok, "entries": report.entries, "head": kept, "chain": report.chain,
              "first_bad": report.first_bad, "problem": report.problem, "chains": chains})  # fmt: skip
    elif report.ok:
        counts = ", ".join(f"{chain.chain} {chain.entries}" for chain in report.chains)
        stdout.print(f"the chain verifies: {report.entries} entries ({counts}), head {kept}")
        if head is not None:
            stderr.print(f"the head {head.strip()} holds: nothing up to it was deleted")
        stderr.print(
            "keep this head elsewhere (print it, mail it, publish it): `credo verify --head HEAD` later "
            "proves that no entry up to it was deleted, even the newest"
        )
    else:
        stderr.print(f"[red]the chain does not verify[/red]: {report.problem}", markup=True)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(ingest)
    app.command()(correct)
    app.command()(verify)
