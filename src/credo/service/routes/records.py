"""Records in: agencies submit them."""

from fastapi import APIRouter

from credo.service.answers import Receipts
from credo.service.models import RecordBatch
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import Agency, Svc
from credo.service.submission import submit_records

router = APIRouter(prefix="/v1/records", tags=["records"])


@router.post("", responses=refusals(*KEYED, *BODY))
def submit(batch: RecordBatch, key: Agency, svc: Svc) -> Receipts:
    """Agencies send records; idempotent by (source, id); a bad row rejects the whole batch."""
    return submit_records(svc, key, batch)
