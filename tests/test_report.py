"""The simulator's report.html and compare.html (issue 14.7): figures that read whole, rates with
their counts and 95% intervals, no disparity claimed on groups too small to tell, details instead
of identifiers, cells escaped, and the reform page naming both rulebooks and the rules that differ."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from credo.rules import load_rulebook
from credo.simulation import plots
from credo.simulation.compare import _page as compare_page
from credo.simulation.report import per_million, render
from credo.simulation.run import Plan, load_scenario, simulate
from credo.simulation.summary import MIN_MEMBERS, disparity, wilson
from tests.conftest import SCENARIOS

ARTICLE = SCENARIOS / "article"


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rulebook = load_rulebook(ARTICLE / "rulebook.yaml")
    plan = Plan(3000, 1, 5, dt.datetime(2024, 1, 1, tzinfo=rulebook.tz))
    return simulate(load_scenario(ARTICLE), plan, tmp_path_factory.mktemp("report"))


def test_wilson_intervals() -> None:
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_a_disparity_on_groups_too_small_to_tell_is_not_flagged() -> None:
    # The report's old finding: a ratio of 0.50 on nine subjects.
    assert disparity({"A": 3 / 6, "B": 1 / 3}, {"A": 3, "B": 1}, {"A": 6, "B": 3}) == "too_few"
    # Large groups, rates under four-fifths of each other, but intervals that overlap: chance could do it.
    assert disparity({"A": 20 / 10_000, "B": 14 / 10_000}, {"A": 20, "B": 14}, {"A": 10_000, "B": 10_000}) == "too_few"
    # Large groups and a gap no chance explains: a finding.
    assert disparity({"A": 400 / 10_000, "B": 200 / 10_000}, {"A": 400, "B": 200}, {"A": 10_000, "B": 10_000}) == (
        "flagged"
    )
    members = {"A": MIN_MEMBERS - 1, "B": 10_000}
    assert disparity({"A": 20 / members["A"], "B": 0.0001}, {"A": 20, "B": 1}, members) == "too_few"
    assert disparity({"A": 0.1, "B": 0.09}, {"A": 10, "B": 9}, {"A": 100, "B": 100}) == "within"
    assert disparity({"A": 0.0, "B": 0.0}, {"A": 0, "B": 0}, {"A": 100, "B": 100}) == "none"


def test_every_selection_rate_has_its_count_and_interval(summary: dict[str, Any]) -> None:
    for by in summary["disparate_impact"].values():
        for figures in by.values():
            for value, rate in figures["rates"].items():
                low, high = figures["intervals"][value]
                assert low <= rate <= high
                assert rate == pytest.approx(figures["selected"][value] / figures["members"][value], abs=1e-6)
            assert figures["flagged"] == (figures["status"] == "flagged")
    html, _ = render(summary)
    impact = html.split("Disparate impact", 1)[1].split("What detection alone does", 1)[0]
    groups = re.findall(r"\b\w+: [\d,]+ of [\d,]+, [\d.,]+ \([\d.,]+–[\d.,]+\)", impact)
    expected = sum(len(f["rates"]) for by in summary["disparate_impact"].values() for f in by.values() if f)
    assert len(groups) == expected > 0


def test_counts_read_as_whole_numbers_and_measures_by_their_detail(summary: dict[str, Any]) -> None:
    assert per_million(5050.0) == "5,050" and per_million(3.3) == "3.3" and per_million(0) == "0"
    html, _ = render(summary)
    assert not re.search(r"\d\.0 per million", html)
    rulebook = load_rulebook(ARTICLE / "rulebook.yaml")
    for measure in rulebook.measures.values():
        assert measure.detail.replace("'", "&#39;") in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_every_table_scrolls_in_its_own_container(summary: dict[str, Any]) -> None:
    html, _ = render(summary)
    assert html.count("<table>") == html.count('<div class="scroll"><table>') > 5


def test_cells_are_escaped(summary: dict[str, Any]) -> None:
    hostile = copy.deepcopy(summary)
    hostile["rulebook"] = "<script>alert(1)</script>"
    figures = hostile["final"]["measures"].pop("flight_ban")
    hostile["final"]["measures"]["<img src=x onerror=alert(1)>"] = {**figures, "detail": "<b>bold</b> & co"}
    html, _ = render(hostile)
    assert "<script>" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html


def _drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    figures: list[Figure] = []

    def keep(figure: Figure) -> str:
        figure.canvas.draw()
        figures.append(figure)
        return "data:image/png;base64,"

    monkeypatch.setattr(plots, "png", keep)
    return figures


def test_figures_read_whole(summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """No title or label is cut at the figure's edge, and no legend lies over the plotted area."""
    figures = _drawn(monkeypatch)
    render(summary)
    assert len(figures) == len(summary["plots"])
    for figure in figures:
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        edge = figure.bbox
        # An axes' tight box holds what is drawn of it: its title, labels and tick labels in view.
        drawn = [axes.get_tightbbox(renderer) for axes in figure.axes]
        legends = [*figure.legends, *(axes.get_legend() for axes in figure.axes if axes.get_legend())]
        for box in [*drawn, *(legend.get_window_extent(renderer) for legend in legends)]:
            assert box is not None
            assert edge.x0 - 1 <= box.x0 and box.x1 <= edge.x1 + 1, figure.axes[0].get_title()
            assert edge.y0 - 1 <= box.y0 and box.y1 <= edge.y1 + 1, figure.axes[0].get_title()
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for axes in figure.axes:
                assert not box.overlaps(axes.get_window_extent(renderer)), "a legend covers the plot"


def test_tier_shares_use_a_linear_percentage_scale(summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _drawn(monkeypatch)
    plots.tier_shares("citizen", summary["over_time"])
    axes = figures[0].axes[0]
    assert axes.get_yscale() == "linear" and axes.get_ylim() == (0, 100)


def test_compare_names_both_rulebooks_and_the_rules_that_differ(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from credo.cli import app

    reform = tmp_path / "reform.yaml"
    reform.write_text((ARTICLE / "rulebook.yaml").read_text().replace("lasts: P2Y", "lasts: P1Y"))
    result = CliRunner().invoke(app, ["compare", str(ARTICLE), str(reform), "--population", "1500", "--years", "1",
                                      "--out", str(tmp_path / "cmp")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "cmp" / "compare.html").read_text()
    assert str(ARTICLE / "rulebook.yaml") in html and str(reform) in html
    lists = load_rulebook(ARTICLE / "rulebook.yaml").lists
    changed = [name for name, rule in lists.items() if str(rule.lasts) == "P2Y"]
    assert changed
    for name in changed:
        assert f"list {name} changed: lasts P2Y → P1Y" in html


def test_compare_page_escapes_and_says_when_no_rule_differs() -> None:
    summary = {"a": {"rulebook": "<a>", "version": "1", "file": "a.yaml"},
               "b": {"rulebook": "b", "version": "2", "file": "b.yaml"}, "population": 10, "records": 0,
               "at": "2025-01-01", "worse_off": 0, "better_off": 0, "mixed": 0, "rules": [],
               "changes": {"decisions": {}, "tiers": {}, "lists": {}}, "by": {}}  # fmt: skip
    html, named = compare_page(summary)
    assert "&lt;a&gt;" in html and "<a>" not in html and "the two rulebooks hold the same rules" in html
    assert named == ["decisions", "tiers", "lists"]


def test_a_rulebook_detail_with_a_script_is_escaped_in_the_report_file(tmp_path: Path) -> None:
    """Through `simulate` itself: the report.html it writes, rendered by the web's one environment,
    works from disk (its stylesheet inlined, nothing linked or scripted) and escapes every cell."""
    scenario = tmp_path / "scenario"
    scenario.mkdir()
    hostile = '<script>alert("detail")</script>'
    text = (ARTICLE / "rulebook.yaml").read_text()
    assert 'detail: "may not buy flight tickets"' in text
    (scenario / "rulebook.yaml").write_text(text.replace('"may not buy flight tickets"', repr(hostile)))
    (scenario / "population.yaml").write_text((ARTICLE / "population.yaml").read_text())
    rulebook = load_rulebook(scenario / "rulebook.yaml")
    assert rulebook.measures["flight_ban"].detail == hostile
    simulate(load_scenario(scenario), Plan(1500, 1, 3, dt.datetime(2024, 1, 1, tzinfo=rulebook.tz)), tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script" not in html and hostile not in html
    assert "&lt;script&gt;alert(&#34;detail&#34;)&lt;/script&gt;" in html
    assert '<header class="top">' in html and "<style>" in html and "--accent" in html  # the pages' sheet
    assert 'rel="stylesheet"' not in html and "/static/" not in html  # nothing to fetch: it works offline
