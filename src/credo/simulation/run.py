"""`credo simulate`: a synthetic city over years, scored, summarised and reported."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow.parquet as pq
from dateutil.relativedelta import relativedelta

from credo.errors import CredoError
from credo.population.duckdb import connect
from credo.population.source import ledger_table
from credo.rules import load_rulebook
from credo.rules.model import Rulebook
from credo.rules.time import iso
from credo.simulation import summary as figures
from credo.simulation.behaviour import Simulated, simulate_behaviour
from credo.simulation.city import City, draw_city
from credo.simulation.report import render
from credo.simulation.scoring import Snapshot, snapshot
from credo.simulation.spec import BehaviourSpec, PopulationSpec, load_spec

Step = Callable[[str, int], None]  # (what is happening, how many steps it took)


@dataclass
class Scenario:
    rulebook: Rulebook
    spec: PopulationSpec
    rulebook_path: Path
    spec_path: Path


def load_scenario(rulebook: Path, spec: Path | None = None) -> Scenario:
    """A rulebook (a file, or a scenario folder holding rulebook.yaml) and its population spec,
    by default population.yaml beside it."""
    if not rulebook.exists():
        raise CredoError(f"no scenario folder or rulebook at {rulebook}")
    rulebook_path = rulebook / "rulebook.yaml" if rulebook.is_dir() else rulebook
    spec_path = spec or rulebook_path.parent / "population.yaml"
    if not spec_path.is_file():
        raise CredoError(f"no population spec at {spec_path}; write one (see scenarios/article/population.yaml)")
    book = load_rulebook(rulebook_path)
    population = load_spec(spec_path)
    population.check_against(book, str(spec_path))
    return Scenario(book, population, rulebook_path, spec_path)


@dataclass
class Plan:
    population: int
    years: int
    seed: int
    start: dt.datetime
    every: int = 6  # months between snapshots
    memory_limit: str | None = None

    @property
    def months(self) -> int:
        return 12 * self.years

    def instants(self) -> list[dt.datetime]:
        steps = [*range(self.every, self.months, self.every), self.months]
        return [self.start + relativedelta(months=step) for step in steps]

    def steps(self, counterfactual: bool = True) -> int:
        """How many progress steps a run takes: months simulated, snapshots scored, the report."""
        return self.months * (2 if counterfactual else 1) + len(self.instants()) + 2


def equal_detection(city: City, spec: PopulationSpec) -> Callable[[str, BehaviourSpec, str], float]:
    """Each behaviour detected everywhere at its population-weighted average rate."""
    regions = city.values["region"]
    average: dict[str, float] = {}
    for name, behaviour in spec.behaviours.items():
        members = city.of_kind(behaviour.kind)
        counts = np.bincount(city.attributes["region"][members], minlength=len(regions))
        rates = np.array([behaviour.detection_in(region) for region in regions])
        average[name] = float((counts * rates).sum() / max(counts.sum(), 1))
    return lambda name, behaviour, region: average[name]


def simulate_city(scenario: Scenario, plan: Plan, step: Step, detection: Any = None) -> tuple[City, Simulated]:
    seeds = np.random.SeedSequence(plan.seed).spawn(2)
    city = draw_city(scenario.spec, plan.population, np.random.default_rng(seeds[0]))
    simulated = simulate_behaviour(
        scenario.spec, scenario.rulebook, city, plan.start, plan.months, np.random.default_rng(seeds[1]),
        detection(city, scenario.spec) if detection else None, lambda n: step("simulating months", n),
    )  # fmt: skip
    return city, simulated


def score(
    rulebook: Rulebook, city: City, ledger: Path, instants: list[dt.datetime], step: Step, memory_limit: str | None
) -> list[Snapshot]:
    """Everyone scored at each instant, the ledger read once."""
    connection = connect(rulebook, memory_limit)
    records = ledger_table(connection, ledger, rulebook)
    people = connection.create_table("credo_city", ibis.memtable(city.table().select(["subject", "kind"])), temp=True)
    shots = []
    for instant in instants:
        shots.append(snapshot(connection, rulebook, records, people, instant))
        step("scoring", 1)
    return shots


def simulate(scenario: Scenario, plan: Plan, out: Path, step: Step = lambda _, __: None,
             counterfactual: bool = True) -> dict[str, Any]:  # fmt: skip
    """Simulate, score and report; write ledger.parquet, subjects.parquet, summary.json and report.html."""
    out.mkdir(parents=True, exist_ok=True)
    rulebook = scenario.rulebook
    city, simulated = simulate_city(scenario, plan, step)
    ledger = out / "ledger.parquet"
    pq.write_table(simulated.ledger, ledger)
    pq.write_table(city.table(), out / "subjects.parquet")
    shots = score(rulebook, city, ledger, plan.instants(), step, plan.memory_limit)
    final = shots[-1]
    impact = figures.disparate_impact(rulebook, city, final)
    bias: dict[str, Any] = {}
    if counterfactual:
        _, fair = simulate_city(scenario, plan, step, detection=equal_detection)
        fair_ledger = out / "ledger-equal-detection.parquet"
        pq.write_table(fair.ledger, fair_ledger)
        fair_final = score(rulebook, city, fair_ledger, [final.at], lambda *_: None, plan.memory_limit)[-1]
        bias["equal_detection"] = figures.disparate_impact(rulebook, city, fair_final)
        bias["records_with_equal_detection"] = fair.ledger.num_rows
    persons = int((city.kind == 0).sum())
    summary: dict[str, Any] = {
        "rulebook": rulebook.rulebook,
        "version": rulebook.version,
        "population": {
            "spec": scenario.spec.population,
            "illustrative": scenario.spec.illustrative,
            "subjects": len(city),
            "persons": persons,
            "organizations": len(city) - persons,
        },
        "seed": plan.seed,
        "years": plan.years,
        "start": iso(plan.start, rulebook.tz),
        "end": iso(final.at, rulebook.tz),
        "records": simulated.ledger.num_rows,
        "over_time": [figures.over_time(rulebook, city, shot) for shot in shots],
        "final": figures.final_figures(rulebook, city, final),
        "disparate_impact": impact,
        "detection_bias": bias,
        "behaviour": figures.behaviour_figures(simulated),
    }
    publish(out, summary, render, "report.html", "summary.json")
    step("writing the report", 1)
    return summary


def publish(
    out: Path, summary: dict[str, Any], page: Callable[[dict[str, Any]], tuple[str, list[str]]], html: str, data: str
) -> None:
    """Write the page and the figures; the figures name the plots the page holds."""
    text, plotted = page(summary)
    summary["plots"] = plotted
    (out / html).write_text(text, encoding="utf-8")
    (out / data).write_text(json.dumps(summary, indent=2) + "\n")
