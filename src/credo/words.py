"""What credo says to people: conditions, reasons, measures, stays and explanations in sentences.

One place for the words, so the CLI, the service's notices and the web pages say the same thing
the same way. Every function takes the rulebook's models or the facts the reference semantics
produce (the reason and explanation dicts of `credo.semantics`) and returns plain text, never
markup: Rich, HTML or JSON wrap it as they need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from credo.rules.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ListCondition,
    NotCondition,
    Program,
    ProgramCondition,
    Rulebook,
)
from credo.semantics.state import Decision, MeasureResult

#: An instant at midnight is a day: "2025-06-01", as the user wrote it (DESIGN §4: a date alone
#: means 00:00 in the rulebook's timezone).
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0+)?)?(?:Z|[+-]\d{2}:\d{2})?$")

_EFFECTS = {"deny": "denied", "limit": "limited", "perk": "perk"}


def when(instant: str | None, absent: str = "no end is set") -> str:
    """An instant as people read it: the day alone when it is midnight, else the ISO text."""
    if instant is None:
        return absent
    found = _MIDNIGHT.match(instant)
    return found.group(1) if found else instant


def enumerate_words(items: Sequence[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def program_name(name: str, rulebook: Rulebook | None = None) -> str:
    """A program as a sentence names it: its name with spaces for underscores."""
    del rulebook  # a rulebook may one day give a program a label; the name is what it has today
    return name.replace("_", " ")


def tier_ranking(program: Program) -> list[str]:
    """The program's tiers in the order of their bounds, the best first: AAA, AA, A, B … D where
    a higher score is better; clear, admonition … withdrawn where it is worse."""
    order = program.tier_order()
    return order[::-1] if program.higher_is == "better" else order


def tiers_in_order(program: Program, tiers: Iterable[str]) -> list[str]:
    """Tiers in the order of their bounds, the best first; no tier (or a name the program lacks) last."""
    ranking = tier_ranking(program)
    return sorted(tiers, key=lambda tier: (ranking.index(tier) if tier in ranking else len(ranking), tier))


def _program(rulebook: Rulebook | None, name: str) -> Program | None:
    return None if rulebook is None else rulebook.programs.get(name)


def program_test(leaf: ProgramCondition, rulebook: Rulebook | None = None, negated: bool = False) -> str:
    """'the business grade is C or lower'; negated: 'the business grade is not C or lower'."""
    test, value = leaf.test
    subject = program_name(leaf.program, rulebook)
    verb = "is not" if negated else "is"
    if test == "tier_in":
        program = _program(rulebook, leaf.program)
        tiers = tiers_in_order(program, value) if program is not None else list(value)
        if len(tiers) == 1:
            return f"the {subject} grade {verb} {tiers[0]}"
        return f"the {subject} grade {verb} one of {enumerate_words(tiers, 'or')}"
    if test in ("tier_at_least", "tier_at_most"):
        phrase = f"grade {verb} {value} or {'higher' if test == 'tier_at_least' else 'lower'}"
    else:
        words = {"score_below": "below {}", "score_at_least": "{} or more", "score_at_most": "{} or less"}[test]
        phrase = f"score {verb} " + words.format(_points(value))
    return f"the {subject} {phrase}"


def condition(cond: Condition, rulebook: Rulebook | None = None, negated: bool = False) -> str:
    """A `when` or `enter_when` condition as a sentence."""
    if isinstance(cond, ProgramCondition):
        return program_test(cond, rulebook, negated)
    if isinstance(cond, ListCondition):
        return f"the subject is {'not ' if negated else ''}on the {_list_kind(rulebook, cond.list_)}{cond.list_}"
    if isinstance(cond, NotCondition):
        return condition(cond.not_, rulebook, not negated)
    items = cond.all_ if isinstance(cond, AllCondition) else cond.any_
    joined = [_nested(item, rulebook, negated) for item in items]
    # De Morgan: "not (a and b)" reads "not a, or not b".
    conjunction = "and" if isinstance(cond, AllCondition) != negated else "or"
    if len(joined) == 1:
        return joined[0]
    lead = "both " if conjunction == "and" and len(joined) == 2 else "either " if conjunction == "or" else ""
    return lead + enumerate_words(joined, conjunction)


def _nested(cond: Condition, rulebook: Rulebook | None, negated: bool) -> str:
    text = condition(cond, rulebook, negated)
    return f"({text})" if isinstance(cond, AllCondition | AnyCondition) else text


def _list_kind(rulebook: Rulebook | None, name: str) -> str:
    listed = None if rulebook is None else rulebook.lists.get(name)
    return "list " if listed is None else f"{listed.kind} list "


def _points(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def _signed(value: Any) -> str:
    number = float(value)
    text = str(int(abs(number))) if number.is_integer() else str(abs(number))
    return f"{'-' if number < 0 else '+'}{text}"


def stay(facts: Mapping[str, Any], rulebook: Rulebook | None = None) -> str:
    """A stay on a list: 'on the black list X since 2024-09-10 (put there by record r0039); it
    ends on 2026-09-10 at the latest' or '…; no end is set' (or, for a list one is on while a
    condition holds, '…; it lasts while the business grade is D or lower')."""
    kind = f"{facts['kind']} list " if facts.get("kind") else "list "
    since = f"since {when(facts['since'])}" if facts.get("since") else "from the start"
    opened = list(facts.get("opened_by") or [])
    by = f" (put there by record{'s' if len(opened) > 1 else ''} {enumerate_words(opened)})" if opened else ""
    until = f"it ends on {when(facts['until'])} at the latest" if facts.get("until") else "no end is set"
    listed = None if rulebook is None else rulebook.lists.get(facts["list"])
    if not facts.get("until") and listed is not None and listed.is_level and listed.enter_when is not None:
        until = f"it lasts while {condition(listed.enter_when, rulebook)}"
    return f"on the {kind}{facts['list']} {since}{by}; {until}"


def reason(facts: Mapping[str, Any], rulebook: Rulebook | None = None) -> str:
    """One reason a measure applies (a dict of `MeasureResult.reasons`), as a sentence."""
    negated = bool(facts.get("negated"))
    if "list" in facts:
        if negated:
            return f"the subject is not on the {_list_kind(rulebook, facts['list'])}{facts['list']}"
        return "the subject is " + stay(facts, rulebook)
    leaf = ProgramCondition.model_validate(facts["condition"])
    text = program_test(leaf, rulebook, negated)
    name = program_name(facts["program"], rulebook)
    if not facts.get("enrolled", True) or facts.get("score") is None:
        return f"{text}: the subject is not enrolled in {name}"
    tier = f", grade {facts['tier']}" if facts.get("tier") is not None else ", no grade"
    text += f": the {name} score is {_points(facts['score'])}{tier}"
    records = [f"{fact['record']} ({_signed(fact['points'])})" for fact in facts.get("records") or []]
    if records:
        text += f"; the records that weigh most: {enumerate_words(records)}"
    return text


def measure(result: MeasureResult) -> str:
    """'limited: credit lines reduced and loans reviewed (business_credit_restriction)'."""
    detail = result.detail or "no detail given"
    return f"{_EFFECTS.get(result.effect, result.effect)}: {detail} ({result.measure})"


def verdict(decision: Decision) -> str:
    """'deny', 'allow', or 'allow with a limit' / 'allow with 2 limits': a limit is never hidden
    under a bare allow."""
    if decision.decision != "allow":
        return decision.decision
    limits = sum(1 for result in decision.measures if result.effect == "limit")
    if not limits:
        return "allow"
    return "allow with a limit" if limits == 1 else f"allow with {limits} limits"


def key_factor(factor: Mapping[str, Any]) -> str:
    """'record r0004 (contract_breach, 2024-01-28): -20 points in business'."""
    about = ", ".join(part for part in (factor.get("behaviour"), when(factor.get("at"), "")) if part)
    return f"record {factor['record']}" + (f" ({about})" if about else "") + f": {factor['why']}"


def next_change(change: Mapping[str, Any] | None) -> str:
    """When time alone next moves the score."""
    if change is None:
        return "next change: none by time alone (no record that counts has an end)"
    return (
        f"next change: on {when(change['at'])} the score becomes {_points(change['score'])} as a record stops counting"
    )


def next_tier(upgrade: Mapping[str, Any]) -> str:
    """The way to the next better tier: by expiry alone, and the behaviours that get there sooner."""
    reached = upgrade.get("earliest_by_expiry")
    head = f"next tier {upgrade['tier']} (from {_points(upgrade['bound'])} points): " + (
        f"reached on {when(reached)} as records stop counting" if reached else "time alone does not reach it"
    )
    sooner = [
        f"{item['behaviour']} ({_signed(item['points'])}{', reaches it at once' if item['reaches_now'] else ''})"
        for item in upgrade.get("sooner_by") or []
    ]
    return head + (f"; what helps: {enumerate_words(sooner)}" if sooner else "")


def way_off(listed: Mapping[str, Any], rulebook: Rulebook | None = None) -> str:
    """A stay on a list and the way off it, from an explanation's `lists` entry."""
    way = listed.get("way_off") or {}
    at_once = [item["behaviour"] for item in way.get("behaviours") or [] if item.get("leaves_now")]
    off = (
        f"a record of {enumerate_words(at_once, 'or')} takes the subject off at once"
        if at_once
        else "no single record takes the subject off now"
    )
    return f"{stay(listed, rulebook)}; {off}"
