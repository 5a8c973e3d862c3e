"""A separate process that ingests files one by one and acknowledges each after it commits.

    python tests/ingest_worker.py STORE_URL FILE [FILE ...]

Prints "ack FILE accepted duplicates" (flushed) after each file's transaction has committed:
what it has acknowledged must survive a SIGKILL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from credo.ledger.book import Ledger
from credo.storage import open_store


def main() -> None:
    url, *files = sys.argv[1:]
    ledger = Ledger(open_store(url))
    for file in files:
        summary = ledger.ingest(Path(file), batch_size=25)
        print(f"ack {file} {summary.accepted} {summary.duplicates}", flush=True)


if __name__ == "__main__":
    main()
