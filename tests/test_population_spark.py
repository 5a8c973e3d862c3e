"""The same population definition on Spark (local mode) equals the reference."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo import evaluate_all, load_rulebook, read_records
from credo.population.lists import measures
from credo.population.run import start, summaries
from credo.rules import Rulebook
from credo.semantics import Record
from tests.conftest import SCENARIOS
from tests.strategies import instants, ledgers, rulebooks

pytest.importorskip("pyspark")


def reference(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> tuple[list[Any], list[Any]]:
    states = evaluate_all(rulebook, rows, at)
    lines = [state.summary() for state in states.values()]
    applying = sorted((s, a, m.measure) for s, state in states.items() for a in rulebook.actions
                      for m in state.decide(a).measures)  # fmt: skip
    return lines, applying


def on_spark(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> tuple[list[Any], list[Any]]:
    run = start(rulebook, rows, at, "spark")
    applying = sorted(
        (row["subject"], row["action"], row["measure"]) for row in run.connection.to_pyarrow(measures(run)).to_pylist()
    )
    return summaries(run), applying


def test_the_article_ledger_on_spark() -> None:
    rulebook = load_rulebook(SCENARIOS / "article" / "rulebook.yaml")
    rows = read_records(SCENARIOS / "article" / "example-ledger.csv", rulebook)
    at = dt.datetime(2025, 6, 1, tzinfo=rulebook.tz)
    assert on_spark(rulebook, rows, at) == reference(rulebook, rows, at)


@settings(max_examples=int(os.environ.get("CREDO_SPARK_EXAMPLES", "5")), deadline=None)
@given(rulebooks(), ledgers(subjects=("s", "t"), max_size=15), instants(4 * 366), st.sampled_from(
    ["UTC", "Asia/Shanghai"]))  # fmt: skip
def test_random_rulebooks_on_spark(rulebook: Rulebook, rows: list[Record], at: dt.datetime, zone: str) -> None:
    rulebook = rulebook.model_copy(update={"timezone": zone})
    assert on_spark(rulebook, rows, at) == reference(rulebook, rows, at)


def test_spark_keeps_the_rulebooks_calendar() -> None:
    """A record of 04:00 on 1 January in Shanghai (20:00 UTC the day before) counts in Shanghai's
    2025, whatever zone Spark's session would otherwise have (Ibis sets UTC as it connects)."""
    from credo.rules.model import Rulebook as Model

    rulebook = Model.model_validate({
        "rulebook": "yearly", "version": "1", "timezone": "Asia/Shanghai",
        "behaviours": {"bad": {"category": "conduct"}},
        "programs": {"p": {"start": 12, "resets": "year", "tiers": {"low": 0}, "points": {"bad": {"points": -3}}}},
    })  # fmt: skip
    rows = [Record("a", "bad", dt.datetime(2024, 12, 31, 20, tzinfo=dt.UTC), "r1")]
    for hour, score in ((3, 12), (10, 9)):
        at = dt.datetime(2025, 1, 1, hour, tzinfo=rulebook.tz)
        assert on_spark(rulebook, rows, at) == reference(rulebook, rows, at)
        assert on_spark(rulebook, rows, at)[0][0]["programs"]["p"]["score"] == score
