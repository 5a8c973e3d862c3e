"""A record: one reported occurrence of a behaviour by a subject at an instant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

SubjectKind = Literal["person", "organization"]


@dataclass(frozen=True, slots=True)
class Record:
    """What the evaluator reads. Ledger order is the order records are handed over in."""

    subject: str
    behaviour: str
    at: dt.datetime
    id: str
    source: str | None = None
    kind: SubjectKind = "person"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "kind": self.kind,
            "behaviour": self.behaviour,
            "at": self.at.isoformat(),
            "source": self.source,
        }
