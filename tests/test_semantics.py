"""DESIGN §4, rule by rule, at its boundaries."""

from __future__ import annotations

import datetime as dt

from credo.rules import Rulebook
from credo.rules.time import iso
from tests.conftest import make_rulebook, records, state_at

BEHAVIOURS = {name: {"category": "conduct"} for name in ("join", "bad", "good", "wipe", "other")}


def program(**overrides: object) -> Rulebook:
    definition: dict[str, object] = {
        "start": 10,
        "points": {"bad": {"points": -2}, "good": {"points": 1}, "wipe": {"reset": True}},
        "tiers": {"low": -100, "mid": 5, "high": 12},
    }
    definition.update(overrides)
    return make_rulebook(behaviours=BEHAVIOURS, programs={"p": definition})


def test_enrolment_counts_records_from_its_instant_not_before() -> None:
    rulebook = program(enrol_on=["join"])
    rows = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-02-01"), ("s", "join", "2024-02-01"))
    state = state_at(rulebook, rows, "2024-03-01")
    assert state.score("p") == 8  # the record at the enrolment instant counts, the earlier one does not
    assert state_at(rulebook, rows, "2024-01-15").enrolled() == []


def test_escalation_counts_only_records_still_active() -> None:
    rulebook = program(points={"bad": {"points": [-1, -2, -4], "expires_after": "P1Y"}})
    rows = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-06-01"), ("s", "bad", "2025-01-01"))
    # At 2025-01-01 the first record has just expired: the third is a second offence.
    entries = state_at(rulebook, rows, "2025-01-02").timelines["p"].entries
    assert [entry.base for entry in entries] == [-1, -2, -2]


def test_repeat_window_is_half_open() -> None:
    rulebook = program(points={"bad": {"points": [-1, -5], "repeat_window": "P1Y"}})
    exactly = records(("s", "bad", "2024-01-01"), ("s", "bad", "2025-01-01"))
    within = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-12-31T23:59:59"))
    assert state_at(rulebook, exactly, "2025-02-01").score("p") == 8
    assert state_at(rulebook, within, "2025-02-01").score("p") == 4


def test_reset_wipes_earlier_records_and_the_escalation() -> None:
    rulebook = program(points={"bad": {"points": [-1, -3], "repeat_window": "P5Y"}, "wipe": {"reset": True}})
    rows = records(("s", "bad", "2024-01-01"), ("s", "wipe", "2024-02-01"), ("s", "bad", "2024-03-01"))
    state = state_at(rulebook, rows, "2024-04-01")
    assert state.score("p") == 9
    assert [entry.base for entry in state.timelines["p"].active_at(state.at)] == [0, -1]


def test_reset_at_the_same_instant_wipes_only_what_came_before_in_the_ledger() -> None:
    rulebook = program()
    rows = records(("s", "bad", "2024-01-01"), ("s", "wipe", "2024-01-01"), ("s", "bad", "2024-01-01"))
    assert state_at(rulebook, rows, "2024-01-01").score("p") == 8


def test_reset_adds_its_own_points() -> None:
    rulebook = program(points={"bad": {"points": -3}, "wipe": {"reset": True, "points": 2}})
    rows = records(("s", "bad", "2024-01-01"), ("s", "wipe", "2024-02-01"))
    assert state_at(rulebook, rows, "2024-02-01").score("p") == 12


def test_cap_per_quarter_restarts_at_the_quarter_edge() -> None:
    rulebook = program(points={"bad": {"points": -4, "cap": {"points": 5, "per": "quarter"}}})
    rows = records(
        ("s", "bad", "2024-01-05"),
        ("s", "bad", "2024-02-05"),
        ("s", "bad", "2024-03-31T23:00:00"),
        ("s", "bad", "2024-04-01"),
    )
    entries = state_at(rulebook, rows, "2024-04-02").timelines["p"].entries
    assert [entry.effective for entry in entries] == [-4, -1, 0, -4]
    # Whole capped points are whole numbers, as the rule wrote them (explain prints -1, not -1.0).
    assert [type(entry.effective) for entry in entries] == [int] * 4


def test_a_reset_does_not_restart_a_cap() -> None:
    rulebook = program(points={"good": {"points": 3, "cap": {"points": 4, "per": "year"}}, "wipe": {"reset": True}})
    rows = records(("s", "good", "2024-01-01"), ("s", "wipe", "2024-02-01"), ("s", "good", "2024-03-01"))
    assert state_at(rulebook, rows, "2024-04-01").score("p") == 11


def test_program_resets_end_entries_at_their_calendar_period_in_the_rulebook_zone() -> None:
    document = {"start": 0, "resets": "year", "points": {"bad": {"points": -1}}, "tiers": {"any": -100}}
    rulebook = make_rulebook(behaviours=BEHAVIOURS, programs={"p": document}, timezone="Asia/Shanghai")
    rows = records(("s", "bad", "2024-12-31T15:00:00+00:00"))  # 2024-12-31 23:00 in Shanghai
    assert state_at(rulebook, rows, "2024-12-31T15:59:59+00:00").score("p") == -1
    assert state_at(rulebook, rows, "2024-12-31T16:00:00+00:00").score("p") == 0  # midnight in Shanghai


def test_month_arithmetic_clamps_to_the_last_day() -> None:
    rulebook = program(points={"bad": {"points": -1, "expires_after": "P1M"}})
    rows = records(("s", "bad", "2025-01-31"))
    assert state_at(rulebook, rows, "2025-02-27T23:59:59").score("p") == 9
    assert state_at(rulebook, rows, "2025-02-28").score("p") == 10


def test_without_a_floor_a_score_under_every_bound_has_no_tier() -> None:
    rulebook = program(points={"bad": {"points": -200}})
    state = state_at(rulebook, records(("s", "bad", "2024-01-01")), "2024-01-02")
    assert state.score("p") == -190
    assert state.tier("p") is None


def test_ties_at_one_instant_all_count_at_that_instant() -> None:
    rulebook = program(points={"bad": {"points": [-1, -2], "expires_after": "P1Y"}})
    rows = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-01-01"))
    assert state_at(rulebook, rows, "2024-01-01").score("p") == 7


LISTS_BASE = {
    "start": 10,
    "points": {"bad": {"points": -6, "expires_after": "P1Y"}, "good": {"points": 1}},
    "tiers": {"low": -100, "mid": 5},
}


def lists_rulebook(listed: dict[str, object]) -> Rulebook:
    return make_rulebook(
        behaviours=BEHAVIOURS,
        programs={"p": LISTS_BASE},
        lists={"l": listed},
        actions={"act": {"context": "conduct"}},
        measures={"m": {"action": "act", "effect": "deny", "basis": "law", "when": {"list": "l"}}},
    )


def test_level_list_is_on_while_the_condition_holds() -> None:
    rulebook = lists_rulebook({"kind": "black", "enter_when": {"program": "p", "score_below": 0}})
    rows = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-03-01"))
    assert state_at(rulebook, rows, "2024-02-01").lists() == []
    on = state_at(rulebook, rows, "2024-03-01")
    assert on.lists() == ["l"]
    assert on.list_reason("l", on.at)["opened_by"] == ["r2"]
    assert state_at(rulebook, rows, "2025-01-01").lists() == []  # r1 expired: the condition is false again


def test_latched_list_stays_after_the_condition_ends_until_it_lasts_out() -> None:
    listed = {"kind": "black", "enter_when": {"program": "p", "score_below": 0}, "lasts": "P18M"}
    rulebook = lists_rulebook(listed)
    rows = records(("s", "bad", "2024-01-01"), ("s", "bad", "2024-03-01"))
    assert state_at(rulebook, rows, "2025-06-01").lists() == ["l"]
    assert state_at(rulebook, rows, "2025-09-01").lists() == []


def test_condition_on_a_program_not_enrolled_is_false_and_its_negation_true() -> None:
    rulebook = make_rulebook(
        behaviours=BEHAVIOURS,
        programs={"p": {**LISTS_BASE, "enrol_on": ["join"]}},
        actions={"act": {"context": "conduct"}},
        measures={
            "low": {"action": "act", "effect": "limit", "basis": "x", "when": {"program": "p", "score_below": 100}},
            "outsider": {
                "action": "act",
                "effect": "perk",
                "basis": "x",
                "when": {"not": {"program": "p", "score_below": 100}},
            },
        },
    )
    decision = state_at(rulebook, records(("s", "bad", "2024-01-01")), "2024-02-01").decide("act")
    assert [measure.measure for measure in decision.measures] == ["outsider"]


def test_a_subject_holds_only_programs_of_its_kind() -> None:
    rulebook = make_rulebook(behaviours=BEHAVIOURS, programs={"p": {**LISTS_BASE, "subjects": ["organization"]}})
    assert state_at(rulebook, records(("s", "bad", "2024-01-01")), "2024-02-01").enrolled() == []


def test_decision_reasons_name_the_facts_and_rank_key_factors() -> None:
    rulebook = make_rulebook(
        behaviours=BEHAVIOURS,
        programs={"p": {"start": 0, "points": {"bad": {"points": -1}, "other": {"points": -5}}, "tiers": {"x": -100}}},
        actions={"act": {"context": "conduct"}},
        measures={"m": {"action": "act", "effect": "deny", "basis": "law", "when": {"program": "p", "score_below": 0}}},
    )
    rows = records(*[("s", "bad", f"2024-01-0{day}") for day in range(1, 7)], ("s", "other", "2024-02-01"))
    decision = state_at(rulebook, rows, "2024-03-01").decide("act")
    assert decision.decision == "deny"
    (reason,) = decision.measures[0].reasons
    assert reason["program"] == "p" and reason["score"] == -11
    assert len(reason["records"]) == 4 and reason["records"][0]["record"] == "r7"
    assert next(factor["record"] for factor in decision.key_factors) == "r7"
    assert len(decision.key_factors) == 4


def test_explanation_shows_the_way_to_the_next_tier() -> None:
    rulebook = program(points={"bad": {"points": -6, "expires_after": "P1Y"}, "good": {"points": 1}})
    from credo.semantics import explain

    facts = explain(state_at(rulebook, records(("s", "bad", "2024-01-01")), "2024-02-01"))
    (account,) = facts["programs"]
    assert account["tier"] == "low"
    assert account["next_tier"]["tier"] == "mid"
    assert account["next_tier"]["earliest_by_expiry"].startswith("2025-01-01")
    assert account["next_tier"]["sooner_by"][0] == {"behaviour": "good", "points": 1, "reaches_now": True}


def test_calendar_arithmetic_uses_the_rulebooks_zone_whatever_offset_a_record_has() -> None:
    # 2024-01-31 00:00 in Shanghai is 2024-01-30 16:00 UTC: one month later is 29 February in
    # Shanghai's calendar, not 1 March as UTC's calendar would say.
    document = {"start": 0, "points": {"bad": {"points": -1, "expires_after": "P1M"}}, "tiers": {"any": -100}}
    rulebook = make_rulebook(behaviours=BEHAVIOURS, programs={"p": document}, timezone="Asia/Shanghai")
    as_utc = records(("s", "bad", "2024-01-30T16:00:00+00:00"))
    as_local = records(("s", "bad", "2024-01-31T00:00:00+08:00"))
    for rows in (as_utc, as_local):
        (entry,) = state_at(rulebook, rows, "2024-02-01").timelines["p"].entries
        # The instant is the zone's midnight (kept in UTC inside the evaluator, rendered in the zone).
        assert entry.end == dt.datetime(2024, 2, 29, tzinfo=rulebook.tz)
        assert iso(entry.end, rulebook.tz) == "2024-02-29T00:00:00+08:00"


def test_two_wall_times_an_hour_apart_at_a_dst_fold_render_apart() -> None:
    # Renderings are kept per instant: the two 01:30s of a night the clocks go back compare equal
    # as wall times in one zone, but are different instants and must not share an entry.
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    summer = dt.datetime(2024, 11, 3, 1, 30, tzinfo=tz)
    winter = dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=tz)
    for _ in range(2):
        assert iso(summer, tz) == "2024-11-03T01:30:00-04:00"
        assert iso(winter, tz) == "2024-11-03T01:30:00-05:00"
