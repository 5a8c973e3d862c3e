"""What credo accepts from outside: identifiers, free text and the one record model.

Every entry point (records by file and by HTTP, decisions, keys, appeals, the CLI's --subject)
reads identifiers through `Identifier`, so a subject has one spelling: surrounding whitespace is
stripped and what remains must be 1 to 200 printable characters (no control, format or
separator characters but the plain space, no NUL: PostgreSQL text cannot hold one, and the hash
chain's canonical encoding uses \\x00 and \\x1f as markers). Free text (evidence, statements,
reasons) may hold any character but NUL. Types are strict: a string is a string, never a
number, a boolean or an object made into one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from credo.errors import RecordError

MAX_IDENTIFIER = 200
MAX_INSTANT_TEXT = 64
MAX_EVIDENCE = 2000
MAX_STATEMENT = 5000


# No character of Unicode's "other" (control, format, surrogate, private, unassigned) or
# "separator" categories but the plain space: checked by pydantic-core, not per row in Python.
PRINTABLE = r"\A(?:[^\p{C}\p{Z}]| )*\z"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not hold a NUL character")
    return value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _not_boolean(value: Any) -> Any:
    if isinstance(value, bool):  # lax float would read true as 1.0
        raise ValueError("expected a number from 0 to 1")
    return value


def _positive_zero(value: float) -> float:
    return value + 0.0  # -0.0 is 0.0: one spelling in the chain on every store


#: An identifier as every entry point reads it (see the module's docstring).
Identifier = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_IDENTIFIER, pattern=PRINTABLE),
    # The schema says it in words: JSON Schema's regular expressions have no Unicode categories.
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_IDENTIFIER,
            "description": "printable characters; surrounding whitespace is stripped",
        }
    ),
]
#: Free text: any character but NUL.
Evidence = Annotated[str, StringConstraints(strict=True, max_length=MAX_EVIDENCE), AfterValidator(_no_nul)]
Statement = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=MAX_STATEMENT), AfterValidator(_no_nul)
]
InstantText = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_INSTANT_TEXT)
]
Kind = Annotated[Literal["person", "organization"], BeforeValidator(_stripped)]
# A number from 0 to 1; a CSV has no numbers, so its decimal text is read too.
Confidence = Annotated[
    float,
    Field(ge=0, le=1, strict=False, allow_inf_nan=False),
    AfterValidator(_positive_zero),
    BeforeValidator(_not_boolean),
]


class RecordRow(BaseModel):
    """One record as submitted, by file (CSV, JSON Lines, Parquet) or by HTTP: the same types and
    limits on every path. Store mode also needs `source` and `id` (credo.ledger.ingest)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    subject: Identifier
    behaviour: Identifier
    at: InstantText | dt.datetime | dt.date = Field(description="ISO 8601 date or instant")
    id: Identifier | None = Field(None, description="the source's own id of the record")
    source: Identifier | None = None
    kind: Kind = "person"
    evidence: Evidence | None = None
    confidence: Confidence | None = None


COLUMNS = tuple(RecordRow.model_fields)
_validate_row = RecordRow.__pydantic_validator__.validate_python


#: An id of whitespace alone is as absent as an empty one, as file mode has always read it (and
#: the population engine's readers do); a kind or source of whitespace alone is refused.
OPTIONAL = frozenset({"id"})


def _absent(name: str, value: Any) -> bool:
    return value is None or value == "" or (name in OPTIONAL and isinstance(value, str) and not value.strip())


def record_row(row: Any) -> RecordRow | tuple[str, str]:
    """The row as a RecordRow, or (field, reason) for its first problem. An empty value (CSV's
    empty cell, JSON's null) is an absent one; so is an id of whitespace alone."""
    if not isinstance(row, dict):
        return ("", "expected an object of fields")
    values = row.values()
    plain = (
        "" not in values
        and None not in values
        and not any(isinstance(row.get(name), str) and not row[name].strip() for name in OPTIONAL)
    )
    present = row if plain else {name: value for name, value in row.items() if not _absent(name, value)}
    try:
        return _validate_row(present)  # type: ignore[no-any-return]
    except ValidationError as exc:
        return problem(exc)


def problem(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of a validation error's first problem, in words a person can act on."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    return (field, reason(error, field))


def reason(error: Any, field: str) -> str:
    """One pydantic error about `field`, in words a person can act on."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown column {field!r}; records have {', '.join(COLUMNS)}"
    if kind == "missing" or (kind == "string_too_short" and field != "statement"):
        return f"missing {field}"
    if kind == "string_type":
        return f"expected text; got {_json_name(error['input'])} {error['input']!r}"
    if kind == "string_too_long":
        return f"at most {error['ctx']['max_length']} characters; got {len(error['input'])}"
    if kind == "string_pattern_mismatch":
        bad = next((char for char in error["input"] if not char.isprintable() and char != " "), "")
        return f"must hold only printable characters; got {bad!r} in {error['input']!r}"
    if field == "confidence":
        return f"expected a number from 0 to 1; got {error['input']!r}"
    if field == "kind":
        return f"unknown subject kind {error['input']!r}; expected person or organization"
    return str(error["msg"]).removeprefix("Value error, ")


def _json_name(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", dict: "an object", list: "a list"}
    return names.get(type(value), type(value).__name__)


_identifier = TypeAdapter(Identifier)


def identifier(value: object, field: str) -> str:
    """The identifier as credo stores it (stripped); RecordError names the field when it is not one."""
    try:
        return _identifier.validate_python(value)
    except ValidationError as exc:
        raise RecordError(reason(exc.errors(include_url=False)[0], field), field=field) from exc
