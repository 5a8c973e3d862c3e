"""report.html: a self-contained page a journalist can read, every figure from summary.json.

The page is the web's template reports/report.html, rendered by credo's one autoescaping Jinja2
environment (credo.templating) with the pages' layout and their stylesheet inlined, so that the
file works offline: every name and number that reaches it from a rulebook or a spec is escaped.
Python only shapes the figures into rows.
"""

from __future__ import annotations

from typing import Any

from credo.simulation import plots
from credo.simulation.summary import MIN_MEMBERS
from credo.templating import count, environment, per_million, percent

__all__ = ["count", "per_million", "percent", "render"]


def _figure(name: str, uri: str, caption: str) -> dict[str, str]:
    return {"name": name, "uri": uri, "caption": caption}


def _impact_rows(impact: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for measure, attributes in impact.items():
        for attribute, figures in attributes.items():
            if not figures:
                continue
            members = figures.get("members", {})
            intervals = figures.get("intervals", {})
            groups = [
                {"value": value, "selected": figures["selected"][value], "members": members.get(value, ""),
                 "rate": rate * 1_000_000, "low": intervals.get(value, [0, 0])[0] * 1_000_000,
                 "high": intervals.get(value, [0, 0])[1] * 1_000_000}
                for value, rate in figures["rates"].items()
            ]  # fmt: skip
            ratio = "" if figures["ratio"] is None else f"{figures['ratio']:.2f}"
            status = figures.get("status", "flagged" if figures["flagged"] else "within")
            rows.append({"measure": measure, "attribute": attribute, "kind": figures["kind"], "groups": groups,
                         "ratio": ratio, "status": status})  # fmt: skip
    return rows


def render(summary: dict[str, Any]) -> tuple[str, list[str]]:
    """The page, and the names of the plots it holds."""
    final, timeline = summary["final"], summary["over_time"]
    end = summary["end"][:10]
    distribution = final["score_distribution"]
    measures = [{"name": name, **figures, "detail": figures.get("detail") or name}
                for name, figures in final["measures"].items()]  # fmt: skip
    tiers: list[dict[str, Any]] = []
    for program in distribution:
        names = list(timeline[-1]["tiers"].get(program, {})) if timeline else []
        rows = [
            [point["at"][:10], *(percent(point["tiers"][program].get(t, 0.0)) for t in names)] for point in timeline
        ]
        plot = _figure(f"tiers-{program}", plots.tier_shares(program, timeline), f"Share of {program} subjects in "
                       "each tier, lowest tier at the bottom; the table gives the exact shares.")  # fmt: skip
        tiers.append({"plot": plot, "names": ["no tier" if t == "None" else t for t in names], "rows": rows})
    lists_final = final.get("lists", {})
    bias = summary["detection_bias"]
    figures: dict[str, Any] = {
        "scores": [_figure(f"scores-{program}", plots.score_distribution(program, figures),
                           f"Distribution of {program} scores at {end}.")
                   for program, figures in distribution.items()],
        "lists": _figure("lists", plots.list_sizes(timeline), "Subjects on each black and red list."),
        "measures": _figure("measures", plots.measures_per_million(final["measures"]),
                            "How many subjects each measure applies to, per million subjects."),
        "impact": _figure("disparate-impact", plots.disparate_impact(summary["disparate_impact"]),
                          "Selection-rate ratios; the dashed line is 0.8."),
        "detection": _figure("detection-bias", plots.detection_bias(summary["disparate_impact"],
                                                                    bias["equal_detection"]),
                             "Deny measures per million by region, as specified and with equal detection.")
        if bias.get("equal_detection") else None,
    }  # fmt: skip
    page = {
        "rulebook": summary["rulebook"],
        "version": summary["version"],
        "illustrative": summary["population"].get("illustrative", False),
        "population": summary["population"],
        "start": summary["start"][:10],
        "end": end,
        "seed": summary["seed"],
        "records": summary["records"],
        "denied": [
            {**m, "shares": [(kind, share) for kind, share in m["share_of_kind"].items() if share]}
            for m in measures
            if m["effect"] == "deny"
        ],
        "scores": [
            [p, count(f["subjects"]), f.get("mean", ""), f.get("p1", ""), f.get("p50", ""), f.get("p99", "")]
            for p, f in distribution.items()
        ],
        "tiers": tiers,
        "instants": [point["at"][:10] for point in timeline],
        "lists": [
            {
                "name": name,
                "kind": (lists_final.get(name) or {}).get("kind", ""),
                "sizes": [point["lists"][name] for point in timeline],
            }
            for name in (timeline[-1]["lists"] if timeline else [])
        ],
        "measures": measures,
        "impact": _impact_rows(summary["disparate_impact"]),
        "min_members": MIN_MEMBERS,
        "behaviour": [
            [
                name,
                count(b["happened"]),
                count(b["detected"]),
                ", ".join(f"{r} {percent(v)}" for r, v in b["detection_rate"].items()),
                "" if b["repeat_rate"] is None else percent(b["repeat_rate"]),
            ]
            for name, b in summary["behaviour"].items()
        ],
        "plots": figures,
    }
    named: list[str] = [plot["name"] for plot in figures["scores"]]
    named += [tier["plot"]["name"] for tier in tiers]
    named += [figures[key]["name"] for key in ("lists", "measures", "impact", "detection") if figures[key]]
    page |= {"kind": "simulation report", "command": "credo simulate", "data": "summary.json"}
    return environment().get_template("reports/report.html").render(page), named
