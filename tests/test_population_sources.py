"""The population engine's inputs: files read and checked by DuckDB itself, and the ledger store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from credo import evaluate_all, load_rulebook, read_records
from credo.cli import app
from credo.errors import CredoError, RecordError
from credo.population.duckdb import connect
from credo.population.source import ledger_table
from credo.rules import parse_instant
from tests.conftest import SCENARIOS

runner = CliRunner()
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
LEDGER = SCENARIOS / "article" / "example-ledger.csv"


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def engine_rows(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, list[tuple[Any, ...]]]:
    """The rows DuckDB read, and whether it read them itself (not through file mode's reader)."""
    from credo.population import source

    slow: list[Path] = []
    fallback = source._slow
    monkeypatch.setattr(source, "_slow", lambda path, rulebook: slow.append(path) or fallback(path, rulebook))
    rulebook = load_rulebook(ARTICLE)
    connection = connect(rulebook)
    table = ledger_table(connection, path, rulebook)
    rows = connection.to_pyarrow(table.order_by("pos")).to_pylist()
    return not slow, [(row["subject"], row["kind"], row["behaviour"], row["at"]) for row in rows]


def file_mode_rows(path: Path) -> list[tuple[Any, ...]]:
    rulebook = load_rulebook(ARTICLE)
    return [(r.subject, r.kind, r.behaviour, r.at) for r in read_records(path, rulebook)]


def csv_rows() -> list[dict[str, str]]:
    import csv

    with LEDGER.open() as handle:
        return list(csv.DictReader(handle))


def test_duckdb_reads_csv_json_lines_and_parquet_as_file_mode_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = csv_rows()
    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    text_parquet = tmp_path / "text.parquet"
    pq.write_table(pa.Table.from_pylist(rows), text_parquet)
    rulebook = load_rulebook(ARTICLE)
    typed = [{**row, "at": parse_instant(row["at"], rulebook.tz)} for row in rows]
    typed_parquet = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(typed), typed_parquet)
    expected = file_mode_rows(LEDGER)
    assert len(expected) == 106
    for path in (LEDGER, jsonl, text_parquet, typed_parquet):
        fast, rows_read = engine_rows(path, monkeypatch)
        assert fast, path  # the fast path, not file mode's reader
        assert [(s, k, b, at.timestamp()) for s, k, b, at in rows_read] == [
            (s, k, b, at.timestamp()) for s, k, b, at in expected
        ], path


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("behaviour", "jaywalking", "unknown behaviour 'jaywalking'"),
        ("at", "last tuesday", "Expected an ISO 8601"),
        ("subject", " ", "missing subject"),
        ("kind", "robot", "unknown subject kind"),
        ("source", "bank", "source 'bank' may not report 'fraud'"),
        ("id", "r0001", "record id 'r0001' already used on line 2"),
        ("id", "r0001\u3000", "record id 'r0001' already used on line 2"),  # the same id once stripped
    ],
)
def test_a_bad_row_is_named_by_file_line_and_field(tmp_path: Path, field: str, value: str, message: str) -> None:
    rows = csv_rows()
    rows[5][field] = value  # line 7: the header is line 1
    if field == "source":
        rows[5]["behaviour"] = "fraud"
    bad = tmp_path / "bad.csv"
    write_csv(bad, rows)
    code, out, err = invoke("population", str(ARTICLE), str(bad), "--at", "2025-06-01", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert f"bad.csv:7: {message}" in " ".join(err.split()) and f"(field '{field}')" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_a_spelling_only_file_mode_reads_still_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = csv_rows()
    rows[3]["at"] = rows[3]["at"][:10] + "T09:30"  # no seconds: Python reads it, the fast path's check does not
    odd = tmp_path / "odd.csv"
    write_csv(odd, rows)
    fast, rows_read = engine_rows(odd, monkeypatch)
    assert not fast
    assert rows_read == file_mode_rows(odd)


def test_the_population_command_reads_parquet(tmp_path: Path) -> None:
    parquet = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(csv_rows()), parquet)
    code, out, err = invoke("population", str(ARTICLE), str(parquet), "--at", "2025-06-01", "--out", str(tmp_path))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["records"] == 106 and summary["subjects"] == 33
    assert summary == json.loads((tmp_path / "summary.json").read_text())


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store holding the article ledger under two rulebook versions: arrears cost more from 2024-06."""
    url = f"sqlite:///{tmp_path / 'credo.db'}"
    assert invoke("init", "--store", url)[0] == 0
    assert invoke("rulebook", "publish", str(ARTICLE), "--effective", "2019-01-01", "--store", url)[0] == 0
    harsher = ARTICLE.read_text().replace('version: "2019.1"', 'version: "2024.1"')
    harsher = harsher.replace("bank_arrears: {points: -10,", "bank_arrears: {points: -40,")
    harsher = harsher.replace("late_utility_fees: {points: -20,", "late_utility_fees: {points: -25,")
    assert "bank_arrears: {points: -40," in harsher and "late_utility_fees: {points: -25," in harsher
    path = tmp_path / "harsher.yaml"
    path.write_text(harsher)
    code, _, err = invoke("rulebook", "publish", str(path), "--effective", "2024-06-01", "--retroactive",
                          "--store", url)  # fmt: skip
    assert code == 0, err
    assert invoke("ingest", str(LEDGER), "--store", url)[0] == 0
    return url


@pytest.mark.parametrize("at", ["2024-03-01", "2024-07-01", "2025-06-01", "2027-01-01"])
def test_store_mode_with_rulebook_versions_equals_the_reference(store: str, at: str) -> None:
    code, reference, err = invoke("score", "--at", at, "--json", "--store", store)
    assert code == 0, err
    code, engine, err = invoke("score", "--at", at, "--json", "--store", store, "--engine", "duckdb")
    assert code == 0, err
    assert engine == reference
    assert len(reference.splitlines()) == 33


def test_store_mode_sees_corrections_and_known_at(store: str, tmp_path: Path) -> None:
    code, _, err = invoke("correct", "court:r0039", "reverse", "--reason", "quashed", "--by", "court", "--store", store)
    assert code == 0, err
    for extra in ([], ["--known-at", "2020-01-01T00:00:00Z"]):
        args = ["score", "--at", "2025-06-01", "--json", "--store", store, *extra]
        reference, engine = invoke(*args), invoke(*args, "--engine", "duckdb")
        assert engine == reference
    code, out, err = invoke("population", "--at", "2025-06-01", "--out", str(tmp_path / "p"), "--store", store)
    assert code == 0, err
    assert json.loads(out)["lists"].get("dishonest_judgment_debtors") == 1  # one of the two was reversed


def test_frames_for_a_notebook() -> None:
    from credo.population import frames, start

    rulebook = load_rulebook(ARTICLE)
    at = parse_instant("2025-06-01", rulebook.tz)
    tables = frames(start(rulebook, LEDGER, at))
    assert list(tables["scores"].columns) == ["subject", "program", "score", "tier"]
    assert len(tables["scores"]) == 33
    assert set(tables["lists"]["list"]) >= {"dishonest_judgment_debtors"}
    flight = tables["measures"][tables["measures"]["measure"] == "flight_ban"]
    states = evaluate_all(rulebook, read_records(LEDGER, rulebook), at)
    banned = {subject for subject, state in states.items() if state.decide("buy_flight_ticket").decision == "deny"}
    assert set(flight["subject"]) == banned and banned


def test_a_subject_recorded_as_two_kinds_stops_the_run_as_in_the_reference(tmp_path: Path) -> None:
    rows = csv_rows()
    subject = rows[0]["subject"]
    rows[4].update(subject=subject, kind="organization", behaviour="tax_arrears", source="tax_bureau")
    mixed = tmp_path / "mixed.csv"
    write_csv(mixed, rows)
    rulebook = load_rulebook(ARTICLE)
    with pytest.raises(RecordError) as reference:
        evaluate_all(rulebook, read_records(mixed, rulebook), parse_instant("2025-06-01", rulebook.tz))
    code, out, err = invoke("population", str(ARTICLE), str(mixed), "--at", "2025-06-01", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert str(reference.value) in " ".join(err.split())
    assert not (tmp_path / "o").exists()


def test_too_little_memory_is_said_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    code, _, err = invoke("population", str(ARTICLE), str(LEDGER), "--at", "2025-06-01", "--out", str(out),
                          "--memory-limit", "1MB")  # fmt: skip
    assert code == 2 and "needs more memory than its limit" in " ".join(err.split())
    assert "Traceback" not in err and not out.exists()


def test_a_run_that_fails_midway_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from credo.population import run as population_run

    def broken(run: Any) -> Any:
        raise CredoError("measures failed")

    monkeypatch.setattr(population_run, "measures", broken)  # scores and lists are written first
    out = tmp_path / "o"
    code, _, err = invoke("population", str(ARTICLE), str(LEDGER), "--at", "2025-06-01", "--out", str(out))
    assert code == 2 and "measures failed" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_every_kind_of_whitespace_is_stripped_as_file_mode_strips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = csv_rows()
    rows[2]["subject"] = "\u3000" + rows[2]["subject"] + "\t"  # an ideographic space, a tab
    rows[3]["behaviour"] = "\xa0" + rows[3]["behaviour"]
    rows[4]["kind"] = " person\u2003"
    rows[5]["at"] = "\t" + rows[5]["at"]
    padded = tmp_path / "padded.parquet"
    pq.write_table(pa.Table.from_pylist(rows), padded)
    _, rows_read = engine_rows(padded, monkeypatch)  # the subject's edges send it to file mode's reader
    assert [(s, k, b, at.timestamp()) for s, k, b, at in rows_read] == [
        (s, k, b, at.timestamp()) for s, k, b, at in file_mode_rows(padded)
    ]


@pytest.mark.parametrize(("field", "message"), [("kind", "unknown subject kind ''"), ("source", "missing source")])
def test_an_optional_field_of_spaces_alone_is_refused_as_in_file_mode(tmp_path: Path, field: str, message: str) -> None:
    rows = csv_rows()
    rows[5][field] = " \t "
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows), bad)
    code, out, err = invoke("population", str(ARTICLE), str(bad), "--at", "2025-06-01", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert f"bad.parquet:6: {message}" in " ".join(err.split()) and f"(field '{field}')" in err  # row 6, no header


@pytest.mark.parametrize("command", ["population", "simulate"])
def test_a_memory_limit_that_is_not_a_size_is_refused_before_anything_is_written(tmp_path: Path, command: str) -> None:
    out = tmp_path / "o"
    given = [str(ARTICLE), str(LEDGER), "--at", "2025-06-01"] if command == "population" else [
        str(SCENARIOS / "article"), "--population", "100", "--years", "1"]  # fmt: skip
    code, out_text, err = invoke(command, *given, "--out", str(out), "--memory-limit", "lots")
    assert code == 2 and out_text == ""
    assert "--memory-limit" in err and "expected a size such as 4GB" in " ".join(err.split())
    assert not out.exists()


def test_a_file_is_read_as_written_when_it_can_be_and_stripped_in_sql_when_it_is_padded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credo.population import source

    rulebook = load_rulebook(ARTICLE)
    rows = csv_rows()
    plain, padded = tmp_path / "plain.parquet", tmp_path / "padded.parquet"
    pq.write_table(pa.Table.from_pylist(rows), plain)
    for index, field in enumerate(("subject", "behaviour", "kind", "source", "id")):
        rows[index + 2][field] = f"  {rows[index + 2][field]} "  # spaces, which SQL's trim strips
    pq.write_table(pa.Table.from_pylist(rows), padded)
    taken: list[str] = []
    for name in ("_read_as_written", "_read_stripped", "_slow"):
        original = getattr(source, name)
        monkeypatch.setattr(source, name, lambda *a, name=name, original=original: taken.append(name) or original(*a))
    connection = connect(rulebook)
    ledger = source.read_ledger(connection, plain, rulebook)
    assert taken == ["_read_as_written"] and ledger.subjects is not None
    expected = {(r.subject, r.kind) for r in read_records(plain, rulebook)}
    assert {(row["subject"], row["kind"]) for row in connection.to_pyarrow(ledger.subjects).to_pylist()} == expected
    taken.clear()
    ledger = source.read_ledger(connection, padded, rulebook)
    assert taken == ["_read_stripped"] and ledger.subjects is None  # the distinct values say so first
    read = connection.to_pyarrow(ledger.records.order_by("pos")).to_pylist()
    assert [(row["subject"], row["kind"], row["behaviour"], row["at"].timestamp()) for row in read] == [
        (r.subject, r.kind, r.behaviour, r.at.timestamp()) for r in read_records(padded, rulebook)
    ]
    # A padded subject or id is found only once the records are read: the stripped path follows.
    rows = csv_rows()
    rows[1]["subject"] += " "
    pq.write_table(pa.Table.from_pylist(rows), padded)
    taken.clear()
    source.read_ledger(connection, padded, rulebook)
    assert taken == ["_read_as_written", "_read_stripped"]


_PADS = ["", "", "", " ", "\t", "\u3000", "  "]


@st.composite
def messy_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """Rows of the article ledger, some padded with spaces or other whitespace, some emptied,
    misspelt or repeated: what a hand-made file holds."""
    rows = csv_rows()[: draw(st.integers(1, 12))]
    fields = st.sampled_from(["subject", "kind", "behaviour", "at", "source", "id"])
    for row in rows:
        for field in draw(st.lists(fields, max_size=2)) if draw(st.integers(0, 3)) == 0 else []:
            change = draw(st.sampled_from(["pad", "pad", "empty", "odd", "repeat"]))
            if change == "pad":
                row[field] = draw(st.sampled_from(_PADS)) + row[field] + draw(st.sampled_from(_PADS))
            elif change == "empty":
                row[field] = draw(st.sampled_from(["", " "]))
            elif change == "odd":
                odd = {"kind": "robot", "behaviour": "jaywalking", "at": "2024-13-01", "source": "bank"}
                row[field] = odd.get(field, "line-3")
            else:
                row[field] = rows[0][field]
    for absent in draw(st.lists(st.sampled_from(["kind", "source", "id"]), max_size=1)):
        for row in rows:
            del row[absent]  # an optional column the file does not have
    return rows


@settings(max_examples=int(os.environ.get("CREDO_POPULATION_EXAMPLES", "60")), deadline=None)
@given(messy_rows(), st.sampled_from([".csv", ".jsonl", ".parquet"]))
def test_duckdb_reads_any_file_as_file_mode_does_or_refuses_it_alike(rows: list[dict[str, str]], suffix: str) -> None:
    import tempfile

    rulebook = load_rulebook(ARTICLE)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"messy{suffix}"
        if suffix == ".csv":
            write_csv(path, rows)
        elif suffix == ".jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        else:
            pq.write_table(pa.Table.from_pylist(rows), path)
        try:
            expected: Any = [(r.subject, r.kind, r.behaviour, r.at.timestamp()) for r in read_records(path, rulebook)]
        except RecordError as error:
            expected = str(error)
        connection = connect(rulebook)
        try:
            table = ledger_table(connection, path, rulebook)
            read = connection.to_pyarrow(table.order_by("pos")).to_pylist()
            found: Any = [(row["subject"], row["kind"], row["behaviour"], row["at"].timestamp()) for row in read]
        except RecordError as error:
            found = str(error)
    assert found == expected


def test_a_folder_is_refused_by_duckdb_with_a_pointer_to_spark(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(csv_rows()), folder / "part-0.parquet")
    code, out, err = invoke("population", str(ARTICLE), str(folder), "--at", "2025-06-01", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert "DuckDB reads one file (Spark reads a folder of Parquet parts)" in " ".join(err.split())
    assert not (tmp_path / "o").exists()
