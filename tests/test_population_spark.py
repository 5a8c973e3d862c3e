"""The same population definition on Spark (local mode) equals the reference."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo import evaluate_all, load_rulebook, read_records
from credo.errors import RecordError
from credo.population.lists import measures
from credo.population.run import start, summaries
from credo.rules import Rulebook, parse_instant
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


ARTICLE = SCENARIOS / "article" / "rulebook.yaml"


def article_rows() -> list[dict[str, str]]:
    import csv

    with (SCENARIOS / "article" / "example-ledger.csv").open() as handle:
        return list(csv.DictReader(handle))


def read_by_spark(path: Path) -> Any:
    """The rows Spark read (instants as seconds, compared inside Spark), or the error it gave."""
    from credo.population.spark import connect
    from credo.population.spark_source import ledger_table

    rulebook = load_rulebook(ARTICLE)
    connection = connect(rulebook)
    try:
        table = ledger_table(connection, path, rulebook)
    except RecordError as error:
        return str(error)
    table = table.mutate(at=table.at.epoch_seconds()).order_by("pos")
    return [(r["subject"], r["kind"], r["behaviour"], float(r["at"])) for r in connection.to_pyarrow(table).to_pylist()]


def read_by_file_mode(path: Path) -> Any:
    try:
        return [(r.subject, r.kind, r.behaviour, r.at.timestamp()) for r in read_records(path, load_rulebook(ARTICLE))]
    except RecordError as error:
        return str(error)


def _change(rows: list[dict[str, str]], how: str) -> None:
    if how == "padded":  # every whitespace Python strips, not only spaces
        rows[3]["subject"] = "\u3000" + rows[3]["subject"] + "\t"
        rows[4]["behaviour"] = " " + rows[4]["behaviour"] + "\xa0"
        rows[6]["kind"] = f" {rows[6]['kind']}\u2003"
    elif how == "repeated id":
        rows[7]["id"] = rows[2]["id"] + "\u3000"
    elif how == "unknown behaviour":
        rows[5]["behaviour"] = "jaywalking"
    elif how == "instant without seconds":  # Python reads it; Spark's check does not: file mode reads the file
        rows[3]["at"] = rows[3]["at"][:10] + "T09:30"
    elif how == "unknown column":
        for row in rows:
            row["extra"] = "1"


@pytest.mark.parametrize("how", ["padded", "repeated id", "unknown behaviour", "instant without seconds",
                                 "unknown column"])  # fmt: skip
def test_spark_reads_parquet_as_file_mode_does(tmp_path: Path, how: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = article_rows()
    _change(rows, how)
    path = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    expected = read_by_file_mode(path)
    assert read_by_spark(path) == expected
    assert isinstance(expected, str) == (how in {"repeated id", "unknown behaviour", "unknown column"})


def test_spark_reads_a_clean_ledger_without_the_driver_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from credo.population import spark_source

    rulebook = load_rulebook(ARTICLE)
    typed = [{**row, "at": parse_instant(row["at"], rulebook.tz)} for row in article_rows()]
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(typed), path)
    expected = read_by_file_mode(path)

    def refuse(*_: Any) -> None:
        raise AssertionError("file mode's reader was called")

    monkeypatch.setattr(spark_source, "read_records", refuse)
    assert read_by_spark(path) == expected


def test_the_population_command_on_spark_writes_what_duckdb_writes(tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from credo.cli import app

    path = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(article_rows()), path)
    written = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        result = CliRunner().invoke(app, ["population", str(ARTICLE), str(path), "--at", "2025-06-01", "--out",
                                          str(out), "--engine", engine])  # fmt: skip
        assert result.exit_code == 0, result.output
        written[engine] = (json.loads((out / "summary.json").read_text()),
                           sorted(pq.read_table(out / "scores.parquet").to_pylist(), key=str))  # fmt: skip
    assert written["spark"] == written["duckdb"]
    assert written["spark"][0]["subjects"] == 33


def test_a_spark_run_is_quiet(tmp_path: Path) -> None:
    """Only credo's output: no JVM, log4j or pandas warnings on stderr (issue 14.8)."""
    import subprocess
    import sys

    records = tmp_path / "records.csv"
    records.write_text("id,subject,kind,behaviour,at,source\nr1,p-a,person,judgment_defaulted,2024-03-01,court\n"
                       "r2,p-b,person,charity_donation,2024-04-01,charity_federation\n")  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key != "CREDO_SPARK_LOG"}
    env["PYTHONPATH"] = os.pathsep.join([str(SCENARIOS.parent / "src"), str(SCENARIOS.parent)])
    command = [sys.executable, "-m", "credo.cli.main", "score", str(SCENARIOS / "article" / "rulebook.yaml"),
               str(records), "--at", "2025-06-01", "--engine", "spark", "--json"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    assert [line["subject"] for line in map(json.loads, done.stdout.splitlines())] == ["p-a", "p-b"]
    assert done.stderr == "", done.stderr
