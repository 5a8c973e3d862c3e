"""`credo compare`: one population under two rulebooks, and who is better or worse off.

The city and its behaviour are simulated once, under rulebook A (its sanctions feed back), and
the same ledger is scored under A and under B at the end: the comparison holds behaviour fixed,
as a static policy microsimulation does, so every difference comes from the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from credo.rules.diff import diff
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.simulation import plots
from credo.simulation.city import City
from credo.simulation.run import Plan, Scenario, Step, publish, score, simulate_city
from credo.simulation.scoring import Snapshot
from credo.templating import count, environment

Flags = npt.NDArray[np.bool_]


def _index(city: City, subjects: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.intp]:
    positions: npt.NDArray[np.intp] = pc.index_in(subjects, value_set=city.ids).to_numpy(zero_copy_only=False)
    return positions.astype(np.intp)


def _ranks(rulebook: Rulebook, city: City, shot: Snapshot, program: str) -> npt.NDArray[np.int16]:
    """Each subject's tier rank in the program (-2: not held, -1: no tier, 0: lowest...)."""
    ranks = np.full(len(city), -2, dtype=np.int16)
    rows = shot.scores.filter(pc.equal(shot.scores["program"], program))
    order = {name: index for index, name in enumerate(rulebook.programs[program].tier_order())}
    tiers = np.array([order.get(tier, -1) if tier is not None else -1 for tier in rows["tier"].to_pylist()])
    ranks[_index(city, rows["subject"])] = tiers
    return ranks


def _flags(city: City, table: pa.Table, column: str, value: str) -> Flags:
    flags = np.zeros(len(city), dtype=bool)
    chosen = table.filter(pc.equal(table[column], value))["subject"]
    flags[_index(city, chosen)] = True
    return flags


def _denied(rulebook: Rulebook, city: City, shot: Snapshot, action: str) -> Flags:
    denying = shot.measures.filter(pc.and_(pc.equal(shot.measures["action"], action),
                                           pc.equal(shot.measures["effect"], "deny")))  # fmt: skip
    flags = np.zeros(len(city), dtype=bool)
    flags[_index(city, denying["subject"])] = True
    return flags


def changes(
    a: Rulebook, b: Rulebook, city: City, before: Snapshot, after: Snapshot
) -> tuple[dict[str, Any], Flags, Flags]:
    """Counts of who is better and worse off, by program, list and action; and who, as flags."""
    worse = np.zeros(len(city), dtype=bool)
    better = np.zeros(len(city), dtype=bool)
    counts: dict[str, dict[str, dict[str, int]]] = {"tiers": {}, "lists": {}, "decisions": {}}
    for program in sorted(set(a.programs) & set(b.programs)):
        # Tier names may differ between the rulebooks: compare each one's rank in its own order,
        # which is the meaning a subject sees (one step down is one step down).
        rank_a, rank_b = _ranks(a, city, before, program), _ranks(b, city, after, program)
        held = (rank_a > -2) & (rank_b > -2)
        down, up = held & (rank_b < rank_a), held & (rank_b > rank_a)
        counts["tiers"][program] = {"worse": int(down.sum()), "better": int(up.sum())}
        worse |= down
        better |= up
    for name in sorted(set(a.lists) | set(b.lists)):
        on_a, on_b = _flags(city, before.lists, "list", name), _flags(city, after.lists, "list", name)
        joined, left = on_b & ~on_a, on_a & ~on_b
        black = (b.lists.get(name) or a.lists[name]).kind == "black"
        counts["lists"][name] = {"joined": int(joined.sum()), "left": int(left.sum()),
                                 "worse": int((joined if black else left).sum()),
                                 "better": int((left if black else joined).sum())}  # fmt: skip
        worse |= joined if black else left
        better |= left if black else joined
    for action in sorted(set(a.actions) | set(b.actions)):
        denied_a, denied_b = _denied(a, city, before, action), _denied(b, city, after, action)
        newly, lifted = denied_b & ~denied_a, denied_a & ~denied_b
        counts["decisions"][action] = {"worse": int(newly.sum()), "better": int(lifted.sum())}
        worse |= newly
        better |= lifted
    return counts, worse, better


def by_attribute(city: City, worse: Flags, better: Flags) -> dict[str, Any]:
    """Winners and losers (and those with both) by each attribute's values."""
    table: dict[str, Any] = {}
    for attribute, codes in city.attributes.items():
        rows = {}
        for index, value in enumerate(city.values[attribute]):
            members = codes == index
            total = int(members.sum())
            losers = int((members & worse & ~better).sum())
            winners = int((members & better & ~worse).sum())
            mixed = int((members & better & worse).sum())
            rows[value] = {"subjects": total, "worse_off": losers, "better_off": winners, "mixed": mixed,
                           "worse_off_share": round(losers / total, 6) if total else 0.0,
                           "better_off_share": round(winners / total, 6) if total else 0.0}  # fmt: skip
        table[attribute] = rows
    return table


def compare(
    scenario: Scenario,
    other: Rulebook,
    plan: Plan,
    out: Path,
    step: Step = lambda _, __: None,
    other_file: Path | None = None,
) -> dict[str, Any]:
    """Simulate once, score under both rulebooks; write compare.json, changes.parquet, compare.html."""
    out.mkdir(parents=True, exist_ok=True)
    a = scenario.rulebook
    city, simulated = simulate_city(scenario, plan, step)
    ledger = out / "ledger.parquet"
    pq.write_table(simulated.ledger, ledger)
    end = plan.instants()[-1]
    before = score(a, city, ledger, [end], step, plan.memory_limit)[-1]
    after = score(other, city, ledger, [end], step, plan.memory_limit)[-1]
    counts, worse, better = changes(a, other, city, before, after)
    changed = np.flatnonzero(worse | better)
    pq.write_table(pa.table({"subject": city.ids.take(pa.array(changed)), "worse_off": worse[changed],
                             "better_off": better[changed]}), out / "changes.parquet")  # fmt: skip
    summary = {
        "a": {"rulebook": a.rulebook, "version": a.version, "file": str(scenario.rulebook_path)},
        "b": {
            "rulebook": other.rulebook,
            "version": other.version,
            "file": str(other_file) if other_file else "(given in memory)",
        },
        "rules": [change.as_dict() | {"sentence": change.sentence()} for change in diff(a, other)],
        "population": len(city),
        "seed": plan.seed,
        "at": iso(end, a.tz),
        "records": simulated.ledger.num_rows,
        "worse_off": int((worse & ~better).sum()),
        "better_off": int((better & ~worse).sum()),
        "mixed": int((worse & better).sum()),
        "changes": counts,
        "by": by_attribute(city, worse, better),
    }
    publish(out, summary, _page, "compare.html", "compare.json")
    step("writing the report", 1)
    return summary


def _page(summary: dict[str, Any]) -> tuple[str, list[str]]:
    sections: list[dict[str, Any]] = []
    for section, title in (("decisions", "Decisions that change"), ("tiers", "Tier moves"),
                           ("lists", "List membership")):  # fmt: skip
        counts = summary["changes"][section]
        plot = {"name": section, "uri": plots.changes(counts, f"{title}: worse off (left), better off (right)"),
                "caption": f"{title} between the two rulebooks."}  # fmt: skip
        rows = [[name, count(c["worse"]), count(c["better"])] for name, c in counts.items()]
        sections.append({"title": title, "noun": section[:-1], "plot": plot, "rows": rows})
    by = [
        {"name": attribute, "rows": [
            [value, count(r["subjects"]), f"{r['worse_off']:,} ({100 * r['worse_off_share']:.2g}%)",
             f"{r['better_off']:,} ({100 * r['better_off_share']:.2g}%)", count(r["mixed"])]
            for value, r in rows.items()]}
        for attribute, rows in summary["by"].items()
    ]  # fmt: skip
    page = {**summary, "at": summary["at"][:10], "sections": sections, "by": by,
            "rules": [change["sentence"] for change in summary.get("rules", [])]}  # fmt: skip
    page |= {"kind": "reform comparison", "command": "credo compare", "data": "compare.json"}
    html = environment().get_template("reports/compare.html").render(page)
    return html, [section["plot"]["name"] for section in sections]
