"""pytest collects rulebook tests (`<scenario>/tests/*.yaml` beside a rulebook.yaml) as items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credo.rules.model import Rulebook
from credo.testing.runner import Case, is_rulebook_test, load_cases

_RULEBOOKS: dict[Path, Rulebook] = {}


class RulebookTestFailure(Exception):
    """A rulebook case whose expectations were not met."""


class RulebookCaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        result = self.case.run(_RULEBOOKS)
        if not result.passed:
            raise RulebookTestFailure("\n".join(result.failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RulebookTestFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line or 1) - 1, self.case.name


class RulebookTestFile(pytest.File):
    def collect(self) -> Iterator[RulebookCaseItem]:
        for case in load_cases(self.path):
            yield RulebookCaseItem.from_parent(self, name=case.name, case=case)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> RulebookTestFile | None:
    if is_rulebook_test(file_path):
        return RulebookTestFile.from_parent(parent, path=file_path)
    return None
