"""Roles by API key. Only a SHA-256 of each key is stored; the key is shown once, at creation."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Literal, get_args

from fastapi import Request

from credo.errors import CredoError
from credo.ledger.book import Ledger
from credo.ledger.chain import micros
from credo.ledger.incoming import identifier
from credo.rules.model import Rulebook
from credo.rules.time import parse_duration, parse_instant
from credo.service.body import KEY_SCOPE
from credo.service.errors import ApiError
from credo.storage.logs import StoredKey
from credo.storage.sql import SqlStore

Role = Literal["agency", "provider", "subject", "reviewer", "auditor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    store: SqlStore,
    role: str,
    now: dt.datetime,
    *,
    source: str | None = None,
    actions: tuple[str, ...] = (),
    subject: str | None = None,
    expires: dt.datetime | None = None,
) -> str:
    """Make a key for a role; return the key itself (it is not stored, only its hash).

    Its source, actions and subject are identifiers spelt as everywhere else (stripped, printable);
    an agency's source and a provider's actions must be declared by the rulebook in force now (or
    by a version already published to take effect later). What was checked is what is stored.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    source = None if source is None or source == "" else identifier(source, "source")
    actions = tuple(dict.fromkeys(identifier(action, "actions") for action in actions))
    subject = None if subject is None or subject == "" else identifier(subject, "subject")
    if role == "agency" and not source:
        raise ValueError("an agency key needs --source: the source its records come from")
    if role == "provider" and not actions:
        raise ValueError("a provider key needs --actions: the actions it may ask decisions for")
    if role == "subject" and not subject:
        raise ValueError("a subject key needs --subject: whose data it may read")
    if role == "agency" and source is not None:
        sources = _declared(store, now, _sources)
        if source not in sources:
            raise ValueError(f"unknown source {source!r}: the rulebook in force declares {_listed(sources)}")
    if role == "provider":
        known = _declared(store, now, lambda rulebook: set(rulebook.actions))
        for action in actions:
            if action not in known:
                raise ValueError(f"unknown action {action!r}: the rulebook in force declares {_listed(known)}")
    if expires is not None and expires <= now:
        raise ValueError(f"--expires {expires.isoformat()} is not in the future")
    key = f"credo_{role}_{secrets.token_urlsafe(32)}"
    expires_us = None if expires is None else micros(expires)
    store.add_key(StoredKey(digest(key), role, source, actions, subject, micros(now), expires_us))
    return key


def _declared(store: SqlStore, now: dt.datetime, names: Callable[[Rulebook], set[str]]) -> set[str]:
    """The names the rulebook in force at `now` declares, and those of versions to come."""
    history = Ledger(store).history()
    current = history.in_force(now)
    if current is None:
        raise ValueError("no rulebook is in force: publish one before making agency or provider keys")
    found = set(names(current))
    for version in history.versions:
        if version.effective > now:
            found |= names(version.rulebook)
    return found


def _sources(rulebook: Rulebook) -> set[str]:
    """The sources a rulebook names: those it describes, and those its behaviours allow."""
    return set(rulebook.sources).union(*(behaviour.sources for behaviour in rulebook.behaviours.values()))


def _listed(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def key_expiry(text: str, now: dt.datetime) -> dt.datetime:
    """When a key expires: a duration from now (P90D) or an instant (2026-12-31, UTC)."""
    try:
        if text.strip().upper().startswith("P"):
            return parse_duration(text.strip()).after(now, dt.UTC)
        return parse_instant(text, dt.UTC)
    except CredoError as exc:
        raise ValueError(f"--expires: {exc}") from exc


class KeyRing:
    """Keys looked up by hash, remembered once found (a key is never edited; an unknown one is
    asked again each time, so a key created meanwhile works at once). Revocations are read again
    at most every `refresh` seconds of the ticker, so that the hot path does not ask the store on
    every request: a revocation takes effect within that time."""

    def __init__(
        self,
        store: SqlStore,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        ticker: Callable[[], float] = time.monotonic,
        refresh: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ticker = ticker
        self.refresh = refresh
        self.known: dict[str, StoredKey] = {}
        self.revoked: set[str] = set()
        self.looked: float | None = None

    def principal(self, request: Request) -> StoredKey:
        """The request's key: found already from its headers (credo.service.body), or now."""
        found: StoredKey | None = request.scope.get(KEY_SCOPE)
        key = found or self.authenticate(request.headers.get("authorization", ""))
        request.state.key_role = key.role  # for the access log: the role, never the key
        return key

    def authenticate(self, header: str) -> StoredKey:
        """The key an Authorization header names (401 when there is none, or it is unknown)."""
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "send an API key as 'Authorization: Bearer KEY'")
        found = self.find(key.strip())
        if found is None:
            raise ApiError(401, "unknown API key")
        refused = self.refusal(found)
        if refused is not None:
            raise ApiError(401, refused)
        return found

    def find(self, key: str) -> StoredKey | None:
        """The stored key for a key's text, or None (the pages' sign-in asks this too)."""
        return self.by_hash(digest(key))

    def by_hash(self, hashed: str) -> StoredKey | None:
        found = self.known.get(hashed) or self.store.key(hashed)
        if found is not None:
            self.known[hashed] = found
        return found

    def refusal(self, found: StoredKey) -> str | None:
        """Why a known key may not be used now (revoked, expired), or None."""
        tick = self.ticker()
        if self.looked is None or tick - self.looked >= self.refresh or tick < self.looked:
            self.looked = tick
            self.revoked = self.store.revoked_keys()
        if found.key_hash in self.revoked:
            return "this API key was revoked"
        if found.expires_us is not None and micros(self.clock()) >= found.expires_us:
            return "this API key has expired; ask an admin for a new one"
        return None


class RateLimit:
    """A token bucket per key: `rate` requests a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, ticker: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.ticker = ticker
        self.buckets: dict[str, tuple[float, float]] = {}  # key hash -> (tokens, when)
        self.lock = threading.Lock()

    def take(self, key_hash: str) -> None:
        now = self.ticker()
        with self.lock:
            tokens, then = self.buckets.get(key_hash, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1:
                wait = math.ceil((1 - tokens) / self.rate)
                self.buckets[key_hash] = (tokens, now)
                raise ApiError(429, f"too many requests; try again in {wait} s", headers={"Retry-After": str(wait)})
            self.buckets[key_hash] = (tokens - 1, now)
