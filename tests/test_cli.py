"""Every command of the file-mode CLI, and its error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import credo
from credo.cli import app
from tests.conftest import SCENARIOS

runner = CliRunner()
ARTICLE = str(SCENARIOS / "article" / "rulebook.yaml")
LEDGER = str(SCENARIOS / "article" / "example-ledger.csv")
DOGS = str(SCENARIOS / "jinan-dogs" / "rulebook.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help() -> None:
    for command in ("lint", "score", "explain", "check", "test", "schema", "report"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Usage" in out


def test_lint_prints_warnings_and_exits_zero() -> None:
    code, out, _ = run("lint", ARTICLE)
    assert code == 0
    assert "warning" in out and "EU AI Act" in out


def test_lint_json_and_errors_exit_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rulebook: x\nversion: '1'\nbehaviours:\n  post: {category: expression}\n")
    code, out, _ = run("lint", str(bad), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["errors"][0]["code"] == "protected-category"
    assert report["errors"][0]["line"] == 4


def test_schema_is_json() -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["title"] == "credo rulebook"


def test_score_json_one_line_per_subject() -> None:
    code, out, _ = run("score", ARTICLE, LEDGER, "--at", "2025-06-01", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 33
    by_subject = {line["subject"]: line for line in lines}
    assert by_subject["p-zhang-wei"]["lists"] == ["dishonest_judgment_debtors"]
    assert by_subject["p-zhao-lei"]["programs"] == {"citizen": {"score": 580, "tier": "D"}}
    assert set(by_subject["p-zhang-wei"]) == {"subject", "at", "programs", "lists"}


def test_score_one_subject_and_a_table() -> None:
    code, out, _ = run("score", ARTICLE, LEDGER, "--at", "2025-06-01", "--subject", "p-sun-min", "--json")
    assert code == 0 and json.loads(out)["programs"]["citizen"]["score"] == 965
    code, out, _ = run("score", ARTICLE, LEDGER, "--at", "2025-06-01")
    assert code == 0 and "p-sun-min" in out and "965" in out


def test_check_json_shape() -> None:
    args = ("check", ARTICLE, LEDGER, "--subject", "p-zhang-wei", "--action", "buy_flight_ticket", "--at", "2025-06-01")
    code, out, _ = run(*args, "--json")
    assert code == 0
    decision = json.loads(out)
    assert decision["decision"] == "deny"
    (measure,) = decision["measures"]
    assert set(measure) == {"measure", "effect", "detail", "basis", "reasons"}
    assert measure["reasons"][0]["list"] == "dishonest_judgment_debtors"
    code, out, _ = run(*args)
    assert code == 0 and "DENY" in out


def test_explain_json_and_table() -> None:
    args = ("explain", ARTICLE, LEDGER, "--subject", "p-sun-min", "--at", "2025-06-01")
    code, out, _ = run(*args, "--json")
    facts = json.loads(out)
    assert code == 0
    assert [entry["effective"] for entry in facts["programs"][0]["records"]] == [-5, -10, -20]
    code, out, _ = run(*args)
    assert code == 0 and "next change" in out


def test_test_command_passes_on_the_scenarios() -> None:
    code, out, _ = run("test", str(SCENARIOS))
    assert code == 0 and "0 failed" in out


def test_test_command_reports_a_failing_case(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "rulebook.yaml").write_text(Path(DOGS).read_text())
    (tmp_path / "tests" / "wrong.yaml").write_text(
        "cases:\n  - name: wrong\n    at: 2024-02-01\n    records:\n"
        "      - {subject: w, behaviour: dog_licence_issued, at: 2024-01-01}\n"
        "    expect:\n      w:\n        scores: {dog_licence: 11}\n"
    )
    code, _, err = run("test", str(tmp_path))
    assert code == 1
    assert "wrong.yaml:8" in err and "expected 11, got 12" in err


@pytest.mark.parametrize(
    ("row", "line", "field"),
    [
        ("w,dog_walking,2024-01-01", 3, "behaviour"),
        ("w,dog_unleashed,yesterday", 3, "at"),
        (",dog_unleashed,2024-01-01", 3, "subject"),
    ],
)
def test_a_bad_row_stops_the_command_and_names_the_place(tmp_path: Path, row: str, line: int, field: str) -> None:
    ledger = tmp_path / "records.csv"
    ledger.write_text(f"subject,behaviour,at\nw,dog_licence_issued,2024-01-01\n{row}\n")
    code, out, err = run("score", DOGS, str(ledger), "--at", "2024-06-01", "--json")
    assert code == 2
    assert out == ""
    assert f"{ledger}:{line}" in err and f"field '{field}'" in err


def test_unknown_subject_kind_in_json_lines(tmp_path: Path) -> None:
    ledger = tmp_path / "records.jsonl"
    ledger.write_text('{"subject": "w", "behaviour": "dog_unleashed", "at": "2024-01-01", "kind": "robot"}\n')
    code, _, err = run("score", DOGS, str(ledger), "--at", "2024-06-01")
    assert code == 2 and "records.jsonl:1" in err and "field 'kind'" in err


def test_bad_instant_and_unknown_action() -> None:
    code, _, err = run("score", DOGS, LEDGER, "--at", "soon")
    assert code == 2 and "--at" in err
    code, _, err = run("check", ARTICLE, LEDGER, "--subject", "x", "--action", "fly", "--at", "2025-01-01")
    assert code == 2 and "unknown action 'fly'" in err


def test_missing_files() -> None:
    code, _, err = run("score", "nope.yaml", LEDGER, "--at", "2025-01-01")
    assert code == 2 and "nope.yaml" in err
    code, _, err = run("score", ARTICLE, "nope.csv", "--at", "2025-01-01")
    assert code == 2 and "nope.csv" in err


def test_report_shows_decisions_and_the_rights_impact_report() -> None:
    code, out, _ = run("report", ARTICLE, LEDGER, "--at", "2025-06-01")
    assert code == 0
    assert "flight_ban" in out and "Rights impact report" in out and "EU AI Act" in out
    assert "p-zhang-wei" in out and "DENY" in out


def test_public_api_is_pinned() -> None:
    assert sorted(credo.__all__) == sorted(
        [
            "CredoError", "Decision", "InstantError", "Record", "RecordError", "Rulebook", "RulebookError",
            "SubjectState", "__version__", "evaluate", "evaluate_all", "explain", "lint", "lint_file",
            "load_rulebook", "loads_rulebook", "parse_instant", "read_records",
        ]
    )  # fmt: skip


def test_store_mode_columns_are_accepted_in_file_mode_and_typos_are_not(tmp_path: Path) -> None:
    ledger = tmp_path / "records.csv"
    ledger.write_text(
        "subject,behaviour,at,source,id,evidence,confidence\nw,dog_licence_issued,2024-01-01,police,1,x,\n"
    )
    assert run("score", DOGS, str(ledger), "--at", "2024-06-01", "--json")[0] == 0
    ledger.write_text("subject,behaviour,at,sauce\nw,dog_licence_issued,2024-01-01,police\n")
    code, _, err = run("score", DOGS, str(ledger), "--at", "2024-06-01", "--json")
    assert code == 2 and "unknown column 'sauce'" in err
