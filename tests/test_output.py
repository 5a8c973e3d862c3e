"""What people read (issue 14): tables that survive a pipe, sentences instead of internals, and
answers that say when the subject is unknown."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from credo import render, words
from credo.cli import app
from credo.ledger.book import Ledger
from credo.rules import load_rulebook
from credo.rules.model import Rulebook
from credo.semantics import evaluate, explain
from credo.service import create_app, create_key
from tests.conftest import ROOT, SCENARIOS, make_rulebook
from tests.stores import initialised, sqlite_url

ARTICLE = str(SCENARIOS / "article" / "rulebook.yaml")
LEDGER = str(SCENARIOS / "article" / "example-ledger.csv")
AT = ("--at", "2025-06-01")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a shell runs it with stdout into a pipe, on an 80-column terminal."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": os.pathsep.join(sys.path)}  # the credo under test
    env.pop("FORCE_COLOR", None)
    command = [sys.executable, "-c", "from credo.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def article() -> Rulebook:
    return load_rulebook(Path(ARTICLE))


# 14.1: nothing printed as data is cut.


def test_a_piped_score_table_holds_whole_values() -> None:
    result = piped("score", ARTICLE, LEDGER, *AT)
    assert result.returncode == 0, result.stderr
    found = [line for line in result.stdout.splitlines() if "seriously_dishonest_enterprises" in line]
    assert len(found) == 1  # `| grep -c seriously_dishonest_enterprises` counts the enterprise
    assert found[0].split("\t") == ["o-jinxin-trading", "business", "30", "D", "seriously_dishonest_enterprises"]
    assert "…" not in result.stdout
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["subject", "program", "score", "tier", "lists"]
    assert all(len(row.split("\t")) == 5 and row.split("\t")[0] for row in rows)  # each line names its subject


def test_a_piped_explanation_holds_whole_values() -> None:
    result = piped("explain", ARTICLE, LEDGER, "--subject", "p-sun-min", *AT)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    rows = [line.split("\t") for line in result.stdout.splitlines() if line.startswith("r0")]
    assert rows[0][:3] == ["r0060", "dangerous_driving", "2025-01-03T00:00:00+08:00"]
    assert rows[0][6] == "2027-01-03T00:00:00+08:00"


def test_report_through_a_runner_is_whole() -> None:
    code, out, _ = cli("report", ARTICLE, LEDGER, *AT)
    assert code == 0 and "…" not in out
    assert "o-jinxin-trading\tbusiness\t30\tD\tseriously_dishonest_enterprises" in out


def test_a_terminal_table_at_80_columns_folds_rather_than_cuts() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80, color_system=None)
    state = evaluate(article(), _records(), "p-sun-min", dt.datetime.fromisoformat("2025-06-01T00:00:00+08:00"))
    render.explanation(console, explain(state), state.rulebook)
    render.scores(console, [{"subject": "o-jinxin-trading", "at": "x", "programs": {}, "lists": ["a" * 120]}])
    text = screen.getvalue()
    assert "…" not in text
    # Folded, not cut: each piece of a long value is on its own line of the cell.
    assert "dangerous_" in text and "driving" in text and "2027-01-03" in text and "T00:00:00+" in text
    assert sum(line.count("a") for line in text.splitlines() if "│" in line) >= 120


def _records() -> list:  # type: ignore[type-arg]
    from credo.ledger.files import read_records

    return read_records(Path(LEDGER), article())


# 14.2: sentences from one place, never internals.


def test_report_reads_in_sentences() -> None:
    code, out, _ = cli("report", ARTICLE, LEDGER, *AT)
    assert code == 0
    assert "{'" not in out and "tier_at_most" not in out  # no Python dict, no rulebook key
    assert "because the business grade is C or lower: the business score is 52, grade C" in out
    assert "no set end" not in out and "not by time alone" not in out
    # a limit is never shown under a bare ALLOW
    assert "apply_for_business_credit at 2025-06-01: ALLOW WITH A LIMIT" in out
    assert "limited: credit lines reduced and loans reviewed with restrictions (business_credit_restriction)" in out
    tiers = [line.split("\t")[1] for line in out.splitlines() if line.startswith("citizen\t")]
    assert tiers == ["AAA", "A", "B", "D"]  # by their bounds, the best first; not A, AAA, B, D


def test_conditions_read_as_sentences() -> None:
    book = make_rulebook(
        programs={
            "business_credit": {"tiers": {"D": 0, "C": 40, "B": 60, "A": 90}},
            "licence": {"higher_is": "worse", "tiers": {"clear": 0, "warning": 6, "withdrawn": 12}},
        },
        lists={"debtors": {"kind": "black", "enter_when": {"program": "business_credit", "score_below": 10}}},
    )

    def said(document: dict) -> str:  # type: ignore[type-arg]
        from pydantic import TypeAdapter

        from credo.rules.model import Condition

        return words.condition(TypeAdapter(Condition).validate_python(document), book)

    assert said({"program": "business_credit", "tier_at_most": "C"}) == "the business credit grade is C or lower"
    assert said({"program": "business_credit", "tier_in": ["C", "A", "D"]}) == (
        "the business credit grade is one of A, C or D"
    )
    assert (
        said({"program": "licence", "tier_in": ["withdrawn", "clear"]})
        == "the licence grade is one of clear or withdrawn"
    )
    assert said({"program": "licence", "score_at_least": 12}) == "the licence score is 12 or more"
    assert said({"not": {"list": "debtors"}}) == "the subject is not on the black list debtors"
    assert (
        said({"any": [{"list": "debtors"}, {"program": "business_credit", "score_below": 5}]})
        == "either the subject is on the black list debtors or the business credit score is below 5"
    )
    assert said({"not": {"all": [{"list": "debtors"}, {"program": "licence", "score_at_most": 3}]}}) == (
        "either the subject is not on the black list debtors or the licence score is not 3 or less"
    )


def test_stays_say_when_no_end_is_set() -> None:
    open_ended = {"list": "x", "kind": "red", "since": None, "opened_by": [], "until": None}
    assert words.stay(open_ended).endswith("; no end is set")
    dated = {"list": "x", "kind": "black", "since": "2024-09-10T00:00:00+08:00", "opened_by": ["r1"],
             "until": "2026-09-10T09:30:00+08:00"}  # fmt: skip
    assert words.stay(dated) == (
        "on the black list x since 2024-09-10 (put there by record r1); "
        "it ends on 2026-09-10T09:30:00+08:00 at the latest"
    )


def test_a_list_held_by_its_condition_says_so() -> None:
    code, out, _ = cli("check", ARTICLE, LEDGER, "--subject", "o-taishan-tea", "--action", "bid_for_procurement", *AT)
    assert code == 0
    assert "it lasts while the business grade is A" in out and "no set end" not in out


# 14.3: the subject that is not there.


def test_check_on_an_unknown_subject_says_so() -> None:
    code, out, err = cli("check", ARTICLE, LEDGER, "--subject", "p-zhang-we", "--action", "buy_flight_ticket", *AT,
                         "--json")  # fmt: skip
    assert code == 0
    answer = json.loads(out)
    assert answer["decision"] == "allow" and answer["known"] is False
    assert "no records about p-zhang-we" in err and "check the spelling" in err
    code, out, err = cli("check", ARTICLE, LEDGER, "--subject", "p-zhang-wei", "--action", "buy_flight_ticket", *AT,
                         "--json")  # fmt: skip
    assert json.loads(out)["known"] is True and "no records" not in err


def test_score_and_explain_on_an_unknown_subject_say_so() -> None:
    for engine in ("reference", "duckdb"):
        code, out, err = cli("score", ARTICLE, LEDGER, "--subject", "p-zhang-we", *AT, "--json", "--engine", engine)
        assert code == 0 and json.loads(out)["known"] is False and "no records about p-zhang-we" in err
        code, out, err = cli("score", ARTICLE, LEDGER, "--subject", "p-zhang-wei", *AT, "--json", "--engine", engine)
        assert json.loads(out)["known"] is True and not err
    code, out, err = cli("explain", ARTICLE, LEDGER, "--subject", "p-zhang-we", *AT, "--json")
    assert code == 0 and json.loads(out)["known"] is False and "no records about p-zhang-we" in err
    code, out, err = cli("explain", ARTICLE, LEDGER, "--subject", "p-zhang-wei", *AT, "--json")
    assert json.loads(out)["known"] is True and not err
    code, out, err = cli("check", ARTICLE, LEDGER, "--subject", "p-zhang-we", "--action", "buy_flight_ticket", *AT)
    assert code == 0 and "ALLOW" in out and "no records about p-zhang-we" in err


def test_the_provider_learns_the_subject_is_unknown(tmp_path: Path) -> None:
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    store = initialised(sqlite_url(tmp_path))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(Path(ARTICLE), "2019-01-01")
    Ledger(store, lambda: now).ingest(Path(LEDGER))
    key = create_key(store, "provider", now, actions=("buy_flight_ticket",))
    auditor = create_key(store, "auditor", now)
    client = TestClient(create_app(store, lambda: now), raise_server_exceptions=False)
    for subject, known in (("p-zhang-we", False), ("p-zhang-wei", True)):
        for body in ({"subject": subject, "action": "buy_flight_ticket"},
                     {"subject": subject, "action": "buy_flight_ticket", "at": "2025-05-01"}):  # fmt: skip
            answer = client.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {key}"}).json()
            assert answer["known"] is known, (body, answer)
            logged = client.get(
                f"/v1/decisions/{answer['decision_id']}", headers={"Authorization": f"Bearer {auditor}"}
            )
            assert logged.json()["known"] is known
    store.close()


def test_reasons_keep_their_json_keys_in_order() -> None:
    """Reasons are typed now; their JSON is what it was, with `known` the only key added."""
    code, out, _ = cli("check", ARTICLE, LEDGER, "--subject", "o-mingde-builders", "--action", "bid_for_procurement",
                       *AT, "--json")  # fmt: skip
    answer = json.loads(out)
    assert code == 0
    assert list(answer) == ["subject", "action", "at", "decision", "measures", "key_factors", "known"]
    listed = answer["measures"][0]["reasons"][0]
    assert list(listed) == ["condition", "negated", "list", "kind", "since", "opened_by", "until"]
    code, out, _ = cli("check", ARTICLE, LEDGER, "--subject", "o-004", "--action", "apply_for_business_credit", *AT,
                       "--json")  # fmt: skip
    assert code == 0
    (reason,) = json.loads(out)["measures"][0]["reasons"]
    assert list(reason) == ["condition", "negated", "program", "enrolled", "score", "tier", "records"]
    assert reason["condition"] == {"program": "business", "tier_at_most": "C"}
    assert list(reason["records"][0]) == ["record", "behaviour", "at", "points", "until"]
