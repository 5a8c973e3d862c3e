"""The rulebook contract: loading with line numbers, and lint's errors and warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credo.errors import RulebookError
from credo.rules import PROTECTED_CATEGORIES, lint_file, load_rulebook, loads_rulebook, parse_duration
from credo.rules.model import Rulebook

BASE = """\
rulebook: t
version: "1"
behaviours:
  speeding: {category: traffic, sources: [police]}
  paid: {category: financial}
programs:
  licence:
    start: 0
    floor: 0
    tiers: {ok: 0}
    points:
      speeding: {points: -3, expires_after: P3Y}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rulebook.yaml"
    path.write_text(text)
    return path


def codes(tmp_path: Path, text: str, level: str = "error") -> list[str]:
    _, report = lint_file(write(tmp_path, text))
    return [finding.code for finding in report.findings if finding.level == level]


def test_valid_rulebook_loads() -> None:
    rulebook = loads_rulebook(BASE)
    assert rulebook.programs["licence"].points["speeding"].expires_after == parse_duration("P3Y")


def test_unknown_key_names_file_line_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("start: 0", "strat: 0"))
    with pytest.raises(RulebookError) as caught:
        load_rulebook(path)
    message = str(caught.value)
    assert f"{path}:8 (programs.licence.strat)" in message
    assert "unknown key 'strat'" in message


def test_bad_duration_says_what_was_expected_and_found(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("P3Y", "3 years"))
    with pytest.raises(RulebookError) as caught:
        load_rulebook(path)
    assert "rulebook.yaml:12 (programs.licence.points.speeding.expires_after)" in str(caught.value)
    assert "Expected an ISO 8601 duration such as P2Y" in str(caught.value)
    assert "'3 years'" in str(caught.value)


def test_bad_condition_is_located(tmp_path: Path) -> None:
    text = BASE + "actions: {drive: {context: traffic}}\nmeasures:\n  ban:\n    action: drive\n    effect: deny\n"
    text += "    basis: law\n    when: {all: [{program: licence, score_blow: 3}]}\n"
    with pytest.raises(RulebookError) as caught:
        load_rulebook(write(tmp_path, text))
    assert "rulebook.yaml:19 (measures.ban.when.all[0].score_blow): unknown key 'score_blow'" in str(caught.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match=r"rulebook.yaml:3"):
        load_rulebook(write(tmp_path, "rulebook: t\nversion: 1\nbehaviours: {a: [}\n"))


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="duplicate"):
        load_rulebook(write(tmp_path, BASE + "programs: {}\n"))


@pytest.mark.parametrize("category", sorted(PROTECTED_CATEGORIES))
def test_protected_categories_are_refused(tmp_path: Path, category: str) -> None:
    text = BASE.replace("category: financial", f"category: {category}")
    assert "protected-category" in codes(tmp_path, text)


def test_mixed_sign_points(tmp_path: Path) -> None:
    assert "mixed-sign" in codes(tmp_path, BASE.replace("points: -3,", "points: [-3, 2],"))


def test_no_tier_at_or_below_floor(tmp_path: Path) -> None:
    assert "no-tier-at-floor" in codes(tmp_path, BASE.replace("tiers: {ok: 0}", "tiers: {ok: 5}"))


def test_unknown_references(tmp_path: Path) -> None:
    text = BASE.replace("      speeding: {points", "      spedding: {points")
    text += "lists:\n  l: {kind: black, enter_on: [nothing], lasts: P1Y}\n"
    text += "actions: {a: {context: traffic}}\n"
    text += "measures:\n  m: {action: b, effect: deny, basis: x, when: {all: [{list: nope}, "
    text += "{program: licence, tier_in: [gold]}, {program: ghost, score_below: 1}]}}\n"
    found = codes(tmp_path, text)
    for code in ("unknown-behaviour", "unknown-action", "unknown-list", "unknown-tier", "unknown-program"):
        assert code in found


def test_measure_without_basis(tmp_path: Path) -> None:
    text = (
        BASE
        + "actions: {a: {context: traffic}}\nmeasures:\n"
        + "  m: {action: a, effect: deny, when: {program: licence, score_below: 1}}\n"
    )
    assert "no-basis" in codes(tmp_path, text)


def test_enter_on_list_needs_a_way_off(tmp_path: Path) -> None:
    text = BASE + "lists:\n  forever: {kind: black, enter_on: [speeding]}\n"
    assert "no-way-off" in codes(tmp_path, text)


def test_enter_when_may_not_name_lists(tmp_path: Path) -> None:
    text = (
        BASE
        + "lists:\n  a: {kind: black, enter_on: [speeding], lasts: P1Y}\n  b: {kind: black, enter_when: {list: a}}\n"
    )
    assert "list-in-enter-when" in codes(tmp_path, text)


def test_warnings_name_their_basis(tmp_path: Path) -> None:
    text = BASE.replace(", expires_after: P3Y", "").replace("category: financial", "category: lifestyle")
    text = text.replace("      speeding: {points: -3}", "      speeding: {points: -3}\n      paid: {points: 1}")
    text += "sources: {police: {automated: true}}\n"
    text += "actions: {school: {context: education, essential: true}}\n"
    text += "measures:\n  m: {action: school, effect: deny, basis: x, when: {program: licence, score_below: 0}}\n"
    _, report = lint_file(write(tmp_path, text))
    warnings = {finding.code: finding for finding in report.warnings}
    assert set(warnings) >= {
        "permanent-mark",
        "lifestyle",
        "unconfirmed-automation",
        "essential-service",
        "cross-context",
    }
    assert "EU AI Act Art. 5(1)(c)(i)" in warnings["cross-context"].basis
    assert "GDPR" in warnings["permanent-mark"].basis
    assert report.ok


def test_article_rulebook_lints_clean_with_warnings(article_path: Path) -> None:
    _, report = lint_file(article_path)
    assert report.ok
    assert {"lifestyle", "cross-context", "essential-service"} <= {finding.code for finding in report.warnings}


def test_json_schema_describes_the_contract() -> None:
    schema = Rulebook.model_json_schema(by_alias=True)
    assert {"rulebook", "version", "behaviours"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert "enter_when" in json.dumps(schema)


@pytest.mark.parametrize("text", ["2 years", "P", "P-1Y", "PT0S", "1Y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        parse_duration(text)


def test_the_fast_record_encoding_is_the_canonical_one() -> None:
    from credo.ledger.chain import canonical
    from credo.ledger.model import Incoming

    for evidence, confidence, pending in ((None, None, False), ("photo-17", 0.5, True)):
        incoming = Incoming("s", "person", "fraud", 12, "court", "7", evidence, confidence, pending)
        assert incoming.canonical(99) == canonical("record", incoming.fields(99))


@pytest.mark.parametrize(
    "scenario", sorted(path.name for path in (Path(__file__).parent.parent / "scenarios").iterdir())
)
def test_a_program_condition_reads_as_written(scenario: str) -> None:
    """A reason quotes its condition as the rulebook wrote it; as_written is model_dump's answer,
    made faster, for every program test of every scenario's rulebook."""
    from credo.rules.lint import walk_conditions
    from credo.rules.model import ProgramCondition

    rulebook = load_rulebook(Path(__file__).parent.parent / "scenarios" / scenario / "rulebook.yaml")
    conditions = [measure.when for measure in rulebook.measures.values()]
    conditions += [listed.enter_when for listed in rulebook.lists.values() if listed.enter_when is not None]
    leaves = [
        leaf for condition in conditions for leaf in walk_conditions(condition) if isinstance(leaf, ProgramCondition)
    ]
    assert leaves
    for leaf in leaves:
        assert leaf.as_written() == leaf.model_dump(by_alias=True, exclude_none=True)
        assert list(leaf.as_written()) == list(leaf.model_dump(by_alias=True, exclude_none=True))
