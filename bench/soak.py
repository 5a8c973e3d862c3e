"""A soak (issue 13 item 8): mixed traffic against one `credo serve` for N minutes.

    python bench/soak.py [--minutes 30] [--window-minutes 5] [--store sqlite|postgres|URL] [--clients 4]

Serves a fresh store (the article's rulebook, keys of each role) on 127.0.0.1 and drives it from
C clients, each in a closed loop with a short pause: record batches (agency), decisions
(provider), a person's views (/v1/me, /explanation, /records, /notices, /export), appeals
(subject), the reviewers' list and resolutions, and every --sweep-seconds a `credo sweep` process.

The --subjects persons hold keys: they look at their file and appeal. A court reports on far
more people than log in, so --keyed-share of the records are about them and the rest about a
--population of others (decisions ask about both). With every record about the 500 keyed
persons, each gained ~350 records in 30 minutes and every question about them grew with it: a
soak of one court's obsession, not of a program.

Every cache the server keeps is bounded; the soak serves with --cache-records 10,000 (the
default is 100,000) so that the state cache reaches its bound within the first window, and what
still grows after it is a leak.
Prints one JSON object: requests by kind, errors by kind and status (target: none), and for each
window p50/p99 per kind and the service's resident memory at the window's start and end and at
rest after it (the least reading over --rest-seconds with no traffic), target: flat after the
first window; and how many outbox entries were still owed when the traffic stopped (notices not
yet delivered: late, not lost).

Memory is read from /proc/PID/status for the server and its relay: VmRSS and its three parts,
summed, and each process's VmRSS and anon. A leak lives in `anon` (heap and stacks); `file` is
the interpreter's and libraries' pages, read in as code paths first run, and `shmem` SQLite's WAL
index, mapped by both processes. `growth_after_first_window_kib` gives each at rest from the
first window's end to the last's, and VmRSS under load (`rss_busy`).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crash_checks import owed_count  # noqa: E402
from tests.service_process import (  # noqa: E402
    ACTIONS,
    COURT_BEHAVIOURS,
    Keys,
    Memory,
    Server,
    child_env,
    credo_command,
    fresh_store,
    prepare,
    recent,
    service_memory,
)

VIEWS = ("/v1/me", "/v1/me/explanation", "/v1/me/records", "/v1/me/notices", "/v1/me/export")


class Soak:
    """The clients' shared book: latencies per window and kind, errors, and what may be appealed."""

    def __init__(self, server: Server, keys: Keys, started: float, window: float) -> None:
        self.server, self.keys, self.started, self.window = server, keys, started, window
        self.lock = threading.Lock()
        self.latencies: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.errors: Counter[str] = Counter()
        self.records_of: dict[str, list[str]] = defaultdict(list)
        self.appealable: list[tuple[str, str]] = []  # (subject, record ref) not yet appealed
        self.pending: list[str] = []  # appeal ids not yet resolved
        self.traffic = threading.Event()  # cleared while the soak rests at a window's end
        self.traffic.set()
        self.in_flight = 0
        self.rested = 0.0  # seconds spent resting so far: they belong to no window

    def book(self, kind: str, began: float, status: int | str) -> None:
        elapsed = time.monotonic() - began
        with self.lock:
            self.latencies[int((began - self.started - self.rested) // self.window)][kind].append(elapsed)
            if not (isinstance(status, int) and 200 <= status < 300):
                self.errors[f"{kind} {status}"] += 1

    def call(self, http: httpx.Client, kind: str, method: str, path: str, key: str, body: Any = None) -> Any:
        self.traffic.wait()
        with self.lock:
            self.in_flight += 1
        began = time.monotonic()
        try:
            response = http.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
        except httpx.HTTPError as exc:
            self.book(kind, began, type(exc).__name__)
            return None
        finally:
            with self.lock:
                self.in_flight -= 1
        self.book(kind, began, response.status_code)
        return response.json() if response.status_code == 200 else None


def client(
    soak: Soak, number: int, seed: int, stop: threading.Event, think: float, population: int, keyed_share: float
) -> None:
    rng = random.Random(f"{seed}-{number}")
    subjects = list(soak.keys.subjects)

    def anyone() -> str:
        return rng.choice(subjects) if rng.random() < keyed_share else f"p-other-{rng.randrange(population):07d}"

    sequence = 0
    with httpx.Client(base_url=soak.server.base, timeout=60.0) as http:
        while not stop.is_set():
            choice = rng.random()
            if choice < 0.25:
                rows = []
                for _ in range(rng.randint(1, 20)):
                    sequence += 1
                    rows.append(
                        {
                            "subject": anyone(),
                            "behaviour": rng.choice(COURT_BEHAVIOURS),
                            "at": recent(rng),
                            "id": f"soak-{number}-{sequence}",
                        }
                    )
                answer = soak.call(http, "records", "POST", "/v1/records", soak.keys.agency, {"records": rows})
                if answer is not None:
                    with soak.lock:
                        for row, receipt in zip(rows, answer["receipts"], strict=True):
                            if row["subject"] in soak.keys.subjects and rng.random() < 0.2:
                                soak.appealable.append((row["subject"], receipt["id"]))
            elif choice < 0.60:
                body = {
                    "subject": rng.choice(subjects) if rng.random() < 0.5 else anyone(),
                    "action": rng.choice(ACTIONS),
                }
                soak.call(http, "decisions", "POST", "/v1/decisions", soak.keys.provider, body)
            elif choice < 0.85:
                path = rng.choice(VIEWS)
                subject = rng.choice(subjects)
                soak.call(http, path.removeprefix("/v1/").replace("/", "_"), "GET", path, soak.keys.subjects[subject])
            elif choice < 0.92:
                with soak.lock:
                    target = soak.appealable.pop(rng.randrange(len(soak.appealable))) if soak.appealable else None
                if target is not None:
                    body = {"record": target[1], "statement": "I dispute this record"}
                    answer = soak.call(http, "appeals", "POST", "/v1/me/appeals", soak.keys.subjects[target[0]], body)
                    if answer is not None:
                        with soak.lock:
                            soak.pending.append(answer["id"])
            elif choice < 0.96:
                soak.call(http, "reviews_pending", "GET", "/v1/appeals", soak.keys.reviewer)
            else:
                with soak.lock:
                    appeal = soak.pending.pop(rng.randrange(len(soak.pending))) if soak.pending else None
                if appeal is not None:
                    body = {"outcome": rng.choice(["uphold", "reverse"]), "reason": "reviewed"}
                    soak.call(http, "reviews", "POST", f"/v1/appeals/{appeal}/resolve", soak.keys.reviewer, body)
            time.sleep(think)


def sweeper(soak: Soak, url: str, every: float, stop: threading.Event) -> None:
    """`credo sweep` as cron would run it, against the store the server is using."""
    while not stop.wait(every):
        soak.traffic.wait()
        began = time.monotonic()
        try:
            done = subprocess.run(
                credo_command("sweep", "--store", url, "--json"),
                capture_output=True,
                env=child_env(),
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:  # an error of the soak, not the end of its sweeps
            soak.book("sweeps", began, "timeout")
            continue
        soak.book("sweeps", began, 200 if done.returncode == 0 else f"exit {done.returncode}")


def memory(pid: int) -> dict[str, int] | None:
    """The service's resident memory, KiB: VmRSS and its parts (tests.service_process.Memory)
    summed over the server and its relay, and each process's own VmRSS and anon; None once gone."""
    found = service_memory(pid)
    if found is None:
        return None
    total = sum(found.values(), start=Memory(0, 0, 0, 0))
    reading = {"rss": total.rss, "anon": total.anon, "file": total.file, "shmem": total.shmem}
    for name, part in found.items():
        reading |= {f"{name}_rss": part.rss, f"{name}_anon": part.anon}
    return reading


def rest(soak: Soak, pid: int, seconds: float) -> dict[str, int] | None:
    """Stop the traffic, let the requests in flight finish, wait, read the server's memory, go on.

    Memory read under load counts what the requests in flight hold, which grows as the persons'
    files do (an export reads a whole file); memory at rest is what the server keeps, where a leak
    shows. Its least reading while resting is the figure (each part's least, read every two
    seconds): the server's own background work goes on at rest (delivering the notices still
    owed, its chain check every minute) and what that work frees goes back to the system at the
    next one-minute malloc_trim, so one reading at a given moment varies by some 15 MB with the
    moment; a leak raises the least reading too."""
    began = time.monotonic()
    soak.traffic.clear()
    while soak.in_flight:
        time.sleep(0.05)
    readings = []
    while (left := began + seconds - time.monotonic()) > 0:
        time.sleep(min(2.0, left))
        if (reading := memory(pid)) is not None:
            readings.append(reading)
    with soak.lock:
        soak.rested += time.monotonic() - began
    soak.traffic.set()
    if not readings:
        return None
    # Only the readings of the processes of the last one: a relay that retired while the service
    # rested (it is replaced at once) leaves a reading without it, or with two.
    alike = [reading for reading in readings if reading.keys() == readings[-1].keys()]
    return {part: min(reading[part] for reading in alike) for part in readings[-1]}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--window-minutes", type=float, default=5.0)
    parser.add_argument("--store", default="sqlite", help="sqlite, postgres (CREDO_TEST_POSTGRES) or a fresh URL")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--subjects", type=int, default=500, help="persons with keys, who look and appeal")
    parser.add_argument("--population", type=int, default=200_000, help="others the records are about")
    parser.add_argument("--keyed-share", type=float, default=0.2, help="share of records about keyed persons")
    parser.add_argument("--think-ms", type=float, default=5.0, help="each client's pause between requests")
    parser.add_argument("--sweep-seconds", type=float, default=60.0)
    parser.add_argument(
        "--cache-records",
        type=int,
        default=10_000,
        help="the server's cache bound (its default is 100,000): small enough to be reached in the first window",
    )
    parser.add_argument(
        "--rest-seconds",
        type=float,
        default=70.0,
        help="at each window's end, stop the traffic this long and read the server's memory at rest "
        "(longer than its one-minute malloc_trim); 0 to never rest",
    )
    parser.add_argument("--seed", type=int, default=8)
    options = parser.parse_args()
    window = options.window_minutes * 60
    windows = max(1, round(options.minutes / options.window_minutes))
    with fresh_store(options.store) as url:
        keys = prepare(url, [f"p-soak-{number:04d}" for number in range(options.subjects)])
        server = Server(url, options=("--cache-records", str(options.cache_records)))
        # A soak stopped by SIGTERM (or ^C) stops its server too, rather than leaving it serving.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        server.start()
        assert server.process is not None
        pid = server.process.pid
        stop = threading.Event()
        started = time.monotonic()
        soak = Soak(server, keys, started, window)
        try:
            threads = [
                threading.Thread(
                    target=client,
                    args=(
                        soak,
                        n,
                        options.seed,
                        stop,
                        options.think_ms / 1000,
                        options.population,
                        options.keyed_share,
                    ),
                )
                for n in range(options.clients)
            ]
            threads.append(threading.Thread(target=sweeper, args=(soak, url, options.sweep_seconds, stop)))
            rss = [memory(pid)]
            resting: list[dict[str, int] | None] = []
            for thread in threads:
                thread.start()
            for index in range(1, windows + 1):  # memory at each window's boundary, busy and at rest
                time.sleep(max(0.0, started + soak.rested + index * window - time.monotonic()))
                rss.append(memory(pid))
                if options.rest_seconds > 0:
                    resting.append(rest(soak, pid, options.rest_seconds))
            stop.set()
            for thread in threads:
                thread.join(timeout=600)
            owed_at_end = owed_count(url)  # notices not yet delivered when the traffic stopped: late ones
        finally:
            stop.set()
            soak.traffic.set()  # stopped while resting (SIGTERM, ^C), the clients must not wait on for ever
            server.stop()
        tracebacks = server.tracebacks()
    requests: Counter[str] = Counter()
    report_windows = []
    for index in range(windows):
        kinds = soak.latencies.get(index, {})
        requests.update({kind: len(values) for kind, values in kinds.items()})
        report_windows.append(
            {
                "window": index,
                "from_minute": round(index * window / 60, 2),
                "requests": {kind: len(values) for kind, values in sorted(kinds.items())},
                "p50_ms": {kind: percentile(values, 0.50) for kind, values in sorted(kinds.items())},
                "p99_ms": {kind: percentile(values, 0.99) for kind, values in sorted(kinds.items())},
                "memory_kib_start": rss[index],
                "memory_kib_end": rss[index + 1],
                "memory_kib_at_rest_after": resting[index] if index < len(resting) else None,
            }
        )
    late = [key for key in soak.latencies if key >= windows]  # requests begun after the last boundary
    for key in late:
        requests.update({kind: len(values) for kind, values in soak.latencies[key].items()})
    after_first = [value for value in rss[1:] if value is not None]
    at_rest = [value for value in resting if value is not None]

    def growth(readings: list[dict[str, int]], part: str) -> int | None:
        """From the first window's end to the last's: the target is none."""
        return readings[-1].get(part, 0) - readings[0].get(part, 0) if len(readings) > 1 else None

    print(
        json.dumps(
            {
                "store": options.store if options.store in ("sqlite", "postgres") else "url",
                "minutes": options.minutes,
                "window_minutes": options.window_minutes,
                "clients": options.clients,
                "subjects": options.subjects,
                "population": options.population,
                "keyed_share": options.keyed_share,
                "cache_records": options.cache_records,
                "requests": dict(sorted(requests.items())),
                "errors": dict(sorted(soak.errors.items())),
                "error_total": sum(soak.errors.values()),
                "server_tracebacks": tracebacks,
                "outbox_owed_at_end": owed_at_end,
                "growth_after_first_window_kib": {
                    "rss_busy": growth(after_first, "rss"),
                    **{part: growth(at_rest, part) for part in (at_rest[-1] if at_rest else {})},
                },
                "windows": report_windows,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
