"""score, explain, check and report: from files (file mode) or from the ledger (store mode).

Given RULEBOOK and RECORDS the command reads the files; given neither it asks the store
(`--store`, CREDO_STORE, default sqlite:///credo.db), optionally as credo knew things at
`--known-at K`. The output is the same either way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from credo import render
from credo.cli.common import (
    DEFAULT_STORE,
    EngineLogOpt,
    JsonOpt,
    StoreOpt,
    checked_ledger,
    emit,
    fail,
    instant_syntax,
    stderr,
    stdout,
)
from credo.errors import CredoError, InstantError, RecordError
from credo.ledger.book import Ledger, utc_now
from credo.ledger.files import read_records
from credo.ledger.incoming import identifier
from credo.rules import Rulebook, lint_file, load_rulebook, parse_instant
from credo.semantics import Decision, Record, SubjectState, evaluate, evaluate_all, explain

RulebookOpt = Annotated[
    Path | None, typer.Argument(help="The rulebook YAML file (omit both files to ask the store).", show_default=False)
]
RecordsOpt = Annotated[
    Path | None, typer.Argument(help="Records as CSV or JSON Lines (.csv, .jsonl).", show_default=False)
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="The instant asked about: 2024-06-01 (midnight in the rulebook's zone) or ISO 8601; "
        "in store mode the default is now, as the API answers.",
    ),
]
KnownAtOpt = Annotated[
    str | None,
    typer.Option(
        "--known-at", callback=instant_syntax, help="Store mode: answer as credo knew things at this instant."
    ),
]
SubjectOpt = Annotated[str, typer.Option("--subject", help="The subject's id.")]


class Question:
    """Where the answers come from: a rulebook and a records file, or the ledger."""

    def __init__(
        self, rulebook: Path | None, records: Path | None, at: str | None, url: str, known_at: str | None
    ) -> None:
        if (rulebook is None) != (records is None):
            fail("give both RULEBOOK and RECORDS (file mode), or neither (store mode)")
        if at is None and rulebook is not None:
            fail("--at is needed with RULEBOOK and RECORDS (file mode); in store mode it defaults to now")
        try:
            if rulebook is not None and records is not None:
                if known_at is not None:
                    fail("--known-at needs the store: omit RULEBOOK and RECORDS")
                self.rulebook = load_rulebook(rulebook)
                self.at = _instant("--at", at or "", self.rulebook.tz)
                self.records = read_records(records, self.rulebook)
                self.ledger = None
                self.known_at: dt.datetime | None = None
            else:
                self.ledger = checked_ledger(url)
                self.at = utc_now() if at is None else _stored_instant(self.ledger, "--at", at)
                self.known_at = None if known_at is None else _stored_instant(self.ledger, "--known-at", known_at)
                self.rulebook = self.ledger.history(self.known_at).require(self.at)
                self.records = []
        except CredoError as exc:
            fail(str(exc))

    def engine_records(self) -> list[Record]:
        """The records a population engine reads: the counting ones in store mode."""
        if self.ledger is not None:
            return self.ledger.counting_records(self.known_at)
        return self.records

    def versions(self) -> list[tuple[dt.datetime | None, Rulebook]]:
        """Every rulebook version in store mode (DESIGN §4 rule 8); file mode has one, always in force."""
        if self.ledger is None:
            return [(None, self.rulebook)]
        return [(version.effective, version.rulebook) for version in self.ledger.history(self.known_at).versions]

    def state(self, subject: str) -> SubjectState:
        subject = _subject(subject)
        try:
            if self.ledger is not None:
                return self.ledger.state(subject, self.at, self.known_at)
            return evaluate(self.rulebook, self.records, subject, self.at)
        except CredoError as exc:
            fail(str(exc))

    def states(self) -> Iterator[SubjectState]:
        try:
            if self.ledger is not None:
                yield from self.ledger.states(self.at, self.known_at)
            else:
                yield from evaluate_all(self.rulebook, self.records, self.at).values()
        except CredoError as exc:
            fail(str(exc))


def _subject(text: str) -> str:
    """The subject as every entry point spells it (credo.ledger.incoming.Identifier)."""
    try:
        return identifier(text, "--subject")
    except RecordError as exc:
        fail(f"--subject: {exc.reason}")


def _stored_instant(book: Ledger, option: str, text: str) -> dt.datetime:
    try:
        return book.instant(text)
    except InstantError as exc:
        fail(f"{option}: {exc}")


def _instant(option: str, text: str, tz: dt.tzinfo) -> dt.datetime:
    try:
        return parse_instant(text, tz)
    except CredoError as exc:
        fail(f"{option}: {exc}")


def _summary(state: SubjectState) -> dict[str, Any]:
    """The `score --subject S --json` line: the summary, and whether any record about S is known.

    Only a question about one subject says it: the lines of `score` over everyone come from
    the records, and keep their shape."""
    return {**state.summary(), "known": state.known}


def _newcomer(subject: str) -> None:
    """Answering for a subject without records is right (everyone starts somewhere), but a typo
    must not pass for a clean record: say so, on stderr, beside the answer."""
    stderr.print(
        f"credo: note: no records about {subject}; answering as for a newcomer — check the spelling",
        markup=False,
    )


def score(
    rulebook: RulebookOpt = None,
    records: RecordsOpt = None,
    *,
    at: AtOpt = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    as_json: JsonOpt = False,
    url: StoreOpt = DEFAULT_STORE,
    known_at: KnownAtOpt = None,
    engine: Annotated[
        str,
        typer.Option("--engine", help="reference (one subject at a time), duckdb or spark (everyone at once)."),
    ] = "reference",
    engine_log: EngineLogOpt = False,
) -> None:
    """Scores, tiers and lists of every subject (or one) at an instant."""
    if engine not in {"reference", "duckdb", "spark"}:
        fail(f"unknown engine {engine!r}; use reference, duckdb or spark")
    subject = None if subject is None else _subject(subject)
    question = Question(rulebook, records, at, url, known_at)
    if engine != "reference":
        from credo.population.run import start, summaries

        try:
            run = start(question.rulebook, question.engine_records(), question.at, engine, versions=question.versions())
            lines = [line for line in summaries(run) if subject in (None, line["subject"])]
        except CredoError as exc:
            fail(str(exc))
        if subject is not None:  # the one answer: from the reference, with whether it is known
            known = question.state(subject).known
            lines = [{**line, "known": known} for line in lines] or [_summary(question.state(subject))]
    else:
        states = [question.state(subject)] if subject is not None else question.states()
        lines = [_summary(state) if subject is not None else state.summary() for state in states]
    if subject is not None and not lines[0]["known"]:
        _newcomer(subject)
    if as_json:
        for line in lines:
            emit(line)
    else:
        render.scores(stdout, lines)


def explain_command(
    rulebook: RulebookOpt = None,
    records: RecordsOpt = None,
    *,
    subject: SubjectOpt,
    at: AtOpt = None,
    as_json: JsonOpt = False,
    url: StoreOpt = DEFAULT_STORE,
    known_at: KnownAtOpt = None,
) -> None:
    """Every point of a subject explained, when it stops counting, and the way to the next tier or off a list."""
    state = Question(rulebook, records, at, url, known_at).state(subject)
    facts = explain(state)
    if not state.known:
        _newcomer(subject)
    if as_json:
        emit({**facts, "known": state.known})
    else:
        render.explanation(stdout, facts, state.rulebook)


def check(
    rulebook: RulebookOpt = None,
    records: RecordsOpt = None,
    *,
    subject: SubjectOpt,
    action: Annotated[str, typer.Option("--action", help="The action asked for, as the rulebook names it.")],
    at: AtOpt = None,
    as_json: JsonOpt = False,
    url: StoreOpt = DEFAULT_STORE,
    known_at: KnownAtOpt = None,
    fail_on_deny: Annotated[
        bool, typer.Option("--fail-on-deny", help="Exit 1 when the decision is deny (as `opa eval --fail`).")
    ] = False,
) -> None:
    """The decision on a subject's action: allow or deny, with every applying measure and its reasons."""
    state = Question(rulebook, records, at, url, known_at).state(subject)
    try:
        decision = state.decide(action)
    except CredoError as exc:
        fail(str(exc))
    if not decision.known:
        _newcomer(subject)
    if as_json:
        emit(decision.as_dict())
    else:
        render.decision(stdout, decision, state.rulebook)
    if fail_on_deny and decision.decision == "deny":
        raise typer.Exit(1)


def report(
    rulebook: Annotated[Path, typer.Argument(help="The rulebook YAML file.", show_default=False)],
    records: Annotated[Path, typer.Argument(help="Records as CSV or JSON Lines.", show_default=False)],
    at: AtOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Show decisions for at most this many subjects.")] = 12,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole report as one JSON object (every adverse decision).")
    ] = False,
) -> None:
    """A readable report: scores, tiers, lists, decisions with reasons, and the rights impact report."""
    question = Question(rulebook, records, at, DEFAULT_STORE, None)
    book = question.rulebook
    states = list(question.states())
    if as_json:
        emit(_report_document(question, states, rulebook))
        return
    stdout.rule(
        f"[bold]{book.rulebook} {book.version}[/bold] at {at}: {len(states)} subjects, {len(question.records)} records"
    )
    render.scores(stdout, [state.summary() for state in states])
    render.population(stdout, states)
    stdout.rule("Decisions (deny or limit, with reasons)")
    shown = 0
    for state in states:
        adverse = _adverse(book, state)
        if adverse and shown < limit:
            shown += 1
            for decision in adverse:
                render.decision(stdout, decision, state.rulebook)
    stdout.rule("Rights impact report (lint)")
    _, findings = lint_file(rulebook)
    render.lint_report(stdout, findings)


def _adverse(book: Rulebook, state: SubjectState) -> list[Decision]:
    return [
        decision
        for action in book.actions
        if (decision := state.decide(action)).decision == "deny"
        or any(measure.effect == "limit" for measure in decision.measures)
    ]


def _report_document(question: Question, states: list[SubjectState], path: Path) -> dict[str, Any]:
    """The report's data: what the tables show, with every adverse decision (no --limit)."""
    book = question.rulebook
    tiers: Counter[tuple[str, str | None]] = Counter()
    lists: Counter[str] = Counter()
    for state in states:
        for program in state.enrolled():
            tiers[(program, state.tier(program))] += 1
        lists.update(state.lists())
    _, findings = lint_file(path)
    held = {program: {str(tier): count for (name, tier), count in tiers.items() if name == program}
            for program in book.programs}  # fmt: skip
    return {
        "rulebook": book.rulebook,
        "version": book.version,
        "at": question.at.isoformat(),
        "subjects": len(states),
        "records": len(question.records),
        "scores": [state.summary() for state in states],
        "tiers": held,
        "lists": {name: lists.get(name, 0) for name in book.lists},
        "decisions": [decision.as_dict() for state in states for decision in _adverse(book, state)],
        "lint": {
            "errors": [finding.as_dict() for finding in findings.errors],
            "warnings": [finding.as_dict() for finding in findings.warnings],
        },
    }


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command(name="explain")(explain_command)
    app.command()(check)
    app.command()(report)
