"""One JSON error shape for every answer that is not a success:

{"error": {"status": 404, "code": "not_found", "message": "...", "details": [...]}}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from credo.errors import Conflict, CredoError, NotFound
from credo.storage.sql import StoreBusy, StoreError

#: Domain errors and the status each answers with: the one place they are mapped (422 otherwise).
STATUS_OF: tuple[tuple[type[CredoError], int], ...] = ((NotFound, 404), (Conflict, 409))

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited", 500: "internal",
         503: "unavailable"}  # fmt: skip
RETRY_BUSY = 1  # seconds a client waits before asking again while another writer holds the ledger


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers


def error_body(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "code": CODES.get(status, "error"), "message": message,
                      "details": details or []}}  # fmt: skip


def respond(status: int, message: str, details: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_body(status, message, details), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return respond(exc.status, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return respond(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(part) for part in error["loc"]), "reason": error["msg"]} for error in exc.errors()
        ]
        return respond(422, "the request does not match the API", details)

    @app.exception_handler(CredoError)
    async def _credo(_: Request, exc: CredoError) -> JSONResponse:
        # The store's own trouble is the server's, not the client's; and its message names the
        # store's URL (a file path, a host), which is not the client's business either.
        if isinstance(exc, StoreBusy):
            message = "the ledger is busy with another writer; try again shortly"
            return respond(503, message, headers={"Retry-After": str(RETRY_BUSY)})
        if isinstance(exc, StoreError):
            return respond(503, "the ledger's store cannot be used now")
        status = next((status for kind, status in STATUS_OF if isinstance(exc, kind)), 422)
        return respond(status, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return respond(500, f"internal error: {type(exc).__name__}")
