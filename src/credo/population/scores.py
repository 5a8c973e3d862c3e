"""Rules 1-5 of DESIGN §4 for a whole population at once, as one Ibis expression per program.

The reference evaluator (credo.semantics) states the rules one subject at a time; this states
them again as column expressions, executed by the engine (DuckDB here), and is held equal to the
reference by property tests. Histories are short, so escalation is a self-join within
(subject, behaviour); caps are running sums over calendar periods; expiry, calendar resets and
reset records give each record its end; the score at t sums what is active then.

Calendar arithmetic is the engine's, in the rulebook's timezone (the connection's TimeZone),
which matches dateutil's relativedelta: 2024-02-29 + P1Y = 2025-02-28.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from credo.population.context import PopulationRun
from credo.rules.model import PointsRule, Rulebook
from credo.rules.time import Duration

TIMESTAMP = "timestamp('UTC', 6)"
RECORD_SCHEMA = ibis.schema(
    {"subject": "string", "kind": "string", "behaviour": "string", "at": "timestamp('UTC', 6)", "pos": "int64"}
)


def duration_parts(duration: Duration | None) -> tuple[int | None, int | None, int | None]:
    """(months, days, seconds) of a duration, as the engine adds them (months first)."""
    if duration is None:
        return None, None, None
    delta = duration.delta
    return delta.years * 12 + delta.months, delta.days, delta.hours * 3600 + delta.minutes * 60 + delta.seconds


def rules_table(name: str, versions: Sequence[tuple[dt.datetime | None, Rulebook]]) -> ir.Table:
    """One row per behaviour with points in the program and rulebook version: its ladder, durations
    and cap, and the instants [v_from, v_to) where that version is in force (null: unbounded)."""
    rows: dict[str, list[Any]] = {key: [] for key in (
        "behaviour", "ladder", "rungs", "sign", "reset", "exp_m", "exp_d", "exp_s", "win_m", "win_d", "win_s",
        "cap", "cap_per", "v_from", "v_to")}  # fmt: skip
    starts = [effective for effective, _ in versions]
    for index, (effective, rulebook) in enumerate(versions):
        program = rulebook.programs.get(name)
        if program is None:
            continue
        until = starts[index + 1] if index + 1 < len(starts) else None
        for behaviour, rule in program.points.items():
            ladder = [float(value) for value in rule.ladder]
            rows["behaviour"].append(behaviour)
            rows["ladder"].append(ladder)
            rows["rungs"].append(len(ladder))
            rows["sign"].append(rule.sign)
            rows["reset"].append(rule.reset)
            for prefix, duration in (("exp", rule.expires_after), ("win", rule.repeat_window)):
                months, days, seconds = duration_parts(duration)
                rows[f"{prefix}_m"].append(months)
                rows[f"{prefix}_d"].append(days)
                rows[f"{prefix}_s"].append(seconds)
            rows["cap"].append(None if rule.cap is None else float(rule.cap.points))
            rows["cap_per"].append(None if rule.cap is None else rule.cap.per)
            rows["v_from"].append(None if effective is None else effective.astimezone(dt.UTC))
            rows["v_to"].append(None if until is None else until.astimezone(dt.UTC))
    schema = {"behaviour": "string", "ladder": "array<float64>", "rungs": "int64", "sign": "int64",
              "reset": "boolean", "exp_m": "int64", "exp_d": "int64", "exp_s": "int64", "win_m": "int64",
              "win_d": "int64", "win_s": "int64", "cap": "float64", "cap_per": "string", "v_from": TIMESTAMP,
              "v_to": TIMESTAMP}  # fmt: skip
    return ibis.memtable(rows, schema=schema)


def shift(at: ir.TimestampValue, months: ir.IntegerValue, days: ir.IntegerValue, seconds: ir.IntegerValue,
           sign: int = 1, used: tuple[bool, bool, bool] = (True, True, True)) -> ir.TimestampValue:  # fmt: skip
    """at ± a duration given as months, days and seconds (null when the duration is).

    `used` leaves out the parts no rule has (calendar arithmetic in a timezone is the costliest
    step of the whole definition); the months part is always kept, it carries the nulls.
    """
    shifted = at
    for amount, unit, wanted in ((months, "M", True), (days, "D", used[1]), (seconds, "s", used[2])):
        if wanted:
            shifted = shifted + (amount * sign).as_interval(unit)
    return shifted


def _parts_used(rules: list[PointsRule], attribute: str) -> tuple[bool, bool, bool]:
    """Which of (months, days, seconds) any rule's duration has."""
    parts = [duration_parts(getattr(rule, attribute)) for rule in rules]
    return tuple(any(part[index] for part in parts) for index in range(3))  # type: ignore[return-value]


def _period_start(at: ir.TimestampValue, period: ir.StringValue | str) -> ir.TimestampValue:
    """The first instant of the calendar period holding `at`, in the connection's timezone."""
    if isinstance(period, str):
        start = at.truncate({"year": "Y", "quarter": "Q", "month": "M"}[period])
    else:
        start = ibis.cases(
            (period == "year", at.truncate("Y")),
            (period == "quarter", at.truncate("Q")),
            else_=at.truncate("M"),
        )
    return start.cast(TIMESTAMP)  # DuckDB truncates a TIMESTAMPTZ to a TIMESTAMPTZ; say so to Ibis


def _period_end(at: ir.TimestampValue, period: str) -> ir.TimestampValue:
    months = {"year": 12, "quarter": 3, "month": 1}[period]
    return _period_start(at, period) + ibis.interval(months=months)


def program_entries(run: PopulationRun, name: str) -> ir.Table:
    """Every counted record of the program with its base and effective points and its end."""
    return run.keep("entries", name, lambda: _entries(run, name))


def _entries(run: PopulationRun, name: str) -> ir.Table:
    program = run.rulebook.programs[name]
    records = run.records
    known = records.filter(records.at <= run.at)
    held = known.filter(known.kind.isin(list(program.subjects)))
    rules = rules_table(name, run.versions)
    if [effective for effective, _ in run.versions] == [None]:  # file mode: one version, in force always
        rows = held.inner_join(rules, "behaviour").drop("v_from", "v_to")
    else:
        in_force = (rules.v_from.isnull() | (held.at >= rules.v_from)) & (rules.v_to.isnull() | (held.at < rules.v_to))
        rows = held.inner_join(rules, [held.behaviour == rules.behaviour, in_force]).drop(
            "behaviour_right", "v_from", "v_to"
        )
    if program.enrol_on:
        enrolled = held.filter(held.behaviour.isin(program.enrol_on)).group_by("subject").agg(enrolled_at=held.at.min())
        rows = rows.inner_join(enrolled, "subject").filter(lambda t: t.at >= t.enrolled_at).drop("enrolled_at")
    # The expression leaves out what no rule of the program uses (resets, ladders, caps): the
    # answer is the same, the work is not.
    used = [rule for _, book in run.versions if name in book.programs for rule in book.programs[name].points.values()]
    resets = any(rule.reset for rule in used)
    if resets:  # a record's place in its subject's history, to find the resets before and after it
        rows = rows.mutate(seq=ibis.row_number().over(ibis.window(group_by="subject", order_by=["at", "pos"])))
        later = ibis.window(group_by="subject", order_by="seq", rows=(1, None))
        earlier = ibis.window(group_by="subject", order_by="seq", rows=(None, -1))
        rows = rows.mutate(
            next_reset=rows.reset.ifelse(rows.at, ibis.null(TIMESTAMP)).min().over(later),
            last_reset=rows.reset.ifelse(rows.seq, ibis.null("int64")).max().over(earlier),
        )
    else:
        rows = rows.mutate(next_reset=ibis.null(TIMESTAMP), last_reset=ibis.null("int64"))
    parts = _parts_used(used, "expires_after")
    rows = rows.mutate(expiry=shift(rows.at, rows.exp_m, rows.exp_d, rows.exp_s, used=parts))
    ends = [rows.expiry, rows.next_reset]
    if program.resets is not None:
        ends.append(_period_end(rows.at, program.resets))
    rows = rows.mutate(end=ibis.least(*ends))

    rows = _escalation(rows, used, resets)
    rows = _caps(rows, used)
    return rows.select("subject", "behaviour", "at", "pos", "step", "base", "effective", "end")


def _escalation(rows: ir.Table, used: list[PointsRule], resets: bool) -> ir.Table:
    """Rule 1: escalation counts earlier records of the same behaviour, still active (or, with a
    repeat window, inside it and not wiped by a reset)."""
    if all(len(rule.ladder) == 1 for rule in used):
        return rows.mutate(step=ibis.literal(1, type="int64"), base=rows.ladder[0])
    laddered = rows.filter(rows.rungs > 1)  # only a ladder escalates: pair only its records
    if not resets:
        laddered = laddered.mutate(seq=ibis.literal(0, type="int64"))
    mine = laddered.select("subject", "behaviour", "pos", "seq", "at", "end", "rungs", "win_m", "win_d", "win_s",
                           "last_reset")  # fmt: skip
    theirs = laddered.select(
        subject_j=laddered.subject, behaviour_j=laddered.behaviour, pos_j=laddered.pos, seq_j=laddered.seq,
        at_j=laddered.at, end_j=laddered.end,
    )  # fmt: skip
    earlier = (theirs.at_j < mine.at) | ((theirs.at_j == mine.at) & (theirs.pos_j < mine.pos))
    pairs = mine.inner_join(theirs, [mine.subject == theirs.subject_j, mine.behaviour == theirs.behaviour_j, earlier])
    windowed = pairs.win_m.notnull()
    since = shift(pairs.at, pairs.win_m, pairs.win_d, pairs.win_s, sign=-1, used=_parts_used(used, "repeat_window"))
    counts = windowed.ifelse(
        (pairs.at_j > since) & (pairs.seq_j >= pairs.last_reset.fill_null(0)),
        pairs.end_j.isnull() | (pairs.end_j > pairs.at),
    )
    repeats = pairs.filter(counts).group_by(["subject", "pos"]).agg(repeats=ibis._.count())
    rows = rows.left_join(repeats, ["subject", "pos"]).drop("subject_right", "pos_right")
    step = (rows.repeats.fill_null(0) + 1).clip(upper=rows.rungs)
    return rows.mutate(step=step, base=rows.ladder[(step - 1).cast("int32")])  # Spark indexes with INT


def _caps(rows: ir.Table, used: list[PointsRule]) -> ir.Table:
    """Rule 2: caps, a running sum of base points per behaviour and calendar period."""
    free = rows.filter(rows.cap.isnull()).mutate(effective=rows.base)
    if all(rule.cap is None for rule in used):
        return free
    # Only capped records need their calendar period and running sum.
    rows = rows.filter(rows.cap.notnull())
    rows = rows.mutate(cap_key=_period_start(rows.at, rows.cap_per))
    running = ibis.window(group_by=["subject", "behaviour", "cap_key"], order_by=["at", "pos"], rows=(None, 0))
    rows = rows.mutate(sum_i=rows.base.sum().over(running))
    capped = rows.sign * (ibis.least(rows.cap, rows.sum_i.abs()) - ibis.least(rows.cap, (rows.sum_i - rows.base).abs()))
    return ibis.union(free, rows.mutate(effective=capped).drop("cap_key", "sum_i"))


def program_scores(run: PopulationRun, name: str) -> ir.Table:
    """(subject, program, score, tier) for every subject enrolled in the program at `at`."""
    program = run.rulebook.programs[name]
    records, at = run.records, run.at
    known = records.filter(records.at <= at)
    # Every subject the ledger names holds the program (as the reference's evaluate_all has it),
    # even one whose records all lie after `at`.
    subjects = records.filter(records.kind.isin(list(program.subjects))).select("subject").distinct()
    if program.enrol_on:
        subjects = (
            known.filter(known.behaviour.isin(program.enrol_on) & known.kind.isin(list(program.subjects)))
            .select("subject")
            .distinct()
        )
    entries = program_entries(run, name)
    active = entries.filter(entries.end.isnull() | (entries.end > at))
    sums = active.group_by("subject").agg(total=active.effective.sum())
    joined = subjects.left_join(sums, "subject")
    raw = program.start + joined.total.fill_null(0)
    score = raw
    if program.floor is not None:
        score = ibis.greatest(score, program.floor)
    if program.ceiling is not None:
        score = ibis.least(score, program.ceiling)
    order = sorted(program.tiers.items(), key=lambda item: item[1], reverse=True)
    tier = ibis.cases(*((score >= bound, name_) for name_, bound in order), else_=ibis.null("string")) if order else (
        ibis.null("string"))  # fmt: skip
    return joined.select(subject=joined.subject, program=ibis.literal(name), score=score, tier=tier)


def population_scores(run: PopulationRun) -> ir.Table:
    """Scores and tiers of every subject in every program it is enrolled in, at `at`."""
    parts = [program_scores(run, name) for name in run.rulebook.programs]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
