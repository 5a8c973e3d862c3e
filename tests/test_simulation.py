"""The simulator: reproducible, true to its spec, deterrence works, the report holds its plots."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from credo import load_rulebook
from credo.cli import app
from credo.simulation.behaviour import simulate_behaviour
from credo.simulation.city import draw_city
from credo.simulation.run import Plan, load_scenario, simulate
from credo.simulation.spec import PopulationSpec, SpecError, load_spec
from tests.conftest import SCENARIOS

ARTICLE = SCENARIOS / "article"
runner = CliRunner()


def plan(population: int, years: int = 1, seed: int = 3) -> Plan:
    rulebook = load_rulebook(ARTICLE / "rulebook.yaml")
    return Plan(population, years, seed, dt.datetime(2024, 1, 1, tzinfo=rulebook.tz))


@pytest.fixture(scope="module")
def run_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any], dict[str, Any]]:
    scenario = load_scenario(ARTICLE)
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    return first, second, simulate(scenario, plan(4000), first), simulate(scenario, plan(4000), second)


def test_the_same_seed_gives_the_same_ledger_and_summary(run_twice: Any) -> None:
    first, second, summary_a, summary_b = run_twice
    assert pq.read_table(first / "ledger.parquet").equals(pq.read_table(second / "ledger.parquet"))
    assert pq.read_table(first / "subjects.parquet").equals(pq.read_table(second / "subjects.parquet"))
    assert summary_a == summary_b
    assert (first / "summary.json").read_text() == (second / "summary.json").read_text()
    assert summary_a["records"] > 4000


def test_another_seed_gives_another_city(tmp_path: Path, run_twice: Any) -> None:
    other = simulate(load_scenario(ARTICLE), plan(4000, seed=4), tmp_path, counterfactual=False)
    assert pq.read_table(tmp_path / "ledger.parquet").num_rows == other["records"]
    assert not pq.read_table(tmp_path / "ledger.parquet").equals(pq.read_table(run_twice[0] / "ledger.parquet"))


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, str] = {}
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images[values["alt"] or ""] = values["src"] or ""
        if tag not in {"img", "meta", "br"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def test_the_report_is_html_holding_every_plot_it_promises(run_twice: Any) -> None:
    first, _, summary, _ = run_twice
    page = Page()
    page.feed((first / "report.html").read_text())
    assert page.open == []  # every element closed
    expected = {"scores-citizen", "scores-business", "tiers-citizen", "tiers-business", "lists", "measures",
                "disparate-impact", "detection-bias"}  # fmt: skip
    assert set(summary["plots"]) == expected == set(page.images)
    for name, source in page.images.items():
        assert source.startswith("data:image/png;base64,"), name  # inline: the page stands alone
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_summary_has_what_a_script_needs(run_twice: Any) -> None:
    _, _, summary, _ = run_twice
    assert [point["at"][:10] for point in summary["over_time"]] == ["2024-07-01", "2025-01-01"]
    assert set(summary["final"]["measures"]) == set(load_rulebook(ARTICLE / "rulebook.yaml").measures)
    flight = summary["final"]["measures"]["flight_ban"]
    assert flight["per_million"] == pytest.approx(flight["subjects"] * 1e6 / 4000, rel=1e-3)
    for measure, by in summary["disparate_impact"].items():
        for figures in by.values():
            if figures and figures["ratio"] is not None:
                rates = list(figures["rates"].values())
                assert figures["ratio"] == pytest.approx(min(rates) / max(rates), abs=1e-3), measure
                assert figures["status"] in {"flagged", "too_few", "within"}
                assert figures["flagged"] == (figures["status"] == "flagged")
                assert (figures["status"] == "within") == (figures["ratio"] >= 0.8)
    assert set(summary["detection_bias"]["equal_detection"]) == set(summary["disparate_impact"])
    driving = summary["behaviour"]["dangerous_driving"]["detection_rate"]
    assert driving["urban"] > driving["rural"]  # the spec watches cities more closely


def one_behaviour(rate: float, deterrence: float = 1.0, detection: Any = 1.0) -> PopulationSpec:
    return PopulationSpec.model_validate({
        "population": "test", "heterogeneity": 2.0,
        "kinds": {"person": {"share": 1, "attributes": {"region": {"urban": 0.5, "rural": 0.5},
                                                         "income": {"low": 0.5, "high": 0.5}}}},
        "behaviours": {"bank_arrears": {"rate": rate, "multipliers": {"income": {"low": 3.0}},
                                        "deterrence": deterrence, "detection": detection}},
    })  # fmt: skip


def run_spec(spec: PopulationSpec, population: int, months: int, seed: int = 11) -> Any:
    rulebook = load_rulebook(ARTICLE / "rulebook.yaml")
    rng = np.random.default_rng(seed)
    city = draw_city(spec, population, rng)
    return city, simulate_behaviour(spec, rulebook, city, dt.datetime(2024, 1, 1, tzinfo=rulebook.tz), months, rng)


def test_generated_rates_match_the_spec() -> None:
    spec = one_behaviour(rate=0.5, detection={"urban": 0.9, "rural": 0.3})
    city, simulated = run_spec(spec, 40_000, 12)
    ledger = simulated.ledger.to_pydict()
    income = dict(
        zip(city.ids.to_pylist(), (city.values["income"][code] for code in city.attributes["income"]), strict=True)
    )
    tally = simulated.tallies["bank_arrears"]
    happened = sum(tally.happened.values())
    # Expected events: 20,000 people at 1.5 a year and 20,000 at 0.5; the gamma propensity has mean 1
    # and variance 1/2, so the count's variance is mean + mean^2 * 0.5 / people per group.
    mean = 20_000 * 1.5 + 20_000 * 0.5
    assert abs(happened - mean) < 4 * np.sqrt(mean + 0.5 * (1.5**2 + 0.5**2) * 20_000)
    low = sum(1 for subject in ledger["subject"] if income[subject] == "low")
    assert 2.6 < low / (len(ledger["subject"]) - low) < 3.4  # the multiplier of 3 (detection is independent)
    for region, chance in (("urban", 0.9), ("rural", 0.3)):
        seen, total = tally.detected[region], tally.happened[region]
        assert abs(seen / total - chance) < 4 * np.sqrt(chance * (1 - chance) / total), region
    assert simulated.ledger.num_rows == sum(tally.detected.values())
    at = simulated.ledger["at"].to_pylist()
    assert at == sorted(at) and at[0] >= dt.datetime(2024, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8)


def test_deterrence_lowers_repeat_rates() -> None:
    undeterred = run_spec(one_behaviour(rate=1.0, deterrence=1.0), 20_000, 24)[1].tallies["bank_arrears"]
    deterred = run_spec(one_behaviour(rate=1.0, deterrence=0.2), 20_000, 24)[1].tallies["bank_arrears"]
    repeat = undeterred.subjects_again / undeterred.subjects_once
    assert deterred.subjects_again / deterred.subjects_once < repeat - 0.1
    # The first offence is not deterred: as many people offend at least once, within noise.
    assert abs(deterred.subjects_once - undeterred.subjects_once) < 0.02 * undeterred.subjects_once


def test_the_flight_ban_is_of_the_order_the_article_reports(tmp_path: Path) -> None:
    summary = simulate(load_scenario(ARTICLE), plan(40_000, years=2), tmp_path, counterfactual=False)
    share = summary["final"]["measures"]["flight_ban"]["share_of_kind"]["person"]
    assert 0.0035 < share < 0.011  # the article: 9 million of about 1.4 billion, 0.64%


def test_a_bad_spec_is_named_by_file_line_and_key(tmp_path: Path) -> None:
    text = (ARTICLE / "population.yaml").read_text().replace("rate: 0.25", "rate: -0.25")
    bad = tmp_path / "population.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(bad)
    line = text.splitlines().index("    rate: -0.25") + 1
    assert f"population.yaml:{line} (behaviours.bank_arrears.rate)" in str(caught.value)
    (tmp_path / "rulebook.yaml").write_text((ARTICLE / "rulebook.yaml").read_text())
    result = runner.invoke(app, ["simulate", str(tmp_path), "--population", "100", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "behaviours.bank_arrears.rate" in result.stderr


def test_the_commands_as_the_readme_runs_them(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(ARTICLE), "--population", "3000", "--years", "1", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert {"report.html", "summary.json", "ledger.parquet", "subjects.parquet"} <= {p.name for p in out.iterdir()}
    reform = tmp_path / "reform.yaml"
    reform.write_text((ARTICLE / "rulebook.yaml").read_text().replace("lasts: P2Y", "lasts: P1Y"))
    result = runner.invoke(app, ["compare", str(ARTICLE), str(reform), "--population", "6000", "--years", "2",
                                 "--out", str(tmp_path / "cmp")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    # Shorter black-list stays only ever let people off: nobody is worse off, some are better off.
    assert summary["worse_off"] == 0 and summary["better_off"] > 0
    assert summary["changes"]["lists"]["dishonest_judgment_debtors"]["left"] > 0
    assert summary["changes"]["decisions"]["buy_flight_ticket"]["better"] > 0
    same = runner.invoke(app, ["compare", str(ARTICLE), str(ARTICLE / "rulebook.yaml"), "--population", "2000",
                               "--years", "1", "--out", str(tmp_path / "same")])  # fmt: skip
    assert same.exit_code == 0, same.stderr
    assert json.loads((tmp_path / "same" / "compare.json").read_text())["worse_off"] == 0
    assert json.loads((tmp_path / "same" / "compare.json").read_text())["better_off"] == 0


def test_a_wrong_scenario_or_start_is_named(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["simulate", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and f"no scenario folder or rulebook at {tmp_path / 'nope'}" in missing.stderr
    late = runner.invoke(app, ["simulate", str(ARTICLE), "--start", "yesterday", "--out", str(tmp_path / "o")])
    assert late.exit_code == 2 and "--start: Expected an ISO 8601 date" in late.stderr
    assert not (tmp_path / "o").exists()  # nothing written
