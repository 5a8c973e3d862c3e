"""`credo keys list` and `credo keys revoke` (`keys create` is beside `serve`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from credo.cli import service
from credo.cli.common import DEFAULT_STORE, JsonOpt, StoreOpt, data_table, emit, fail, stdout, store
from credo.errors import Conflict, NotFound
from credo.ledger.book import Ledger, utc_now
from credo.ledger.chain import from_micros
from credo.rules.model import Rulebook
from credo.service.keys import BadKeyRequest, key_status, revoke_key
from credo.storage.sql import SqlStore


def scope_rulebook(opened: SqlStore, now: dt.datetime) -> Rulebook | None:
    """The rulebook a new key is checked against: the one in force now, else the next one published."""
    history = Ledger(opened).history()
    if not history:
        return None
    return history.in_force(now) or history.versions[0].rulebook


def _when(value: int | None) -> str | None:
    return None if value is None else from_micros(value).isoformat()


def list_keys(url: StoreOpt = DEFAULT_STORE, as_json: JsonOpt = False) -> None:
    """Every key: its id, role, scope, when it was made, when it expires, and whether it still works."""
    now = utc_now()
    keys = store(url).keys_list()
    rows: list[dict[str, Any]] = [
        {"id": key.id, "role": key.role, "source": key.source, "actions": list(key.actions), "subject": key.subject,
         "created": _when(key.created_us), "expires": _when(key.expires_us), "revoked": _when(key.revoked_us),
         "status": key_status(key, now)}
        for key in keys
    ]  # fmt: skip
    if as_json:
        for row in rows:
            emit(row)
        return
    table = data_table("id", "role", "scope", "created", "expires", "status")
    for row in rows:
        scope = row["source"] or ",".join(row["actions"]) or row["subject"] or ""  # the CLI's spelling: A,B
        table.add_row(row["id"], row["role"], scope, row["created"][:19], (row["expires"] or "never")[:19],
                      row["status"])  # fmt: skip
    table.show()


def revoke(
    key: Annotated[str, typer.Argument(help="The key's id (`credo keys list`, 8 characters or more) or the key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the revocation).")],
    actor: Annotated[str, typer.Option("--by", help="Who revokes it.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: it answers 401 from then on. A revocation is a new entry; the key's row stays."""
    if not reason.strip() or not actor.strip():
        fail("a revocation needs a reason and who made it (--reason, --by)")
    now = utc_now()
    try:
        found = revoke_key(store(url), key, reason, actor, now)
    except NotFound as exc:
        fail(f"{exc} (see `credo keys list`)")
    except (BadKeyRequest, Conflict) as exc:
        fail(str(exc))
    if as_json:
        emit({"id": found.id, "revoked": now.isoformat()})
    else:
        stdout.print(f"key {found.id} ({found.role}) revoked at {now.isoformat()}")


def register(app: typer.Typer) -> None:
    service.keys.command(name="list")(list_keys)
    service.keys.command()(revoke)
