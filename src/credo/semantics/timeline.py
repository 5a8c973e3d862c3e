"""One subject's account in one program over time (DESIGN §4 rules 1-5).

The score is a step function: it changes only where a record starts counting or stops.
A timeline is built once from the records known at the question's instant and then
answers for any instant, including the future "if nothing else happens".
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from credo.rules.model import PointsRule, Program
from credo.rules.time import BEGINNING, after_utc, before_utc, period_end_utc, period_key_once
from credo.semantics.records import Record


@dataclass(slots=True)
class Entry:
    """A record as a program counts it: its base and effective points and when it stops counting.

    Not changed once its timeline is built. Not frozen only because a frozen dataclass's __init__
    costs seven times as much, and a cold decision builds one entry per record."""

    record: Record
    rule: PointsRule
    step: int  # which rung of the escalation ladder (1-based)
    base: float
    effective: float
    end: dt.datetime | None  # None: counts for ever
    ended_by: str | None  # "expires_after", "period" or the id of the reset record

    def active_at(self, instant: dt.datetime) -> bool:
        return self.record.at <= instant and (self.end is None or instant < self.end)


def whole(value: float) -> float:
    """The number as an int when it is whole: points in rulebooks almost always are, and they
    print as written (2, not 2.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def clamp(value: float, floor: float | None, ceiling: float | None) -> float:
    if floor is not None and value < floor:
        return floor
    if ceiling is not None and value > ceiling:
        return ceiling
    return value


class ProgramTimeline:
    """Score, tier and active records of one subject in one program, at any instant."""

    def __init__(self, name: str, program: Program, enrolled_at: dt.datetime | None, entries: list[Entry]) -> None:
        self.name = name
        self.program = program
        self.enrolled_at = enrolled_at
        self.entries = entries
        deltas: dict[dt.datetime, float] = defaultdict(float)
        for entry in entries:
            deltas[entry.record.at] += entry.effective
            if entry.end is not None:
                deltas[entry.end] -= entry.effective
        self.instants = sorted(deltas)
        self.sums: list[float] = []
        running: float = program.start
        for instant in self.instants:
            running += deltas[instant]
            self.sums.append(running)
        self._tier_names = program.tier_names
        self._tier_bounds = program.tier_bounds

    def enrolled(self, instant: dt.datetime) -> bool:
        return self.enrolled_at is not None and self.enrolled_at <= instant

    def unclamped_at(self, instant: dt.datetime) -> float | None:
        """start + the effective points of the records active at instant; None when not enrolled."""
        if not self.enrolled(instant):
            return None
        index = bisect_right(self.instants, instant) - 1
        total = self.program.start if index < 0 else self.sums[index]
        return whole(total)

    def score_at(self, instant: dt.datetime) -> float | None:
        raw = self.unclamped_at(instant)
        return None if raw is None else clamp(raw, self.program.floor, self.program.ceiling)

    def tier_of(self, score: float | None) -> str | None:
        """The tier with the greatest lower bound at or below score."""
        if score is None:
            return None
        index = bisect_right(self._tier_bounds, score) - 1
        return self._tier_names[index] if index >= 0 else None

    def tier_at(self, instant: dt.datetime) -> str | None:
        return self.tier_of(self.score_at(instant))

    def tier_rank(self, tier: str | None) -> int:
        """Position in the tier order; no tier ranks below every tier."""
        return -1 if tier is None else self._tier_names.index(tier)

    def active_at(self, instant: dt.datetime) -> list[Entry]:
        return [entry for entry in self.entries if entry.active_at(instant)]

    def change_instants(self) -> list[dt.datetime]:
        """Every instant where the score may change, enrolment included."""
        if self.enrolled_at is None:
            return []
        return sorted({self.enrolled_at, *self.instants})

    def next_change(self, instant: dt.datetime) -> dt.datetime | None:
        """The first instant after `instant` where the score differs, by expiry alone."""
        now = self.score_at(instant)
        for later in self.instants[bisect_right(self.instants, instant) :]:
            if self.score_at(later) != now:
                return later
        return None


def enrolment(program: Program, records: Sequence[Record]) -> dt.datetime | None:
    """When the subject joins the program: its first enrol_on record, or the beginning of time."""
    if not program.enrol_on:
        return BEGINNING
    enrol_on = set(program.enrol_on)
    return next((record.at for record in records if record.behaviour in enrol_on), None)


#: Which points rule scores a record in a program: the rulebook version in force at the record's
#: `at` (rule 8), or None when that version gives the behaviour no points there.
PointsOf = Callable[[str, Record], PointsRule | None]


def build_timeline(
    name: str, program: Program, records: Sequence[Record], tz: dt.tzinfo, points_of: PointsOf | None = None
) -> ProgramTimeline:
    """Apply rules 1-4 to a subject's records, already in ledger order (by `at`, ties by position)."""
    enrolled_at = enrolment(program, records)
    if enrolled_at is None:
        return ProgramTimeline(name, program, None, [])
    counted: list[Record] = []
    rules: list[PointsRule] = []
    for record in records:
        if record.at < enrolled_at:
            continue
        rule = program.points.get(record.behaviour) if points_of is None else points_of(name, record)
        if rule is not None:
            counted.append(record)
            rules.append(rule)
    ends = _ends(program, counted, rules, tz)

    entries: list[Entry] = []
    # Per behaviour, the earlier records that may still count towards escalation (rule 1): the
    # ends of those still counting, and the instants of those since the latest reset. Records come
    # in order of `at`, so one that has stopped counting never counts again.
    counting: dict[str, list[dt.datetime | None]] = defaultdict(list)
    since_reset: dict[str, list[dt.datetime]] = defaultdict(list)
    cap_sums: dict[tuple[str, tuple[int, int]], float] = defaultdict(float)
    for index, record in enumerate(counted):
        rule = rules[index]
        ladder = rule.ladder
        behaviour = record.behaviour
        step = 1
        if len(ladder) > 1:
            if rule.repeat_window is not None:
                earlier_at = since_reset[behaviour]
                step += len(earlier_at) - bisect_right(earlier_at, before_utc(rule.repeat_window, record.at, tz))
            else:
                still = counting[behaviour] = [end for end in counting[behaviour] if end is None or record.at < end]
                step += len(still)
        base = ladder[min(step, len(ladder)) - 1]
        effective = base
        if rule.cap is not None:
            key = (behaviour, period_key_once(record.at, rule.cap.per, tz))
            before = cap_sums[key]
            after = before + base
            cap_sums[key] = after
            effective = whole(rule.sign * (min(rule.cap.points, abs(after)) - min(rule.cap.points, abs(before))))
        end, ended_by = ends[index]
        entries.append(Entry(record, rule, step, base, effective, end, ended_by))
        if rule.reset:
            since_reset.clear()
        counting[behaviour].append(end)
        since_reset[behaviour].append(record.at)
    return ProgramTimeline(name, program, enrolled_at, entries)


def _ends(
    program: Program, counted: list[Record], rules: list[PointsRule], tz: dt.tzinfo
) -> list[tuple[dt.datetime | None, str | None]]:
    """When each record stops counting, and why (rule 3): the earliest of its expiry, the end of
    the program's period and the next reset record; on a tie, in that order."""
    result: list[tuple[dt.datetime | None, str | None]] = [(None, None)] * len(counted)
    next_reset: Record | None = None
    for index in range(len(counted) - 1, -1, -1):
        record = counted[index]
        rule = rules[index]
        end: dt.datetime | None = None
        why: str | None = None
        if rule.expires_after is not None:
            end, why = after_utc(rule.expires_after, record.at, tz), "expires_after"
        if program.resets is not None:
            period = period_end_utc(record.at, program.resets, tz)
            if end is None or period < end:
                end, why = period, "period"
        if next_reset is not None and (end is None or next_reset.at < end):
            end, why = next_reset.at, next_reset.id
        result[index] = (end, why)
        if rule.reset:
            next_reset = record
    return result
