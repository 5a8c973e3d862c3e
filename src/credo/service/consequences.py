"""What changed for a subject between two states, each change in plain words from the rulebook's
own texts (a measure's `detail`, a list's `description`), the worst first and the good news too."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from credo.semantics import SubjectState
from credo.semantics.explain import explain_list, explain_program

ConsequenceKind = Literal[
    "black_list_entered", "measure_denies", "measure_limits", "red_list_left", "perk_ended", "tier_fell",
    "black_list_left", "denial_lifted", "limit_lifted", "red_list_entered", "perk_applies", "tier_rose",
]  # fmt: skip

#: The order a notice lists its consequences in: a black list first, then what is refused, what is
#: limited, what is lost; then the good news in the same order.
WEIGHT: dict[str, int] = {kind: rank for rank, kind in enumerate(ConsequenceKind.__args__)}  # type: ignore[attr-defined]

_NEW_MEASURE = {"deny": "measure_denies", "limit": "measure_limits", "perk": "perk_applies"}
_ENDED_MEASURE = {"deny": "denial_lifted", "limit": "limit_lifted", "perk": "perk_ended"}
_LABEL = {
    "measure_denies": "Refused",
    "measure_limits": "Limited",
    "perk_applies": "New benefit",
    "denial_lifted": "No longer refused",
    "limit_lifted": "No longer limited",
    "perk_ended": "Benefit ended",
}


class Consequence(BaseModel):
    """One thing that changed for the subject: its kind, good or bad, in words, and its facts."""

    kind: ConsequenceKind
    good: bool
    text: str
    about: str = Field(description="the rulebook's name of the list, program or measure it concerns")
    facts: dict[str, Any] = Field(default_factory=dict)

    @property
    def topic(self) -> tuple[str, str]:
        return self.kind, self.about


def words(name: str) -> str:
    """A rulebook name as words: dishonest_judgment_debtors -> dishonest judgment debtors."""
    return name.replace("_", " ").replace("-", " ").strip()


def day(value: str | dt.datetime | None, tz: dt.tzinfo) -> str | None:
    """The date of an instant in the rulebook's zone (ISO text is already in it)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:10]
    return value.astimezone(tz).date().isoformat()


def _score(value: float | None) -> str:
    return "none" if value is None else (str(int(value)) if float(value).is_integer() else f"{value:g}")


def _described(text: str | None) -> str:
    return f" ({text.strip().rstrip('.')})" if text else ""


def consequences(before: SubjectState | None, after: SubjectState) -> list[Consequence]:
    """Everything that changed between the two states, ordered by weight."""
    found = _lists(before, after) + _tiers(before, after) + _measures(before, after)
    return sorted(found, key=lambda item: WEIGHT[item.kind])


def _lists(before: SubjectState | None, after: SubjectState) -> list[Consequence]:
    found: list[Consequence] = []
    was, now = set(before.lists()) if before is not None else set(), set(after.lists())
    for name in sorted(now - was):
        listed = after.rulebook.lists[name]
        reasons = after.list_reason(name, after.at)
        until = day(reasons["until"], after.tz)
        because = f" because of record {', '.join(reasons['opened_by'])}" if reasons["opened_by"] else ""
        stay = f"; you stay on it until {until} at the latest" if until else ""
        text = f"You were put on the {listed.kind} list “{words(name)}”{_described(listed.description)}{because}{stay}."
        kind: ConsequenceKind = "black_list_entered" if listed.kind == "black" else "red_list_entered"
        way_out = explain_list(after, name)["way_off"]
        found.append(Consequence(kind=kind, good=listed.kind == "red", text=text, about=name,
                                 facts={"reasons": reasons, "way_out": way_out}))  # fmt: skip
    rulebook = before.rulebook if before is not None else after.rulebook
    for name in sorted(was - now):
        kind = "black_list_left" if rulebook.lists[name].kind == "black" else "red_list_left"
        colour = rulebook.lists[name].kind
        text = f"You are off the {colour} list “{words(name)}”."
        found.append(Consequence(kind=kind, good=colour == "black", text=text, about=name))
    return found


def _tiers(before: SubjectState | None, after: SubjectState) -> list[Consequence]:
    found: list[Consequence] = []
    if before is None:
        return found
    for program in after.enrolled():
        if program not in before.enrolled() or program not in before.timelines:
            continue
        timeline = after.timelines[program]
        old, new = before.tier(program), after.tier(program)
        step = 1 if timeline.program.higher_is == "better" else -1
        if old == new:
            continue
        better = (timeline.tier_rank(new) - timeline.tier_rank(old)) * step > 0
        score = after.score(program)
        text = (f"Your grade in the {words(program)} programme {'rose' if better else 'fell'} from {old} to {new} "
                f"(score {_score(score)}).")  # fmt: skip
        facts: dict[str, Any] = {"from": old, "to": new, "score": score}
        if not better:
            mine = explain_program(after, timeline)
            facts["reasons"] = sorted(mine["records"], key=lambda entry: entry["effective"] * step)[:4]
            facts["way_out"] = mine["next_tier"]
        kind: ConsequenceKind = "tier_rose" if better else "tier_fell"
        found.append(Consequence(kind=kind, good=better, text=text, about=program, facts=facts))
    return found


def _measures(before: SubjectState | None, after: SubjectState) -> list[Consequence]:
    """The measures that began or ended to apply. Which hold is compared first, and only an
    action with a new measure is decided (for its reasons): most actions change nothing."""
    found: list[Consequence] = []
    for action in after.rulebook.actions:
        now = after.holding(action)
        then: list[str] = []
        if before is not None and action in before.rulebook.actions:
            then = before.holding(action)
        if now == then:
            continue
        if any(name not in then for name in now):
            decision = after.decide(action)
            for measure in decision.measures:
                if measure.measure in then:
                    continue
                kind: ConsequenceKind = _NEW_MEASURE[measure.effect]  # type: ignore[assignment]
                text = f"{_LABEL[kind]} ({words(action)}): {measure.detail or words(measure.measure)}."
                facts = {"action": action, "effect": measure.effect, "basis": measure.basis,
                         "reasons": decision.key_factors if measure.effect != "perk" else measure.reasons}  # fmt: skip
                found.append(Consequence(kind=kind, good=measure.effect == "perk", text=text, about=measure.measure,
                                         facts=facts))  # fmt: skip
        for name in then:
            if name in now:
                continue
            ended = before.rulebook.measures[name]  # type: ignore[union-attr]  # then is empty without before
            kind = _ENDED_MEASURE[ended.effect]  # type: ignore[assignment]
            text = f"{_LABEL[kind]} ({words(action)}): “{ended.detail or words(name)}” no longer applies to you."
            facts = {"action": action, "effect": ended.effect, "basis": ended.basis}
            found.append(Consequence(kind=kind, good=ended.effect != "perk", text=text, about=name, facts=facts))
    return found
