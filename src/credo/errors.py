"""The one error root of credo, and the errors that carry where a problem was found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CredoError(Exception):
    """Anything credo refuses, with a message a person can act on."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file, with its place kept as data: 1-based line and column, key path."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        if self.path:  # a key path says where well enough; the column is kept for tools (lint --json)
            place = self.file if self.line is None else f"{self.file}:{self.line}"
            return f"{place} ({self.path}): {self.message}"
        place = ":".join(str(part) for part in (self.file, self.line, self.column) if part is not None)
        return f"{place}: {self.message}"


class RulebookError(CredoError, ValueError):
    """A rulebook that cannot be loaded: each problem names file, line and key path."""

    def __init__(self, problems: Sequence[str | Problem], file: str | None = None) -> None:
        self.located = [problem for problem in problems if isinstance(problem, Problem)]
        self.problems = [str(problem) for problem in problems]
        self.file = file
        super().__init__("\n".join(self.problems))


class RulebookFileError(RulebookError):
    """A file that is not a rulebook at all (unreadable, too large, not UTF-8 text, not a mapping):
    bad input (CLI exit 2), not a rulebook with errors in it (lint's exit 1)."""


class RecordError(CredoError, ValueError):
    """A record that cannot be read: names the file, the line and the field."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = ":".join(str(part) for part in (file, line) if part is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class InstantError(CredoError, ValueError):
    """A date or instant that is not ISO 8601."""


class NotFound(CredoError, LookupError):
    """What was asked for does not exist (or is not the asker's to see: the same answer)."""


class Conflict(CredoError, RuntimeError):
    """A request that contradicts what the ledger already holds (an open appeal, a resolved one)."""
