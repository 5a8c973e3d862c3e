"""Appeals: a subject disputes one of its records; a reviewer upholds or reverses it before the
rulebook's deadline, or the record is suspended when the deadline passes (FCRA §1681i).

A record has at most one open appeal. Filing, resolving and lapsing are each one store
transaction that checks the appeal's state under the append lock (credo.storage.logs), so a
second resolution, or two sent at once, is refused (409) and stores nothing; the notices each
owes are delivered after it (credo.service.delivery).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from credo.errors import Conflict, CredoError, NotFound
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros, micros
from credo.rules.time import iso
from credo.service.answers import AppealView, PendingAppeals
from credo.storage.logs import AppealRow, Planned
from credo.storage.sql import SqlStore, StoreBusy


def view(appeal: AppealRow, now: dt.datetime) -> dict[str, Any]:
    """An appeal as the API, the CLI and the subject's file show it."""
    lapsed = appeal.events.get("lapsed")
    outcome = appeal.outcome
    return {
        "id": appeal.id,
        "record": appeal.record,
        "subject": appeal.subject,
        "statement": appeal.statement,
        "filed": from_micros(appeal.filed_us).isoformat(),
        "deadline": from_micros(appeal.deadline_us).isoformat(),
        "while_pending": appeal.while_pending,
        "status": outcome or ("lapsed" if lapsed else "pending"),
        "overdue": outcome is None and micros(now) >= appeal.deadline_us,
        "resolution": None
        if outcome is None
        else {
            "outcome": outcome,
            "reason": appeal.events[outcome]["reason"],
            "by": appeal.events[outcome]["actor"],
            "at": from_micros(appeal.events[outcome]["at_us"]).isoformat(),
        },
    }


def appeal_view(appeal: AppealRow, now: dt.datetime) -> AppealView:
    return AppealView.model_validate(view(appeal, now))


#: How many waiting appeals one page of the reviewers' queue shows unless asked for another number.
QUEUE_PAGE = 100


def pending_appeals(store: SqlStore, now: dt.datetime, limit: int = QUEUE_PAGE, offset: int = 0) -> PendingAppeals:
    """Appeals not yet resolved, the nearest deadline first: one page of them, and how many wait."""
    queue = store.waiting_appeals(micros(now), limit, offset)
    return PendingAppeals.model_validate(
        {"appeals": [view(item, now) for item in queue.appeals], "total": queue.total, "overdue": queue.overdue,
         "offset": offset}
    )  # fmt: skip


class Appeals:
    def __init__(
        self,
        store: SqlStore,
        ledger: Ledger,
        clock: Callable[[], dt.datetime],
        delivered: Callable[[], object] = lambda: None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.delivered = delivered  # runs after each write: delivers the notices it owes

    def file(self, subject: str, reference: str, statement: str) -> AppealRow:
        """The subject disputes one of its own records; another's record is 'no such record'."""
        try:
            record = self.ledger.find(reference)
        except CredoError as exc:
            raise NotFound("no such record") from exc
        if record.subject != subject:
            raise NotFound("no such record")
        history = self.ledger.history()

        def filing() -> AppealRow:
            now = self.clock()
            rulebook = history.require(now)
            rules = rulebook.appeals
            return AppealRow(uuid.uuid4().hex, record.position, subject, statement, micros(now),
                             micros(rules.respond_within.after(now, rulebook.tz)), rules.while_pending, {},
                             record.id)  # fmt: skip

        def plan(row: AppealRow, actions: list[str]) -> Sequence[Planned]:
            if "reverse" in actions:
                raise Conflict(f"record {row.record} was reversed: it no longer counts, so there is nothing to appeal")
            if row.while_pending == "suspend":
                return [("suspend", f"under appeal {row.id}", f"appeal {row.id}")]
            return []

        appeal = self.store.file_appeal(filing, plan)
        self.delivered()
        return self.find(appeal.id)

    def instant(self) -> int:
        """Now, as the store stamps an appeal's event: read under the append lock, so events on one
        record are stamped in the order they commit (a filing whose clock was read before a
        resolution's, but that commits after it, would otherwise look filed while the other was open)."""
        return micros(self.clock())

    def find(self, appeal_id: str) -> AppealRow:
        found: list[AppealRow] = self.store.appeals(appeal_id=appeal_id)
        if not found:
            raise NotFound("no such appeal")
        return found[0]

    def resolve(self, appeal_id: str, outcome: str, reason: str, reviewer: str) -> AppealRow:
        """Uphold or reverse a pending appeal; Conflict (409) if it is not pending any more."""

        def plan(appeal: AppealRow, actions: list[str]) -> Sequence[Planned]:
            if "reverse" in actions:
                if outcome == "uphold":
                    raise Conflict(
                        f"record {appeal.record} was reversed after appeal {appeal.id} was filed: it no longer "
                        "counts and cannot be upheld; resolve the appeal as reverse"
                    )
                return []  # already reversed: the appeal is closed as won, with no second reversal
            if outcome == "reverse":
                return [("reverse", reason, reviewer)]
            if appeal.while_pending == "suspend" or "lapsed" in appeal.events:
                return [("reinstate", reason, reviewer)]
            return []

        self.store.settle_appeal(appeal_id, outcome, reason, reviewer, self.instant, plan)
        self.delivered()
        return self.find(appeal_id)

    def lapse_overdue(self) -> int:
        """Suspend the record of every appeal whose deadline passed unanswered; notify its subject."""
        now = self.clock()
        count = 0
        for appeal in self.store.appeals(overdue_at=micros(now)):
            history = self.ledger.history()
            tz = history.versions[-1].rulebook.tz if history else dt.UTC
            deadline = iso(from_micros(appeal.deadline_us), tz)

            def plan(row: AppealRow, actions: list[str], deadline: str | None = deadline) -> Sequence[Planned]:
                if "reverse" in actions or row.while_pending == "suspend":
                    return []  # it does not count already
                return [("suspend", f"appeal {row.id} unanswered by its deadline {deadline}", "credo")]

            try:
                self.store.settle_appeal(appeal.id, "lapsed", f"no answer by {deadline}", "credo", self.instant, plan)
            except Conflict:
                continue  # resolved or lapsed meanwhile, by another request or process
            except StoreBusy:
                break  # another appender (a bulk ingest) holds the ledger: nothing was stored; the next look lapses it
            count += 1
        if count:
            self.delivered()
        return count
