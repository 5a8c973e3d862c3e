"""Replay a logged decision from the ledger position and rulebook version it used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credo.errors import CredoError, NotFound
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros
from credo.service.answers import Replayed
from credo.storage.sql import SqlStore


class UnknownDecision(CredoError, LookupError):
    pass


@dataclass(frozen=True)
class Replay:
    decision_id: str
    logged: dict[str, Any]
    recomputed: dict[str, Any]

    @property
    def same(self) -> bool:
        return self.logged == self.recomputed


def replay(store: SqlStore, decision_id: str) -> Replay:
    """Recompute a decision from exactly what was known when it was made, and compare."""
    logged = store.decision(decision_id)
    if logged is None:
        raise UnknownDecision(f"no decision {decision_id!r} in the log")
    state = Ledger(store).state(logged.subject, from_micros(logged.at_us), upto=logged.ledger_position)
    recomputed = state.decide(logged.action).as_dict()
    if "known" not in logged.answer:  # logged before decisions said whether the subject was known
        del recomputed["known"]
    return Replay(decision_id, logged.answer, recomputed)


def replayed(store: SqlStore, decision_id: str) -> Replayed:
    """The replay as the API answers it; NotFound (404) for a decision not in the log."""
    try:
        result = replay(store, decision_id)
    except UnknownDecision as exc:
        raise NotFound("no such decision") from exc
    return Replayed.model_validate(
        {"decision_id": decision_id, "same": result.same, "logged": result.logged, "recomputed": result.recomputed}
    )
