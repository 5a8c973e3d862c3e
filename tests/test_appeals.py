"""Appeals with a fixed clock passed in, and the notices they and new records bring."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from credo.storage import SqlStore
from tests.ledger_contract import Clock
from tests.stores import initialised
from tests.test_service import ARTICLE, EXAMPLE, auth, is_error

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def setup(url: str, clock: Clock, rulebook: Path = ARTICLE) -> tuple[SqlStore, TestClient, dict[str, str]]:
    store = initialised(url)
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(rulebook, "2019-01-01")
    Ledger(store, clock).ingest(EXAMPLE)
    keys = {
        "zhang": create_key(store, "subject", NOW, subject="p-zhang-wei"),
        "li": create_key(store, "subject", NOW, subject="p-li-na"),
        "reviewer": create_key(store, "reviewer", NOW),
        "provider": create_key(store, "provider", NOW, actions=("buy_flight_ticket",)),
        "court": create_key(store, "agency", NOW, source="court"),
    }
    return store, TestClient(create_app(store, clock), raise_server_exceptions=False), keys


def flight(client: TestClient, keys: dict[str, str], subject: str = "p-zhang-wei") -> str:
    response = client.post("/v1/decisions", json={"subject": subject, "action": "buy_flight_ticket"},
                           headers=auth(keys["provider"]))  # fmt: skip
    return str(response.json()["decision"])


def test_a_reversed_appeal_stops_the_record_counting(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    assert flight(client, keys) == "deny"
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "I paid in full in 2024."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    assert filed["status"] == "pending" and filed["deadline"].startswith("2025-07-01")
    queue = client.get("/v1/appeals", headers=auth(keys["reviewer"])).json()["appeals"]
    assert [item["id"] for item in queue] == [filed["id"]]
    clock.now = NOW + dt.timedelta(days=3)
    resolved = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "reverse", "reason": "receipt seen"},
                           headers=auth(keys["reviewer"])).json()  # fmt: skip
    assert resolved["status"] == "reverse"
    assert flight(client, keys) == "allow"
    (record,) = client.get("/v1/me/records", headers=auth(keys["zhang"])).json()["records"]
    assert record["status"] == "reversed" and record["appeals"][0]["statement"] == "I paid in full in 2024."
    kinds = [notice["kind"] for notice in client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"]]
    assert kinds == ["appeal_resolved"]
    again = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "x"},
                        headers=auth(keys["reviewer"]))  # fmt: skip
    assert is_error(again, 409)


def test_an_upheld_record_keeps_counting_with_the_statement_beside_it(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "Not me."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "judgment stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    assert flight(client, keys) == "deny"
    (record,) = client.get("/v1/me/records", headers=auth(keys["zhang"])).json()["records"]
    assert record["status"] == "counting" and record["appeals"] == [
        {"statement": "Not me.", "filed": filed["filed"], "status": "uphold"}
    ]


def test_an_unanswered_appeal_suspends_the_record_at_its_deadline(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "Wrong person."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    clock.now = NOW + dt.timedelta(days=30) - dt.timedelta(seconds=1)
    assert flight(client, keys) == "deny"  # the deadline has not passed yet
    clock.now = NOW + dt.timedelta(days=30)
    assert flight(client, keys) == "allow"  # P30D passed unanswered: suspended
    notices = client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"]
    assert [notice["kind"] for notice in notices] == ["appeal_lapsed"]
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "late, but it stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    assert flight(client, keys) == "deny"  # reinstated


def test_a_subject_cannot_appeal_another_subjects_record(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    theirs = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "x"}, headers=auth(keys["li"]))
    missing = client.post("/v1/me/appeals", json={"record": "court:nope", "statement": "x"}, headers=auth(keys["li"]))
    assert is_error(theirs, 404) and theirs.json() == missing.json()


def test_while_pending_suspend(store_url: str, clock: Clock, tmp_path: Path) -> None:
    lenient = tmp_path / "rulebook.yaml"
    lenient.write_text(ARTICLE.read_text() + "appeals: {respond_within: P14D, while_pending: suspend}\n")
    _, client, keys = setup(store_url, clock, lenient)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "x"},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    assert filed["deadline"].startswith("2025-06-15")
    assert flight(client, keys) == "allow"


def test_a_new_record_brings_notices_with_reasons_and_the_way_out(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    batch = {"records": [{"subject": "p-li-na", "behaviour": "judgment_defaulted", "at": "2025-05-30", "id": "j-9"}]}
    assert client.post("/v1/records", json=batch, headers=auth(keys["court"])).status_code == 200
    notices = client.get("/v1/me/notices", headers=auth(keys["li"])).json()["notices"]
    kinds = {notice["kind"] for notice in notices}
    assert {"black_list_entered", "measure_applies"} <= kinds
    listed = next(notice for notice in notices if notice["kind"] == "black_list_entered")
    assert listed["reasons"]["opened_by"] == ["court:j-9"]
    assert listed["way_out"]["behaviours"][0]["behaviour"] == "judgment_performed"
    assert "/v1/me/appeals" in listed["appeal"]
    measure = next(notice for notice in notices if notice["kind"] == "measure_applies")
    assert 1 <= len(measure["reasons"]) <= 4
    assert client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"] == []


def test_a_sweep_tells_what_time_alone_changed_once(store_url: str, clock: Clock) -> None:
    from credo.service.sweep import sweep

    store, client, _ = setup(store_url, clock)
    key = create_key(store, "subject", NOW, subject="p-wang-fang")
    first = sweep(store, clock)
    assert first.since is None and first.notices == 0
    clock.now = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)  # her 2024 bill payments have expired
    report = sweep(store, clock)
    notices = client.get("/v1/me/notices", headers=auth(key)).json()["notices"]
    assert report.notices >= 1
    assert [(notice["kind"], notice["from"], notice["to"]) for notice in notices] == [("tier_dropped", "AAA", "AA")]
    clock.now = dt.datetime(2025, 9, 2, tzinfo=dt.UTC)
    sweep(store, clock)
    assert len(client.get("/v1/me/notices", headers=auth(key)).json()["notices"]) == 1
