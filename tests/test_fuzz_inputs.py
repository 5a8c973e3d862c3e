"""The fuzzer, part one (issue 16 item 10): hostile rulebooks and record files.

The rulebook loader answers a RulebookError or a rulebook, never another exception, and within a
time budget; the record readers (file mode's and store mode's) answer a RecordError / Rejection
or a record, never another exception, and what they accept has the types and limits the API's
record model has. Budgets: tests/strategies.py fuzz_settings (CREDO_FUZZ=long for a long run).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import example, given, note
from hypothesis import strategies as st

from credo.errors import RecordError, RulebookError
from credo.ledger import files
from credo.ledger.ingest import Rejection, RowChecker
from credo.ledger.model import Incoming
from credo.rules import load_rulebook, loads_rulebook
from credo.semantics.versions import RulebookHistory, Version
from tests.conftest import SCENARIOS
from tests.strategies import clean, fuzz_settings, hostile_csv, hostile_json_lines, hostile_rulebooks

ARTICLE_TEXT = (SCENARIOS / "article" / "rulebook.yaml").read_text()
ARTICLE = loads_rulebook(ARTICLE_TEXT)
HISTORY = RulebookHistory([Version(dt.datetime(2019, 1, 1, tzinfo=dt.UTC), ARTICLE, 1)])
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def timed(function: Any, *arguments: Any) -> float:
    started = time.monotonic()
    function(*arguments)
    return time.monotonic() - started


#: A hostile rulebook is no bigger than the article's (a bomb is a few hundred bytes), so it may
#: take at most five times as long to load or refuse as the article itself, measured here, on
#: this machine, under its present load (a busy machine slows both alike).
LOAD_BUDGET = max(0.5, 5 * min(timed(loads_rulebook, ARTICLE_TEXT) for _ in range(3)))
BILLION_LAUGHS_5 = "\n".join(
    ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    + [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 5)]
    + ["rulebook: *a4"]
)
EVIDENCE_LIMIT = 2000  # characters, as the API's record model


def load_or_refuse(text: str) -> None:
    try:
        loads_rulebook(text, "<fuzz>")
    except RulebookError as exc:
        assert exc.problems and all(isinstance(problem, str) and problem for problem in exc.problems)


@fuzz_settings(60)
@given(hostile_rulebooks(ARTICLE_TEXT))
@example(BILLION_LAUGHS_5)  # 9**5 leaves from 300 bytes (issue 16 item 4)
@example("rulebook: !!python/object/apply:os.system ['true']\nversion: '1'\n")
def test_rulebook_loader_refuses_or_accepts_in_time(text: str) -> None:
    note(f"rulebook text (first 300 characters): {text[:300]!r}")
    assert timed(load_or_refuse, text) < LOAD_BUDGET


@fuzz_settings(20)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(lambda b: b"\x00" + b, st.binary(max_size=50)),
        st.builds(lambda b: ARTICLE_TEXT.encode("utf-16"), st.none()),
    )
)
def test_a_binary_rulebook_file_is_a_rulebook_error(data: bytes) -> None:
    note(f"file bytes: {data[:100]!r}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rulebook.yaml"
        path.write_bytes(data)
        try:
            load_rulebook(path)
        except RulebookError as exc:
            assert str(path) in str(exc)


def accepted_as_typed(row: dict[str, Any], result: Incoming) -> None:
    """What a reader accepts is what the API's record model accepts: text fields are text, stored
    stripped and without control characters; evidence within the API's limit."""
    for name in ("subject", "behaviour", "source", "id"):
        assert isinstance(row[name], str), f"{name} {row[name]!r} is not text, yet the row was accepted"
    for value in (result.subject, result.behaviour, result.source, result.source_id):
        assert clean(value), f"{value!r} accepted as an identifier"
    assert result.evidence is None or len(result.evidence) <= EVIDENCE_LIMIT


def read_both_ways(path: Path) -> None:
    """File mode's reader and store mode's checker, each refusing or accepting, never raising else."""
    try:
        for record in files.read_records(path, ARTICLE):
            assert clean(record.subject) and clean(record.id), f"{record!r} accepted"
    except RecordError as exc:
        assert exc.file == str(path)
    check = RowChecker(HISTORY, NOW, str(path))
    try:
        for line, row in files.rows(path):
            result = check(row, line)
            if not isinstance(result, Rejection):
                accepted_as_typed(dict(row), result)
    except RecordError as exc:
        assert exc.file == str(path)


@fuzz_settings(80)
@given(hostile_csv())
def test_csv_records_are_refused_or_read(data: bytes) -> None:
    note(f"CSV bytes: {data[:600]!r}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        path.write_bytes(data)
        read_both_ways(path)


@fuzz_settings(80)
@given(hostile_json_lines())
def test_json_lines_records_are_refused_or_read(data: bytes) -> None:
    note(f"JSON Lines bytes: {data[:600]!r}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.jsonl"
        path.write_bytes(data)
        read_both_ways(path)


def test_a_csv_with_a_byte_order_mark_is_read() -> None:
    """Spreadsheets write a BOM (issue 16 item 7): the header is still the header."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        path.write_bytes("\ufeffsubject,behaviour,at,source,id\r\np-a,fraud,2024-03-01,court,b-1\r\n".encode())
        assert [record.id for record in files.read_records(path, ARTICLE)] == ["b-1"]
