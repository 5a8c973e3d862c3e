"""`credo demo`: a living synthetic city in a browser.

On first run it simulates a small city under a scenario's rulebook into a fresh embedded ledger
(the rulebook published, the records ingested, a population count kept), then serves the API and
the pages and prints one-time sign-in links for a person on a black list, a person near a grade's
edge, a reviewer and an admin. A second run reuses the city and starts in seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from dateutil.relativedelta import relativedelta

from credo.cli.common import fail, stderr, stdout
from credo.errors import CredoError
from credo.ledger.book import Ledger, utc_now
from credo.rules import Rulebook

FolderOpt = Annotated[Path, typer.Option("--folder", help="Where the city's ledger and files are kept.")]
ScenarioOpt = Annotated[Path, typer.Option("--scenario", help="A scenario folder: rulebook.yaml, population.yaml.")]


@dataclass(frozen=True)
class Cast:
    """Whom the printed links sign in as."""

    listed: str  # a person on a black list
    near_edge: str  # a person a few points above a grade's lower bound
    black_list: str


def _build(folder: Path, scenario: Path, population: int, years: int) -> Cast:
    """Simulate the city, publish, ingest and count it into folder/credo.db."""
    from credo.simulation.run import Plan, load_scenario
    from credo.simulation.run import simulate as run
    from credo.storage import open_store

    loaded = load_scenario(scenario, None)
    rulebook = loaded.rulebook
    now = utc_now()
    start = (now - relativedelta(years=years)).astimezone(rulebook.tz).replace(hour=0, minute=0, second=0,
                                                                                microsecond=0)  # fmt: skip
    city = folder / "city"
    if not (city / "ledger.parquet").exists():
        stderr.print(f"simulating a city of {population:,} over {years} years (once; later runs reuse it)")
        run(loaded, Plan(population, years, 1, start, 6, None), city, lambda *_: None, False)
    building = folder / "credo.db.building"
    building.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{building}", create=True)
    try:
        store.migrate()
        book = Ledger(store)
        text = (scenario / "rulebook.yaml").read_text(encoding="utf-8")
        book.publish_text(text, (start - dt.timedelta(days=1)).isoformat(), file=str(scenario / "rulebook.yaml"))
        stderr.print("ingesting the city's records")
        book.ingest(_with_sources(city / "ledger.parquet", rulebook))
        stderr.print("counting the population")
        from credo.service.overview import count_population

        count_population(book, store, now, folder / "population")
        cast = _cast(folder / "population", rulebook)
    finally:
        store.close()
    building.replace(folder / "credo.db")
    (folder / "cast.json").write_text(json.dumps(cast.__dict__, indent=2) + "\n")
    return cast


def _with_sources(ledger: Path, rulebook: Rulebook) -> Path:
    """The simulated ledger with the agency that reports each behaviour (a person, not a sensor,
    where the rulebook allows one), as store mode identifies a record by source and id."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def reporter(behaviour: str) -> str:
        allowed = rulebook.behaviours[behaviour].sources
        people = [source for source in allowed if not (rulebook.sources.get(source) and
                                                       rulebook.sources[source].automated)]  # fmt: skip
        return (people or allowed or ["simulation"])[0]

    table = pq.read_table(ledger)
    names = sorted(set(table.column("behaviour").to_pylist()))
    sources = pc.take(pa.array([reporter(name) for name in names]),
                      pc.index_in(table.column("behaviour"), pa.array(names)))  # fmt: skip
    out = ledger.with_name("ledger-with-sources.parquet")
    pq.write_table(table.append_column("source", sources), out)
    return out


def _cast(population: Path, rulebook: Rulebook) -> Cast:
    """A listed person and a person near an edge, found in the population run's outputs."""
    import pyarrow.parquet as pq

    black = [name for name, listed in rulebook.lists.items() if listed.kind == "black"]
    members = pq.read_table(population / "lists.parquet").to_pylist()
    listed = next(
        ((row["subject"], row["list"]) for name in black for row in members
         if row["list"] == name and str(row["subject"]).startswith("p")),
        ("", ""),
    )  # fmt: skip
    scores = pq.read_table(population / "scores.parquet").to_pylist()
    best: tuple[float, str] = (float("inf"), "")
    on_lists = {row["subject"] for row in members}
    for row in scores:
        program = rulebook.programs.get(row["program"])
        if program is None or row["score"] is None or row["subject"] in on_lists:
            continue
        for bound in program.tiers.values():
            gap = row["score"] - bound
            if 0 <= gap < best[0] and row["score"] != program.start:
                best = (gap, row["subject"])
    if not listed[0] or not best[1]:
        raise CredoError("the simulated city has nobody on a black list or near a grade's edge; try a larger one")
    return Cast(listed[0], best[1], listed[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def demo(
    folder: FolderOpt = Path("demo"),
    scenario: ScenarioOpt = Path("scenarios/article"),
    population: Annotated[int, typer.Option("--population", min=50, help="Subjects in the city.")] = 2000,
    years: Annotated[int, typer.Option("--years", min=1, max=10, help="Years simulated.")] = 2,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    build_only: Annotated[bool, typer.Option("--build-only", help="Build the city and stop.")] = False,
) -> None:
    """Serve a synthetic city: the public rulebook, people's files and the operator's desk."""
    import uvicorn

    from credo.service import create_app, create_key
    from credo.service.work import share_the_interpreter
    from credo.storage import open_store

    if not build_only and not _port_free(host, port):
        fail(f"port {port} on {host} is in use: stop what holds it, or pass --port")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "credo.db").exists() and (folder / "cast.json").exists():
            cast = Cast(**json.loads((folder / "cast.json").read_text()))
            stderr.print(f"reusing the city in {folder}/ (delete the folder to build a new one)")
        else:
            cast = _build(folder, scenario, population, years)
    except (CredoError, OSError) as exc:
        fail(str(exc))
    if build_only:
        return
    store = open_store(f"sqlite:///{folder / 'credo.db'}")
    now = utc_now()
    app = create_app(store)
    base = f"http://{host}:{port}"
    people: list[tuple[str, dict[str, Any]]] = [
        (f"a person on the {cast.black_list.replace('_', ' ')} list ({cast.listed})",
         {"role": "subject", "subject": cast.listed}),
        (f"a person near a grade's edge ({cast.near_edge})", {"role": "subject", "subject": cast.near_edge}),
        ("a reviewer, who answers disputes", {"role": "reviewer"}),
        ("an administrator", {"role": "admin"}),
    ]  # fmt: skip
    stdout.print(f"credo demo: a synthetic city, served at {base}\n", markup=False)
    stdout.print(f"  the public rulebook, with who is affected:  {base}/rulebook", markup=False)
    stdout.print(f"  the API documentation:                      {base}/docs\n", markup=False)
    stdout.print("One-time sign-in links (each works once, for an hour):", markup=False)
    from credo.service.auth import digest

    for who, spec in people:
        key = create_key(store, spec["role"], now, subject=spec.get("subject"))
        token = app.state.sessions.one_time_link(digest(key))
        stdout.print(f"  {who}:\n    {base}/sign-in/once/{token}", markup=False)
    stdout.print("\nPress Ctrl-C to stop.", markup=False)
    share_the_interpreter()  # as credo serve does
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(demo)
