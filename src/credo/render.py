"""Readable terminal output (Rich) for people; the CLI prints JSON for machines instead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from credo import words
from credo.rules.lint import LintReport
from credo.rules.model import Rulebook
from credo.semantics import Decision, SubjectState


def _number(value: Any) -> str:
    return "—" if value is None else str(value)


def table(console: Console, columns: Sequence[str], rows: Iterable[Sequence[str]], title: str | None = None) -> None:
    """Print a table whose values are never cut.

    On a terminal: a Rich table whose cells fold onto more lines when it is wider than the screen.
    Elsewhere (a pipe, a file): tab-separated text, a header line then one line per row, so that
    `grep`, `cut -f` and `sort` see every value whole; the title, for people, is left out.
    """
    if not console.is_terminal:
        console.file.write("\t".join(columns) + "\n")
        for row in rows:
            console.file.write("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) + "\n")
        console.file.flush()
        return
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, overflow="fold", no_wrap=False)
    for row in rows:
        shown.add_row(*(Text(cell) for cell in row))  # values are data, never markup
    console.print(shown)


def lint_report(console: Console, report: LintReport) -> None:
    if not report.findings:
        console.print(f"[green]{report.file}: no errors, no warnings[/green]")
        return
    for finding in report.findings:
        style = "red" if finding.level == "error" else "yellow"
        place = f"{finding.file}:{finding.line}" if finding.line else finding.file
        if finding.code == "invalid":
            console.print(f"[{style}]error[/{style}] {escape(finding.message)}", highlight=False)
            continue
        console.print(
            f"[{style}]{finding.level}[/{style}] {place} ({escape(finding.path)}): {escape(finding.message)}",
            highlight=False,
        )
        console.print(f"        [dim]rests on: {finding.basis}[/dim]", highlight=False)
    console.print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")


def scores(console: Console, summaries: list[dict[str, Any]]) -> None:
    """A table of `score --json` lines."""
    # In plain text every line names its subject and lists, so a line found by grep stands alone.
    plain = not console.is_terminal
    rows = []
    for summary in summaries:
        programs = summary["programs"] or {"—": {"score": None, "tier": None}}
        for index, (name, facts) in enumerate(programs.items()):
            first = index == 0 or plain
            rows.append(
                (
                    summary["subject"] if first else "",
                    name,
                    _number(facts["score"]),
                    _number(facts["tier"]),
                    ", ".join(summary["lists"]) if first else "",
                )
            )
    table(console, ("subject", "program", "score", "tier", "lists"), rows, title="Scores")


def decision(console: Console, result: Decision, rulebook: Rulebook | None = None) -> None:
    colour = "red" if result.decision == "deny" else "yellow" if words.verdict(result) != "allow" else "green"
    console.print(
        f"[bold]{result.subject}[/bold] → {result.action} at {words.when(result.at)}: "
        f"[bold {colour}]{words.verdict(result).upper()}[/bold {colour}]",
        highlight=False,
    )
    for measure in result.measures:
        console.print(f"  • {escape(words.measure(measure))}", highlight=False)
        console.print(f"    basis: {escape(measure.basis or 'none given')}", highlight=False)
        for reason in measure.reasons:
            console.print(f"    because {escape(words.reason(reason, rulebook))}", highlight=False)
    for factor in result.key_factors:
        console.print(f"  key factor {factor['rank']}: {escape(words.key_factor(factor))}", highlight=False)


def explanation(console: Console, facts: dict[str, Any], rulebook: Rulebook | None = None) -> None:
    console.print(f"[bold]{facts['subject']}[/bold] ({facts['kind']}) at {words.when(facts['at'])}", highlight=False)
    for program in facts["programs"]:
        console.print(
            f"\n[bold]{program['program']}[/bold]: score {program['score']} (start {program['start']}, "
            f"unclamped {program['unclamped']}), tier {_number(program['tier'])}",
            highlight=False,
        )
        rows = [
            (
                entry["record"],
                entry["behaviour"],
                entry["at"],
                str(entry["base"]),
                str(entry["effective"]),
                entry["rule"],
                entry["until"] or "no expiry",
            )
            for entry in program["records"]
        ]
        if rows:
            table(console, ("record", "behaviour", "at", "base", "effective", "rule", "counts until"), rows)
        else:
            console.print("  no record counts now")
        console.print(f"  {escape(words.next_change(program['next_change']))}", highlight=False)
        if program["next_tier"]:
            console.print(f"  {escape(words.next_tier(program['next_tier']))}", highlight=False)
    for listed in facts["lists"]:
        console.print(f"\n{escape(words.way_off(listed, rulebook))}", highlight=False)


def population(console: Console, states: list[SubjectState]) -> None:
    tiers: Counter[tuple[str, str]] = Counter()
    lists: Counter[str] = Counter()
    for state in states:
        for program in state.enrolled():
            tiers[(program, _number(state.tier(program)))] += 1
        lists.update(state.lists())
    programs = {name: program for state in states for name, program in state.rulebook.programs.items()}

    def by_bound(item: tuple[tuple[str, str], int]) -> tuple[str, int]:
        (program, tier), _ = item
        ranking = words.tier_ranking(programs[program]) if program in programs else []
        return program, ranking.index(tier) if tier in ranking else len(ranking)  # no tier: last

    rows = [(program, tier, str(count)) for (program, tier), count in sorted(tiers.items(), key=by_bound)]
    table(console, ("program", "tier", "subjects"), rows, title="Tiers")
    table(console, ("list", "subjects"), [(name, str(count)) for name, count in sorted(lists.items())], title="Lists")
