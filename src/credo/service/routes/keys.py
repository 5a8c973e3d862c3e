"""API keys: an admin makes them."""

from fastapi import APIRouter

from credo.service.answers import NewKey
from credo.service.keys import issue_key
from credo.service.models import KeyRequest
from credo.service.routes.errors import BODY, KEYED, refusals
from credo.service.services import Admin, Svc

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", responses=refusals(*KEYED, *BODY))
def new_key(request: KeyRequest, key: Admin, svc: Svc) -> NewKey:
    """Create an API key; it is shown once, in this answer."""
    return issue_key(svc.store, request, svc.clock())
