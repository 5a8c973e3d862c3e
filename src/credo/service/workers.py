"""Several server processes over one store (`credo serve --workers N`).

uvicorn starts each worker by importing an application factory, so what `credo serve` was told
(the store, the rate limits) travels to the workers in environment variables, set by the parent
before it forks. The session secret travels the same way: a cookie signed by one worker must be
read by the others, so the parent draws one secret for them all when none is configured.

What stays right across processes, and why:
- each worker's state cache checks the ledger's head before it answers (credo.service.cache), so
  a write by any process is seen by every other at its next question;
- each worker's decision log commits its own groups (credo.service.decision_log);
- SQLite runs in WAL mode (readers never wait for the writer), PostgreSQL as it is;
- rate limits are per process: a key may make N times `--rate` requests across N workers;
- one relay process (credo.service.relay), started by the parent, delivers every worker's notices.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from credo.service.cache import CACHE_RECORDS

if TYPE_CHECKING:
    from credo.storage.sql import SqlStore

_PREFIX = "CREDO_SERVE_"


@dataclass(frozen=True)
class ServeSettings:
    """What each worker needs to build the same application."""

    url: str
    rate: float
    burst: int
    cache_records: int = CACHE_RECORDS
    notices_here: bool = False  # True: each worker delivers its writes' notices; else the relay does

    def export(self) -> None:
        """Put the settings (and one session secret for all workers) where the workers read them."""
        os.environ[_PREFIX + "STORE"] = self.url
        os.environ[_PREFIX + "RATE"] = repr(self.rate)
        os.environ[_PREFIX + "BURST"] = str(self.burst)
        os.environ[_PREFIX + "CACHE_RECORDS"] = str(self.cache_records)
        os.environ[_PREFIX + "NOTICES_HERE"] = "1" if self.notices_here else ""
        os.environ.setdefault("CREDO_SESSION_SECRET", secrets.token_urlsafe(32))

    @classmethod
    def imported(cls) -> ServeSettings:
        return cls(
            os.environ[_PREFIX + "STORE"],
            float(os.environ[_PREFIX + "RATE"]),
            int(os.environ[_PREFIX + "BURST"]),
            int(os.environ.get(_PREFIX + "CACHE_RECORDS", CACHE_RECORDS)),
            bool(os.environ.get(_PREFIX + "NOTICES_HERE")),
        )


def build(store: SqlStore, settings: ServeSettings) -> FastAPI:
    """The application one process serves."""
    from credo.service import create_app
    from credo.service.access_log import to_stderr

    return create_app(store, rate=settings.rate, burst=settings.burst, access_log=to_stderr,
                      cache_records=settings.cache_records, notices_here=settings.notices_here,
                      session_secret=os.environ.get("CREDO_SESSION_SECRET"))  # fmt: skip


def worker_app() -> FastAPI:
    """uvicorn's factory in each worker process."""
    from credo.service.work import share_the_interpreter
    from credo.storage import open_store

    settings = ServeSettings.imported()
    store = open_store(settings.url)
    store.require_ledger()
    app = build(store, settings)
    share_the_interpreter()
    return app
