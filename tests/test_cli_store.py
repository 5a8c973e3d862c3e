"""Store mode from the command line, as the README's walk-through runs it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credo.cli import app
from tests.conftest import SCENARIOS

runner = CliRunner()
ARTICLE = str(SCENARIOS / "article" / "rulebook.yaml")
LEDGER = str(SCENARIOS / "article" / "example-ledger.csv")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'credo.db'}"
    assert run("init", "--store", url)[0] == 0
    assert run("rulebook", "publish", ARTICLE, "--effective", "2019-01-01", "--store", url)[0] == 0
    return url


def test_the_walk_through(url: str, tmp_path: Path) -> None:
    code, out, _ = run("ingest", LEDGER, "--json", "--store", url)
    assert code == 0 and json.loads(out) == {
        "accepted": 106, "duplicates": 0, "rejected": 0, "first_position": 2, "last_position": 107,
    }  # fmt: skip
    code, out, _ = run("ingest", LEDGER, "--json", "--store", url)
    assert json.loads(out)["duplicates"] == 106 and json.loads(out)["accepted"] == 0

    code, from_store, _ = run("score", "--at", "2025-06-01", "--json", "--store", url)
    _, from_files, _ = run("score", ARTICLE, LEDGER, "--at", "2025-06-01", "--json")
    assert code == 0
    assert [json.loads(line)["programs"] for line in from_store.splitlines()] == [
        json.loads(line)["programs"] for line in from_files.splitlines()
    ]
    code, out, _ = run("check", "--subject", "p-zhang-wei", "--action", "buy_flight_ticket", "--at", "2025-06-01",
                       "--json", "--store", url)  # fmt: skip
    assert code == 0 and json.loads(out)["decision"] == "deny"
    code, out, _ = run("explain", "--subject", "p-sun-min", "--at", "2025-06-01", "--json", "--store", url)
    assert code == 0 and json.loads(out)["programs"][0]["score"] == 965

    code, out, _ = run("verify", "--store", url)
    assert code == 0 and "ledger 107" in out
    database = sqlite3.connect(tmp_path / "credo.db")
    database.execute("UPDATE records SET behaviour = 'charity_donation' WHERE position = 30")
    database.commit()
    code, _, err = run("verify", "--store", url)
    assert code == 1 and "entry 30 (record)" in err


def test_known_at_answers_as_credo_knew_things(url: str) -> None:
    run("ingest", LEDGER, "--store", url)
    code, _, err = run("score", "--at", "2025-06-01", "--known-at", "2000-01-01", "--json", "--store", url)
    assert code == 2 and "no rulebook version is in force" in err  # not even the rulebook was known then
    code, out, _ = run("score", "--at", "2025-06-01", "--known-at", "2100-01-01", "--json", "--store", url)
    assert code == 0 and len(out.splitlines()) == 33


def test_a_bad_file_is_refused_whole(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,behaviour,at,source,id\na,fraud,2024-01-01,court,1\nb,fraud,2024-13-01,court,2\n")
    code, _, err = run("ingest", str(bad), "--store", url)
    assert code == 2 and f"{bad}:3" in err and "field 'at'" in err and "nothing was written" in err
    code, out, _ = run("verify", "--store", url, "--json")
    assert json.loads(out)["entries"] == 1
    code, out, _ = run("ingest", str(bad), "--skip-invalid", "--json", "--store", url)
    assert json.loads(out)["accepted"] == 1 and json.loads(out)["rejected"] == 1
    assert "2024-13-01" in (tmp_path / "bad.csv.rejected.csv").read_text()


def test_corrections_from_the_command_line(url: str) -> None:
    run("ingest", LEDGER, "--store", url)
    code, out, _ = run("correct", "court:r0039", "reverse", "--reason", "judgment quashed", "--by", "court",
                       "--store", url)  # fmt: skip
    assert code == 0, out
    code, out, _ = run("score", "--at", "2025-06-01", "--subject", "p-zhang-wei", "--json", "--store", url)
    assert json.loads(out)["lists"] == []
    code, _, err = run("correct", "court:nope", "reverse", "--reason", "x", "--by", "y", "--store", url)
    assert code == 2 and "no record" in err
    code, _, err = run("correct", "2", "erase", "--reason", "x", "--by", "y", "--store", url)
    assert code == 2 and "unknown correction" in err


def test_a_later_version_in_the_past_needs_retroactive(url: str, tmp_path: Path) -> None:
    later = tmp_path / "later.yaml"
    later.write_text(Path(ARTICLE).read_text().replace('version: "2019.1"', 'version: "2020.1"'))
    code, _, err = run("rulebook", "publish", str(later), "--effective", "2020-01-01", "--store", url)
    assert code == 2 and "--retroactive" in err
    code, _, _ = run("rulebook", "publish", str(later), "--effective", "2020-01-01", "--retroactive", "--store", url)
    assert code == 0


def test_store_errors_are_clear(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    code, _, err = run("score", "--at", "2025-01-01", "--store", missing)
    assert code == 2 and "credo init" in err
    assert not (tmp_path / "none.db").exists()
    code, _, err = run("verify", "--store", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert code == 2 and "cannot use the store" in err
    code, _, err = run("verify", "--store", "mongodb://x")
    assert code == 2 and "unsupported store" in err
    code, _, err = run("score", ARTICLE, "--at", "2025-01-01")
    assert code == 2 and "both RULEBOOK and RECORDS" in err
    code, _, err = run("score", ARTICLE, LEDGER, "--at", "2025-01-01", "--known-at", "2025-01-01")
    assert code == 2 and "--known-at needs the store" in err


def test_an_invalid_rulebook_is_not_published(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "rulebook.yaml"
    bad.write_text(Path(ARTICLE).read_text().replace("category: lifestyle", "category: religion"))
    code, _, err = run("rulebook", "publish", str(bad), "--effective", "2030-01-01", "--store", url)
    assert code == 2 and "protected category" in err


def test_keys_replay_and_sweep(url: str) -> None:
    from fastapi.testclient import TestClient

    from credo.service import create_app
    from credo.storage import open_store

    run("ingest", LEDGER, "--store", url)
    code, _, err = run("keys", "create", "--role", "agency", "--store", url)
    assert code == 2 and "--source" in err
    code, _, err = run("keys", "create", "--role", "pope", "--store", url)
    assert code == 2 and "unknown role" in err
    code, out, _ = run(
        "keys", "create", "--role", "provider", "--actions", "buy_flight_ticket", "--json", "--store", url
    )
    key = json.loads(out)["key"]
    assert code == 0 and key.startswith("credo_provider_")
    client = TestClient(create_app(open_store(url)))
    question = {"subject": "p-zhao-lei", "action": "buy_flight_ticket", "at": "2025-06-01"}
    answer = client.post("/v1/decisions", json=question, headers={"Authorization": f"Bearer {key}"})
    assert answer.json()["decision"] == "deny"
    code, out, _ = run("replay", answer.json()["decision_id"], "--store", url)
    assert code == 0 and "replays the same: deny" in out
    code, _, err = run("replay", "feedface", "--store", url)
    assert code == 2 and "no decision" in err
    code, out, _ = run("sweep", "--json", "--store", url)
    assert code == 0 and json.loads(out)["since"] is None
