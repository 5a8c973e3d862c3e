"""A separate process that ingests files one by one and acknowledges each after it commits.

    python tests/ingest_worker.py STORE_URL PAUSE_SECONDS FILE [FILE ...]

Prints "ack FILE accepted duplicates" (flushed) after each file's transaction has committed:
what it has acknowledged must survive a SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from credo.ledger.book import Ledger
from credo.storage import open_store


def main() -> None:
    url, pause, *files = sys.argv[1:]
    ledger = Ledger(open_store(url))
    for file in files:
        summary = ledger.ingest(Path(file), batch_size=25)
        print(f"ack {file} {summary.accepted} {summary.duplicates}", flush=True)
        time.sleep(float(pause))  # spreads the run out, so that the parent's kill lands mid-run


if __name__ == "__main__":
    main()
