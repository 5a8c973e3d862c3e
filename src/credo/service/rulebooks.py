"""The published rulebook as the API answers it: the version in force, every version, publishing."""

from __future__ import annotations

import datetime as dt

from credo.errors import NotFound, RulebookError
from credo.ledger.book import Ledger, RulebookConflict
from credo.ledger.chain import from_micros
from credo.service.answers import Published, RulebookInForce, Versions, VersionView
from credo.service.errors import ApiError
from credo.service.models import Publication
from credo.storage.sql import SqlStore


def in_force(ledger: Ledger, now: dt.datetime) -> RulebookInForce:
    """The rulebook in force now; NotFound (404) when none is."""
    current = ledger.history().in_force(now)
    if current is None:
        raise NotFound("no rulebook is in force")
    return RulebookInForce(rulebook=current.model_dump(mode="json", by_alias=True, exclude_none=True))


def versions(store: SqlStore) -> Versions:
    """Every published version, in the order they were published."""
    return Versions(
        versions=[
            VersionView(
                position=stored.position,
                name=stored.name,
                version=stored.version,
                effective=from_micros(stored.effective_us).isoformat(),
                published=from_micros(stored.published_us).isoformat(),
                retroactive=stored.retroactive,
            )
            for stored in store.versions()
        ]
    )


def publish(ledger: Ledger, request: Publication) -> Published:
    """Publish a version: 422 with the lint's problems, 409 when it contradicts what is published."""
    try:
        done = ledger.publication(request.text, request.effective, request.retroactive, "<request>")
    except RulebookError as exc:
        raise ApiError(422, "the rulebook cannot be published", [{"reason": p} for p in exc.problems]) from exc
    except RulebookConflict as exc:
        raise ApiError(409, str(exc)) from exc
    return Published(position=done.position, published=done.new)
