"""What the routes work with: one `Services` object per app, reached by a typed dependency.

create_app builds it and keeps it on `app.state.services`; a route asks for it (`Svc`) or for a
key of the roles it serves (`Agency`, `Reviewer`, …), never for create_app's locals.
"""

# No `from __future__ import annotations`: FastAPI reads the dependency signatures.

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Self

from fastapi import Depends, Request

from credo.ledger.book import Ledger
from credo.service.appeals import Appeals
from credo.service.auth import KeyRing, RateLimit, Role
from credo.service.cache import CACHE_RECORDS, StateCache
from credo.service.decision_log import DecisionLog
from credo.service.delivery import Deliverer
from credo.service.errors import ApiError
from credo.service.work import Workload
from credo.storage.logs import StoredKey
from credo.storage.sql import SqlStore

DEADLINE_LOOK = dt.timedelta(seconds=1)  # deadlines are days apart: once a second of the clock is plenty


@dataclass
class Services:
    """The store and everything built over it that answers requests, with the injected clock."""

    store: SqlStore
    ledger: Ledger
    appeals: Appeals
    cache: StateCache
    decision_log: DecisionLog
    deliverer: Deliverer
    keyring: KeyRing
    limit: RateLimit
    clock: Callable[[], dt.datetime]
    notices_here: bool = True  # False: a relay process delivers them (credo.service.relay)
    work: Workload = field(default_factory=Workload)
    last_look: dt.datetime | None = field(default=None, init=False)

    @classmethod
    def over(
        cls,
        store: SqlStore,
        clock: Callable[[], dt.datetime],
        keyring: KeyRing,
        limit: RateLimit,
        cache_records: int = CACHE_RECORDS,
        notices_here: bool = True,
    ) -> Self:
        """The services over one store, wired as the service runs them."""
        ledger = Ledger(store, clock)
        deliverer = Deliverer(store, ledger)
        appeals = Appeals(store, ledger, clock, deliverer.after_write if notices_here else _owed_only)
        cache = StateCache(store, ledger, cache_records)
        return cls(store, ledger, appeals, cache, DecisionLog(store), deliverer, keyring, limit, clock, notices_here)

    def after_write(self) -> None:
        """Deliver the notices a write owes, unless a relay process delivers them."""
        if self.notices_here:
            self.deliverer.after_write()

    def lapse_deadlines(self) -> None:
        """Appeals whose deadline has passed suspend their record before anything is answered."""
        now = self.clock()
        if self.last_look is None or now - self.last_look >= DEADLINE_LOOK or now < self.last_look:
            self.last_look = now
            self.appeals.lapse_overdue()

    def instant_or_now(self, text: str | None, now: dt.datetime) -> dt.datetime:
        """The instant a request names (`at`), or now; 422 naming `at` when it is not one."""
        try:
            return self.ledger.instant(text) if text else now
        except Exception as exc:
            raise ApiError(422, str(exc), [{"field": "at", "reason": str(exc)}]) from exc


def _owed_only() -> None:
    """After a write whose notices the relay delivers: nothing more to do here."""


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]


def caller(*roles: Role) -> Callable[[Request], Awaitable[StoredKey]]:
    """A dependency: the caller's key, which must hold one of the roles and be within its rate."""

    async def check(request: Request) -> StoredKey:
        found = services(request)
        key = found.keyring.principal(request)
        found.limit.take(key.key_hash)
        if key.role not in roles:
            raise ApiError(403, f"a {key.role} key may not do this; it needs {' or '.join(roles)}")
        return key

    return check


async def on_time(svc: Svc) -> None:
    """The appeal deadlines, looked at before a route that shows their effects answers."""
    svc.lapse_deadlines()


Agency = Annotated[StoredKey, Depends(caller("agency"))]
SubjectKey = Annotated[StoredKey, Depends(caller("subject"))]
AuditorOrSubject = Annotated[StoredKey, Depends(caller("auditor", "subject"))]
Reviewer = Annotated[StoredKey, Depends(caller("reviewer"))]
Auditor = Annotated[StoredKey, Depends(caller("auditor"))]
Admin = Annotated[StoredKey, Depends(caller("admin"))]
Provider = caller("provider")  # called by the decision route itself (its hot path)
OnTime = Annotated[None, Depends(on_time)]
