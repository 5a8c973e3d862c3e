"""Conditions (`when`, `enter_when`) evaluated for one subject at one instant, with their reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NotRequired, Protocol, TypedDict, final

from credo.rules.lint import pushes_down
from credo.rules.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ListCondition,
    NotCondition,
    ProgramCondition,
)
from credo.rules.time import iso
from credo.semantics.timeline import Entry, ProgramTimeline

#: Facts named in a reason: at most this many records per condition, most weighty first.
TOP_RECORDS = 4


# Reasons are data (DESIGN §4): these types name their keys once, for every package that reads
# them (the CLI, the words, the service's views and notices). They are plain dicts at run time,
# so the JSON of a decision is exactly these keys.


class RecordFact(TypedDict):
    """A record that weighs in a reason: its points now and when it stops counting."""

    record: str
    behaviour: str
    at: str | None
    points: float
    until: str | None


class StayFacts(TypedDict):
    """A stay on a list: when and by what records it opened, when it closes at the latest."""

    kind: str
    since: str | None
    opened_by: list[str]
    until: str | None


@final
class ProgramReason(TypedDict):
    """A program test that decided a condition, with the score, the tier and the weightiest records."""

    condition: dict[str, Any]
    negated: bool
    program: str
    enrolled: bool
    score: float | None
    tier: str | None
    records: list[RecordFact]


@final
class ListReason(TypedDict):
    """A list test that decided a condition; the stay's facts when the subject is on the list."""

    condition: dict[str, Any]
    negated: bool
    list: str
    kind: NotRequired[str]
    since: NotRequired[str | None]
    opened_by: NotRequired[list[str]]
    until: NotRequired[str | None]


Reason = ProgramReason | ListReason


class Membership(Protocol):
    """What a condition needs to know of lists (measures only: enter_when names no list)."""

    def on_list(self, name: str, instant: dt.datetime) -> bool: ...

    def list_reason(self, name: str, instant: dt.datetime) -> StayFacts: ...


def program_holds(leaf: ProgramCondition, instant: dt.datetime, timelines: Mapping[str, ProgramTimeline]) -> bool:
    """A program test; false when the subject is not enrolled in the program."""
    timeline = timelines.get(leaf.program)
    if timeline is None or not timeline.enrolled(instant):
        return False
    score = timeline.score_at(instant)
    assert score is not None
    name, value = leaf.test
    if name == "score_below":
        return bool(score < value)
    if name == "score_at_least":
        return bool(score >= value)
    if name == "score_at_most":
        return bool(score <= value)
    tier = timeline.tier_of(score)
    if name == "tier_in":
        return tier in value
    # No tier (a score under every bound) ranks below the lowest tier.
    if name == "tier_at_least":
        return timeline.tier_rank(tier) >= timeline.tier_rank(value)
    return timeline.tier_rank(tier) <= timeline.tier_rank(value)  # tier_at_most


def holds(
    condition: Condition,
    instant: dt.datetime,
    timelines: Mapping[str, ProgramTimeline],
    lists: Membership | None = None,
) -> bool:
    if isinstance(condition, ProgramCondition):
        return program_holds(condition, instant, timelines)
    if isinstance(condition, ListCondition):
        return lists is not None and lists.on_list(condition.list_, instant)
    if isinstance(condition, AllCondition):
        return all(holds(item, instant, timelines, lists) for item in condition.all_)
    if isinstance(condition, AnyCondition):
        return any(holds(item, instant, timelines, lists) for item in condition.any_)
    return not holds(condition.not_, instant, timelines, lists)


def contributors(timeline: ProgramTimeline, instant: dt.datetime, downward: bool) -> list[Entry]:
    """The active records that push the score the given way, weightiest first."""
    active = [entry for entry in timeline.active_at(instant) if (entry.effective < 0) == downward and entry.effective]
    return sorted(active, key=lambda entry: abs(entry.effective), reverse=True)


def entry_fact(entry: Entry, tz: dt.tzinfo) -> RecordFact:
    return {
        "record": entry.record.id,
        "behaviour": entry.record.behaviour,
        "at": iso(entry.record.at, tz),
        "points": entry.effective,
        "until": iso(entry.end, tz),
    }


def program_reason(
    leaf: ProgramCondition,
    instant: dt.datetime,
    timelines: Mapping[str, ProgramTimeline],
    tz: dt.tzinfo,
    negated: bool,
) -> ProgramReason:
    timeline = timelines.get(leaf.program)
    score = timeline.score_at(instant) if timeline else None
    reason: ProgramReason = {
        "condition": leaf.as_written(),
        "negated": negated,
        "program": leaf.program,
        "enrolled": bool(timeline and timeline.enrolled(instant)),
        "score": score,
        "tier": timeline.tier_of(score) if timeline else None,
        "records": [],
    }
    if timeline is not None and score is not None:
        downward = pushes_down(leaf, timeline.program.higher_is) != negated
        reason["records"] = [entry_fact(entry, tz) for entry in contributors(timeline, instant, downward)[:TOP_RECORDS]]
    return reason


def reasons(
    condition: Condition,
    instant: dt.datetime,
    timelines: Mapping[str, ProgramTimeline],
    lists: Membership | None,
    tz: dt.tzinfo,
    negated: bool = False,
) -> list[Reason]:
    """The facts that make a (true) condition true: one reason per leaf test that decided it."""
    if isinstance(condition, ProgramCondition):
        return [program_reason(condition, instant, timelines, tz, negated)]
    if isinstance(condition, ListCondition):
        if lists is None:
            return []
        reason: ListReason = {"condition": {"list": condition.list_}, "negated": negated, "list": condition.list_}
        if not negated:  # the stay's facts, after the test's (the order of the JSON keys)
            stay = lists.list_reason(condition.list_, instant)
            reason["kind"], reason["since"] = stay["kind"], stay["since"]
            reason["opened_by"], reason["until"] = stay["opened_by"], stay["until"]
        return [reason]
    if isinstance(condition, NotCondition):
        return reasons(condition.not_, instant, timelines, lists, tz, not negated)
    items = condition.all_ if isinstance(condition, AllCondition) else condition.any_
    # Under all (or a negated any) every item holds; under any, only those that hold are reasons.
    found: list[Reason] = []
    for item in items:
        if holds(item, instant, timelines, lists) != negated:
            found.extend(reasons(item, instant, timelines, lists, tz, negated))
    return found
