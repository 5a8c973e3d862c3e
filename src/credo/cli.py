"""The command line: a thin shell over the library. Data to stdout, messages to stderr.

Exit codes: 0 fine; 1 the answer is "no" (lint found errors, a rulebook test failed);
2 bad input (a rulebook, a records file, an instant or a name that cannot be used).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from credo import render
from credo.errors import CredoError
from credo.ledger.files import read_records
from credo.rules import Rulebook, lint_file, load_rulebook, parse_instant
from credo.rules.model import Rulebook as RulebookModel
from credo.semantics import Record, SubjectState, evaluate, evaluate_all, explain
from credo.testing import run_path

app = typer.Typer(
    name="credo",
    help="credo: an open, accountable engine for points-based trust programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RulebookArg = Annotated[Path, typer.Argument(help="The rulebook YAML file.", show_default=False)]
RecordsArg = Annotated[Path, typer.Argument(help="Records as CSV or JSON Lines (.csv, .jsonl).", show_default=False)]
AtOpt = Annotated[
    str, typer.Option("--at", help="The instant asked about: 2024-06-01 (midnight in the rulebook's zone) or ISO 8601.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line) instead of tables.")]
SubjectOpt = Annotated[str, typer.Option("--subject", help="The subject's id.")]

stdout = Console(highlight=False, emoji=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    stderr.print(f"[red]credo: error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def _load(rulebook: Path) -> Rulebook:
    try:
        return load_rulebook(rulebook)
    except CredoError as exc:
        fail(f"the rulebook cannot be used:\n{exc}")


def _inputs(rulebook_path: Path, records_path: Path, at: str) -> tuple[Rulebook, list[Record], Any]:
    rulebook = _load(rulebook_path)
    try:
        instant = parse_instant(at, rulebook.tz)
    except CredoError as exc:
        fail(f"--at: {exc}")
    try:
        records = read_records(records_path, rulebook)
    except CredoError as exc:
        fail(str(exc))
    return rulebook, records, instant


def _state(rulebook: Rulebook, records: list[Record], subject: str, instant: Any) -> SubjectState:
    try:
        return evaluate(rulebook, records, subject, instant)
    except CredoError as exc:
        fail(str(exc))


@app.command()
def lint(rulebook: RulebookArg, as_json: JsonOpt = False) -> None:
    """Check a rulebook: errors refuse it (exit 1); warnings are its rights impact report."""
    _, report = lint_file(rulebook)
    if as_json:
        emit(
            {
                "file": report.file,
                "ok": report.ok,
                "errors": [finding.as_dict() for finding in report.errors],
                "warnings": [finding.as_dict() for finding in report.warnings],
            }
        )
    else:
        render.lint_report(stderr if report.errors else stdout, report)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of rulebooks, for editors that validate YAML as it is typed."""
    document = RulebookModel.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "credo rulebook"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command()
def score(
    rulebook: RulebookArg,
    records: RecordsArg,
    at: AtOpt,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Scores, tiers and lists of every subject (or one) at an instant."""
    book, rows, instant = _inputs(rulebook, records, at)
    try:
        if subject is None:
            states = list(evaluate_all(book, rows, instant).values())
        else:
            states = [evaluate(book, rows, subject, instant)]
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        for state in states:
            emit(state.summary())
    else:
        render.scores(stdout, states)


@app.command(name="explain")
def explain_command(
    rulebook: RulebookArg, records: RecordsArg, subject: SubjectOpt, at: AtOpt, as_json: JsonOpt = False
) -> None:
    """Every point of a subject explained, when it stops counting, and the way to the next tier or off a list."""
    book, rows, instant = _inputs(rulebook, records, at)
    facts = explain(_state(book, rows, subject, instant))
    if as_json:
        emit(facts)
    else:
        render.explanation(stdout, facts)


@app.command()
def check(
    rulebook: RulebookArg,
    records: RecordsArg,
    subject: SubjectOpt,
    action: Annotated[str, typer.Option("--action", help="The action asked for, as the rulebook names it.")],
    at: AtOpt,
    as_json: JsonOpt = False,
) -> None:
    """The decision on a subject's action: allow or deny, with every applying measure and its reasons."""
    book, rows, instant = _inputs(rulebook, records, at)
    state = _state(book, rows, subject, instant)
    try:
        decision = state.decide(action)
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        emit(decision.as_dict())
    else:
        render.decision(stdout, decision)


@app.command(name="test")
def test_command(
    path: Annotated[Path, typer.Argument(help="A scenario folder, a folder of scenarios, or one test file.")],
) -> None:
    """Run the YAML rulebook tests (tests/*.yaml beside each rulebook.yaml) under PATH."""
    if not path.exists():
        fail(f"{path}: no such file or folder")
    results = run_path(path)
    if not results:
        fail(f"{path}: no rulebook tests found (tests/*.yaml beside a rulebook.yaml)")
    failed = [result for result in results if not result.passed]
    for result in failed:
        stderr.print(f"[red]FAIL[/red] {result.file}:{result.line} {result.name}", markup=True)
        for failure in result.failures:
            stderr.print(f"     {failure}", markup=False)
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    (stderr if failed else stdout).print(summary, markup=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def report(
    rulebook: RulebookArg,
    records: RecordsArg,
    at: AtOpt,
    limit: Annotated[int, typer.Option("--limit", help="Show decisions for at most this many subjects.")] = 12,
) -> None:
    """A readable report: scores, tiers, lists, decisions with reasons, and the rights impact report."""
    book, rows, instant = _inputs(rulebook, records, at)
    states = list(evaluate_all(book, rows, instant).values())
    stdout.rule(f"[bold]{book.rulebook} {book.version}[/bold] at {at}: {len(states)} subjects, {len(rows)} records")
    render.scores(stdout, states)
    render.population(stdout, states)
    stdout.rule("Decisions (deny or limit, with reasons)")
    shown = 0
    for state in states:
        adverse = [
            decision
            for action in book.actions
            if (decision := state.decide(action)).decision == "deny"
            or any(measure.effect == "limit" for measure in decision.measures)
        ]
        if adverse and shown < limit:
            shown += 1
            for decision in adverse:
                render.decision(stdout, decision)
    stdout.rule("Rights impact report (lint)")
    _, findings = lint_file(rulebook)
    render.lint_report(stdout, findings)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
