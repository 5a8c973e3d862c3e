"""The two backends and how a URL chooses one: SQLite (embedded, the default) and PostgreSQL."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from credo.storage.schema import RECORD_FIELDS
from credo.storage.sql import DEFAULT_URL, SqlStore, StoreBusy, StoreError, safe_url

_APPEND_LOCK = 0x637265646F  # "credo": the PostgreSQL advisory lock held while appending
_CHAIN_LOCKS = 0x63726564  # "cred", with each service chain's number: the lock of that chain's tail


class SqliteStore(SqlStore):
    dialect = "sqlite"
    part_rows: int | None = 5_000  # a part's writing holds the write lock for about 0.1-0.4 s

    def __init__(self, url: str, engine: Engine) -> None:
        super().__init__(url, engine)
        database = engine.url.database
        on_disk = bool(database) and database != ":memory:"
        self._turn_file = Path(f"{database}-append.lock") if on_disk else None
        if self._turn_file is None:  # one connection's memory: no other process to let in
            self.part_rows = None
        self._turns = threading.local()

    @contextmanager
    def _append_turn(self) -> Iterator[object]:
        """A lock on a file beside the ledger, held by one appender of any process at a time, and
        across all the transactions of a file (re-entrant within a thread); the operating system
        lets it go when its process dies."""
        depth = getattr(self._turns, "depth", 0)
        if depth or self._turn_file is None:
            self._turns.depth = depth + 1
            try:
                yield self
            finally:
                self._turns.depth = depth
            return
        try:
            handle = self._turn_file.open("a")
        except OSError as exc:  # a folder credo may not write in: the ledger cannot be appended to either
            raise StoreError(f"cannot append to the store {safe_url(self.url)}: {exc}") from exc
        with handle:
            deadline = time.monotonic() + self.write_wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreBusy(
                            f"the store {safe_url(self.url)} is busy: another process is appending to it (an "
                            "ingest?); try again when it is done"
                        ) from None
                    time.sleep(0.01)
            self._turns.depth = 1
            try:
                yield self
            finally:
                self._turns.depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def lock(self, connection: Connection) -> None:
        # A wait past write_wait is lock_not_available: StoreBusy, not a request that hangs.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self.write_wait * 1000)}")
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_APPEND_LOCK})")

    def lock_chain(self, connection: Connection, chain: int) -> None:
        """A service table's chain: its own lock (two keys, apart from the ledger's one key)."""
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CHAIN_LOCKS}, {int(chain)})")

    def lookup(self, connection: Connection, source: str, ids: list[str]) -> Iterable[Sequence[Any]]:
        sql = f"SELECT {self._CONTENT} FROM records WHERE source = %(source)s AND source_id = ANY(%(ids)s)"
        return connection.exec_driver_sql(sql, {"source": source, "ids": ids}).fetchall()

    def insert_records(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        """COPY: PostgreSQL's bulk path, inside the same transaction."""
        driver = connection.connection.driver_connection
        assert driver is not None
        columns = ", ".join(("position", "hash", *RECORD_FIELDS))
        with driver.cursor() as cursor, cursor.copy(f"COPY records ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _sqlite_engine(url: str) -> Engine:
    # A pool as wide as the service's thread pool: requests must not queue for a connection.
    engine = create_engine(url, connect_args={"timeout": 60}, pool_size=32, max_overflow=32)

    @event.listens_for(engine, "connect")
    def _durable(dbapi_connection: Any, _record: Any) -> None:
        # Durable and concurrent: WAL with a full fsync per commit; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("credo_write", False):
            # The wait for another writer's lock is the store's write_wait (then StoreBusy).
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(options['credo_wait'] * 1000)}")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def open_store(url: str | None = None, create: bool = True) -> SqlStore:
    """The store a URL names: sqlite:///PATH (default sqlite:///credo.db) or postgresql+psycopg://...

    With create=False a SQLite file that does not exist is an error rather than a new empty file.
    """
    url = url or DEFAULT_URL
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a store URL: {url!r}; use sqlite:///credo.db or postgresql+psycopg://...") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                parent = Path(parsed.database).parent
                if not parent.is_dir():
                    raise StoreError(f"cannot use the store {url}: folder {parent} does not exist")
                if not create and not Path(parsed.database).exists():
                    raise StoreError(f"{url} holds no credo ledger (no such file); run `credo init --store {url}`")
            return SqliteStore(url, _sqlite_engine(url))
        if parsed.get_backend_name() == "postgresql":
            if parsed.get_driver_name() != "psycopg":
                raise StoreError(f"use the psycopg 3 driver: postgresql+psycopg://...; got {safe_url(url)}")
            # No server-side prepared statements: a generic plan made while the table is small would
            # keep scanning it whole as it grows within one long ingest.
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=16, max_overflow=16, connect_args={"prepare_threshold": None}
            )
            return PostgresStore(url, engine)
    except (NoSuchModuleError, SQLAlchemyError) as exc:
        raise StoreError(f"cannot open the store {safe_url(url)}: {exc}") from exc
    raise StoreError(f"unsupported store {safe_url(url)}; use sqlite:///PATH or postgresql+psycopg://...")
