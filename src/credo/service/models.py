"""The request bodies of the HTTP API: strict, so that a misspelt field is an error."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BODY = 1 << 20  # bytes
MAX_BATCH = 1000  # records per request


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordIn(Strict):
    subject: str = Field(min_length=1, max_length=200)
    behaviour: str = Field(min_length=1, max_length=200)
    at: str = Field(min_length=1, max_length=64, description="ISO 8601 date or instant")
    id: str = Field(min_length=1, max_length=200, description="the agency's own id of the record")
    kind: Literal["person", "organization"] = "person"
    source: str | None = Field(None, description="if given, must be the agency's own source")
    evidence: str | None = Field(None, max_length=2000)
    confidence: float | None = Field(None, ge=0, le=1)


class RecordBatch(Strict):
    records: list[RecordIn] = Field(min_length=1, max_length=MAX_BATCH)


class AppealRequest(Strict):
    record: str = Field(min_length=1, max_length=400, description="the record's id (SOURCE:ID) or position")
    statement: str = Field(min_length=1, max_length=5000, description="why the subject disputes it")


class Resolution(Strict):
    outcome: Literal["uphold", "reverse"]
    reason: str = Field(min_length=1, max_length=5000)


class Publication(Strict):
    text: str = Field(min_length=1, max_length=MAX_BODY, description="the rulebook YAML")
    effective: str = Field(min_length=1, max_length=64, description="ISO 8601 instant it takes effect")
    retroactive: bool = False


class KeyRequest(Strict):
    role: Literal["agency", "provider", "subject", "reviewer", "auditor", "admin"]
    source: str | None = Field(None, max_length=200)
    actions: list[str] = Field(default_factory=list, max_length=100)
    subject: str | None = Field(None, max_length=200)


class DecisionRequest(Strict):
    subject: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=200)
    at: str | None = Field(None, max_length=64, description="default: now")
