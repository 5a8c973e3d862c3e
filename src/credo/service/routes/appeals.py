"""Appeals for reviewers: the pending ones, and their resolution."""

from typing import Annotated

from fastapi import APIRouter, Query

from credo.ledger.incoming import Identifier
from credo.service.answers import AppealView, PendingAppeals
from credo.service.appeals import QUEUE_PAGE, appeal_view, pending_appeals
from credo.service.models import Resolution
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import OnTime, Reviewer, Svc

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])

#: More than any queue holds, and less than the stores' 64-bit integers (an offset of 2**63 was a 500).
MAX_OFFSET = 1_000_000_000


@router.get("", responses=refusals(*KEYED, 422))
def pending(
    key: Reviewer,
    _: OnTime,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many appeals to show.")] = QUEUE_PAGE,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="How many of the waiting appeals to pass over first.")
    ] = 0,
) -> PendingAppeals:
    """Appeals not yet resolved, the nearest deadline first, a page at a time (`total` says how many wait)."""
    return pending_appeals(svc.store, svc.clock(), limit, offset)


@router.post("/{appeal_id}/resolve", responses=refusals(*KEYED, 404, 409, *BODY))
def resolve(appeal_id: Identifier, resolution: Resolution, key: Reviewer, svc: Svc) -> AppealView:
    """Uphold or reverse the disputed record, with a reason; the subject is notified."""
    actor = f"reviewer {key.key_hash[:12]}"
    return appeal_view(svc.appeals.resolve(appeal_id, resolution.outcome, resolution.reason, actor), svc.clock())
