"""What each party may learn: a provider the decision and its public reasons, a subject everything."""

from __future__ import annotations

import datetime as dt
from typing import Any

from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros
from credo.ledger.model import counting
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.semantics import Decision, explain
from credo.service.appeals import view
from credo.service.notices import notices_of
from credo.storage.sql import SqlStore


def public_decision(decision: Decision, decision_id: str, rulebook: Rulebook) -> dict[str, Any]:
    """The provider's view: allow or deny, each measure's detail, basis and latest end; never the
    score or the records."""
    measures = []
    for measure in decision.measures:
        ends = [reason.get("until") for reason in measure.reasons if "list" in reason and not reason.get("negated")]
        until = None if not ends or None in ends else max(str(end) for end in ends)
        measures.append({"measure": measure.measure, "effect": measure.effect, "detail": measure.detail,
                         "basis": measure.basis, "until": until})  # fmt: skip
    return {
        "decision_id": decision_id,
        "subject": decision.subject,
        "action": decision.action,
        "at": decision.at,
        "decision": decision.decision,
        "known": decision.known,
        "measures": measures,
        "appeal": (
            "The subject can read every reason at GET /v1/me/explanation and dispute any record; "
            f"the operator must answer a dispute within {rulebook.appeals.respond_within}."
        ),
    }


def own_records(
    store: SqlStore, ledger: Ledger, subject: str, now: dt.datetime, window: slice | None = None
) -> list[dict[str, Any]]:
    """Every record about the subject (or those in `window`, in ledger order), with its status,
    corrections and appeals."""
    stored = store.records(subject)
    corrections = store.corrections(subject=subject)
    counted = {record.position for record in counting(stored, corrections)}
    subject_appeals = store.appeals(subject)
    tz = ledger.history().versions[-1].rulebook.tz if store.versions() else dt.UTC
    fixes: dict[int, list[Any]] = {}
    for correction in corrections:
        fixes.setdefault(correction.record_position, []).append(correction)
    rows = []
    for record in stored[window] if window is not None else stored:
        mine = fixes.get(record.position, [])
        status = "counting" if record.position in counted else _status(record.pending, [c.action for c in mine])
        disputes = [
            {
                "statement": item.statement,
                "filed": from_micros(item.filed_us).isoformat(),
                "status": view(item, now)["status"],
            }
            for item in subject_appeals
            if item.record_position == record.position
        ]
        rows.append(
            {
                "id": record.id,
                "position": record.position,
                "behaviour": record.behaviour,
                "at": iso(from_micros(record.at_us), tz),
                "recorded_at": iso(from_micros(record.recorded_us), tz),
                "status": status,
                "evidence": record.evidence,
                "corrections": [
                    {
                        "action": c.action,
                        "reason": c.reason,
                        "by": c.actor,
                        "at": iso(from_micros(c.recorded_us), tz),
                    }
                    for c in mine
                ],
                "appeals": disputes,
            }
        )
    return rows


def _status(pending: bool, actions: list[str]) -> str:
    """Why a record does not count, from its corrections in ledger order."""
    if "reverse" in actions:
        return "reversed"
    suspended = False
    for action in actions:
        suspended = action == "suspend" or (suspended and action != "reinstate")
    if suspended:
        return "suspended"
    return "awaiting confirmation" if pending and "confirm" not in actions else "counting"


def whole_file(store: SqlStore, ledger: Ledger, subject: str, now: dt.datetime) -> dict[str, Any]:
    """Everything held about the subject (GDPR Art. 15): the API's export and the page's download."""
    state = ledger.state(subject, now)
    return {
        "subject": subject,
        "now": now.isoformat(),
        "summary": state.summary(),
        "explanation": explain(state),
        "records": own_records(store, ledger, subject, now),
        "decisions": [{"decision_id": d.id, **d.answer} for d in store.decisions_of(subject)],
        "appeals": [view(appeal, now) for appeal in store.appeals(subject)],
        "notices": [notice.model_dump(mode="json") for notice in notices_of(store, subject)],
    }
