"""Where the service's costly work runs: never on the event loop, and the costliest one at a time.

Evaluating a subject is pure Python: 20,000 records take about a second of CPU. On the event
loop it would stall every other request for that long. In a thread it still competes for the
GIL, so threads alone do not isolate it either: with four such questions at once, everything
else would get a fifth of the interpreter. Hence three bounds:

- light work (reading a subject, evaluating one of ordinary size) runs on the thread pool;
- heavy work (a subject with more than `light_records` records, the notices after a batch of
  records) runs in one lane of `heavy_threads` threads, so that the event loop and the light
  work compete with at most that many CPU-bound threads; heavy questions queue behind each other,
  not in front of everyone; past `max_waiting` of them waiting, the answer is 503 (Retry-After);
- no single request evaluates more than `max_records` records of one subject (422 above that:
  the cost of one request is bounded, whatever the ledger holds).
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from anyio import to_thread

from credo.service.errors import ApiError

T = TypeVar("T")


@dataclass
class Workload:
    light_records: int = 1_000
    max_records: int = 100_000
    heavy_threads: int = 1
    max_waiting: int = 32
    _lane: anyio.CapacityLimiter | None = field(default=None, repr=False)

    @property
    def lane(self) -> anyio.CapacityLimiter:
        if self._lane is None:  # made on first use: a limiter belongs to the running event loop
            self._lane = anyio.CapacityLimiter(self.heavy_threads)
        return self._lane

    async def light(self, work: Callable[[], T]) -> T:
        return await to_thread.run_sync(work)

    async def heavy(self, work: Callable[[], T], refuse: bool = True) -> T:
        """In the heavy lane; past max_waiting a 503, unless `refuse` is False (work owed after a
        write already acknowledged, such as its notices, waits its turn instead)."""
        if refuse and self.lane.statistics().tasks_waiting >= self.max_waiting:
            message = "too many costly questions are waiting; try again shortly"
            raise ApiError(503, message, headers={"Retry-After": "2"})
        return await to_thread.run_sync(work, limiter=self.lane)

    def is_heavy(self, records: int) -> bool:
        return records > self.light_records

    def bound(self, subject: str, records: int) -> None:
        """Refuse to evaluate more than max_records records of one subject in one request."""
        if records > self.max_records:
            # Not the count itself: a provider learns decisions, never the record.
            reason = f"one request evaluates at most {self.max_records} records of a subject; this one has more"
            raise ApiError(422, reason, [{"field": "subject", "reason": reason}])


def share_the_interpreter(interval: float = 0.001) -> None:
    """Process-wide settings for a server (`credo serve` makes them): keep the pauses that every
    thread shares short.

    A CPU-bound thread hands the GIL on every millisecond rather than every five, so that the
    event loop waits less for it. The state cache and an evaluation hold many small objects; the
    default thresholds would have the cyclic collector walk all of them every few hundred
    requests, a pause for every thread each time. Collect young objects less often, and leave what
    exists at start-up out of it.
    """
    sys.setswitchinterval(interval)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return_freed_memory()


#: glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8
_trimming = False  # one trimming thread per process, however often a server is set up


def return_freed_memory(arenas: int = 2, every: float = 60.0) -> bool:
    """Keep a long-running server's resident memory to what it holds (glibc only; elsewhere a
    no-op that answers False).

    glibc gives each thread that allocates its own malloc arena, up to eight per core, and keeps
    what is freed in each for reuse rather than handing it back. A server's thread pool touches
    many of them, so its resident memory climbed for as long as it ran: in a 30-minute soak from
    244 to 448 MB after the first window, while the Python objects it held stayed under 80 MB
    (tracemalloc), and one malloc_trim(0) gave back 94 MB at once. So: at most `arenas` arenas
    (what MALLOC_ARENA_MAX does, set before the threads start), and a trim every `every`
    seconds, which costs a few milliseconds.
    """
    global _trimming
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return False
    mallopt(_M_ARENA_MAX, arenas)
    if _trimming:
        return True
    _trimming = True

    def trim() -> None:
        while True:
            time.sleep(every)
            malloc_trim(0)

    threading.Thread(target=trim, name="credo-malloc-trim", daemon=True).start()
    return True
