"""API keys as an operator handles them: listed, made and revoked — one flow for `credo keys`, the
API's POST /v1/keys and the desk's keys page.

A key is shown once, by whoever made it; only its SHA-256 is stored (auth.create_key). A
revocation is a new entry in the revocations' hash chain; the key's own row is never changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from credo.errors import Conflict, CredoError, NotFound
from credo.ledger.chain import micros
from credo.service import answers
from credo.service.auth import create_key, digest, key_expiry
from credo.service.errors import ApiError
from credo.service.models import KeyRequest
from credo.storage.logs import StoredKey
from credo.storage.sql import SqlStore

#: The shortest key id an operator may give: shorter ones name too many keys by chance.
SHORTEST_ID = 8


class BadKeyRequest(CredoError, ValueError):
    """A key that cannot be made or named as asked (unknown role, missing scope, bad expiry)."""


@dataclass(frozen=True)
class NewKey:
    key: str  # the key itself: shown once, never stored, logged or put in a URL
    stored: StoredKey


def key_status(key: StoredKey, now: dt.datetime) -> str:
    """'active', 'revoked' or 'expired'."""
    if key.revoked_us is not None:
        return "revoked"
    if key.expires_us is not None and micros(now) >= key.expires_us:
        return "expired"
    return "active"


def key_scope(key: StoredKey) -> str:
    """What the key is limited to: its source, its actions or its subject ('' for none)."""
    return key.source or ", ".join(key.actions) or key.subject or ""


def make_key(
    store: SqlStore,
    role: str,
    now: dt.datetime,
    *,
    source: str | None = None,
    actions: tuple[str, ...] = (),
    subject: str | None = None,
    expires: str | None = None,
) -> NewKey:
    """Make a key: `expires` is a duration from now (P90D), an instant (2026-12-31, UTC) or None
    for never. Raises BadKeyRequest naming what is wrong."""
    try:
        until = None if expires is None or not expires.strip() else key_expiry(expires, now)
        made = create_key(store, role, now, source=source, actions=actions, subject=subject, expires=until)
    except (CredoError, ValueError) as exc:
        raise BadKeyRequest(str(exc)) from exc
    stored = store.key(digest(made))
    assert stored is not None  # just written
    return NewKey(made, stored)


def find_key(store: SqlStore, reference: str) -> StoredKey:
    """The one key a reference names: the key itself, or at least 8 characters of its id."""
    reference = reference.strip()
    if reference.startswith("credo_"):
        wanted = [found for found in store.keys_list() if found.key_hash == digest(reference)]
    elif len(reference) < SHORTEST_ID:
        raise BadKeyRequest(
            f"key id {reference!r} is too short: give at least {SHORTEST_ID} characters of the id the key list shows"
        )
    else:
        wanted = [found for found in store.keys_list() if found.key_hash.startswith(reference.lower())]
    if not wanted:
        raise NotFound(f"no key {reference!r} in this store")
    if len(wanted) > 1:
        raise BadKeyRequest(f"key id {reference!r} names {len(wanted)} keys; give more of it")
    return wanted[0]


def revoke_key(store: SqlStore, reference: str, reason: str, actor: str, now: dt.datetime) -> StoredKey:
    """Revoke the key a reference names, from `now` on: it answers 401 and its sessions end.
    Raises BadKeyRequest (no reason, no actor, a bad id), NotFound, or Conflict (revoked already)."""
    found = find_key(store, reference)
    if not reason.strip() or not actor.strip():
        raise BadKeyRequest("a revocation needs a reason and who made it")
    if not store.revoke_key(found.key_hash, micros(now), reason.strip(), actor.strip()):
        raise Conflict(f"key {found.id} is already revoked")
    return found


def issue_key(store: SqlStore, request: KeyRequest, now: dt.datetime) -> answers.NewKey:
    """An admin's new key by HTTP (shown once, in this answer), by the same flow as the desk's and
    `credo keys create`; 422 when the rulebook does not allow it or the expiry is not one."""
    try:
        made = make_key(store, request.role, now, source=request.source, actions=tuple(request.actions),
                        subject=request.subject, expires=request.expires)  # fmt: skip
    except BadKeyRequest as exc:
        field = "expires" if request.expires and "expir" in str(exc).lower() else "role"
        raise ApiError(422, str(exc), [{"field": field, "reason": str(exc)}]) from exc
    return answers.NewKey(key=made.key, role=request.role)
