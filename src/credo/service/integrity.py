"""A broken chain is acted on: the server refuses to answer from a ledger that does not verify.

The server checks every chain when it starts, from the last checkpoint (so a large ledger starts
in seconds), and again every `every` seconds on a worker thread, which also picks up what the
last whole check (`credo sweep`, `credo verify`) recorded. While a chain is broken, /healthz and
every /v1 answer is a 503 in the project's error shape, naming the first bad entry; the API's
documentation stays up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from credo.ledger.chain import LedgerReport
from credo.service import errors
from credo.storage.chains import record_checkpoint
from credo.storage.sql import SqlStore

#: What stays up while the chain is broken: the API's description reads nothing of the ledger.
OPEN_PATHS = ("/docs", "/redoc", "/openapi.json")
OPEN_PREFIXES = ("/docs-assets/", "/static/")  # their assets, and the pages' stylesheet


class Integrity:
    """What the server last found of the chains, and when to look again."""

    def __init__(
        self,
        store: SqlStore,
        clock: Callable[[], dt.datetime],
        every: float = 60.0,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.every = every
        self.ticker = ticker
        self.broken: LedgerReport | None = None
        self.checked = ticker()
        self.lock = threading.Lock()
        self.worker: threading.Thread | None = None

    def check(self) -> LedgerReport:
        """Check every chain from the last checkpoint; record a new one when they verify."""
        report = self.store.verify(whole=False)
        if report.ok:
            record_checkpoint(self.store, report, self.clock(), whole=False)
        self.broken = None if report.ok else report
        self.checked = self.ticker()
        return report

    def recheck_if_due(self) -> threading.Thread | None:
        """Start a check on a worker thread when the last is `every` seconds old (one at a time)."""
        if self.ticker() - self.checked < self.every:
            return None
        with self.lock:
            if self.worker is not None and self.worker.is_alive():
                return None
            self.checked = self.ticker()
            self.worker = threading.Thread(target=self._quietly, name="credo-chain-check", daemon=True)
            self.worker.start()
            return self.worker

    def _quietly(self) -> None:
        # A store that is down answers for itself; the next check tries again.
        with contextlib.suppress(Exception):
            self.check()

    def refusal(self) -> Any:
        """The 503 every answer gets while the chain is broken (None while it verifies)."""
        report = self.broken
        if report is None:
            return None
        problem = report.problem or "the chain does not verify"
        return errors.respond(
            503,
            f"the ledger's hash chain is broken: {problem}. credo answers nothing from it until it verifies "
            "again (run `credo verify` to see it, and restore the ledger from a copy you trust)",
            [{"chain": report.chain, "entry": report.first_bad, "reason": problem}],
        )


def _page(report: LedgerReport | None) -> Any:
    from fastapi.responses import HTMLResponse
    from markupsafe import escape

    problem = escape((report.problem if report else None) or "the chain does not verify")
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"><title>Unavailable · credo</title>'
        '<link rel="stylesheet" href="/static/credo.css"></head><body><main id="main">'
        "<h1>This page cannot be shown right now</h1>"
        "<p>The ledger that holds the records failed its integrity check, so credo shows nothing from it "
        "until the operator has restored a copy that can be trusted. Nothing is decided "
        f"from the altered data. Please try again later.</p><p>For the operator: {problem}.</p></main></body></html>",
        status_code=503,
    )


class ChainGuard:
    """Plain ASGI middleware: one attribute read per request while the chain verifies."""

    def __init__(self, app: Any, integrity: Integrity) -> None:
        self.app = app
        self.integrity = integrity

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.integrity.recheck_if_due()
            refusal = self.integrity.refusal() if self.integrity.broken is not None else None
            path = scope["path"]
            if refusal is not None and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
                if not path.startswith(("/v1/", "/healthz")):  # a page: say it in a page
                    refusal = _page(self.integrity.broken)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
