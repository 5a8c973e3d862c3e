"""Notices: what a write or the passing of time did to a subject, told once, in plain words.

One event (a batch of records, a correction, an appeal's filing, resolution or lapse, a sweep)
brings one notice to each subject it changed: a headline saying what happened, every consequence
the worst first (good news too: leaving a list, a measure ending, a better grade, an appeal won),
and what the subject can do next. Instants are in the rulebook's zone. Built by the deliverer
(credo.service.delivery) from the outbox; stored and answered as a `Notice`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from credo.ledger.chain import from_micros
from credo.ledger.model import Correction, StoredRecord
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.service.consequences import Consequence, day, words
from credo.storage.outbox import StoredNotice
from credo.storage.sql import SqlStore

_CORRECTED = {
    "reverse": "reversed: it no longer counts",
    "suspend": "suspended: it does not count for now",
    "reinstate": "reinstated: it counts again",
    "confirm": "confirmed: it counts from now on",
}
_UNITS = {"Y": "year", "M": "month", "W": "week", "D": "day"}
_LEGACY_TEXT = frozenset({"message", "appeal", "at"})
_SHOWN = 5  # records named in a headline; the rest are counted


class Notice(BaseModel):
    """One notice to one subject about one event."""

    id: str
    subject: str
    kind: str = Field(description="the event: records, correction, appeal_filed, appeal_resolved, appeal_lapsed, time")
    at: str = Field(description="when it happened, in the rulebook's timezone")
    headline: str
    consequences: list[Consequence] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    message: str = Field(description="the whole notice as one text")
    facts: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: StoredNotice) -> Notice:
        body = stored.body
        if "headline" in body:
            return cls.model_validate({**body, "id": stored.id, "subject": stored.subject, "kind": stored.kind})
        # A notice stored before notices were typed: its one message is its headline.
        message = str(body.get("message", ""))
        appeal = body.get("appeal")
        return cls(id=stored.id, subject=stored.subject, kind=stored.kind, at=str(body.get("at", "")),
                   headline=message, next_steps=[appeal] if isinstance(appeal, str) else [], message=message,
                   facts={key: value for key, value in body.items() if key not in _LEGACY_TEXT})  # fmt: skip


@dataclass(frozen=True)
class Event:
    """What happened to one subject in one outbox entry."""

    kind: str
    at: dt.datetime
    facts: dict[str, Any]
    records: list[StoredRecord] = field(default_factory=list)  # the subject's records the write added
    corrections: list[tuple[Correction, StoredRecord]] = field(default_factory=list)
    disputed: StoredRecord | None = None  # the appeal's record


def duration_words(text: str) -> str:
    """P30D -> 30 days; P2Y6M -> 2 years 6 months (ISO text kept when it has a time part)."""
    parts = re.findall(r"(\d+)([YMWD])", text.split("T")[0])
    if "T" in text or not parts:
        return text
    return " ".join(f"{n} {_UNITS[unit]}{'' if n == '1' else 's'}" for n, unit in parts)


def notices_of(store: SqlStore, subject: str) -> list[Notice]:
    return [Notice.from_stored(stored) for stored in store.notices(subject)]


def compose(notice_id: str, subject: str, event: Event, found: list[Consequence], rulebook: Rulebook) -> Notice | None:
    """The notice of one event to one subject; None when a batch or time changed nothing for them."""
    if event.kind in ("records", "time") and not found:
        return None
    tz = rulebook.tz
    headline = _headline(event, rulebook)
    steps = _steps(event, found, rulebook)
    lines = [headline, *(f"- {item.text}" for item in found), *(f"What you can do: {step}" for step in steps)]
    return Notice(id=notice_id, subject=subject, kind=event.kind, at=iso(event.at, tz) or "", headline=headline,
                  consequences=found, next_steps=steps, message="\n".join(lines), facts=event.facts)  # fmt: skip


def _record(record: StoredRecord | None, tz: dt.tzinfo, fallback: str = "") -> str:
    if record is None:
        return f"record {fallback}"
    return f"record {record.id} ({words(record.behaviour)}, {day(from_micros(record.at_us), tz)})"


def _headline(event: Event, rulebook: Rulebook) -> str:
    tz, facts = rulebook.tz, event.facts
    disputed = _record(event.disputed, tz, str(facts.get("record", "")))
    given = str(facts.get("reason") or "").strip()
    reason = f" The reviewer's reason: {given}{'' if given.endswith(('.', '!', '?')) else '.'}" if given else ""
    if event.kind == "records":
        shown = "; ".join(_record(record, tz).removeprefix("record ") for record in event.records[:_SHOWN])
        more = f"; and {len(event.records) - _SHOWN} more" if len(event.records) > _SHOWN else ""
        plural = "s" if len(event.records) > 1 else ""
        return f"New record{plural} about you: {shown}{more}.{_meanings(event.records, rulebook)}"
    if event.kind == "correction":
        said = [f"{_first_up(_record(record, tz))} was {_CORRECTED[fix.action]} (by {fix.actor}: {fix.reason})."
                for fix, record in event.corrections]  # fmt: skip
        return " ".join(said) or "A correction was made to your records."
    if event.kind == "appeal_resolved" and facts.get("event") == "reverse":
        return f"You won your appeal against {disputed}: the reviewer reversed it, so it no longer counts.{reason}"
    if event.kind == "appeal_resolved":
        return (f"Your appeal against {disputed} was not accepted: the reviewer upheld the record, so it still "
                f"counts, with your statement kept beside it.{reason}")  # fmt: skip
    if event.kind == "appeal_lapsed":
        return (f"Your appeal against {disputed} was not answered by its deadline: the record is suspended and "
                "does not count until a reviewer decides.")  # fmt: skip
    if event.kind == "appeal_filed":
        return f"Your appeal against {disputed} was received: while it is reviewed the record does not count."
    return "With the passing of time, your standing changed."


def _steps(event: Event, found: list[Consequence], rulebook: Rulebook) -> list[str]:
    tz = rulebook.tz
    steps: list[str] = []
    for item in found:
        way = item.facts.get("way_out")
        if item.kind == "black_list_entered" and way:
            by = day(way.get("earliest_by_expiry"), tz)
            ends = f"you leave “{words(item.about)}” on {by} at the latest" if by else ""
            sooner = [_behaviour(rulebook, entry["behaviour"]) for entry in way.get("behaviours", [])
                      if entry.get("leaves_now")]  # fmt: skip
            off = f"a record of {' or '.join(sooner)} takes you off it at once" if sooner else ""
            steps.append(_first_up("; ".join(part for part in (ends, off) if part)) + ".")
        if item.kind == "tier_fell" and way:
            by = day(way.get("earliest_by_expiry"), tz)
            back = f"your grade returns to {way['tier']} by {by} as records expire" if by else ""
            sooner = [_behaviour(rulebook, entry["behaviour"]) for entry in way.get("sooner_by", [])[:3]]
            help_ = f"records of {', '.join(sooner)} raise it sooner" if sooner else ""
            if back or help_:
                steps.append(_first_up("; ".join(part for part in (back, help_) if part)) + ".")
    if event.kind == "appeal_resolved" and event.facts.get("event") == "uphold":
        steps.append(f"If you have new evidence, you can file a new appeal against record {event.facts.get('record')} "
                     "at POST /v1/me/appeals.")  # fmt: skip
    if any(not item.good for item in found):
        steps.append(
            "If a record is wrong, dispute it: every record is at GET /v1/me/records; appeal one at "
            f"POST /v1/me/appeals with its id; the operator must answer within "
            f"{duration_words(str(rulebook.appeals.respond_within))}."
        )
    return steps


def _behaviour(rulebook: Rulebook, name: str) -> str:
    return f"“{words(name)}”"


def _meanings(records: list[StoredRecord], rulebook: Rulebook) -> str:
    """What each behaviour means, in the rulebook's own description, where it gives one."""
    said = []
    for name in dict.fromkeys(record.behaviour for record in records[:_SHOWN]):
        declared = rulebook.behaviours.get(name)
        if declared is not None and declared.description:
            said.append(f" {_first_up(words(name))}: {declared.description.strip()}")
    return "".join(said)


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]
