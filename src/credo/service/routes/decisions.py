"""Decisions: a provider asks; an auditor (or the subject concerned) reads the log and replays it."""

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from credo.ledger.incoming import Identifier
from credo.service import deciding
from credo.service.answers import LoggedDecision, PublicDecision, Replayed
from credo.service.models import DecisionRequest
from credo.service.replay import replayed
from credo.service.routes.errors import KEYED, refusals
from credo.service.services import Auditor, AuditorOrSubject, Provider, Svc, services
from credo.service.views import logged_decision

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
BODY = {"required": True, "content": {"application/json": {"schema": DecisionRequest.model_json_schema()}}}


@router.post(
    "", response_model=PublicDecision, responses=refusals(*KEYED, 413, 422), openapi_extra={"requestBody": BODY}
)
async def decide(http: Request) -> JSONResponse:
    """A provider asks whether a subject may do an action; every decision is logged."""
    # The hot path: the key and the body are read here rather than by FastAPI's dependency
    # resolution, which cost a fifth of each request; the errors are the same.
    key = await Provider(http)
    svc = services(http)
    svc.lapse_deadlines()
    try:
        request = DecisionRequest.model_validate_json(await http.body())
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from exc
    # Already plain JSON data (answers.PublicDecision): answered as is, without re-encoding.
    return JSONResponse(await deciding.decide(svc, key, request))


@router.get("/{decision_id}", responses=refusals(*KEYED, 404, 422))
def logged(decision_id: Identifier, key: AuditorOrSubject, svc: Svc) -> LoggedDecision:
    """A logged decision: for auditors, or for the subject it concerns (others learn nothing)."""
    return logged_decision(svc.store, decision_id, key)


@router.get("/{decision_id}/replay", responses=refusals(*KEYED, 404, 422))
def replay_logged(decision_id: Identifier, key: Auditor, svc: Svc) -> Replayed:
    """Recompute a logged decision from the ledger position and rulebook version it used."""
    return replayed(svc.store, decision_id)
