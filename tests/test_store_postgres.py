"""The ledger contract on PostgreSQL (CREDO_TEST_POSTGRES; required in CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ledger_contract import LedgerContract
from tests.stores import postgres_url


class TestPostgresLedger(LedgerContract):
    @pytest.fixture
    def store_url(self) -> Iterator[str]:
        yield from postgres_url()
