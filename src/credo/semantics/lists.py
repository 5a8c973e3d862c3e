"""Black and red list membership as a union of intervals (DESIGN §4 rule 6)."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from credo.rules.lint import walk_conditions
from credo.rules.model import ListDef, ProgramCondition
from credo.rules.time import BEGINNING, after_utc
from credo.semantics.conditions import holds
from credo.semantics.records import Record
from credo.semantics.timeline import ProgramTimeline

_AFTER_ALL_RECORDS_AT_AN_INSTANT = float("inf")


@dataclass(frozen=True, slots=True)
class Interval:
    """One stay on a list: [opened, closes). closes is None while nothing known will end it."""

    list: str
    opened: dt.datetime
    closes: dt.datetime | None
    opened_by: tuple[Record, ...]
    closed_by: str | None  # "leave_on", "lasts", "condition" or None
    closing_record: Record | None = None

    def covers(self, instant: dt.datetime) -> bool:
        return self.opened <= instant and (self.closes is None or instant < self.closes)


def build_intervals(
    name: str,
    listed: ListDef,
    records: Sequence[Record],
    timelines: Mapping[str, ProgramTimeline],
    tz: dt.tzinfo,
) -> list[Interval]:
    """Every stay of one subject on one list, from its records (ledger order) and its program timelines."""
    leave_on = set(listed.leave_on)
    leaves = [
        (record.at, float(position), record) for position, record in enumerate(records) if record.behaviour in leave_on
    ]
    leave_keys = [(at, position) for at, position, _ in leaves]  # in ledger order, so sorted
    openings: list[tuple[dt.datetime, float, tuple[Record, ...]]] = []
    enter_on = set(listed.enter_on)
    for index, record in enumerate(records):
        if record.behaviour in enter_on:
            openings.append((record.at, float(index), (record,)))

    level_closes: dict[dt.datetime, dt.datetime | None] = {}
    if listed.enter_when is not None:
        for opened, closes in _condition_spans(listed, timelines):
            openings.append((opened, _AFTER_ALL_RECORDS_AT_AN_INSTANT, _movers(listed, timelines, opened)))
            level_closes[opened] = closes

    intervals = []
    for opened, position, opened_by in sorted(openings, key=lambda opening: (opening[0], opening[1])):
        if listed.is_level and listed.enter_when is not None and not listed.enter_on:
            closes = level_closes[opened]
            intervals.append(Interval(name, opened, closes, opened_by, "condition" if closes else None))
            continue
        candidates: list[tuple[dt.datetime, str, Record | None]] = []
        later = bisect_right(leave_keys, (opened, position))  # the first leave after the opening
        leave = leaves[later] if later < len(leaves) else None
        if leave is not None:
            candidates.append((leave[0], "leave_on", leave[2]))
        if listed.lasts is not None:
            candidates.append((after_utc(listed.lasts, opened, tz), "lasts", None))
        if candidates:
            closes_at, why, closing = min(candidates, key=lambda candidate: candidate[0])
            intervals.append(Interval(name, opened, closes_at, opened_by, why, closing))
        else:
            intervals.append(Interval(name, opened, None, opened_by, None))
    return intervals


def _condition_spans(
    listed: ListDef, timelines: Mapping[str, ProgramTimeline]
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """Where enter_when becomes true, and (as a level) where it next becomes false."""
    assert listed.enter_when is not None
    instants: set[dt.datetime] = {BEGINNING}
    for leaf in walk_conditions(listed.enter_when):
        if isinstance(leaf, ProgramCondition) and leaf.program in timelines:
            instants.update(timelines[leaf.program].change_instants())
    spans: list[tuple[dt.datetime, dt.datetime | None]] = []
    was_true = False
    opened: dt.datetime | None = None
    for instant in sorted(instants):
        now_true = holds(listed.enter_when, instant, timelines)
        if now_true and not was_true:
            opened = instant
        elif was_true and not now_true and opened is not None:
            spans.append((opened, instant))
            opened = None
        was_true = now_true
    if opened is not None:
        spans.append((opened, None))
    return spans


def _movers(listed: ListDef, timelines: Mapping[str, ProgramTimeline], instant: dt.datetime) -> tuple[Record, ...]:
    """The records that moved a condition list's programs at the instant it opened."""
    assert listed.enter_when is not None
    moved: list[Record] = []
    for leaf in walk_conditions(listed.enter_when):
        if isinstance(leaf, ProgramCondition) and leaf.program in timelines:
            for entry in timelines[leaf.program].entries:
                if entry.record.at == instant or entry.end == instant:
                    moved.append(entry.record)
    return tuple(dict.fromkeys(moved))
