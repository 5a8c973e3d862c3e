"""Everyone in the city scored at an instant: the population engine for subjects with records,
the reference evaluator once per kind for the many with none (they all stand the same)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

from credo.population.context import PopulationRun
from credo.population.lists import measures, memberships
from credo.population.scores import population_scores
from credo.rules.model import Rulebook
from credo.semantics.state import SubjectState
from credo.simulation.city import KINDS


@dataclass
class Snapshot:
    """Every subject's scores, lists and applying measures at one instant (Arrow tables)."""

    at: dt.datetime
    scores: pa.Table  # subject, program, score, tier
    lists: pa.Table  # subject, list
    measures: pa.Table  # subject, action, measure, effect


def _clean(rulebook: Rulebook, at: dt.datetime) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What a subject of each kind with no record at all has: scores, lists, measures."""
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind in KINDS:
        state = SubjectState(rulebook, "nobody", kind, [], at)  # type: ignore[arg-type]
        result[kind] = {
            "scores": [{"program": name, "score": float(state.score(name) or 0.0), "tier": state.tier(name)}
                       for name in state.enrolled()],
            "lists": [{"list": name} for name in state.lists()],
            "measures": [{"action": action, "measure": m.measure, "effect": m.effect}
                         for action in rulebook.actions for m in state.decide(action).measures],
        }  # fmt: skip
    return result


def snapshot(connection: Any, rulebook: Rulebook, records: Any, city: Any, at: dt.datetime) -> Snapshot:
    """Score the records table at `at` and complete it with the subjects who have no record."""
    run = PopulationRun(rulebook, records, at, connection)
    recorded = records.select("subject").distinct()
    quiet = city.anti_join(recorded, "subject").select("subject", "kind")
    clean = _clean(rulebook, at)
    parts: dict[str, pa.Table] = {}
    engine = {"scores": population_scores(run), "lists": memberships(run), "measures": measures(run)}
    schemas = {
        "scores": {"kind": "string", "program": "string", "score": "float64", "tier": "string"},
        "lists": {"kind": "string", "list": "string"},
        "measures": {"kind": "string", "action": "string", "measure": "string", "effect": "string"},
    }
    for part, expression in engine.items():
        rows = [{"kind": kind, **row} for kind in KINDS for row in clean[kind][part]]
        standing = ibis.memtable(
            {column: [row[column] for row in rows] for column in schemas[part]}, schema=schemas[part]
        )
        filled = quiet.inner_join(standing, "kind").drop("kind")
        whole = ibis.union(expression.select(*filled.columns), filled)
        parts[part] = connection.to_pyarrow(whole)
    return Snapshot(at, parts["scores"], parts["lists"], parts["measures"])
