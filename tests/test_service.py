"""The HTTP API: roles, records in, decisions out, a subject's own file, replay, one error shape."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from credo.service.replay import replay
from credo.storage import SqlStore
from tests.conftest import SCENARIOS
from tests.stores import initialised, postgres_url, sqlite_url

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
EXAMPLE = SCENARIOS / "article" / "example-ledger.csv"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([sqlite_url(tmp_path)])
    else:
        urls = postgres_url()
    url = next(urls)
    store = initialised(url)
    ledger = Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC))
    ledger.publish(ARTICLE, "2019-01-01")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    yield store
    store.close()
    for _ in urls:  # drop the PostgreSQL schema
        pass


@pytest.fixture
def keys(store: SqlStore) -> dict[str, str]:
    return {
        "agency": create_key(store, "agency", NOW, source="court"),
        "provider": create_key(store, "provider", NOW, actions=("buy_flight_ticket", "buy_train_ticket")),
        "subject": create_key(store, "subject", NOW, subject="p-zhang-wei"),
        "other": create_key(store, "subject", NOW, subject="p-li-na"),
        "auditor": create_key(store, "auditor", NOW),
        "reviewer": create_key(store, "reviewer", NOW),
        "admin": create_key(store, "admin", NOW),
    }


@pytest.fixture
def client(store: SqlStore) -> TestClient:
    return TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def is_error(response: Any, status: int) -> bool:
    body = response.json()
    return response.status_code == status and set(body) == {"error"} and body["error"]["status"] == status


def test_public_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json()["ok"] is True
    assert client.get("/v1/rulebook").json()["rulebook"]["rulebook"] == "article-social-credit"
    assert client.get("/v1/rulebook/versions").json()["versions"][0]["position"] == 1
    decisions = client.get("/openapi.json").json()["paths"]["/v1/decisions"]["post"]
    body = decisions["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"subject", "action", "at"} and body["required"] == ["subject", "action"]


def test_agencies_send_records_idempotently(client: TestClient, keys: dict[str, str]) -> None:
    batch = {"records": [{"subject": "x", "behaviour": "judgment_defaulted", "at": "2025-05-01", "id": "j-1"}]}
    first = client.post("/v1/records", json=batch, headers=auth(keys["agency"]))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    again = client.post("/v1/records", json=batch, headers=auth(keys["agency"])).json()
    assert again["duplicates"] == 1 and again["receipts"] == [{**first.json()["receipts"][0], "duplicate": True}]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"behaviour": "teleporting"}, "behaviour"),
        ({"behaviour": "bank_arrears"}, "source"),  # a court may not report bank arrears
        ({"at": "2031-01-01"}, "at"),
        ({"source": "bank"}, "source"),
    ],
)
def test_a_bad_row_rejects_the_batch(
    client: TestClient, keys: dict[str, str], record: dict[str, str], field: str
) -> None:
    good = {"subject": "y", "behaviour": "fraud", "at": "2025-05-01", "id": "ok-1"}
    bad = {**good, "id": "bad-1", **record}
    response = client.post("/v1/records", json={"records": [good, bad]}, headers=auth(keys["agency"]))
    assert is_error(response, 422)
    (detail,) = response.json()["error"]["details"]
    assert (detail["row"], detail["field"]) == (1, field) and detail["reason"]
    assert client.post("/v1/decisions", json={"subject": "y", "action": "buy_flight_ticket"},
                       headers=auth(keys["provider"])).json()["decision"] == "allow"  # fmt: skip


def test_providers_learn_the_decision_and_public_reasons_only(
    client: TestClient, keys: dict[str, str], store: SqlStore
) -> None:
    response = client.post(
        "/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_flight_ticket"}, headers=auth(keys["provider"])
    )
    body = response.json()
    assert response.status_code == 200 and body["decision"] == "deny"
    (measure,) = body["measures"]
    assert measure["measure"] == "flight_ban" and measure["until"].startswith("2026-09-10")
    assert "score" not in str(body) and "court:" not in str(body) and "reasons" not in measure
    assert "/v1/me/explanation" in body["appeal"]
    forbidden = client.post(
        "/v1/decisions", json={"subject": "p-zhang-wei", "action": "enrol_university"}, headers=auth(keys["provider"])
    )
    assert is_error(forbidden, 403)
    logged = client.get(f"/v1/decisions/{body['decision_id']}", headers=auth(keys["auditor"])).json()
    assert logged["measures"][0]["reasons"][0]["opened_by"] == ["court:r0039"]
    assert replay(store, body["decision_id"]).same


def test_a_subject_sees_its_own_decisions_and_nobody_elses(client: TestClient, keys: dict[str, str]) -> None:
    decision_id = client.post(
        "/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_train_ticket"}, headers=auth(keys["provider"])
    ).json()["decision_id"]
    assert client.get(f"/v1/decisions/{decision_id}", headers=auth(keys["subject"])).status_code == 200
    theirs = client.get(f"/v1/decisions/{decision_id}", headers=auth(keys["other"]))
    missing = client.get("/v1/decisions/0123456789abcdef", headers=auth(keys["other"]))
    assert is_error(theirs, 404) and theirs.json() == missing.json()


def test_a_subject_reads_its_own_file(client: TestClient, keys: dict[str, str]) -> None:
    me = client.get("/v1/me", headers=auth(keys["subject"])).json()
    assert me["subject"] == "p-zhang-wei" and me["lists"] == ["dishonest_judgment_debtors"]
    explanation = client.get("/v1/me/explanation", headers=auth(keys["subject"])).json()
    assert explanation["lists"][0]["list"] == "dishonest_judgment_debtors"
    records = client.get("/v1/me/records", headers=auth(keys["subject"])).json()["records"]
    assert [record["id"] for record in records] == ["court:r0039"] and records[0]["status"] == "counting"
    export = client.get("/v1/me/export", headers=auth(keys["subject"])).json()
    assert set(export) >= {"summary", "explanation", "records", "decisions"}


EVERYONE = {"agency", "provider", "subject", "other", "auditor", "reviewer", "admin", "none", "forged"}
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/records", {"records": [{"subject": "z", "behaviour": "fraud", "at": "2025-01-01", "id": "m"}]},
     {"agency"}),
    ("POST", "/v1/decisions", {"subject": "z", "action": "buy_flight_ticket"}, {"provider"}),
    ("GET", "/v1/me", None, {"subject", "other"}),
    ("GET", "/v1/me/explanation", None, {"subject", "other"}),
    ("GET", "/v1/me/records", None, {"subject", "other"}),
    ("GET", "/v1/me/export", None, {"subject", "other"}),
    ("POST", "/v1/keys", {"role": "auditor"}, {"admin"}),
    ("GET", "/v1/appeals", None, {"reviewer"}),
    ("GET", "/v1/rulebook", None, EVERYONE),
    ("GET", "/v1/rulebook/versions", None, EVERYONE),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS)
def test_authorization_matrix(
    client: TestClient, keys: dict[str, str], method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    for role in [*keys, "none", "forged"]:
        headers = {} if role == "none" else auth(keys.get(role, "credo_admin_forged"))
        response = client.request(method, path, json=body, headers=headers)
        if role in allowed:
            assert response.status_code == 200, (role, response.text)
        else:
            expected = 401 if role in {"none", "forged"} else 403
            assert is_error(response, expected), (role, response.status_code, response.text)


def test_errors_share_one_shape(client: TestClient, keys: dict[str, str]) -> None:
    assert is_error(client.get("/v1/nowhere"), 404)
    assert is_error(client.post("/v1/decisions", json={"nope": 1}, headers=auth(keys["provider"])), 422)
    huge = {"records": [{"subject": "s", "behaviour": "fraud", "at": "2025-01-01", "id": "x" * 199}] * 5000}
    assert is_error(client.post("/v1/records", json=huge, headers=auth(keys["agency"])), 413)
    too_many = {
        "records": [{"subject": "s", "behaviour": "fraud", "at": "2025-01-01", "id": str(i)} for i in range(1001)]
    }
    assert is_error(client.post("/v1/records", json=too_many, headers=auth(keys["agency"])), 422)
    assert is_error(client.post("/v1/decisions", json={"subject": "s", "action": "buy_flight_ticket", "at": "later"},
                                headers=auth(keys["provider"])), 422)  # fmt: skip


def test_fifty_subjects_learn_nothing_of_each_other(client: TestClient, keys: dict[str, str], store: SqlStore) -> None:
    people = [f"p-{index:03d}" for index in range(22)] + ["p-zhang-wei", "p-li-na", "p-chen-jie"]
    people += [f"nobody-{index}" for index in range(50 - len(people))]
    subject_keys = {person: create_key(store, "subject", NOW, subject=person) for person in people}
    decision_ids = {
        person: client.post("/v1/decisions", json={"subject": person, "action": "buy_flight_ticket"},
                            headers=auth(keys["provider"])).json()["decision_id"]
        for person in people
    }  # fmt: skip
    not_found = client.get("/v1/decisions/ffffffffffffffffffffffffffffffff", headers=auth(keys["subject"])).json()
    for person, key in subject_keys.items():
        me = client.get("/v1/me", headers=auth(key)).json()
        assert me["subject"] == person
        for other, decision_id in decision_ids.items():
            response = client.get(f"/v1/decisions/{decision_id}", headers=auth(key))
            if other == person:
                assert response.json()["subject"] == person
            else:
                assert response.status_code == 404 and response.json() == not_found


def test_each_key_has_a_rate_limit(store: SqlStore, keys: dict[str, str]) -> None:
    ticks = [0.0]
    client = TestClient(create_app(store, lambda: NOW, rate=2.0, burst=3, ticker=lambda: ticks[0]))
    answers = [client.get("/v1/me", headers=auth(keys["subject"])) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert is_error(answers[-1], 429) and answers[-1].headers["Retry-After"] == "1"
    assert client.get("/v1/me", headers=auth(keys["other"])).status_code == 200  # another key, its own bucket
    ticks[0] = 0.5  # half a second refills one request
    assert client.get("/v1/me", headers=auth(keys["subject"])).status_code == 200


def test_admins_publish_versions_and_make_keys(client: TestClient, keys: dict[str, str]) -> None:
    text = ARTICLE.read_text().replace("fraud: {points: -50,", "fraud: {points: -60,")
    text = text.replace('version: "2019.1"', 'version: "2026.1"')
    published = client.post("/v1/rulebook/versions", json={"text": text, "effective": "2026-01-01"},
                            headers=auth(keys["admin"]))  # fmt: skip
    assert published.status_code == 200 and published.json()["position"] > 1
    assert len(client.get("/v1/rulebook/versions").json()["versions"]) == 2
    past = client.post("/v1/rulebook/versions", json={"text": text, "effective": "2020-01-01"},
                       headers=auth(keys["admin"]))  # fmt: skip
    assert is_error(past, 422) and "--retroactive" in past.json()["error"]["message"]
    refused = {"text": text.replace("lifestyle", "religion"), "effective": "2027-01-01"}
    broken = client.post("/v1/rulebook/versions", json=refused, headers=auth(keys["admin"]))
    assert is_error(broken, 422) and "protected category" in str(broken.json()["error"]["details"])
    made = client.post("/v1/keys", json={"role": "subject", "subject": "p-sun-min"}, headers=auth(keys["admin"]))
    assert client.get("/v1/me", headers=auth(made.json()["key"])).json()["subject"] == "p-sun-min"
    incomplete = client.post("/v1/keys", json={"role": "agency"}, headers=auth(keys["admin"]))
    assert is_error(incomplete, 422)
    # One flow with the desk and `credo keys create`: an expiry, checked the same way.
    dated = client.post("/v1/keys", json={"role": "auditor", "expires": "P30D"}, headers=auth(keys["admin"]))
    assert dated.status_code == 200 and dated.json()["key"].startswith("credo_")
    bad = client.post("/v1/keys", json={"role": "auditor", "expires": "soon"}, headers=auth(keys["admin"]))
    assert is_error(bad, 422) and bad.json()["error"]["details"][0]["field"] == "expires"


def test_auditors_replay_decisions(client: TestClient, keys: dict[str, str]) -> None:
    asked = client.post("/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_flight_ticket"},
                        headers=auth(keys["provider"])).json()  # fmt: skip
    replayed = client.get(f"/v1/decisions/{asked['decision_id']}/replay", headers=auth(keys["auditor"])).json()
    assert replayed["same"] is True and replayed["logged"]["decision"] == "deny"
    assert is_error(client.get(f"/v1/decisions/{asked['decision_id']}/replay", headers=auth(keys["subject"])), 403)
    assert is_error(client.get("/v1/decisions/nope/replay", headers=auth(keys["auditor"])), 404)
