"""Liveness: the service answers and the ledger's head."""

from fastapi import APIRouter

from credo.service.answers import Health
from credo.service.routes.errors import refusals
from credo.service.services import Svc

router = APIRouter(tags=["health"])


@router.get("/healthz", responses=refusals())
async def healthz(svc: Svc) -> Health:
    # On the event loop: one small query, no thread to wait for behind costly questions.
    return Health(ok=True, ledger_head=svc.store.head())
