"""The outbox: what a write makes owed, stored in the write's own transaction, and its delivery.

A write (records, a correction, an appeal's filing, resolution or lapse, a sweep) adds one outbox
entry inside the transaction that holds the append lock, so a kill either loses both or neither.
The deliverer (credo.service.delivery) turns an entry into notices afterwards; each notice's id is
derived from the entry and the subject, so a delivery that is cut short and run again, or run by
two processes at once, stores each notice once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, func, select, union
from sqlalchemy.dialects import postgresql, sqlite

from credo.storage import schema


@dataclass(frozen=True)
class Owed:
    """One outbox entry: the write's kind and instant, the ledger positions it added, its facts."""

    id: int
    kind: str
    at_us: int
    head_before: int
    head_after: int
    facts: dict[str, Any]

    def notice_id(self, subject: str) -> str:
        """The id of this entry's notice to one subject: the same on every delivery attempt."""
        return hashlib.sha256(f"outbox {self.id}\x1f{subject}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoredNotice:
    id: str
    subject: str
    kind: str
    created_us: int
    body: dict[str, Any]


class OutboxLog:
    """Mixed into SqlStore (through ServiceLog)."""

    dialect = ""

    def _connect(self, write: bool = False) -> AbstractContextManager[Connection]:  # provided by SqlStore
        raise NotImplementedError

    def lock_chain(self, connection: Connection, chain: int) -> None:  # provided by SqlStore's backend
        """Serialise appends to one service chain."""

    def owe(
        self, connection: Connection, kind: str, at_us: int, head_before: int, head_after: int,
        facts: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        """Record, inside the caller's writing transaction, what its write makes owed."""
        connection.execute(
            schema.outbox.insert(),
            {"kind": kind, "at_us": at_us, "head_before": head_before, "head_after": head_after,
             "facts": json.dumps(facts or {}, sort_keys=True)},
        )  # fmt: skip

    def owed(self, after: int = 0, limit: int | None = None, upto: int | None = None) -> list[Owed]:
        """Entries not yet delivered, oldest first: ids greater than `after` (and at most `upto`),
        at most `limit` of them."""
        # NOT EXISTS: one primary-key probe per entry past `after`, however many were delivered.
        done = exists().where(schema.outbox_delivered.c.outbox_id == schema.outbox.c.id)
        query = select(schema.outbox).where(schema.outbox.c.id > after, ~done).order_by(schema.outbox.c.id)
        if upto is not None:
            query = query.where(schema.outbox.c.id <= upto)
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as connection:
            return [
                Owed(row.id, row.kind, row.at_us, row.head_before, row.head_after, json.loads(row.facts))
                for row in connection.execute(query)
            ]

    def outbox_head(self) -> int:
        """The newest outbox entry's id (0 when there is none)."""
        with self._connect() as connection:
            return int(connection.execute(select(func.max(schema.outbox.c.id))).scalar() or 0)

    def touched(self, entry: Owed) -> list[str]:
        """The subjects whose records or corrections the entry's write added, sorted."""
        records, corrections = schema.records, schema.corrections
        added = select(records.c.subject).where(
            records.c.position > entry.head_before, records.c.position <= entry.head_after
        )
        corrected = (
            select(records.c.subject)
            .join(corrections, corrections.c.record_position == records.c.position)
            .where(corrections.c.position > entry.head_before, corrections.c.position <= entry.head_after)
        )
        with self._connect() as connection:
            found = {row[0] for row in connection.execute(union(added, corrected))}
        subject = entry.facts.get("subject")
        return sorted(found | ({subject} if isinstance(subject, str) else set()))

    def deliver(self, entry: Owed, notices: Sequence[StoredNotice], done: bool, at_us: int) -> int:
        """Store an entry's notices that are not stored yet, and (done) mark it delivered, in one
        transaction; return how many were new. Notices are entries of their own hash chain, so the
        check for those already stored is made under that chain's lock."""
        from credo.storage import chains

        with self._connect(write=True) as connection:
            spec = chains.BY_NAME["notices"]
            self.lock_chain(connection, spec.lock)
            new = list(notices)
            if new:
                stored = schema.notices.c.id
                known = {
                    row[0]
                    for row in connection.execute(
                        select(stored).where(schema.one_of(connection.dialect.name, stored, [n.id for n in new]))
                    )
                }
                new = [notice for notice in new if notice.id not in known]
            if new:
                chains.append(
                    connection, "notices",
                    [{"id": n.id, "subject": n.subject, "kind": n.kind, "created_us": n.created_us,
                      "body": json.dumps(n.body)} for n in new],
                    self.lock_chain,
                )  # fmt: skip
            if done:
                connection.execute(
                    self._insert_new(schema.outbox_delivered), {"outbox_id": entry.id, "delivered_us": at_us}
                )
        return len(new)

    def _insert_new(self, table: Any) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()
