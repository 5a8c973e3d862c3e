"""Stores for the ledger, chosen by URL. Only this package imports a database driver."""

from credo.storage.backends import open_store
from credo.storage.sql import DEFAULT_URL, IngestTally, SqlStore, StoreBusy, StoreError

__all__ = ["DEFAULT_URL", "IngestTally", "SqlStore", "StoreBusy", "StoreError", "open_store"]
