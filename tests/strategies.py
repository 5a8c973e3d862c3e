"""Hypothesis strategies for random rulebooks and ledgers, shared by every property test."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from credo.rules import Rulebook, lint
from credo.semantics import Record

BEHAVIOURS = ["a", "b", "c", "d", "e"]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DURATIONS = ["P1M", "P3M", "P6M", "P1Y", "P2Y", "P30D"]


@st.composite
def points_rules(draw: st.DrawFn, favourable: bool) -> dict[str, Any]:
    sign = 1 if favourable else -1
    magnitudes = draw(st.lists(st.integers(1, 20), min_size=1, max_size=3))
    rule: dict[str, Any] = {"points": sign * magnitudes[0] if len(magnitudes) == 1 else [sign * m for m in magnitudes]}
    if draw(st.booleans()):
        rule["expires_after"] = draw(st.sampled_from(DURATIONS))
    if isinstance(rule["points"], list) and draw(st.booleans()):
        rule["repeat_window"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        rule["cap"] = {"points": draw(st.integers(1, 30)), "per": draw(st.sampled_from(["year", "quarter", "month"]))}
    return rule


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    """A valid rulebook: one program over the behaviours, a reset, optional clamps, tiers and lists."""
    points: dict[str, Any] = {}
    for behaviour in BEHAVIOURS[:4]:
        points[behaviour] = draw(points_rules(favourable=behaviour in {"a", "b"}))
    if draw(st.booleans()):
        points["e"] = {"reset": True}
    start = draw(st.integers(-10, 50))
    program: dict[str, Any] = {"start": start, "points": points}
    floor = draw(st.one_of(st.none(), st.integers(-20, start)))
    ceiling = draw(st.one_of(st.none(), st.integers(start, start + 60)))
    if floor is not None:
        program["floor"] = floor
    if ceiling is not None:
        program["ceiling"] = ceiling
    bounds = sorted(set(draw(st.lists(st.integers(-30, 80), min_size=1, max_size=4))))
    if floor is not None:
        bounds = sorted({min(bounds[0], floor), *bounds[1:]})
    program["tiers"] = {f"t{index}": bound for index, bound in enumerate(bounds)}
    program["resets"] = draw(st.sampled_from([None, "year", "quarter", "month"]))
    if draw(st.booleans()):
        program["enrol_on"] = ["e"] if "e" in points else ["a"]
    threshold = draw(st.integers(-10, 40))
    lists: dict[str, Any] = {
        "low": {"kind": "black", "enter_when": {"program": "p", "score_below": threshold}},
        "marked": {"kind": "black", "enter_on": ["c"], "leave_on": ["a"], "lasts": draw(st.sampled_from(DURATIONS))},
        "latched": {"kind": "black", "enter_when": {"program": "p", "score_at_most": threshold}, "lasts": "P6M"},
    }
    document = {
        "rulebook": "random",
        "version": "1",
        "behaviours": {name: {"category": "conduct"} for name in BEHAVIOURS},
        "programs": {"p": program},
        "lists": lists,
        "actions": {"act": {"context": "conduct"}},
        "measures": {
            "ban": {
                "action": "act",
                "effect": "deny",
                "basis": "test",
                "when": {"any": [{"list": "low"}, {"list": "marked"}]},
            },
            "slow": {"action": "act", "effect": "limit", "basis": "test", "when": {"list": "latched"}},
            "perk": {"action": "act", "effect": "perk", "basis": "test", "when": {"program": "p", "tier_in": ["t0"]}},
        },
    }
    rulebook = Rulebook.model_validate(document)
    assert lint(rulebook).ok, lint(rulebook).errors
    return rulebook


#: Hours after midnight UTC: mostly none (so that records share instants), else hours at which
#: the calendar day or month differs between zones (16:00 UTC is midnight in Shanghai, 04:00 and
#: 05:00 are midnight in New York).
HOURS = [0, 0, 0, 0, 4, 5, 16, 17, 23]


def instants(max_days: int = 3 * 366) -> st.SearchStrategy[dt.datetime]:
    return st.builds(
        lambda days, hours: START + dt.timedelta(days=days, hours=hours),
        st.integers(0, max_days),
        st.sampled_from(HOURS),
    )


@st.composite
def ledgers(draw: st.DrawFn, subjects: tuple[str, ...] = ("s",), max_size: int = 25) -> list[Record]:
    rows = draw(
        st.lists(st.tuples(st.sampled_from(subjects), st.sampled_from(BEHAVIOURS), instants()), max_size=max_size)
    )
    return [Record(subject, behaviour, at, f"r{index}") for index, (subject, behaviour, at) in enumerate(rows)]
