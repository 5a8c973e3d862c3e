"""`credo simulate` and `credo compare`: what a rulebook would do to a synthetic population."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from credo.cli.common import MemoryOpt, fail, stderr, stdout
from credo.errors import CredoError
from credo.rules import load_rulebook, parse_instant

PopulationOpt = Annotated[int, typer.Option("--population", min=1, help="How many subjects (people and firms).")]
YearsOpt = Annotated[int, typer.Option("--years", min=1, max=50, help="How many years to simulate.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="The random seed: the same seed gives the same city.")]
SpecOpt = Annotated[
    Path | None, typer.Option("--spec", help="The population spec (default: population.yaml beside the rulebook).")
]
StartOpt = Annotated[str, typer.Option("--start", help="The first day simulated, in the rulebook's zone.")]
EveryOpt = Annotated[int, typer.Option("--every", min=1, help="Months between the snapshots of the report.")]


def _start(text: str, tz: dt.tzinfo) -> dt.datetime:
    try:
        return parse_instant(text, tz)
    except CredoError as exc:
        raise CredoError(f"--start: {exc}") from exc


def _progress() -> Progress:
    columns = (TextColumn("{task.description:<20}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    return Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal)


def simulate(
    scenario: Annotated[
        Path, typer.Argument(help="A scenario folder (rulebook.yaml and population.yaml) or a rulebook.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the ledger, summary.json and report.html.")],
    population: PopulationOpt = 100_000,
    years: YearsOpt = 2,
    seed: SeedOpt = 1,
    spec: SpecOpt = None,
    start: StartOpt = "2024-01-01",
    every: EveryOpt = 6,
    memory_limit: MemoryOpt = None,
    detection_check: Annotated[
        bool, typer.Option("--detection-check/--no-detection-check", help="Run again with equal detection.")
    ] = True,
) -> None:
    """Simulate a synthetic population under a rulebook; write report.html and summary.json.

    Illustrative by construction: the population spec says how people behave and how well they
    are watched; the report shows what the rules then do, to whom, and how unevenly.
    """
    from credo.simulation.run import Plan, load_scenario
    from credo.simulation.run import simulate as run

    try:
        loaded = load_scenario(scenario, spec)
        plan = Plan(population, years, seed, _start(start, loaded.rulebook.tz), every, memory_limit)
        with _progress() as bar:
            task = bar.add_task("simulating", total=plan.steps(detection_check))
            summary = run(loaded, plan, out, lambda what, n: bar.update(task, advance=n, description=what),
                          detection_check)  # fmt: skip
    except CredoError as exc:
        fail(str(exc))
    final = summary["final"]["measures"]
    stdout.print(json.dumps({"out": str(out), "subjects": summary["population"]["subjects"],
                             "records": summary["records"],
                             "measures": {name: m["subjects"] for name, m in final.items()}}, indent=2),
                 markup=False)  # fmt: skip
    stderr.print(f"wrote {out}/report.html, summary.json, ledger.parquet and subjects.parquet")


def compare(
    rulebook_a: Annotated[Path, typer.Argument(help="The rulebook in force (or its scenario folder).")],
    rulebook_b: Annotated[Path, typer.Argument(help="The reformed rulebook.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for compare.html, compare.json and changes.parquet.")],
    population: PopulationOpt = 100_000,
    years: YearsOpt = 2,
    seed: SeedOpt = 1,
    spec: SpecOpt = None,
    start: StartOpt = "2024-01-01",
    memory_limit: MemoryOpt = None,
) -> None:
    """One population under two rulebooks: who changes tier, list or decision."""
    from credo.simulation.compare import compare as run
    from credo.simulation.run import Plan, load_scenario

    try:
        loaded = load_scenario(rulebook_a, spec)
        other = load_rulebook(rulebook_b / "rulebook.yaml" if rulebook_b.is_dir() else rulebook_b)
        loaded.spec.check_against(other, str(loaded.spec_path))
        plan = Plan(population, years, seed, _start(start, loaded.rulebook.tz), 12 * years, memory_limit)
        with _progress() as bar:
            task = bar.add_task("simulating", total=plan.months + 3)
            summary = run(loaded, other, plan, out, lambda what, n: bar.update(task, advance=n, description=what),
                          rulebook_b / "rulebook.yaml" if rulebook_b.is_dir() else rulebook_b)  # fmt: skip
    except CredoError as exc:
        fail(str(exc))
    stdout.print(json.dumps({key: summary[key] for key in ("worse_off", "better_off", "mixed", "changes")}, indent=2),
                 markup=False)  # fmt: skip
    stderr.print(f"wrote {out}/compare.html, compare.json and changes.parquet")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(compare)
