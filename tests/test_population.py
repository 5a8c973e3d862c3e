"""The population engine (Ibis on DuckDB) equals the reference evaluator, subject by subject."""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from credo import evaluate_all, load_rulebook, read_records
from credo.population.duckdb import scores
from credo.rules import Rulebook
from credo.semantics import Record
from tests.conftest import SCENARIOS
from tests.strategies import instants, ledgers, rulebooks


def reference(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime
) -> dict[tuple[str, str], tuple[float, str | None]]:
    states = evaluate_all(rulebook, rows, at)
    return {(subject, program): (state.score(program), state.tier(program))
            for subject, state in states.items() for program in state.enrolled()}  # fmt: skip


def test_the_article_ledger_scores_the_same() -> None:
    rulebook = load_rulebook(SCENARIOS / "article" / "rulebook.yaml")
    rows = read_records(SCENARIOS / "article" / "example-ledger.csv", rulebook)
    for day in ("2024-03-01", "2025-01-01", "2025-06-01", "2027-06-01"):
        at = dt.datetime.fromisoformat(day).replace(tzinfo=rulebook.tz)
        assert scores(rulebook, rows, at) == reference(rulebook, rows, at)


@settings(max_examples=int(os.environ.get("CREDO_POPULATION_EXAMPLES", "60")), deadline=None)
@given(rulebooks(), ledgers(subjects=("s", "t", "u"), max_size=30), instants(4 * 366), st.sampled_from(
    ["UTC", "Asia/Shanghai", "America/New_York"]))  # fmt: skip
def test_random_rulebooks_and_ledgers_score_the_same(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime, zone: str
) -> None:
    rulebook = rulebook.model_copy(update={"timezone": zone})
    assert scores(rulebook, rows, at) == reference(rulebook, rows, at)
