"""Schemathesis over /openapi.json: no 5xx and no response outside the schema, for every role."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from tests.ledger_contract import ARTICLE, EXAMPLE
from tests.stores import initialised, sqlite_url

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
KEYS: dict[str, str] = {}


def make_app() -> Any:
    """A service over a fresh ledger, built when the module is collected (schemathesis needs the schema then)."""
    folder = Path(tempfile.mkdtemp(prefix="credo-openapi-"))
    store = initialised(sqlite_url(folder))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    KEYS.update(
        agency=create_key(store, "agency", NOW, source="court"),
        provider=create_key(store, "provider", NOW, actions=("buy_flight_ticket",)),
        subject=create_key(store, "subject", NOW, subject="p-zhang-wei"),
        reviewer=create_key(store, "reviewer", NOW),
        auditor=create_key(store, "auditor", NOW),
    )
    return create_app(store, lambda: NOW, rate=1e6, burst=10**6)


schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())
ROLE_OF = {"/v1/records": "agency", "/v1/decisions": "provider", "/v1/appeals": "reviewer"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_contract(case: Any) -> None:
    path = case.operation.path
    role = next((role for prefix, role in ROLE_OF.items() if path.startswith(prefix)), "subject")
    if path.startswith("/v1/decisions/"):
        role = "auditor"
    # Semantic refusals (an unknown behaviour, a date that is not one) are 422s by design: what
    # must never happen is a server error or an answer outside the documented schema.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEYS[role]}"},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance],
    )


def test_every_route_documents_its_answers() -> None:
    """/openapi.json describes every answer: each operation's 200 has a schema with fields, and
    each refusal it declares is the one error shape (issue 12 item 1)."""
    from fastapi.testclient import TestClient

    document = TestClient(make_app()).get("/openapi.json").json()
    components = document["components"]["schemas"]
    operations = [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) == 17, [f"{method} {path}" for method, path, _ in operations]
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        success = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        reference = success.get("schema", {}).get("$ref", "")
        assert reference.startswith("#/components/schemas/"), f"{where}: no response model ({success})"
        described = components[reference.rsplit("/", 1)[1]]
        assert described.get("properties"), f"{where}: the answer's schema names no field"
        refusals = {status: answer for status, answer in operation["responses"].items() if status != "200"}
        assert "503" in refusals, f"{where}: a broken chain or a busy store (503) is not declared"
        for status, answer in refusals.items():
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}, f"{where} {status}: {schema}"
    error = components["ErrorBody"]
    assert set(error["required"]) == {"status", "code", "message", "details"}
