"""One access-log line per request, as JSON on stderr: what an operator's log stack reads.

{"time": "...", "method": "POST", "path": "/v1/decisions", "status": 200, "duration_ms": 1.7, "role": "provider"}

The key is never written, nor the query string (a subject id may ride in it): the role says who
asked. Plain ASGI, like BodyLimit: the decorator form would cost every request a task.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class AccessLog:
    """Wraps the app; `auth.KeyRing` leaves the caller's role in the request state once it knows it."""

    def __init__(
        self,
        app: Any,
        write: Callable[[str], None] = to_stderr,
        ticker: Callable[[], float] = time.perf_counter,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.app = app
        self.write = write
        self.ticker = ticker
        self.clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = self.ticker()
        state = scope.setdefault("state", {})
        status = [500]  # what the client gets if the app fails before it answers

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            line = {
                "time": self.clock().isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "path": scope["path"],
                "status": status[0],
                "duration_ms": round(1000 * (self.ticker() - began), 2),
                "role": state.get("key_role"),
            }
            self.write(json.dumps(line))
