"""A `credo serve` process on 127.0.0.1 over a fresh store, with keys of each role: shared by the
crash harness (tests/crash_harness.py) and the soak (bench/soak.py).

A store is named as `sqlite` (a fresh file in a temporary folder), `postgres` (a fresh schema in
the PostgreSQL of CREDO_TEST_POSTGRES, dropped afterwards) or a URL of an empty store.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from credo.ledger.book import Ledger
from credo.service import create_key
from credo.storage import open_store
from tests.stores import postgres_schema

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "scenarios" / "article" / "rulebook.yaml"
#: The court may report these about persons; judgment_defaulted puts a person on the black list
#: dishonest_judgment_debtors (a notice is owed), judgment_performed takes them off it.
COURT_BEHAVIOURS = ("judgment_defaulted", "judgment_performed", "fraud", "embezzlement", "contract_breach")
ACTIONS = ("buy_flight_ticket", "buy_train_ticket", "stay_at_star_hotel")


def recent(rng: random.Random) -> str:
    """An instant in the past year: records that still count now, so that lists are entered
    and notices owed (a record older than a list's `lasts` would change nothing)."""
    ago = dt.timedelta(days=rng.randint(1, 360), hours=rng.randint(0, 23))
    return (dt.datetime.now(dt.UTC) - ago).replace(microsecond=0).isoformat()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def fresh_store(name: str) -> Iterator[str]:
    """The URL of an empty store: `sqlite`, `postgres` or a URL (used as given)."""
    if name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="credo-harness-") as folder:
            yield f"sqlite:///{Path(folder) / 'ledger.db'}"
        return
    if name != "postgres":
        yield name
        return
    base = os.environ.get("CREDO_TEST_POSTGRES")
    if not base:
        raise SystemExit("--store postgres needs CREDO_TEST_POSTGRES=postgresql+psycopg://...")
    yield from postgres_schema(base, "credo_harness")


@dataclass(frozen=True)
class Keys:
    agency: str
    provider: str
    reviewer: str
    auditor: str
    subjects: dict[str, str]  # subject -> its key


def prepare(url: str, subjects: list[str]) -> Keys:
    """Initialise the store, publish the article's rulebook and make one key of each role."""
    store = open_store(url)
    store.migrate()
    if store.head() > 0:
        raise SystemExit(f"the store {url} is not empty: the harness needs a fresh one")
    now = dt.datetime.now(dt.UTC)
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    keys = Keys(
        agency=create_key(store, "agency", now, source="court"),
        provider=create_key(store, "provider", now, actions=ACTIONS),
        reviewer=create_key(store, "reviewer", now),
        auditor=create_key(store, "auditor", now),
        subjects={subject: create_key(store, "subject", now, subject=subject) for subject in subjects},
    )
    store.close()
    return keys


def credo_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "credo.cli.main", *arguments]


def child_env() -> dict[str, str]:
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(part for part in paths if part)}


@dataclass
class Server:
    """`credo serve` as a child process that can be killed and started again on the same port."""

    url: str
    port: int = field(default_factory=free_port)
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="credo-serve-", suffix=".log")[1]))
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    workers: int = 1
    options: tuple[str, ...] = ()  # more of `credo serve`'s options

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> None:
        """Start it and wait (at most `timeout` seconds) until /healthz answers. The bound is
        generous: on a machine loaded past its cores, starting an interpreter can take a minute."""
        assert self.process is None or self.process.poll() is not None, "the server is already running"
        command = credo_command(
            "serve",
            "--store",
            self.url,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--rate",
            "1000000",
            "--burst",
            "1000000",
            "--workers",
            str(self.workers),
            *self.options,
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=child_env())
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"credo serve exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1.0).status_code < 600:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"credo serve did not answer /healthz within {timeout} s: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a power cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def tracebacks(self) -> int:
        """How many tracebacks the server has logged (target: none)."""
        return self.log.read_text(errors="replace").count("Traceback (most recent call last)")


@dataclass(frozen=True)
class Memory:
    """Resident memory (KiB) as /proc/PID/status splits it. VmRSS is the sum of three parts, and
    only `anon` (heap and stacks) is what the process holds: `file` is pages of the interpreter,
    its libraries and the files it maps, read in as code first runs and given back by the kernel
    under pressure; `shmem` is shared memory, here SQLite's WAL index, which the server and its
    relay both map (so a sum of processes counts it twice)."""

    rss: int
    anon: int
    file: int
    shmem: int

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss + other.rss, self.anon + other.anon, self.file + other.file, self.shmem + other.shmem)


_STATUS_FIELDS = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}


def memory_kib(pid: int) -> Memory | None:
    """A process's resident memory, or None once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    found: dict[str, int] = {}
    for line in lines:
        name, _, value = line.partition(":")  # "VmRSS:\t  1952 kB"
        if name in _STATUS_FIELDS:
            found[_STATUS_FIELDS[name]] = int(value.split()[0])
    return Memory(**found) if len(found) == len(_STATUS_FIELDS) else None


def service_memory(pid: int) -> dict[str, Memory] | None:
    """The resident memory of a server ("server") and of each of its children (the relay that
    delivers its notices: "relay", then "child-2", ...); None once the server is gone."""
    own = memory_kib(pid)
    if own is None:
        return None
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):  # a relay started again is the
        try:  # child of the server's watching thread, not of its main thread
            children += task.read_text().split()
        except OSError:
            continue
    found = {"server": own}
    for number, child in enumerate(children, start=1):
        memory = memory_kib(int(child))
        if memory is not None:
            found["relay" if number == 1 else f"child-{number}"] = memory
    return found


def rss_kib(pid: int) -> int | None:
    """The resident memory of a process (VmRSS, KiB), or None once it is gone."""
    memory = memory_kib(pid)
    return None if memory is None else memory.rss


def service_rss_kib(pid: int) -> int | None:
    """The resident memory of a server and its children (the relay that delivers its notices), KiB;
    None once the server is gone."""
    found = service_memory(pid)
    return None if found is None else sum(memory.rss for memory in found.values())


def verify_cli(url: str, timeout: float = 600.0) -> int:
    """`credo verify` as a user runs it: its exit code."""
    done = subprocess.run(
        credo_command("verify", "--store", url), capture_output=True, env=child_env(), timeout=timeout, check=False
    )
    return done.returncode
