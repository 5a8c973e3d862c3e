"""Hostile and mistaken rulebooks (issue 16 item 4, part of item 5; issue 14 item 4): refused fast, in one
message that names the place and says what to do; and the CLI's other wrong inputs, one line each."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ruamel.yaml import YAML
from typer.testing import CliRunner

from credo.cli import app
from credo.errors import RulebookError
from credo.ledger.book import Ledger
from credo.rules import lint_file, loads_rulebook
from credo.rules.loader import read_yaml
from credo.service import create_app, create_key
from tests.conftest import SCENARIOS
from tests.stores import initialised, sqlite_url

runner = CliRunner()
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
LEDGER = str(SCENARIOS / "article" / "example-ledger.csv")

# Nine levels of nine aliases: 9^9 = 387 million strings once expanded.
BOMB = "lol: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"l{level}: &{chr(98 + level)} [{','.join([f'*{chr(97 + level)}'] * 9)}]\n" for level in range(8)
)

BASE = """\
rulebook: t
version: "1"
behaviours:
  speeding: {category: traffic, sources: [police]}
programs:
  licence:
    start: 0
    floor: 0
    tiers: {ok: 0}
    points:
      speeding: {points: -3, expires_after: P3Y}
"""


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str | bytes, name: str = "rulebook.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def one_error_line(err: str) -> str:
    """The single `credo: error:` line of a failed command (and no traceback, no box)."""
    assert "Traceback" not in err and "╭" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("credo: error: "), err
    return lines[0]


# Decompression bombs (issue 16 item 4).


def test_a_billion_laughs_is_refused_in_milliseconds() -> None:
    assert len(BOMB.encode()) < 400
    started = time.perf_counter()
    with pytest.raises(RulebookError) as caught:
        loads_rulebook(BOMB, "bomb.yaml")
    assert time.perf_counter() - started < 0.5
    message = str(caught.value)
    assert message.startswith("bomb.yaml:1:6: ") and "aliases (*name) are not allowed" in message


def test_the_cli_refuses_the_bomb_with_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    started = time.perf_counter()
    code, _, err = run("lint", str(path), "--json")
    assert time.perf_counter() - started < 5
    assert code == 1 and "Traceback" not in err
    # lint --json: the place of the problem as data
    code, out, _ = run("lint", str(path), "--json")
    (finding,) = json.loads(out)["errors"]
    assert (finding["line"], finding["column"]) == (1, 6) and "aliases" in finding["message"]


def test_the_publish_route_refuses_the_bomb(tmp_path: Path) -> None:
    store = initialised(sqlite_url(tmp_path))
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    Ledger(store, lambda: now).publish(ARTICLE, "2019-01-01")
    admin = create_key(store, "admin", now)
    client = TestClient(create_app(store, lambda: now), raise_server_exceptions=False)
    started = time.perf_counter()
    answer = client.post(
        "/v1/rulebook/versions", json={"text": BOMB, "effective": "2026-01-01"},
        headers={"Authorization": f"Bearer {admin}"},
    )  # fmt: skip
    assert time.perf_counter() - started < 2
    assert answer.status_code == 422 and "aliases" in json.dumps(answer.json())
    store.close()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BASE + "appeals: &x {while_pending: count}\n", "anchors (&name)"),
        (BASE.replace("tiers: {ok: 0}", "tiers: !!python/object:os.system {ok: 0}"), "tags such as"),
        (BASE.replace("floor: 0", "floor: !custom 0"), "tags such as"),
        (BASE + "---\nrulebook: other\n", "one YAML document"),
        ("rulebook: " + "[" * 200 + "]" * 200 + "\n", "nested more than"),
        (BASE.replace("start: 0", "start: 0\n    <<: *base"), "aliases"),
    ],
)
def test_what_a_rulebook_never_needs_is_refused_where_it_stands(text: str, words: str) -> None:
    with pytest.raises(RulebookError) as caught:
        loads_rulebook(text, "r.yaml")
    assert words in str(caught.value)
    assert str(caught.value).startswith("r.yaml:")


def test_rulebooks_have_a_size_limit(tmp_path: Path) -> None:
    from credo.rules.loader import MAX_RULEBOOK_BYTES

    big = BASE + "description: " + "x" * MAX_RULEBOOK_BYTES + "\n"
    with pytest.raises(RulebookError, match="larger than 5 MiB"):
        loads_rulebook(big)
    code, _, err = run("lint", str(write(tmp_path, big)))
    assert code == 2 and "larger than 5 MiB" in one_error_line(err)


def test_the_benchmark_rulebook_is_valid_and_lints_clean(tmp_path: Path) -> None:
    from bench.lint import generate

    text = generate(50_000)
    assert 50_000 <= len(text) < 60_000
    _, report = lint_file(write(tmp_path, text))
    assert report.ok


def test_scalars_are_read_as_yaml_1_2_reads_them() -> None:
    values = ["1", "1_000", "0o17", "017", "0x1F", "1.5", "1e3", "-.inf", "true", "yes", "no", "on", "null", "~",
              "2024-01-01", "2024-01-01T10:00:00+08:00", "P2Y", "'3'", '"true"', "+1", "1:20"]  # fmt: skip
    text = "".join(f"k{index}: {value}\n" for index, value in enumerate(values))
    ours, _ = read_yaml(text, "f")
    theirs = YAML(typ="rt").load(text)
    for key, value in theirs.items():
        assert ours[key] == value and type(ours[key]).__name__ in {type(value).__name__, "datetime", "int", "float"}


# Binary files (issue 16 item 5).


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 8, "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), "not UTF-8 text"),
        ("rulebook: t\n".encode("utf-16"), "UTF-16"),
        (b"rulebook: t\x00\x00\n", "U+0000 is not allowed"),
        (b"- a\n- b\n", "not a rulebook: expected a YAML mapping"),
        (b"", "found an empty document"),
    ],
)
def test_a_file_that_is_no_rulebook_is_bad_input(tmp_path: Path, content: bytes, words: str) -> None:
    path = write(tmp_path, content)
    for args in (["lint", str(path)], ["score", str(path), LEDGER, "--at", "2025-01-01"]):
        code, _, err = run(*args)
        line = one_error_line(err)
        assert code == 2 and str(path) in line and words in line


def test_a_missing_rulebook_exits_alike_in_lint_and_score() -> None:
    lint_code, _, lint_err = run("lint", "missing.yaml")
    score_code, _, score_err = run("score", "missing.yaml", LEDGER, "--at", "2025-01-01")
    assert lint_code == score_code == 2
    assert "missing.yaml" in one_error_line(lint_err) and "missing.yaml" in one_error_line(score_err)


# Messages that say what to do (issue 14 item 4).


def test_a_tab_names_line_column_the_line_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("    floor: 0", "\tfloor: 0"))
    code, out, err = run("lint", str(path))
    assert code == 1
    assert f"{path}:8:1: tabs are not allowed for indentation in YAML: indent with spaces" in err
    assert "    8 | →floor: 0" in err
    code, out, _ = run("lint", str(path), "--json")
    (finding,) = json.loads(out)["errors"]
    assert (finding["line"], finding["column"]) == (8, 1)


def test_a_list_where_a_key_was_expected_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("    tiers: {ok: 0}\n", "    tiers: {ok: 0}\n     [a, b]\n"))
    code, _, err = run("lint", str(path))
    assert code == 1
    assert f"{path}:10:6: this line does not fit the indentation above it" in err
    assert "   10 |      [a, b]" in err  # the line as written, brackets and all
    assert "(YAML parser: " in err


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [
        ("description: x", "description: a: b", "quote the value"),
        ("description: x", 'description: "open', "a quote is opened here but never closed"),
        ("description: x", "description: [a, b", "a list opened with '[' is not closed"),
        ("description: x", "description: @home", "cannot start a plain value"),
        ("description: x", "description: x\nrulebook: again", "duplicate key 'rulebook' (first at line 1)"),
    ],
)
def test_syntax_errors_get_a_plain_hint(old: str, new: str, hint: str) -> None:
    with pytest.raises(RulebookError) as caught:
        loads_rulebook((BASE + "description: x\n").replace(old, new), "r.yaml")
    assert hint in str(caught.value)


def test_an_unknown_key_names_the_allowed_keys_and_the_nearest_once(tmp_path: Path) -> None:
    text = BASE.replace(
        "speeding: {category: traffic, sources: [police]}",
        "speeding: {category: traffic}\n  parking: {category: traffic}\n  red_light: {category: traffic}",
    )
    text = text.replace("      speeding: {points: -3, expires_after: P3Y}\n", "".join(
        f"      {name}: {{points: -3, expire_after: P3Y}}\n" for name in ("speeding", "parking", "red_light")
    ))  # fmt: skip
    path = write(tmp_path, text)
    code, out, _ = run("lint", str(path), "--json")
    errors = json.loads(out)["errors"]
    assert code == 1 and len(errors) == 3
    assert [(error["line"], error["path"]) for error in errors] == [
        (13, "programs.licence.points.speeding.expire_after"),
        (14, "programs.licence.points.parking.expire_after"),
        (15, "programs.licence.points.red_light.expire_after"),
    ]
    assert all("did you mean 'expires_after'?" in error["message"] for error in errors)
    assert sum("allowed here: description, reference, points" in error["message"] for error in errors) == 1
    assert "(as at line 13)" in errors[2]["message"]


def test_a_value_that_fits_no_member_of_a_union_is_one_problem() -> None:
    for old, new, expected in [
        ("points: -3,", "points: {a: 1},", "Expected a number, or a list of numbers for escalation; got {'a': 1}"),
        ("points: -3,", "points: [-3, x],", "item 2 is 'x'"),
        ("start: 0", "start: x", "Expected a number; got 'x'"),
        ("start: 0", "start: .nan", "Expected a number between"),
    ]:
        with pytest.raises(RulebookError) as caught:
            loads_rulebook(BASE.replace(old, new), "r.yaml")
        assert len(caught.value.problems) == 1 and expected in caught.value.problems[0], caught.value.problems


def test_an_unknown_key_in_a_condition_finds_its_model() -> None:
    text = BASE + "lists:\n  l:\n    kind: black\n    enter_when: {program: licence, score_blow: 3}\n"
    with pytest.raises(RulebookError) as caught:
        loads_rulebook(text, "r.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("r.yaml:15 (lists.l.enter_when.score_blow): unknown key 'score_blow' in a program")
    assert "did you mean 'score_below'?" in problem


def test_usage_errors_are_one_line() -> None:
    code, _, err = run("score", ARTICLE.as_posix(), LEDGER, "--att", "2025-01-01")
    assert code == 2 and "No such option: --att" in one_error_line(err)
    code, _, err = run("score", ARTICLE.as_posix(), LEDGER)  # --at is needed in file mode (now in store mode)
    assert code == 2 and "--at is needed" in one_error_line(err)
    code, _, err = run("simulate", "x", "--out", "y", "--years", "99")
    assert code == 2 and "'--years'" in one_error_line(err)
    code, out, _ = run("score", "--help")
    assert code == 0 and "Usage" in out


def test_known_at_names_the_option(tmp_path: Path) -> None:
    code, _, err = run("score", "--at", "2025-01-01", "--known-at", "2025-13-01", "--store", sqlite_url(tmp_path))
    line = one_error_line(err)
    assert code == 2 and "'--known-at'" in line and "2025-13-01" in line


def test_a_semicolon_separated_csv_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "id;subject;behaviour;at\n1;a;fraud;2024-01-01\n", "records.csv")
    code, _, err = run("score", ARTICLE.as_posix(), str(path), "--at", "2025-01-01")
    assert code == 2 and "separated by semicolons" in one_error_line(err)


def test_serve_on_a_busy_port_says_so_before_announcing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    initialised(url).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("serve", "--store", url, "--port", str(port))
    assert code == 2 and "is in use" in one_error_line(err) and "serving" not in err
