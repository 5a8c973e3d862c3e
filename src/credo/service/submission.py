"""Records an agency submits by HTTP: checked row by row, then written in one transaction."""

from __future__ import annotations

from credo.ledger.ingest import KindCheck, Rejection, RowChecker
from credo.ledger.model import Incoming
from credo.service.answers import Receipt, Receipts
from credo.service.errors import ApiError
from credo.service.models import RecordBatch
from credo.service.services import Services
from credo.storage.logs import StoredKey


def submit_records(svc: Services, key: StoredKey, batch: RecordBatch, deliver: bool = True) -> Receipts:
    """Idempotent by (source, id); a bad row rejects the whole batch (422 naming its row and field)."""
    history = svc.ledger.history()
    if not history:
        raise ApiError(422, "no rulebook is published")
    now = svc.clock()
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
    _, mixed = KindCheck(svc.store.subject_kinds, "request")(incoming)
    if mixed:  # checked before anything is written, as a file's ingest does
        raise ApiError(422, f"record {mixed[0].line}: {mixed[0].reason}",
                       [{"row": mixed[0].line, "field": "kind", "reason": mixed[0].reason}])  # fmt: skip

    def conflict(record: Incoming, position: int) -> None:
        reason = f"already in the ledger at position {position} with different content"
        raise ApiError(422, f"record {record.line}: {reason}", [{"row": record.line, "field": "id", "reason": reason}])

    tally = svc.store.ingest([incoming], svc.clock, conflict, receipts=True)  # owes its notices in the same transaction
    if deliver:  # else the caller delivers (the service: in its heavy lane, off the event loop)
        svc.after_write()
    receipts = [
        Receipt(id=f"{item.source}:{item.source_id}", position=receipt.position, duplicate=receipt.duplicate)
        for item, receipt in zip(incoming, tally.receipts, strict=True)
    ]
    return Receipts(accepted=tally.accepted, duplicates=tally.duplicates, receipts=receipts)
