"""A subject as the rulebook sees it at one instant: scores, tiers, lists and decisions."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from credo.errors import CredoError, RecordError
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.semantics.conditions import Reason, StayFacts, holds, reasons
from credo.semantics.lists import Interval, build_intervals
from credo.semantics.records import Record, SubjectKind
from credo.semantics.timeline import PointsOf, ProgramTimeline, build_timeline

ADVERSE = ("deny", "limit")
#: Key factors leading an adverse decision (FCRA §615, Regulation B §1002.9: at most four).
MAX_KEY_FACTORS = 4


class UnknownName(CredoError, KeyError):
    """An action, program or list the rulebook does not declare."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class MeasureResult:
    measure: str
    effect: str
    detail: str
    basis: str | None
    reasons: list[Reason]

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "effect": self.effect,
            "detail": self.detail,
            "basis": self.basis,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class Decision:
    """The answer for (subject, action, instant), with every applying measure and its reasons."""

    subject: str
    action: str
    at: str
    decision: str
    measures: list[MeasureResult]
    key_factors: list[dict[str, Any]] = field(default_factory=list)
    #: False when no record about the subject is known: answered as for a newcomer, and said so
    #: (a misspelt id must not pass for a clean record).
    known: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "action": self.action,
            "at": self.at,
            "decision": self.decision,
            "measures": [measure.as_dict() for measure in self.measures],
            "key_factors": self.key_factors,
            "known": self.known,
        }


class SubjectState:
    """Everything the rulebook says of one subject, from the records known at `at`."""

    def __init__(
        self,
        rulebook: Rulebook,
        subject: str,
        kind: SubjectKind,
        records: list[Record],
        at: dt.datetime,
        points_of: PointsOf | None = None,
    ) -> None:
        self.rulebook = rulebook
        self.subject = subject
        self.kind = kind
        self.records = records  # the subject's own, in ledger order, none after `at`
        self.at = at
        self.tz = rulebook.tz
        self.points_of = points_of  # None: every record is scored by `rulebook` (file mode)
        self._stays: dict[str, list[Interval]] = {}

    @cached_property
    def timelines(self) -> dict[str, ProgramTimeline]:
        """The programs the subject's kind holds, enrolled or not."""
        return {
            name: build_timeline(name, program, self.records, self.tz, self.points_of)
            for name, program in self.rulebook.programs.items()
            if self.kind in program.subjects
        }

    def stays(self, name: str) -> list[Interval]:
        """The subject's stays on one list, built on first use: a decision needs only its own lists."""
        if name not in self._stays:
            listed = self.rulebook.lists.get(name)
            self._stays[name] = (
                [] if listed is None else build_intervals(name, listed, self.records, self.timelines, self.tz)
            )
        return self._stays[name]

    @property
    def intervals(self) -> dict[str, list[Interval]]:
        return {name: self.stays(name) for name in self.rulebook.lists}

    @property
    def known(self) -> bool:
        """Whether any record about the subject is known at `at`; if not, the answers are those
        for a newcomer (every program's start), which is right but must be said."""
        return bool(self.records)

    # Scores and lists.

    def enrolled(self, instant: dt.datetime | None = None) -> list[str]:
        instant = instant or self.at
        return [name for name, timeline in self.timelines.items() if timeline.enrolled(instant)]

    def score(self, program: str, instant: dt.datetime | None = None) -> float | None:
        return self._timeline(program).score_at(instant or self.at)

    def tier(self, program: str, instant: dt.datetime | None = None) -> str | None:
        return self._timeline(program).tier_at(instant or self.at)

    def _timeline(self, program: str) -> ProgramTimeline:
        if program not in self.rulebook.programs:
            raise UnknownName(f"unknown program {program!r}; programs: {', '.join(self.rulebook.programs)}")
        return self.timelines.get(program) or ProgramTimeline(program, self.rulebook.programs[program], None, [])

    def on_list(self, name: str, instant: dt.datetime) -> bool:
        return any(interval.covers(instant) for interval in self.stays(name))

    def lists(self, instant: dt.datetime | None = None) -> list[str]:
        """The lists the subject is on, sorted."""
        instant = instant or self.at
        return sorted(name for name in self.intervals if self.on_list(name, instant))

    def covering(self, name: str, instant: dt.datetime) -> list[Interval]:
        return [interval for interval in self.stays(name) if interval.covers(instant)]

    def list_reason(self, name: str, instant: dt.datetime) -> StayFacts:
        """Facts of a stay on a list: when and by what records it opened, when it closes at the latest."""
        stays = self.covering(name, instant)
        closes = [stay.closes for stay in stays]
        latest = None if not closes or any(close is None for close in closes) else max(c for c in closes if c)
        return {
            "kind": self.rulebook.lists[name].kind,
            "since": iso(min(stay.opened for stay in stays), self.tz) if stays else None,
            "opened_by": [record.id for stay in stays for record in stay.opened_by],
            "until": iso(latest, self.tz),
        }

    def summary(self) -> dict[str, Any]:
        """The `score --json` line for this subject."""
        return {
            "subject": self.subject,
            "at": iso(self.at, self.tz),
            "programs": {name: {"score": self.score(name), "tier": self.tier(name)} for name in self.enrolled()},
            "lists": self.lists(),
        }

    def next_change(self, after: dt.datetime) -> dt.datetime | None:
        """The first instant after `after` where a score, a tier or a list may change by time alone."""
        candidates = []
        for timeline in self.timelines.values():
            index = bisect_right(timeline.instants, after)
            if index < len(timeline.instants):
                candidates.append(timeline.instants[index])
            if timeline.enrolled_at is not None and timeline.enrolled_at > after:
                candidates.append(timeline.enrolled_at)
        for name in self.rulebook.lists:
            for stay in self.stays(name):
                candidates += [edge for edge in (stay.opened, stay.closes) if edge is not None and edge > after]
        return min(candidates, default=None)

    # Decisions.

    def decide(self, action: str, instant: dt.datetime | None = None) -> Decision:
        """Rule 7: the measures of the action whose condition holds; any deny makes a deny."""
        instant = instant or self.at
        if action not in self.rulebook.actions:
            known = ", ".join(sorted(self.rulebook.actions)) or "none"
            raise UnknownName(f"unknown action {action!r}; actions: {known}")
        held = self.holding(action, instant)
        applying = [
            MeasureResult(name, measure.effect, measure.detail, measure.basis,
                          reasons(measure.when, instant, self.timelines, self, self.tz))
            for name, measure in self.rulebook.measures_of(action) if name in held
        ]  # fmt: skip
        verdict = "deny" if any(result.effect == "deny" for result in applying) else "allow"
        return Decision(
            self.subject,
            action,
            iso(instant, self.tz) or "",
            verdict,
            applying,
            self.key_factors(applying),
            known=self.known,
        )

    def holding(self, action: str, instant: dt.datetime | None = None) -> list[str]:
        """The names of the action's measures whose condition holds, in the rulebook's order:
        rule 7 without the reasons. A notice compares it between two states for every action and
        needs the reasons only of what changed."""
        instant = instant or self.at
        return [name for name, measure in self.rulebook.measures_of(action)
                if holds(measure.when, instant, self.timelines, self)]  # fmt: skip

    def key_factors(self, applying: list[MeasureResult]) -> list[dict[str, Any]]:
        """At most four records that weigh most in the adverse measures, ranked."""
        by_record: dict[str, dict[str, Any]] = {}
        for result in applying:
            if result.effect not in ADVERSE:
                continue
            for reason in result.reasons:
                if reason["negated"]:
                    continue
                if "list" in reason:
                    for record_id in reason.get("opened_by", []):
                        factor = by_record.setdefault(record_id, {"record": record_id, "weight": float("inf")})
                        factor["why"] = f"put the subject on the {reason.get('kind')} list {reason['list']}"
                    continue
                for fact in reason["records"]:
                    factor = by_record.setdefault(fact["record"], {"record": fact["record"], "weight": 0.0})
                    if factor["weight"] != float("inf"):
                        factor["weight"] = max(factor["weight"], abs(fact["points"]))
                        factor["why"] = f"{fact['points']:+} points in {reason['program']}"
        ranked = sorted(by_record.values(), key=lambda factor: -factor["weight"])[:MAX_KEY_FACTORS]
        if not ranked:
            return []
        wanted = {factor["record"] for factor in ranked}
        known = {record.id: record for record in self.records if record.id in wanted}
        return [
            {
                "rank": rank,
                "record": factor["record"],
                "behaviour": known[factor["record"]].behaviour if factor["record"] in known else None,
                "at": iso(known[factor["record"]].at, self.tz) if factor["record"] in known else None,
                "why": factor["why"],
            }
            for rank, factor in enumerate(ranked, start=1)
        ]


def subject_kind(subject: str, records: Iterable[Record], default: SubjectKind = "person") -> SubjectKind:
    """The kind the records give the subject; records that disagree are an error."""
    kinds = {record.kind for record in records}
    if len(kinds) > 1:
        raise RecordError(f"subject {subject!r} is recorded both as {' and '.join(sorted(kinds))}", field="kind")
    return next(iter(kinds)) if kinds else default


def evaluate(
    rulebook: Rulebook,
    records: Iterable[Record],
    subject: str,
    at: dt.datetime,
    kind: SubjectKind | None = None,
) -> SubjectState:
    """The state of one subject at `at`, from its own records only (ledger order = iteration order)."""
    own = sorted((record for record in records if record.subject == subject and record.at <= at), key=_when)
    return SubjectState(rulebook, subject, kind or subject_kind(subject, own), own, at)


def evaluate_all(rulebook: Rulebook, records: Iterable[Record], at: dt.datetime) -> dict[str, SubjectState]:
    """The state of every subject that has a record, by subject id (sorted)."""
    by_subject: dict[str, list[Record]] = {}
    for record in records:
        by_subject.setdefault(record.subject, []).append(record)
    states = {}
    for subject in sorted(by_subject):
        kind = subject_kind(subject, by_subject[subject])
        known = sorted((record for record in by_subject[subject] if record.at <= at), key=_when)
        states[subject] = SubjectState(rulebook, subject, kind, known, at)
    return states


def _when(record: Record) -> dt.datetime:
    return record.at
