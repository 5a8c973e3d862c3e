"""The API's answer models (credo.service.answers) describe today's answers exactly: a use-case's
plain data, read into its model and written out again, is the same JSON, key for key and in the
same order (issue 12 item 1: declaring the models changed no answer)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from credo.ledger.book import Ledger
from credo.semantics import explain
from credo.service.answers import DecisionAnswer, Explanation, SubjectFile, Summary
from credo.service.views import whole_file
from credo.storage import SqlStore
from tests.ledger_contract import ARTICLE, EXAMPLE
from tests.stores import initialised, sqlite_url

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SUBJECTS = ("p-zhang-wei", "p-li-na", "o-004", "p-nobody")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqlStore:
    store = initialised(sqlite_url(Path(tmp_path_factory.mktemp("answers"))))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    return store


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_subjects_answers_round_trip(store: SqlStore, subject: str) -> None:
    ledger = Ledger(store, lambda: NOW)
    state = ledger.state(subject, NOW)
    for model, data in ((Summary, state.summary()), (Explanation, explain(state))):
        assert text(model.model_validate(data).model_dump(mode="json")) == text(data), model.__name__
    file = whole_file(store, ledger, subject, NOW)
    assert text(SubjectFile.model_validate(file).model_dump(mode="json")) == text(file)


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("at", [NOW, dt.datetime(2021, 3, 1, tzinfo=dt.UTC)])
def test_decisions_and_their_reasons_round_trip(store: SqlStore, subject: str, at: dt.datetime) -> None:
    """Every action's decision, with list reasons whose stay facts are absent when negated."""
    state = Ledger(store, lambda: NOW).state(subject, at)
    answers = TypeAdapter(DecisionAnswer)
    for action in state.rulebook.actions:
        data = state.decide(action, at).as_dict()
        assert text(answers.dump_python(answers.validate_python(data), mode="json")) == text(data), action


def test_a_field_the_model_does_not_describe_is_refused(store: SqlStore) -> None:
    """A use-case that grows a field without its model fails here, rather than losing the field."""
    summary = Ledger(store, lambda: NOW).state("p-zhang-wei", NOW).summary()
    with pytest.raises(ValidationError, match="extra"):
        Summary.model_validate({**summary, "secret": 1})
