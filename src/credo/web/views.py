"""What each page shows, as typed values built from the same calls the JSON routes make.

Words for people live here and in the templates: a behaviour's description, a measure's detail,
dates in the rulebook's zone; identifiers only where a person needs them to refer to a thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta

from credo import words
from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros
from credo.rules.lint import lint
from credo.rules.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ListCondition,
    NotCondition,
    Rulebook,
)
from credo.rules.time import Duration
from credo.semantics import NoRulebookInForce
from credo.semantics.state import SubjectState
from credo.service.cache import StateCache
from credo.service.notices import notices_of
from credo.service.views import own_records
from credo.storage.logs import AppealRow
from credo.storage.runs import PopulationRunRow
from credo.storage.sql import SqlStore


def humane(name: str) -> str:
    """An identifier as words: 'dishonest_judgment_debtors' -> 'dishonest judgment debtors'."""
    return name.replace("_", " ").replace("-", " ")


def when(instant: dt.datetime | None, tz: dt.tzinfo) -> str:
    """A date (and a time when it is not midnight) in the rulebook's zone, in words."""
    if instant is None:
        return "no end is set"
    local = instant.astimezone(tz)
    text = f"{local.day} {local:%B %Y}"
    if (local.hour, local.minute) != (0, 0):
        text += f", {local:%H:%M}"
    return text


def when_text(text: str | None, tz: dt.tzinfo) -> str:
    return when(None if text is None else dt.datetime.fromisoformat(text), tz)


def duration(value: Duration | None) -> str:
    """An ISO 8601 duration in words: P2Y6M -> '2 years 6 months'."""
    if value is None:
        return ""
    delta = value.delta
    parts = []
    for amount, unit in ((delta.years, "year"), (delta.months, "month"), (delta.days, "day"), (delta.hours, "hour")):
        if amount:
            parts.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    return " ".join(parts) or str(value)


def condition_words(condition: Condition, rulebook: Rulebook) -> str:
    """A condition as credo.words says it, with the rulebook's names in plain words."""
    return humane(words.condition(condition, rulebook))


# The public rulebook.


@dataclass(frozen=True)
class RuleLine:
    program: str
    points: str
    expires: str
    cap: str
    window: str


@dataclass(frozen=True)
class BehaviourLine:
    name: str
    title: str
    description: str
    category: str
    sources: list[str]
    rules: list[RuleLine]


@dataclass(frozen=True)
class TierLine:
    name: str
    bound: float


@dataclass(frozen=True)
class ProgramLine:
    name: str
    title: str
    description: str
    subjects: str
    start: float
    floor: float | None
    ceiling: float | None
    higher_is: str
    tiers: list[TierLine]


@dataclass(frozen=True)
class ListLine:
    name: str
    title: str
    kind: str
    description: str
    enters: str
    leaves: str


@dataclass(frozen=True)
class MeasureLine:
    name: str
    action: str
    effect: str
    detail: str
    when: str
    basis: str


@dataclass(frozen=True)
class WarningLine:
    where: str
    message: str
    basis: str


@dataclass(frozen=True)
class RulebookPage:
    name: str
    version: str
    timezone: str
    description: str
    effective: str
    behaviours: list[BehaviourLine]
    programs: list[ProgramLine]
    lists: list[ListLine]
    measures: list[MeasureLine]
    warnings: list[WarningLine]
    appeal_within: str


def _points_words(points: object) -> str:
    if isinstance(points, list):
        return ", then ".join(f"{value:+g}" for value in points) + " (each repeat counts more)"
    if points is None:
        return "0"
    assert isinstance(points, int | float)
    return f"{points:+g}"


def rulebook_page(rulebook: Rulebook, effective: dt.datetime | None) -> RulebookPage:
    """The rulebook in force as a document a person can read."""
    tz = rulebook.tz
    behaviours = []
    for name, behaviour in rulebook.behaviours.items():
        rules = []
        for program_name, program in rulebook.programs.items():
            rule = program.points.get(name)
            if rule is None:
                continue
            rules.append(
                RuleLine(
                    program=humane(program_name),
                    points=_points_words(rule.points)
                    if not rule.reset
                    else "wipes the slate: earlier ones stop counting",
                    expires=f"stops counting after {duration(rule.expires_after)}"
                    if rule.expires_after
                    else "never expires",
                    cap=f"at most {rule.cap.points:g} points per {rule.cap.per}" if rule.cap else "",
                    window=f"repeats within {duration(rule.repeat_window)} count as repeats"
                    if rule.repeat_window
                    else "",
                )
            )
        behaviours.append(
            BehaviourLine(
                name,
                humane(name),
                behaviour.description or "",
                humane(behaviour.category),
                [humane(source) for source in behaviour.sources] or ["any source"],
                rules,
            )
        )
    programs = [
        ProgramLine(
            name,
            humane(name),
            program.description or "",
            " and ".join(f"{kind}s" for kind in program.subjects),
            program.start,
            program.floor,
            program.ceiling,
            program.higher_is,
            [TierLine(tier, program.tiers[tier]) for tier in words.tier_ranking(program)],
        )
        for name, program in rulebook.programs.items()
    ]
    lists = []
    for name, listed in rulebook.lists.items():
        enters = []
        if listed.enter_on:
            enters.append("on a record of " + " or ".join(humane(b) for b in listed.enter_on))
        if listed.enter_when is not None:
            enters.append("when " + condition_words(listed.enter_when, rulebook))
        leaves = []
        if listed.leave_on:
            leaves.append("on a record of " + " or ".join(humane(b) for b in listed.leave_on))
        if listed.lasts is not None:
            leaves.append(f"after {duration(listed.lasts)} at the latest")
        if listed.is_level:
            leaves.append("as soon as the condition no longer holds")
        lists.append(
            ListLine(name, humane(name), listed.kind, listed.description or "", "; ".join(enters), "; ".join(leaves))
        )
    measures = [
        MeasureLine(
            name,
            humane(measure.action),
            measure.effect,
            measure.detail or humane(name),
            condition_words(measure.when, rulebook),
            measure.basis or "",
        )
        for name, measure in rulebook.measures.items()
    ]
    warnings = [WarningLine(finding.path, finding.message, finding.basis) for finding in lint(rulebook).warnings]
    return RulebookPage(
        rulebook.rulebook,
        rulebook.version,
        rulebook.timezone,
        rulebook.description or "",
        when(effective, tz) if effective else "",
        behaviours,
        programs,
        lists,
        measures,
        warnings,
        duration(rulebook.appeals.respond_within),
    )


# The person's own file.


@dataclass(frozen=True)
class ChartPoint:
    x: float  # 0..1 across the chart
    y: float  # 0..1 up the chart
    label: str


@dataclass(frozen=True)
class ScoreChart:
    points_past: list[ChartPoint]
    points_future: list[ChartPoint]
    lowest: float
    highest: float
    first: str
    today: str
    last: str
    summary: str  # the chart in words, for a screen reader and for people who skip charts


@dataclass(frozen=True)
class ActiveRecord:
    id: str
    behaviour: str
    at: str
    points: float
    rule: str
    until: str


@dataclass(frozen=True)
class ProgramView:
    name: str
    title: str
    score: float | None
    tier: str | None
    higher_is: str
    next_tier: str | None
    next_tier_by_expiry: str
    sooner_by: list[str]
    next_change: str
    records: list[ActiveRecord]  # the records that weigh most in the score now
    counting: int  # how many records count in it now
    chart: ScoreChart | None


@dataclass(frozen=True)
class ListView:
    name: str
    title: str
    kind: str
    description: str
    since: str
    until: str
    opened_by: list[str]
    ways_off: list[str]
    measures: list[str]  # the details of the measures this stay brings


@dataclass(frozen=True)
class AppealView:
    id: str
    status: str
    statement: str
    filed: str
    deadline: str
    overdue: bool
    resolution: str


@dataclass(frozen=True)
class RecordView:
    id: str
    position: int
    behaviour: str
    description: str
    at: str
    status: str
    evidence: str
    source: str
    appeals: list[AppealView]
    can_appeal: bool
    points: list[str]  # in words, per programme it counts in now: "citizen: -50, until 6 June 2028"


@dataclass(frozen=True)
class DecisionView:
    id: str
    action: str
    at: str
    answer: str
    measures: list[str]


@dataclass(frozen=True)
class NoticeView:
    created: str
    headline: str
    consequences: list[tuple[str, bool]]  # (what changed, good news?) the weightiest first
    next_steps: list[str]


@dataclass(frozen=True)
class PersonFile:
    subject: str
    now: str
    known: bool
    programs: list[ProgramView]
    lists: list[ListView]
    records: list[RecordView]
    decisions: list[DecisionView]
    notices: list[NoticeView]
    appeal_within: str
    rulebook: str
    page: int = 0
    older: bool = False  # records older than this page exist


def _chart(state: SubjectState, program: str, now: dt.datetime, tz: dt.tzinfo) -> ScoreChart | None:
    """The score month by month over the past two years and, by expiry alone, the next two."""
    instants = [now + relativedelta(months=month) for month in range(-24, 25)]
    scores = [state.score(program, instant) for instant in instants]
    if all(score is None for score in scores):
        return None
    values = [score for score in scores if score is not None]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    past: list[ChartPoint] = []
    future: list[ChartPoint] = []
    for index, (instant, score) in enumerate(zip(instants, scores, strict=True)):
        if score is None:
            continue
        point = ChartPoint(index / (len(instants) - 1), (score - low) / span, f"{when(instant, tz)}: {score:g}")
        (past if instant <= now else future).append(point)
        if instant <= now < instants[min(index + 1, len(instants) - 1)]:
            future.append(point)  # the two lines meet today
    today_score = state.score(program, now)
    later = scores[-1]
    summary = (
        f"Two years ago the score was {scores[0] if scores[0] is not None else 'not yet held'}; "
        f"today it is {today_score:g}"
        if today_score is not None
        else "today there is no score"
    )
    if later is not None:
        summary += f"; if nothing new is recorded it will be {later:g} in two years."
    return ScoreChart(past, future, low, high, when(instants[0], tz), when(now, tz), when(instants[-1], tz), summary)


#: Records per page of a person's file, newest first; older ones come a page at a time.
PER_PAGE = 50
#: Records shown beside each score: those that weigh most (each record's points are on it too).
TOP = 10


def person_file(
    store: SqlStore, ledger: Ledger, cache: StateCache, subject: str, now: dt.datetime, page: int = 0
) -> PersonFile:
    """Everything the subject may see about themself, in words (the evaluation from the cache
    the decisions use: it stands until the next write or the next instant anything can change)."""
    cached = cache.get(subject, now)
    rulebook = cached.history.require(now)
    tz = rulebook.tz
    state = cached.state
    explained = cached.explanation()
    programs = []
    for line in explained["programs"]:
        name = line["program"]
        next_tier = line.get("next_tier")
        sooner = (
            []
            if not next_tier
            else [
                f"{humane(item['behaviour'])} ({item['points']:+g} points"
                + (", enough on its own)" if item["reaches_now"] else ")")
                for item in next_tier["sooner_by"]
            ]
        )
        programs.append(
            ProgramView(
                name=name,
                title=humane(name),
                score=line["score"],
                tier=line["tier"],
                higher_is=line["higher_is"],
                next_tier=next_tier["tier"] if next_tier else None,
                next_tier_by_expiry=when_text(next_tier["earliest_by_expiry"], tz) if next_tier else "",
                sooner_by=sooner,
                next_change=(
                    f"on {when_text(line['next_change']['at'], tz)} it becomes {line['next_change']['score']:g}"
                    if line["next_change"]
                    else "it will not change by time alone"
                ),
                records=[
                    ActiveRecord(
                        item["record"],
                        humane(item["behaviour"]),
                        when_text(item["at"], tz),
                        item["effective"],
                        item["rule"],
                        when_text(item["until"], tz),
                    )
                    for item in sorted(line["records"], key=lambda item: -abs(item["effective"]))[:TOP]
                ],
                counting=len(line["records"]),
                chart=_chart(state, name, now, tz),
            )
        )
    lists = []
    applying = {result.measure for action in rulebook.actions for result in state.decide(action, now).measures}
    for line in explained["lists"]:
        name = line["list"]
        listed = rulebook.lists[name]
        brings = [
            measure.detail or humane(measure_name)
            for measure_name, measure in rulebook.measures.items()
            if measure_name in applying
            and any(isinstance(leaf, ListCondition) and leaf.list_ == name for leaf in _leaves(measure.when))
        ]
        ways = [
            f"a record of {humane(item['behaviour'])}" + (" ends it at once" if item["leaves_now"] else "")
            for item in line["way_off"]["behaviours"]
        ]
        lists.append(
            ListView(
                name,
                humane(name),
                line["kind"],
                listed.description or "",
                when_text(line["since"], tz),
                when_text(line["until"], tz),
                line["opened_by"],
                ways,
                brings,
            )
        )
    records, older = records_page(store, ledger, rulebook, subject, now, page, explained)
    decisions = [
        DecisionView(
            logged.id,
            humane(logged.action),
            when(from_micros(logged.at_us), tz),
            str(logged.answer.get("decision", "")),
            [_measure_words(m) for m in logged.answer.get("measures", [])],
        )
        for logged in store.decisions_of(subject)
    ]
    notices = [
        NoticeView(
            when_text(notice.at, tz) if notice.at else "",
            notice.headline,
            [(item.text, item.good) for item in notice.consequences],
            notice.next_steps,
        )
        for notice in reversed(notices_of(store, subject))
    ]
    return PersonFile(
        subject=subject,
        now=when(now, tz),
        known=bool(records),
        programs=programs,
        lists=lists,
        records=records,
        decisions=list(reversed(decisions)),
        notices=notices,
        appeal_within=duration(rulebook.appeals.respond_within),
        rulebook=f"{rulebook.rulebook} {rulebook.version}",
        page=page,
        older=older,
    )


def records_page(
    store: SqlStore,
    ledger: Ledger,
    rulebook: Rulebook,
    subject: str,
    now: dt.datetime,
    page: int,
    explained: dict[str, Any],
) -> tuple[list[RecordView], bool]:
    """One page of the subject's records, newest first, each with its points where it counts, and
    whether older ones exist."""
    tz = rulebook.tz
    counts: dict[str, list[dict[str, Any]]] = {}
    for line in explained["programs"]:
        for item in line["records"]:
            counts.setdefault(item["record"], []).append({"program": line["program"], **item})
    appeals_of: dict[int, list[AppealRow]] = {}
    for appeal in store.appeals(subject):
        appeals_of.setdefault(appeal.record_position, []).append(appeal)
    records = []
    # One row more than a page, from the end: whether there are older records to offer.
    window = slice(-(PER_PAGE * (page + 1) + 1), -PER_PAGE * page or None)
    rows = own_records(store, ledger, subject, now, window)
    older = len(rows) > PER_PAGE
    for row in reversed(rows[1:] if older else rows):
        behaviour = rulebook.behaviours.get(row["behaviour"])
        mine = [_appeal_view(appeal, now, tz) for appeal in appeals_of.get(row["position"], [])]
        records.append(
            RecordView(
                id=row["id"],
                position=row["position"],
                behaviour=humane(row["behaviour"]),
                description=(behaviour.description or "") if behaviour else "",
                at=when_text(row["at"], tz),
                status=row["status"],
                evidence=row["evidence"] or "",
                source=humane(row["id"].split(":", 1)[0]),
                appeals=mine,
                can_appeal=row["status"] != "reversed" and not any(a.status == "pending" for a in mine),
                points=[
                    f"{humane(item['program'])}: {item['effective']:+g} points ({item['rule']}), counting until "
                    f"{when_text(item['until'], tz)}"
                    for item in counts.get(row["id"], [])
                ],
            )
        )
    return records, older


def _measure_words(measure: dict[str, object]) -> str:
    return str(measure.get("detail") or humane(str(measure.get("measure", ""))))


def _leaves(condition: Condition) -> list[Condition]:
    if isinstance(condition, AllCondition):
        return [leaf for part in condition.all_ for leaf in _leaves(part)]
    if isinstance(condition, AnyCondition):
        return [leaf for part in condition.any_ for leaf in _leaves(part)]
    if isinstance(condition, NotCondition):
        return []  # "not on the list" is not something the stay brings
    return [condition]


def _appeal_view(appeal: AppealRow, now: dt.datetime, tz: dt.tzinfo) -> AppealView:
    outcome = appeal.outcome
    if outcome == "reverse":
        status, resolution = "won", "The record was withdrawn: it no longer counts."
    elif outcome == "uphold":
        status, resolution = "not upheld", "The record was found correct: it stands."
    elif "lapsed" in appeal.events:
        status, resolution = "lapsed", "No answer came by the deadline, so the record is suspended."
    else:
        status, resolution = "pending", ""
    reason = next((appeal.events[event]["reason"] for event in ("reverse", "uphold") if event in appeal.events), "")
    if reason:
        resolution += f" The reviewer wrote: “{reason}”"
    return AppealView(
        appeal.id,
        "pending" if status == "pending" else status,
        appeal.statement,
        when(from_micros(appeal.filed_us), tz),
        when(from_micros(appeal.deadline_us), tz),
        outcome is None and now >= from_micros(appeal.deadline_us),
        resolution,
    )


def no_rulebook(exc: NoRulebookInForce) -> str:
    return f"No rulebook is in force yet, so there is nothing to show ({exc})."


# Population figures, from the runs kept in the store.


@dataclass(frozen=True)
class Count:
    label: str
    detail: str
    count: int
    share: str  # of all subjects, in words: "12.5%"


@dataclass(frozen=True)
class PopulationFigures:
    computed: str
    at: str
    subjects: int
    records: int
    tiers: dict[str, list[Count]]  # program -> tiers in order of their bounds, best first
    lists: list[Count]
    measures: list[Count]


def _share(count: int, whole: int) -> str:
    return f"{100 * count / whole:.1f}%" if whole else "0%"


def population_figures(runs: list[PopulationRunRow], rulebook: Rulebook) -> PopulationFigures | None:
    """The newest run's counts, in the rulebook's words; None when no run was kept."""
    if not runs:
        return None
    run, tz = runs[0], rulebook.tz
    summary = run.summary
    whole = int(summary.get("subjects", 0))
    tiers = {}
    for name, program in rulebook.programs.items():
        counted = summary.get("tiers", {}).get(name, {})
        order = list(reversed(program.tier_order())) + [tier for tier in counted if tier not in program.tiers]
        tiers[humane(name)] = [
            Count(tier if tier != "None" else "no grade", "", int(counted.get(tier, 0)),
                  _share(int(counted.get(tier, 0)), whole))
            for tier in order
        ]  # fmt: skip
    lists = [
        Count(humane(name), listed.description or "", int(summary.get("lists", {}).get(name, 0)),
              _share(int(summary.get("lists", {}).get(name, 0)), whole))
        for name, listed in rulebook.lists.items()
    ]  # fmt: skip
    measures = [
        Count(humane(measure.action), measure.detail or humane(name), int(summary.get("measures", {}).get(name, 0)),
              _share(int(summary.get("measures", {}).get(name, 0)), whole))
        for name, measure in rulebook.measures.items()
    ]  # fmt: skip
    return PopulationFigures(when(from_micros(run.computed_us), tz), when(from_micros(run.at_us), tz), whole,
                             int(summary.get("records", 0)), tiers, lists, measures)  # fmt: skip
