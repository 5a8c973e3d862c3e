"""The request bodies of the HTTP API: strict, so that a misspelt field is an error."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from credo.ledger.incoming import Identifier, InstantText, RecordRow, Statement

MAX_BODY = 1 << 20  # bytes
MAX_BATCH = 1000  # records per request


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RecordIn(RecordRow):
    """The one record model (credo.ledger.incoming), with the id an agency must give."""

    at: InstantText = Field(description="ISO 8601 date or instant")
    id: Identifier = Field(description="the agency's own id of the record")
    source: Identifier | None = Field(None, description="if given, must be the agency's own source")


class RecordBatch(Strict):
    records: list[RecordIn] = Field(min_length=1, max_length=MAX_BATCH)


class AppealRequest(Strict):
    record: Identifier = Field(description="the record's id (SOURCE:ID) or position")
    statement: Statement = Field(description="why the subject disputes it")


class Resolution(Strict):
    outcome: Literal["uphold", "reverse"]
    reason: Statement


class Publication(Strict):
    text: str = Field(min_length=1, max_length=MAX_BODY, description="the rulebook YAML")
    effective: InstantText = Field(description="ISO 8601 instant it takes effect")
    retroactive: bool = False


class KeyRequest(Strict):
    role: Literal["agency", "provider", "subject", "reviewer", "auditor", "admin"]
    source: Identifier | None = None
    actions: list[Identifier] = Field(default_factory=list, max_length=100)
    subject: Identifier | None = None
    expires: str | None = Field(None, max_length=40, description="a duration (P90D) or a date (UTC); none: never")


class DecisionRequest(Strict):
    subject: Identifier
    action: Identifier
    at: InstantText | None = Field(None, description="default: now")
