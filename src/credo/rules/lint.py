"""Rights by design (DESIGN §5): errors refuse a rulebook, warnings are its rights impact report."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from credo.errors import RulebookError, RulebookFileError
from credo.rules.loader import KeyPath, SourceMap, format_path, parse_rulebook, read_rulebook
from credo.rules.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ListCondition,
    NotCondition,
    ProgramCondition,
    Rulebook,
)

#: Categories credo never scores (GDPR Art. 9; Shanghai Social Credit Regulations 2017 Art. 14).
PROTECTED_CATEGORIES = frozenset(
    {
        "health",
        "genetic",
        "biometric",
        "ethnicity",
        "religion",
        "political_opinion",
        "sexual_orientation",
        "trade_union",
        "expression",
    }
)

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One lint result: where, what, and the law or principle it rests on."""

    level: Level
    code: str
    message: str
    path: str
    file: str
    line: int | None
    basis: str
    column: int | None = field(default=None)

    def __str__(self) -> str:
        if self.code == "invalid":  # the contract's own message already names file, line and path
            return f"{self.message} [{self.basis}]"
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{place} ({self.path}): {self.level}: {self.message} [{self.basis}]"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LintReport:
    """Everything lint found in one rulebook."""

    file: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def pushes_down(leaf: ProgramCondition, higher_is: str) -> bool:
    """Whether a program test is made true by points that lower the score (tier_in: by adverse points)."""
    name, _ = leaf.test
    if name == "tier_in":
        return higher_is == "better"
    return name in {"score_below", "score_at_most", "tier_at_most"}


def condition_leaves(
    condition: Condition, path: KeyPath = ()
) -> Iterator[tuple[ListCondition | ProgramCondition, KeyPath]]:
    """Every leaf test in a condition tree, with its key path below `path`."""
    if isinstance(condition, AllCondition):
        for index, item in enumerate(condition.all_):
            yield from condition_leaves(item, (*path, "all", index))
    elif isinstance(condition, AnyCondition):
        for index, item in enumerate(condition.any_):
            yield from condition_leaves(item, (*path, "any", index))
    elif isinstance(condition, NotCondition):
        yield from condition_leaves(condition.not_, (*path, "not"))
    else:
        yield condition, path


def walk_conditions(condition: Condition) -> Iterator[ListCondition | ProgramCondition]:
    """Every leaf test in a condition tree."""
    return (leaf for leaf, _ in condition_leaves(condition))


class _Linter:
    def __init__(self, rulebook: Rulebook, source: SourceMap) -> None:
        self.rulebook = rulebook
        self.source = source
        self.findings: list[Finding] = []
        # Computed once, so that lint stays linear in the rulebook's size: asking "which behaviours
        # does this program or list answer to" per measure was quadratic.
        self.scored = {name for program in rulebook.programs.values() for name in program.points} | {
            name for listed in rulebook.lists.values() for name in listed.enter_on
        }
        self._categories: dict[tuple[str, str, bool], frozenset[str]] = {}
        self._suggested = 0

    def add(self, level: Level, code: str, path: KeyPath, message: str, basis: str) -> None:
        self.findings.append(
            Finding(level, code, message, format_path(path), self.source.file, self.source.line(path), basis,
                    self.source.column(path))
        )  # fmt: skip

    def unknown(self, kind: str, name: str, known: Collection[str]) -> str:
        """'unknown behaviour 'x'; did you mean 'y'?' and, for a short catalogue, every name in it."""
        message = f"unknown {kind} {name!r}"
        if self._suggested < 50:  # each guess reads the whole catalogue: a few suffice, and keep lint linear
            self._suggested += 1
            nearest = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            if nearest:
                message += f"; did you mean {nearest[0]!r}?"
        if len(known) <= 30:
            return f"{message} ({kind}s: {', '.join(sorted(known)) or 'none'})"
        return f"{message} ({len(known)} {kind}s are declared)"

    def error(self, code: str, path: KeyPath, message: str, basis: str = "credo rulebook contract") -> None:
        self.add("error", code, path, message, basis)

    def warning(self, code: str, path: KeyPath, message: str, basis: str) -> None:
        self.add("warning", code, path, message, basis)

    def run(self) -> list[Finding]:
        self.behaviours()
        self.programs()
        self.lists()
        self.measures()
        return self.findings

    def known_behaviour(self, name: str, path: KeyPath) -> None:
        if name not in self.rulebook.behaviours:
            self.error("unknown-behaviour", path, self.unknown("behaviour", name, self.rulebook.behaviours))

    def behaviours(self) -> None:
        declared = self.rulebook.sources
        for name, behaviour in self.rulebook.behaviours.items():
            path: KeyPath = ("behaviours", name)
            if behaviour.category in PROTECTED_CATEGORIES:
                self.error(
                    "protected-category",
                    (*path, "category"),
                    f"behaviour {name!r} is in the protected category {behaviour.category!r}; "
                    "credo never scores health, genetic or biometric data, ethnicity, religion, "
                    "political opinion, sexual orientation, trade union membership or expression",
                    "GDPR Art. 9; Shanghai Social Credit Regulations (2017) Art. 14",
                )
            if behaviour.category == "lifestyle" and self.counted(name):
                self.warning(
                    "lifestyle",
                    (*path, "category"),
                    f"behaviour {name!r} scores private lifestyle",
                    "EU Charter of Fundamental Rights Art. 7 (private life); data minimisation, GDPR Art. 5(1)(c)",
                )
            for index, source in enumerate(behaviour.sources):
                if declared and source not in declared:
                    self.error("unknown-source", (*path, "sources", index), self.unknown("source", source, declared))
                automated = source in declared and declared[source].automated
                if automated and not behaviour.needs_confirmation and self.counted(name):
                    self.warning(
                        "unconfirmed-automation",
                        (*path, "sources", index),
                        f"records of {name!r} from the automated source {source!r} count without a human "
                        "confirming who they are about; set needs_confirmation: true",
                        "GDPR Art. 22 (automated decisions); EU AI Act Art. 14 (human oversight)",
                    )

    def counted(self, behaviour: str) -> bool:
        """Whether records of behaviour move any score or list."""
        return behaviour in self.scored

    def programs(self) -> None:
        for name, program in self.rulebook.programs.items():
            path: KeyPath = ("programs", name)
            for index, behaviour in enumerate(program.enrol_on):
                self.known_behaviour(behaviour, (*path, "enrol_on", index))
            if program.floor is not None and program.ceiling is not None and program.floor > program.ceiling:
                self.error("floor-above-ceiling", (*path, "floor"), "floor is above ceiling")
            bounds = list(program.tiers.values())
            if len(set(bounds)) != len(bounds):
                self.error("duplicate-tier-bound", (*path, "tiers"), "two tiers share one lower bound")
            if program.tiers and program.floor is not None and min(bounds) > program.floor:
                self.error(
                    "no-tier-at-floor",
                    (*path, "tiers"),
                    f"no tier bound at or below the floor {program.floor}: a score at the floor would have no tier",
                )
            for behaviour, rule in program.points.items():
                rule_path: KeyPath = (*path, "points", behaviour)
                self.known_behaviour(behaviour, rule_path)
                signs = {(value > 0) - (value < 0) for value in rule.ladder} - {0}
                if len(signs) > 1:
                    self.error(
                        "mixed-sign",
                        (*rule_path, "points"),
                        f"points of {behaviour!r} mix signs {rule.ladder}; one behaviour moves a score one way",
                    )
                adverse = any((value < 0) if program.higher_is == "better" else (value > 0) for value in rule.ladder)
                if adverse and rule.expires_after is None and program.resets is None:
                    self.warning(
                        "permanent-mark",
                        rule_path,
                        f"adverse points for {behaviour!r} never expire; add expires_after",
                        "storage limitation, GDPR Art. 5(1)(e); FCRA §605 (obsolete information)",
                    )

    def lists(self) -> None:
        for name, listed in self.rulebook.lists.items():
            path: KeyPath = ("lists", name)
            for key in ("enter_on", "leave_on"):
                for index, behaviour in enumerate(getattr(listed, key)):
                    self.known_behaviour(behaviour, (*path, key, index))
            if listed.enter_on and not listed.leave_on and listed.lasts is None:
                self.error(
                    "no-way-off",
                    path,
                    f"list {name!r} is entered on a record but has neither leave_on nor lasts: no way off it",
                    "credo: no permanent marks; right to rehabilitation",
                )
            if listed.enter_when is not None:
                for leaf, leaf_path in condition_leaves(listed.enter_when, (*path, "enter_when")):
                    if isinstance(leaf, ListCondition):
                        self.error(
                            "list-in-enter-when",
                            leaf_path,
                            "enter_when may name programs only, never lists",
                        )
                    else:
                        self.program_condition(leaf, leaf_path)

    def program_condition(self, leaf: ProgramCondition, path: KeyPath) -> None:
        program = self.rulebook.programs.get(leaf.program)
        if program is None:
            self.error(
                "unknown-program", (*path, "program"), self.unknown("program", leaf.program, self.rulebook.programs)
            )
            return
        name, value = leaf.test
        if name.startswith("tier"):
            for tier in value if isinstance(value, list) else [value]:
                if tier not in program.tiers:
                    known = ", ".join(program.tier_order()) or "none"
                    self.error(
                        "unknown-tier", (*path, name), f"program {leaf.program!r} has no tier {tier!r}; tiers: {known}"
                    )

    def measures(self) -> None:
        for name, measure in self.rulebook.measures.items():
            path: KeyPath = ("measures", name)
            action = self.rulebook.actions.get(measure.action)
            if action is None:
                self.error(
                    "unknown-action", (*path, "action"), self.unknown("action", measure.action, self.rulebook.actions)
                )
            if not (measure.basis or "").strip():
                self.error(
                    "no-basis",
                    path,
                    f"measure {name!r} names no legal basis; add basis",
                    "no secret rules: Shanghai Social Credit Regulations (2017) Art. 32",
                )
            for leaf, leaf_path in condition_leaves(measure.when, (*path, "when")):
                if isinstance(leaf, ListCondition):
                    if leaf.list_ not in self.rulebook.lists:
                        self.error(
                            "unknown-list", (*leaf_path, "list"), self.unknown("list", leaf.list_, self.rulebook.lists)
                        )
                else:
                    self.program_condition(leaf, leaf_path)
            if action is None or measure.effect == "perk":
                continue
            if action.essential:
                self.warning(
                    "essential-service",
                    (*path, "effect"),
                    f"a {measure.effect} on {measure.action!r}, an essential service ({action.context})",
                    "EU Charter Arts. 14, 34-36 (education, social security, health care, services of general "
                    "interest); proportionality",
                )
            if measure.effect == "deny":
                foreign = sorted(self.trigger_categories(measure.when) - {action.context})
                if foreign:
                    self.warning(
                        "cross-context",
                        (*path, "when"),
                        f"denies {measure.action!r} ({action.context}) on behaviour from other contexts: "
                        f"{', '.join(foreign)}",
                        "EU AI Act Art. 5(1)(c)(i) (social scoring: detrimental treatment in unrelated contexts)",
                    )

    def trigger_categories(self, condition: Condition, negated: bool = False) -> frozenset[str]:
        """The categories of the behaviours whose records can make a condition true (adverse ones, for a deny)."""
        if isinstance(condition, AllCondition | AnyCondition):
            items = condition.all_ if isinstance(condition, AllCondition) else condition.any_
            return frozenset().union(*(self.trigger_categories(item, negated) for item in items))
        if isinstance(condition, NotCondition):
            return self.trigger_categories(condition.not_, not negated)
        if isinstance(condition, ProgramCondition):
            program = self.rulebook.programs.get(condition.program)
            if program is None:
                return frozenset()
            downward = pushes_down(condition, program.higher_is) != negated
            return self._cached(("program", condition.program, downward), lambda: {
                behaviour
                for behaviour, rule in program.points.items()
                if any((value < 0) if downward else (value > 0) for value in rule.ladder)
            })  # fmt: skip
        listed = self.rulebook.lists.get(condition.list_)
        if listed is None:
            return frozenset()
        if negated:
            return self._cached(("leave", condition.list_, True), lambda: set(listed.leave_on))
        found = self._cached(("enter", condition.list_, False), lambda: set(listed.enter_on))
        if listed.enter_when is not None:
            found |= self.trigger_categories(listed.enter_when)
        return found

    def _cached(self, key: tuple[str, str, bool], behaviours: Callable[[], set[str]]) -> frozenset[str]:
        """The categories of a set of behaviours, computed once per program direction or list."""
        if key not in self._categories:
            catalogue = self.rulebook.behaviours
            self._categories[key] = frozenset(catalogue[b].category for b in behaviours() if b in catalogue)
        return self._categories[key]


def lint(rulebook: Rulebook, source: SourceMap | None = None) -> LintReport:
    """Check a validated rulebook against the rights-by-design rules."""
    source = source or SourceMap("<rulebook>")
    return LintReport(source.file, tuple(_Linter(rulebook, source).run()))


def lint_file(path: str | Path) -> tuple[Rulebook | None, LintReport]:
    """Validate and lint a file; contract violations come back as error findings.

    A file that is no rulebook at all (unreadable, too large, not UTF-8, not a mapping) raises
    RulebookFileError: that is bad input, not a rulebook with errors in it.
    """
    try:
        rulebook, source = read_rulebook(path)
    except RulebookFileError:
        raise
    except RulebookError as exc:
        located = {str(problem): problem for problem in exc.located}
        findings = []
        for text in exc.problems:
            problem = located.get(text)
            findings.append(
                Finding("error", "invalid", text, problem.path if problem else "", str(path),
                        problem.line if problem else None, "credo rulebook contract",
                        problem.column if problem else None)
            )  # fmt: skip
        return None, LintReport(str(path), tuple(findings))
    return rulebook, lint(rulebook, source)


def _checked(rulebook: Rulebook, source: SourceMap) -> Rulebook:
    report = lint(rulebook, source)
    if report.errors:
        raise RulebookError([str(finding) for finding in report.errors], source.file)
    return rulebook


def load_rulebook(path: str | Path) -> Rulebook:
    """Read, validate and lint a rulebook; raise RulebookError if lint finds errors."""
    return _checked(*read_rulebook(path))


def loads_rulebook(text: str, file: str = "<rulebook>") -> Rulebook:
    """Like load_rulebook, from text."""
    return _checked(*parse_rulebook(text, file))
