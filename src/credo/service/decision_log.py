"""The decision log, written with group commit: concurrent decisions share one transaction (and
one fsync), and each request is answered only once its decision is durably logged."""

from __future__ import annotations

import queue
import threading

from credo.storage.logs import LoggedDecision
from credo.storage.sql import SqlStore

_MOST = 512  # decisions in one transaction


class DecisionLog:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.pending: queue.Queue[tuple[LoggedDecision, threading.Event, list[BaseException]]] = queue.Queue()
        self.writer: threading.Thread | None = None
        self.lock = threading.Lock()

    def write(self, decision: LoggedDecision) -> None:
        """Log a decision; return once it is committed (raise if it could not be)."""
        done = threading.Event()
        failures: list[BaseException] = []
        self._ensure_writer()
        self.pending.put((decision, done, failures))
        done.wait()
        if failures:
            raise failures[0]

    def _ensure_writer(self) -> None:
        with self.lock:
            if self.writer is None or not self.writer.is_alive():
                self.writer = threading.Thread(target=self._run, name="credo-decision-log", daemon=True)
                self.writer.start()

    def _run(self) -> None:
        while True:
            batch = [self.pending.get()]
            while len(batch) < _MOST:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                self.store.log_decisions([decision for decision, _, _ in batch])
            except BaseException as exc:  # the waiting requests get the error, the writer goes on
                for _, _, failures in batch:
                    failures.append(exc)
            finally:
                for _, done, _ in batch:
                    done.set()
