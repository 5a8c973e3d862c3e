"""The ledger's tables. Append-only: credo never updates or deletes a row.

Every entry (record, correction, rulebook version) has a global `position` (its place in the
hash chain) and the `hash` that chains it to the entry before. The invariants live in the schema:
a primary key on position, and a unique key on (source, source_id) so that a record cannot be
stored twice.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

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
    Column("key_hash", String(64), primary_key=True),  # SHA-256 of the key: the key itself is never stored
    Column("role", String(16), nullable=False),
    Column("source", Text),
    Column("actions", Text),  # comma-separated, for providers
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
)

decisions = Table(
    "decisions",
    metadata,
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
    Column("id", String(32), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index("notices_subject", "subject"),
)

#: When the passing of time was last checked for notices and appeal deadlines.
sweeps = Table("sweeps", metadata, Column("at_us", BigInteger, primary_key=True))
