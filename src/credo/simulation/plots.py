"""The report's plots, drawn with matplotlib and kept inline as base64 PNG."""

from __future__ import annotations

import base64
import io
import itertools
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window: no display on a server

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

DENY, WARN = "#b2182b", "#999999"


def png(figure: Figure) -> str:
    """The figure as a data: URI, and closed."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_distribution(program: str, figures: dict[str, Any]) -> str:
    figure, axes = plt.subplots(figsize=(7, 3.2))
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
    figure, axes = plt.subplots(figsize=(7, 3.2))
    instants = [point["at"][:10] for point in timeline]
    tiers = list(dict.fromkeys(tier for point in timeline for tier in point["tiers"].get(program, {})))
    for tier in tiers:
        axes.plot(instants, [100 * point["tiers"][program].get(tier, 0.0) for point in timeline], marker="o",
                  label=tier)  # fmt: skip
    axes.set_yscale("symlog", linthresh=1)
    axes.set_title(f"Tier shares in program {program} (% of its subjects)")
    axes.legend(fontsize="small", ncol=4)
    axes.tick_params(axis="x", labelrotation=30)
    return png(figure)


def list_sizes(timeline: list[dict[str, Any]]) -> str:
    figure, axes = plt.subplots(figsize=(7, 3.2))
    instants = [point["at"][:10] for point in timeline]
    for name in timeline[0]["lists"] if timeline else []:
        axes.plot(instants, [point["lists"][name] for point in timeline], marker="o", label=name)
    axes.set_title("Subjects on each list")
    axes.legend(fontsize="small")
    axes.tick_params(axis="x", labelrotation=30)
    return png(figure)


def measures_per_million(measures: dict[str, Any]) -> str:
    figure, axes = plt.subplots(figsize=(7, 0.4 * len(measures) + 1.2))
    names = list(measures)
    values = [measures[name]["per_million"] for name in names]
    colours = [DENY if measures[name]["effect"] == "deny" else WARN if measures[name]["effect"] == "limit"
               else "#1a9850" for name in names]  # fmt: skip
    axes.barh(names, values, color=colours)
    axes.set_title("Subjects each measure applies to, per million (red: deny, grey: limit, green: perk)")
    axes.invert_yaxis()
    return png(figure)


def disparate_impact(impact: dict[str, Any]) -> str:
    figure, axes = plt.subplots(figsize=(7, 0.5 * max(len(impact), 1) + 1.5))
    labels, ratios = [], []
    for measure, attributes in impact.items():
        for attribute, figures in attributes.items():
            if figures and figures.get("ratio") is not None:
                labels.append(f"{measure} by {attribute}")
                ratios.append(figures["ratio"])
    axes.barh(labels, ratios, color=[DENY if ratio < 0.8 else "#4575b4" for ratio in ratios])
    axes.axvline(0.8, color="black", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_title("Selection-rate ratio of each deny measure (under 0.8: flagged)")
    axes.invert_yaxis()
    return png(figure)


def detection_bias(actual: dict[str, Any], equal: dict[str, Any]) -> str:
    labels, left, right = [], [], []
    for measure, figures in actual.items():
        region = figures.get("region") or {}
        for value, rate in (region.get("rates") or {}).items():
            labels.append(f"{measure}, {value}")
            left.append(1_000_000 * rate)
            right.append(1_000_000 * ((equal.get(measure, {}).get("region") or {}).get("rates") or {}).get(value, 0))
    figure, axes = plt.subplots(figsize=(7, 0.32 * max(len(labels), 1) + 1.6))
    positions = list(range(len(labels)))
    axes.barh([p - 0.2 for p in positions], left, height=0.4, label="detection as in the spec", color=DENY)
    axes.barh([p + 0.2 for p in positions], right, height=0.4, label="same detection everywhere", color="#4575b4")
    axes.set_yticks(positions, labels, fontsize="x-small")
    axes.invert_yaxis()
    axes.set_xlabel("subjects per million of their kind")
    axes.set_title("Deny measures by region: what detection alone does")
    axes.legend(fontsize="small")
    return png(figure)


def changes(counts: dict[str, dict[str, int]], title: str) -> str:
    figure, axes = plt.subplots(figsize=(7, 0.45 * max(len(counts), 1) + 1.4))
    names = list(counts)
    worse = [counts[name].get("worse", 0) for name in names]
    better = [counts[name].get("better", 0) for name in names]
    axes.barh(names, [-value for value in worse], color=DENY, label="worse off")
    axes.barh(names, better, color="#1a9850", label="better off")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_title(title)
    axes.legend(fontsize="small")
    axes.invert_yaxis()
    return png(figure)
