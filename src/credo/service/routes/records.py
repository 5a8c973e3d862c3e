"""Records in: agencies submit them."""

from functools import partial

from fastapi import APIRouter

from credo.service.answers import Receipts
from credo.service.models import RecordBatch
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import Agency, Svc
from credo.service.submission import submit_records

router = APIRouter(prefix="/v1/records", tags=["records"])


@router.post("", responses=refusals(*KEYED, *BODY))
async def submit(batch: RecordBatch, key: Agency, svc: Svc) -> Receipts:
    """Agencies send records; idempotent by (source, id); a bad row rejects the whole batch."""
    receipts = await svc.work.light(partial(submit_records, svc, key, batch, deliver=False))
    if svc.notices_here:  # else the relay delivers them (credo.service.relay)
        # The notices (two evaluations a subject touched) in the heavy lane, after the write: owed
        # in its transaction already, so they wait their turn rather than being refused.
        await svc.work.heavy(svc.deliverer.after_write, refuse=False)
    return receipts
