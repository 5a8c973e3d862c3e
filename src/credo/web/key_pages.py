"""The desk's API keys page (admin keys only): the keys listed, a key made, a key revoked.

The pages call the same functions as `credo keys` (credo.service.keys). A new key is shown once,
in the answer to the form that made it (a page that is not cached); it is never put in a URL or
a log. Bad input gives the form again with what to change.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures.

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from credo.errors import NotFound
from credo.ledger.book import Ledger
from credo.service.auth import ROLES
from credo.service.keys import BadKeyRequest, find_key, make_key, revoke_key
from credo.storage.logs import StoredKey
from credo.storage.sql import SqlStore
from credo.web.desk import declared, key_lines
from credo.web.sessions import BadForm, Session, check_csrf

Page = Callable[..., HTMLResponse]
ID = re.compile(r"[0-9a-f]{16}")
#: What a key of each role is limited to, in the form's words.
NEEDS = {
    "agency": "the source its records come from",
    "provider": "the actions it may ask decisions for",
    "subject": "whose file it opens",
}


def add_key_pages(
    router: APIRouter,
    store: SqlStore,
    ledger: Ledger,
    clock: Callable[[], dt.datetime],
    page: Page,
    signed_in: Callable[..., Session],
) -> None:
    def keys_page(request: Request, session: Session, status: int = 200, **values: Any) -> HTMLResponse:
        now = clock()
        history = ledger.history()
        rulebook = history.in_force(now) if history else None
        tz = rulebook.tz if rulebook else dt.UTC
        sources, actions = declared(rulebook)
        form = {"role": "", "source": "", "actions": "", "subject": "", "expires": "", **values.pop("form", {})}
        return page(request, "keys.html", status=status, csrf=session.csrf, roles=ROLES, needs=NEEDS,
                    sources=sources, actions=actions, form=form,
                    keys=key_lines(store.keys_list(), now, tz, session.key.key_hash), **values)  # fmt: skip

    @router.get("/desk/keys", response_class=HTMLResponse)
    def keys(request: Request, revoked: str = "") -> HTMLResponse:
        session = signed_in(request, "admin")
        done = next((key for key in store.keys_list() if key.id == revoked and key.revoked_us), None)
        return keys_page(request, session, done=done.id if done else "")

    @router.post("/desk/keys", response_class=HTMLResponse)
    def new_key(
        request: Request,
        role: Annotated[str, Form(max_length=40)] = "",
        source: Annotated[str, Form(max_length=400)] = "",
        actions: Annotated[str, Form(max_length=2000)] = "",
        subject: Annotated[str, Form(max_length=400)] = "",
        expires: Annotated[str, Form(max_length=100)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> HTMLResponse:
        session = signed_in(request, "admin")
        check_csrf(session, csrf)
        form = {"role": role, "source": source, "actions": actions, "subject": subject, "expires": expires}
        if role not in ROLES:
            return keys_page(request, session, 400, form=form, message="choose the key's role from the list")
        # Only the scope the role needs is taken: a subject typed in for an agency key is not kept.
        wanted = tuple(action.strip() for action in actions.split(",") if action.strip())
        try:
            made = make_key(store, role, clock(), source=source.strip() if role == "agency" else None,
                            actions=wanted if role == "provider" else (),
                            subject=subject.strip() if role == "subject" else None,
                            expires=expires)  # fmt: skip
        except BadKeyRequest as exc:
            message = str(exc).replace("--source", "a source").replace("--actions", "actions")
            message = message.replace("--subject", "a subject").replace("--expires", "the expiry")
            return keys_page(request, session, 400, form=form, message=message)
        history = ledger.history()
        tz = history.versions[-1].rulebook.tz if history else dt.UTC
        line = key_lines([made.stored], clock(), tz, session.key.key_hash)[0]
        return page(request, "key_made.html", key=made.key, line=line)

    @router.get("/desk/keys/{key_id}/revoke", response_class=HTMLResponse)
    def revoke_form(request: Request, key_id: str) -> HTMLResponse:
        session = signed_in(request, "admin")
        found = _one(store, key_id)
        history = ledger.history()
        tz = history.versions[-1].rulebook.tz if history else dt.UTC
        line = key_lines([found], clock(), tz, session.key.key_hash)[0]
        return page(request, "key_revoke.html", line=line, csrf=session.csrf)

    @router.post("/desk/keys/{key_id}/revoke")
    def revoke(
        request: Request,
        key_id: str,
        reason: Annotated[str, Form(max_length=2000)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        session = signed_in(request, "admin")
        check_csrf(session, csrf)
        found = _one(store, key_id)
        if not reason.strip():
            raise BadForm("write why the key is revoked (it is kept with the revocation), then send it again")
        revoke_key(store, found.id, reason, f"admin {session.key.id}", clock())
        return RedirectResponse(f"/desk/keys?revoked={found.id}", status_code=303)


def _one(store: SqlStore, key_id: str) -> StoredKey:
    """The key a page's address names by its whole id (the 16 characters the list shows), else
    NotFound: an address never takes a key itself, nor a short id that could name another key."""
    if not ID.fullmatch(key_id):
        raise NotFound("no such key: choose it from the list of keys")
    return find_key(store, key_id)
