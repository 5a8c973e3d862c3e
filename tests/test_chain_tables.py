"""Every table that matters is in a hash chain, and a broken chain is acted on (issue 13, items 2-3).

Each test edits the database behind credo's back with plain SQL, as an adversary with the
database's password would, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from credo.cli import app as cli
from credo.ledger.book import Ledger
from credo.ledger.chain import canonical, micros
from credo.service import create_app, create_key
from credo.service.sweep import sweep
from credo.storage import SqlStore, open_store
from credo.storage.chains import check_head, record_checkpoint
from credo.storage.logs import AppealRow, LoggedDecision, Plan, StoredKey
from credo.storage.outbox import Owed, StoredNotice
from tests.ledger_contract import ARTICLE, EXAMPLE, Clock, write_csv
from tests.stores import initialised

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ZHANG = "p-zhang-wei"


def tamper(store: SqlStore, *statements: str) -> None:
    """Change the database behind credo's back."""
    with store.engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
        connection.commit()


def populate(store: SqlStore) -> None:
    """Three rows in each service table, through credo's own write path."""
    for i in range(3):
        store.add_key(StoredKey(f"{i:064x}", "auditor", None, (), None, 1_000 + i))
    store.log_decisions(
        [LoggedDecision(f"d{i}", ZHANG, "buy_flight_ticket", 1, 2 + i, 1, 107, {"decision": "allow"}) for i in range(3)]
    )
    no_corrections: Plan = lambda appeal, actions: []  # noqa: E731
    for i in range(3):
        row = AppealRow(f"a{i}", 30, ZHANG, "not me", 10 + i, 100 + i, "count", {})
        store.file_appeal(lambda row=row: row, no_corrections)
        store.settle_appeal(f"a{i}", "uphold", "checked", "reviewer", lambda i=i: 20 + i, no_corrections)
        owed = Owed(1_000 + i, "records", 30 + i, 0, 0, {})
        store.deliver(owed, [StoredNotice(f"n{i}", ZHANG, "records", 30 + i, {"message": "m"})], True, 30 + i)
        store.record_sweep(40 + i)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    store = initialised(store_url)
    Ledger(store, Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))).publish(ARTICLE, "2019-01-01")
    Ledger(store, Clock(NOW)).ingest(EXAMPLE)
    populate(store)
    yield store
    store.close()


EDITS = {
    "api_keys": "UPDATE api_keys SET role = 'admin' WHERE seq = 2",
    "decisions": 'UPDATE decisions SET answer = \'{"decision": "deny"}\' WHERE seq = 2',
    "appeals": "UPDATE appeals SET statement = 'I confess' WHERE seq = 2",
    "appeal_events": "UPDATE appeal_events SET event = 'reverse' WHERE seq = 2",
    "notices": "UPDATE notices SET body = '{}' WHERE seq = 2",
    "sweeps": "UPDATE sweeps SET at_us = 999 WHERE seq = 2",
}
LABELS = {"api_keys": "key", "decisions": "decision d1", "appeals": "appeal a1", "appeal_events": "appeal event a1",
          "notices": "notice n1", "sweeps": "sweep"}  # fmt: skip
FORGED = {
    "api_keys": "INSERT INTO api_keys (key_hash, role, created_us) VALUES ('{key}', 'admin', 0)",
    "decisions": "INSERT INTO decisions (id, subject, action, at_us, decided_us, rulebook_position, ledger_position, "
    "answer) VALUES ('forged', 'p-zhang-wei', 'buy_flight_ticket', 0, 0, 1, 1, '{{}}')",
    "appeals": "INSERT INTO appeals (id, record_position, subject, statement, filed_us, deadline_us, while_pending) "
    "VALUES ('forged', 30, 'p-zhang-wei', 'x', 0, 0, 'count')",
    "appeal_events": "INSERT INTO appeal_events (appeal_id, event, reason, actor, at_us) VALUES "
    "('a0', 'reverse', 'x', 'y', 0)",
    "notices": "INSERT INTO notices (id, subject, kind, created_us, body) VALUES ('forged', 'p-zhang-wei', 'x', 0, "
    "'{{}}')",
    "sweeps": "INSERT INTO sweeps (at_us) VALUES (7)",
}


@pytest.mark.parametrize("table", sorted(EDITS))
def test_an_edit_to_any_table_is_named(store: SqlStore, table: str) -> None:
    assert store.verify().ok
    tamper(store, EDITS[table])
    report = store.verify()
    assert not report.ok and report.chain == table and report.first_bad == 2
    assert f"{table}: entry 2 ({LABELS[table]}" in (report.problem or "") and "altered" in (report.problem or "")


@pytest.mark.parametrize("table", sorted(FORGED))
def test_a_row_inserted_into_any_table_is_named(store: SqlStore, table: str) -> None:
    tamper(store, FORGED[table].format(key=hashlib.sha256(b"credo_admin_mine").hexdigest()))
    report = store.verify()
    assert not report.ok and report.chain == table
    assert "inserted behind credo's back" in (report.problem or "")


@pytest.mark.parametrize("table", sorted(EDITS))
def test_a_row_deleted_from_any_table_is_named(store: SqlStore, table: str) -> None:
    tamper(store, f"DELETE FROM {table} WHERE seq = 2")
    report = store.verify()
    assert not report.ok and report.chain == table and report.first_bad == 2
    assert "entry 2 is missing" in (report.problem or "")


def test_an_admin_key_inserted_with_a_place_in_the_chain_is_named(store: SqlStore) -> None:
    forged = hashlib.sha256(b"credo_admin_mine").hexdigest()
    tamper(store, f"INSERT INTO api_keys (key_hash, role, created_us, seq, hash) VALUES ('{forged}', 'admin', 0, 4, "
                  f"'{'f' * 64}')")  # fmt: skip
    report = store.verify()
    assert not report.ok and report.chain == "api_keys" and report.first_bad == 4


def test_deleting_the_newest_entries_is_caught_against_a_kept_head(store: SqlStore) -> None:
    head = record_checkpoint(store, store.verify(), NOW, whole=True)
    assert head is not None and check_head(store, store.verify(), head).ok
    tamper(store, "DELETE FROM decisions WHERE seq = 3", "DELETE FROM records WHERE position = 107")
    report = store.verify()
    assert report.ok  # what is left chains by itself: only the kept head tells
    held = check_head(store, report, head)
    assert not held.ok and "decisions: entries 3 to 3 are missing" in (held.problem or "")
    tamper(store, "DELETE FROM checkpoints")  # and the checkpoints that knew the head
    held = check_head(store, store.verify(), head)
    assert not held.ok and "is not in this ledger" in (held.problem or "")


def test_a_negative_zero_confidence_verifies(store_url: str, tmp_path: Path) -> None:
    store = initialised(store_url)
    Ledger(store, Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))).publish(ARTICLE, "2019-01-01")
    ledger = Ledger(store, Clock(NOW))
    ledger.ingest(write_csv(tmp_path, ["a,dangerous_driving,2024-01-01,traffic_camera,c1,,-0.0"]))
    assert store.verify().ok
    # An entry hashed before the rule (with "-0.0") verifies too, whatever sign the store kept.
    fields = ("b", "person", "dangerous_driving", 0, "traffic_camera", "c2", None, -0.0, 0, True)
    digest = hashlib.sha256((store.verify().chains[0].head + canonical("record", fields, True)).encode()).hexdigest()
    tamper(store, "INSERT INTO records (position, hash, subject, subject_kind, behaviour, at_us, source, source_id, "
                  f"confidence, recorded_us, pending) VALUES (3, '{digest}', 'b', 'person', 'dangerous_driving', 0, "
                  "'traffic_camera', 'c2', -0.0, 0, true)")  # fmt: skip
    assert store.verify().ok and store.verify().entries == 3
    tamper(store, "UPDATE records SET confidence = 0.5 WHERE position = 3")
    assert store.verify().first_bad == 3
    store.close()


def test_a_ledger_from_before_the_chains_upgrades_and_verifies(store_url: str) -> None:
    old = open_store(store_url)
    old.migrate("0003")
    old.part_rows = None  # a credo of 0003 wrote no file in parts: it never looks for one pending
    Ledger(old, Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC))).publish(ARTICLE, "2019-01-01")
    tamper(old, "INSERT INTO api_keys VALUES ('old', 'admin', NULL, NULL, NULL, 5)",
           "INSERT INTO decisions VALUES ('old', 's', 'a', 1, 2, 1, 1, '{}')",
           "INSERT INTO appeals VALUES ('old', 1, 's', 'x', 1, 2, 'count')",
           "INSERT INTO appeal_events VALUES ('old', 'uphold', 'r', 'x', 3)",
           "INSERT INTO notices VALUES ('old', 's', 'k', 4, '{}')", "INSERT INTO sweeps VALUES (6)")  # fmt: skip
    old.close()
    newer = open_store(store_url)
    newer.require_ledger()
    report = newer.verify()
    assert report.ok and [chain.entries for chain in report.chains] == [1, 1, 0, 1, 1, 1, 1, 1]  # no revocation yet
    Ledger(newer, Clock(NOW)).ingest(EXAMPLE, notify=False)  # the records the appeals dispute
    before = newer.verify().entries
    populate(newer)  # the chains go on from the rows the migration found
    assert newer.verify().ok and newer.verify().entries == before + 6 * 3
    tamper(newer, "UPDATE decisions SET answer = 'x' WHERE id = 'old'")
    assert newer.verify().chain == "decisions" and newer.verify().first_bad == 1
    newer.close()


def test_a_check_from_the_checkpoint_reads_only_what_came_after(store: SqlStore) -> None:
    record_checkpoint(store, store.verify(), NOW, whole=True)
    tamper(store, "UPDATE decisions SET answer = 'x' WHERE seq = 1")  # before the checkpoint
    assert store.verify(whole=False).ok  # left to the whole check (credo verify, credo sweep)
    assert not store.verify().ok
    store.log_decisions([LoggedDecision("d9", ZHANG, "a", 1, 9, 1, 107, {})])
    tamper(store, "UPDATE decisions SET answer = 'x' WHERE seq = 4")  # after it
    assert store.verify(whole=False).first_bad == 4


def refused(response: object, chain: str) -> bool:
    body = response.json()  # type: ignore[attr-defined]
    error = body["error"]
    return (
        response.status_code == 503  # type: ignore[attr-defined]
        and error["code"] == "unavailable"
        and "hash chain is broken" in error["message"]
        and error["details"][0]["chain"] == chain
    )


def test_a_server_over_a_tampered_ledger_refuses_to_answer(store: SqlStore) -> None:
    headers = {"Authorization": f"Bearer {create_key(store, 'subject', NOW, subject=ZHANG)}"}
    tamper(store, "UPDATE records SET behaviour = 'charity_donation' WHERE position = 40")
    client = TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False)
    health = client.get("/healthz")
    assert refused(health, "ledger") and health.json()["error"]["details"][0]["entry"] == 40
    assert "entry 40 (record) does not match its hash" in health.json()["error"]["message"]
    for path in ("/v1/me", "/v1/me/explanation", "/v1/me/records", "/v1/rulebook"):
        assert refused(client.get(path, headers=headers), "ledger"), path
    assert client.get("/openapi.json").status_code == 200  # the API's description reads no ledger


def test_a_running_server_finds_a_tamper_at_its_next_check(store: SqlStore) -> None:
    headers = {"Authorization": f"Bearer {create_key(store, 'subject', NOW, subject=ZHANG)}"}
    provider = {"Authorization": f"Bearer {create_key(store, 'provider', NOW, actions=('buy_flight_ticket',))}"}
    client = TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False)
    asked = client.post("/v1/decisions", json={"subject": ZHANG, "action": "buy_flight_ticket"}, headers=provider)
    assert asked.status_code == 200 and client.get("/v1/me", headers=headers).status_code == 200
    tamper(store, "UPDATE decisions SET answer = '{}' WHERE seq = 4")  # the decision just logged
    client.app.state.integrity.check()  # type: ignore[attr-defined]
    assert refused(client.get("/v1/me", headers=headers), "decisions")
    again = client.post("/v1/decisions", json={"subject": ZHANG, "action": "buy_flight_ticket"}, headers=provider)
    assert refused(again, "decisions")
    restarted = TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False)
    assert refused(restarted.get("/healthz"), "decisions")  # checked from the last checkpoint on


def test_a_whole_check_by_the_sweep_reaches_a_running_server(store: SqlStore) -> None:
    subject = create_key(store, "subject", NOW, subject=ZHANG)
    headers = {"Authorization": f"Bearer {subject}"}
    client = TestClient(create_app(store, lambda: NOW, recheck=0.0), raise_server_exceptions=False)
    assert client.get("/v1/me", headers=headers).status_code == 200
    worker = client.app.state.integrity.worker  # type: ignore[attr-defined]
    if worker is not None:
        worker.join()
    tamper(store, "UPDATE api_keys SET role = 'admin' WHERE seq = 1")  # before the server's checkpoint
    assert client.get("/v1/me", headers=headers).status_code == 200  # its checks start from there
    assert sweep(store, lambda: NOW, whole=False).chain is None  # a quick sweep starts there too
    report = sweep(store, lambda: NOW)
    assert report.chain is not None and "api_keys: entry 1" in report.chain and report.notices == 0
    client.get("/v1/me", headers=headers)  # starts the next check on a worker thread
    client.app.state.integrity.worker.join()  # type: ignore[attr-defined]
    answer = client.get("/healthz")
    assert refused(answer, "api_keys") and answer.json()["error"]["details"][0]["entry"] == 1


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_keeps_a_head_and_warns_over_a_broken_chain(store: SqlStore, store_url: str) -> None:
    code, out, err = run("verify", "--store", store_url)
    assert code == 0 and "head " in out and "credo verify --head" in err
    head = out.split("head ")[-1].strip()
    assert run("verify", "--head", head, "--store", store_url)[0] == 0
    question = ("explain", "--subject", ZHANG, "--at", "2025-06-01", "--json", "--store", store_url)
    code, _, err = run(*question)
    assert code == 0 and "warning" not in err

    tamper(store, "DELETE FROM notices WHERE seq = 3")  # the newest: only the head tells
    assert run("verify", "--store", store_url)[0] == 0
    code, _, err = run("verify", "--head", head, "--store", store_url)
    assert code == 1 and "notices: entries 3 to 3 are missing" in err
    code, out, err = run(*question)  # the failed check was recorded: a question warns
    assert code == 0 and out and "credo: warning: the ledger's hash chain is broken" in err

    tamper(store, "UPDATE notices SET kind = 'x' WHERE seq = 1")
    code, _, err = run("verify", "--store", store_url)
    assert code == 1 and "notices: entry 1 (notice n0) does not match its hash" in err
    code, _, err = run("sweep", "--store", store_url)
    assert code == 1 and "nothing was swept" in err


def test_the_decision_log_chains_its_group_commits(store: SqlStore) -> None:
    provider = create_key(store, "provider", NOW, actions=("buy_flight_ticket",))
    client = TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False)
    for subject in ("p-zhang-wei", "p-li-na", "p-zhao-lei"):
        answer = client.post("/v1/decisions", json={"subject": subject, "action": "buy_flight_ticket"},
                             headers={"Authorization": f"Bearer {provider}"})  # fmt: skip
        assert answer.status_code == 200
    report = store.verify()
    assert report.ok and dict((c.chain, c.entries) for c in report.chains)["decisions"] == 6
    assert micros(NOW) > 0


def test_the_checkpoints_are_a_chain_too(store: SqlStore) -> None:
    for i in range(3):
        store.log_decisions([LoggedDecision(f"c{i}", ZHANG, "a", 1, 9, 1, 107, {})])
        record_checkpoint(store, store.verify(), NOW, whole=True)
    tamper(store, "UPDATE checkpoints SET verified_us = 1 WHERE seq = 1")
    assert store.verify().chain == "checkpoints" and store.verify().first_bad == 1
    tamper(store, "UPDATE checkpoints SET problem = NULL, verified_us = 2 WHERE seq = 3")
    report = store.verify(whole=False)  # a server's check: the newest against the one before
    assert report.chain == "checkpoints" and report.first_bad == 3
