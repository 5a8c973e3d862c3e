"""The subject's own file, for the subject's key: scores, explanation, records, notices, appeals."""

from fastapi import APIRouter

from credo.semantics import NoRulebookInForce
from credo.service.answers import AppealView, Explanation, Notices, SubjectFile, SubjectRecords, Summary
from credo.service.appeals import appeal_view
from credo.service.errors import ApiError
from credo.service.models import AppealRequest
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import OnTime, SubjectKey, Svc
from credo.service.views import subject_explanation, subject_file, subject_notices, subject_records, subject_summary

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get("", responses=refusals(*KEYED, 404))
def me(key: SubjectKey, _: OnTime, svc: Svc) -> Summary:
    """The subject's own scores, tiers and lists now."""
    return subject_summary(svc.ledger, key.subject or "", svc.clock())


@router.get("/explanation", responses=refusals(*KEYED, 404))
def my_explanation(key: SubjectKey, _: OnTime, svc: Svc) -> Explanation:
    """Every point explained, and the way to the next tier or off a list."""
    return subject_explanation(svc.ledger, key.subject or "", svc.clock())


@router.get("/records", responses=refusals(*KEYED))
def my_records(key: SubjectKey, _: OnTime, svc: Svc) -> SubjectRecords:
    """Every record about the subject, with its status (counting, pending, suspended, reversed)."""
    return subject_records(svc.store, svc.ledger, key.subject or "", svc.clock())


@router.get("/export", responses=refusals(*KEYED, 404))
def export(key: SubjectKey, _: OnTime, svc: Svc) -> SubjectFile:
    """The subject's whole file (GDPR Art. 15)."""
    return subject_file(svc.store, svc.ledger, key.subject or "", svc.clock())


@router.get("/notices", responses=refusals(*KEYED))
def my_notices(key: SubjectKey, _: OnTime, svc: Svc) -> Notices:
    """What credo has told the subject: black lists, tier drops, measures, appeal outcomes."""
    return subject_notices(svc.store, key.subject or "")


@router.post("/appeals", responses=refusals(*KEYED, 404, 409, *BODY))
def appeal(request: AppealRequest, key: SubjectKey, svc: Svc) -> AppealView:
    """Dispute one of one's own records, with a statement."""
    try:
        filed = svc.appeals.file(key.subject or "", request.record, request.statement)
    except NoRulebookInForce as exc:
        raise ApiError(422, str(exc)) from exc
    return appeal_view(filed, svc.clock())
