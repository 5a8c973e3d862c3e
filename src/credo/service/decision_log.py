"""The decision log, written with group commit: decisions made while the previous batch was being
written share one transaction (and one fsync), written on a worker thread so that the event loop
keeps answering meanwhile; each request is answered only once its decision is durably logged."""

from __future__ import annotations

import asyncio

from credo.storage.logs import LoggedDecision
from credo.storage.sql import SqlStore


class DecisionLog:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.waiting: list[tuple[LoggedDecision, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def write(self, decision: LoggedDecision) -> None:
        """Log a decision; return once it is committed (raise if it could not be)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((decision, done))
        if self.writer is None:
            # Started on the loop's next turn: every request already running adds to the batch first.
            self.writer = asyncio.ensure_future(self._write_batches())
        await done

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    await loop.run_in_executor(None, self.store.log_decisions, [item for item, _ in batch])
                except Exception as exc:  # each waiting request answers with the error
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self.writer = None
