"""The one error root of credo, and the errors that carry where a problem was found."""

from __future__ import annotations


class CredoError(Exception):
    """Anything credo refuses, with a message a person can act on."""


class RulebookError(CredoError, ValueError):
    """A rulebook that cannot be loaded: each problem names file, line and key path."""

    def __init__(self, problems: list[str], file: str | None = None) -> None:
        self.problems = problems
        self.file = file
        super().__init__("\n".join(problems))


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
