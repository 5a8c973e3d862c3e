"""`credo appeals list|show|resolve`: a reviewer's desk without the web, over the same appeals code."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credo.cli.common import DEFAULT_STORE, JsonOpt, StoreOpt, data_table, emit, fail, stdout, store
from credo.errors import CredoError
from credo.ledger.book import Ledger, utc_now
from credo.ledger.chain import from_micros, micros
from credo.service.appeals import Appeals, view
from credo.service.errors import ApiError

desk = typer.Typer(help="Appeals: list the pending ones, read one, uphold or reverse it.", no_args_is_help=True)


def _appeals(url: str) -> Appeals:
    opened = store(url)
    return Appeals(opened, Ledger(opened), utc_now)


def _record(appeals: Appeals, reference: str) -> dict[str, Any]:
    record = appeals.ledger.find(reference)
    return {"id": record.id, "position": record.position, "behaviour": record.behaviour,
            "at": from_micros(record.at_us).isoformat(), "source": record.source}  # fmt: skip


@desk.command(name="list")
def list_appeals(
    every: Annotated[bool, typer.Option("--all", help="Resolved and lapsed appeals too.")] = False,
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Appeals awaiting a reviewer (or every appeal with --all), the nearest deadline first."""
    appeals, now = _appeals(url), utc_now()
    found = appeals.store.appeals() if every else appeals.store.waiting_appeals(micros(now)).appeals
    views = sorted((view(appeal, now) for appeal in found), key=lambda item: item["deadline"])
    if as_json:
        for item in views:
            emit(item)
        return
    table = data_table("id", "subject", "record", "filed", "deadline", "status")
    for item in views:
        status = item["status"] + (", overdue" if item["overdue"] else "")
        table.add_row(item["id"], item["subject"], str(item["record"]), item["filed"][:19],
                      item["deadline"][:19], status)  # fmt: skip
    table.show()


@desk.command()
def show(
    appeal_id: Annotated[str, typer.Argument(help="The appeal's id.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """One appeal: the subject's statement, the record it disputes, its deadline and what became of it."""
    appeals = _appeals(url)
    try:
        item = view(appeals.find(appeal_id), utc_now())
        item["record"] = _record(appeals, item["record"])
    except (ApiError, CredoError) as exc:
        fail(f"no appeal {appeal_id!r} in this store" if isinstance(exc, ApiError) else str(exc))
    if as_json:
        emit(item)
        return
    record = item["record"]
    stdout.print(f"appeal {item['id']} by {item['subject']}: {item['status']}", markup=False)
    stdout.print(f"  record {record['id']} (position {record['position']}): {record['behaviour']} at "
                 f"{record['at']}, from {record['source']}", markup=False)  # fmt: skip
    stdout.print(f"  filed {item['filed']}, to be answered by {item['deadline']}"
                 + (" (overdue)" if item["overdue"] else ""), markup=False)  # fmt: skip
    stdout.print(f"  while pending the record {'is suspended' if item['while_pending'] == 'suspend' else 'counts'}",
                 markup=False)  # fmt: skip
    stdout.print(f"  statement: {item['statement']}", markup=False)
    if item["resolution"]:
        done = item["resolution"]
        stdout.print(f"  {done['outcome']} by {done['by']} at {done['at']}: {done['reason']}", markup=False)


@desk.command()
def resolve(
    appeal_id: Annotated[str, typer.Argument(help="The appeal's id.")],
    outcome: Annotated[str, typer.Argument(help="uphold (the record stands) or reverse (it no longer counts).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (the subject is told).")],
    reviewer: Annotated[str, typer.Option("--by", help="The reviewer who decides.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Uphold or reverse the disputed record, with a reason; the subject is notified."""
    if outcome not in {"uphold", "reverse"}:
        fail(f"unknown outcome {outcome!r}; use uphold or reverse")
    if not reason.strip() or not reviewer.strip():
        fail("a resolution needs a reason and who decided (--reason, --by)")
    appeals = _appeals(url)
    try:
        resolved = view(appeals.resolve(appeal_id, outcome, reason, reviewer), utc_now())
    except ApiError as exc:
        fail(exc.message if exc.status != 404 else f"no appeal {appeal_id!r} in this store")
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        emit(resolved)
    else:
        stdout.print(f"appeal {appeal_id} resolved: {resolved['status']}; the subject is notified", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(desk, name="appeals")
