"""report.html: a self-contained page a journalist can read, every figure from summary.json."""

from __future__ import annotations

from html import escape
from typing import Any

from credo.simulation import plots

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.6rem 1rem}.flag{color:#b2182b;font-weight:bold}
figure{margin:1rem 0}img{max-width:100%}figcaption{font-size:.9rem;color:#555}
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, uri: str, caption: str) -> str:
    return (f'<figure id="plot-{escape(name)}"><img alt="{escape(name)}" src="{uri}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")  # fmt: skip


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%"


def render(summary: dict[str, Any]) -> tuple[str, list[str]]:
    """The page, and the names of the plots it holds."""
    final, timeline = summary["final"], summary["over_time"]
    named: list[str] = []
    parts: list[str] = []

    def plot(name: str, uri: str, caption: str) -> None:
        named.append(name)
        parts.append(_figure(name, uri, caption))

    population = summary["population"]
    parts.append(f"<h1>What rulebook {escape(summary['rulebook'])} {escape(summary['version'])} would do</h1>")
    if population.get("illustrative"):
        parts.append('<p class="note"><b>Illustrative.</b> The population, its behaviour and its detection rates are '
                     "invented to show how the rules work, calibrated only where the scenario's README says so. They "
                     "are not measurements of any real place.</p>")  # fmt: skip
    parts.append(
        f"<p>A synthetic population of {population['subjects']:,} subjects ({population['persons']:,} people and "
        f"{population['organizations']:,} organizations), simulated month by month from {summary['start'][:10]} to "
        f"{summary['end'][:10]} (seed {summary['seed']}), produced {summary['records']:,} records, which credo's "
        "population engine scored under the published rulebook.</p>"
    )
    deny = {name: figures for name, figures in final["measures"].items() if figures["effect"] == "deny"}
    if deny:
        items = "".join(
            f"<li><b>{escape(name)}</b> ({escape(figures['action'])}): {figures['subjects']:,} subjects, "
            f"{figures['per_million']:,} per million"
            + "".join(f"; {_percent(share)} of {kind}s" for kind, share in figures["share_of_kind"].items() if share)
            + "</li>"
            for name, figures in deny.items()
        )
        parts.append(f"<h2>Who is refused what, at the end</h2><ul>{items}</ul>")

    parts.append("<h2>Scores</h2>")
    for program, figures in final["score_distribution"].items():
        plot(f"scores-{program}", plots.score_distribution(program, figures),
             f"Distribution of {program} scores at {summary['end'][:10]}.")  # fmt: skip
    rows = [[escape(p), f["subjects"], f.get("mean", ""), f.get("p1", ""), f.get("p50", ""), f.get("p99", "")]
            for p, f in final["score_distribution"].items()]  # fmt: skip
    parts.append(_table(["program", "subjects", "mean", "1st percentile", "median", "99th percentile"], rows))

    parts.append("<h2>Tiers over time</h2>")
    for program in final["score_distribution"]:
        plot(f"tiers-{program}", plots.tier_shares(program, timeline), f"Share of {program} subjects in each tier.")
        tiers = list(timeline[-1]["tiers"].get(program, {})) if timeline else []
        parts.append(_table(["at", *tiers], [[point["at"][:10], *(_percent(point["tiers"][program].get(t, 0.0))
                                                                 for t in tiers)] for point in timeline]))  # fmt: skip

    parts.append("<h2>Lists over time</h2>")
    plot("lists", plots.list_sizes(timeline), "Subjects on each black and red list.")
    names = list(timeline[-1]["lists"]) if timeline else []
    parts.append(_table(["at", *names], [[point["at"][:10], *(f"{point['lists'][n]:,}" for n in names)]
                                         for point in timeline]))  # fmt: skip

    parts.append("<h2>Measures</h2>")
    plot("measures", plots.measures_per_million(final["measures"]), "How many subjects each measure applies to.")
    parts.append(_table(["measure", "action", "effect", "subjects", "per million"],
                        [[escape(n), escape(f["action"]), escape(f["effect"]), f"{f['subjects']:,}", f["per_million"]]
                         for n, f in final["measures"].items()]))  # fmt: skip

    impact = summary["disparate_impact"]
    parts.append("<h2>Disparate impact (the four-fifths rule)</h2>")
    parts.append(
        "<p>For every measure that denies something, the selection rate of a group is the share of its members the "
        "measure applies to. The ratio divides the lowest rate by the highest; under 0.8 the measure falls on one "
        "group more than 1.25 times as often as on another, and is <span class='flag'>flagged</span>. The group "
        "label is synthetic: nobody's ethnicity, religion or politics is modelled or scored.</p>"
    )
    plot("disparate-impact", plots.disparate_impact(impact), "Selection-rate ratios; the dashed line is 0.8.")
    rows = []
    for measure, attributes in impact.items():
        for attribute, figures in attributes.items():
            if not figures:
                continue
            rates = ", ".join(f"{escape(v)} {1e6 * r:,.0f}/M" for v, r in figures["rates"].items())
            ratio = "" if figures["ratio"] is None else f"{figures['ratio']:.2f}"
            flag = "<span class='flag'>flagged</span>" if figures["flagged"] else ""
            rows.append([escape(measure), escape(attribute), escape(figures["kind"]), rates, ratio, flag])
    parts.append(_table(["measure", "by", "among", "selection rates", "ratio", ""], rows))

    bias = summary["detection_bias"]
    parts.append("<h2>What detection alone does</h2>")
    parts.append(
        "<p>Cameras and officers are not everywhere. The same population, with the same behaviour drawn from the "
        "same seed, was simulated again with every region detected at the population's average rate. The "
        "difference between the two runs is what unequal detection alone does to who is sanctioned.</p>"
    )
    if bias.get("equal_detection"):
        plot("detection-bias", plots.detection_bias(impact, bias["equal_detection"]),
             "Deny measures per million by region, as specified and with equal detection.")  # fmt: skip
    rows = [[escape(name), f"{b['happened']:,}", f"{b['detected']:,}",
             ", ".join(f"{escape(r)} {_percent(v)}" for r, v in b["detection_rate"].items()),
             "" if b["repeat_rate"] is None else _percent(b["repeat_rate"])]
            for name, b in summary["behaviour"].items()]  # fmt: skip
    parts.append(_table(["behaviour", "happened", "recorded", "detected, by region", "repeat rate"], rows))

    parts.append(
        "<h2>Method</h2><p>Each subject's monthly rate for a behaviour is the spec's yearly rate / 12, times the "
        "multipliers of their attributes, times their own gamma-distributed propensity (mean 1), times the "
        "deterrence multiplier once they have been sanctioned. Events are Poisson; each is recorded with the "
        "detection probability of the subject's region. Scores, tiers, lists and measures come from credo's "
        "population engine, held equal to the reference evaluator by property tests. The figures are in "
        "summary.json beside this page.</p>"
    )
    title = f"credo simulation: {escape(summary['rulebook'])}"
    html = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")  # fmt: skip
    return html, named
