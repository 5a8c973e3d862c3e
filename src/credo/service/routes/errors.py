"""The error answers a route declares in /openapi.json: every one in the one shape (answers.ErrorAnswer)."""

from typing import Any

from credo.service.answers import ErrorAnswer

_WHY = {
    400: "the body cannot be parsed (not text in the encoding it claims)",
    401: "no API key, or an unknown, revoked or expired one",
    403: "the key's role may not do this",
    404: "not found (or not the caller's to see)",
    409: "contradicts what the ledger holds already",
    413: "the body is too large",
    422: "the request does not match the API, or the rulebook refuses it",
    429: "too many requests from this key; see Retry-After",
    503: "the ledger is busy or its chain is broken; see Retry-After when given",
}
#: What may go wrong on any route: a broken chain or a busy store (credo.service.integrity).
ALWAYS = (503,)
KEYED = (401, 403, 429, *ALWAYS)  # a route that takes an API key
BODY = (400, 413, 422)  # a route whose JSON body FastAPI reads


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that may answer these statuses (besides its own success)."""
    return {status: {"model": ErrorAnswer, "description": _WHY[status]} for status in sorted({*statuses, *ALWAYS})}
