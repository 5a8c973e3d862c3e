"""Hostile bodies and heavy load against a real server (uvicorn on 127.0.0.1, in a thread).

Issue 16: bodies bounded before they are read (item 2), one slow question must not stall everyone
(item 3), a busy SQLite writer is not a client error (item 9).
"""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from credo.storage import SqlStore
from credo.storage.backends import _APPEND_LOCK
from tests.conftest import SCENARIOS
from tests.stores import initialised, sqlite_url

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
MB = 1 << 20


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app behind a real uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def prepared(tmp_path: Path) -> SqlStore:
    store = initialised(sqlite_url(tmp_path))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    return store


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


class Endless:
    """A chunked request body (no Content-Length) of `total` bytes, counting what was taken of it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"[" + b" " * (64 * 1024 - 1)
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk


# Item 2: bodies bounded before they are read.


@pytest.fixture
def body_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    store = prepared(tmp_path)
    keys = {
        "agency": create_key(store, "agency", NOW, source="court"),
        "provider": create_key(store, "provider", NOW, actions=("buy_flight_ticket",)),
    }
    with serving(create_app(store, lambda: NOW)) as url:
        yield url, keys
    store.close()


def is_error(response: httpx.Response, status: int) -> bool:
    body = response.json()
    return response.status_code == status and set(body) == {"error"} and body["error"]["status"] == status


@pytest.mark.parametrize("key", ["no-such-key", None])
def test_a_bad_key_is_refused_before_its_body_is_read(body_server: tuple[str, dict[str, str]], key: str | None) -> None:
    """600 MB chunked to /v1/records with a bad (or no) key: 401 after a few MB at most (the
    socket buffers), not after the whole body was buffered (1.34 GB resident before the fix)."""
    url, _ = body_server
    body = Endless(600 * MB)
    headers = auth(key) if key else {"Content-Type": "application/json"}
    response = httpx.post(f"{url}/v1/records", content=body, headers=headers, timeout=60)
    assert is_error(response, 401)
    assert body.sent < 32 * MB, f"the server read {body.sent // MB} MB of a body it refused"


@pytest.mark.parametrize(("route", "key"), [("/v1/decisions", "provider"), ("/v1/records", "agency")])
def test_a_chunked_body_stops_at_the_limit(body_server: tuple[str, dict[str, str]], route: str, key: str) -> None:
    """400 MB chunked (no Content-Length) with a good key: 413 at the limit (200 before the fix)."""
    url, keys = body_server
    body = Endless(400 * MB)
    response = httpx.post(f"{url}{route}", content=body, headers=auth(keys[key]), timeout=60)
    assert is_error(response, 413)
    assert "at most 1048576 bytes" in response.json()["error"]["message"]
    assert body.sent < 32 * MB, f"the server read {body.sent // MB} MB of a body over its limit"


def test_a_small_chunked_body_is_answered(body_server: tuple[str, dict[str, str]]) -> None:
    url, keys = body_server
    question = b'{"subject": "p-zhang-wei", "action": "buy_flight_ticket"}'
    with httpx.Client(timeout=30) as client:
        for _ in range(2):  # the connection stays usable when the body was read to its end
            response = client.post(f"{url}/v1/decisions", content=iter([question[:10], question[10:]]),
                                   headers=auth(keys["provider"]))  # fmt: skip
            assert response.status_code == 200, response.text
            assert response.headers.get("connection") != "close"


# Item 9: a busy SQLite writer is not a client error.


@contextmanager
def ledger_locked(store: SqlStore) -> Iterator[None]:
    """Another process's writer holding the ledger: SQLite's write lock, or PostgreSQL's append lock."""
    if store.dialect == "sqlite":
        holder = sqlite3.connect(store.engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(store.url)
    with engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({_APPEND_LOCK})")
        try:
            yield
        finally:
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({_APPEND_LOCK})")
    engine.dispose()


def test_a_locked_store_is_503_with_retry_after(store_url: str) -> None:
    """While another writer holds the ledger, an agency's records are a 503 with Retry-After after
    the service's short wait, naming no file (a 422 after 60 s with the file's path before)."""
    store = initialised(store_url)
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    agency = create_key(store, "agency", NOW, source="court")
    client = TestClient(create_app(store, lambda: NOW, write_wait=0.5), raise_server_exceptions=False)
    batch = {"records": [{"subject": "p-1", "behaviour": "fraud", "at": "2025-01-01", "id": "c-1"}]}
    with ledger_locked(store):
        started = time.monotonic()
        response = client.post("/v1/records", json=batch, headers=auth(agency))
        waited = time.monotonic() - started
    assert is_error(response, 503), response.text
    assert response.headers["retry-after"].isdigit()
    message = response.json()["error"]["message"]
    assert "busy" in message and "sqlite" not in message and "postgresql" not in message and "/" not in message
    assert 0.4 < waited < 10
    assert client.post("/v1/records", json=batch, headers=auth(agency)).status_code == 200  # lock gone: it lands
    store.close()
