"""The pages, rendered for every role through TestClient, their words checked against the data."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from credo.ledger.book import Ledger
from credo.ledger.chain import micros
from credo.rules import load_rulebook
from credo.service import create_app, create_key
from credo.storage import SqlStore
from tests.conftest import SCENARIOS
from tests.stores import initialised, sqlite_url

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
EXAMPLE = SCENARIOS / "article" / "example-ledger.csv"
ROLES = ("agency", "provider", "subject", "reviewer", "auditor", "admin")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = initialised(sqlite_url(tmp_path))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    yield store
    store.close()


@pytest.fixture
def keys(store: SqlStore) -> dict[str, str]:
    return {
        "agency": create_key(store, "agency", NOW, source="court"),
        "provider": create_key(store, "provider", NOW, actions=("buy_flight_ticket",)),
        "subject": create_key(store, "subject", NOW, subject="p-zhang-wei"),
        "other": create_key(store, "subject", NOW, subject="p-li-na"),
        "reviewer": create_key(store, "reviewer", NOW),
        "auditor": create_key(store, "auditor", NOW),
        "admin": create_key(store, "admin", NOW),
    }


def browser(store: SqlStore) -> TestClient:
    return TestClient(create_app(store, lambda: NOW), raise_server_exceptions=False, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; return where it sends the person."""
    form = client.get("/sign-in")
    assert form.status_code == 200
    answer = client.post("/sign-in", data={"key": key, "csrf": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    assert key not in answer.headers["location"]
    return answer.headers["location"]


def test_the_public_rulebook_reads_as_a_document(store: SqlStore) -> None:
    page = browser(store).get("/rulebook")
    assert page.status_code == 200
    rulebook = load_rulebook(ARTICLE)
    text = page.text
    for measure in rulebook.measures.values():
        assert measure.detail in text.replace("&#39;", "'").replace("&amp;", "&")
        assert (measure.basis or "") in text.replace("&#39;", "'").replace("&amp;", "&")
    for name in rulebook.lists:
        assert name.replace("_", " ") in text
    assert "Rights impact report" in text
    assert 'href="/v1/rulebook"' in text  # its JSON twin
    assert "content-security-policy" in page.headers
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]


def test_a_person_reads_their_list_its_measures_and_latest_end(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    assert sign_in(client, keys["subject"]) == "/me"
    page = client.get("/me")
    assert page.status_code == 200, page.text
    rulebook = load_rulebook(ARTICLE)
    detail = rulebook.measures["flight_ban"].detail
    assert "dishonest judgment debtors" in page.text
    assert detail in page.text.replace("&#39;", "'")
    assert "10 September 2026" in page.text  # the stay's latest end, in the rulebook's zone
    assert "p-li-na" not in page.text  # nobody else's data


def test_the_appeal_flow_from_sign_in_to_notice(store: SqlStore, keys: dict[str, str]) -> None:
    person, reviewer = browser(store), browser(store)
    sign_in(person, keys["subject"])
    page = person.get("/me").text
    record = store.records("p-zhang-wei")[-1].id
    empty = person.post("/me/appeals", data={"record": record, "statement": "  ", "csrf": csrf_of(page)})
    assert empty.status_code == 400 and "write a few words" in empty.text
    filed = person.post("/me/appeals", data={"record": record, "statement": "I paid.", "csrf": csrf_of(page)})
    assert filed.status_code == 303
    assert "pending" in person.get("/me").text

    assert sign_in(reviewer, keys["reviewer"]) == "/desk"
    desk = reviewer.get("/desk").text
    link = re.search(r'href="(/desk/appeals/[0-9a-f]+)"', desk)
    assert link, desk
    review = reviewer.get(link.group(1))
    assert "I paid." in review.text and record in review.text
    decision = {"outcome": "reverse", "reason": "Paid on time.", "csrf": csrf_of(review.text)}
    done = reviewer.post(link.group(1), data=decision)
    assert done.status_code == 303
    after = person.get("/me").text
    assert "won" in after and "Paid on time." in after


def test_forms_without_the_session_token_are_refused(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    sign_in(client, keys["subject"])
    record = store.records("p-zhang-wei")[-1].id
    answer = client.post("/me/appeals", data={"record": record, "statement": "x", "csrf": "forged"})
    assert answer.status_code == 400
    assert store.appeals("p-zhang-wei") == []
    stale = client.post("/sign-in", data={"key": keys["subject"], "csrf": "forged"})
    assert stale.status_code == 400


def test_each_role_reaches_only_its_pages(store: SqlStore, keys: dict[str, str]) -> None:
    anonymous = browser(store)
    assert anonymous.get("/me").status_code == 401
    assert anonymous.get("/desk").status_code == 401
    for role in ROLES:
        client = browser(store)
        sign_in(client, keys[role])
        assert client.get("/me").status_code == (200 if role == "subject" else 403), role
        assert client.get("/desk").status_code == (200 if role in ("reviewer", "auditor", "admin") else 403), role
        assert client.get("/rulebook").status_code == 200


def test_an_unknown_key_and_a_signed_out_session(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    form = client.get("/sign-in")
    wrong = client.post("/sign-in", data={"key": "credo_subject_nope", "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401 and "not known" in wrong.text
    sign_in(client, keys["subject"])
    page = client.get("/me").text
    assert client.post("/sign-out", data={"csrf": csrf_of(page)}).status_code == 303
    assert client.get("/me").status_code == 401


def test_a_tampered_cookie_is_no_session(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    sign_in(client, keys["subject"])
    cookie = client.cookies.get("credo_session")
    assert cookie and keys["subject"] not in cookie
    client.cookies.set("credo_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert client.get("/me").status_code == 401


def test_the_download_is_the_whole_file(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    sign_in(client, keys["subject"])
    page = client.get("/me/export")
    assert page.status_code == 200
    assert page.json()["subject"] == "p-zhang-wei"
    api = client.get("/v1/me/export", headers={"Authorization": f"Bearer {keys['subject']}"})
    assert api.json()["records"] == page.json()["records"]


def test_docs_need_no_network(store: SqlStore) -> None:
    client = browser(store)
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/htmx.min.js").status_code == 200


def test_the_public_page_shows_the_newest_population_count(store: SqlStore, tmp_path: Path) -> None:
    from credo.service.overview import count_population

    assert "No population count has been made yet" in browser(store).get("/rulebook").text
    summary = count_population(Ledger(store, lambda: NOW), store, NOW, tmp_path / "run", clock=lambda: NOW)
    text = browser(store).get("/rulebook").text
    debtors = summary["lists"]["dishonest_judgment_debtors"]
    assert debtors > 0
    assert re.search(rf"dishonest judgment debtors</td><td class=\"num\">{debtors}</td>", text), text
    assert f"Of {summary['subjects']:,} people and organisations" in text
    assert "computed 1 June 2025, 08:00" in text  # when, in the rulebook's zone


def test_the_auditor_replays_a_logged_decision_and_checks_the_chain(store: SqlStore, keys: dict[str, str]) -> None:
    api = browser(store)
    asked = api.post("/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_flight_ticket"},
                     headers={"Authorization": f"Bearer {keys['provider']}"})  # fmt: skip
    assert asked.status_code == 200
    auditor = browser(store)
    sign_in(auditor, keys["auditor"])
    log = auditor.get("/desk/decisions")
    assert log.status_code == 200 and "p-zhang-wei" in log.text and "refused" in log.text
    link = re.search(r'href="(/desk/decisions/[0-9a-f]+)"', log.text)
    assert link
    replayed = auditor.get(link.group(1))
    assert replayed.status_code == 200 and "the same" in replayed.text
    assert auditor.get("/desk/decisions/nope").status_code == 404
    chain = auditor.get("/desk/chain")
    assert chain.status_code == 200 and store.verify().head in chain.text
    reviewer = browser(store)
    sign_in(reviewer, keys["reviewer"])
    assert reviewer.get("/desk/decisions").status_code == 403


def test_a_one_time_link_signs_in_once(store: SqlStore, keys: dict[str, str]) -> None:
    from credo.service.auth import digest

    app = create_app(store, lambda: NOW)
    token = app.state.sessions.one_time_link(digest(keys["subject"]))
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    form = client.get(f"/sign-in/once/{token}")
    assert form.status_code == 200 and keys["subject"] not in form.text
    used = client.post(f"/sign-in/once/{token}", data={"csrf": csrf_of(form.text)})
    assert used.status_code == 303 and used.headers["location"] == "/me"
    assert client.get("/me").status_code == 200
    again = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    second = again.get(f"/sign-in/once/{token}")
    spent = again.post(f"/sign-in/once/{token}", data={"csrf": csrf_of(second.text)})
    assert spent.status_code == 401 and "used already" in spent.text


def test_links_never_used_are_not_kept_once_expired(store: SqlStore, keys: dict[str, str]) -> None:
    from credo.service.auth import digest

    sessions = create_app(store, lambda: NOW).state.sessions
    stale = [sessions.one_time_link(digest(keys["subject"]), lifetime=-1.0) for _ in range(3)]
    fresh = sessions.one_time_link(digest(keys["subject"]))
    assert set(sessions._links) == {fresh} and not set(stale) & set(sessions._links)


def test_a_long_file_comes_a_page_at_a_time(store: SqlStore, keys: dict[str, str], tmp_path: Path) -> None:
    from credo.web.views import PER_PAGE

    rows = ["id,subject,behaviour,at,source"] + [
        f"b{index},p-zhang-wei,bill_paid_on_time,2025-0{1 + index % 5}-{1 + index % 28:02d},bank"
        for index in range(PER_PAGE + 5)
    ]
    (tmp_path / "more.csv").write_text("\n".join(rows) + "\n")
    Ledger(store, lambda: NOW).ingest(tmp_path / "more.csv")
    client = browser(store)
    sign_in(client, keys["subject"])
    first = client.get("/me").text
    assert first.count('class="record"') == PER_PAGE
    assert 'hx-get="/me/records?page=1"' in first
    older = client.get("/me/records?page=1", headers={"HX-Request": "true"})
    total = len(store.records("p-zhang-wei"))
    assert older.status_code == 200 and older.text.count('class="record"') == total - PER_PAGE
    assert "Show older records" not in older.text
    assert client.get("/me/records?page=1").status_code == 303  # without htmx: the whole page


def test_no_page_reaches_another_persons_record(store: SqlStore, keys: dict[str, str]) -> None:
    client = browser(store)
    sign_in(client, keys["subject"])
    page = client.get("/me").text
    theirs = store.records("p-li-na")[0].id
    for reference in (theirs, theirs.upper(), f" {theirs} ", "court:nope", str(store.records("p-li-na")[0].position)):
        answer = client.post("/me/appeals", data={"record": reference, "statement": "mine?", "csrf": csrf_of(page)})
        assert answer.status_code == 404, reference
        assert "no such record" in answer.text
    assert store.appeals("p-li-na") == [] and store.appeals("p-zhang-wei") == []


def test_a_tampered_ledger_shows_no_page(store: SqlStore, keys: dict[str, str], tmp_path: Path) -> None:
    from sqlalchemy import text

    client = browser(store)  # its start records a checkpoint; what comes after is checked at the next start
    sign_in(client, keys["subject"])
    assert client.get("/me").status_code == 200
    (tmp_path / "late.csv").write_text(
        "id,subject,behaviour,at,source\nlate-1,p-zhang-wei,bill_paid_on_time,2025-05-30,bank\n"
    )
    Ledger(store, lambda: NOW).ingest(tmp_path / "late.csv")
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE records SET behaviour = 'charity_donation' WHERE source_id = 'late-1'"))
    tampered = browser(store)  # a server started over the altered ledger
    page = tampered.get("/rulebook")
    assert page.status_code == 503 and "cannot be shown" in page.text and "<html" in page.text
    assert tampered.get("/static/credo.css").status_code == 200


# The operator's desk: every section for every operator role, and the API keys (admin only).

OPERATORS = ("reviewer", "auditor", "admin")


def _records_in(store: SqlStore) -> int:
    from sqlalchemy import text

    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM records")).scalar_one())


def test_each_operator_sees_only_what_its_role_may(store: SqlStore, keys: dict[str, str], tmp_path: Path) -> None:
    from credo.service.overview import count_population

    older = NOW - dt.timedelta(days=3)
    count_population(Ledger(store, lambda: older), store, older, tmp_path / "old", clock=lambda: older)
    summary = count_population(Ledger(store, lambda: NOW), store, NOW, tmp_path / "run", clock=lambda: NOW)
    received = _records_in(store)
    links = {"/desk/decisions": ("auditor", "admin"), "/desk/chain": ("auditor", "admin"), "/desk/keys": ("admin",)}
    for role in OPERATORS:
        client = browser(store)
        sign_in(client, keys[role])
        page = client.get("/desk")
        assert page.status_code == 200, role
        text = page.text
        for link, allowed in links.items():
            assert (f'href="{link}"' in text) == (role in allowed), (role, link)
        # Records received per day, in the rulebook's zone (Asia/Shanghai: the ingest at 00:00 UTC is 08:00 there).
        assert re.search(rf"<td>1 June 2025</td><td class=\"num\">{received}</td>", text), role
        assert '<td>31 May 2025</td><td class="num">0</td>' in text
        # The population over time: both kept runs, newest first, lists and measures in words.
        debtors = summary["lists"]["dishonest_judgment_debtors"]
        assert "Grades in citizen" in text and "On each list" in text and "Under each consequence" in text
        lists = text.split("<caption>On each list</caption>", 1)[1].split("</table>", 1)[0]
        newest, oldest = "<td>1 June 2025, 08:00</td><td>1 June 2025, 08:00</td>", "<td>29 May 2025, 08:00</td>"
        assert lists.index(newest) < lists.index(oldest)
        rulebook = load_rulebook(ARTICLE)
        column = list(rulebook.lists).index("dishonest_judgment_debtors")
        row = lists.split(newest, 1)[1].split("</tr>", 1)[0]
        assert re.findall(r'<td class="num">([\d,]+)</td>', row)[column] == f"{debtors:,}"
        flight = load_rulebook(ARTICLE).measures["flight_ban"].detail
        assert flight.replace("'", "&#39;") in text


def test_overdue_disputes_are_flagged_oldest_deadline_first(store: SqlStore, keys: dict[str, str]) -> None:
    from credo.service.appeals import Appeals
    from credo.service.auth import digest

    ledger = Ledger(store, lambda: NOW)
    # Li Na's dispute is filed later (its answer is due later) and Zhang Wei's sooner: the desk puts Zhang Wei's first.
    Appeals(store, ledger, lambda: NOW + dt.timedelta(days=40)).file("p-li-na", store.records("p-li-na")[0].id, "no")
    Appeals(store, ledger, lambda: NOW).file("p-zhang-wei", store.records("p-zhang-wei")[0].id, "wrong")
    deadline = max(appeal.deadline_us for appeal in store.appeals())
    between = NOW + dt.timedelta(days=50)  # past Zhang Wei's deadline, before Li Na's
    assert micros(between) < deadline
    app = create_app(store, lambda: between)
    for role in OPERATORS:
        token = app.state.sessions.one_time_link(digest(keys[role]))
        client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        form = client.get(f"/sign-in/once/{token}")
        client.post(f"/sign-in/once/{token}", data={"csrf": csrf_of(form.text)})
        text = client.get("/desk").text
        assert "2 waiting, <strong>1 overdue</strong>" in text, role
        assert text.count('<tr class="overdue">') == 1
        assert text.index("p-zhang-wei</td>") < text.index("p-li-na</td>")
        first = text.split('<tr class="overdue">', 1)[1].split("</tr>", 1)[0]
        assert "p-zhang-wei" in first and "overdue: the record is suspended" in first
        assert ('href="/desk/appeals/' in text) == (role == "reviewer")


def test_records_received_are_counted_per_day_in_the_zone(store_url: str, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL: quarter hours counted in SQL, added up into the zone's days."""
    from credo.web.desk import DAYS, received_per_day

    store = initialised(store_url)
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")

    # 15:30 UTC on 28 May is 23:30 in Shanghai; 16:30 UTC is already 29 May there. In the order they
    # happened: a ledger never stamps an entry before the one it follows.
    for index, instant in enumerate(("2025-05-28T15:30:00", "2025-05-28T16:30:00", "2025-05-28T16:45:00")):
        (tmp_path / f"r{index}.csv").write_text(
            f"id,subject,behaviour,at,source\nq{index},p-new,fraud,2025-05-01,court\n"
        )
        clock = dt.datetime.fromisoformat(instant).replace(tzinfo=dt.UTC)
        Ledger(store, lambda clock=clock: clock).ingest(tmp_path / f"r{index}.csv")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    tz = load_rulebook(ARTICLE).tz
    days = {line.day: line.count for line in received_per_day(store, NOW, tz)}
    assert len(days) == DAYS and days["28 May 2025"] == 1 and days["29 May 2025"] == 2
    assert days["1 June 2025"] == _records_in(store) - 3
    assert "10 May 2025" not in days  # older than the days counted
    store.close()


def _keys_page(client: TestClient) -> str:
    page = client.get("/desk/keys")
    assert page.status_code == 200, page.text
    return page.text


def test_an_admin_makes_a_key_sees_it_once_and_revokes_it(store: SqlStore, keys: dict[str, str]) -> None:
    admin = browser(store)
    sign_in(admin, keys["admin"])
    listing = _keys_page(admin)
    for stored in store.keys_list():
        assert stored.id in listing
        assert stored.key_hash not in listing  # only the start of the fingerprint
    assert "p-zhang-wei" in listing and "buy_flight_ticket" in listing and "court" in listing
    assert all(key not in listing for key in keys.values())

    form = {"role": "provider", "actions": "buy_flight_ticket", "source": "court", "subject": "",
            "expires": "P30D", "csrf": csrf_of(listing)}  # fmt: skip
    made = admin.post("/desk/keys", data=form)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = re.search(r'value="(credo_provider_[^"]+)"', made.text)
    assert found, made.text
    key = found.group(1)
    assert "1 July 2025" in made.text  # the expiry, 30 days on, in the rulebook's zone
    newest = store.key(digest_of(key))
    assert newest is not None and newest.role == "provider" and newest.source is None
    assert newest.actions == ("buy_flight_ticket",)
    assert key not in _keys_page(admin)  # shown once: never again
    asked = browser(store).post("/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_flight_ticket"},
                                headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert asked.status_code == 200

    confirm = admin.get(f"/desk/keys/{newest.id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    forged = admin.post(f"/desk/keys/{newest.id}/revoke", data={"reason": "lost", "csrf": "forged"})
    assert forged.status_code == 400 and store.revoked_keys() == set()
    no_reason = admin.post(f"/desk/keys/{newest.id}/revoke", data={"reason": " ", "csrf": csrf_of(confirm.text)})
    assert no_reason.status_code == 400 and "write why" in no_reason.text
    done = admin.post(f"/desk/keys/{newest.id}/revoke", data={"reason": "lost", "csrf": csrf_of(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/desk/keys?revoked={newest.id}"
    after = admin.get(done.headers["location"]).text
    assert f"Key {newest.id} is revoked" in after and "revoked 1 June 2025, 08:00" in after
    assert store.revoked_keys() == {newest.key_hash}
    with store.engine.connect() as connection:  # a new entry in the revocations' chain, by this admin
        from sqlalchemy import text

        rows = connection.execute(text("SELECT reason, actor FROM key_revocations")).all()
    admin_key = store.key(digest_of(keys["admin"]))
    assert admin_key is not None and [tuple(row) for row in rows] == [("lost", f"admin {admin_key.id}")]
    refused = browser(store).post("/v1/decisions", json={"subject": "p-zhang-wei", "action": "buy_flight_ticket"},
                                  headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert refused.status_code == 401
    again = admin.post(f"/desk/keys/{newest.id}/revoke", data={"reason": "again", "csrf": csrf_of(confirm.text)})
    assert again.status_code == 409
    assert admin.get("/desk/keys/0123456789abcdef/revoke").status_code == 404
    assert admin.get(f"/desk/keys/{key}/revoke").status_code == 404  # an address never takes a key


def digest_of(key: str) -> str:
    from credo.service.auth import digest

    return digest(key)


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"role": "wizard"}, "choose the key&#39;s role"),
        ({"role": ""}, "choose the key&#39;s role"),
        ({"role": "agency"}, "an agency key needs a source"),
        ({"role": "agency", "source": "the_press"}, "unknown source &#39;the_press&#39;"),
        ({"role": "provider", "actions": "fly"}, "unknown action &#39;fly&#39;"),
        ({"role": "subject"}, "a subject key needs a subject"),
        ({"role": "reviewer", "expires": "ninety days"}, "the expiry"),
        ({"role": "reviewer", "expires": "2020-01-01"}, "is not in the future"),
        ({"role": "subject", "subject": "p\x01x"}, "subject"),
    ],
)
def test_a_bad_key_form_is_the_form_again(store: SqlStore, keys: dict[str, str], form: dict[str, str],
                                          says: str) -> None:  # fmt: skip
    admin = browser(store)
    sign_in(admin, keys["admin"])
    before = len(store.keys_list())
    answer = admin.post("/desk/keys", data={**form, "csrf": csrf_of(_keys_page(admin))})
    assert answer.status_code == 400, answer.text
    assert "The key was not made" in answer.text and says in answer.text
    assert 'action="/desk/keys"' in answer.text  # the form again, with what was typed
    if form.get("source"):
        assert f'value="{form["source"]}"' in answer.text
    assert len(store.keys_list()) == before


def test_only_an_admin_reaches_the_keys(store: SqlStore, keys: dict[str, str]) -> None:
    anonymous = browser(store)
    assert anonymous.get("/desk/keys").status_code == 401
    assert anonymous.post("/desk/keys", data={"role": "admin"}).status_code == 401
    target = store.keys_list()[0].id
    for role in ROLES:
        client = browser(store)
        sign_in(client, keys[role])
        expected = 200 if role == "admin" else 403
        assert client.get("/desk/keys").status_code == expected, role
        assert client.get(f"/desk/keys/{target}/revoke").status_code == expected, role
        if role != "admin":
            assert client.post("/desk/keys", data={"role": "admin", "csrf": "x"}).status_code == 403
            assert client.post(f"/desk/keys/{target}/revoke", data={"reason": "x", "csrf": "x"}).status_code == 403
    assert len(store.keys_list()) == len(keys) and all(key.revoked_us is None for key in store.keys_list())
