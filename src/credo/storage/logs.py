"""The service's own append-only tables: API keys (hashes only) and the decision log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select
from sqlalchemy.exc import IntegrityError

from credo.errors import Conflict, NotFound
from credo.ledger.chain import from_micros
from credo.ledger.model import CorrectionAction
from credo.storage import chains, schema
from credo.storage.outbox import OutboxLog, StoredNotice


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
    record: str = ""  # the disputed record's id, SOURCE:ID

    @property
    def outcome(self) -> str | None:
        """The resolution; the earliest, should a ledger written before resolutions were guarded hold two."""
        resolved = [event for event in ("uphold", "reverse") if event in self.events]
        return min(resolved, key=lambda event: self.events[event]["at_us"], default=None)


#: The events that resolve an appeal; one without either still awaits a reviewer (a lapsed one too).
RESOLUTIONS = ("uphold", "reverse")


@dataclass(frozen=True)
class AppealQueue:
    """One page of the appeals awaiting a reviewer, the nearest deadline first."""

    appeals: list[AppealRow]
    total: int  # how many await a reviewer in all
    overdue: int  # how many of them are past their deadline


#: A correction an appeal makes: (action, reason, actor).
Planned = tuple[CorrectionAction, str, str]
#: What an appeal's change does to its record, given the record's corrections so far; it may
#: raise Conflict to refuse the change (decided by the service, run inside the store's transaction).
Plan = Callable[[AppealRow, list[str]], Sequence[Planned]]


class ServiceLog(OutboxLog):
    """Mixed into SqlStore: what the HTTP service stores beside the ledger."""

    def _connect(self, write: bool = False) -> AbstractContextManager[Connection]:  # provided by SqlStore
        raise NotImplementedError

    def lock_chain(self, connection: Connection, chain: int) -> None:
        """Serialise appends to one service chain (SQLite: the write transaction already does)."""

    def appending(self) -> AbstractContextManager[tuple[Connection, Any]]:  # provided by SqlStore
        raise NotImplementedError

    def append_correction(
        self, connection: Connection, tail: Any, record_position: int, action: CorrectionAction, reason: str,
        actor: str, recorded_us: int,
    ) -> int:  # provided by SqlStore  # fmt: skip
        raise NotImplementedError

    def add_key(self, key: StoredKey) -> None:
        with self._connect(write=True) as connection:
            chains.append(
                connection, "api_keys",
                [{"key_hash": key.key_hash, "role": key.role, "source": key.source,
                  "actions": json.dumps(list(key.actions)) if key.actions else None, "subject": key.subject,
                  "created_us": key.created_us, "expires_us": key.expires_us}],
                self.lock_chain,
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
                chains.append(
                    connection, "key_revocations",
                    [{"key_hash": key_hash, "revoked_us": revoked_us, "reason": reason, "actor": actor}],
                    self.lock_chain,
                )  # fmt: skip
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
            chains.append(
                connection, "decisions",
                [
                    {"id": item.id, "subject": item.subject, "action": item.action, "at_us": item.at_us,
                     "decided_us": item.decided_us, "rulebook_position": item.rulebook_position,
                     "ledger_position": item.ledger_position, "answer": json.dumps(item.answer)}
                    for item in logged
                ],
                self.lock_chain,
            )  # fmt: skip

    def decision(self, decision_id: str) -> LoggedDecision | None:
        with self._connect() as connection:
            row = connection.execute(select(schema.decisions).where(schema.decisions.c.id == decision_id)).first()
        return None if row is None else _logged(row)

    def recent_decisions(self, limit: int = 50) -> list[LoggedDecision]:
        """The newest logged decisions first (the desk's decision log)."""
        query = select(schema.decisions).order_by(schema.decisions.c.decided_us.desc()).limit(limit)
        with self._connect() as connection:
            return [_logged(row) for row in connection.execute(query)]

    def decisions_of(self, subject: str) -> Iterator[LoggedDecision]:
        with self._connect() as connection:
            rows = connection.execute(select(schema.decisions).where(schema.decisions.c.subject == subject)).all()
        return (_logged(row) for row in rows)

    # Appeals. Filing, resolving and lapsing are each one transaction under the append lock: the
    # appeal's state is read, checked and changed there, with the corrections it makes and what
    # it owes, so two reviewers at once cannot both resolve it and a refused request stores nothing.

    def file_appeal(self, filing: Callable[[], AppealRow], plan: Plan) -> AppealRow:
        """Store a new appeal unless its record already has an open one (Conflict names it).
        filing() makes the row under the append lock, so its instants follow every event committed
        before it."""
        with self.appending() as (connection, tail):
            before = tail.position
            row = filing()
            waiting = [item for item in self._appeals(connection, record_position=row.record_position)
                       if item.outcome is None]  # fmt: skip
            if waiting:
                raise Conflict(
                    f"record {waiting[0].record} already has an open appeal {waiting[0].id} (filed "
                    f"{from_micros(waiting[0].filed_us).isoformat()}); it is answered before another can be filed"
                )
            planned = plan(row, self._actions(connection, row.record_position))
            chains.append(
                connection, "appeals",
                [{"id": row.id, "record_position": row.record_position, "subject": row.subject,
                 "statement": row.statement, "filed_us": row.filed_us, "deadline_us": row.deadline_us,
                 "while_pending": row.while_pending}],
                self.lock_chain,
            )  # fmt: skip
            self._apply(connection, tail, row, planned, "appeal_filed", row.filed_us, before, {})
        return row

    def settle_appeal(
        self, appeal_id: str, event: str, reason: str, actor: str, now_us: Callable[[], int], plan: Plan
    ) -> None:
        """Resolve ("uphold", "reverse") or lapse an appeal that is still pending; Conflict if it is
        not (nothing is stored then), NotFound if there is no such appeal. now_us() is read under
        the append lock, as file_appeal's filing() is."""
        with self.appending() as (connection, tail):
            before = tail.position
            at_us = now_us()
            found = self._appeals(connection, appeal_id=appeal_id)
            if not found:
                raise NotFound(f"no such appeal {appeal_id!r}")
            appeal = found[0]
            if appeal.outcome is not None:
                when = from_micros(appeal.events[appeal.outcome]["at_us"]).isoformat()
                raise Conflict(f"appeal {appeal_id} is already resolved: {appeal.outcome} at {when}")
            if event == "lapsed" and "lapsed" in appeal.events:
                raise Conflict(f"appeal {appeal_id} has already lapsed")
            planned = plan(appeal, self._actions(connection, appeal.record_position))
            chains.append(
                connection, "appeal_events",
                [{"appeal_id": appeal_id, "event": event, "reason": reason, "actor": actor, "at_us": at_us}],
                self.lock_chain,
            )  # fmt: skip
            kind = "appeal_lapsed" if event == "lapsed" else "appeal_resolved"
            self._apply(connection, tail, appeal, planned, kind, at_us, before, {"event": event, "reason": reason})

    def _apply(
        self, connection: Connection, tail: Any, appeal: AppealRow, planned: Sequence[Planned], kind: str,
        at_us: int, before: int, facts: dict[str, Any],
    ) -> None:  # fmt: skip
        recorded = max(at_us, tail.stamped_us)  # a ledger entry: never stamped before the one it follows
        for action, reason, actor in planned:
            self.append_correction(connection, tail, appeal.record_position, action, reason, actor, recorded)
        if kind != "appeal_filed" or planned:  # a plain filing changes nothing: the answer tells it
            facts = {"appeal": appeal.id, "subject": appeal.subject, "record": appeal.record, **facts}
            self.owe(connection, kind, at_us, before, tail.position, facts)

    def _actions(self, connection: Connection, record_position: int) -> list[str]:
        """The record's corrections so far, in ledger order."""
        fixes = schema.corrections
        query = select(fixes.c.action).where(fixes.c.record_position == record_position).order_by(fixes.c.position)
        return [row[0] for row in connection.execute(query)]

    def appeals(
        self, subject: str | None = None, appeal_id: str | None = None, overdue_at: int | None = None
    ) -> list[AppealRow]:
        """Appeals with what happened to them; overdue_at: only those unanswered past their deadline then."""
        with self._connect() as connection:
            return self._appeals(connection, subject, appeal_id, overdue_at)

    def waiting_appeals(self, now_us: int, limit: int | None = None, offset: int = 0) -> AppealQueue:
        """The appeals no reviewer has resolved yet, the nearest deadline first: `limit` of them
        from `offset` (all when limit is None), how many there are and how many are overdue at
        now_us. The filter and the order are the database's, so a reviewer's page costs the page,
        not every appeal ever filed."""
        appeals = schema.appeals
        late = func.sum(case((appeals.c.deadline_us <= now_us, 1), else_=0))
        with self._connect() as connection:
            counts = select(func.count(), late).select_from(appeals).where(_unresolved())
            total, overdue = connection.execute(counts).one()
            page = self._appeals(connection, waiting=True, limit=limit, offset=offset)
        return AppealQueue(page, int(total), int(overdue or 0))

    def _appeals(
        self, connection: Connection, subject: str | None = None, appeal_id: str | None = None,
        overdue_at: int | None = None, record_position: int | None = None, waiting: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[AppealRow]:  # fmt: skip
        appeals, records = schema.appeals, schema.records
        query = select(appeals, records.c.source, records.c.source_id).join(
            records, records.c.position == appeals.c.record_position
        )
        if waiting:
            query = query.where(_unresolved()).order_by(appeals.c.deadline_us, appeals.c.id)
            query = query.limit(limit).offset(offset)  # limit None: every waiting appeal
        else:
            query = query.order_by(appeals.c.filed_us, appeals.c.id)
        if subject is not None:
            query = query.where(appeals.c.subject == subject)
        if appeal_id is not None:
            query = query.where(appeals.c.id == appeal_id)
        if record_position is not None:
            query = query.where(appeals.c.record_position == record_position)
        if overdue_at is not None:
            settled = select(schema.appeal_events.c.appeal_id)
            query = query.where(appeals.c.deadline_us <= overdue_at, appeals.c.id.not_in(settled))
        rows = connection.execute(query).all()
        ids = [row.id for row in rows]
        events: dict[str, dict[str, dict[str, Any]]] = {}
        if ids:
            for event in connection.execute(
                select(schema.appeal_events).where(
                    schema.one_of(connection.dialect.name, schema.appeal_events.c.appeal_id, ids)
                )
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
                f"{row.source}:{row.source_id}",
            )
            for row in rows
        ]

    # Notices: stored by the deliverer (credo.storage.outbox), read here.

    def notices(self, subject: str) -> list[StoredNotice]:
        query = (
            select(schema.notices)
            .where(schema.notices.c.subject == subject)
            .order_by(schema.notices.c.created_us, schema.notices.c.id)
        )
        with self._connect() as connection:
            return [
                StoredNotice(row.id, row.subject, row.kind, row.created_us, json.loads(row.body))
                for row in connection.execute(query)
            ]

    # Sweeps: when the passing of time was last looked at.

    def last_sweep(self) -> int | None:
        with self._connect() as connection:
            value = connection.execute(select(func.max(schema.sweeps.c.at_us))).scalar_one_or_none()
        return None if value is None else int(value)

    def record_sweep(self, at_us: int, since_us: int | None = None) -> None:
        """Record a sweep; after an earlier one (since_us), owe what time alone changed since then."""
        with self.appending() as (connection, tail):
            chains.append(connection, "sweeps", [{"at_us": at_us}], self.lock_chain)
            if since_us is not None:
                self.owe(connection, "time", at_us, tail.position, tail.position, {"since_us": since_us})

    def subjects(self) -> list[str]:
        with self._connect() as connection:
            return [
                row[0]
                for row in connection.execute(
                    select(schema.records.c.subject)
                    .where(schema.visible(schema.records.c.position))
                    .distinct()
                    .order_by(schema.records.c.subject)
                )
            ]


def _actions(stored: str | None) -> tuple[str, ...]:
    """A key's actions: a JSON list (a comma in an action cannot split it); older keys were stored
    comma-joined."""
    if not stored:
        return ()
    if stored.startswith("["):
        return tuple(json.loads(stored))
    return tuple(stored.split(","))


def _key(row: Any, revoked_us: int | None) -> StoredKey:
    actions = _actions(row.actions)
    return StoredKey(row.key_hash, row.role, row.source, actions, row.subject, row.created_us, row.expires_us,
                     revoked_us)  # fmt: skip


def _logged(row: Any) -> LoggedDecision:
    return LoggedDecision(row.id, row.subject, row.action, row.at_us, row.decided_us, row.rulebook_position,
                          row.ledger_position, json.loads(row.answer))  # fmt: skip


def _unresolved() -> Any:
    """appeals.id has no resolution event (uphold or reverse)."""
    events = schema.appeal_events
    return schema.appeals.c.id.not_in(select(events.c.appeal_id).where(events.c.event.in_(RESOLUTIONS)))
