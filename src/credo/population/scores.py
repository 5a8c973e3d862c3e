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
from typing import Any

import ibis
import ibis.expr.types as ir

from credo.rules.model import Program, Rulebook
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


def rules_table(name: str, program: Program) -> ir.Table:
    """One row per behaviour with points in the program: its ladder, durations and cap."""
    rows: dict[str, list[Any]] = {key: [] for key in (
        "behaviour", "ladder", "rungs", "sign", "reset", "exp_m", "exp_d", "exp_s", "win_m", "win_d", "win_s",
        "cap", "cap_per")}  # fmt: skip
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
    schema = {"behaviour": "string", "ladder": "array<float64>", "rungs": "int64", "sign": "int64",
              "reset": "boolean", "exp_m": "int64", "exp_d": "int64", "exp_s": "int64", "win_m": "int64",
              "win_d": "int64", "win_s": "int64", "cap": "float64", "cap_per": "string"}  # fmt: skip
    return ibis.memtable(rows, schema=schema)


def shift(at: ir.TimestampValue, months: ir.IntegerValue, days: ir.IntegerValue, seconds: ir.IntegerValue,
           sign: int = 1) -> ir.TimestampValue:  # fmt: skip
    """at ± a duration given as months, days and seconds (null when the duration is)."""
    shifted = at
    for amount, unit in ((months, "M"), (days, "D"), (seconds, "s")):
        step = (amount * sign).as_interval(unit)
        shifted = shifted + step
    return shifted


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


def program_entries(records: ir.Table, name: str, program: Program, at: dt.datetime) -> ir.Table:
    """Every counted record of the program with its base and effective points and its end."""
    at = at.astimezone(dt.UTC)  # the engine compares instants in UTC; its calendar is the rulebook's
    known = records.filter(records.at <= at)
    held = known.filter(known.kind.isin(list(program.subjects)))
    rules = rules_table(name, program)
    rows = held.inner_join(rules, "behaviour")
    if program.enrol_on:
        enrolled = held.filter(held.behaviour.isin(program.enrol_on)).group_by("subject").agg(enrolled_at=held.at.min())
        rows = rows.inner_join(enrolled, "subject").filter(lambda t: t.at >= t.enrolled_at).drop("enrolled_at")
    by_subject = ibis.window(group_by="subject", order_by=["at", "pos"])
    rows = rows.mutate(seq=ibis.row_number().over(by_subject))
    later = ibis.window(group_by="subject", order_by="seq", rows=(1, None))
    earlier = ibis.window(group_by="subject", order_by="seq", rows=(None, -1))
    rows = rows.mutate(
        next_reset=rows.reset.ifelse(rows.at, ibis.null("timestamp('UTC', 6)")).min().over(later),
        last_reset=rows.reset.ifelse(rows.seq, ibis.null("int64")).max().over(earlier),
        expiry=shift(rows.at, rows.exp_m, rows.exp_d, rows.exp_s),
    )
    ends = [rows.expiry, rows.next_reset]
    if program.resets is not None:
        ends.append(_period_end(rows.at, program.resets))
    rows = rows.mutate(end=ibis.least(*ends))

    # Rule 1: escalation counts earlier records of the same behaviour, still active (or, with a
    # repeat window, inside it and not wiped by a reset).
    mine = rows.select("subject", "behaviour", "seq", "at", "end", "rungs", "win_m", "win_d", "win_s", "last_reset")
    theirs = rows.select(
        subject_j=rows.subject, behaviour_j=rows.behaviour, seq_j=rows.seq, at_j=rows.at, end_j=rows.end
    )
    pairs = mine.inner_join(
        theirs,
        [mine.subject == theirs.subject_j, mine.behaviour == theirs.behaviour_j, theirs.seq_j < mine.seq,
         mine.rungs > 1],
    )  # fmt: skip
    windowed = pairs.win_m.notnull()
    since = shift(pairs.at, pairs.win_m, pairs.win_d, pairs.win_s, sign=-1)
    counts = windowed.ifelse(
        (pairs.at_j > since) & (pairs.seq_j >= pairs.last_reset.fill_null(0)),
        pairs.end_j.isnull() | (pairs.end_j > pairs.at),
    )
    repeats = pairs.filter(counts).group_by(["subject", "seq"]).agg(repeats=ibis._.count())
    rows = rows.left_join(repeats, ["subject", "seq"]).drop("subject_right", "seq_right")
    step = (rows.repeats.fill_null(0) + 1).clip(upper=rows.rungs)
    rows = rows.mutate(step=step, base=rows.ladder[(step - 1).cast("int32")])  # Spark indexes with INT

    # Rule 2: caps, a running sum of base points per behaviour and calendar period.
    rows = rows.mutate(cap_key=_period_start(rows.at, rows.cap_per.fill_null("month")))
    running = ibis.window(group_by=["subject", "behaviour", "cap_key"], order_by="seq", rows=(None, 0))
    rows = rows.mutate(sum_i=rows.base.sum().over(running))
    capped = rows.sign * (ibis.least(rows.cap, rows.sum_i.abs()) - ibis.least(rows.cap, (rows.sum_i - rows.base).abs()))
    rows = rows.mutate(effective=rows.cap.isnull().ifelse(rows.base, capped))
    return rows.select("subject", "behaviour", "at", "pos", "seq", "step", "base", "effective", "end")


def program_scores(records: ir.Table, name: str, program: Program, at: dt.datetime) -> ir.Table:
    """(subject, program, score, tier) for every subject enrolled in the program at `at`."""
    at = at.astimezone(dt.UTC)  # the engine compares instants in UTC; its calendar is the rulebook's
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
    entries = program_entries(records, name, program, at)
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


def population_scores(rulebook: Rulebook, records: ir.Table, at: dt.datetime) -> ir.Table:
    """Scores and tiers of every subject in every program it is enrolled in, at `at`."""
    at = at.astimezone(dt.UTC)  # the engine compares instants in UTC; its calendar is the rulebook's
    parts = [program_scores(records, name, program, at) for name, program in rulebook.programs.items()]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
