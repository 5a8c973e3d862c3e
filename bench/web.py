"""How long the pages take to render, beside a bare FastAPI HTML endpoint in the same run.

    python bench/web.py [--records N] [--subjects N] [--requests N]

Builds a SQLite ledger under the article's rulebook in which one person has N records (default
1,000) of the behaviours the courts, banks and police report, keeps a population count of a
population of --subjects (default 1,000,000; the count is what the pages read, so its size does
not change their cost), then renders the person's own page and the operator's desk --requests
times each through the ASGI app in this process, and a bare FastAPI endpoint returning a small
HTML page the same way. Prints one JSON object with p50 and p99 per page in milliseconds and the
ratio to the bare endpoint. Target (issue 12): both pages under 100 ms p99.

The person's page is also timed on its first view (evaluated and explained afresh, as after any
write) and with the collector's defaults before the process is set as `credo serve` sets it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credo.ledger.book import Ledger  # noqa: E402
from credo.ledger.chain import micros  # noqa: E402
from credo.service import create_app, create_key  # noqa: E402
from credo.service.work import share_the_interpreter  # noqa: E402
from credo.storage import open_store  # noqa: E402
from credo.storage.runs import PopulationRunRow  # noqa: E402

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
RULEBOOK = ROOT / "scenarios" / "article" / "rulebook.yaml"
#: (behaviour, source): what one person's long file is made of.
KINDS = [
    ("bill_paid_on_time", "bank"),
    ("late_utility_fees", "utility"),
    ("charity_donation", "charity_federation"),
    ("judgment_defaulted", "court"),
    ("judgment_performed", "court"),
    ("dangerous_driving", "traffic_police"),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def first_view(client: TestClient, path: str) -> float:
    """The first view, in milliseconds: templates compiled and, for the person's page, the subject
    evaluated and explained afresh (what any view costs after a write drops the cache)."""
    began = time.perf_counter()
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return (time.perf_counter() - began) * 1000


def as_served() -> None:
    """The interpreter set as `credo serve` sets it before it listens (credo.service.work): what
    exists at start-up (modules, the rulebook's models, templates) is left out of the full
    collections, which otherwise walk it every few dozen views of a long file, a pause each time."""
    share_the_interpreter()


def timed(client: TestClient, path: str, count: int) -> list[float]:
    client.get(path)  # warm: templates compiled, rulebook parsed
    times = []
    for _ in range(count):
        began = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="credo-bench-web-"))
    store = open_store(f"sqlite:///{folder / 'ledger.db'}")
    store.migrate()
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(RULEBOOK, "2019-01-01")
    rulebook_sources = RULEBOOK.read_text()
    kinds = [(b, s) for b, s in KINDS if b in rulebook_sources]
    with (folder / "records.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "subject", "behaviour", "at", "source"])
        for index in range(args.records):
            behaviour, source = kinds[index % len(kinds)]
            at = NOW - dt.timedelta(hours=6 * (args.records - index))
            writer.writerow([f"r{index}", "p-long-file", behaviour, at.isoformat(), source])
    Ledger(store, lambda: NOW).ingest(folder / "records.csv")
    rulebook = Ledger(store).history().require(NOW)
    # A run's summary as population.run.write_population keeps it, for --subjects subjects.
    tiers = {program: {tier: args.subjects // (len(rules.tiers) + 1) for tier in [*rules.tiers, "None"]}
             for program, rules in rulebook.programs.items()}  # fmt: skip
    store.add_population_run(
        PopulationRunRow(uuid.uuid4().hex, micros(NOW), micros(NOW), store.head(), {
            "rulebook": rulebook.rulebook, "version": rulebook.version, "at": NOW.isoformat(),
            "subjects": args.subjects, "records": args.subjects * 10, "tiers": tiers,
            "lists": {name: args.subjects // 100 for name in rulebook.lists},
            "measures": {name: args.subjects // 100 for name in rulebook.measures}})
    )  # fmt: skip
    person = create_key(store, "subject", NOW, subject="p-long-file")
    reviewer = create_key(store, "reviewer", NOW)
    app = create_app(store, lambda: NOW)

    def signed_in(key: str) -> TestClient:
        client = TestClient(app)
        form = client.get("/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        client.post("/sign-in", data={"key": key, "csrf": token.group(1)})
        return client

    person_client = signed_in(person)  # its sign-in ends on /me: the page is evaluated and cached
    with (folder / "another.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "subject", "behaviour", "at", "source"])
        writer.writerow(["x0", "someone-else", "bill_paid_on_time", NOW.isoformat(), "bank"])
    Ledger(store, lambda: NOW).ingest(folder / "another.csv")  # a write drops the cache
    first = first_view(person_client, "/me")
    # The person's page first with the collector's defaults (a process that is not `credo serve`),
    # then everything as served: the difference is the full collections' pauses.
    me_default_gc = timed(person_client, "/me", args.requests)
    as_served()
    me = timed(person_client, "/me", args.requests)
    desk = timed(signed_in(reviewer), "/desk", args.requests)
    public = timed(TestClient(app), "/rulebook", args.requests)

    bare = FastAPI()

    @bare.get("/page", response_class=HTMLResponse)
    def page() -> str:
        return "<!doctype html><title>bare</title><p>hello</p>"

    baseline = timed(TestClient(bare), "/page", args.requests)
    base_p99 = percentile(baseline, 0.99)
    result = {
        "records_of_the_person": args.records,
        "population_subjects": args.subjects,
        "requests": args.requests,
        "bare_p50_ms": round(statistics.median(baseline), 2),
        "bare_p99_ms": round(base_p99, 2),
    }
    result["person_page_first_view_ms"] = round(first, 2)
    result["person_page_default_gc_p50_ms"] = round(statistics.median(me_default_gc), 2)
    result["person_page_default_gc_p99_ms"] = round(percentile(me_default_gc, 0.99), 2)
    for name, times in (("person_page", me), ("desk", desk), ("public_rulebook", public)):
        result[f"{name}_p50_ms"] = round(statistics.median(times), 2)
        result[f"{name}_p99_ms"] = round(percentile(times, 0.99), 2)
        result[f"{name}_p99_ratio_to_bare"] = round(percentile(times, 0.99) / base_p99, 1)
    result["target_met"] = result["person_page_p99_ms"] < 100 and result["desk_p99_ms"] < 100
    store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
