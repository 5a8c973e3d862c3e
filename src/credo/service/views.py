"""What each party may learn: a provider the decision and its public reasons, a subject everything."""

from __future__ import annotations

import datetime as dt
from typing import Any

from credo.errors import NotFound
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros
from credo.ledger.model import counting
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.semantics import Decision, NoRulebookInForce, SubjectState, explain
from credo.service.answers import (
    Explanation,
    LoggedDecision,
    Notices,
    SubjectFile,
    SubjectRecords,
    Summary,
)
from credo.service.appeals import view
from credo.service.notices import notices_of
from credo.storage.logs import StoredKey
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


# The subject's own file, piece by piece, as the /v1/me routes answer it.


def own_state(ledger: Ledger, subject: str, now: dt.datetime) -> SubjectState:
    """The subject's state now; NotFound (404) when no rulebook is in force (nothing is scored)."""
    try:
        return ledger.state(subject, now)
    except NoRulebookInForce as exc:
        raise NotFound(str(exc)) from exc


def subject_summary(ledger: Ledger, subject: str, now: dt.datetime) -> Summary:
    """Scores, tiers and lists now."""
    return Summary.model_validate(own_state(ledger, subject, now).summary())


def subject_explanation(ledger: Ledger, subject: str, now: dt.datetime) -> Explanation:
    """Every point explained, and the way to the next tier or off a list."""
    return Explanation.model_validate(explain(own_state(ledger, subject, now)))


def subject_records(store: SqlStore, ledger: Ledger, subject: str, now: dt.datetime) -> SubjectRecords:
    return SubjectRecords.model_validate({"records": own_records(store, ledger, subject, now)})


def subject_notices(store: SqlStore, subject: str) -> Notices:
    return Notices(notices=notices_of(store, subject))


def subject_file(store: SqlStore, ledger: Ledger, subject: str, now: dt.datetime) -> SubjectFile:
    """The whole file (GDPR Art. 15); NotFound (404) when no rulebook is in force."""
    try:
        return SubjectFile.model_validate(whole_file(store, ledger, subject, now))
    except NoRulebookInForce as exc:
        raise NotFound(str(exc)) from exc


def logged_decision(store: SqlStore, decision_id: str, key: StoredKey) -> LoggedDecision:
    """A logged decision, for an auditor or for the subject it concerns (others learn nothing)."""
    found = store.decision(decision_id)
    if found is None or (key.role == "subject" and found.subject != key.subject):
        raise NotFound("no such decision")
    # The rest is the logged answer (answers.DecisionAnswer), checked as the answer is written.
    logged: LoggedDecision = {
        "decision_id": found.id,
        "rulebook_position": found.rulebook_position,
        "ledger_position": found.ledger_position,
        "decided_at": from_micros(found.decided_us).isoformat(),
        **found.answer,  # type: ignore[typeddict-item]
    }
    return logged
