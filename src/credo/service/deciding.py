"""A provider's question, "may this subject do this action?": answered, logged, and shown to it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from credo.ledger.chain import micros
from credo.semantics import Decision, NoRulebookInForce
from credo.service.cache import Cached
from credo.service.errors import ApiError
from credo.service.models import DecisionRequest
from credo.service.services import Services
from credo.service.views import public_decision
from credo.storage.logs import LoggedDecision, StoredKey


async def evaluated(svc: Services, subject: str, action: str, at: dt.datetime, keep: bool) -> tuple[Cached, Decision]:
    """The subject's state at `at` and the decision, worked out off the event loop
    (credo.service.work): a subject of ordinary size on the thread pool, a large one in the
    heavy lane, one with more records than a request may evaluate refused (422)."""

    def answer() -> tuple[Cached, Decision]:
        entry = svc.cache.evaluate(svc.cache.read(subject), at, keep)
        decision = entry.state.decide(action, at)
        if keep:
            entry.until()  # worked out here, not on the event loop at the next question
        return entry, decision

    def light_or_size() -> tuple[Cached, Decision] | int:
        size = svc.cache.count(subject)  # reading the records of a large subject is heavy work already
        svc.work.bound(subject, size)
        return size if svc.work.is_heavy(size) else answer()

    found = await svc.work.light(light_or_size)
    return found if not isinstance(found, int) else await svc.work.heavy(answer)


async def decide(svc: Services, key: StoredKey, request: DecisionRequest) -> dict[str, Any]:
    """The provider's view of the decision (answers.PublicDecision), after logging the whole one.

    A plain dict rather than the model: this is the hot path, and the dict is already JSON data."""
    if request.action not in key.actions:
        raise ApiError(403, f"this provider key may ask about {', '.join(key.actions)} only")
    now = svc.clock()
    at = svc.instant_or_now(request.at, now)
    try:
        cached = svc.cache.hit(request.subject, now) if at == now else None  # "may they, now?": the usual question
        if cached is None:
            cached, decision = await evaluated(svc, request.subject, request.action, at, keep=at == now)
        else:
            decision = cached.state.decide(request.action, at)
        history, head = cached.history, cached.head
        rulebook = history.require(at)
    except NoRulebookInForce as exc:
        raise ApiError(422, str(exc)) from exc
    version = next(v.position for v in reversed(history.versions) if v.rulebook is rulebook)
    decision_id = uuid.uuid4().hex
    logged = LoggedDecision(decision_id, request.subject, request.action, micros(at), micros(svc.clock()), version,
                            head, decision.as_dict())  # fmt: skip
    await svc.decision_log.write(logged)
    return public_decision(decision, decision_id, rulebook)
