"""The answers of the HTTP API, as pydantic models: /openapi.json describes each one from these.

They describe today's JSON exactly (field names, order, nesting), so that declaring them changed
no answer: each forbids extra fields, so that a field a use-case adds without its model is a
failing test rather than a field silently dropped. Numbers are `int | float` because a rulebook's
points may be either and the JSON keeps the spelling (5, not 5.0). Where a key is absent rather
than null (a negated list test has no stay; decisions logged before `known` existed), the shape
is a TypedDict with NotRequired keys, which pydantic serialises without the absent keys.
"""

from __future__ import annotations

import builtins
from typing import Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from credo.service.notices import Notice

Number = int | float


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Errors (credo.service.errors).


class ErrorBody(Answer):
    status: int
    code: str = Field(description="not_found, invalid, conflict, rate_limited, unavailable, …")
    message: str
    details: list[dict[str, Any]] = Field(description="one entry per field or row at fault, when known")


class ErrorAnswer(Answer):
    """Every answer that is not a success has this one shape."""

    error: ErrorBody


# Health and the rulebook.


class Health(Answer):
    ok: bool
    ledger_head: int = Field(description="the position of the newest ledger entry (0 when empty)")


class RulebookInForce(Answer):
    rulebook: dict[str, Any] = Field(description="the rulebook in force now, as published (YAML's fields as JSON)")


class VersionView(Answer):
    position: int
    name: str
    version: str
    effective: str
    published: str
    retroactive: bool


class Versions(Answer):
    versions: list[VersionView]


class Published(Answer):
    position: int
    published: bool = Field(description="false: the same text was already in force from that instant")


class NewKey(Answer):
    key: str = Field(description="the key itself, shown this once (only its hash is stored)")
    role: str


# Records in.


class Receipt(Answer):
    id: str = Field(description="SOURCE:ID")
    position: int
    duplicate: bool


class Receipts(Answer):
    accepted: int
    duplicates: int
    receipts: list[Receipt]


# Decisions and their reasons (credo.semantics: Decision.as_dict, conditions.Reason).


class RecordFact(Answer):
    record: str
    behaviour: str
    at: str | None
    points: Number
    until: str | None


class ProgramReason(Answer):
    condition: dict[str, Any]
    negated: bool
    program: str
    enrolled: bool
    score: Number | None
    tier: str | None
    records: list[RecordFact]


@with_config(ConfigDict(extra="forbid"))
class ListReason(TypedDict):
    """A list test; the stay's facts (kind … until) only when the subject is on the list."""

    condition: dict[str, Any]
    negated: bool
    list: str
    kind: NotRequired[str]
    since: NotRequired[str | None]
    opened_by: NotRequired[builtins.list[str]]  # `list` is a field's name here
    until: NotRequired[str | None]


class MeasureResult(Answer):
    measure: str
    effect: str
    detail: str
    basis: str | None
    reasons: list[ProgramReason | ListReason]


class KeyFactor(Answer):
    rank: int
    record: str
    behaviour: str | None
    at: str | None
    why: str


@with_config(ConfigDict(extra="forbid"))
class DecisionAnswer(TypedDict):
    """A decision as the evaluator gives it and the decision log keeps it."""

    subject: str
    action: str
    at: str
    decision: str
    measures: list[MeasureResult]
    key_factors: list[KeyFactor]
    known: NotRequired[bool]  # absent from decisions logged before it existed


@with_config(ConfigDict(extra="forbid"))
class LoggedDecision(TypedDict):
    decision_id: str
    rulebook_position: int
    ledger_position: int
    decided_at: str
    subject: str
    action: str
    at: str
    decision: str
    measures: list[MeasureResult]
    key_factors: list[KeyFactor]
    known: NotRequired[bool]


@with_config(ConfigDict(extra="forbid"))
class FiledDecision(TypedDict):
    """A decision about the subject, in its file."""

    decision_id: str
    subject: str
    action: str
    at: str
    decision: str
    measures: list[MeasureResult]
    key_factors: list[KeyFactor]
    known: NotRequired[bool]


class Replayed(Answer):
    decision_id: str
    same: bool
    logged: DecisionAnswer
    recomputed: DecisionAnswer


class PublicMeasure(Answer):
    measure: str
    effect: str
    detail: str
    basis: str | None
    until: str | None = Field(description="when it stops applying at the latest; null: not by expiry alone")


class PublicDecision(Answer):
    """The provider's view: allow or deny and each measure; never the score or the records."""

    decision_id: str
    subject: str
    action: str
    at: str
    decision: str
    known: bool = Field(description="false: no record about the subject is known (answered as for a newcomer)")
    measures: list[PublicMeasure]
    appeal: str


# The subject's own file (credo.semantics: SubjectState.summary, explain).


class ProgramStanding(Answer):
    score: Number | None
    tier: str | None


class Summary(Answer):
    subject: str
    at: str | None
    programs: dict[str, ProgramStanding]
    lists: list[str]


class ExplainedRecord(Answer):
    record: str
    behaviour: str
    at: str | None
    base: Number
    effective: Number
    rule: str = Field(description="which rule gave the points, in words")
    reference: str | None
    until: str | None
    ended_by: str | None


class NextChange(Answer):
    at: str | None
    score: Number | None


class SoonerBy(Answer):
    behaviour: str
    points: Number
    reaches_now: bool


class NextTier(Answer):
    tier: str
    bound: Number
    earliest_by_expiry: str | None
    sooner_by: list[SoonerBy]


class ProgramExplanation(Answer):
    program: str
    score: Number | None
    unclamped: Number | None
    tier: str | None
    start: Number
    floor: Number | None
    ceiling: Number | None
    higher_is: str
    enrolled_since: str | None
    records: list[ExplainedRecord]
    next_change: NextChange | None
    next_tier: NextTier | None


class LeavingBy(Answer):
    behaviour: str
    leaves_now: bool


class WayOff(Answer):
    earliest_by_expiry: str | None
    behaviours: list[LeavingBy]


class ListExplanation(Answer):
    list: str
    kind: str
    since: str | None
    opened_by: builtins.list[str]  # `list` is a field's name here
    until: str | None
    way_off: WayOff


class Explanation(Answer):
    """Every point explained, and the way to the next tier or off a list."""

    subject: str
    kind: str
    at: str | None
    programs: list[ProgramExplanation]
    lists: list[ListExplanation]


class Correction(Answer):
    action: str
    reason: str
    by: str
    at: str | None


class Dispute(Answer):
    statement: str
    filed: str
    status: str


class RecordView(Answer):
    id: str
    position: int
    behaviour: str
    at: str | None
    recorded_at: str | None
    status: str = Field(description="counting, awaiting confirmation, suspended or reversed")
    evidence: str | None
    corrections: list[Correction]
    appeals: list[Dispute]


class SubjectRecords(Answer):
    records: list[RecordView]


class Notices(Answer):
    notices: list[Notice]


# Appeals (credo.service.appeals).


class AppealResolution(Answer):
    outcome: str
    reason: str
    by: str
    at: str


class AppealView(Answer):
    id: str
    record: str
    subject: str
    statement: str
    filed: str
    deadline: str
    while_pending: str
    status: str = Field(description="pending, lapsed, uphold or reverse")
    overdue: bool
    resolution: AppealResolution | None


class PendingAppeals(Answer):
    """One page of the appeals awaiting a reviewer, the nearest deadline first."""

    appeals: list[AppealView]
    total: int = Field(description="How many appeals await a reviewer in all; ask again with a larger offset for more.")
    overdue: int = Field(description="How many of them are past their deadline.")
    offset: int = Field(description="How many waiting appeals come before this page.")


class SubjectFile(Answer):
    """Everything held about the subject (GDPR Art. 15)."""

    subject: str
    now: str
    summary: Summary
    explanation: Explanation
    records: list[RecordView]
    decisions: list[FiledDecision]
    appeals: list[AppealView]
    notices: list[Notice]
