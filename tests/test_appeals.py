"""Appeals with a fixed clock passed in, and the notices they and new records bring."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from credo.errors import Conflict
from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from credo.service.appeals import Appeals
from credo.service.consequences import WEIGHT
from credo.storage import SqlStore
from tests.ledger_contract import Clock
from tests.stores import initialised
from tests.test_service import ARTICLE, EXAMPLE, auth, is_error

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def setup(url: str, clock: Clock, rulebook: Path = ARTICLE) -> tuple[SqlStore, TestClient, dict[str, str]]:
    store = initialised(url)
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(rulebook, "2019-01-01")
    Ledger(store, clock).ingest(EXAMPLE, notify=False)  # the ledger as it stood: told to nobody
    keys = {
        "zhang": create_key(store, "subject", NOW, subject="p-zhang-wei"),
        "li": create_key(store, "subject", NOW, subject="p-li-na"),
        "reviewer": create_key(store, "reviewer", NOW),
        "provider": create_key(store, "provider", NOW, actions=("buy_flight_ticket",)),
        "court": create_key(store, "agency", NOW, source="court"),
    }
    return store, TestClient(create_app(store, clock), raise_server_exceptions=False), keys


def flight(client: TestClient, keys: dict[str, str], subject: str = "p-zhang-wei") -> str:
    response = client.post("/v1/decisions", json={"subject": subject, "action": "buy_flight_ticket"},
                           headers=auth(keys["provider"]))  # fmt: skip
    return str(response.json()["decision"])


def test_a_reversed_appeal_stops_the_record_counting(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    assert flight(client, keys) == "deny"
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "I paid in full in 2024."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    assert filed["status"] == "pending" and filed["deadline"].startswith("2025-07-01")
    queue = client.get("/v1/appeals", headers=auth(keys["reviewer"])).json()["appeals"]
    assert [item["id"] for item in queue] == [filed["id"]]
    clock.now = NOW + dt.timedelta(days=3)
    resolved = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "reverse", "reason": "receipt seen"},
                           headers=auth(keys["reviewer"])).json()  # fmt: skip
    assert resolved["status"] == "reverse"
    assert flight(client, keys) == "allow"
    (record,) = client.get("/v1/me/records", headers=auth(keys["zhang"])).json()["records"]
    assert record["status"] == "reversed" and record["appeals"][0]["statement"] == "I paid in full in 2024."
    kinds = [notice["kind"] for notice in client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"]]
    assert kinds == ["appeal_resolved"]
    again = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "x"},
                        headers=auth(keys["reviewer"]))  # fmt: skip
    assert is_error(again, 409)


def test_an_upheld_record_keeps_counting_with_the_statement_beside_it(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "Not me."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "judgment stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    assert flight(client, keys) == "deny"
    (record,) = client.get("/v1/me/records", headers=auth(keys["zhang"])).json()["records"]
    assert record["status"] == "counting" and record["appeals"] == [
        {"statement": "Not me.", "filed": filed["filed"], "status": "uphold"}
    ]


def test_an_unanswered_appeal_suspends_the_record_at_its_deadline(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "Wrong person."},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    clock.now = NOW + dt.timedelta(days=30) - dt.timedelta(seconds=1)
    assert flight(client, keys) == "deny"  # the deadline has not passed yet
    clock.now = NOW + dt.timedelta(days=30)
    assert flight(client, keys) == "allow"  # P30D passed unanswered: suspended
    notices = client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"]
    assert [notice["kind"] for notice in notices] == ["appeal_lapsed"]
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "late, but it stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    assert flight(client, keys) == "deny"  # reinstated


def test_a_subject_cannot_appeal_another_subjects_record(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    theirs = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "x"}, headers=auth(keys["li"]))
    missing = client.post("/v1/me/appeals", json={"record": "court:nope", "statement": "x"}, headers=auth(keys["li"]))
    assert is_error(theirs, 404) and theirs.json() == missing.json()


def test_while_pending_suspend(store_url: str, clock: Clock, tmp_path: Path) -> None:
    lenient = tmp_path / "rulebook.yaml"
    lenient.write_text(ARTICLE.read_text() + "appeals: {respond_within: P14D, while_pending: suspend}\n")
    _, client, keys = setup(store_url, clock, lenient)
    filed = client.post("/v1/me/appeals", json={"record": "court:r0039", "statement": "x"},
                        headers=auth(keys["zhang"])).json()  # fmt: skip
    assert filed["deadline"].startswith("2025-06-15")
    assert flight(client, keys) == "allow"


def test_a_new_record_brings_a_notice_with_reasons_and_the_way_out(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    batch = {"records": [{"subject": "p-li-na", "behaviour": "judgment_defaulted", "at": "2025-05-30", "id": "j-9"}]}
    assert client.post("/v1/records", json=batch, headers=auth(keys["court"])).status_code == 200
    (notice,) = client.get("/v1/me/notices", headers=auth(keys["li"])).json()["notices"]
    kinds = {item["kind"] for item in notice["consequences"]}
    assert {"black_list_entered", "measure_denies"} <= kinds
    listed = next(item for item in notice["consequences"] if item["kind"] == "black_list_entered")
    assert listed["facts"]["reasons"]["opened_by"] == ["court:j-9"]
    assert listed["facts"]["way_out"]["behaviours"][0]["behaviour"] == "judgment_performed"
    assert any("/v1/me/appeals" in step for step in notice["next_steps"])
    measure = next(item for item in notice["consequences"] if item["kind"] == "measure_denies")
    assert 1 <= len(measure["facts"]["reasons"]) <= 4
    assert client.get("/v1/me/notices", headers=auth(keys["zhang"])).json()["notices"] == []


def test_a_sweep_tells_what_time_alone_changed_once(store_url: str, clock: Clock) -> None:
    from credo.service.sweep import sweep

    store, client, _ = setup(store_url, clock)
    key = create_key(store, "subject", NOW, subject="p-wang-fang")
    first = sweep(store, clock)
    assert first.since is None and first.notices == 0
    clock.now = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)  # her 2024 bill payments have expired
    report = sweep(store, clock)
    (notice,) = client.get("/v1/me/notices", headers=auth(key)).json()["notices"]
    assert report.notices == 1 and notice["kind"] == "time"
    fell = next(item for item in notice["consequences"] if item["kind"] == "tier_fell")
    assert (fell["facts"]["from"], fell["facts"]["to"]) == ("AAA", "AA")
    assert "fell from AAA to AA" in fell["text"]
    assert [item["kind"] for item in notice["consequences"]] == sorted(
        (item["kind"] for item in notice["consequences"]), key=lambda kind: WEIGHT[kind]
    )
    clock.now = dt.datetime(2025, 9, 2, tzinfo=dt.UTC)
    sweep(store, clock)
    assert len(client.get("/v1/me/notices", headers=auth(key)).json()["notices"]) == 1


# Appeals resolve once (issue 13, item 4).


def resolution_events(store: SqlStore, appeal_id: str) -> list[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event FROM appeal_events WHERE appeal_id = :id AND event IN ('uphold', 'reverse')"),
            {"id": appeal_id},
        )
        return [row[0] for row in rows]


def file_appeal(client: TestClient, key: str, record: str = "court:r0039") -> Any:
    return client.post("/v1/me/appeals", json={"record": record, "statement": "Not me."}, headers=auth(key))


def test_a_record_has_one_open_appeal_at_a_time(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    first = file_appeal(client, keys["zhang"])
    assert first.status_code == 200 and first.json()["record"] == "court:r0039"
    assert "record_position" not in first.json()
    second = file_appeal(client, keys["zhang"])
    assert is_error(second, 409) and first.json()["id"] in second.json()["error"]["message"]
    by_position = file_appeal(client, keys["zhang"], "40")
    assert is_error(by_position, 409)
    assert len(client.get("/v1/appeals", headers=auth(keys["reviewer"])).json()["appeals"]) == 1
    client.post(f"/v1/appeals/{first.json()['id']}/resolve", json={"outcome": "uphold", "reason": "it stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    again = file_appeal(client, keys["zhang"])  # resolved: a new appeal (new evidence) may be filed
    assert again.status_code == 200 and again.json()["status"] == "pending"


def test_a_refused_resolution_is_not_stored(store_url: str, clock: Clock) -> None:
    store, client, keys = setup(store_url, clock)
    filed = file_appeal(client, keys["zhang"]).json()
    reverse = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "reverse", "reason": "receipt"},
                          headers=auth(keys["reviewer"]))  # fmt: skip
    assert reverse.status_code == 200
    uphold = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "second thoughts"},
                         headers=auth(keys["reviewer"]))  # fmt: skip
    assert is_error(uphold, 409)
    assert resolution_events(store, filed["id"]) == ["reverse"]
    (record,) = client.get("/v1/me/records", headers=auth(keys["zhang"])).json()["records"]
    assert record["status"] == "reversed" and record["appeals"][0]["status"] == "reverse"
    assert flight(client, keys) == "allow"
    missing = client.post("/v1/appeals/nope/resolve", json={"outcome": "uphold", "reason": "x"},
                          headers=auth(keys["reviewer"]))  # fmt: skip
    assert is_error(missing, 404)


def test_an_appeal_cannot_be_upheld_after_its_record_was_reversed(store_url: str, clock: Clock) -> None:
    store, client, keys = setup(store_url, clock)
    filed = file_appeal(client, keys["zhang"]).json()
    Ledger(store, clock).correct("court:r0039", "reverse", "court vacated the judgment", "clerk")
    uphold = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "stands"},
                         headers=auth(keys["reviewer"]))  # fmt: skip
    assert is_error(uphold, 409) and "reversed" in uphold.json()["error"]["message"]
    assert resolution_events(store, filed["id"]) == []
    reverse = client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "reverse", "reason": "vacated"},
                          headers=auth(keys["reviewer"]))  # fmt: skip
    assert reverse.status_code == 200 and reverse.json()["status"] == "reverse"
    assert flight(client, keys) == "allow"
    assert is_error(file_appeal(client, keys["zhang"]), 409)  # a reversed record has nothing left to dispute


def test_resolutions_sent_at_once_resolve_once(store_url: str, clock: Clock) -> None:
    store, client, keys = setup(store_url, clock)
    trials, senders = 6, 4
    batch = [{"subject": f"p-appellant-{n}", "behaviour": "judgment_defaulted", "at": "2025-05-01", "id": f"c-{n}"}
             for n in range(trials)]  # fmt: skip
    assert client.post("/v1/records", json={"records": batch}, headers=auth(keys["court"])).status_code == 200
    for n in range(trials):
        key = create_key(store, "subject", NOW, subject=f"p-appellant-{n}")
        appeal_id = file_appeal(client, key, f"court:c-{n}").json()["id"]
        barrier = threading.Barrier(senders)

        def send(index: int, appeal_id: str = appeal_id, barrier: threading.Barrier = barrier) -> int:
            outcome = "reverse" if index % 2 else "uphold"
            barrier.wait()
            response = client.post(f"/v1/appeals/{appeal_id}/resolve", json={"outcome": outcome, "reason": "r"},
                                   headers=auth(keys["reviewer"]))  # fmt: skip
            return response.status_code

        with ThreadPoolExecutor(senders) as pool:
            statuses = sorted(pool.map(send, range(senders)))
        assert statuses == [200] + [409] * (senders - 1), statuses
        (event,) = resolution_events(store, appeal_id)
        reversals = [c for c in store.corrections(subject=f"p-appellant-{n}") if c.action == "reverse"]
        assert len(reversals) == (1 if event == "reverse" else 0)


# Notices tell the truth (issue 13, item 5).


def notices_of(client: TestClient, key: str) -> list[dict[str, Any]]:
    return list(client.get("/v1/me/notices", headers=auth(key)).json()["notices"])


def test_a_filing_is_stamped_after_the_resolution_it_follows(store_url: str, clock: Clock) -> None:
    """A filing whose clock is read before a resolution on the same record, but that reaches the
    store after it, must not look filed while the first appeal was still open (before: filed_us
    came from a clock read outside the append lock, so the second appeal's filing predated the
    first one's resolution and the crash test counted two open appeals on one record)."""
    store, _, _ = setup(store_url, clock)
    ledger = Ledger(store, clock)
    first = Appeals(store, ledger, lambda: NOW).file("p-zhang-wei", "court:r0039", "not me")
    clock_read, resolved = threading.Event(), threading.Event()

    def slow_clock() -> dt.datetime:  # the filing's clock is read, then its thread is descheduled
        clock_read.set()
        resolved.wait(timeout=1.0)  # with the clock read under the lock, the resolution waits for us
        return NOW + dt.timedelta(days=1)

    with ThreadPoolExecutor(1) as pool:
        filing = pool.submit(Appeals(store, ledger, slow_clock).file, "p-zhang-wei", "court:r0039", "new evidence")
        assert clock_read.wait(timeout=10)
        Appeals(store, ledger, lambda: NOW + dt.timedelta(days=2)).resolve(first.id, "uphold", "stands", "reviewer")
        resolved.set()
        try:
            second = filing.result()
        except Conflict:
            return  # it reached the store while the first was open, and was refused: right
    upheld_at = Appeals(store, ledger, clock).find(first.id).events["uphold"]["at_us"]
    assert second.filed_us >= upheld_at


def test_a_won_appeal_is_told_as_won_with_everything_it_lifted(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = file_appeal(client, keys["zhang"]).json()
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "reverse", "reason": "receipt seen"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    (notice,) = notices_of(client, keys["zhang"])
    assert notice["kind"] == "appeal_resolved" and notice["at"].endswith("+08:00")
    assert "won" in notice["headline"] and "no longer counts" in notice["headline"]
    assert "receipt seen" in notice["headline"] and "court:r0039" in notice["headline"]
    kinds = [item["kind"] for item in notice["consequences"]]
    assert kinds[0] == "black_list_left" and "denial_lifted" in kinds
    assert all(item["good"] for item in notice["consequences"])
    lifted = next(item for item in notice["consequences"] if item["about"] == "flight_ban")
    assert "may not buy flight tickets" in lifted["text"] and "flight_ban" not in lifted["text"]


def test_a_lost_appeal_is_told_as_lost(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    filed = file_appeal(client, keys["zhang"]).json()
    client.post(f"/v1/appeals/{filed['id']}/resolve", json={"outcome": "uphold", "reason": "the judgment stands"},
                headers=auth(keys["reviewer"]))  # fmt: skip
    (notice,) = notices_of(client, keys["zhang"])
    assert notice["kind"] == "appeal_resolved" and notice["consequences"] == []
    assert "not accepted" in notice["headline"] and "still counts" in notice["headline"]
    assert "upheld: it stands" not in notice["message"]
    assert any("new appeal" in step for step in notice["next_steps"])


def test_one_judgment_brings_one_notice_ordered_by_weight(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    batch = {"records": [{"subject": "p-li-na", "behaviour": "judgment_defaulted", "at": "2025-05-30", "id": "j-9"}]}
    client.post("/v1/records", json=batch, headers=auth(keys["court"]))
    (notice,) = notices_of(client, keys["li"])
    assert notice["kind"] == "records" and "court:j-9" in notice["headline"]
    kinds = [item["kind"] for item in notice["consequences"]]
    assert kinds[0] == "black_list_entered"
    weights = {"black_list_entered": 0, "measure_denies": 1, "measure_limits": 2}
    assert [weights[kind] for kind in kinds] == sorted(weights[kind] for kind in kinds)
    assert kinds.count("measure_denies") == 5 and kinds.count("measure_limits") == 2
    texts = " ".join(item["text"] for item in notice["consequences"])
    assert "dishonest judgment debtors" in texts and "may not stay at hotels rated three stars or above" in texts
    for identifier in ("star_hotel_ban", "stay_at_star_hotel", "dishonest_judgment_debtors", "judgment_defaulted"):
        assert identifier not in notice["message"]
    listed = notice["consequences"][0]
    assert listed["facts"]["reasons"]["opened_by"] == ["court:j-9"]
    assert listed["facts"]["way_out"]["behaviours"][0]["behaviour"] == "judgment_performed"
    assert any("judgment performed" in step for step in notice["next_steps"])
    assert any("/v1/me/appeals" in step for step in notice["next_steps"])
    assert "2027-05-30" in notice["message"]  # when the stay ends at the latest, in the rulebook's zone
    assert notices_of(client, keys["zhang"]) == []


def test_good_news_is_a_notice_too(store_url: str, clock: Clock) -> None:
    _, client, keys = setup(store_url, clock)
    performed = {"records": [{"subject": "p-zhang-wei", "behaviour": "judgment_performed", "at": "2025-05-31",
                              "id": "p-1"}]}  # fmt: skip
    client.post("/v1/records", json=performed, headers=auth(keys["court"]))
    (notice,) = notices_of(client, keys["zhang"])
    kinds = [item["kind"] for item in notice["consequences"]]
    assert kinds[0] == "black_list_left" and "denial_lifted" in kinds and "limit_lifted" in kinds
    assert "no longer" in notice["message"]


def test_the_reviewers_queue_is_a_page_of_the_waiting_appeals_nearest_deadline_first(
    store_url: str, clock: Clock
) -> None:
    # The soak's queue read every appeal ever filed on every request, so each reviewer's look
    # cost more than the last and the server's memory rose with it: the store filters, orders
    # and pages now, and says how many wait.
    store, client, keys = setup(store_url, clock)
    rows = [{"subject": "p-zhang-wei", "behaviour": "contract_breach", "at": f"2025-05-0{n + 1}", "id": f"q{n}"}
            for n in range(5)]  # fmt: skip
    assert client.post("/v1/records", json={"records": rows}, headers=auth(keys["court"])).status_code == 200
    ids = []
    for n in range(5):
        clock.now = NOW + dt.timedelta(days=n)  # each filed a day later: each deadline a day later
        ids.append(file_appeal(client, keys["zhang"], f"court:q{n}").json()["id"])
    resolved = client.post(f"/v1/appeals/{ids[1]}/resolve", json={"outcome": "uphold", "reason": "it stands"},
                           headers=auth(keys["reviewer"]))  # fmt: skip
    assert resolved.status_code == 200
    first = client.get("/v1/appeals", params={"limit": 2}, headers=auth(keys["reviewer"])).json()
    assert [item["id"] for item in first["appeals"]] == [ids[0], ids[2]]
    assert (first["total"], first["overdue"], first["offset"]) == (4, 0, 0)
    rest = client.get("/v1/appeals", params={"limit": 2, "offset": 2}, headers=auth(keys["reviewer"])).json()
    assert [item["id"] for item in rest["appeals"]] == [ids[3], ids[4]]
    whole = client.get("/v1/appeals", headers=auth(keys["reviewer"])).json()
    assert [item["id"] for item in whole["appeals"]] == [ids[0], ids[2], ids[3], ids[4]]

    clock.now = dt.datetime.fromisoformat(whole["appeals"][1]["deadline"])  # the first two are due now
    late = client.get("/v1/appeals", params={"limit": 1}, headers=auth(keys["reviewer"])).json()
    assert (late["total"], late["overdue"]) == (4, 2) and late["appeals"][0]["overdue"]
    assert store.waiting_appeals(0, limit=1).total == 4  # the store's own count, beside its page of one

    refused = client.get("/v1/appeals", params={"limit": 0}, headers=auth(keys["reviewer"]))
    assert is_error(refused, 422) and "limit" in refused.text
    past = client.get("/v1/appeals", params={"offset": 2**63}, headers=auth(keys["reviewer"]))  # before: a 500
    assert is_error(past, 422) and "offset" in past.text
    beyond = client.get("/v1/appeals", params={"offset": 10**9}, headers=auth(keys["reviewer"])).json()
    assert (beyond["appeals"], beyond["total"]) == ([], 4)
