"""The rulebook contract (DESIGN §3) as pydantic models: unknown keys are errors."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from credo.rules.time import Duration, Period, parse_duration, zone

SubjectKind = Literal["person", "organization"]
ALL_KINDS: tuple[SubjectKind, ...] = ("person", "organization")

#: Points and bounds beyond this are no rule a person wrote; the bound keeps every sum exact in a
#: float and within DuckDB's and PostgreSQL's 64-bit integers.
LARGEST = 10**15


def _number(value: Any) -> int | float:
    """A finite number as YAML wrote it (an int stays an int): one check, one message, no union."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Expected a number; got {value!r}")
    if not -LARGEST <= value <= LARGEST:  # also refuses .nan and .inf
        raise ValueError(f"Expected a number between -10^15 and 10^15; got {value!r}")
    return value


def _points(value: Any) -> int | float | list[int | float]:
    if isinstance(value, list):
        if not value:
            raise ValueError("Expected at least one number in `points`")
        for index, item in enumerate(value):
            try:
                _number(item)
            except ValueError:
                raise ValueError(
                    f"Expected a number, or a list of numbers for escalation; item {index + 1} is {item!r}"
                ) from None
        return list(value)
    try:
        return _number(value)
    except ValueError:
        raise ValueError(f"Expected a number, or a list of numbers for escalation; got {value!r}") from None


Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]
Points = Annotated[
    int | float | list[int | float],
    PlainValidator(_points),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}, "minItems": 1}]}),
]

DurationField = Annotated[
    Duration,
    PlainValidator(lambda value: value if isinstance(value, Duration) else parse_duration(value)),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$",
            "description": "An ISO 8601 duration such as P2Y, P6M, P30D or P2Y6M.",
        }
    ),
]


class Model(BaseModel):
    """Strict about keys, so a typo in a rulebook is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Documented(Model):
    """Rules are data with a source: a description and the law or regulation they come from."""

    description: str | None = None
    reference: str | None = None


class Source(Documented):
    """An agency or device that reports records."""

    automated: bool = Field(False, description="An automated sensor, whose identification may be wrong.")
    min_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        1.0,
        description="Records from an automated source with a lower identification confidence (or none) wait "
        "for a human to confirm them before they count.",
    )


class Behaviour(Documented):
    """A kind of recordable act, with its category and the sources allowed to report it."""

    category: str
    sources: list[str] = Field(default_factory=list)
    needs_confirmation: bool = Field(
        False, description="Records wait for a human to confirm the identification before they count."
    )


class Cap(Model):
    """At most `points` (in magnitude) from one behaviour per calendar period."""

    points: Annotated[Number, Field(gt=0)]
    per: Period


class PointsRule(Documented):
    """How one behaviour moves one program's score."""

    points: Points | None = Field(
        None, description="A number, or a list for escalation: the nth offence gets the nth entry."
    )
    repeat_window: DurationField | None = None
    expires_after: DurationField | None = None
    cap: Cap | None = None
    reset: bool = Field(False, description="A record of this behaviour wipes the slate of the program.")

    @model_validator(mode="after")
    def _points_or_reset(self) -> PointsRule:
        if self.points is None and not self.reset:
            raise ValueError("Expected `points` (a number or a list of numbers), or `reset: true`")
        return self

    @cached_property
    def ladder(self) -> list[Number]:
        """The points as a list: one entry for a plain number, 0 for a reset without points."""
        if self.points is None:
            return [0]
        return list(self.points) if isinstance(self.points, list) else [self.points]

    @cached_property
    def sign(self) -> int:
        """+1 when the rule's points raise a score, -1 when they lower it (lint refuses mixed signs)."""
        return 1 if any(value > 0 for value in self.ladder) else -1


class Program(Documented):
    """A points account that each enrolled subject of the right kind holds."""

    subjects: list[SubjectKind] = Field(default_factory=lambda: list(ALL_KINDS))
    enrol_on: list[str] = Field(default_factory=list)
    start: Number = 0
    higher_is: Literal["better", "worse"] = "better"
    floor: Number | None = None
    ceiling: Number | None = None
    resets: Period | None = None
    tiers: dict[str, Number] = Field(default_factory=dict)
    points: dict[str, PointsRule] = Field(default_factory=dict)

    def tier_order(self) -> list[str]:
        """Tier names from the lowest bound to the highest."""
        return list(self.tier_names)

    @cached_property
    def tier_names(self) -> tuple[str, ...]:
        """tier_order(), kept: every timeline reads it."""
        return tuple(sorted(self.tiers, key=lambda name: self.tiers[name]))

    @cached_property
    def tier_bounds(self) -> tuple[Number, ...]:
        """The lower bound of each tier, in tier_order()."""
        return tuple(self.tiers[name] for name in self.tier_names)


# Conditions are declarative data, never code.


class ListCondition(Model):
    list_: str = Field(alias="list")


class ProgramCondition(Model):
    program: str
    tier_in: list[str] | None = None
    tier_at_least: str | None = None
    tier_at_most: str | None = None
    score_below: Number | None = None
    score_at_least: Number | None = None
    score_at_most: Number | None = None

    @model_validator(mode="after")
    def _one_test(self) -> ProgramCondition:
        if len(self.tests()) != 1:
            raise ValueError(
                "Expected exactly one of tier_in, tier_at_least, tier_at_most, score_below, "
                f"score_at_least, score_at_most beside `program`; got {sorted(self.tests()) or 'none'}"
            )
        return self

    def tests(self) -> dict[str, Any]:
        fields = ("tier_in", "tier_at_least", "tier_at_most", "score_below", "score_at_least", "score_at_most")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}

    @cached_property
    def test(self) -> tuple[str, Any]:
        """(name, value) of the one test; cached, as decisions ask it many times."""
        ((name, value),) = self.tests().items()
        return name, value

    def as_written(self) -> dict[str, Any]:
        """The condition as a rulebook writes it ({"program": ..., test: value}): what
        model_dump(by_alias=True, exclude_none=True) gives, in an eighth of its time, for every
        reason of every decision."""
        name, value = self.test
        return {"program": self.program, name: list(value) if isinstance(value, list) else value}


class AllCondition(Model):
    all_: list[Condition] = Field(alias="all", min_length=1)


class AnyCondition(Model):
    any_: list[Condition] = Field(alias="any", min_length=1)


class NotCondition(Model):
    not_: Condition = Field(alias="not")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, Model):
        return {
            ListCondition: "list",
            ProgramCondition: "program",
            AllCondition: "all",
            AnyCondition: "any",
            NotCondition: "not",
        }.get(type(value))
    if isinstance(value, dict):
        for key in ("program", "list", "all", "any", "not"):
            if key in value:
                return key
    return None


Condition = Annotated[
    Annotated[ListCondition, Tag("list")]
    | Annotated[ProgramCondition, Tag("program")]
    | Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "Expected a condition: {list: L}, {program: P, <test>: ..}, {all: [..]}, {any: [..]} or {not: ..}"
        ),
    ),
]


class ListDef(Documented):
    """A black or red list: entered on a record or a condition, left on a record or after a duration."""

    kind: Literal["black", "red"]
    enter_on: list[str] = Field(default_factory=list)
    enter_when: Condition | None = None
    leave_on: list[str] = Field(default_factory=list)
    lasts: DurationField | None = None

    @model_validator(mode="after")
    def _some_entry(self) -> ListDef:
        if not self.enter_on and self.enter_when is None:
            raise ValueError("Expected `enter_on` (behaviours) or `enter_when` (a condition)")
        return self

    @property
    def is_level(self) -> bool:
        """A condition list with no way out but the condition itself: on while it holds."""
        return not self.leave_on and self.lasts is None


class Action(Documented):
    """Something a subject asks a service provider for."""

    context: str
    essential: bool = Field(False, description="Health care, education, utilities, internet.")


class Measure(Documented):
    """A consequence attached to an action, with its condition and legal basis."""

    action: str
    effect: Literal["deny", "limit", "perk"]
    detail: str = ""
    when: Condition
    basis: str | None = None


class Appeals(Model):
    """How disputes are handled (store mode)."""

    respond_within: DurationField = Field(default_factory=lambda: parse_duration("P30D"))
    while_pending: Literal["count", "suspend"] = "count"


class Rulebook(Documented):
    """The versioned document that declares everything credo may do."""

    rulebook: str
    version: Annotated[str, BeforeValidator(lambda value: str(value) if isinstance(value, int | float) else value)]
    timezone: str = "UTC"
    sources: dict[str, Source] = Field(default_factory=dict)
    behaviours: dict[str, Behaviour]
    programs: dict[str, Program] = Field(default_factory=dict)
    lists: dict[str, ListDef] = Field(default_factory=dict)
    actions: dict[str, Action] = Field(default_factory=dict)
    measures: dict[str, Measure] = Field(default_factory=dict)
    appeals: Appeals = Field(default_factory=Appeals)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @property
    def tz(self) -> Any:
        return zone(self.timezone)

    def measures_of(self, action: str) -> tuple[tuple[str, Measure], ...]:
        """The measures attached to one action, by name, in the rulebook's order."""
        return self._measures_by_action.get(action, ())

    @cached_property
    def _measures_by_action(self) -> dict[str, tuple[tuple[str, Measure], ...]]:
        actions = dict.fromkeys(measure.action for measure in self.measures.values())
        return {
            action: tuple((name, measure) for name, measure in self.measures.items() if measure.action == action)
            for action in actions
        }


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
ListDef.model_rebuild()
Measure.model_rebuild()
Rulebook.model_rebuild()
