"""Notices: a subject is told when a record, a correction or the passing of time puts them on a
black list, drops a tier, or makes a deny or limit apply, with the reasons, the way out and how
to appeal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from credo.ledger.chain import micros
from credo.semantics import SubjectState, explain
from credo.storage.sql import SqlStore

ADVERSE = ("deny", "limit")


def appeal_text(state: SubjectState) -> str:
    return (
        "You can see every record and its points at GET /v1/me/records and dispute any of them at "
        f"POST /v1/me/appeals; the operator must answer within {state.rulebook.appeals.respond_within}."
    )


def changes(before: SubjectState | None, after: SubjectState) -> list[tuple[str, dict[str, Any]]]:
    """What got worse for the subject between two states, as (kind, body) notices."""
    found: list[tuple[str, dict[str, Any]]] = []
    facts = explain(after)
    was_on = set(before.lists()) if before is not None else set()
    for name in after.lists():
        if after.rulebook.lists[name].kind == "black" and name not in was_on:
            way: dict[str, Any] = next((item for item in facts["lists"] if item["list"] == name), {})
            found.append(("black_list_entered", {
                "message": f"You are on the black list {name}.",
                "list": name,
                "reasons": after.list_reason(name, after.at),
                "way_out": way.get("way_off"),
            }))  # fmt: skip
    for program in after.enrolled():
        if before is None or program not in before.enrolled():
            continue
        timeline = after.timelines[program]
        old, new = before.tier(program), after.tier(program)
        step = 1 if timeline.program.higher_is == "better" else -1
        if old != new and (timeline.tier_rank(new) - timeline.tier_rank(old)) * step < 0:
            explained = next(item for item in facts["programs"] if item["program"] == program)
            adverse = sorted(explained["records"], key=lambda entry: entry["effective"] * step)[:4]
            found.append(("tier_dropped", {
                "message": f"Your tier in {program} fell from {old} to {new}.",
                "program": program, "from": old, "to": new, "score": after.score(program),
                "reasons": adverse, "way_out": explained["next_tier"],
            }))  # fmt: skip
    for action in after.rulebook.actions:
        now = after.decide(action)
        then = {m.measure for m in before.decide(action).measures} if before is not None else set()
        for measure in now.measures:
            if measure.effect in ADVERSE and measure.measure not in then:
                found.append(("measure_applies", {
                    "message": f"{measure.measure} now applies to {action}: {measure.detail}",
                    "action": action, "measure": measure.measure, "effect": measure.effect,
                    "basis": measure.basis, "reasons": now.key_factors,
                }))  # fmt: skip
    return found


def notify(store: SqlStore, before: SubjectState | None, after: SubjectState, now: dt.datetime) -> int:
    """Store a notice for each change for the worse; return how many."""
    count = 0
    for kind, body in changes(before, after):
        body = {"at": now.isoformat(), **body, "appeal": appeal_text(after)}
        store.add_notice(uuid.uuid4().hex, after.subject, kind, micros(now), body)
        count += 1
    return count


def tell(store: SqlStore, subject: str, kind: str, message: str, now: dt.datetime, **facts: Any) -> None:
    """A notice that is not about a change of state (an appeal's outcome, a lapse)."""
    store.add_notice(uuid.uuid4().hex, subject, kind, micros(now), {"at": now.isoformat(), "message": message, **facts})
