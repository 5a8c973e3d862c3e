"""Properties of the reference semantics over random rulebooks and ledgers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from credo.rules import Rulebook
from credo.rules.time import period_key
from credo.semantics import Record, SubjectState, evaluate, explain
from credo.service.consequences import consequences
from tests.strategies import instants, ledgers, rulebooks

ENDED = ("perk_ended", "denial_lifted", "limit_lifted")

settings.register_profile("credo", max_examples=150, deadline=None)
settings.load_profile("credo")


@given(rulebooks(), ledgers(), instants(4 * 366))
def test_score_stays_within_its_clamps(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> None:
    program = rulebook.programs["p"]
    score = evaluate(rulebook, rows, "s", at).score("p")
    if score is not None:
        assert program.floor is None or score >= program.floor
        assert program.ceiling is None or score <= program.ceiling


@given(rulebooks(), ledgers(), instants(4 * 366))
def test_a_cap_is_never_exceeded_in_a_period(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> None:
    state = evaluate(rulebook, rows, "s", at)
    timeline = state.timelines["p"]
    taken: dict[tuple[str, tuple[int, int]], float] = defaultdict(float)
    for entry in timeline.entries:
        if entry.rule.cap is not None:
            key = (entry.record.behaviour, period_key(entry.record.at, entry.rule.cap.per, state.tz))
            taken[key] += abs(entry.effective)
            assert taken[key] <= entry.rule.cap.points
            assert abs(entry.effective) <= abs(entry.base)


@given(rulebooks(), ledgers(), instants(4 * 366), st.sampled_from(["a", "b"]))
def test_a_favourable_record_never_lowers_the_score(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime, behaviour: str
) -> None:
    before = evaluate(rulebook, rows, "s", at).score("p")
    after = evaluate(rulebook, [*rows, Record("s", behaviour, at, "new")], "s", at).score("p")
    if before is not None and after is not None:
        assert after >= before


@given(rulebooks(), ledgers(), instants(4 * 366))
def test_explained_points_add_up_to_the_unclamped_score(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime
) -> None:
    facts = explain(evaluate(rulebook, rows, "s", at))
    for program in facts["programs"]:
        total = sum(entry["effective"] for entry in program["records"])
        assert total == program["unclamped"] - program["start"]


@given(rulebooks(), ledgers(subjects=("s", "parent", "neighbour"), max_size=40), instants(4 * 366))
def test_a_decision_reads_only_the_subjects_own_records(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime
) -> None:
    own = [record for record in rows if record.subject == "s"]
    with_others = evaluate(rulebook, rows, "s", at).decide("act")
    alone = evaluate(rulebook, own, "s", at).decide("act")
    assert with_others.as_dict() == alone.as_dict()


@given(rulebooks(), ledgers(), instants(4 * 366))
def test_records_after_the_instant_change_nothing(rulebook: Rulebook, rows: list[Record], at: dt.datetime) -> None:
    known = [record for record in rows if record.at <= at]
    assert evaluate(rulebook, rows, "s", at).summary() == evaluate(rulebook, known, "s", at).summary()


@given(rulebooks(), ledgers(), instants(4 * 366))
def test_adverse_decisions_lead_with_at_most_four_key_factors(
    rulebook: Rulebook, rows: list[Record], at: dt.datetime
) -> None:
    decision = evaluate(rulebook, rows, "s", at).decide("act")
    assert len(decision.key_factors) <= 4
    adverse = [measure for measure in decision.measures if measure.effect in ("deny", "limit")]
    if not adverse:
        assert decision.key_factors == []
    assert (decision.decision == "deny") == any(measure.effect == "deny" for measure in decision.measures)


@given(rulebooks(), ledgers(max_size=15), st.integers(0, 15), instants(), st.integers(0, 400))
def test_a_notice_names_every_measure_that_began_or_ended_and_decides_only_those(
    rulebook: Rulebook, rows: list[Record], cut: int, at: dt.datetime, days_later: int
) -> None:
    """The notice compares which measures hold and decides only the actions that gained one
    (for speed); the measures it names are exactly those a full decision of every action, in
    both states, finds begun or ended, with that decision's reasons."""
    later = at + dt.timedelta(days=days_later)
    before = SubjectState(rulebook, "s", "person", [r for r in rows[:cut] if r.at <= at], at) if cut else None
    after = SubjectState(rulebook, "s", "person", [r for r in rows if r.at <= later], later)
    expected = []
    for action in rulebook.actions:
        now = {m.measure: m for m in after.decide(action).measures}
        then = {m.measure: m for m in before.decide(action).measures} if before is not None else {}
        expected += [(name, "began", now[name].reasons) for name in now if name not in then]
        expected += [(name, "ended", None) for name in then if name not in now]
    found = [
        (item.about, "ended" if item.kind in ENDED else "began",
         None if item.kind in ENDED else (item.facts["reasons"] if item.kind == "perk_applies" else None))
        for item in consequences(before, after) if item.kind.startswith(("measure", "perk", "denial", "limit"))
    ]  # fmt: skip
    assert sorted(f[:2] for f in found) == sorted(e[:2] for e in expected)
    perks = {name: reasons for name, how, reasons in expected if how == "began"}
    assert all(reasons == perks[name] for name, how, reasons in found if reasons is not None)
