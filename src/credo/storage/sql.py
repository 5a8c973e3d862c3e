"""The ledger in a SQL database (SQLAlchemy Core): SQLite embedded, PostgreSQL in production.

Appends are serialised (SQLite's BEGIN IMMEDIATE, a PostgreSQL advisory lock) because each entry
hashes the one before it; that also keeps positions free of gaps and duplicates when several
processes write at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from credo.errors import CredoError
from credo.ledger.chain import GENESIS, ChainEntry, Field, LedgerReport, canonical, micros
from credo.ledger.model import Clock, Correction, CorrectionAction, Incoming, Receipt, StoredRecord, StoredVersion
from credo.storage import chains
from credo.storage.logs import ServiceLog
from credo.storage.runs import PopulationRuns
from credo.storage.schema import (
    CORRECTION_FIELDS,
    RECORD_FIELDS,
    RULEBOOK_FIELDS,
    SQLITE_ONE_OF,
    corrections,
    one_of,
    pending_files,
    records,
    rulebook_versions,
    visible,
)

DEFAULT_URL = "sqlite:///credo.db"
MIGRATIONS = Path(__file__).with_name("migrations")
_HEAD = (  # the newest entry, or the one before a file still pending (see schema.pending_files)
    "SELECT coalesce((SELECT min(first_position) - 1 FROM pending_files), (SELECT coalesce(max(position), 0) FROM "
    "(SELECT max(position) AS position FROM records UNION ALL SELECT max(position) FROM corrections UNION ALL "
    "SELECT max(position) FROM rulebook_versions) AS newest))"
)
_SUBJECT_RECORDS = (
    "SELECT position, subject, subject_kind, behaviour, at_us, recorded_us, source, source_id, evidence, "
    "confidence, pending FROM records WHERE subject = {mark} AND position <= {mark} ORDER BY position"
)
_SUBJECT_CORRECTIONS = (
    "SELECT position, record_position, action, reason, actor, recorded_us FROM corrections WHERE record_position IN "
    "(SELECT position FROM records WHERE subject = {mark}) AND position <= {mark} ORDER BY position"
)
_CHANGED_SUBJECTS = (
    "SELECT subject FROM records WHERE position > {mark} AND position <= {mark} UNION SELECT records.subject "
    "FROM corrections JOIN records ON records.position = corrections.record_position "
    "WHERE corrections.position > {mark} AND corrections.position <= {mark}"
)
_SUBJECT_SIZE = "SELECT count(*) FROM records WHERE subject = {mark} AND position <= {mark}"
_NEW_VERSIONS = "SELECT count(*) FROM rulebook_versions WHERE position > {mark} AND position <= {mark}"
_LOOKUP_CHUNK = 5_000  # ids per query (SQLite allows 250,000 parameters since 3.32)


class StoreError(CredoError, RuntimeError):
    """The store cannot be opened or used: names the URL (without its password) and what to do."""


class StoreBusy(StoreError):
    """Another writer held the ledger's lock for longer than this one would wait: try again (the
    HTTP API answers 503 with Retry-After)."""


# SQLite's "database is locked" / "database is busy"; PostgreSQL's lock_not_available (a
# lock_timeout), query_canceled (a statement_timeout) and deadlock_detected.
_BUSY_STATES = frozenset({"55P03", "57014", "40P01"})


def _unusable(url: str, exc: OperationalError) -> StoreError:
    """The error an OperationalError of the driver means: busy (try again) or unusable."""
    busy = getattr(exc.orig, "sqlstate", None) in _BUSY_STATES or any(
        word in str(exc.orig).lower() for word in ("database is locked", "database is busy")
    )
    if busy:
        return StoreBusy(f"the store {safe_url(url)} is busy: another writer holds its lock; try again shortly")
    return StoreError(f"cannot use the store {safe_url(url)}: {exc.orig}")


@dataclass
class Tail:
    """The last entry of the chain, advanced as entries are appended."""

    position: int = 0
    hash: str = GENESIS
    stamped_us: int = 0  # the latest entry's stamp (recorded_us, published_us)

    def stamp(self, clock: Clock) -> int:
        """Now, for an entry appended after this tail: never before the entry it follows, should
        the machine's clock have been set back."""
        return max(micros(clock()), self.stamped_us)

    def append(self, kind: str, fields: Sequence[Field]) -> tuple[int, str]:
        return self.append_canonical(canonical(kind, fields))

    def append_canonical(self, encoded: str) -> tuple[int, str]:
        self.position += 1
        self.hash = hashlib.sha256((self.hash + encoded).encode()).hexdigest()
        return self.position, self.hash


@dataclass
class IngestTally:
    accepted: int = 0
    duplicates: int = 0
    first_position: int | None = None
    last_position: int | None = None
    keep_receipts: bool = False
    receipts: list[Receipt] = field(default_factory=list)


Conflict = Callable[[Incoming, int], None]


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class SqlStore(ServiceLog, PopulationRuns):
    """One Store over SQLAlchemy; the SQLite and PostgreSQL subclasses say only what differs."""

    dialect = ""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        # How long a write waits for another writer's lock before StoreBusy: long for the CLI's
        # batch work; the HTTP service sets it to a few seconds (a request must not hang).
        self.write_wait = 60.0

    # Opening and migrating.

    def migrate(self, revision: str = "head") -> None:
        """Create the ledger, or bring an older one up to this credo's schema (Alembic)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._connect(write=True) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema revision the ledger is at (None before `credo init`)."""
        with self._connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def initialised(self) -> bool:
        with self._connect() as connection:
            return bool(inspect(connection).has_table("records"))

    def require_ledger(self) -> None:
        """Open an existing ledger, upgrading its schema if an older credo wrote it."""
        if not self.initialised():
            raise StoreError(
                f"{safe_url(self.url)} holds no credo ledger; run `credo init --store {safe_url(self.url)}`"
            )
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        with self._connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            self.migrate()

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[Connection]:
        """A transaction; a writing one takes SQLite's write lock at once (BEGIN IMMEDIATE), so that
        readers never wait behind a writer's fsync and a writer never fails to upgrade."""
        try:
            with self.engine.connect() as connection:
                if write:
                    connection.execution_options(credo_write=True, credo_wait=self.write_wait)
                with connection.begin():
                    yield connection
        except OperationalError as exc:
            raise _unusable(self.url, exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    # Appending.

    def lock(self, connection: Connection) -> None:
        """Serialise appends (SQLite: the transaction began IMMEDIATE already)."""

    # A file of many records is ingested in several transactions where the store needs it (SQLite:
    # its write lock would shut every other writer out for the whole file): its rows are read and
    # checked outside any transaction, `part_rows` at a time, and each part is written in a short
    # one, so the write lock is free while the next part is read. The append turn is held
    # throughout, and the file's records stay invisible until its last transaction (see
    # schema.pending_files). None: one transaction however long (PostgreSQL: its readers and the
    # service's other writers never wait for an appender; its advisory lock is per transaction).
    part_rows: int | None = None

    def _append_turn(self) -> AbstractContextManager[object]:
        """What appenders hold across a file's transactions (SQLite: a lock on a file beside the
        ledger's; PostgreSQL needs none: its advisory lock is taken in each transaction)."""
        return nullcontext()

    @contextmanager
    def appending(self, *, within_file: bool = False) -> Iterator[tuple[Connection, Tail]]:
        """One transaction holding the append lock, with the chain's tail. Holding it, nobody else
        is ingesting: a file left pending was left by an ingest that died, and is discarded (unless
        this transaction continues that very file)."""
        with self._append_turn(), self._connect(write=True) as connection:
            self.lock(connection)
            if not within_file and self.part_rows is not None:
                self._discard_pending(connection)
            yield connection, self._tail(connection)

    def _discard_pending(self, connection: Connection) -> None:
        first = connection.execute(select(func.min(pending_files.c.first_position))).scalar()
        if first is not None:  # never part of the ledger: no reader has seen these records
            connection.execute(records.delete().where(records.c.position >= first))
            connection.execute(pending_files.delete())

    def head(self) -> int:
        """The position of the newest entry (0 for an empty ledger), in one query."""
        with self.reading() as reader:
            return reader.head()

    def subject_view(self, subject: str, upto: int) -> tuple[list[StoredRecord], list[Correction]]:
        """One subject's records and corrections up to a ledger position, in ledger order."""
        with self.reading() as reader:
            return reader.subject(subject, upto)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """The service's hot path: the head and a subject's entries on one connection."""
        with self._driver() as cursor:
            yield Reader(cursor, "?" if self.engine.dialect.paramstyle == "qmark" else "%s")

    @contextmanager
    def _driver(self) -> Iterator[Any]:
        """A cursor of the database driver itself: the statements above are fixed text, so they
        skip SQLAlchemy's compilation (most of a small query's cost)."""
        try:
            with self.engine.connect() as connection:
                cursor = connection.connection.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
        except OperationalError as exc:
            raise _unusable(self.url, exc) from exc

    def _tail(self, connection: Connection) -> Tail:
        best, stamped = Tail(), 0
        for table, stamp in ((records, records.c.recorded_us), (corrections, corrections.c.recorded_us),
                             (rulebook_versions, rulebook_versions.c.published_us)):  # fmt: skip
            row = connection.execute(
                select(table.c.position, table.c.hash, stamp.label("stamp")).order_by(table.c.position.desc()).limit(1)
            ).first()
            if row is not None:
                stamped = max(stamped, row.stamp)
                if row.position > best.position:
                    best = Tail(row.position, row.hash)
        best.stamped_us = stamped
        return best

    def publish(self, *, name: str, version: str, effective: dt.datetime, clock: Clock, retroactive: bool,
                text: str) -> int:  # fmt: skip
        """Append a rulebook version, stamped by clock() under the append lock; return its position."""

        def fields(tail: Tail) -> tuple[Field, ...]:
            return (name, version, micros(effective), tail.stamp(clock), retroactive, text)

        return self._append_one("rulebook", rulebook_versions, RULEBOOK_FIELDS, fields)

    def correct(self, *, record_position: int, action: CorrectionAction, reason: str, actor: str,
                clock: Clock) -> int:  # fmt: skip
        """Append a correction of a record, owing the notices it brings; return its position."""
        with self.appending() as (connection, tail):
            before, recorded = tail.position, tail.stamp(clock)
            position = self.append_correction(connection, tail, record_position, action, reason, actor, recorded)
            self.owe(connection, "correction", recorded, before, position)
        return position

    def append_correction(
        self, connection: Connection, tail: Tail, record_position: int, action: CorrectionAction, reason: str,
        actor: str, recorded_us: int,
    ) -> int:  # fmt: skip
        """A correction inside the caller's appending transaction; return its position."""
        fields = (record_position, action, reason, actor, recorded_us)
        position, digest = tail.append("correction", fields)
        connection.execute(corrections.insert(), {"position": position, "hash": digest,
                                                  **dict(zip(CORRECTION_FIELDS, fields, strict=True))})  # fmt: skip
        return position

    def _append_one(
        self, kind: str, table: Table, names: Sequence[str], fields: Callable[[Tail], Sequence[Field]]
    ) -> int:
        """One entry whose fields are made under the append lock (so its stamp follows every entry before it)."""
        with self.appending() as (connection, tail):
            values = fields(tail)
            position, digest = tail.append(kind, values)
            row = {"position": position, "hash": digest, **dict(zip(names, values, strict=True))}
            connection.execute(table.insert(), row)
        return position

    def ingest(
        self,
        batches: Iterable[Sequence[Incoming]],
        clock: Clock,
        on_conflict: Conflict,
        on_batch: Callable[[int], None] | None = None,
        receipts: bool = False,
        owe: bool = True,
    ) -> IngestTally:
        """Append new records: all of them, or (on any exception, or if the process dies) none,
        with the outbox entry that owes their notices.

        One transaction, or where the store says so (part_rows) several: the first marks the file
        pending from its first position, the last unmarks it and owes its notices, and until then
        readers see the ledger as it was before the file. With receipts, the tally keeps one
        receipt per submitted record (for the HTTP API); a file ingest keeps only counts, so that
        memory stays bounded however long the file. owe=False: a backfill of history, whose
        records are told to nobody.
        """
        tally = IngestTally(keep_receipts=receipts)
        if self.part_rows is None:
            with self.appending() as (connection, tail):
                before, recorded = tail.position, tail.stamp(clock)
                self._append_batches(connection, batches, tail, recorded, tally, on_conflict, on_batch)
                if owe and tail.position > before:  # the notices the new records bring, owed with them
                    self.owe(connection, "records", recorded, before, tail.position)
            return tally
        size = self.part_rows
        # Batches larger than a part in slices: what bounds how long the write lock is held.
        remaining = (batch[start : start + size] for batch in batches for start in range(0, len(batch), size))
        first: int | None = None  # the position before the file's first record
        pending = False
        recorded = 0  # the whole file's stamp, read in its first part: nobody else appends until it is done
        with self._append_turn():
            try:
                while True:
                    part, last = self._read_part(remaining, size)  # no transaction meanwhile: others write
                    with self.appending(within_file=pending) as (connection, tail):
                        before = tail.position if first is None else first
                        recorded = recorded or tail.stamp(clock)
                        first = before
                        self._append_batches(connection, part, tail, recorded, tally, on_conflict, on_batch)
                        if not last and not pending:
                            connection.execute(
                                pending_files.insert(), {"first_position": before + 1, "started_us": recorded}
                            )
                        elif last:
                            if pending:
                                connection.execute(pending_files.delete())  # the whole file visible at once
                            if owe and tail.position > before:  # the notices the new records bring, owed with them
                                self.owe(connection, "records", recorded, before, tail.position)
                    if last:
                        return tally
                    pending = True
            except BaseException:
                if pending:  # what the file's earlier transactions wrote goes (or the next appender's)
                    with suppress(Exception), self.appending():
                        pass
                raise

    @staticmethod
    def _read_part(batches: Iterator[Sequence[Incoming]], rows: int) -> tuple[list[Sequence[Incoming]], bool]:
        """The next batches, up to at least `rows` records, and whether they are the file's last."""
        part: list[Sequence[Incoming]] = []
        size = 0
        while size < rows:
            batch = next(batches, None)
            if batch is None:
                return part, True
            part.append(batch)
            size += len(batch)
        return part, False

    def _append_batches(
        self,
        connection: Connection,
        batches: Iterable[Sequence[Incoming]],
        tail: Tail,
        recorded: int,
        tally: IngestTally,
        on_conflict: Conflict,
        on_batch: Callable[[int], None] | None,
    ) -> None:
        for batch in batches:
            rows = self._new_rows(connection, batch, tail, recorded, tally, on_conflict)
            if rows:
                self.insert_records(connection, rows)
            if on_batch is not None:
                on_batch(len(batch))

    def _new_rows(
        self,
        connection: Connection,
        batch: Sequence[Incoming],
        tail: Tail,
        recorded: int,
        tally: IngestTally,
        on_conflict: Conflict,
    ) -> list[tuple[Any, ...]]:
        keys = [(incoming.source, incoming.source_id) for incoming in batch]
        known = self._existing(connection, set(keys))
        rows: list[tuple[Any, ...]] = []
        first = None
        for key, incoming in zip(keys, batch, strict=True):
            seen = known.get(key)
            if seen is not None:
                position, stored = seen
                if stored != incoming.content():
                    on_conflict(incoming, position)
                    continue
                tally.duplicates += 1
                if tally.keep_receipts:
                    tally.receipts.append(Receipt(position, True))
                continue
            position, digest = tail.append_canonical(incoming.canonical(recorded))
            rows.append((position, digest, *incoming.fields(recorded)))
            known[key] = (position, incoming.content())
            if tally.keep_receipts:
                tally.receipts.append(Receipt(position, False))
            first = first or position
        if rows:
            tally.accepted += len(rows)
            tally.first_position = tally.first_position or first
            tally.last_position = rows[-1][0]
        return rows

    def _existing(
        self, connection: Connection, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, tuple[Field, ...]]]:
        """The stored position and content of those keys that are already in the ledger."""
        by_source: dict[str, list[str]] = {}
        for source, source_id in keys:
            by_source.setdefault(source, []).append(source_id)
        found: dict[tuple[str, str], tuple[int, tuple[Field, ...]]] = {}
        for source, ids in by_source.items():
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                for row in self.lookup(connection, source, ids[start : start + _LOOKUP_CHUNK]):
                    found[(row[5], row[6])] = (row[0], tuple(row[1:]))
        return found

    _CONTENT = "position, " + ", ".join(RECORD_FIELDS[:8])

    def lookup(self, connection: Connection, source: str, ids: list[str]) -> Iterable[Sequence[Any]]:
        """Rows of one source's ids (through the unique index on source, source_id)."""
        sql = f"SELECT {self._CONTENT} FROM records WHERE source = ? AND source_id IN {SQLITE_ONE_OF}"
        return connection.exec_driver_sql(sql, (source, json.dumps(ids))).fetchall()

    def insert_records(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        columns = ", ".join(("position", "hash", *RECORD_FIELDS))
        marks = ", ".join(["?"] * (2 + len(RECORD_FIELDS)))
        connection.exec_driver_sql(f"INSERT INTO records ({columns}) VALUES ({marks})", rows)

    # Reading.

    def records(
        self, subject: str | None = None, known_at: dt.datetime | None = None, upto: int | None = None
    ) -> list[StoredRecord]:
        """Records in ledger order; known_at and upto (a ledger position) answer as credo knew then."""
        query = select(records).where(visible(records.c.position)).order_by(records.c.position)
        if subject is not None:
            query = query.where(records.c.subject == subject)
        if known_at is not None:
            query = query.where(records.c.recorded_us <= micros(known_at))
        if upto is not None:
            query = query.where(records.c.position <= upto)
        with self._connect() as connection:
            return [_stored(row) for row in connection.execute(query).mappings()]

    def record(self, position: int | None = None, key: tuple[str, str] | None = None) -> StoredRecord | None:
        query = select(records).where(visible(records.c.position))
        if position is not None:
            query = query.where(records.c.position == position)
        elif key is not None:
            query = query.where(records.c.source == key[0], records.c.source_id == key[1])
        with self._connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _stored(row)

    def subject_kinds(self, subjects: Collection[str]) -> dict[str, set[str]]:
        """The kinds the ledger's records give each of these subjects (those it has records of)."""
        found: dict[str, set[str]] = {}
        wanted = list(subjects)
        with self._connect() as connection:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                query = (
                    select(records.c.subject, records.c.subject_kind)
                    .where(one_of(self.dialect, records.c.subject, chunk), visible(records.c.position))
                    .distinct()
                )
                for subject, kind in connection.execute(query):
                    found.setdefault(subject, set()).add(kind)
        return found

    def corrections(
        self, known_at: dt.datetime | None = None, upto: int | None = None, subject: str | None = None
    ) -> list[Correction]:
        """Corrections in ledger order (of one subject's records, when subject is given)."""
        query = select(corrections).order_by(corrections.c.position)
        if subject is not None:
            mine = select(records.c.position).where(records.c.subject == subject)
            query = query.where(corrections.c.record_position.in_(mine))
        if known_at is not None:
            query = query.where(corrections.c.recorded_us <= micros(known_at))
        if upto is not None:
            query = query.where(corrections.c.position <= upto)
        with self._connect() as connection:
            return [
                Correction(row.position, row.record_position, row.action, row.reason, row.actor, row.recorded_us)
                for row in connection.execute(query)
            ]

    def versions(self, known_at: dt.datetime | None = None, upto: int | None = None) -> list[StoredVersion]:
        query = select(rulebook_versions).order_by(rulebook_versions.c.position)
        if known_at is not None:
            query = query.where(rulebook_versions.c.published_us <= micros(known_at))
        if upto is not None:
            query = query.where(rulebook_versions.c.position <= upto)
        with self._connect() as connection:
            return [
                StoredVersion(
                    row.position, row.name, row.version, row.effective_us, row.published_us, row.retroactive, row.text
                )
                for row in connection.execute(query)
            ]

    def entries(self, after: int = 0) -> Iterator[ChainEntry]:
        """Every entry (after a position) in position order, as the chain hashed it."""
        with self._connect() as connection:
            streams = []
            for kind, table, names in (
                ("record", records, RECORD_FIELDS),
                ("correction", corrections, CORRECTION_FIELDS),
                ("rulebook", rulebook_versions, RULEBOOK_FIELDS),
            ):
                query = select(table.c.position, table.c.hash, *(table.c[name] for name in names))
                query = query.where(table.c.position > after)
                if table is records:  # not a file still pending: it is no part of the chain yet
                    query = query.where(visible(records.c.position))
                streams.append(_chain_entries(kind, connection.execute(query.order_by(table.c.position))))
            yield from heapq.merge(*streams, key=lambda entry: entry.position)

    def entry_hash(self, position: int) -> str | None:
        """The hash the ledger's entry at a position claims (None when there is none)."""
        with self._connect() as connection:
            for table in (records, corrections, rulebook_versions):
                found = connection.execute(select(table.c.hash).where(table.c.position == position)).first()
                if found is not None:
                    return str(found[0])
        return None

    def verify(self, whole: bool = True) -> LedgerReport:
        """Every chain (the ledger's, each service table's, the checkpoints'), from its first
        entry, or (whole=False) from the last checkpoint."""
        return chains.verify(self, whole=whole)


def _chain_entries(kind: str, rows: Iterable[Any]) -> Iterator[ChainEntry]:
    for row in rows:
        yield ChainEntry(row[0], kind, tuple(_canonical_value(value) for value in row[2:]), row[1])


def _canonical_value(value: Any) -> Field:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


@dataclass
class Reader:
    """Fixed statements on a driver cursor: they skip SQLAlchemy's compilation, most of what a
    small query costs."""

    cursor: Any
    mark: str

    def head(self) -> int:
        self.cursor.execute(_HEAD)
        return int(self.cursor.fetchone()[0])

    def subject(self, subject: str, upto: int) -> tuple[list[StoredRecord], list[Correction]]:
        """One subject's records and corrections up to a ledger position, in ledger order: what a
        decision reads."""
        self.cursor.execute(_SUBJECT_RECORDS.format(mark=self.mark), (subject, upto))
        stored = [
            StoredRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], bool(row[10]))
            for row in self.cursor.fetchall()
        ]
        fixes: list[Correction] = []
        if stored:
            self.cursor.execute(_SUBJECT_CORRECTIONS.format(mark=self.mark), (subject, upto))
            fixes = [Correction(*row) for row in self.cursor.fetchall()]
        return stored, fixes

    def changed_subjects(self, after: int, upto: int) -> set[str] | None:
        """The subjects whose records or corrections lie in positions (after, upto]; None when a
        rulebook version does (it may change everyone's state)."""
        self.cursor.execute(_NEW_VERSIONS.format(mark=self.mark), (after, upto))
        if int(self.cursor.fetchone()[0]):
            return None
        self.cursor.execute(_CHANGED_SUBJECTS.format(mark=self.mark), (after, upto, after, upto))
        return {row[0] for row in self.cursor.fetchall()}

    def size(self, subject: str, upto: int) -> int:
        """How many records a subject has up to a ledger position (from the index: cheap)."""
        self.cursor.execute(_SUBJECT_SIZE.format(mark=self.mark), (subject, upto))
        return int(self.cursor.fetchone()[0])


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        row["position"], row["subject"], row["subject_kind"], row["behaviour"], row["at_us"], row["recorded_us"],
        row["source"], row["source_id"], row["evidence"], row["confidence"], bool(row["pending"]),
    )  # fmt: skip
