"""The fuzzer, part two (issue 16 item 10): every HTTP route with hostile values in its fields.

The service runs over a SQLite store with a key of each role. Whatever is sent: never a 5xx,
never a traceback, every refusal in the one JSON error shape, and nothing half-written (after a
refused request the ledger head, the decision log, the appeals and the notices are unchanged).
Schemathesis drives every operation of the OpenAPI document with these strategies spliced into
its bodies and paths; direct Hypothesis tests put hostile values in each route's fields.
Budgets: tests/strategies.py fuzz_settings (CREDO_FUZZ=long for a long run).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import tempfile
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import currently_in_test_context, example, given, note
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from credo.ledger.book import Ledger
from credo.rules import loads_rulebook
from credo.service import create_app, create_key
from credo.service.auth import digest
from credo.service.models import MAX_BODY
from credo.storage import open_store
from tests.ledger_contract import ARTICLE, EXAMPLE
from tests.stores import initialised, sqlite_url
from tests.strategies import (
    WHITESPACE,
    clean,
    deep_json,
    fuzz_settings,
    hostile_numbers,
    hostile_rulebooks,
    hostile_text,
    instants_text,
    json_values,
)

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
RULEBOOK = loads_rulebook(ARTICLE.read_text())
ROLES = ("agency", "provider", "subject", "reviewer", "auditor", "admin")
TABLES = ("decisions", "appeals", "appeal_events", "notices", "api_keys", "corrections", "rulebook_versions")


class World:
    """A store with the article's rulebook and example ledger, one key of each role, a pending
    appeal and a logged decision; the service over it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = initialised(sqlite_url(folder))
        Ledger(self.store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
        Ledger(self.store, lambda: NOW).ingest(EXAMPLE)
        self.keys = {
            "agency": create_key(self.store, "agency", NOW, source="court"),
            "provider": create_key(self.store, "provider", NOW, actions=("buy_flight_ticket", "buy_train_ticket")),
            "subject": create_key(self.store, "subject", NOW, subject="p-zhang-wei"),
            "reviewer": create_key(self.store, "reviewer", NOW),
            "auditor": create_key(self.store, "auditor", NOW),
            "admin": create_key(self.store, "admin", NOW),
        }
        self.client = TestClient(
            create_app(self.store, lambda: NOW, rate=1e9, burst=10**9), raise_server_exceptions=False
        )
        appeal = self.post("subject", "/v1/me/appeals", {"record": "court:r0039", "statement": "not me"})
        self.appeal_id = appeal.json().get("id", "none")
        decision = self.post("provider", "/v1/decisions", {"subject": "p-zhang-wei", "action": "buy_flight_ticket"})
        self.decision_id = decision.json().get("decision_id", "none")

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def post(self, role: str, path: str, body: Any) -> Any:
        """JSON as json.dumps writes it (ASCII, so a lone surrogate travels as an escape)."""
        if currently_in_test_context():
            note(f"POST {path} {json.dumps(body)[:400]}")
        headers = self.headers(role) | {"Content-Type": "application/json"}
        return self.client.post(path, content=json.dumps(body).encode(), headers=headers)

    def footprint(self) -> dict[str, int]:
        """What a refused request must leave as it was."""
        with self.store.engine.connect() as connection:
            counts = {
                table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()) for table in TABLES
            }
        return {"head": self.store.head(), **counts}


@cache
def world() -> World:
    return World(Path(tempfile.mkdtemp(prefix="credo-fuzz-")))


def answered_well(response: Any) -> None:
    """No 5xx, no traceback, and a refusal in the one error shape."""
    note(f"answer {response.status_code}: {response.text[:300]}")
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["status"] == response.status_code


def refused_cleanly(response: Any, before: dict[str, int], after: dict[str, int], logs: tuple[str, ...] = ()) -> None:
    """A refusal writes nothing; an answer writes only to the tables it should (logs)."""
    answered_well(response)
    if response.status_code != 200:
        assert after == before, f"refused with {response.status_code} yet written: {before} -> {after}"
    else:
        assert {k: v for k, v in after.items() if k not in logs and k != "head"} == {
            k: v for k, v in before.items() if k not in logs and k != "head"
        }


def field_value(valid: Any, share: int = 2) -> st.SearchStrategy[Any]:
    """Something hostile in one draw of `share`, else the valid value (so that the other fields
    of a request let it reach the code that reads the hostile one)."""
    hostile = st.one_of(
        hostile_text((valid,) if isinstance(valid, str) else ("x",)),
        hostile_numbers(),
        instants_text(),
        json_values(max_leaves=4),
    )
    return st.integers(0, share - 1).flatmap(lambda n: hostile if n == 0 else st.just(valid))


def records(index: int) -> st.SearchStrategy[dict[str, Any]]:
    valid = {
        "subject": "p-zhang-wei",
        "behaviour": "fraud",
        "at": "2024-03-01",
        "id": f"fz-{index}",
        "kind": "person",
        "evidence": "seen",
        "confidence": 0.5,
        "source": "court",
    }
    return st.fixed_dictionaries(
        {
            "subject": field_value("p-zhang-wei", 4),
            "behaviour": field_value("fraud", 4),
            "at": field_value("2024-03-01", 4),
            "id": field_value(f"fz-{index}", 4),
            # p-zhang-wei is a person: "organization" contradicts the earlier records
            "kind": st.sampled_from(["person", "organization", "Person", "person ", ""]),
        },
        optional={
            name: field_value(value, 4)
            for name, value in valid.items()
            if name not in ("subject", "behaviour", "at", "id", "kind")
        },
    )


@fuzz_settings(40)
@given(st.lists(st.integers(0, 10**6).flatmap(records), min_size=1, max_size=3))
@example([{"subject": "o-004", "behaviour": "fraud", "at": "2024-03-01", "id": "k-1", "kind": "person"}])
@example([{"subject": "p-nul\x00", "behaviour": "fraud", "at": "2024-03-01", "id": "n-1"}])
@example([{"subject": "p-a", "behaviour": "fraud", "at": "0001-01-01T00:00:00+14:00", "id": "t-1"}])
def test_records_route(batch: list[dict[str, Any]]) -> None:
    """Hostile records: a 200 with receipts, or a refusal that writes nothing (a kind that
    contradicts the subject's earlier records is refused too, and not written: issue 13 item 1)."""
    place = world()
    before = place.footprint()
    response = place.post("agency", "/v1/records", {"records": batch})
    after = place.footprint()
    refused_cleanly(response, before, after, logs=("notices",))
    if response.status_code == 200:
        for receipt in response.json()["receipts"]:
            stored = place.store.record(position=receipt["position"])
            assert stored is not None and clean(stored.subject) and clean(stored.source_id), f"stored {stored!r}"


@fuzz_settings(40)
@given(field_value("p-zhang-wei"), field_value("buy_flight_ticket"), st.one_of(st.none(), instants_text()))
@example("p-zhang-wei", "buy_flight_ticket", "9999-12-31T23:59:59+00:00")
@example("p-zhang-wei\x00", "buy_flight_ticket", None)
def test_decisions_route(subject: Any, action: Any, at: Any) -> None:
    place = world()
    body = {"subject": subject, "action": action} | ({} if at is None else {"at": at})
    before = place.footprint()
    response = place.post("provider", "/v1/decisions", body)
    refused_cleanly(response, before, place.footprint(), logs=("decisions",))


@fuzz_settings(20)
@given(st.sampled_from(WHITESPACE), st.sampled_from(["", *WHITESPACE]), st.sampled_from(["p-zhang-wei", "p-li-na"]))
def test_one_subject_one_spelling(before: str, after: str, subject: str) -> None:
    """A padded subject is refused or decided as the subject itself (issue 16 item 6)."""
    place = world()
    plain = place.post("provider", "/v1/decisions", {"subject": subject, "action": "buy_flight_ticket"})
    padded = place.post(
        "provider", "/v1/decisions", {"subject": before + subject + after, "action": "buy_flight_ticket"}
    )
    answered_well(padded)
    if padded.status_code == 200 and plain.status_code == 200:
        assert padded.json()["decision"] == plain.json()["decision"]


@fuzz_settings(40)
@given(field_value("court:r0039"), field_value("I paid it"))
@example("²", "I paid it")
@example("99999999999999999999999", "I paid it")
@example("court:r0039\x00", "I paid it")
def test_appeals_route(record: Any, statement: Any) -> None:
    place = world()
    before = place.footprint()
    response = place.post("subject", "/v1/me/appeals", {"record": record, "statement": statement})
    refused_cleanly(response, before, place.footprint(), logs=("appeals", "appeal_events", "corrections", "notices"))


@fuzz_settings(30)
@given(st.one_of(st.none(), hostile_text()), field_value("uphold"), field_value("checked"))
def test_resolve_route(appeal_id: str | None, outcome: Any, reason: Any) -> None:
    """Hostile appeal ids in the path (NUL included), outcomes and reasons. The fixture's one
    pending appeal is used only with a hostile outcome, so that it stays pending."""
    place = world()
    if appeal_id is None and outcome in ("uphold", "reverse"):
        appeal_id = place.appeal_id + "x"
    path = f"/v1/appeals/{quote(appeal_id if appeal_id is not None else place.appeal_id, safe='')}/resolve"
    before = place.footprint()
    response = place.client.post(path, json={"outcome": outcome, "reason": reason}, headers=place.headers("reviewer"))
    refused_cleanly(response, before, place.footprint(), logs=("appeal_events", "corrections", "notices"))


@fuzz_settings(30)
@given(hostile_text(("0" * 32, "abc")), st.sampled_from(["", "/replay"]), st.sampled_from(["auditor", "subject"]))
def test_logged_decision_routes(decision_id: str, suffix: str, role: str) -> None:
    place = world()
    response = place.client.get(f"/v1/decisions/{quote(decision_id, safe='')}{suffix}", headers=place.headers(role))
    answered_well(response)


@fuzz_settings(40)
@given(
    st.sampled_from(ROLES),
    field_value("court"),
    st.lists(field_value("buy_flight_ticket"), max_size=3),
    field_value("p-zhang-wei"),
)
@example("agency", "court ", [], None)
@example("provider", None, ["buy_flight_ticket,stay_at_star_hotel"], None)
@example("subject", None, [], "p-zhang-wei\x00")
def test_keys_route_stores_what_it_checked(role: str, source: Any, actions: Any, subject: Any) -> None:
    """A key is refused, or stores exactly a source and actions of the rulebook (issue 16 item 8);
    whatever it was made with, using it breaks nothing."""
    place = world()
    body = {"role": role, "source": source, "actions": actions, "subject": subject}
    before = place.footprint()
    response = place.post("admin", "/v1/keys", body)
    refused_cleanly(response, before, place.footprint(), logs=("api_keys",))
    if response.status_code != 200:
        return
    key = response.json()["key"]
    stored = place.store.key(digest(key))
    assert stored is not None
    if role == "agency":
        assert stored.source in RULEBOOK.sources, f"agency key stored with source {stored.source!r}"
    if role == "provider":
        assert set(stored.actions) <= set(RULEBOOK.actions), f"provider key stored with actions {stored.actions!r}"
    use = {
        "agency": (
            "POST",
            "/v1/records",
            {"records": [{"subject": "p-k", "behaviour": "fraud", "at": "2024-01-01", "id": "k-1"}]},
        ),
        "provider": ("POST", "/v1/decisions", {"subject": "p-k", "action": "buy_flight_ticket"}),
        "subject": ("GET", "/v1/me/export", None),
        "reviewer": ("GET", "/v1/appeals", None),
        "auditor": ("GET", f"/v1/decisions/{place.decision_id}", None),
        "admin": ("GET", "/v1/rulebook", None),
    }[role]
    answer = place.client.request(use[0], use[1], json=use[2], headers={"Authorization": f"Bearer {key}"})
    answered_well(answer)


@fuzz_settings(25)
@given(st.one_of(hostile_rulebooks(ARTICLE.read_text()), st.just(ARTICLE.read_text())), instants_text(), st.booleans())
@example(ARTICLE.read_text(), "9999-12-31T23:59:59-14:00", False)
@example(ARTICLE.read_text(), "0001-01-01T00:00:00+14:00", True)
def test_publishing_a_version_never_breaks_the_service(rulebook: str, effective: str, retroactive: bool) -> None:
    """On a copy of the store: a version is refused (nothing written), or published and then
    every route still answers (issue 16 item 1: an effective instant at the edge of time)."""
    note(f"rulebook text (first 200 characters): {rulebook[:200]!r}")
    with tempfile.TemporaryDirectory() as folder:
        with (
            sqlite3.connect(world().folder / "ledger.db") as source,
            sqlite3.connect(Path(folder) / "ledger.db") as target,
        ):
            source.backup(target)  # the WAL's pages too, which a file copy would miss
        store = open_store(sqlite_url(Path(folder)))
        try:
            copy = World.__new__(World)
            copy.folder, copy.store, copy.keys = Path(folder), store, world().keys
            copy.client = TestClient(
                create_app(store, lambda: NOW, rate=1e9, burst=10**9), raise_server_exceptions=False
            )
            before = copy.footprint()
            body = {"text": rulebook, "effective": effective, "retroactive": retroactive}
            response = copy.post("admin", "/v1/rulebook/versions", body)
            refused_cleanly(response, before, copy.footprint(), logs=("rulebook_versions",))
            if response.status_code == 200:
                for answer in (
                    copy.client.get("/v1/rulebook"),
                    copy.client.get("/v1/rulebook/versions"),
                    copy.client.get("/v1/me", headers=copy.headers("subject")),
                    copy.post("provider", "/v1/decisions", {"subject": "p-zhang-wei", "action": "buy_flight_ticket"}),
                ):
                    answered_well(answer)
        finally:
            store.close()


ROUTES = [
    ("agency", "/v1/records"),
    ("provider", "/v1/decisions"),
    ("subject", "/v1/me/appeals"),
    ("admin", "/v1/keys"),
    ("admin", "/v1/rulebook/versions"),
    ("reviewer", "/v1/appeals/x/resolve"),
]


def raw_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        deep_json().map(str.encode),
        st.binary(max_size=200),
        st.sampled_from(
            [
                b'{"subject": "\\ud800", "action": "buy_flight_ticket"}',
                b'{"subject": NaN}',
                b"\xef\xbb\xbf{}",
                b'{"records": [' + b'{"a":1},' * 2000 + b"{}]}",
                b"null",
                b"[]",
                b'""',
                b'{"subject": "p\\u0000", "action": "buy_flight_ticket"}',
            ]
        ),
    )


@fuzz_settings(40)
@given(st.sampled_from(ROUTES), raw_bodies(), st.booleans())
def test_raw_bodies_on_every_post_route(route: tuple[str, str], body: bytes, chunked: bool) -> None:
    """Bodies that are not the JSON a route expects, sent with a length or chunked."""
    note(f"body (first 200 bytes): {body[:200]!r}")
    place = world()
    role, path = route
    headers = place.headers(role) | {"Content-Type": "application/json"}
    before = place.footprint()
    content: Any = iter([body]) if chunked else body
    response = place.client.post(path, content=content, headers=headers)
    refused_cleanly(response, before, place.footprint(), logs=("decisions",))


@fuzz_settings(6)
@given(st.sampled_from(ROUTES), st.booleans())
def test_a_body_over_the_limit_is_refused_whatever_its_framing(route: tuple[str, str], chunked: bool) -> None:
    """MAX_BODY + 1 bytes of valid JSON (spaces after it): 413 with a length or chunked (issue 16 item 2)."""
    place = world()
    role, path = route
    valid = b'{"subject": "p-zhang-wei", "action": "buy_flight_ticket"}'
    body = valid + b" " * (MAX_BODY + 1 - len(valid))
    content: Any = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = place.client.post(
        path, content=content, headers=place.headers(role) | {"Content-Type": "application/json"}
    )
    answered_well(response)
    assert response.status_code == 413


schema = schemathesis.openapi.from_asgi("/openapi.json", world().client.app)
ROLE_OF = {
    "/v1/records": "agency",
    "/v1/decisions": "provider",
    "/v1/appeals": "reviewer",
    "/v1/keys": "admin",
    "/v1/rulebook/versions": "admin",
}


def spliced(value: Any, data: st.DataObject) -> Any:
    """The value with some of its strings and numbers replaced by hostile ones."""
    if isinstance(value, dict):
        return {key: spliced(item, data) for key, item in value.items()}
    if isinstance(value, list):
        return [spliced(item, data) for item in value]
    if isinstance(value, str | int | float) and not isinstance(value, bool) and data.draw(st.booleans()):
        # A JSON body cannot carry inf or NaN (the client refuses to send them): finite ones only.
        finite = hostile_numbers().filter(lambda number: math.isfinite(number))
        return data.draw(st.one_of(hostile_text(), finite, instants_text()))
    return value


@schema.parametrize()
@schema.given(data=st.data())
@fuzz_settings(8)
def test_every_operation_with_hostile_values(case: Any, data: st.DataObject) -> None:
    path = case.operation.path
    role = next((role for prefix, role in ROLE_OF.items() if path.startswith(prefix)), "subject")
    if path.startswith("/v1/decisions/"):
        role = "auditor"
    if case.body is not None and not isinstance(case.body, bytes):
        case.body = spliced(case.body, data)
    if case.path_parameters:
        case.path_parameters = {name: str(spliced(value, data)) for name, value in case.path_parameters.items()}
    place = world()
    before = place.footprint()
    response = case.call(headers=place.headers(role))
    # Every answer, success or refusal, must be one the OpenAPI document describes (issue 12).
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    case.validate_response(response, checks=checks)
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert place.footprint() == before, f"refused with {response.status_code} yet written"
