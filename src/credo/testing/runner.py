"""YAML rulebook tests: a case gives records and an instant, and what the rulebook must say then.

cases:
  - name: a third offence within two years takes the last points
    at: 2024-06-01
    records:
      - {subject: alice, behaviour: dog_licence_issued, at: 2024-01-01}
    expect:
      alice:
        scores: {dog_licence: 0}
        tiers: {dog_licence: suspended}
        lists: [dog_held]                 # exactly these lists
        decisions: {keep_dog: deny}
        measures: {keep_dog: [dog_confiscation]}
        explanation:
          next_change: {dog_licence: 2026-04-01}
          active: {dog_licence: [r2, r3, r4]}
          effective: {r4: -12}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credo.errors import CredoError, RulebookError
from credo.ledger.files import record_from_row
from credo.rules.lint import load_rulebook
from credo.rules.loader import SourceMap, read_yaml
from credo.rules.model import Rulebook
from credo.rules.time import parse_instant
from credo.semantics import SubjectState, evaluate, explain

EXPECTATIONS = {"scores", "tiers", "lists", "enrolled", "decisions", "measures", "explanation"}


@dataclass
class CaseResult:
    file: str
    line: int | None
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Case:
    file: str
    line: int | None
    name: str
    body: dict[str, Any]
    path: tuple[str | int, ...]
    rulebook_path: Path
    source: SourceMap

    def run(self, rulebooks: dict[Path, Rulebook] | None = None) -> CaseResult:
        result = CaseResult(self.file, self.line, self.name)
        try:
            rulebook = _rulebook(self.rulebook_path, rulebooks)
            result.failures = list(self._check(rulebook))
        except CredoError as exc:
            result.failures.append(str(exc))
        return result

    def where(self, *keys: str | int) -> str:
        return self.source.where((*self.path, *keys))

    def _check(self, rulebook: Rulebook) -> Iterator[str]:
        unknown = sorted(set(self.body) - {"name", "description", "at", "records", "expect"})
        if unknown:
            yield f"{self.where(unknown[0])}: unknown key {unknown[0]!r} in a test case"
            return
        if "at" not in self.body:
            yield f"{self.where()}: a test case needs `at`"
            return
        at = parse_instant(self.body["at"], rulebook.tz)
        records = [
            record_from_row(
                {"id": f"{Path(self.file).stem}:{self.source.line((*self.path, 'records', index))}", **row},
                rulebook,
                file=self.file,
                line=self.source.line((*self.path, "records", index)) or 0,
            )
            for index, row in enumerate(self.body.get("records") or [])
        ]
        for subject, wanted in (self.body.get("expect") or {}).items():
            state = evaluate(rulebook, records, str(subject), at)
            for key, value in (wanted or {}).items():
                if key not in EXPECTATIONS:
                    place = self.where("expect", subject, key)
                    yield f"{place}: unknown expectation {key!r}; use {sorted(EXPECTATIONS)}"
                    continue
                for problem in _compare(key, value, state):
                    yield f"{self.where('expect', subject, key)}: {subject}: {problem}"


def _same_instant(expected: Any, actual: str | None, state: SubjectState) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return parse_instant(expected, state.tz) == dt.datetime.fromisoformat(actual)


def _compare(key: str, expected: Any, state: SubjectState) -> Iterator[str]:
    if key == "scores":
        for program, score in expected.items():
            if state.score(program) != score:
                yield f"score in {program}: expected {score}, got {state.score(program)}"
    elif key == "tiers":
        for program, tier in expected.items():
            if state.tier(program) != tier:
                yield f"tier in {program}: expected {tier}, got {state.tier(program)}"
    elif key == "lists":
        if sorted(expected) != state.lists():
            yield f"lists: expected {sorted(expected)}, got {state.lists()}"
    elif key == "enrolled":
        if sorted(expected) != sorted(state.enrolled()):
            yield f"enrolled: expected {sorted(expected)}, got {sorted(state.enrolled())}"
    elif key == "decisions":
        for action, verdict in expected.items():
            got = state.decide(action).decision
            if got != verdict:
                yield f"decision on {action}: expected {verdict}, got {got}"
    elif key == "measures":
        for action, measures in expected.items():
            applying = sorted(result.measure for result in state.decide(action).measures)
            if applying != sorted(measures):
                yield f"measures on {action}: expected {sorted(measures)}, got {applying}"
    elif key == "explanation":
        yield from _compare_explanation(expected, state)


def _compare_explanation(expected: dict[str, Any], state: SubjectState) -> Iterator[str]:
    facts = explain(state)
    programs = {program["program"]: program for program in facts["programs"]}
    entries = {entry["record"]: entry for program in facts["programs"] for entry in program["records"]}
    for key, value in expected.items():
        if key == "next_change":
            for program, instant in value.items():
                change = programs.get(program, {}).get("next_change")
                got = change["at"] if change else None
                if not _same_instant(instant, got, state):
                    yield f"next change of {program}: expected {instant}, got {got}"
        elif key == "active":
            for program, ids in value.items():
                got = sorted(entry["record"] for entry in programs.get(program, {}).get("records", []))
                if got != sorted(str(item) for item in ids):
                    yield f"active records in {program}: expected {sorted(ids)}, got {got}"
        elif key == "effective":
            for record, points in value.items():
                got = entries.get(str(record), {}).get("effective")
                if got != points:
                    yield f"effective points of {record}: expected {points}, got {got}"
        elif key == "until":
            for record, instant in value.items():
                got = entries.get(str(record), {}).get("until")
                if not _same_instant(instant, got, state):
                    yield f"record {record} counts until: expected {instant}, got {got}"
        elif key == "next_tier":
            for program, tier in value.items():
                upgrade = programs.get(program, {}).get("next_tier")
                got = upgrade["tier"] if upgrade else None
                if got != tier:
                    yield f"next tier of {program}: expected {tier}, got {got}"
        else:
            yield f"unknown explanation fact {key!r}; use next_change, active, effective, until, next_tier"


def _rulebook(path: Path, cache: dict[Path, Rulebook] | None) -> Rulebook:
    if cache is None:
        return load_rulebook(path)
    if path not in cache:
        cache[path] = load_rulebook(path)
    return cache[path]


def load_cases(file: Path) -> list[Case]:
    """The cases of one YAML test file; its rulebook is `rulebook:` or the rulebook.yaml above tests/."""
    document, source = read_yaml(file.read_text(encoding="utf-8"), str(file))
    rulebook_path = file.parent.parent / "rulebook.yaml"
    path: tuple[str | int, ...] = ()
    if isinstance(document, dict):
        if "rulebook" in document:
            rulebook_path = (file.parent / str(document["rulebook"])).resolve()
        cases, path = document.get("cases"), ("cases",)
    else:
        cases = document
    if not isinstance(cases, list):
        raise RulebookError([f"{file}:1: expected a list of cases (or `cases:` with a list)"], str(file))
    found = []
    for index, body in enumerate(cases):
        if not isinstance(body, dict):
            raise RulebookError([f"{source.where((*path, index))}: expected a case (a mapping)"], str(file))
        name = str(body.get("name") or f"case {index + 1}")
        found.append(Case(str(file), source.line((*path, index)), name, body, (*path, index), rulebook_path, source))
    return found


def test_files(path: Path) -> list[Path]:
    """Every tests/*.yaml beside a rulebook under path (or path itself when it is such a file)."""
    if path.is_file():
        return [path]
    return sorted(
        file
        for pattern in ("tests/*.yaml", "tests/*.yml", "**/tests/*.yaml", "**/tests/*.yml")
        for file in path.glob(pattern)
        if is_rulebook_test(file)
    )


def is_rulebook_test(file: Path) -> bool:
    return (
        file.suffix in {".yaml", ".yml"}
        and file.parent.name == "tests"
        and (file.parent.parent / "rulebook.yaml").is_file()
    )


def run_path(path: Path) -> list[CaseResult]:
    """Run every rulebook test under path."""
    rulebooks: dict[Path, Rulebook] = {}
    results = []
    for file in dict.fromkeys(test_files(path)):
        try:
            cases = load_cases(file)
        except CredoError as exc:
            results.append(CaseResult(str(file), None, "(file)", [str(exc)]))
            continue
        results.extend(case.run(rulebooks) for case in cases)
    return results
