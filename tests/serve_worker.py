"""A separate process serving the HTTP API over a store, for load tests (a server in the test's own
process would share its GIL with the clients that measure it).

    python tests/serve_worker.py STORE_URL PORT NOW_ISO

Prints "ready" (flushed) once it listens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

import uvicorn

from credo.service import create_app
from credo.service.work import share_the_interpreter
from credo.storage import open_store


def main() -> None:
    url, port, now = sys.argv[1:]
    instant = dt.datetime.fromisoformat(now)
    app = create_app(open_store(url, create=False), lambda: instant)
    share_the_interpreter()  # as credo serve does
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=int(port), log_level="warning"))

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print("ready", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
