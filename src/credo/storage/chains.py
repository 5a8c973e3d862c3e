"""The service tables' chains and the checkpoints: appending to them, and verifying every chain.

Each service table (keys, key revocations, decisions, appeals, appeal events, notices, sweeps) is a chain of its
own: `seq` numbers its rows 1, 2, ... and `hash` = sha256(previous hash + chain.exact(row)). One
chain per table, each with its own tail, so the decision log's group commits never wait behind a
record batch or a notice. A row is appended under the chain's lock (SQLite's write transaction
already serialises writers; PostgreSQL takes an advisory lock per chain).

A checkpoint records what a check found: each chain's head (position, hash) and their digest,
the hash an operator keeps elsewhere. A server checks only what came after the last checkpoint
when it starts (seconds, however large the ledger); `credo verify` and `credo sweep` recompute
every chain from its first entry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, select

from credo.ledger.chain import (
    GENESIS,
    ChainEntry,
    ChainReport,
    Field,
    LedgerReport,
    chain_head,
    link,
    link_exact,
    micros,
    verify_chain,
)
from credo.storage import schema

if TYPE_CHECKING:
    from credo.storage.sql import SqlStore

_BATCH = 10_000  # rows fetched at a time while verifying (a server-side cursor on PostgreSQL)


@dataclass(frozen=True)
class ChainSpec:
    """A service table as a chain: the fields it hashes, in order, and the column naming a row."""

    name: str
    table: Table
    kind: str
    fields: tuple[str, ...]
    label: str
    lock: int  # the chain's PostgreSQL advisory lock (with _CHAIN_LOCKS)


SERVICE_CHAINS = (
    ChainSpec("api_keys", schema.api_keys, "key", ("key_hash", "role", "source", "actions", "subject", "created_us",
              "expires_us"), "key_hash", 1),
    ChainSpec("key_revocations", schema.key_revocations, "key revocation", ("key_hash", "revoked_us", "reason",
              "actor"), "key_hash", 8),
    ChainSpec("decisions", schema.decisions, "decision", ("id", "subject", "action", "at_us", "decided_us",
              "rulebook_position", "ledger_position", "answer"), "id", 2),
    ChainSpec("appeals", schema.appeals, "appeal", ("id", "record_position", "subject", "statement", "filed_us",
              "deadline_us", "while_pending"), "id", 3),
    ChainSpec("appeal_events", schema.appeal_events, "appeal event", ("appeal_id", "event", "reason", "actor",
              "at_us"), "appeal_id", 4),
    ChainSpec("notices", schema.notices, "notice", ("id", "subject", "kind", "created_us", "body"), "id", 5),
    ChainSpec("sweeps", schema.sweeps, "sweep", ("at_us",), "at_us", 6),
)  # fmt: skip
BY_NAME = {spec.name: spec for spec in SERVICE_CHAINS}
CHECKPOINT_LOCK = 7
CHECKPOINT_FIELDS = ("verified_us", "whole", "head", "heads", "problem")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    verified_us: int
    whole: bool
    head: str
    heads: dict[str, tuple[int, str]]
    problem: str | None


def stamp(previous: tuple[int, str], spec: ChainSpec, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their `seq` and `hash`, chained on from `previous` (position, hash)."""
    seq, digest = previous
    stamped = []
    for row in rows:
        seq += 1
        digest = link_exact(digest, spec.kind, [row[name] for name in spec.fields])
        stamped.append({**row, "seq": seq, "hash": digest})
    return stamped


def tail(connection: Connection, table: Table) -> tuple[int, str]:
    """A chain's newest (position, hash), through the unique index on seq."""
    row = connection.execute(
        select(table.c.seq, table.c.hash).where(table.c.seq.is_not(None)).order_by(table.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def append(
    connection: Connection, name: str, rows: Sequence[dict[str, Any]], lock: Callable[[Connection, int], None]
) -> None:
    """Insert rows at the end of a service table's chain, in the caller's write transaction,
    holding the chain's lock (`lock`, the store's)."""
    spec = BY_NAME[name]
    lock(connection, spec.lock)
    connection.execute(spec.table.insert(), stamp(tail(connection, spec.table), spec, rows))


def _value(value: Any) -> Field:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def entries(connection: Connection, spec: ChainSpec, after: int = 0) -> Iterator[ChainEntry]:
    """A service chain's entries after a position, in order, as they were hashed."""
    table = spec.table
    query = (
        select(table.c.seq, table.c.hash, table.c[spec.label], *(table.c[name] for name in spec.fields))
        .where(table.c.seq > after)
        .order_by(table.c.seq)
        .execution_options(yield_per=_BATCH)
    )
    for row in connection.execute(query):
        fields = tuple(_value(value) for value in row[3:])
        yield ChainEntry(int(row[0]), spec.kind, fields, str(row[1]), f"{spec.kind} {row[2]}")


def unchained(connection: Connection, spec: ChainSpec) -> ChainReport | None:
    """A row without a place in its chain: one inserted behind credo's back."""
    table = spec.table
    found = connection.execute(select(table.c[spec.label]).where(table.c.seq.is_(None)).limit(1)).first()
    if found is None:
        return None
    return ChainReport(False, 0, GENESIS, None, f"{spec.name}: a row ({spec.kind} {found[0]}) is in no place of "
                       "the chain: inserted behind credo's back", spec.name)  # fmt: skip


def _verify_service(connection: Connection, spec: ChainSpec, start: tuple[int, str], whole: bool) -> ChainReport:
    stray = unchained(connection, spec)
    if stray is not None:
        return stray
    if not whole and start[0] > 0:
        found = connection.execute(select(spec.table.c.hash).where(spec.table.c.seq == start[0])).first()
        problem = _at_checkpoint(spec.name, start, None if found is None else str(found[0]))
        if problem is not None:
            return ChainReport(False, 0, GENESIS, start[0], problem, spec.name)
    return verify_chain(entries(connection, spec, start[0]), chain=spec.name, start=start, hashing=link_exact)


def _at_checkpoint(name: str, start: tuple[int, str], found: str | None) -> str | None:
    prefix = "" if name == "ledger" else f"{name}: "
    if found is None:
        return f"{prefix}entry {start[0]} is missing (deleted?): it was there at the last checkpoint"
    if found != start[1]:
        return f"{prefix}entry {start[0]} does not match the hash it had at the last checkpoint: altered"
    return None


def _verify_ledger(store: SqlStore, start: tuple[int, str], whole: bool) -> ChainReport:
    if not whole and start[0] > 0:
        found = store.entry_hash(start[0])
        problem = _at_checkpoint("ledger", start, found)
        if problem is not None:
            return ChainReport(False, 0, GENESIS, start[0], problem)
    return verify_chain(store.entries(after=start[0]), start=start, hashing=link)


def latest(connection: Connection) -> Checkpoint | None:
    table = schema.checkpoints
    row = connection.execute(select(table).order_by(table.c.seq.desc()).limit(1)).first()
    if row is None:
        return None
    heads = {name: (int(value[0]), str(value[1])) for name, value in json.loads(row.heads).items()}
    return Checkpoint(row.seq, row.hash, row.verified_us, bool(row.whole), row.head, heads, row.problem)


def _verify_checkpoints(connection: Connection, whole: bool) -> ChainReport:
    """The checkpoints' own chain: whole, or (for a server's check every minute, however many
    checkpoints there are) the newest one against the hash of the one before."""
    table = schema.checkpoints
    query = select(table.c.seq, table.c.hash, *(table.c[name] for name in CHECKPOINT_FIELDS)).order_by(table.c.seq)
    start = (0, GENESIS)
    if not whole:
        newest = connection.execute(select(table.c.seq).order_by(table.c.seq.desc()).limit(1)).scalar()
        if newest is not None and newest > 1:
            before = connection.execute(select(table.c.hash).where(table.c.seq == newest - 1)).scalar()
            if before is None:
                return ChainReport(False, 0, GENESIS, newest - 1, f"checkpoints: entry {newest - 1} is missing "
                                   "(deleted?)", "checkpoints")  # fmt: skip
            start = (newest - 1, str(before))
            query = query.where(table.c.seq >= newest)
    rows = connection.execute(query)
    entries = (ChainEntry(int(row[0]), "checkpoint", tuple(_value(v) for v in row[2:]), str(row[1])) for row in rows)
    return verify_chain(entries, chain="checkpoints", start=start, hashing=link_exact)


def verify(store: SqlStore, *, whole: bool = True) -> LedgerReport:
    """Every chain recomputed from its first entry (whole), or from the last checkpoint.

    Checked from a checkpoint, an edit to an entry before it is left to the whole check (run
    by `credo verify` and `credo sweep`); a checkpoint that recorded a broken chain is believed
    until a whole check finds the chain whole again.
    """
    with store._connect() as connection:
        checkpoints = _verify_checkpoints(connection, whole)
        if not checkpoints.ok:
            return LedgerReport((), checkpoints, "")
        last = None if whole else latest(connection)
        if last is not None and last.problem is not None:
            return LedgerReport((_broken(last.problem),), checkpoints, "")
        heads = {} if last is None else last.heads
        reports = [_verify_ledger(store, heads.get("ledger", (0, GENESIS)), whole)]
        for spec in SERVICE_CHAINS:
            reports.append(_verify_service(connection, spec, heads.get(spec.name, (0, GENESIS)), whole))
    if last is not None:  # the counts of a partial check: the entries checked plus those before
        reports = [_count_from(report, heads) for report in reports]
    report = LedgerReport(tuple(reports), checkpoints, "")
    return LedgerReport(report.chains, checkpoints, chain_head(report.heads()) if report.ok else "")


def _broken(problem: str) -> ChainReport:
    """A broken chain as a checkpoint recorded it."""
    found = json.loads(problem)
    return ChainReport(False, 0, GENESIS, found["entry"], found["problem"], found["chain"])


def _problem(report: LedgerReport) -> str | None:
    broken = report.broken
    if broken is None:
        if report.head_problem is None:
            return None
        return json.dumps({"chain": "head", "entry": None, "problem": report.head_problem}, sort_keys=True)
    return json.dumps({"chain": broken.chain, "entry": broken.first_bad, "problem": broken.problem}, sort_keys=True)


def _count_from(report: ChainReport, heads: dict[str, tuple[int, str]]) -> ChainReport:
    before = heads.get(report.chain, (0, GENESIS))[0]
    return ChainReport(report.ok, report.entries + (before if report.ok else 0), report.head, report.first_bad,
                       report.problem, report.chain, report.position)  # fmt: skip


def check_head(store: SqlStore, report: LedgerReport, kept: str) -> LedgerReport:
    """The report, failed unless the head kept elsewhere is one this ledger had and still holds."""
    with store._connect() as connection:
        table = schema.checkpoints
        row = connection.execute(select(table.c.heads).where(table.c.head == kept).limit(1)).first()
    problem = None
    if row is None:
        if kept != report.head:
            problem = (f"the head {kept} is not in this ledger: the entries after it were deleted, "
                       "or it is another ledger's head")  # fmt: skip
    else:
        heads = {name: (int(value[0]), str(value[1])) for name, value in json.loads(row[0]).items()}
        if chain_head(heads) != kept:
            problem = f"the checkpoint of head {kept} was altered"
        else:
            now = report.heads()
            for name, (position, digest) in sorted(heads.items()):
                have = now.get(name, (0, GENESIS))[0]
                if have < position:
                    problem = (f"{name}: entries {have + 1} to {position} are missing: they were there at "
                               f"head {kept} (the newest entries were deleted)")  # fmt: skip
                    break
                if chain_hash(store, name, position) != digest:
                    problem = f"{name}: entry {position} differs from the one of head {kept}"
                    break
    return LedgerReport(report.chains, report.checkpoints, report.head, problem)


def record_checkpoint(store: SqlStore, report: LedgerReport, now: dt.datetime, *, whole: bool) -> str | None:
    """Append what a check found (nothing when the last checkpoint says as much already); return
    the head to keep elsewhere, or None when a chain is broken."""
    problem = _problem(report)
    heads = report.heads() if problem is None else {}
    head = report.head if problem is None else ""
    with store._connect(write=True) as connection:
        store.lock_chain(connection, CHECKPOINT_LOCK)
        last = latest(connection)
        if last is not None and last.problem == problem and last.head == head and (last.whole or not whole):
            return head or None
        row: dict[str, Field] = {"verified_us": micros(now), "whole": whole, "head": head,
               "heads": json.dumps({name: list(value) for name, value in heads.items()}, sort_keys=True),
               "problem": problem}  # fmt: skip
        seq, previous = (0, GENESIS) if last is None else (last.seq, last.hash)
        digest = link_exact(previous, "checkpoint", [row[name] for name in CHECKPOINT_FIELDS])
        connection.execute(schema.checkpoints.insert(), {**row, "seq": seq + 1, "hash": digest})
    return head or None


def chain_hash(store: SqlStore, name: str, position: int) -> str | None:
    """The hash a chain's entry claims (None when there is no such entry; an empty chain's head is
    the genesis hash)."""
    if position == 0:
        return GENESIS
    if name == "ledger":
        return store.entry_hash(position)
    spec = BY_NAME.get(name)
    if spec is None:
        return None
    with store._connect() as connection:
        found = connection.execute(select(spec.table.c.hash).where(spec.table.c.seq == position)).first()
    return None if found is None else str(found[0])
