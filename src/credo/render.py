"""Readable terminal output (Rich) for people; the CLI prints JSON for machines instead."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from credo.rules.lint import LintReport
from credo.semantics import Decision, SubjectState


def _number(value: Any) -> str:
    return "—" if value is None else str(value)


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
    table = Table(title="Scores")
    for column in ("subject", "program", "score", "tier", "lists"):
        table.add_column(column)
    for summary in summaries:
        programs = summary["programs"] or {"—": {"score": None, "tier": None}}
        for index, (name, facts) in enumerate(programs.items()):
            table.add_row(
                summary["subject"] if index == 0 else "",
                name,
                _number(facts["score"]),
                _number(facts["tier"]),
                ", ".join(summary["lists"]) if index == 0 else "",
            )
    console.print(table)


def decision(console: Console, result: Decision) -> None:
    colour = "red" if result.decision == "deny" else "green"
    console.print(
        f"[bold]{result.subject}[/bold] → {result.action} at {result.at}: "
        f"[bold {colour}]{result.decision.upper()}[/bold {colour}]",
        highlight=False,
    )
    for measure in result.measures:
        console.print(f"  • {measure.effect} [bold]{measure.measure}[/bold]: {measure.detail}", highlight=False)
        console.print(f"    basis: {measure.basis}", highlight=False)
        for reason in measure.reasons:
            console.print(f"    because {_reason_text(reason)}", highlight=False)
    for factor in result.key_factors:
        console.print(
            f"  key factor {factor['rank']}: record {factor['record']} ({factor['behaviour']}, {factor['at']}) "
            f"{factor['why']}",
            highlight=False,
        )


def _reason_text(reason: dict[str, Any]) -> str:
    negation = "not " if reason.get("negated") else ""
    if "list" in reason:
        if reason.get("negated"):
            return f"not on the list {reason['list']}"
        until = reason.get("until") or "no set end"
        return (
            f"on the {reason.get('kind')} list {reason['list']} since {reason.get('since') or 'the start'} "
            f"(records {', '.join(reason.get('opened_by', [])) or '—'}; until at the latest {until})"
        )
    test = {key: value for key, value in reason["condition"].items() if key != "program"}
    records = ", ".join(f"{fact['record']} ({fact['points']:+})" for fact in reason.get("records", []))
    return f"{negation}{reason['program']} {test}: score {_number(reason['score'])}, tier {_number(reason['tier'])}" + (
        f"; weightiest records {records}" if records else ""
    )


def explanation(console: Console, facts: dict[str, Any]) -> None:
    console.print(f"[bold]{facts['subject']}[/bold] ({facts['kind']}) at {facts['at']}", highlight=False)
    for program in facts["programs"]:
        console.print(
            f"\n[bold]{program['program']}[/bold]: score {program['score']} (start {program['start']}, "
            f"unclamped {program['unclamped']}), tier {_number(program['tier'])}",
            highlight=False,
        )
        table = Table()
        for column in ("record", "behaviour", "at", "base", "effective", "rule", "counts until"):
            table.add_column(column)
        for entry in program["records"]:
            table.add_row(
                entry["record"],
                entry["behaviour"],
                entry["at"],
                str(entry["base"]),
                str(entry["effective"]),
                entry["rule"],
                entry["until"] or "no expiry",
            )
        if program["records"]:
            console.print(table)
        else:
            console.print("  no record counts now")
        change = program["next_change"]
        console.print(
            "  next change: " + (f"{change['at']} (score {change['score']})" if change else "none by expiry alone"),
            highlight=False,
        )
        upgrade = program["next_tier"]
        if upgrade:
            sooner = ", ".join(
                f"{item['behaviour']} ({item['points']:+}{', reaches it now' if item['reaches_now'] else ''})"
                for item in upgrade["sooner_by"]
            )
            console.print(
                f"  next tier {upgrade['tier']} (from {upgrade['bound']}): by expiry alone "
                f"{upgrade['earliest_by_expiry'] or 'not reached'}" + (f"; sooner by {sooner}" if sooner else ""),
                highlight=False,
            )
    for listed in facts["lists"]:
        way = listed["way_off"]
        behaviours = ", ".join(item["behaviour"] for item in way["behaviours"] if item["leaves_now"]) or "none"
        console.print(
            f"\non the {listed['kind']} list [bold]{listed['list']}[/bold] since {listed['since'] or 'the start'}; "
            f"off by expiry alone: {way['earliest_by_expiry'] or 'not by time alone'}; off now by: {behaviours}",
            highlight=False,
        )


def population(console: Console, states: list[SubjectState]) -> None:
    tiers: Counter[tuple[str, str]] = Counter()
    lists: Counter[str] = Counter()
    for state in states:
        for program in state.enrolled():
            tiers[(program, _number(state.tier(program)))] += 1
        lists.update(state.lists())
    table = Table(title="Tiers")
    for column in ("program", "tier", "subjects"):
        table.add_column(column)
    for (program, tier), count in sorted(tiers.items()):
        table.add_row(program, tier, str(count))
    console.print(table)
    table = Table(title="Lists")
    table.add_column("list")
    table.add_column("subjects")
    for name, count in sorted(lists.items()):
        table.add_row(name, str(count))
    console.print(table)
