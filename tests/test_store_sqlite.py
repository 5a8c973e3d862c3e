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


def test_the_statements_a_server_prepares_do_not_depend_on_how_many_rows_a_batch_holds(tmp_path: Path) -> None:
    """SQLite prepares a statement per distinct SQL text and its driver keeps 128 of them on each
    connection; an IN list written with one mark per value is a new text for every length. In the
    soak those statements grew the server's SQLite heap by ~10 MB a minute (issue 13, item 8)."""
    from sqlalchemy import event

    from tests.ledger_contract import Clock
    from tests.test_appeals import NOW, setup
    from tests.test_service import auth

    store, client, keys = setup(sqlite_url(tmp_path), Clock(NOW))
    sent: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))

    def batch(size: int, first: int) -> None:
        rows = [
            {
                "subject": f"p-size-{first + n}",
                "behaviour": "judgment_defaulted",
                "at": "2025-05-30",
                "id": f"s-{first + n}",
            }
            for n in range(size)
        ]
        posted = client.post("/v1/records", json={"records": rows}, headers=auth(keys["court"]))
        assert posted.status_code == 200, posted.text
        assert client.get("/v1/appeals", headers=auth(keys["reviewer"])).status_code == 200

    batch(2, 0)
    batch(2, 2)  # the statements of a batch of two, each prepared once
    known = set(sent)
    first = 4
    for size in (1, 3, 7, 12, 19):
        batch(size, first)
        first += size
    assert set(sent) - known == set()
