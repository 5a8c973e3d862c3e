"""The report's plots, drawn with matplotlib and kept inline as base64 PNG.

Each figure is laid out by matplotlib's constrained layout, with short titles (what a colour
means goes in a legend outside the axes, never over the bars), so that it reads whole at 1280 px
and scaled down on a phone.
"""

from __future__ import annotations

import base64
import io
import itertools
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window: no display on a server

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

DENY, WARN, PERK, NEUTRAL = "#b2182b", "#999999", "#1a9850", "#4575b4"
TIER_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac", "#053061")


def _figure(height: float) -> tuple[Figure, Any]:
    return plt.subplots(figsize=(8, height), layout="constrained")


def _legend_below(figure: Figure, handles: list[Any] | None = None, columns: int = 4) -> None:
    """The legend under the axes, where it can cover nothing."""
    if handles is None:
        figure.legend(loc="outside lower center", ncol=columns, fontsize="small", frameon=False)
    else:
        figure.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize="small", frameon=False)


def png(figure: Figure) -> str:
    """The figure as a data: URI, and closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_distribution(program: str, figures: dict[str, Any]) -> str:
    figure, axes = _figure(3.2)
    histogram = figures.get("histogram")
    if histogram:
        edges, counts = histogram["edges"], histogram["counts"]
        axes.bar(edges[:-1], counts, width=[b - a for a, b in itertools.pairwise(edges)], align="edge", color="#4575b4")
        axes.set_yscale("log")
    axes.set_title(f"Scores in program {program} at the end (log scale)")
    axes.set_xlabel("score")
    axes.set_ylabel("subjects")
    return png(figure)


def tier_shares(program: str, timeline: list[dict[str, Any]]) -> str:
    """Stacked shares on a linear 0-100% scale, lowest tier at the bottom (a log scale has no 0)."""
    figure, axes = _figure(3.4)
    instants = [point["at"][:10] for point in timeline]
    # summary.over_time lists tiers from the highest bound down (and "None", no tier, last).
    tiers = list(dict.fromkeys(tier for point in timeline for tier in point["tiers"].get(program, {})))
    bottom = [0.0] * len(timeline)
    for index, tier in enumerate(reversed(tiers)):
        shares = [100 * point["tiers"].get(program, {}).get(tier, 0.0) for point in timeline]
        colour = WARN if tier == "None" else TIER_COLOURS[index % len(TIER_COLOURS)]
        axes.bar(instants, shares, bottom=bottom, label="no tier" if tier == "None" else tier, color=colour)
        bottom = [low + share for low, share in zip(bottom, shares, strict=True)]
    axes.set_ylim(0, 100)
    axes.yaxis.set_major_formatter(PercentFormatter())
    axes.set_title(f"Tier shares in program {program}")
    axes.set_ylabel("share of its subjects")
    _legend_below(figure, columns=min(len(tiers), 8) or 1)
    return png(figure)


def list_sizes(timeline: list[dict[str, Any]]) -> str:
    figure, axes = _figure(3.6)
    instants = [point["at"][:10] for point in timeline]
    for name in timeline[0]["lists"] if timeline else []:
        axes.plot(instants, [point["lists"][name] for point in timeline], marker="o", label=name)
    axes.set_title("Subjects on each list")
    axes.set_ylim(bottom=0)
    axes.set_ylabel("subjects")
    _legend_below(figure, columns=3)
    return png(figure)


def measures_per_million(measures: dict[str, Any]) -> str:
    figure, axes = _figure(0.32 * len(measures) + 1.6)
    names = list(measures)
    values = [measures[name]["per_million"] for name in names]
    colours = [DENY if measures[name]["effect"] == "deny" else WARN if measures[name]["effect"] == "limit"
               else PERK for name in names]  # fmt: skip
    axes.barh(names, values, color=colours)
    axes.set_title("Subjects each measure applies to")
    axes.set_xlabel("subjects per million")
    axes.invert_yaxis()
    _legend_below(figure, [Patch(color=DENY, label="deny"), Patch(color=WARN, label="limit"),
                           Patch(color=PERK, label="perk")], 3)  # fmt: skip
    return png(figure)


def disparate_impact(impact: dict[str, Any]) -> str:
    """Ratios coloured by what they show: a disparity, a gap too small to tell from chance, none."""
    labels, ratios, colours = [], [], []
    for measure, attributes in impact.items():
        for attribute, figures in attributes.items():
            if figures and figures.get("ratio") is not None:
                labels.append(f"{measure} by {attribute}")
                ratios.append(figures["ratio"])
                status = figures.get("status", "flagged" if figures.get("flagged") else "within")
                colours.append(DENY if status == "flagged" else WARN if status == "too_few" else NEUTRAL)
    figure, axes = _figure(0.28 * max(len(labels), 1) + 1.8)
    axes.barh(labels, ratios, color=colours)
    axes.axvline(0.8, color="black", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_title("Selection-rate ratio of each deny measure")
    axes.set_xlabel("lowest group's rate / highest group's rate (dashed: 0.8)")
    axes.invert_yaxis()
    _legend_below(figure, [Patch(color=DENY, label="flagged: under 0.8"),
                           Patch(color=WARN, label="under 0.8, too few to tell"),
                           Patch(color=NEUTRAL, label="0.8 or more")], 3)  # fmt: skip
    return png(figure)


def detection_bias(actual: dict[str, Any], equal: dict[str, Any]) -> str:
    labels, left, right = [], [], []
    for measure, figures in actual.items():
        region = figures.get("region") or {}
        for value, rate in (region.get("rates") or {}).items():
            labels.append(f"{measure}, {value}")
            left.append(1_000_000 * rate)
            right.append(1_000_000 * ((equal.get(measure, {}).get("region") or {}).get("rates") or {}).get(value, 0))
    figure, axes = _figure(0.3 * max(len(labels), 1) + 1.8)
    positions = list(range(len(labels)))
    axes.barh([p - 0.2 for p in positions], left, height=0.4, label="detection as in the spec", color=DENY)
    axes.barh([p + 0.2 for p in positions], right, height=0.4, label="same detection everywhere", color=NEUTRAL)
    axes.set_yticks(positions, labels, fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("subjects per million of their kind")
    axes.set_title("Deny measures by region: what detection alone does")
    _legend_below(figure, columns=2)
    return png(figure)


def changes(counts: dict[str, dict[str, int]], title: str) -> str:
    figure, axes = _figure(0.4 * max(len(counts), 1) + 1.6)
    names = list(counts)
    worse = [counts[name].get("worse", 0) for name in names]
    better = [counts[name].get("better", 0) for name in names]
    axes.barh(names, [-value for value in worse], color=DENY, label="worse off")
    axes.barh(names, better, color="#1a9850", label="better off")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_title(title)
    axes.set_xlabel("subjects")
    axes.invert_yaxis()
    _legend_below(figure, columns=2)
    return png(figure)
