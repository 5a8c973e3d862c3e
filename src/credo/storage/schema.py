"""The ledger's tables. Append-only: credo never updates or deletes a row.

The service's tables (keys, decisions, appeals and their events, notices, sweeps) each hold a
chain of their own (`seq`, `hash`): they are written concurrently with the ledger, and the
decision log is the hot path, so one chain per table keeps them from queueing on one tail.

Every entry (record, correction, rulebook version) has a global `position` (its place in the
hash chain) and the `hash` that chains it to the entry before. The invariants live in the schema:
a primary key on position, and a unique key on (source, source_id) so that a record cannot be
stored twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)

metadata = MetaData()


def chained() -> tuple[Column[Any], Column[Any]]:
    """The columns that put a service table's rows in a chain of their own: `seq`, the row's
    position in it, and `hash`, chaining it to the row before (credo.storage.chains)."""
    # Nullable only because 0004 added them to tables that held rows: credo always writes both,
    # and verify names a row without them as inserted behind credo's back.
    return (Column("seq", BigInteger, unique=True), Column("hash", String(64)))


records = Table(
    "records",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("behaviour", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("evidence", Text),
    Column("confidence", Float),
    Column("recorded_us", BigInteger, nullable=False),
    Column("pending", Boolean, nullable=False),
    UniqueConstraint("source", "source_id", name="records_source_key"),
    Index("records_subject_at", "subject", "at_us"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("record_position", BigInteger, nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("recorded_us", BigInteger, nullable=False),
)

rulebook_versions = Table(
    "rulebook_versions",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("effective_us", BigInteger, nullable=False),
    Column("published_us", BigInteger, nullable=False),
    Column("retroactive", Boolean, nullable=False),
    Column("text", Text, nullable=False),
)

#: The canonical field order of each kind of entry (after position and hash).
RECORD_FIELDS = ("subject", "subject_kind", "behaviour", "at_us", "source", "source_id", "evidence", "confidence",
                 "recorded_us", "pending")  # fmt: skip
CORRECTION_FIELDS = ("record_position", "action", "reason", "actor", "recorded_us")
RULEBOOK_FIELDS = ("name", "version", "effective_us", "published_us", "retroactive", "text")

api_keys = Table(
    "api_keys",
    metadata,
    *chained(),
    Column("key_hash", String(64), primary_key=True),  # SHA-256 of the key: the key itself is never stored
    Column("role", String(16), nullable=False),
    Column("source", Text),
    Column("actions", Text),  # a JSON list, for providers (older keys: comma-separated)
    Column("subject", Text),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger),  # null: the key does not expire
)

#: A key is revoked by a new entry, never by editing or deleting its row (keys are append-only).
key_revocations = Table(
    "key_revocations",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # once: a second revocation is refused
    Column("revoked_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    *chained(),
)

decisions = Table(
    "decisions",
    metadata,
    *chained(),
    Column("id", String(32), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("decided_us", BigInteger, nullable=False),
    Column("rulebook_position", BigInteger, nullable=False),
    Column("ledger_position", BigInteger, nullable=False),
    Column("answer", Text, nullable=False),  # the whole decision, reasons included, as JSON
    Index("decisions_subject", "subject"),
)

appeals = Table(
    "appeals",
    metadata,
    *chained(),
    Column("id", String(32), primary_key=True),
    Column("record_position", BigInteger, nullable=False),
    Column("subject", Text, nullable=False),
    Column("statement", Text, nullable=False),
    Column("filed_us", BigInteger, nullable=False),
    Column("deadline_us", BigInteger, nullable=False),
    Column("while_pending", String(8), nullable=False),
    Index("appeals_subject", "subject"),
)

#: What happened to an appeal: "uphold" or "reverse" (resolved), "lapsed" (its deadline passed).
appeal_events = Table(
    "appeal_events",
    metadata,
    *chained(),
    Column("appeal_id", String(32), nullable=False),
    Column("event", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("appeal_id", "event"),
)

notices = Table(
    "notices",
    metadata,
    *chained(),
    Column("id", String(32), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index("notices_subject", "subject"),
)

#: When the passing of time was last checked for notices and appeal deadlines.
sweeps = Table("sweeps", metadata, Column("at_us", BigInteger, primary_key=True), *chained())

#: What a check of the chains found, each a chained entry itself: the head of every chain then
#: (`heads`, JSON {chain: [position, hash]}), their digest (`head`, the hash to keep elsewhere),
#: whether the whole chain was recomputed or only what came after the previous checkpoint, and
#: the problem when a chain did not verify.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("verified_us", BigInteger, nullable=False),
    Column("whole", Boolean, nullable=False),
    Column("head", String(64), nullable=False, index=True),
    Column("heads", Text, nullable=False),
    Column("problem", Text),
)

#: What a population run found (counts by tier, list and measure), so that pages show figures
#: without a query over every record on each view. Derived data: a run can always be redone.
population_runs = Table(
    "population_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("computed_us", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("ledger_position", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),  # the run's summary.json
    Index("population_runs_computed", "computed_us"),
)

#: What a write makes owed (notices), recorded in the write's own transaction: the ledger
#: positions it added lie in (head_before, head_after]; facts say the rest (an appeal's outcome).
#: `id` grows in commit order, as every owing write holds the append lock.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("head_before", BigInteger, nullable=False),
    Column("head_after", BigInteger, nullable=False),
    Column("facts", Text, nullable=False),  # JSON
)

#: An outbox entry whose notices are all stored (append-only: a delivery is a row, never an update).
outbox_delivered = Table(
    "outbox_delivered",
    metadata,
    Column("outbox_id", BigInteger, primary_key=True, autoincrement=False),
    Column("delivered_us", BigInteger, nullable=False),
)

#: A file being ingested in several transactions (SQLite: so that its write lock is let go between
#: them): its records, from first_position on, are in `records` but are no part of the ledger until
#: the file's last transaction deletes this row (an ingest that died leaves it; the next appender
#: deletes both). Every reader sees the ledger up to the position before.
pending_files = Table(
    "pending_files",
    metadata,
    Column("first_position", BigInteger, primary_key=True, autoincrement=False),
    Column("started_us", BigInteger, nullable=False),
)


def visible(position: Any) -> Any:
    """The condition that a records position is part of the ledger (not of a file still pending)."""
    pending = select(func.min(pending_files.c.first_position)).scalar_subquery()
    return position < func.coalesce(pending, 2**62)


def one_of(dialect: str, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`, written so that SQLite sees one statement whatever the number of values.

    SQLite prepares one statement per distinct SQL text, and its driver keeps the last 128 of each
    connection; an IN list of n marks is a text of its own for every n, each prepared statement
    holding tens of KB (a list of 5,000 ids, a few MB). In the soak the server's SQLite heap grew
    from 47 to 75 MB in three minutes on six connections, by the statements of every batch size. A
    JSON array read by json_each is one text. PostgreSQL prepares nothing here (psycopg's
    prepare_threshold is off), so its IN list stays as SQLAlchemy writes it.
    """
    if dialect == "sqlite":
        listed = func.json_each(json.dumps(list(values))).table_valued("value")
        return column.in_(select(listed.c.value).scalar_subquery())
    return column.in_(list(values))


#: The same, for SQL written by hand: `source_id IN ` + SQLITE_ONE_OF, bound to json.dumps(values).
SQLITE_ONE_OF = "(SELECT value FROM json_each(?))"
