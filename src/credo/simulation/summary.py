"""The figures of a simulation: distributions, shares over time, measure counts, disparate impact.

Disparate impact follows the four-fifths rule (29 CFR 1607.4(D)): for each deny measure and each
attribute (group, region), the selection rate of each value is the share of its subjects the
measure applies to; the ratio is the lowest rate over the highest. Under 0.8 it is flagged: the
most burdened value is selected at more than 1.25 times the rate of the least.

A ratio under 0.8 between groups too small to tell apart is not a finding: every rate comes with
its count and a 95% Wilson score interval, and a ratio under 0.8 is flagged only when the
intervals of the lowest and the highest rate do not overlap and each of the two groups has at
least MIN_MEMBERS subjects; otherwise it is marked "too_few" (too few to tell). Non-overlapping
95% intervals are a conservative test (stricter than a two-proportion test at 5%): a flag means
the gap is very unlikely to be chance, and a report that cries wolf on nine subjects is not read.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.simulation.behaviour import Simulated
from credo.simulation.city import KINDS, PREFIX, City
from credo.simulation.scoring import Snapshot

FOUR_FIFTHS = 0.8
MIN_MEMBERS = 30  # fewer subjects in a group than this: no finding either way
Z95 = 1.959964  # the standard normal quantile of a two-sided 95% interval


def wilson(selected: int, members: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion selected/members (sound at 0 and at small n)."""
    if members == 0:
        return 0.0, 1.0
    share = selected / members
    centre = (share + z * z / (2 * members)) / (1 + z * z / members)
    half = z * np.sqrt(share * (1 - share) / members + z * z / (4 * members * members)) / (1 + z * z / members)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def disparity(rates: dict[str, float], selected: dict[str, int], members: dict[str, int]) -> str:
    """flagged, too_few (under 0.8 but not distinguishable from chance), within (0.8 or more) or none."""
    highest = max(rates.values(), default=0.0)
    if highest <= 0:
        return "none"
    lowest_value = min(rates, key=lambda value: rates[value])
    highest_value = max(rates, key=lambda value: rates[value])
    if rates[lowest_value] / highest >= FOUR_FIFTHS:
        return "within"
    if min(members[lowest_value], members[highest_value]) < MIN_MEMBERS:
        return "too_few"
    _, low_top = wilson(selected[lowest_value], members[lowest_value])
    high_bottom, _ = wilson(selected[highest_value], members[highest_value])
    return "flagged" if low_top < high_bottom else "too_few"


def _count(table: pa.Table, column: str) -> Counter[str]:
    return Counter(
        dict(zip(*(table.group_by(column).aggregate([([], "count_all")]).to_pydict().values()), strict=True))
    )


def _per_million(count: int, total: int) -> float:
    return round(count * 1_000_000 / total, 1) if total else 0.0


def over_time(rulebook: Rulebook, city: City, snapshot: Snapshot) -> dict[str, Any]:
    """Tier shares (of each program's subjects), list sizes and measure counts at one instant."""
    tiers: dict[str, dict[str, float]] = {}
    for program in rulebook.programs:
        held = snapshot.scores.filter(pc.equal(snapshot.scores["program"], program))
        counts = _count(held.select(["tier"]), "tier")  # a null tier counts under the key None
        total = sum(counts.values())
        names: list[Any] = [*reversed(rulebook.programs[program].tier_order()), None]
        tiers[program] = {str(tier): round(counts.get(tier, 0) / total, 6) if total else 0.0
                          for tier in names if counts.get(tier, 0) or tier is not None}  # fmt: skip
    lists = _count(snapshot.lists, "list")
    applying = _count(snapshot.measures, "measure")
    return {
        "at": iso(snapshot.at, rulebook.tz),
        "tiers": tiers,
        "lists": {name: lists.get(name, 0) for name in rulebook.lists},
        "measures": {name: applying.get(name, 0) for name in rulebook.measures},
    }


def distribution(scores: pa.Table, program: str, bins: int = 40) -> dict[str, Any]:
    values = scores.filter(pc.equal(scores["program"], program))["score"].to_numpy()
    if not len(values):
        return {"subjects": 0}
    counts, edges = np.histogram(values, bins=bins)
    return {
        "subjects": len(values),
        "mean": round(float(values.mean()), 2),
        **{f"p{q}": float(np.percentile(values, q)) for q in (1, 10, 50, 90, 99)},
        "min": float(values.min()),
        "max": float(values.max()),
        "histogram": {"edges": [round(float(edge), 3) for edge in edges], "counts": counts.tolist()},
    }


def selection(city: City, measures: pa.Table, measure: str, attribute: str) -> dict[str, Any]:
    """Selection rates of one measure by the values of one attribute, within the kind it hits most."""
    chosen = measures.filter(pc.equal(measures["measure"], measure))["subject"]
    hit = pc.is_in(city.ids, value_set=chosen.combine_chunks() if len(chosen) else pa.array([], pa.string()))
    hit_np = hit.to_numpy(zero_copy_only=False)
    by_kind = [int(hit_np[city.kind == index].sum()) for index in range(len(KINDS))]
    kind = int(np.argmax(by_kind))
    codes = city.attributes.get(attribute)
    if codes is None:
        return {}
    rates: dict[str, float] = {}
    selected: dict[str, int] = {}
    counted: dict[str, int] = {}
    for index, value in enumerate(city.values[attribute]):
        members = (city.kind == kind) & (codes == index)
        if members.sum():
            selected[value] = int(hit_np[members].sum())
            counted[value] = int(members.sum())
            rates[value] = selected[value] / counted[value]
    highest = max(rates.values(), default=0.0)
    ratio = min(rates.values()) / highest if highest > 0 else None
    status = disparity(rates, selected, counted)
    return {
        "kind": KINDS[kind],
        "selected": selected,
        "members": counted,
        "rates": {value: round(rate, 6) for value, rate in rates.items()},
        "intervals": {value: [round(bound, 6) for bound in wilson(selected[value], counted[value])] for value in rates},
        "ratio": None if ratio is None else round(ratio, 4),
        "status": status,
        "flagged": status == "flagged",
    }


def disparate_impact(rulebook: Rulebook, city: City, snapshot: Snapshot) -> dict[str, Any]:
    attributes = [name for name in ("group", "region") if name in city.attributes]
    return {
        name: {attribute: selection(city, snapshot.measures, name, attribute) for attribute in attributes}
        for name, measure in rulebook.measures.items()
        if measure.effect == "deny"
    }


def behaviour_figures(simulated: Simulated) -> dict[str, Any]:
    figures = {}
    for name, tally in simulated.tallies.items():
        happened, detected = sum(tally.happened.values()), sum(tally.detected.values())
        figures[name] = {
            "happened": happened,
            "detected": detected,
            "detection_rate": {
                region: round(tally.detected[region] / count, 4) for region, count in tally.happened.items() if count
            },
            "subjects": tally.subjects_once,
            "repeat_rate": round(tally.subjects_again / tally.subjects_once, 4) if tally.subjects_once else None,
        }
    return figures


def final_figures(rulebook: Rulebook, city: City, snapshot: Snapshot) -> dict[str, Any]:
    total = len(city)
    kinds = {kind: int((city.kind == index).sum()) for index, kind in enumerate(KINDS)}
    lists = _count(snapshot.lists, "list")
    measures = snapshot.measures
    result: dict[str, Any] = {
        "score_distribution": {program: distribution(snapshot.scores, program) for program in rulebook.programs},
        "lists": {
            name: {
                "kind": rulebook.lists[name].kind,
                "description": rulebook.lists[name].description,
                "subjects": lists.get(name, 0),
                "per_million": _per_million(lists.get(name, 0), total),
            }
            for name in rulebook.lists
        },
        "measures": {},
    }
    kind_of_prefix = {prefix: kind for kind, prefix in PREFIX.items()}  # the city's ids say their kind
    for name, measure in rulebook.measures.items():
        chosen = measures.filter(pc.equal(measures["measure"], name))
        count = chosen.num_rows
        per_kind = _count(pa.table({"kind": pc.utf8_slice_codeunits(chosen["subject"], 0, 1)}), "kind")
        per_kind = Counter({kind_of_prefix[prefix]: n for prefix, n in per_kind.items()})
        result["measures"][name] = {
            "action": measure.action,
            "effect": measure.effect,
            "detail": measure.detail,
            "basis": measure.basis,
            "subjects": count,
            "per_million": _per_million(count, total),
            "share_of_kind": {kind: round(per_kind.get(kind, 0) / kinds[kind], 6) for kind in kinds if kinds[kind]},
        }
    return result
