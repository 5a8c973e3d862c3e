"""Stores for the ledger, chosen by URL. Only this package imports a database driver."""

from credo.storage.sql import DEFAULT_URL, IngestTally, SqlStore, StoreError, open_store

__all__ = ["DEFAULT_URL", "IngestTally", "SqlStore", "StoreError", "open_store"]
