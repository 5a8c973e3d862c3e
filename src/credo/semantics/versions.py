"""Rulebook versions over time (DESIGN §4 rule 8): no retroactive penalties.

A record is scored with the points of the version in force at its `at`; tiers, lists and
measures are those of the version in force at the question's instant.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from credo.errors import CredoError
from credo.rules.model import PointsRule, Rulebook
from credo.semantics.records import Record, SubjectKind
from credo.semantics.state import SubjectState, subject_kind


@dataclass(frozen=True)
class Version:
    """A published rulebook and the instant it takes effect."""

    effective: dt.datetime
    rulebook: Rulebook
    position: int = 0  # ledger position of its publication: a later publication wins a tie


class NoRulebookInForce(CredoError, LookupError):
    """No published rulebook version is in force at the instant asked about."""


class RulebookHistory:
    """Every published version, answering which one is in force at an instant."""

    def __init__(self, versions: Iterable[Version]) -> None:
        self.versions = sorted(versions, key=lambda version: (version.effective, version.position))
        self._starts = [version.effective for version in self.versions]

    def __bool__(self) -> bool:
        return bool(self.versions)

    def in_force(self, instant: dt.datetime) -> Rulebook | None:
        index = bisect_right(self._starts, instant) - 1
        return self.versions[index].rulebook if index >= 0 else None

    def require(self, instant: dt.datetime) -> Rulebook:
        rulebook = self.in_force(instant)
        if rulebook is None:
            first = self._starts[0].isoformat() if self._starts else "none is published"
            raise NoRulebookInForce(f"no rulebook version is in force at {instant.isoformat()} (first: {first})")
        return rulebook

    def points_of(self, program: str, record: Record) -> PointsRule | None:
        """The rule of the version in force at the record's `at`; None if it gives no points there."""
        rulebook = self.in_force(record.at)
        if rulebook is None or program not in rulebook.programs:
            return None
        return rulebook.programs[program].points.get(record.behaviour)

    def evaluate(
        self, records: Sequence[Record], subject: str, at: dt.datetime, kind: SubjectKind | None = None
    ) -> SubjectState:
        """Like semantics.evaluate, with each record scored by the version in force when it happened."""
        own = sorted((record for record in records if record.subject == subject and record.at <= at), key=_when)
        return SubjectState(self.require(at), subject, kind or subject_kind(subject, own), own, at, self.points_of)


def _when(record: Record) -> dt.datetime:
    return record.at
