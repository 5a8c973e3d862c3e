"""The ledger contract on the embedded SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ledger_contract import LedgerContract
from tests.stores import sqlite_url


class TestSqliteLedger(LedgerContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return sqlite_url(tmp_path)
