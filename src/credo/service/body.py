"""Request bodies bounded before they are read, and the caller's key checked before any of it is.

FastAPI reads a route's body before it resolves the route's dependencies, so a key checked by a
dependency would come after the whole body had been buffered. This middleware (plain ASGI: the
decorator form costs every request a task and two streams) therefore:

- answers 401 to a request that carries a body under /v1 without a known key, from its headers
  alone (every /v1 route that takes a body needs a key); the key found is left in the scope for
  the route's own dependency, which checks its role and rate;
- answers 413 at once to a declared Content-Length over the limit, and counts a body without one
  (chunked) as it streams, stopping at the limit with 413 (FastAPI's own `max_body_size` would
  answer in another shape than the API's one error shape);
- closes the connection after any answer given before the body was read to its end, so that the
  server stops reading it rather than draining it (the client sees the answer, not a timeout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException

from credo.service import errors
from credo.service.errors import ApiError
from credo.service.models import MAX_BODY

if TYPE_CHECKING:  # auth imports this module
    from credo.service.auth import KeyRing

KEY_SCOPE = "credo.key"  # where the key found from the headers waits for the route's dependency
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyGuard:
    def __init__(self, app: Any, keyring: KeyRing, limit: int = MAX_BODY) -> None:
        self.app = app
        self.keyring = keyring
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.limit):
            await _refuse(scope, receive, send, 413, f"a request body may hold at most {self.limit} bytes")
            return
        if scope["method"] in WITH_BODY and scope["path"].startswith("/v1/"):
            try:
                scope[KEY_SCOPE] = self.keyring.authenticate(headers.get(b"authorization", b"").decode("latin-1"))
            except ApiError as exc:
                await _refuse(scope, receive, send, exc.status, exc.message)
                return
        read_to_end = length in (None, b"0") and b"transfer-encoding" not in headers
        seen = 0
        started = False

        async def counted() -> Any:
            nonlocal read_to_end, seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
                read_to_end = not message.get("more_body", False)
            return message

        async def closing(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not read_to_end:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, closing)
        except BodyTooLarge as exc:  # raised where no handler of the app answered it
            if started:
                raise
            await _refuse(scope, receive, send, 413, str(exc.detail))


class BodyTooLarge(HTTPException):
    """Raised from the body's stream when it passes the limit; the app's handler answers 413 (an
    HTTPException, so that FastAPI's body parsing passes it on rather than answering 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"a request body may hold at most {limit} bytes", {"Connection": "close"})


async def _refuse(scope: Any, receive: Any, send: Any, status: int, message: str) -> None:
    """An answer given before any of the body was read: the connection closes after it."""
    await errors.respond(status, message, headers={"Connection": "close"})(scope, receive, send)
