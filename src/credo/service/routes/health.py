"""Liveness: the service answers and the ledger's head."""

from fastapi import APIRouter

from credo.service.answers import Health
from credo.service.routes.errors import refusals
from credo.service.services import Svc

router = APIRouter(tags=["health"])


@router.get("/healthz", responses=refusals())
def healthz(svc: Svc) -> Health:
    return Health(ok=True, ledger_head=svc.store.head())
