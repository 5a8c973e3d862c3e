"""The population engine (Ibis on DuckDB) equals the reference evaluator, subject by subject."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from credo import evaluate_all, load_rulebook, read_records
from credo.population.duckdb import scores
from credo.population.lists import measures, memberships
from credo.population.run import start
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


def reference_lists(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> tuple[list[Any], list[Any]]:
    states = evaluate_all(rulebook, rows, at)
    on = sorted((subject, name) for subject, state in states.items() for name in state.lists())
    applying = sorted(
        (subject, action, measure.measure)
        for subject, state in states.items()
        for action in rulebook.actions
        for measure in state.decide(action).measures
    )
    return on, applying


def engine_lists(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> tuple[list[Any], list[Any]]:
    run = start(rulebook, rows, at)
    on = sorted((row["subject"], row["list"]) for row in run.connection.to_pyarrow(memberships(run)).to_pylist())
    applying = sorted(
        (row["subject"], row["action"], row["measure"]) for row in run.connection.to_pyarrow(measures(run)).to_pylist()
    )
    return on, applying


@settings(max_examples=int(os.environ.get("CREDO_POPULATION_EXAMPLES", "60")), deadline=None)
@given(rulebooks(), ledgers(subjects=("s", "t", "u"), max_size=30), instants(4 * 366), st.sampled_from(
    ["UTC", "Asia/Shanghai"]))  # fmt: skip
def test_lists_and_measures_are_the_same(rulebook: Rulebook, rows: list[Record], at: dt.datetime, zone: str) -> None:
    rulebook = rulebook.model_copy(update={"timezone": zone})
    assert engine_lists(rulebook, rows, at) == reference_lists(rulebook, rows, at)


def test_every_scenario_case_scores_the_same_on_duckdb() -> None:
    from credo.ledger.files import record_from_row
    from credo.population.run import start, summaries
    from credo.rules.time import parse_instant
    from credo.testing.runner import load_cases, test_files

    compared = 0
    for file in test_files(SCENARIOS):
        for case in load_cases(file):
            rulebook = load_rulebook(case.rulebook_path)
            rows = [
                record_from_row({"id": f"r{index}", **row}, rulebook, file=case.file, line=index)
                for index, row in enumerate(case.body.get("records") or [])
            ]
            at = parse_instant(case.body["at"], rulebook.tz)
            expected = [state.summary() for state in evaluate_all(rulebook, rows, at).values()]
            assert summaries(start(rulebook, rows, at)) == expected, case.name
            compared += 1
    assert compared >= 30


def test_the_population_command(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from credo.cli import app

    out = tmp_path / "population"
    rulebook = SCENARIOS / "article" / "rulebook.yaml"
    ledger = SCENARIOS / "article" / "example-ledger.csv"
    result = CliRunner().invoke(
        app, ["population", str(rulebook), str(ledger), "--at", "2025-06-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["subjects"] == 33 and summary["lists"]["dishonest_judgment_debtors"] == 2
    assert pq.read_table(out / "scores.parquet").num_rows == 33
    engine = CliRunner().invoke(app, ["score", str(rulebook), str(ledger), "--at", "2025-06-01", "--json",
                                      "--engine", "duckdb"])  # fmt: skip
    reference = CliRunner().invoke(app, ["score", str(rulebook), str(ledger), "--at", "2025-06-01", "--json"])
    assert engine.stdout == reference.stdout


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["P1M", "P3M", "P1Y", "P2Y6M", "P30D", "PT36H", "P1MT1S"]),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 1, 1)),
    st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe"]),
)
def test_an_expiry_band_parts_records_expired_by_t_from_those_that_are_not(
    text: str, local: dt.datetime, zone: str
) -> None:
    from credo.population.calendar import expiry_band
    from credo.rules.time import parse_duration
    from credo.rules.time import zone as tz_of

    tz, duration = tz_of(zone), parse_duration(text)
    at = local.replace(tzinfo=tz)
    band = expiry_band(duration, at, tz)
    assert band is not None
    lo, hi = band
    tick = dt.timedelta(microseconds=1)
    # Calendar addition never goes back, so the edges of the band speak for everything beyond them.
    assert duration.after(lo - tick, tz) <= at < duration.after(hi, tz)
    assert lo < hi
    # The band is narrow: a few days, whatever the month lengths and summer time.
    assert hi - lo <= dt.timedelta(days=4)
