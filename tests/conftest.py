from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from credo.rules import Rulebook, lint
from credo.semantics import Record, SubjectState, evaluate
from tests.stores import store_url  # noqa: F401  (a fixture: every test that takes it runs on both stores)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
UTC = dt.UTC


def day(text: str) -> dt.datetime:
    """Midnight UTC of an ISO date (or an ISO instant)."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def make_rulebook(**sections: Any) -> Rulebook:
    """A rulebook from dict sections, checked by lint like a file would be."""
    document = {"rulebook": "t", "version": "1", "behaviours": {}, **sections}
    rulebook = Rulebook.model_validate(document)
    errors = lint(rulebook).errors
    assert not errors, errors
    return rulebook


def records(*rows: tuple[str, str, str]) -> list[Record]:
    """Records from (subject, behaviour, date) triples; ids r1, r2, ... in ledger order."""
    return [Record(subject, behaviour, day(at), f"r{index}") for index, (subject, behaviour, at) in enumerate(rows, 1)]


def state_at(rulebook: Rulebook, rows: list[Record], at: str, subject: str = "s") -> SubjectState:
    return evaluate(rulebook, rows, subject, day(at))


@pytest.fixture
def article_path() -> Path:
    return SCENARIOS / "article" / "rulebook.yaml"
