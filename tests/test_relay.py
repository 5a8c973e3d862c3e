"""The relay beside `credo serve` (credo.service.relay): a served write's notices are delivered by
another process, a moment after the write answered, and the relay does not outlive its server."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from credo.ledger.book import Ledger
from credo.service.delivery import Deliverer
from credo.service.relay import Relay, spawn
from credo.storage import SqlStore
from tests.ledger_contract import Clock
from tests.service_process import Server, prepare, recent
from tests.test_appeals import NOW, setup
from tests.test_outbox import BATCH, crash_on_delivery, notice_counts, owed
from tests.test_service import auth


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(part) for part in found.read_text().split()] if found.exists() else []


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_the_relay_delivers_a_served_writes_notices_and_dies_with_its_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    keys = prepare(url, ["p-relay"])
    server = Server(url)
    server.start()
    try:
        assert server.process is not None
        (relay,) = children(server.process.pid)  # one relay, started by the server itself
        # Its store's URL (which may hold a password) is not on its command line, which `ps` shows anyone.
        command = Path(f"/proc/{relay}/cmdline").read_bytes().split(b"\0")
        assert url.encode() not in command and b"credo.service.relay" in command, command
        row = {"subject": "p-relay", "behaviour": "judgment_defaulted", "at": recent(random.Random(1)),
               "id": "relay-1"}  # fmt: skip
        sent = httpx.post(f"{server.base}/v1/records", json={"records": [row]},
                          headers={"Authorization": f"Bearer {keys.agency}"}, timeout=30)  # fmt: skip
        assert sent.status_code == 200, sent.text
        deadline, notices = time.monotonic() + 30, []
        while not notices and time.monotonic() < deadline:
            answer = httpx.get(
                f"{server.base}/v1/me/notices", headers={"Authorization": f"Bearer {keys.subjects['p-relay']}"}
            )
            notices = answer.json()["notices"]
            time.sleep(0.05)
        assert [notice["kind"] for notice in notices] == ["records"]
        assert "dishonest" in str(notices[0]).lower() or "black" in str(notices[0]).lower()
        server.kill()  # SIGKILL: the server cannot stop its relay; the relay sees its parent gone
        deadline = time.monotonic() + 10
        while alive(relay) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(relay)
    finally:
        server.stop()


def owed_write(url: str, monkeypatch: pytest.MonkeyPatch) -> SqlStore:
    """A store with one write whose notices are owed (the writer died before delivering them)."""
    store, client, keys = setup(url, Clock(NOW))
    with monkeypatch.context() as patched:
        crash_on_delivery(patched)
        assert client.post("/v1/records", json=BATCH, headers=auth(keys["court"])).status_code == 200
    assert owed(store) == 1
    return store


def test_the_relay_delivers_nothing_over_a_broken_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No notice tells a person what an altered ledger says: the relay checks the chains as the
    server does, and delivers only while they verify."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = owed_write(url, monkeypatch)
    ticks = iter(range(3))
    assert Deliverer(store, Ledger(store)).follow(lambda: next(ticks, None) is not None, lambda: False, 0.01) == 0
    assert owed(store) == 1
    with store.engine.connect() as connection:
        # one of the owed write's own records: after the last checkpoint, so the relay's start sees it
        connection.execute(text("UPDATE records SET behaviour = 'fraud' WHERE source_id = 'b-3'"))
        connection.commit()
    relay = spawn(url, os.getpid())
    try:
        time.sleep(4)  # long enough to start and deliver, had it trusted the ledger
        assert relay.poll() is None and owed(store) == 1 and notice_counts(store) == {}
    finally:
        relay.terminate()
        relay.wait(timeout=30)
    with store.engine.connect() as connection:
        connection.execute(text("UPDATE records SET behaviour = 'judgment_defaulted' WHERE source_id = 'b-3'"))
        connection.commit()
    assert store.verify().ok
    ticks = iter(range(3))
    assert Deliverer(store, Ledger(store)).follow(lambda: next(ticks, None) is not None, lambda: True, 0.01) == 20


def test_a_relay_that_dies_is_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = owed_write(url, monkeypatch)
    with Relay(url, every=0.1) as relay:
        assert relay.process is not None
        relay.process.kill()  # the OOM killer, say
        deadline = time.monotonic() + 30
        while (relay.starts < 2 or owed(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.starts == 2 and owed(store) == 0 and sum(notice_counts(store).values()) == 20
    assert relay.process.poll() is not None  # stopped with the server


def test_a_relay_retires_after_its_lifetime_and_a_fresh_one_delivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay retires (its C heap grew with its age, issue 13 item 8) and the server starts a
    fresh one at once; what was owed when one retired is the next one's to deliver."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store, client, keys = setup(url, Clock(NOW))
    with Relay(url, every=0.2, lifetime=1.5) as relay:
        deadline = time.monotonic() + 60
        first = relay.process
        while relay.starts < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.starts >= 3 and first is not None and first.returncode == 0  # retired, not died
        with monkeypatch.context() as patched:
            crash_on_delivery(patched)
            assert client.post("/v1/records", json=BATCH, headers=auth(keys["court"])).status_code == 200
        while owed(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # and one more retirement: the next relay's catching up sends nothing twice
        assert owed(store) == 0 and sum(notice_counts(store).values()) == 20
    assert relay.process is not None and relay.process.poll() is not None


def test_a_relay_whose_lifetime_is_not_a_number_keeps_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from credo.service import relay

    for written, seconds in (("30", 30.0), ("0", relay.LIFETIME), ("soon", relay.LIFETIME), ("nan", relay.LIFETIME)):
        monkeypatch.setenv(relay.LIFETIME_VARIABLE, written)
        assert relay._lifetime() == seconds


def test_a_relay_over_a_store_that_is_down_waits_for_it_without_a_traceback(tmp_path: Path) -> None:
    """Started (or started again) while the database is unreachable, the relay says so once and
    keeps trying; before, it died with a traceback and was started again every five seconds."""
    said_path = tmp_path / "relay.err"
    with said_path.open("wb") as said_file:
        relay = spawn("postgresql+psycopg://postgres@127.0.0.1:1/credo", os.getpid(), stderr=said_file)
    try:
        deadline = time.monotonic() + 60  # a loaded machine takes a while to import and to try
        while "delivering nothing" not in said_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert relay.poll() is None  # still there, trying
    finally:
        relay.terminate()
        relay.wait(timeout=30)
    said = said_path.read_text()
    assert "Traceback" not in said and said.count("cannot use the store") == 1
    assert "delivering nothing until the chains can be checked" in said
