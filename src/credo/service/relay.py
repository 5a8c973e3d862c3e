"""The notices' own process beside `credo serve`: the relay of the outbox.

A write records what it owes (credo.storage.outbox) in its own transaction and answers; the relay
turns that into notices a moment later (it looks every tenth of a second). Delivering in the
writing request made an agency's batch of 50 records wait about 60 ms of evaluations per batch
for its answer, all of it under the server's one interpreter lock, beside the decisions: in the
mixed run of bench/service.py the agency got 157 records a second of the 500 it sent. Apart, the
evaluations run on another core, and the server's only cost of a write is the write.

One relay serves every worker of `--workers N`. Nothing is lost when either process dies: what is
owed stays owed until a delivery marks it done, and a delivery is idempotent (two relays at once,
after a restart, store each notice once). The relay stops when its parent is gone, so a SIGKILLed
server leaves no orphan behind for long; the server starts it again should it die. Like the
server, it checks the chains when it starts and every minute, and delivers nothing while one is
broken.

A relay retires after `lifetime` seconds (ten minutes; CREDO_RELAY_LIFETIME), between two
deliveries, and the server starts a fresh one at once: the max-requests of gunicorn and the
max-tasks-per-child of Celery. A long-lived relay's resident memory rose by about 2 MB every
five minutes of a soak while what Python itself held stayed level (tracemalloc), the C heap's
free space growing (mallinfo2); retiring bounds what age adds. On a quiet machine a relay kept
for twenty minutes was flat after its first five (README, the soak): what it gained on loaded
cores followed the backlog it fell behind by, and retiring bounds that too. A fresh process
costs a second of start-up in ten minutes and loses nothing: what is owed stays owed until
delivered.

The store's URL travels in the environment (CREDO_RELAY_STORE), as it does to `--workers`: a
command line is readable by every user of the machine (`ps`), and a PostgreSQL URL may hold a
password.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

#: The environment variable that hands the relay its store's URL.
STORE_VARIABLE = "CREDO_RELAY_STORE"
#: The environment variable that says how many seconds a relay serves before it retires.
LIFETIME_VARIABLE = "CREDO_RELAY_LIFETIME"
LIFETIME = 600.0


def spawn(url: str, parent: int, lifetime: float | None = None, **options: Any) -> subprocess.Popen[bytes]:
    """Start a relay for the store at `url` that lives while process `parent` does, and retires
    after `lifetime` seconds (by default, CREDO_RELAY_LIFETIME's or ten minutes)."""
    environment = {**os.environ, STORE_VARIABLE: url}
    if lifetime is not None:
        environment[LIFETIME_VARIABLE] = str(lifetime)
    return subprocess.Popen([sys.executable, "-m", "credo.service.relay", str(parent)], env=environment, **options)


class Relay:
    """The relay as a child process of the server: started on entry, started again when it
    retires or dies, stopped on exit. A relay that dies within `every` seconds of its start is
    started again only after `every` seconds, so one that cannot start does not spin."""

    def __init__(self, url: str, every: float = 5.0, lifetime: float | None = None) -> None:
        self.url = url
        self.every = every
        self.lifetime = lifetime
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._started = 0.0
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def __enter__(self) -> Relay:
        self._start()
        self._watch = threading.Thread(target=self._keep, name="credo-relay-watch", daemon=True)
        self._watch.start()
        return self

    def _start(self) -> None:
        self.process = spawn(self.url, os.getpid(), self.lifetime)
        self._started = time.monotonic()
        self.starts += 1

    def _keep(self) -> None:
        while not self._stop.is_set() and self.process is not None:
            try:
                code = self.process.wait(timeout=self.every)
            except subprocess.TimeoutExpired:
                continue
            if self._stop.is_set():
                break  # stopped with the server, not died
            if code != 0:
                log.warning("the notices' relay exited with %s; starting it again", code)
            if time.monotonic() - self._started < self.every and self._stop.wait(self.every):
                break
            if not self._stop.is_set():
                self._start()  # a relay that retired (0) is replaced at once

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # wakes the watch, which sees the stop and starts none
        if self._watch is not None:
            self._watch.join()
        if self.process is not None and self.process.poll() is None:  # one the watch started meanwhile
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main(arguments: list[str]) -> None:
    """`CREDO_RELAY_STORE=URL python -m credo.service.relay PARENT_PID`: deliver while the parent lives."""
    import signal

    from credo.errors import CredoError
    from credo.ledger.book import Ledger, utc_now
    from credo.service.delivery import Deliverer
    from credo.service.integrity import Integrity
    from credo.service.work import return_freed_memory
    from credo.storage import open_store

    logging.basicConfig(level=logging.WARNING, format="credo relay: %(message)s")
    url = os.environ.get(STORE_VARIABLE)
    if url is None or len(arguments) != 1 or not arguments[0].isdigit():
        log.error("usage: %s=URL python -m credo.service.relay PARENT_PID (credo serve starts it)", STORE_VARIABLE)
        raise SystemExit(2)
    parent = int(arguments[0])
    retires = time.monotonic() + _lifetime()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True  # the delivery under way ends; the next one is the next relay's

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    store = open_store(url)
    return_freed_memory()
    integrity = Integrity(store, utc_now)  # as the server's: from the last checkpoint, then each minute
    checked = warned = False  # until a first check succeeds (the store may be down), nothing is trusted

    def trusted() -> bool:
        nonlocal checked, warned
        if not checked:
            try:
                integrity.check()
            except CredoError as exc:
                if not warned:
                    log.warning("%s; delivering nothing until the chains can be checked", exc)
                    warned = True
                return False
            checked = True
        integrity.recheck_if_due()
        return integrity.broken is None

    def serving() -> bool:
        return not stopping and os.getppid() == parent and time.monotonic() < retires

    try:
        Deliverer(store, Ledger(store)).follow(serving, trusted)
    finally:
        store.close()


def _lifetime() -> float:
    written = os.environ.get(LIFETIME_VARIABLE)
    try:
        seconds = LIFETIME if written is None else float(written)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:  # NaN, zero or negative: a relay that retired at once would only spin
        log.warning("%s=%s is not a number of seconds above 0; retiring after %s", LIFETIME_VARIABLE, written, LIFETIME)
        return LIFETIME
    return seconds


if __name__ == "__main__":
    main(sys.argv[1:])
