"""Hostile bodies and heavy load against a real server (uvicorn on 127.0.0.1, in a thread).

Issue 16: bodies bounded before they are read (item 2), one slow question must not stall everyone
(item 3), a busy SQLite writer is not a client error (item 9).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import sqlite3
import subprocess
import sys
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
from tests.conftest import ROOT, SCENARIOS
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


# Item 3: one slow question must not stall everyone.

HEAVY = 20_000  # records of one subject: about a second of CPU to evaluate (issue 16)
# The p99 under load may be twice the idle p99, or the idle p99 plus this floor, whichever is
# more: on a small shared machine (2 cores, other jobs) the operating system's scheduling alone
# moves a p99 of a few milliseconds by tens. Before the fix the p99 under this load was seconds.
FLOOR = float(os.environ.get("CREDO_LOAD_FLOOR", "0.25"))


def ledger_file(path: Path) -> Path:
    rng = random.Random(16)
    behaviours = [("fraud", "court"), ("bank_arrears", "bank"), ("charity_donation", "charity_federation"),
                  ("bill_paid_on_time", "bank")]  # fmt: skip
    lines = ["subject,behaviour,at,source,id"]
    for index in range(HEAVY):
        behaviour, source = rng.choice(behaviours)
        lines.append(f"p-heavy,{behaviour},{dt.date(2019, 1, 1) + dt.timedelta(days=rng.randint(0, 2300))},"
                     f"{source},h{index}")  # fmt: skip
    for number in range(50):
        for index in range(5):
            behaviour, source = rng.choice(behaviours)
            lines.append(f"p-{number},{behaviour},{dt.date(2022, 1, 1) + dt.timedelta(days=rng.randint(0, 1200))},"
                         f"{source},o{number}-{index}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def server_process(url: str) -> Iterator[str]:
    """`credo serve`'s app in a process of its own (a server in this process would share the GIL
    with the clients that measure it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, str(ROOT / "tests" / "serve_worker.py"), url, str(port), NOW.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


def probe(client: httpx.Client, url: str, provider: str, rounds: int, until: float) -> tuple[list[float], list[float]]:
    """/healthz and an ordinary (cached, "now") decision, one after the other: their latencies."""
    health: list[float] = []
    decisions: list[float] = []
    for number in range(rounds):
        if time.monotonic() > until:
            break
        started = time.perf_counter()
        assert client.get(f"{url}/healthz").status_code == 200
        health.append(time.perf_counter() - started)
        started = time.perf_counter()
        question = {"subject": f"p-{number % 50}", "action": "buy_flight_ticket"}
        answer = client.post(f"{url}/v1/decisions", json=question, headers=auth(provider))
        assert answer.status_code == 200, answer.text
        decisions.append(time.perf_counter() - started)
    return health, decisions


def test_slow_questions_do_not_stall_everyone(tmp_path: Path) -> None:
    """Four clients asking decisions `at` an instant about a subject of 20,000 records and an
    agency sending batches of 1,000 new subjects: /healthz and ordinary decisions keep their p99
    within max(2 × idle p99, idle p99 + FLOOR)."""
    store = prepared(tmp_path)
    Ledger(store, lambda: NOW).ingest(ledger_file(tmp_path / "ledger.csv"))
    provider = create_key(store, "provider", NOW, actions=("buy_flight_ticket",))
    agency = create_key(store, "agency", NOW, source="court")
    store.close()
    with server_process(sqlite_url(tmp_path)) as url, httpx.Client(timeout=120) as client:
        probe(client, url, provider, 50, time.monotonic() + 60)  # warm: every ordinary subject cached
        idle = probe(client, url, provider, 150, time.monotonic() + 60)
        stop = threading.Event()
        slow: list[int] = []

        def ask_about_the_heavy_subject() -> None:
            with httpx.Client(timeout=120) as own:
                while not stop.is_set():
                    question = {"subject": "p-heavy", "action": "buy_flight_ticket", "at": "2024-01-01"}
                    slow.append(own.post(f"{url}/v1/decisions", json=question, headers=auth(provider)).status_code)

        def send_batches() -> None:
            with httpx.Client(timeout=120) as own:
                for batch in range(1000):
                    if stop.is_set():
                        return
                    rows = [{"subject": f"n-{batch}-{i}", "behaviour": "fraud", "at": "2025-01-01",
                             "id": f"n-{batch}-{i}"} for i in range(1000)]  # fmt: skip
                    slow.append(own.post(f"{url}/v1/records", json={"records": rows}, headers=auth(agency)).status_code)

        load = [threading.Thread(target=ask_about_the_heavy_subject) for _ in range(4)]
        load.append(threading.Thread(target=send_batches))
        for thread in load:
            thread.start()
        try:
            time.sleep(1.0)  # the load under way
            busy = probe(client, url, provider, 150, time.monotonic() + 90)
        finally:
            stop.set()
            for thread in load:
                thread.join(180)
    assert slow and set(slow) <= {200, 503}, set(slow)  # 503: too many costly questions waiting
    for name, quiet, loaded in (("/healthz", idle[0], busy[0]), ("a decision", idle[1], busy[1])):
        allowed = max(2 * p99(quiet), p99(quiet) + FLOOR)
        assert len(loaded) >= 50, f"only {len(loaded)} answers for {name} in 90 s of load"
        assert p99(loaded) <= allowed, f"{name}: p99 {p99(loaded):.3f} s under load, {p99(quiet):.3f} s idle"


def test_a_server_hands_freed_memory_back_with_one_trimming_thread() -> None:
    """Issue 13 item 8: glibc kept what the thread pool freed, and the soak's server grew for as
    long as it ran. Where glibc is the C library, serving caps its arenas and trims them."""
    import ctypes.util

    from credo.service.work import return_freed_memory

    if ctypes.util.find_library("c") != "libc.so.6":
        pytest.skip("not glibc: nothing to trim")
    assert return_freed_memory(every=3600) and return_freed_memory(every=3600)
    assert [thread.name for thread in threading.enumerate()].count("credo-malloc-trim") == 1
