"""`credo serve --workers N` (issue 15 item 4): several processes over one store, each cache kept
right by the ledger's head, one session secret for all of them.

Each test starts real server processes; every worker is asked in turn because the kernel hands
each new connection to whichever worker accepts it first.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.service_process import Keys, Server, fresh_store, prepare, recent

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SUBJECT = "p-worker-test"


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Server, Keys]]:
    if request.param == "postgres" and not os.environ.get("CREDO_TEST_POSTGRES"):
        pytest.skip("CREDO_TEST_POSTGRES is not set")
    with fresh_store(request.param) as url:
        keys = prepare(url, [SUBJECT])
        server = Server(url, workers=2)
        try:
            server.start(timeout=180.0)  # two interpreters start at once: slow on a busy machine
            yield server, keys
        finally:
            server.stop()


def decide(server: Server, keys: Keys) -> str:
    # A new connection each time, so that the answers come from both workers.
    answer = httpx.post(f"{server.base}/v1/decisions", headers={"authorization": f"Bearer {keys.provider}"},
                        json={"subject": SUBJECT, "action": "buy_flight_ticket"}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return str(answer.json()["decision"])


def test_every_worker_sees_a_write_and_reads_a_session_another_signed(served: tuple[Server, Keys]) -> None:
    server, keys = served
    assert {decide(server, keys) for _ in range(12)} == {"allow"}  # both caches now hold "allow"
    record = {
        "id": "w-1",
        "subject": SUBJECT,
        "kind": "person",
        "behaviour": "judgment_defaulted",
        "at": recent(random.Random(1)),
    }
    sent = httpx.post(f"{server.base}/v1/records", headers={"authorization": f"Bearer {keys.agency}"},
                      json={"records": [record]}, timeout=30)  # fmt: skip
    assert sent.status_code == 200, sent.text
    # On the black list now: whichever worker answers, the flight ticket is denied.
    assert {decide(server, keys) for _ in range(12)} == {"deny"}
    # A session signed by one worker is read by the others (one secret for them all).
    with httpx.Client(base_url=server.base, timeout=30) as browser:
        form = browser.get("/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None, form.text[:500]
        signed = browser.post("/sign-in", data={"key": keys.subjects[SUBJECT], "csrf": token.group(1)})
        assert signed.status_code in (200, 303), signed.text[:300]
        cookies = browser.cookies
    for _ in range(8):  # a fresh connection each time: some of these reach the other worker
        page = httpx.get(f"{server.base}/me", cookies=cookies, timeout=30, follow_redirects=False)
        assert page.status_code == 200, (page.status_code, page.headers.get("location"))
        assert "<h1>Your file</h1>" in page.text and "Sign out" in page.text
    assert server.tracebacks() == 0


def test_every_worker_is_built_with_the_settings_serve_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers are imported by uvicorn, not called: what `serve` was told reaches them only
    through the environment, the cache's bound included."""
    from credo.service.workers import ServeSettings

    for name in ("CREDO_SERVE_STORE", "CREDO_SERVE_RATE", "CREDO_SERVE_BURST", "CREDO_SERVE_CACHE_RECORDS",
                 "CREDO_SERVE_NOTICES_HERE", "CREDO_SESSION_SECRET"):  # fmt: skip
        monkeypatch.setenv(name, "")  # so that the test's end restores what was there (or nothing)
        monkeypatch.delenv(name)
    for notices_here in (False, True):
        given = ServeSettings("sqlite:///ledger.db", 12.5, 40, cache_records=1234, notices_here=notices_here)
        given.export()
        assert ServeSettings.imported() == given
    assert os.environ["CREDO_SESSION_SECRET"]
