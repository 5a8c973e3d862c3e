"""Appeals: a subject disputes one of its records; a reviewer upholds or reverses it before the
rulebook's deadline, or the record is suspended when the deadline passes (FCRA §1681i)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from credo.errors import CredoError
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros, micros
from credo.semantics import NoRulebookInForce, SubjectState
from credo.service.errors import ApiError
from credo.service.notices import notify, tell
from credo.storage.logs import AppealRow
from credo.storage.sql import SqlStore


def view(appeal: AppealRow, now: dt.datetime) -> dict[str, Any]:
    lapsed = appeal.events.get("lapsed")
    return {
        "id": appeal.id,
        "record_position": appeal.record_position,
        "subject": appeal.subject,
        "statement": appeal.statement,
        "filed": from_micros(appeal.filed_us).isoformat(),
        "deadline": from_micros(appeal.deadline_us).isoformat(),
        "while_pending": appeal.while_pending,
        "status": appeal.outcome or ("lapsed" if lapsed else "pending"),
        "overdue": appeal.outcome is None and micros(now) >= appeal.deadline_us,
        "resolution": next(
            (
                {
                    "outcome": event,
                    "reason": appeal.events[event]["reason"],
                    "by": appeal.events[event]["actor"],
                    "at": from_micros(appeal.events[event]["at_us"]).isoformat(),
                }
                for event in ("uphold", "reverse")
                if event in appeal.events
            ),
            None,
        ),
    }


class Appeals:
    def __init__(self, store: SqlStore, ledger: Ledger, clock: Callable[[], dt.datetime]) -> None:
        self.store = store
        self.ledger = ledger
        self.clock = clock

    def _state(self, subject: str, now: dt.datetime) -> SubjectState | None:
        try:
            return self.ledger.state(subject, now)
        except NoRulebookInForce:
            return None

    def _correct(self, subject: str, position: int, action: str, reason: str, actor: str) -> None:
        """A correction, with notices for whatever it makes worse."""
        now = self.clock()
        before = self._state(subject, now)
        self.ledger.correct(str(position), action, reason, actor)  # type: ignore[arg-type]
        after = self._state(subject, now)
        if after is not None:
            notify(self.store, before, after, now)

    def file(self, subject: str, reference: str, statement: str) -> AppealRow:
        """The subject disputes one of its own records; another's record is 'no such record'."""
        try:
            record = self.ledger.find(reference)
        except CredoError as exc:
            raise ApiError(404, "no such record") from exc
        if record.subject != subject:
            raise ApiError(404, "no such record")
        now = self.clock()
        rulebook = self.ledger.history().require(now)
        rules = rulebook.appeals
        appeal = AppealRow(uuid.uuid4().hex, record.position, subject, statement, micros(now),
                           micros(rules.respond_within.after(now, rulebook.tz)), rules.while_pending, {})  # fmt: skip
        self.store.file_appeal(appeal)
        if rules.while_pending == "suspend":
            self._correct(subject, record.position, "suspend", f"under appeal {appeal.id}", f"appeal {appeal.id}")
        return appeal

    def find(self, appeal_id: str) -> AppealRow:
        found: list[AppealRow] = self.store.appeals(appeal_id=appeal_id)
        if not found:
            raise ApiError(404, "no such appeal")
        return found[0]

    def resolve(self, appeal_id: str, outcome: str, reason: str, reviewer: str) -> AppealRow:
        appeal = self.find(appeal_id)
        now = self.clock()
        if not self.store.add_appeal_event(appeal_id, outcome, reason, reviewer, micros(now)) or appeal.outcome:
            raise ApiError(409, f"appeal {appeal_id} is already resolved")
        suspended = appeal.while_pending == "suspend" or "lapsed" in appeal.events
        if outcome == "reverse":
            self._correct(appeal.subject, appeal.record_position, "reverse", reason, reviewer)
        elif suspended:
            self._correct(appeal.subject, appeal.record_position, "reinstate", reason, reviewer)
        verdict = "reversed: it no longer counts" if outcome == "reverse" else "upheld: it stands, with your statement"
        tell(self.store, appeal.subject, "appeal_resolved", f"Your appeal was {verdict}.", now,
             appeal=appeal_id, outcome=outcome, reason=reason)  # fmt: skip
        return self.find(appeal_id)

    def lapse_overdue(self) -> int:
        """Suspend the record of every appeal whose deadline passed unanswered; notify its subject."""
        now = self.clock()
        count = 0
        for appeal in self.store.appeals(overdue_at=micros(now)):
            deadline = from_micros(appeal.deadline_us).isoformat()
            if not self.store.add_appeal_event(appeal.id, "lapsed", f"no answer by {deadline}", "credo", micros(now)):
                continue
            if appeal.while_pending != "suspend":
                self._correct(appeal.subject, appeal.record_position, "suspend",
                              f"appeal {appeal.id} unanswered by its deadline {deadline}", "credo")  # fmt: skip
            tell(self.store, appeal.subject, "appeal_lapsed",
                 f"Your appeal was not answered by {deadline}: the record is suspended and does not count.", now,
                 appeal=appeal.id)  # fmt: skip
            count += 1
        return count
