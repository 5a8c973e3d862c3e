"""Appeals for reviewers: the pending ones, and their resolution."""

from fastapi import APIRouter

from credo.ledger.incoming import Identifier
from credo.service.answers import AppealView, PendingAppeals
from credo.service.appeals import appeal_view, pending_appeals
from credo.service.models import Resolution
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import OnTime, Reviewer, Svc

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])


@router.get("", responses=refusals(*KEYED))
def pending(key: Reviewer, _: OnTime, svc: Svc) -> PendingAppeals:
    """Appeals not yet resolved, the oldest deadline first."""
    return pending_appeals(svc.store, svc.clock())


@router.post("/{appeal_id}/resolve", responses=refusals(*KEYED, 404, 409, *BODY))
def resolve(appeal_id: Identifier, resolution: Resolution, key: Reviewer, svc: Svc) -> AppealView:
    """Uphold or reverse the disputed record, with a reason; the subject is notified."""
    actor = f"reviewer {key.key_hash[:12]}"
    return appeal_view(svc.appeals.resolve(appeal_id, resolution.outcome, resolution.reason, actor), svc.clock())
