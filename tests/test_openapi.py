"""Schemathesis over /openapi.json: no 5xx and no response outside the schema, for every role."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

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
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
