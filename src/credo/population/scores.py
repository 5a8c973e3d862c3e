"""Rules 1-5 of DESIGN §4 for a whole population at once, as one Ibis expression per program.

The reference evaluator (credo.semantics) states the rules one subject at a time; this states
them again as column expressions, executed by the engine (DuckDB here), and is held equal to the
reference by property tests. Histories are short, so escalation is a self-join within
(subject, behaviour); caps are running sums over calendar periods; expiry, calendar resets and
reset records give each record its end; the score at t sums what is active then.

Calendar arithmetic is in the rulebook's timezone (credo.population.calendar), and matches
dateutil's relativedelta: 2024-02-29 + P1Y = 2025-02-28.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from credo.errors import RecordError
from credo.population.calendar import Calendar, expiry_band
from credo.population.context import PopulationRun
from credo.rules.lint import walk_conditions
from credo.rules.model import Condition, ListDef, PointsRule, Program, ProgramCondition
from credo.rules.time import BEGINNING, Duration, period_start

TIMESTAMP = "timestamp('UTC', 6)"
#: After every record: an expiry band's upper end when none is found (see expiry_band).
FOREVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
RECORD_SCHEMA = ibis.schema(
    {"subject": "string", "kind": "string", "behaviour": "string", "at": "timestamp('UTC', 6)", "pos": "int64"}
)


def duration_parts(duration: Duration | None) -> tuple[int | None, int | None, int | None]:
    """(months, days, seconds) of a duration, as the engine adds them (months first)."""
    if duration is None:
        return None, None, None
    delta = duration.delta
    return delta.years * 12 + delta.months, delta.days, delta.hours * 3600 + delta.minutes * 60 + delta.seconds


def rules_table(name: str, run: PopulationRun) -> ir.Table:
    """One row per behaviour with points in the program and rulebook version: its ladder, durations
    and cap, and the instants [v_from, v_to) where that version is in force (null: unbounded).

    For the scores at `at` it also says which records surely count no longer: those before
    exp_lo have expired by `at`, those from exp_hi on have not (see expiry_band), and no cap
    period still holding an active record starts before cap_from (null: any may).
    """
    versions, tz = run.versions, run.rulebook.tz
    rows: dict[str, list[Any]] = {key: [] for key in (
        "behaviour", "ladder", "rungs", "sign", "reset", "exp_m", "exp_d", "exp_s", "win_m", "win_d", "win_s",
        "cap", "cap_per", "v_from", "v_to", "exp_lo", "exp_hi", "cap_from")}  # fmt: skip
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
            band = (BEGINNING, BEGINNING) if rule.expires_after is None else expiry_band(rule.expires_after, run.at, tz)
            lo, hi = band or (BEGINNING, FOREVER)  # no band found: every record's expiry is worked out
            rows["exp_lo"].append(lo)
            rows["exp_hi"].append(hi)
            rows["cap_from"].append(_cap_from(rule, run) if len(versions) == 1 else None)
    schema = {"behaviour": "string", "ladder": "array<float64>", "rungs": "int64", "sign": "int64",
              "reset": "boolean", "exp_m": "int64", "exp_d": "int64", "exp_s": "int64", "win_m": "int64",
              "win_d": "int64", "win_s": "int64", "cap": "float64", "cap_per": "string", "v_from": TIMESTAMP,
              "v_to": TIMESTAMP, "exp_lo": TIMESTAMP, "exp_hi": TIMESTAMP, "cap_from": TIMESTAMP}  # fmt: skip
    return ibis.memtable(rows, schema=schema)


def _parts_used(rules: list[PointsRule], attribute: str) -> tuple[bool, bool, bool]:
    """Which of (months, days, seconds) any rule's duration has."""
    parts = [duration_parts(getattr(rule, attribute)) for rule in rules]
    return tuple(any(part[index] for part in parts) for index in range(3))  # type: ignore[return-value]


def program_entries(run: PopulationRun, name: str) -> ir.Table:
    """Every counted record of the program with its step, base and effective points and its end."""
    return run.keep("entries", name, lambda: _entries(run, name, now_only=False), materialise=False)


def traced(listed: ListDef) -> bool:
    """Whether a list follows its condition over time (a condition list that latches); a level
    condition list holds exactly while its condition does, so the state at t decides it."""
    return listed.enter_when is not None and not (listed.is_level and not listed.enter_on)


def _traced(run: PopulationRun, name: str) -> bool:
    """Whether a list follows the program's score over time."""
    followed = [listed.enter_when for listed in run.rulebook.lists.values() if traced(listed)]
    return any(name in programs_of(condition) for condition in followed if condition is not None)


def program_points(run: PopulationRun, name: str) -> ir.Table:
    """(subject, at, end, effective) of every counted record: what list trajectories read (twice,
    so it is kept as a table)."""
    entries = program_entries(run, name)
    return run.keep("points", name, lambda: entries.select("subject", "at", "end", "effective"))


def active_points(run: PopulationRun, name: str) -> ir.Table:
    """(subject, effective) of every record counting at `at`: what the scores at `at` sum."""
    if _traced(run, name):  # the trajectory's table is there: read it
        entries = program_points(run, name)
        return entries.filter(entries.end.isnull() | (entries.end > run.at)).select("subject", "effective")
    return _entries(run, name, now_only=True).select("subject", "effective")


def _entries(run: PopulationRun, name: str, now_only: bool) -> ir.Table:
    """The program's entries; with `now_only`, only those of records active at `at` (what the
    scores at `at` need: their caps need fewer earlier records, and most ends need not be worked
    out, only compared)."""
    program = run.rulebook.programs[name]
    records = run.records
    known = records.filter(records.at <= run.at)
    held = known.filter(known.kind.isin(list(program.subjects)))
    rules = rules_table(name, run)
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
    rows = rows.mutate(expiry=run.calendar.shift(rows.at, rows.exp_m, rows.exp_d, rows.exp_s, used=parts))
    ends = [rows.expiry, rows.next_reset] if resets else [rows.expiry]
    if program.resets is not None:
        ends.append(run.calendar.period_end(rows.at, program.resets))
    rows = rows.mutate(end=ibis.least(*ends) if len(ends) > 1 else ends[0])

    rows = _escalation(run, name, rows, used, resets)
    rows = _caps(rows, used, run.calendar, pruned=now_only)
    if now_only:
        # Far from its expiry band a record's expiry is known to be before or after `at` from its
        # instant alone; a cheap comparison spares the calendar arithmetic (see expiry_band).
        exact = rows.expiry.isnull() | (rows.expiry > run.at)
        unexpired = (rows.at >= rows.exp_hi) | ((rows.at >= rows.exp_lo) & exact)
        others = [rows.next_reset] if resets else []
        if program.resets is not None:
            others.append(run.calendar.period_end(rows.at, program.resets))
        rows = rows.filter(unexpired, *(end.isnull() | (end > run.at) for end in others))
    return rows.select("subject", "behaviour", "at", "pos", "step", "base", "effective", "end")


def _escalation(run: PopulationRun, name: str, rows: ir.Table, used: list[PointsRule], resets: bool) -> ir.Table:
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
    window = _parts_used(used, "repeat_window")
    since = run.calendar.shift(pairs.at, pairs.win_m, pairs.win_d, pairs.win_s, sign=-1, used=window)
    counts = windowed.ifelse(
        (pairs.at_j > since) & (pairs.seq_j >= pairs.last_reset.fill_null(0)),
        pairs.end_j.isnull() | (pairs.end_j > pairs.at),
    )
    # A record's position is unique to it. The counts are few and read twice (caps need the
    # points too): keep them.
    counted = pairs.filter(counts)
    repeats = run.keep("repeats", name, lambda: counted.group_by(pos_r=counted.pos).agg(repeats=counted.count()))
    rows = rows.left_join(repeats, rows.pos == repeats.pos_r).drop("pos_r")
    step = (rows.repeats.fill_null(0) + 1).clip(upper=rows.rungs)
    return rows.mutate(step=step, base=rows.ladder[(step - 1).cast("int32")])  # Spark indexes with INT


def _cap_from(rule: PointsRule, run: PopulationRun) -> dt.datetime | None:
    """An instant before which no cap period of the rule holds a record still active at `at`, so
    that the running sums for the scores at `at` may start there (one rulebook version only).

    A record of a period that ended by `at` - expiry has expired by `at` (calendar addition only
    ever moves forward with its argument), so every period still needed starts at or after the
    period holding `at` - expiry. That start is found by the reference's calendar; two days less
    covers any disagreement with the engine's zone data. A period cut by the bound is one no
    active record is in.
    """
    if rule.cap is None or rule.expires_after is None:
        return None
    tz = run.rulebook.tz
    try:
        since = rule.expires_after.before(run.at, tz)
        return (period_start(since, rule.cap.per, tz) - dt.timedelta(days=2)).astimezone(dt.UTC)
    except OverflowError:
        return None


def _caps(rows: ir.Table, used: list[PointsRule], calendar: Calendar, pruned: bool) -> ir.Table:
    """Rule 2: caps, a running sum of base points per behaviour and calendar period (from
    cap_from only, when `pruned`)."""
    if all(rule.cap is None for rule in used):
        return rows.mutate(effective=rows.base)
    # Only capped records need their calendar period and running sum; the window sorts only the
    # columns it needs, and its sums are joined back by position (unique to a record).
    capped = rows.filter(rows.cap.notnull())
    if pruned:
        capped = capped.filter(capped.cap_from.isnull() | (capped.at >= capped.cap_from))
    period = ["subject", "behaviour", "cap_key"]
    keyed = capped.select(
        "subject", "behaviour", "at", "pos", "base", "sign", "cap",
        cap_key=calendar.period_start(capped.at, capped.cap_per),
    )  # fmt: skip
    # Where a period's points are of one sign and all of them together stay within its cap, every
    # running sum does, and each record keeps its base: most periods hold a record or two. Only
    # the others need the running sums.
    totals = keyed.group_by(period).agg(
        reach=keyed.base.abs().sum(), room=keyed.cap.min(), low=keyed.sign.min(), high=keyed.sign.max()
    )
    binding = totals.filter((totals.reach > totals.room) | (totals.low != totals.high)).select(*period)
    tight = keyed.semi_join(binding, period)
    running = ibis.window(group_by=period, order_by=["at", "pos"], rows=(None, 0))
    sums = tight.select(pos_i=tight.pos, sum_i=tight.base.sum().over(running))
    rows = rows.left_join(sums, rows.pos == sums.pos_i)
    within = rows.sign * (ibis.least(rows.cap, rows.sum_i.abs()) - ibis.least(rows.cap, (rows.sum_i - rows.base).abs()))
    return rows.mutate(effective=rows.sum_i.isnull().ifelse(rows.base, within)).drop("pos_i", "sum_i")


def subjects(run: PopulationRun) -> ir.Table:
    """(subject, kind) of everyone the ledger names, read once per run.

    A subject recorded as two kinds is an error, as it is in the reference.
    """

    def build() -> ir.Table:
        if run.known_subjects is not None:
            return run.known_subjects
        return run.records.select("subject", "kind").distinct()

    table = run.keep("subjects", "", build, materialise=run.known_subjects is None)
    return run.keep("subjects", "checked", lambda: _one_kind_each(run, table), materialise=False)


def _one_kind_each(run: PopulationRun, table: ir.Table) -> ir.Table:
    counts = table.group_by("subject").agg(kinds=table.count())
    mixed = run.connection.to_pyarrow(counts.filter(counts.kinds > 1).limit(1)).to_pylist()
    if mixed:
        subject = mixed[0]["subject"]
        found = run.connection.to_pyarrow(table.filter(table.subject == subject)).column("kind").to_pylist()
        raise RecordError(f"subject {subject!r} is recorded both as {' and '.join(sorted(found))}", field="kind")
    return table


def enrolment(run: PopulationRun, name: str) -> ir.Table:
    """(subject, held, enrolled_at) of everyone: whether the subject's kind holds the program, and
    since when it is enrolled (null: not by `at`; the beginning for a program without enrol_on)."""
    return run.keep("enrolment", name, lambda: _enrolled(run, name))


def _enrolled(run: PopulationRun, name: str) -> ir.Table:
    program = run.rulebook.programs[name]
    everyone = subjects(run)
    everyone = everyone.select("subject", held=everyone.kind.isin(list(program.subjects)))
    if not program.enrol_on:
        return everyone.mutate(enrolled_at=ibis.literal(BEGINNING, type=TIMESTAMP))
    records = run.records
    known = records.filter((records.at <= run.at) & records.behaviour.isin(program.enrol_on))
    first = known.group_by("subject").agg(enrolled_at=known.at.min())
    joined = everyone.left_join(first, "subject")
    return joined.select(subject=joined.subject, held=joined.held, enrolled_at=joined.enrolled_at)


def programs_of(condition: Condition) -> list[str]:
    """The programs a list's or measure's condition reads."""
    return sorted({leaf.program for leaf in walk_conditions(condition) if isinstance(leaf, ProgramCondition)})


def clamp(program: Program, total: ir.NumericValue) -> ir.NumericValue:
    """start + the sum of active points, within the program's floor and ceiling."""
    score = program.start + total.fill_null(0)
    if program.floor is not None:
        score = ibis.greatest(score, program.floor)
    if program.ceiling is not None:
        score = ibis.least(score, program.ceiling)
    return score


def scores_now(run: PopulationRun) -> ir.Table:
    """(subject, score__P, enrolled__P ...) of everyone at `at`: what scores, level lists and
    measures read, each program's active points summed once."""

    def build() -> ir.Table:
        table = subjects(run).select("subject")
        for name, program in run.rulebook.programs.items():
            active = active_points(run, name)
            sums = active.group_by("subject").agg(total=active.effective.sum())
            enrolled = enrolment(run, name)
            table = table.left_join(sums, "subject").drop("subject_right")
            table = table.left_join(enrolled, "subject").drop("subject_right")
            table = table.mutate(
                **{
                    f"score__{name}": clamp(program, table.total),
                    f"enrolled__{name}": (table.held & table.enrolled_at.notnull()).fill_null(False),
                }
            ).drop("total", "held", "enrolled_at")
        return table

    return run.keep("scores_now", "", build)


def program_scores(run: PopulationRun, name: str) -> ir.Table:
    """(subject, program, score, tier) for every subject enrolled in the program at `at`.

    Every subject the ledger names holds the programs of its kind (as the reference's evaluate_all
    has it), even one whose records all lie after `at`.
    """
    program = run.rulebook.programs[name]
    state = scores_now(run)
    held = state.filter(state[f"enrolled__{name}"])
    score = held[f"score__{name}"]
    order = sorted(program.tiers.items(), key=lambda item: item[1], reverse=True)
    tier = ibis.cases(*((score >= bound, name_) for name_, bound in order), else_=ibis.null("string")) if order else (
        ibis.null("string"))  # fmt: skip
    return held.select(subject=held.subject, program=ibis.literal(name), score=score, tier=tier)


def population_scores(run: PopulationRun) -> ir.Table:
    """Scores and tiers of every subject in every program it is enrolled in, at `at`."""
    parts = [program_scores(run, name) for name in run.rulebook.programs]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
