"""The service's own append-only tables: API keys (hashes only) and the decision log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from credo.storage.schema import api_keys, decisions


@dataclass(frozen=True)
class StoredKey:
    key_hash: str
    role: str
    source: str | None
    actions: tuple[str, ...]
    subject: str | None
    created_us: int


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


class ServiceLog:
    """Mixed into SqlStore: what the HTTP service stores beside the ledger."""

    def _connect(self) -> AbstractContextManager[Connection]:  # provided by SqlStore
        raise NotImplementedError

    def add_key(self, key: StoredKey) -> None:
        with self._connect() as connection:
            connection.execute(
                api_keys.insert(),
                {"key_hash": key.key_hash, "role": key.role, "source": key.source,
                 "actions": ",".join(key.actions) or None, "subject": key.subject, "created_us": key.created_us},
            )  # fmt: skip

    def key(self, key_hash: str) -> StoredKey | None:
        with self._connect() as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        if row is None:
            return None
        actions = tuple(row.actions.split(",")) if row.actions else ()
        return StoredKey(row.key_hash, row.role, row.source, actions, row.subject, row.created_us)

    def log_decision(self, decision: LoggedDecision) -> None:
        with self._connect() as connection:
            connection.execute(
                decisions.insert(),
                {"id": decision.id, "subject": decision.subject, "action": decision.action, "at_us": decision.at_us,
                 "decided_us": decision.decided_us, "rulebook_position": decision.rulebook_position,
                 "ledger_position": decision.ledger_position, "answer": json.dumps(decision.answer)},
            )  # fmt: skip

    def decision(self, decision_id: str) -> LoggedDecision | None:
        with self._connect() as connection:
            row = connection.execute(select(decisions).where(decisions.c.id == decision_id)).first()
        return None if row is None else _logged(row)

    def decisions_of(self, subject: str) -> Iterator[LoggedDecision]:
        with self._connect() as connection:
            rows = connection.execute(select(decisions).where(decisions.c.subject == subject)).all()
        return (_logged(row) for row in rows)


def _logged(row: Any) -> LoggedDecision:
    return LoggedDecision(row.id, row.subject, row.action, row.at_us, row.decided_us, row.rulebook_position,
                          row.ledger_position, json.loads(row.answer))  # fmt: skip
