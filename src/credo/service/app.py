"""The HTTP API (FastAPI), built by create_app(store, clock): no import-time globals.

The routes live in credo.service.routes, one router per resource; they reach the store and what
is built over it through one `Services` object (credo.service.services) kept on `app.state`.
"""

import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from credo.ledger.book import utc_now
from credo.service import errors
from credo.service.access_log import AccessLog
from credo.service.auth import KeyRing, RateLimit
from credo.service.body import BodyGuard
from credo.service.cache import CACHE_RECORDS
from credo.service.docs import offline_docs
from credo.service.integrity import ChainGuard, Integrity
from credo.service.routes import ROUTERS
from credo.service.services import Services
from credo.storage.sql import SqlStore
from credo.web.pages import mount_pages


def create_app(
    store: SqlStore,
    clock: Callable[[], dt.datetime] = utc_now,
    *,
    rate: float = 1000.0,
    burst: int = 2000,
    ticker: Callable[[], float] = time.monotonic,
    session_secret: str | None = None,
    recheck: float = 60.0,
    access_log: Callable[[str], None] | None = None,
    write_wait: float = 3.0,
    cache_records: int = CACHE_RECORDS,
    notices_here: bool = True,
) -> FastAPI:
    """The service over one store; the clock is injected so that tests can fix time.

    Each key may make `rate` requests a second on average (bursts up to `burst`); past that the
    answer is 429 with Retry-After. `session_secret` signs the pages' session cookies (a random one
    per process when not given: sessions then end when the server restarts). The chains are
    checked now and every `recheck` seconds; while one is broken every answer is a 503
    (credo.service.integrity). With `access_log`, each request writes one JSON line to it. A write waits at most
    `write_wait` seconds for another writer's lock (a long `credo ingest`), then answers 503 with
    Retry-After. The cache of evaluated states holds at most `cache_records` records' worth
    (0.5 to 1 KB each). Each write's notices are delivered in the writing request, after its
    write, unless `notices_here` is False: then a relay process delivers them (`credo serve` runs
    one, credo.service.relay).
    """
    store.write_wait = write_wait
    keyring = KeyRing(store, clock, ticker)
    services = Services.over(store, clock, keyring, RateLimit(rate, burst, ticker), cache_records, notices_here)
    deliverer = services.deliverer

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What a kill left owed is delivered when the server starts again, beside the requests
        # rather than before them: a long backlog must not keep the service down (the relay
        # catches up itself when there is one).
        # Over a broken chain nothing is delivered: no notice tells what an altered ledger says.
        backlog = threading.Thread(target=deliverer.catch_up, name="credo-deliver", daemon=True)
        catching_up = notices_here and integrity.broken is None
        if catching_up:
            backlog.start()
        yield
        if catching_up:
            backlog.join()

    app = FastAPI(
        title="credo",
        version="0.1.0",
        description="Published rules, explained points, appeals.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by offline_docs
        redoc_url=None,
    )
    errors.install(app)
    offline_docs(app)

    app.add_middleware(BodyGuard, keyring=keyring)
    integrity = Integrity(store, clock, recheck)
    integrity.check()
    app.state.integrity = integrity
    app.add_middleware(ChainGuard, integrity=integrity)
    if access_log is not None:  # one JSON line per request (credo.service.access_log)
        app.add_middleware(AccessLog, write=access_log)

    app.state.services = services
    for router in ROUTERS:
        app.include_router(router)
    mount_pages(app, services, session_secret)
    return app
