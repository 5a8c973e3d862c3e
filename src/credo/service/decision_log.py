"""The decision log, written with group commit: the decisions made during one turn of the event
loop share one transaction (and one fsync), and each request is answered only once its decision
is durably logged."""

from __future__ import annotations

import asyncio

from credo.storage.logs import LoggedDecision
from credo.storage.sql import SqlStore


class DecisionLog:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.waiting: list[tuple[LoggedDecision, asyncio.Future[None]]] = []

    async def write(self, decision: LoggedDecision) -> None:
        """Log a decision; return once it is committed (raise if it could not be)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not self.waiting:
            loop.call_soon(self._flush)  # after every request already running has had its turn
        self.waiting.append((decision, done))
        await done

    def _flush(self) -> None:
        batch, self.waiting = self.waiting, []
        try:
            self.store.log_decisions([decision for decision, _ in batch])
        except Exception as exc:  # each waiting request answers with the error
            for _, done in batch:
                done.set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)
