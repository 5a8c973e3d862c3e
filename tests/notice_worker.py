"""A separate process that ingests a file and delivers its notices slowly, to be killed mid-way.

    python tests/notice_worker.py STORE_URL FILE

Prints "ack" (flushed) once the records and what they owe have committed, then delivers the
notices ten at a time with a pause after each chunk, so that the parent's SIGKILL lands while
only some of them are stored.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from credo.ledger.book import Ledger
from credo.service.delivery import Deliverer
from credo.storage import open_store
from credo.storage.outbox import OutboxLog


def main() -> None:
    url, file = sys.argv[1:]
    store = open_store(url)
    ledger = Ledger(store)
    ledger.ingest(Path(file))
    print("ack", flush=True)
    deliver = OutboxLog.deliver

    def slowly(self: Any, *args: Any) -> int:
        stored = deliver(self, *args)
        time.sleep(0.2)
        return stored

    OutboxLog.deliver = slowly  # type: ignore[method-assign]
    Deliverer(store, ledger, chunk=10).run()


if __name__ == "__main__":
    main()
