"""The service's own append-only tables: API keys (hashes only) and the decision log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from credo.storage import schema


@dataclass(frozen=True)
class StoredKey:
    key_hash: str
    role: str
    source: str | None
    actions: tuple[str, ...]
    subject: str | None
    created_us: int
    expires_us: int | None = None  # None: the key does not expire
    revoked_us: int | None = None  # set when read back with its revocation (keys_list)

    @property
    def id(self) -> str:
        """What an operator calls a key by: the start of its hash (the key itself is never stored)."""
        return self.key_hash[:16]


@dataclass(frozen=True)
class LoggedDecision:
    id: str
    subject: str
    action: str
    at_us: int
    decided_us: int
    rulebook_position: int
    ledger_position: int
    answer: dict[str, Any]


@dataclass(frozen=True)
class AppealRow:
    id: str
    record_position: int
    subject: str
    statement: str
    filed_us: int
    deadline_us: int
    while_pending: str
    events: dict[str, dict[str, Any]]  # event -> {"reason", "actor", "at_us"}

    @property
    def outcome(self) -> str | None:
        return next((event for event in ("uphold", "reverse") if event in self.events), None)


class ServiceLog:
    """Mixed into SqlStore: what the HTTP service stores beside the ledger."""

    def _connect(self, write: bool = False) -> AbstractContextManager[Connection]:  # provided by SqlStore
        raise NotImplementedError

    def add_key(self, key: StoredKey) -> None:
        with self._connect(write=True) as connection:
            connection.execute(
                schema.api_keys.insert(),
                {"key_hash": key.key_hash, "role": key.role, "source": key.source,
                 "actions": ",".join(key.actions) or None, "subject": key.subject, "created_us": key.created_us,
                 "expires_us": key.expires_us},
            )  # fmt: skip

    def key(self, key_hash: str) -> StoredKey | None:
        with self._connect() as connection:
            row = connection.execute(select(schema.api_keys).where(schema.api_keys.c.key_hash == key_hash)).first()
        return None if row is None else _key(row, None)

    def keys_list(self) -> list[StoredKey]:
        """Every key, oldest first, with when it was revoked (if it was)."""
        keys, revoked = schema.api_keys, schema.key_revocations
        query = (
            select(keys, revoked.c.revoked_us)
            .outerjoin(revoked, revoked.c.key_hash == keys.c.key_hash)
            .order_by(keys.c.created_us, keys.c.key_hash)
        )
        with self._connect() as connection:
            return [_key(row, row.revoked_us) for row in connection.execute(query)]

    def revoke_key(self, key_hash: str, revoked_us: int, reason: str, actor: str) -> bool:
        """Append a revocation; False if the key was already revoked (each key once)."""
        try:
            with self._connect(write=True) as connection:
                connection.execute(
                    schema.key_revocations.insert(),
                    {"key_hash": key_hash, "revoked_us": revoked_us, "reason": reason, "actor": actor},
                )
        except IntegrityError:
            return False
        return True

    def revoked_keys(self) -> set[str]:
        """The hashes of every revoked key (a small table: read whole)."""
        with self._connect() as connection:
            return {row[0] for row in connection.execute(select(schema.key_revocations.c.key_hash))}

    def log_decisions(self, logged: list[LoggedDecision]) -> None:
        """Several decisions in one transaction: one fsync for all (group commit)."""
        with self._connect(write=True) as connection:
            connection.execute(
                schema.decisions.insert(),
                [
                    {"id": item.id, "subject": item.subject, "action": item.action, "at_us": item.at_us,
                     "decided_us": item.decided_us, "rulebook_position": item.rulebook_position,
                     "ledger_position": item.ledger_position, "answer": json.dumps(item.answer)}
                    for item in logged
                ],
            )  # fmt: skip

    def decision(self, decision_id: str) -> LoggedDecision | None:
        with self._connect() as connection:
            row = connection.execute(select(schema.decisions).where(schema.decisions.c.id == decision_id)).first()
        return None if row is None else _logged(row)

    def decisions_of(self, subject: str) -> Iterator[LoggedDecision]:
        with self._connect() as connection:
            rows = connection.execute(select(schema.decisions).where(schema.decisions.c.subject == subject)).all()
        return (_logged(row) for row in rows)

    # Appeals.

    def file_appeal(self, row: AppealRow) -> None:
        with self._connect(write=True) as connection:
            connection.execute(
                schema.appeals.insert(),
                {"id": row.id, "record_position": row.record_position, "subject": row.subject,
                 "statement": row.statement, "filed_us": row.filed_us, "deadline_us": row.deadline_us,
                 "while_pending": row.while_pending},
            )  # fmt: skip

    def add_appeal_event(self, appeal_id: str, event: str, reason: str, actor: str, at_us: int) -> bool:
        """Record what happened to an appeal; False if it had already happened (each event once)."""
        try:
            with self._connect(write=True) as connection:
                connection.execute(
                    schema.appeal_events.insert(),
                    {"appeal_id": appeal_id, "event": event, "reason": reason, "actor": actor, "at_us": at_us},
                )
        except IntegrityError:
            return False
        return True

    def appeals(
        self, subject: str | None = None, appeal_id: str | None = None, overdue_at: int | None = None
    ) -> list[AppealRow]:
        """Appeals with what happened to them; overdue_at: only those unanswered past their deadline then."""
        query = select(schema.appeals).order_by(schema.appeals.c.filed_us, schema.appeals.c.id)
        if subject is not None:
            query = query.where(schema.appeals.c.subject == subject)
        if appeal_id is not None:
            query = query.where(schema.appeals.c.id == appeal_id)
        if overdue_at is not None:
            settled = select(schema.appeal_events.c.appeal_id)
            query = query.where(schema.appeals.c.deadline_us <= overdue_at, schema.appeals.c.id.not_in(settled))
        with self._connect() as connection:
            rows = connection.execute(query).all()
            ids = [row.id for row in rows]
            events: dict[str, dict[str, dict[str, Any]]] = {}
            if ids:
                for event in connection.execute(
                    select(schema.appeal_events).where(schema.appeal_events.c.appeal_id.in_(ids))
                ):
                    events.setdefault(event.appeal_id, {})[event.event] = {
                        "reason": event.reason, "actor": event.actor, "at_us": event.at_us,
                    }  # fmt: skip
        return [
            AppealRow(
                row.id,
                row.record_position,
                row.subject,
                row.statement,
                row.filed_us,
                row.deadline_us,
                row.while_pending,
                events.get(row.id, {}),
            )
            for row in rows
        ]

    # Notices.

    def add_notice(self, notice_id: str, subject: str, kind: str, created_us: int, body: dict[str, Any]) -> None:
        with self._connect(write=True) as connection:
            connection.execute(
                schema.notices.insert(),
                {"id": notice_id, "subject": subject, "kind": kind, "created_us": created_us,
                 "body": json.dumps(body)},
            )  # fmt: skip

    def notices(self, subject: str) -> list[dict[str, Any]]:
        query = (
            select(schema.notices)
            .where(schema.notices.c.subject == subject)
            .order_by(schema.notices.c.created_us, schema.notices.c.id)
        )
        with self._connect() as connection:
            return [{"id": row.id, "kind": row.kind, **json.loads(row.body)} for row in connection.execute(query)]

    # Sweeps: when the passing of time was last looked at.

    def last_sweep(self) -> int | None:
        with self._connect() as connection:
            value = connection.execute(select(func.max(schema.sweeps.c.at_us))).scalar_one_or_none()
        return None if value is None else int(value)

    def record_sweep(self, at_us: int) -> None:
        with self._connect(write=True) as connection:
            connection.execute(schema.sweeps.insert(), {"at_us": at_us})

    def subjects(self) -> list[str]:
        with self._connect() as connection:
            return [
                row[0]
                for row in connection.execute(
                    select(schema.records.c.subject).distinct().order_by(schema.records.c.subject)
                )
            ]


def _key(row: Any, revoked_us: int | None) -> StoredKey:
    actions = tuple(row.actions.split(",")) if row.actions else ()
    return StoredKey(row.key_hash, row.role, row.source, actions, row.subject, row.created_us, row.expires_us,
                     revoked_us)  # fmt: skip


def _logged(row: Any) -> LoggedDecision:
    return LoggedDecision(row.id, row.subject, row.action, row.at_us, row.decided_us, row.rulebook_position,
                          row.ledger_position, json.loads(row.answer))  # fmt: skip
