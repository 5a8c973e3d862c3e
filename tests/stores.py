"""How tests make stores: a SQLite file, or a fresh schema in the PostgreSQL of CREDO_TEST_POSTGRES.

On a developer's machine without CREDO_TEST_POSTGRES the PostgreSQL tests skip; in CI (CI=true)
a missing variable fails them, so they cannot silently skip there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from credo.storage import SqlStore, open_store

POSTGRES = os.environ.get("CREDO_TEST_POSTGRES")


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'ledger.db'}"


def require_postgres() -> str:
    if not POSTGRES:
        if os.environ.get("CI"):
            pytest.fail("CI must set CREDO_TEST_POSTGRES: the PostgreSQL store tests may not skip there")
        pytest.skip("set CREDO_TEST_POSTGRES=postgresql+psycopg://... to test the PostgreSQL store")
    return POSTGRES


def postgres_url() -> Iterator[str]:
    """A URL whose connections use a schema of their own, dropped afterwards."""
    yield from postgres_schema(require_postgres())


def postgres_schema(base: str, prefix: str = "credo_test") -> Iterator[str]:
    """`base` with a fresh schema of its own as the search path; the schema is dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store in turn: a test that takes it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        yield from postgres_url()


def initialised(url: str) -> SqlStore:
    store = open_store(url)
    store.migrate()
    return store
