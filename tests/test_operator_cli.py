"""An operator's command line (issue 14.5): version, completion, flags, keys, rulebook versions,
appeals, --fail-on-deny, --junit, report --json, --at by default now, the access log."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credo import __version__
from credo.cli import app
from credo.ledger.book import Ledger
from credo.rules import load_rulebook
from credo.rules.diff import FieldChange, RuleChange, diff
from credo.service import create_app, create_key
from credo.service.appeals import Appeals
from credo.storage import open_store
from tests.conftest import ROOT, SCENARIOS

runner = CliRunner()
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
LEDGER = SCENARIOS / "article" / "example-ledger.csv"
WIDE = {"COLUMNS": "200", "TERM": "dumb"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(arg) for arg in args], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'credo.db'}"
    assert run("init", "--store", url)[0] == 0
    assert run("rulebook", "publish", ARTICLE, "--effective", "2019-01-01", "--store", url)[0] == 0
    assert run("ingest", LEDGER, "--store", url)[0] == 0
    return url


def reformed(tmp_path: Path, version: str = "2026.1") -> Path:
    path = tmp_path / f"rulebook-{version}.yaml"
    text = ARTICLE.read_text().replace('version: "2019.1"', f'version: "{version}"')
    path.write_text(text.replace("fraud: {points: -50,", "fraud: {points: -80,"))
    return path


# --version, completion, flags


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"credo {__version__}"


def test_completion_installs_and_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The shell named rather than detected from the parent processes (a test run whose parent has
    # gone, as under nohup, has none to detect): typer's own switch, read when the command is built.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = runner.invoke(app, ["--install-completion", "bash"], env={"HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "_CREDO_COMPLETE" in (tmp_path / ".bash_completions" / "credo.sh").read_text()
    env = {**os.environ, "_CREDO_COMPLETE": "complete_bash", "COMP_WORDS": "credo rulebook d", "COMP_CWORD": "2",
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}  # fmt: skip
    script = Path(sys.executable).parent / "credo"  # completion keys on the program's name
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["diff"]


@pytest.mark.parametrize("command", [["check"], ["score"], ["ingest"], ["keys", "list"], ["appeals", "list"]])
def test_flags_are_shown_as_flags(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "--json" in out
    assert "<bool>" not in out


# keys


def test_keys_expire_and_are_revoked_by_a_new_entry(url: str) -> None:
    store = open_store(url)
    now = dt.datetime.now(dt.UTC)
    code, out, err = run("keys", "create", "--role", "reviewer", "--expires", "P90D", "--json", "--store", url)
    assert code == 0, err
    made = json.loads(out)
    assert dt.datetime.fromisoformat(made["expires"]).date() == (now + dt.timedelta(days=90)).date()
    assert run("keys", "create", "--role", "auditor", "--expires", "2020-01-01", "--store", url)[0] == 2
    code, _, err = run("keys", "create", "--role", "auditor", "--expires", "ninety days", "--store", url)
    assert code == 2 and "--expires" in err
    code, out, _ = run("keys", "list", "--json", "--store", url)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(row["role"], row["status"]) for row in listed] == [("reviewer", "active")]
    assert made["key"] not in out  # only the hash is kept, and only its start is shown
    key_id = listed[0]["id"]

    later = now + dt.timedelta(days=91)
    client = TestClient(create_app(store, lambda: now), raise_server_exceptions=False)
    bearer = {"Authorization": f"Bearer {made['key']}"}
    assert client.get("/v1/appeals", headers=bearer).status_code == 200
    expired = TestClient(create_app(store, lambda: later), raise_server_exceptions=False)
    answer = expired.get("/v1/appeals", headers=bearer)
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]

    code, out, err = run("keys", "revoke", key_id[:10], "--reason", "left the team", "--by", "ops", "--store", url)
    assert code == 0, err
    answer = TestClient(create_app(store, lambda: now), raise_server_exceptions=False).get(
        "/v1/appeals", headers=bearer
    )
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
    assert run("keys", "revoke", key_id, "--reason", "again", "--by", "ops", "--store", url)[0] == 2
    assert run("keys", "revoke", "abc", "--reason", "x", "--by", "ops", "--store", url)[0] == 2
    code, out, _ = run("keys", "list", "--json", "--store", url)
    assert json.loads(out)["status"] == "revoked"
    with store.engine.connect() as connection:  # the key's row stays as it was: revocation is appended
        rows = connection.exec_driver_sql("SELECT count(*) FROM api_keys").scalar_one()
        revocations = connection.exec_driver_sql("SELECT reason, actor FROM key_revocations").all()
    assert rows == 1 and [tuple(row) for row in revocations] == [("left the team", "ops")]
    store.close()


def test_a_running_service_sees_a_revocation_within_its_refresh(url: str) -> None:
    store = open_store(url)
    now = dt.datetime.now(dt.UTC)
    key = create_key(store, "reviewer", now)
    ticks = [0.0]
    client = TestClient(create_app(store, lambda: now, ticker=lambda: ticks[0]), raise_server_exceptions=False)
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/appeals", headers=bearer).status_code == 200
    key_id = json.loads(run("keys", "list", "--json", "--store", url)[1])["id"]
    assert run("keys", "revoke", key_id, "--reason", "lost", "--by", "ops", "--store", url)[0] == 0
    ticks[0] = 1.5
    assert client.get("/v1/appeals", headers=bearer).status_code == 401
    store.close()


def test_keys_create_refuses_what_the_rulebook_does_not_have(url: str) -> None:
    code, _, err = run("keys", "create", "--role", "agency", "--source", "courts", "--store", url)
    assert code == 2 and "'courts'" in err and "court" in err
    code, _, err = run("keys", "create", "--role", "provider", "--actions", "buy_flight_ticket,fly", "--store", url)
    assert code == 2 and "'fly'" in err and "buy_train_ticket" in err
    assert run("keys", "create", "--role", "agency", "--source", "court", "--store", url)[0] == 0
    assert run("keys", "create", "--role", "provider", "--actions", "buy_flight_ticket", "--store", url)[0] == 0


# rulebook versions


def test_publishing_the_same_text_again_is_a_no_op(url: str, tmp_path: Path) -> None:
    code, out, _ = run("rulebook", "publish", ARTICLE, "--effective", "2019-01-01", "--json", "--store", url)
    assert code == 0 and json.loads(out) == {"position": 1, "published": False}
    code, out, _ = run("rulebook", "publish", ARTICLE, "--effective", "2024-01-01", "--store", url)
    assert code == 0 and "already in force" in out and "nothing to publish" in out
    changed = tmp_path / "same-version.yaml"
    changed.write_text(ARTICLE.read_text().replace("fraud: {points: -50,", "fraud: {points: -80,"))
    code, _, err = run("rulebook", "publish", changed, "--effective", "2030-01-01", "--store", url)
    assert code == 2 and "already published" in err and "new `version`" in err
    code, out, _ = run("rulebook", "list", "--json", "--store", url)
    assert len(out.splitlines()) == 1


def test_the_api_refuses_a_different_text_under_the_same_version(url: str) -> None:
    store = open_store(url)
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    admin = {"Authorization": f"Bearer {create_key(store, 'admin', now)}"}
    client = TestClient(create_app(store, lambda: now), raise_server_exceptions=False)
    same = client.post("/v1/rulebook/versions", json={"text": ARTICLE.read_text(), "effective": "2019-01-01"},
                       headers=admin)  # fmt: skip
    assert same.status_code == 200 and same.json() == {"position": 1, "published": False}
    text = ARTICLE.read_text().replace("fraud: {points: -50,", "fraud: {points: -80,")
    other = client.post("/v1/rulebook/versions", json={"text": text, "effective": "2026-01-01"}, headers=admin)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    store.close()


def test_rulebook_list_show_and_diff(url: str, tmp_path: Path) -> None:
    later = reformed(tmp_path)
    assert run("rulebook", "publish", later, "--effective", "2030-01-01", "--store", url)[0] == 0
    code, out, _ = run("rulebook", "list", "--json", "--store", url)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["version"], row["in_force"]) for row in rows] == [("2019.1", True), ("2026.1", False)]
    code, out, _ = run("rulebook", "show", "2026.1", "--store", url)
    assert code == 0 and out == later.read_text()
    code, out, _ = run("rulebook", "show", "--store", url)
    assert out == ARTICLE.read_text()
    code, _, err = run("rulebook", "show", "1999.1", "--store", url)
    assert code == 2 and "2019.1, 2026.1" in err
    code, out, _ = run("rulebook", "diff", "2019.1", "2026.1", "--json", "--store", url)
    document = json.loads(out)
    assert document["changes"] == [{"part": "points", "name": "citizen.fraud", "change": "changed",
                                    "fields": [{"path": "points", "before": -50, "after": -80}]}]  # fmt: skip
    code, out, _ = run("rulebook", "diff", ARTICLE, later)  # files work too, without a store
    assert code == 0 and "points citizen.fraud changed: points -50 → -80" in out


def test_diff_names_what_was_added_removed_and_changed(tmp_path: Path) -> None:
    text = ARTICLE.read_text()
    a = load_rulebook(ARTICLE)
    path = tmp_path / "b.yaml"
    path.write_text(text.replace("lasts: P2Y", "lasts: P1Y", 1).replace('version: "2019.1"', 'version: "2"'))
    changes = diff(a, load_rulebook(path))
    assert len(changes) == 1 and changes[0].part == "list" and changes[0].kind == "changed"
    assert changes[0].fields == (FieldChange("lasts", "P2Y", "P1Y"),)
    b = a.model_copy(update={"measures": {k: v for k, v in a.measures.items() if k != "higher_education_ban"}})
    assert diff(a, b) == [RuleChange("measure", "higher_education_ban", "removed")]
    assert diff(b, a) == [RuleChange("measure", "higher_education_ban", "added")]
    assert diff(a, a) == []


# appeals


def test_a_reviewer_resolves_appeals_from_the_command_line(url: str) -> None:
    store = open_store(url)
    appeal = Appeals(store, Ledger(store), lambda: dt.datetime.now(dt.UTC)).file(
        "p-zhang-wei", "court:r0039", "the record is about someone else"
    )
    store.close()
    code, out, _ = run("appeals", "list", "--json", "--store", url)
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [appeal.id]
    code, out, _ = run("appeals", "show", appeal.id, "--store", url)
    assert code == 0 and "the record is about someone else" in out and "pending" in out
    code, _, err = run("appeals", "resolve", appeal.id, "erase", "--reason", "x", "--by", "y", "--store", url)
    assert code == 2 and "uphold or reverse" in err
    code, out, err = run("appeals", "resolve", appeal.id, "reverse", "--reason", "mistaken identity",
                         "--by", "reviewer-3", "--json", "--store", url)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "reverse" and json.loads(out)["resolution"]["by"] == "reviewer-3"
    code, _, err = run("appeals", "resolve", appeal.id, "uphold", "--reason", "x", "--by", "y", "--store", url)
    assert code == 2 and "already resolved" in err
    assert run("appeals", "list", "--json", "--store", url)[1] == ""
    assert len(run("appeals", "list", "--all", "--json", "--store", url)[1].splitlines()) == 1
    assert run("appeals", "show", "nope", "--store", url)[0] == 2


# check, test, report, --at


def test_check_fail_on_deny() -> None:
    files = (ARTICLE, LEDGER, "--action", "buy_flight_ticket", "--at", "2025-06-01")
    assert run("check", *files, "--subject", "p-zhang-wei", "--fail-on-deny")[0] == 1
    assert run("check", *files, "--subject", "p-zhang-wei")[0] == 0
    assert run("check", *files, "--subject", "p-sun-min", "--fail-on-deny")[0] == 0


def test_junit_xml_of_the_rulebook_tests(tmp_path: Path) -> None:
    out = tmp_path / "results.xml"
    code, _, err = run("test", SCENARIOS / "article", "--junit", out)
    assert code == 0, err
    suites = ET.parse(out).getroot()
    cases = suites.findall("./testsuite/testcase")
    assert suites.get("failures") == "0" and len(cases) == int(suites.get("tests") or 0) > 3
    scenario = tmp_path / "s"
    (scenario / "tests").mkdir(parents=True)
    (scenario / "rulebook.yaml").write_text(ARTICLE.read_text())
    case = (
        "cases:\n  - name: wrong on purpose\n    at: 2024-01-01\n    records: []\n    expect:\n      x: {lists: [no]}\n"
    )
    (scenario / "tests" / "t.yaml").write_text(case)
    code, _, _ = run("test", scenario, "--junit", out)
    failed = ET.parse(out).getroot().find("./testsuite/testcase/failure")
    assert code == 1 and failed is not None and "lists" in (failed.text or "")


def test_report_json() -> None:
    code, out, err = run("report", ARTICLE, LEDGER, "--at", "2025-06-01", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["subjects"] == len(document["scores"]) and document["records"] == 106
    denied = {(item["subject"], item["action"]) for item in document["decisions"] if item["decision"] == "deny"}
    assert ("p-zhang-wei", "buy_flight_ticket") in denied
    assert sum(document["tiers"]["citizen"].values()) > 0 and "lint" in document


def test_at_defaults_to_now_in_store_mode(url: str) -> None:
    before = dt.datetime.now(dt.UTC)
    code, out, err = run("score", "--subject", "p-zhang-wei", "--json", "--store", url)
    assert code == 0, err
    assert dt.datetime.fromisoformat(json.loads(out)["at"]) >= before - dt.timedelta(seconds=1)
    code, _, err = run("score", ARTICLE, LEDGER)
    assert code == 2 and "--at is needed" in err


# the access log


def test_the_service_writes_one_access_line_per_request_without_the_key(url: str) -> None:
    store = open_store(url)
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    key = create_key(store, "provider", now, actions=("buy_flight_ticket",))
    lines: list[str] = []
    client = TestClient(create_app(store, lambda: now, access_log=lines.append), raise_server_exceptions=False)
    body = {"subject": "p-zhang-wei", "action": "buy_flight_ticket"}
    assert client.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/healthz").status_code == 200
    logged = [json.loads(line) for line in lines]
    assert [(e["method"], e["path"], e["status"], e["role"]) for e in logged] == [
        ("POST", "/v1/decisions", 200, "provider"), ("GET", "/v1/me", 401, None), ("GET", "/healthz", 200, None)
    ]  # fmt: skip
    assert all(entry["duration_ms"] >= 0 and entry["time"] for entry in logged)
    assert key not in "".join(lines) and "nope" not in "".join(lines)
    store.close()
