"""Explanations: every point explained, when it stops counting, and the way forward (DESIGN §4)."""

from __future__ import annotations

from typing import Any

from credo.rules.lint import walk_conditions
from credo.rules.model import ProgramCondition
from credo.rules.time import iso
from credo.semantics.records import Record
from credo.semantics.state import SubjectState
from credo.semantics.timeline import Entry, ProgramTimeline, build_timeline

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def _ordinal(step: int) -> str:
    return _ORDINALS.get(step, f"{step}th")


def rule_text(entry: Entry) -> str:
    """Which rule gave the points, in words."""
    rule, behaviour = entry.rule, entry.record.behaviour
    if rule.reset:
        text = f"{behaviour}: reset (wipes earlier records)"
    elif isinstance(rule.points, list):
        window = f" within {rule.repeat_window}" if rule.repeat_window else " still counting"
        rung = min(entry.step, len(rule.points)) - 1
        text = f"{behaviour}: points[{rung}] = {entry.base} ({_ordinal(entry.step)} offence{window})"
    else:
        text = f"{behaviour}: {entry.base} points"
    if rule.cap is not None and entry.effective != entry.base:
        text += f", capped at {rule.cap.points} per {rule.cap.per}"
    return text


def _favourable(timeline: ProgramTimeline, behaviour: str) -> bool:
    rule = timeline.program.points[behaviour]
    better = timeline.program.higher_is == "better"
    return rule.reset or any((value > 0) if better else (value < 0) for value in rule.ladder)


def _hypothetical(state: SubjectState, behaviour: str) -> Record:
    return Record(state.subject, behaviour, state.at, id=f"(one more {behaviour} now)", kind=state.kind)


def _next_tier(state: SubjectState, timeline: ProgramTimeline) -> dict[str, Any] | None:
    """The next better tier: when expiry alone gets there, and which behaviours get there sooner."""
    order = timeline.program.tier_order()
    if not order:
        return None
    current = timeline.tier_rank(timeline.tier_at(state.at))
    step = 1 if timeline.program.higher_is == "better" else -1
    target = current + step
    if not 0 <= target < len(order):
        return None

    def reached(line: ProgramTimeline, instant: Any) -> bool:
        rank = line.tier_rank(line.tier_at(instant))
        return rank >= target if step > 0 else (rank <= target and rank >= 0)

    by_expiry = next(
        (instant for instant in timeline.instants if instant > state.at and reached(timeline, instant)), None
    )
    sooner: list[dict[str, Any]] = []
    for behaviour in timeline.program.points:
        if not _favourable(timeline, behaviour):
            continue
        records = [*state.records, _hypothetical(state, behaviour)]
        line = build_timeline(timeline.name, timeline.program, records, state.tz, state.points_of)
        added = line.entries[-1] if line.entries and line.entries[-1].record.behaviour == behaviour else None
        sooner.append(
            {
                "behaviour": behaviour,
                "points": added.effective if added else 0,
                "reaches_now": reached(line, state.at),
            }
        )
    sooner.sort(key=lambda item: (not item["reaches_now"], -abs(item["points"])))
    return {
        "tier": order[target],
        "bound": timeline.program.tiers[order[target]],
        "earliest_by_expiry": iso(by_expiry, state.tz),
        "sooner_by": sooner,
    }


def explain_program(state: SubjectState, timeline: ProgramTimeline) -> dict[str, Any]:
    """One program's part of `explain`: its active records, next change and next better tier."""
    at, tz = state.at, state.tz
    score = timeline.score_at(at)
    change = timeline.next_change(at)
    return {
        "program": timeline.name,
        "score": score,
        "unclamped": timeline.unclamped_at(at),
        "tier": timeline.tier_of(score),
        "start": timeline.program.start,
        "floor": timeline.program.floor,
        "ceiling": timeline.program.ceiling,
        "higher_is": timeline.program.higher_is,
        "enrolled_since": iso(timeline.enrolled_at, tz),
        "records": [
            {
                "record": entry.record.id,
                "behaviour": entry.record.behaviour,
                "at": iso(entry.record.at, tz),
                "base": entry.base,
                "effective": entry.effective,
                "rule": rule_text(entry),
                "reference": entry.rule.reference,
                "until": iso(entry.end, tz),
                "ended_by": entry.ended_by,
            }
            for entry in timeline.active_at(at)
        ],
        "next_change": None if change is None else {"at": iso(change, tz), "score": timeline.score_at(change)},
        "next_tier": _next_tier(state, timeline),
    }


def explain_list(state: SubjectState, name: str) -> dict[str, Any]:
    """One list's part of `explain`: the stay's facts and the way off it."""
    listed = state.rulebook.lists[name]
    facts = state.list_reason(name, state.at)
    behaviours: list[dict[str, Any]] = []
    if listed.is_level and listed.enter_when is not None:
        # Off when the condition stops holding: which single records would end it now?
        for leaf in walk_conditions(listed.enter_when):
            if not isinstance(leaf, ProgramCondition) or leaf.program not in state.timelines:
                continue
            timeline = state.timelines[leaf.program]
            for behaviour in timeline.program.points:
                if _favourable(timeline, behaviour):
                    trial = SubjectState(
                        state.rulebook,
                        state.subject,
                        state.kind,
                        [*state.records, _hypothetical(state, behaviour)],
                        state.at,
                        state.points_of,
                    )
                    behaviours.append({"behaviour": behaviour, "leaves_now": not trial.on_list(name, state.at)})
    else:
        behaviours = [{"behaviour": behaviour, "leaves_now": True} for behaviour in listed.leave_on]
    return {
        "list": name,
        **facts,
        "way_off": {"earliest_by_expiry": facts["until"], "behaviours": behaviours},
    }


def explain(state: SubjectState) -> dict[str, Any]:
    """Every active record with its base and effective points, and what the subject can do next."""
    return {
        "subject": state.subject,
        "kind": state.kind,
        "at": iso(state.at, state.tz),
        "programs": [explain_program(state, state.timelines[name]) for name in state.enrolled()],
        "lists": [explain_list(state, name) for name in state.lists()],
    }
