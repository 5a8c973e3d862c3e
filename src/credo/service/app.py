"""The HTTP API (FastAPI), built by create_app(store, clock): no import-time globals."""

# No `from __future__ import annotations` here: FastAPI reads the route signatures, whose
# dependencies are local to create_app.

import datetime as dt
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from credo.errors import RulebookError
from credo.ledger.book import Ledger, RulebookConflict, utc_now
from credo.ledger.chain import from_micros, micros
from credo.ledger.incoming import Identifier
from credo.ledger.ingest import KindCheck, Rejection, RowChecker
from credo.ledger.model import Incoming
from credo.semantics import NoRulebookInForce, explain
from credo.service import errors
from credo.service.access_log import AccessLog
from credo.service.appeals import Appeals, view
from credo.service.auth import KeyRing, RateLimit, create_key, requires
from credo.service.body import BodyGuard
from credo.service.cache import StateCache
from credo.service.decision_log import DecisionLog
from credo.service.delivery import Deliverer
from credo.service.docs import offline_docs
from credo.service.errors import ApiError
from credo.service.integrity import ChainGuard, Integrity
from credo.service.models import (
    AppealRequest,
    DecisionRequest,
    KeyRequest,
    Publication,
    RecordBatch,
    Resolution,
)
from credo.service.notices import notices_of
from credo.service.replay import UnknownDecision, replay
from credo.service.views import own_records, public_decision, whole_file
from credo.storage.logs import LoggedDecision, StoredKey
from credo.storage.sql import SqlStore
from credo.web.pages import mount_pages


def create_app(
    store: SqlStore,
    clock: Callable[[], dt.datetime] = utc_now,
    *,
    rate: float = 1000.0,
    burst: int = 2000,
    ticker: Callable[[], float] = time.monotonic,
    session_secret: str | None = None,
    recheck: float = 60.0,
    access_log: Callable[[str], None] | None = None,
    write_wait: float = 3.0,
) -> FastAPI:
    """The service over one store; the clock is injected so that tests can fix time.

    Each key may make `rate` requests a second on average (bursts up to `burst`); past that the
    answer is 429 with Retry-After. `session_secret` signs the pages' session cookies (a random one
    per process when not given: sessions then end when the server restarts). The chains are
    checked now and every `recheck` seconds; while one is broken every answer is a 503
    (credo.service.integrity). With `access_log`, each request writes one JSON line to it. A write waits at most
    `write_wait` seconds for another writer's lock (a long `credo ingest`), then answers 503 with
    Retry-After.
    """
    store.write_wait = write_wait
    limit = RateLimit(rate, burst, ticker)
    keyring = KeyRing(store, clock, ticker)
    ledger = Ledger(store, clock)
    deliverer = Deliverer(store, ledger)
    appeals = Appeals(store, ledger, clock, deliverer.after_write)
    cache = StateCache(store, ledger)
    decision_log = DecisionLog(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What a kill left owed is delivered when the server starts again, beside the requests
        # rather than before them: a long backlog must not keep the service down.
        backlog = threading.Thread(target=deliverer.after_write, name="credo-deliver", daemon=True)
        backlog.start()
        yield
        backlog.join()

    app = FastAPI(
        title="credo",
        version="0.1.0",
        description="Published rules, explained points, appeals.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by offline_docs
        redoc_url=None,
    )
    errors.install(app)
    offline_docs(app)

    app.add_middleware(BodyGuard, keyring=keyring)
    integrity = Integrity(store, clock, recheck)
    integrity.check()
    app.state.integrity = integrity
    app.add_middleware(ChainGuard, integrity=integrity)
    if access_log is not None:  # one JSON line per request (credo.service.access_log)
        app.add_middleware(AccessLog, write=access_log)

    agency = Depends(requires(keyring, limit, "agency"))
    subject_key = Depends(requires(keyring, limit, "subject"))
    auditor_or_subject = Depends(requires(keyring, limit, "auditor", "subject"))
    reviewer = Depends(requires(keyring, limit, "reviewer"))
    auditor = Depends(requires(keyring, limit, "auditor"))
    admin = Depends(requires(keyring, limit, "admin"))

    last_look: list[dt.datetime | None] = [None]

    async def deadlines() -> None:
        """Appeals whose deadline has passed suspend their record before anything is answered
        (looked at once a second of the clock at most: deadlines are days apart)."""
        now = clock()
        if last_look[0] is None or now - last_look[0] >= dt.timedelta(seconds=1) or now < last_look[0]:
            last_look[0] = now
            appeals.lapse_overdue()

    on_time = Depends(deadlines)
    provider_check = requires(keyring, limit, "provider")

    async def provider_in_time(request: Request) -> StoredKey:
        """The provider's key and the appeal deadlines as one dependency: the decision endpoint is
        the hot path, and each dependency costs FastAPI a resolution per request."""
        key = await provider_check(request)
        await deadlines()
        return key

    def instant_or(text: str | None, now: dt.datetime) -> dt.datetime:
        try:
            return ledger.instant(text) if text else now
        except Exception as exc:
            raise ApiError(422, str(exc), [{"field": "at", "reason": str(exc)}]) from exc

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "ledger_head": store.head()}

    @app.get("/v1/rulebook")
    def rulebook() -> dict[str, Any]:
        """The rulebook in force now (public)."""
        history = ledger.history()
        current = history.in_force(clock())
        if current is None:
            raise ApiError(404, "no rulebook is in force")
        return {"rulebook": current.model_dump(mode="json", by_alias=True, exclude_none=True)}

    @app.get("/v1/rulebook/versions")
    def versions() -> dict[str, Any]:
        """Every published version (public)."""
        return {
            "versions": [
                {
                    "position": stored.position,
                    "name": stored.name,
                    "version": stored.version,
                    "effective": from_micros(stored.effective_us).isoformat(),
                    "published": from_micros(stored.published_us).isoformat(),
                    "retroactive": stored.retroactive,
                }
                for stored in store.versions()
            ]
        }

    @app.post("/v1/records")
    def submit(batch: RecordBatch, key: Annotated[StoredKey, agency]) -> dict[str, Any]:
        """Agencies send records; idempotent by (source, id); a bad row rejects the whole batch."""
        history = ledger.history()
        if not history:
            raise ApiError(422, "no rulebook is published")
        now = clock()
        check = RowChecker(history, now, "request")
        incoming: list[Incoming] = []
        for index, item in enumerate(batch.records):
            if item.source is not None and item.source != key.source:
                raise ApiError(
                    422,
                    f"record {index}: an agency submits as its own source {key.source!r}",
                    [{"row": index, "field": "source", "reason": "not this agency's source"}],
                )
            row = item.model_dump(exclude_none=True) | {"source": key.source}
            result = check(row, index)
            if isinstance(result, Rejection):
                raise ApiError(
                    422,
                    f"record {index}: {result.reason}",
                    [{"row": index, "field": result.field, "reason": result.reason}],
                )
            incoming.append(result)
        _, mixed = KindCheck(store.subject_kinds, "request")(incoming)
        if mixed:  # checked before anything is written, as a file's ingest does
            raise ApiError(422, f"record {mixed[0].line}: {mixed[0].reason}",
                           [{"row": mixed[0].line, "field": "kind", "reason": mixed[0].reason}])  # fmt: skip

        def conflict(record: Incoming, position: int) -> None:
            reason = f"already in the ledger at position {position} with different content"
            raise ApiError(
                422, f"record {record.line}: {reason}", [{"row": record.line, "field": "id", "reason": reason}]
            )

        tally = store.ingest([incoming], now, conflict, receipts=True)  # owes its notices in the same transaction
        deliverer.after_write()
        receipts = [
            {"id": f"{item.source}:{item.source_id}", "position": receipt.position, "duplicate": receipt.duplicate}
            for item, receipt in zip(incoming, tally.receipts, strict=True)
        ]
        return {"accepted": tally.accepted, "duplicates": tally.duplicates, "receipts": receipts}

    decision_body = {"required": True, "content": {"application/json": {"schema": DecisionRequest.model_json_schema()}}}

    @app.post("/v1/decisions", openapi_extra={"requestBody": decision_body})
    async def decide(http: Request) -> dict[str, Any]:
        """A provider asks whether a subject may do an action; every decision is logged."""
        # The hot path: the key and the body are read here rather than by FastAPI's dependency
        # resolution, which cost a fifth of each request; the errors are the same.
        key = await provider_in_time(http)
        try:
            request = DecisionRequest.model_validate_json(await http.body())
        except ValidationError as exc:
            raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from exc
        if request.action not in key.actions:
            raise ApiError(403, f"this provider key may ask about {', '.join(key.actions)} only")
        now = clock()
        at = instant_or(request.at, now)
        try:
            if at == now:  # the usual question, "may they, now?": answered from the cache
                cached = cache.get(request.subject, now)
                history, head, state = cached.history, cached.head, cached.state
            else:
                head = store.head()
                history = ledger.history(upto=head)
                records = ledger.counting_records(subject=request.subject, upto=head)
                state = history.evaluate(records, request.subject, at)
            rulebook = history.require(at)
            decision = state.decide(request.action, at)
        except NoRulebookInForce as exc:
            raise ApiError(422, str(exc)) from exc
        version = next(v.position for v in reversed(history.versions) if v.rulebook is rulebook)
        decision_id = uuid.uuid4().hex
        await decision_log.write(
            LoggedDecision(
                decision_id,
                request.subject,
                request.action,
                micros(at),
                micros(clock()),
                version,
                head,
                decision.as_dict(),
            )
        )
        # Already plain JSON data: answer it as is, without FastAPI's generic re-encoding.
        return JSONResponse(public_decision(decision, decision_id, rulebook))  # type: ignore[return-value]

    @app.get("/v1/decisions/{decision_id}")
    def logged(decision_id: Identifier, key: Annotated[StoredKey, auditor_or_subject]) -> dict[str, Any]:
        """A logged decision: for auditors, or for the subject it concerns (others learn nothing)."""
        found = store.decision(decision_id)
        if found is None or (key.role == "subject" and found.subject != key.subject):
            raise ApiError(404, "no such decision")
        return {
            "decision_id": found.id,
            "rulebook_position": found.rulebook_position,
            "ledger_position": found.ledger_position,
            "decided_at": from_micros(found.decided_us).isoformat(),
            **found.answer,
        }

    @app.get("/v1/decisions/{decision_id}/replay")
    def replay_logged(decision_id: Identifier, key: Annotated[StoredKey, auditor]) -> dict[str, Any]:
        """Recompute a logged decision from the ledger position and rulebook version it used."""
        try:
            result = replay(store, decision_id)
        except UnknownDecision as exc:
            raise ApiError(404, "no such decision") from exc
        return {"decision_id": decision_id, "same": result.same, "logged": result.logged,
                "recomputed": result.recomputed}  # fmt: skip

    @app.post("/v1/rulebook/versions")
    def publish(request: Publication, key: Annotated[StoredKey, admin]) -> dict[str, Any]:
        """Publish a rulebook version (lint errors refuse it)."""
        try:
            done = ledger.publication(request.text, request.effective, request.retroactive, "<request>")
        except RulebookError as exc:
            raise ApiError(422, "the rulebook cannot be published", [{"reason": p} for p in exc.problems]) from exc
        except RulebookConflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"position": done.position, "published": done.new}

    @app.post("/v1/keys")
    def new_key(request: KeyRequest, key: Annotated[StoredKey, admin]) -> dict[str, Any]:
        """Create an API key; it is shown once, in this answer."""
        try:
            made = create_key(store, request.role, clock(), source=request.source,
                              actions=tuple(request.actions), subject=request.subject)  # fmt: skip
        except ValueError as exc:
            raise ApiError(422, str(exc)) from exc
        return {"key": made, "role": request.role}

    def own_state(key: StoredKey) -> Any:
        assert key.subject is not None
        try:
            return ledger.state(key.subject, clock())
        except NoRulebookInForce as exc:
            raise ApiError(404, str(exc)) from exc

    @app.get("/v1/me")
    def me(key: Annotated[StoredKey, subject_key], _: None = on_time) -> dict[str, Any]:
        """The subject's own scores, tiers and lists now."""
        return dict(own_state(key).summary())

    @app.get("/v1/me/explanation")
    def my_explanation(key: Annotated[StoredKey, subject_key], _: None = on_time) -> dict[str, Any]:
        """Every point explained, and the way to the next tier or off a list."""
        return explain(own_state(key))

    @app.get("/v1/me/records")
    def my_records(key: Annotated[StoredKey, subject_key], _: None = on_time) -> dict[str, Any]:
        """Every record about the subject, with its status (counting, pending, suspended, reversed)."""
        return {"records": own_records(store, ledger, key.subject or "", clock())}

    @app.get("/v1/me/export")
    def export(key: Annotated[StoredKey, subject_key], _: None = on_time) -> dict[str, Any]:
        """The subject's whole file (GDPR Art. 15)."""
        try:
            return whole_file(store, ledger, key.subject or "", clock())
        except NoRulebookInForce as exc:
            raise ApiError(404, str(exc)) from exc

    @app.get("/v1/me/notices")
    def my_notices(key: Annotated[StoredKey, subject_key], _: None = on_time) -> dict[str, Any]:
        """What credo has told the subject: black lists, tier drops, measures, appeal outcomes."""
        return {"notices": [notice.model_dump(mode="json") for notice in notices_of(store, key.subject or "")]}

    @app.post("/v1/me/appeals")
    def appeal(request: AppealRequest, key: Annotated[StoredKey, subject_key]) -> dict[str, Any]:
        """Dispute one of one's own records, with a statement."""
        try:
            filed = appeals.file(key.subject or "", request.record, request.statement)
        except NoRulebookInForce as exc:
            raise ApiError(422, str(exc)) from exc
        return view(filed, clock())

    @app.get("/v1/appeals")
    def pending(key: Annotated[StoredKey, reviewer], _: None = on_time) -> dict[str, Any]:
        """Appeals not yet resolved, the oldest deadline first."""
        now = clock()
        waiting = [view(item, now) for item in store.appeals() if item.outcome is None]
        return {"appeals": sorted(waiting, key=lambda item: item["deadline"])}

    @app.post("/v1/appeals/{appeal_id}/resolve")
    def resolve(appeal_id: Identifier, resolution: Resolution, key: Annotated[StoredKey, reviewer]) -> dict[str, Any]:
        """Uphold or reverse the disputed record, with a reason; the subject is notified."""
        actor = f"reviewer {key.key_hash[:12]}"
        return view(appeals.resolve(appeal_id, resolution.outcome, resolution.reason, actor), clock())

    mount_pages(app, store, ledger, appeals, keyring, cache, clock, session_secret)
    return app
