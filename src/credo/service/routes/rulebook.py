"""The published rulebook: the version in force and every version (public), publishing (admin)."""

from fastapi import APIRouter

from credo.service import rulebooks
from credo.service.answers import Published, RulebookInForce, Versions
from credo.service.models import Publication
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import Admin, Svc

router = APIRouter(prefix="/v1/rulebook", tags=["rulebook"])


@router.get("", responses=refusals(404))
def rulebook(svc: Svc) -> RulebookInForce:
    """The rulebook in force now (public)."""
    return rulebooks.in_force(svc.ledger, svc.clock())


@router.get("/versions", responses=refusals())
def versions(svc: Svc) -> Versions:
    """Every published version (public)."""
    return rulebooks.versions(svc.store)


@router.post("/versions", responses=refusals(*KEYED, 409, *BODY))
def publish(request: Publication, key: Admin, svc: Svc) -> Published:
    """Publish a rulebook version (lint errors refuse it)."""
    return rulebooks.publish(svc.ledger, request)
