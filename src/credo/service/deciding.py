"""A provider's question, "may this subject do this action?": answered, logged, and shown to it."""

from __future__ import annotations

import uuid
from typing import Any

from credo.ledger.chain import micros
from credo.semantics import NoRulebookInForce
from credo.service.errors import ApiError
from credo.service.models import DecisionRequest
from credo.service.services import Services
from credo.service.views import public_decision
from credo.storage.logs import LoggedDecision, StoredKey


async def decide(svc: Services, key: StoredKey, request: DecisionRequest) -> dict[str, Any]:
    """The provider's view of the decision (answers.PublicDecision), after logging the whole one.

    A plain dict rather than the model: this is the hot path, and the dict is already JSON data."""
    if request.action not in key.actions:
        raise ApiError(403, f"this provider key may ask about {', '.join(key.actions)} only")
    now = svc.clock()
    at = svc.instant_or_now(request.at, now)
    try:
        if at == now:  # the usual question, "may they, now?": answered from the cache
            cached = svc.cache.get(request.subject, now)
            history, head, state = cached.history, cached.head, cached.state
        else:
            head = svc.store.head()
            history = svc.ledger.history(upto=head)
            records = svc.ledger.counting_records(subject=request.subject, upto=head)
            state = history.evaluate(records, request.subject, at)
        rulebook = history.require(at)
        decision = state.decide(request.action, at)
    except NoRulebookInForce as exc:
        raise ApiError(422, str(exc)) from exc
    version = next(v.position for v in reversed(history.versions) if v.rulebook is rulebook)
    decision_id = uuid.uuid4().hex
    logged = LoggedDecision(decision_id, request.subject, request.action, micros(at), micros(svc.clock()), version,
                            head, decision.as_dict())  # fmt: skip
    await svc.decision_log.write(logged)
    return public_decision(decision, decision_id, rulebook)
