"""Rules 6 and 7 of DESIGN §4 for a whole population: list membership and measures at an instant.

A level list (enter_when with neither leave_on nor lasts) holds exactly while its condition
does, so its membership at t is the condition at t. A latched list needs the condition's
trajectory: the score of every referenced program at every instant where one can change (record
instants, record ends, enrolment), so that each instant where the condition becomes true opens a
stay, closed by the first leave_on record after it or by `lasts`.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from credo.population.calendar import expiry_band
from credo.population.context import PopulationRun
from credo.population.scores import (
    clamp,
    duration_parts,
    enrolment,
    program_points,
    programs_of,
    scores_now,
    subjects,
    traced,
)
from credo.rules.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ListCondition,
    ListDef,
    NotCondition,
    Rulebook,
)
from credo.rules.time import BEGINNING
from credo.semantics.conditions import holds

TS = "timestamp('UTC', 6)"


def _rank(rulebook: Rulebook, program: str, score: ir.NumericValue) -> ir.IntegerValue:
    order = rulebook.programs[program].tier_order()
    bounds = [(rulebook.programs[program].tiers[name], index) for index, name in enumerate(order)]
    return ibis.cases(*((score >= bound, index) for bound, index in reversed(bounds)), else_=-1) if bounds else (
        ibis.literal(-1))  # fmt: skip


def condition(rulebook: Rulebook, cond: Condition, row: ir.Table) -> ir.BooleanValue:
    """A condition over columns score__P, enrolled__P (and on__L for lists) of `row`."""
    if isinstance(cond, AllCondition):
        parts = [condition(rulebook, item, row) for item in cond.all_]
        result = parts[0]
        for part in parts[1:]:
            result = result & part
        return result
    if isinstance(cond, AnyCondition):
        parts = [condition(rulebook, item, row) for item in cond.any_]
        result = parts[0]
        for part in parts[1:]:
            result = result | part
        return result
    if isinstance(cond, NotCondition):
        return ~condition(rulebook, cond.not_, row)
    if isinstance(cond, ListCondition):
        return row[f"on__{cond.list_}"].fill_null(False)
    program = rulebook.programs[cond.program]
    score = row[f"score__{cond.program}"]
    name, value = cond.test
    if name == "score_below":
        test = score < value
    elif name == "score_at_least":
        test = score >= value
    elif name == "score_at_most":
        test = score <= value
    else:
        rank = _rank(rulebook, cond.program, score)
        order = program.tier_order()
        if name == "tier_in":
            test = rank.isin([order.index(tier) for tier in value])
        elif name == "tier_at_least":
            test = rank >= order.index(value)
        else:
            test = rank <= order.index(value)
    return (row[f"enrolled__{cond.program}"] & test).fill_null(False)


def _scores_at(run: PopulationRun, programs: list[str], instants: ir.Table) -> ir.Table:
    """(subject, x, score__P, enrolled__P ...) for each instant x of each subject."""
    table = instants
    for name in programs:
        program = run.rulebook.programs[name]
        entries = program_points(run, name)
        pairs = table.select("subject", "x").inner_join(entries, "subject")
        pairs = pairs.filter((pairs.at <= pairs.x) & (pairs.end.isnull() | (pairs.x < pairs.end)))
        sums = pairs.group_by(["subject", "x"]).agg(total=pairs.effective.sum())
        table = table.left_join(sums, ["subject", "x"]).drop("subject_right", "x_right")
        score = clamp(program, table.total)
        enrolled = enrolment(run, name)
        table = table.left_join(enrolled, "subject").drop("subject_right")
        table = table.mutate(
            **{
                f"score__{name}": score,
                f"enrolled__{name}": table.held & table.enrolled_at.notnull() & (table.enrolled_at <= table.x),
            }
        ).drop("total", "held", "enrolled_at")
    return table


def _instants(run: PopulationRun, programs: list[str], cond: Condition) -> ir.Table:
    """(subject, x): every instant up to `at` where a referenced program's score may change."""
    at = run.at
    parts = [_followed(run, programs, cond).select("subject", x=ibis.literal(BEGINNING, type=TS))]
    for name in programs:
        entries = program_points(run, name)
        parts.append(entries.select("subject", x=entries.at))
        parts.append(entries.filter(entries.end.notnull() & (entries.end <= at)).select("subject", x=entries.end))
        enrolled = enrolment(run, name)
        joined = enrolled.filter(enrolled.held & enrolled.enrolled_at.notnull())
        parts.append(joined.select("subject", x=joined.enrolled_at))
    return ibis.union(*parts, distinct=True)


def _followed(run: PopulationRun, programs: list[str], cond: Condition) -> ir.Table:
    """(subject) of everyone whose condition may hold at some instant. A condition false for a
    subject enrolled in none of its programs (most are) is false at every instant for a subject
    never enrolled in one by `at`: say, a business grade for a person. Only the others are traced;
    every record and enrolment the trajectory reads is of a subject enrolled by `at`."""
    everyone = subjects(run).select("subject")
    if holds(cond, run.at, {}):
        return everyone
    enrolled = [enrolment(run, name) for name in programs]
    parts = [table.filter(table.held & table.enrolled_at.notnull()).select("subject") for table in enrolled]
    return ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0]


def members(run: PopulationRun, name: str) -> ir.Table:
    """(subject) of everyone on the list at `at`."""
    return run.keep("members", name, lambda: _members(run, name, run.rulebook.lists[name]))


def _members(run: PopulationRun, name: str, listed: ListDef) -> ir.Table:
    rulebook, records, at = run.rulebook, run.records, run.at
    known = records.filter(records.at <= at)
    stays: list[ir.Table] = []
    if listed.enter_on:
        opened = known.filter(known.behaviour.isin(listed.enter_on))
        stays.append(opened.select("subject", x=opened.at, pos=opened.pos))
    if listed.enter_when is not None:
        programs = programs_of(listed.enter_when)
        if not traced(listed):
            state = scores_now(run)
            return state.filter(condition(rulebook, listed.enter_when, state)).select("subject")
        state = _scores_at(run, programs, _instants(run, programs, listed.enter_when))
        state = state.mutate(holds=condition(rulebook, listed.enter_when, state))
        before = ibis.window(group_by="subject", order_by="x")
        state = state.mutate(was=state.holds.lag().over(before).fill_null(False))
        opening = state.filter(state.holds & ~state.was)
        # A stay opened by a condition is left only by a record at a later instant.
        stays.append(opening.select("subject", "x", pos=ibis.literal(2**62, type="int64")))
    if not stays:
        return records.select("subject").filter(ibis.literal(False))
    opens = ibis.union(*stays) if len(stays) > 1 else stays[0]
    band = None if listed.lasts is None else expiry_band(listed.lasts, at, rulebook.tz)
    if band is not None:  # a stay opened before the band has run its length by `at`: leave it out early
        opens = opens.filter(opens.x >= band[0])
    opens = opens.mutate(stay=ibis.row_number().over(ibis.window(order_by=["subject", "x", "pos"])))
    close = ibis.null(TS)
    if listed.leave_on:
        leaves = known.filter(known.behaviour.isin(listed.leave_on))
        leaves = leaves.select(subject_l=leaves.subject, at_l=leaves.at, pos_l=leaves.pos)
        pairs = opens.inner_join(leaves, opens.subject == leaves.subject_l)
        later = (pairs.at_l > pairs.x) | ((pairs.at_l == pairs.x) & (pairs.pos_l > pairs.pos))
        first = pairs.filter(later).group_by("stay").agg(left_at=pairs.at_l.min())
        opens = opens.left_join(first, "stay").drop("stay_right")
        close = opens.left_at
    if listed.lasts is not None:
        months, days, seconds = duration_parts(listed.lasts)
        ends = run.calendar.shift(opens.x, ibis.literal(months), ibis.literal(days), ibis.literal(seconds))
        close = ends if listed.leave_on == [] else ibis.least(opens.left_at, ends)
    opens = opens.mutate(close=close)
    inside = opens.filter((opens.x <= at) & (opens.close.isnull() | (at < opens.close)))
    return inside.select("subject").distinct()


def memberships(run: PopulationRun) -> ir.Table:
    """(subject, list) for every stay on a list at `at`."""
    parts = [members(run, name).mutate(list=ibis.literal(name)) for name in run.rulebook.lists]
    if not parts:
        return run.records.select("subject", list=ibis.literal("")).filter(ibis.literal(False))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def state_now(run: PopulationRun) -> ir.Table:
    """(subject, score__P, enrolled__P ..., on__L ...) of everyone at `at`: what measures read."""

    def build() -> ir.Table:
        state = scores_now(run)
        for name in run.rulebook.lists:
            on = members(run, name).mutate(**{f"on__{name}": ibis.literal(True)})
            state = state.left_join(on, "subject").drop("subject_right")
        return state

    return run.keep("state", "", build)


def measures(run: PopulationRun) -> ir.Table:
    """(subject, action, measure, effect) for every measure that applies at `at`."""
    rulebook = run.rulebook
    state = state_now(run)
    parts: list[Any] = []
    for name, measure in rulebook.measures.items():
        applying = state.filter(condition(rulebook, measure.when, state))
        parts.append(applying.select("subject", action=ibis.literal(measure.action), measure=ibis.literal(name),
                                     effect=ibis.literal(measure.effect)))  # fmt: skip
    if not parts:
        nothing = ibis.literal("")
        return state.select("subject", action=nothing, measure=nothing, effect=nothing).filter(ibis.literal(False))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
