"""The pages in a real browser: Playwright driving Debian's Chromium, axe-core for accessibility.

On a machine without Chromium these tests skip; in CI (CI=true) they are required, and `.ci/run`
installs Chromium. Each page's screenshot is written to docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from credo.ledger.book import Ledger
from credo.service import create_app, create_key
from credo.service.auth import digest
from credo.storage import SqlStore
from tests.conftest import ROOT, SCENARIOS
from tests.stores import initialised, sqlite_url

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
EXAMPLE = SCENARIOS / "article" / "example-ledger.csv"


def _require_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - installed by the dev extra
        sync_playwright = None
    if sync_playwright is None or not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Chromium (.ci/run does) and the dev extra")
        pytest.skip(f"the browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], SqlStore]]:
    """A server on 127.0.0.1 over the article's example ledger, with a key per role."""
    store = initialised(sqlite_url(tmp_path_factory.mktemp("web")))
    Ledger(store, lambda: dt.datetime(2018, 12, 1, tzinfo=dt.UTC)).publish(ARTICLE, "2019-01-01")
    Ledger(store, lambda: NOW).ingest(EXAMPLE)
    keys = {
        "subject": create_key(store, "subject", NOW, subject="p-zhang-wei"),
        "reviewer": create_key(store, "reviewer", NOW),
        "admin": create_key(store, "admin", NOW),
    }
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, lambda: NOW), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", keys, store
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


class Watched:
    """A page whose console errors and off-machine requests are collected."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: None if request.url.startswith((base, "data:")) else
                self.outside.append(request.url))  # fmt: skip

    def check(self, name: str) -> None:
        """No console error, nothing fetched from elsewhere, no serious accessibility violation."""
        from axe_playwright_python.sync_playwright import Axe

        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        assert self.errors == [], f"{name}: console errors {self.errors}"
        assert self.outside == [], f"{name}: requests leaving the machine {self.outside}"
        results = Axe().run(self.page)
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: " + "; ".join(f"{v['id']}: {v['help']}" for v in serious)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Your key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_public_pages_load_cleanly(chromium: Any, site: tuple[str, dict[str, str], SqlStore]) -> None:
    base, _, _ = site
    for viewport, suffix in (({"width": 1280, "height": 900}, ""), ({"width": 390, "height": 844}, "-phone")):
        context = chromium.new_context(viewport=viewport)
        watched = Watched(context.new_page(), base)
        watched.page.goto(f"{base}/rulebook")
        assert watched.page.get_by_role("heading", level=1).inner_text().startswith("The rules in force")
        watched.check(f"rulebook{suffix}")
        watched.page.goto(f"{base}/")
        watched.check(f"home{suffix}")
        context.close()


def test_a_person_appeals_and_a_reviewer_reverses(chromium: Any, site: tuple[str, dict[str, str], SqlStore]) -> None:
    base, keys, store = site
    person = chromium.new_context(viewport={"width": 390, "height": 844})
    me = Watched(person.new_page(), base)
    _sign_in(me.page, base, keys["subject"])
    assert me.page.url.endswith("/me")
    text = me.page.inner_text("main")
    assert "flight" in text.lower() and "10 September 2026" in text  # why the ban applies, and when it ends
    me.check("my-file-phone")

    record = store.records("p-zhang-wei")[-1]
    box = me.page.locator("article.record", has_text=record.id)
    box.get_by_text("Dispute this record").click()
    box.get_by_label("Why is this record wrong?").fill("I performed the judgment on time.")
    box.get_by_role("button", name="Send the appeal").click()
    me.page.wait_for_load_state()
    assert "pending" in me.page.locator("article.record", has_text=record.id).inner_text()

    desk = chromium.new_context(viewport={"width": 1280, "height": 900})
    reviewer = Watched(desk.new_page(), base)
    _sign_in(reviewer.page, base, keys["reviewer"])
    reviewer.check("desk")
    reviewer.page.get_by_role("link", name="Review").first.click()
    reviewer.page.wait_for_load_state()
    assert "I performed the judgment on time." in reviewer.page.inner_text("main")
    reviewer.check("review")
    reviewer.page.get_by_label("Withdraw the record").check()
    reviewer.page.get_by_label("The reason the person will read").fill("The court confirms payment.")
    reviewer.page.get_by_role("button", name="Send the decision").click()
    reviewer.page.wait_for_load_state()

    me.page.reload()
    after = me.page.inner_text("main")
    assert "won" in after and "The court confirms payment." in after
    me.check("my-file-after-appeal-phone")
    person.close()
    desk.close()


def test_an_admin_makes_a_key_and_revokes_it(chromium: Any, site: tuple[str, dict[str, str], SqlStore]) -> None:
    base, keys, store = site
    for viewport, suffix in (({"width": 1280, "height": 900}, ""), ({"width": 390, "height": 844}, "-phone")):
        context = chromium.new_context(viewport=viewport)
        admin = Watched(context.new_page(), base)
        _sign_in(admin.page, base, keys["admin"])
        admin.page.get_by_role("link", name="API keys").click()
        admin.page.wait_for_load_state()
        assert admin.page.get_by_role("heading", level=1).inner_text() == "API keys"

        admin.page.get_by_label("Role").select_option("reviewer")
        admin.page.get_by_label("Expires").fill("P30D")
        admin.page.get_by_role("button", name="Make the key").click()
        admin.page.wait_for_load_state()
        key = admin.page.get_by_label("The new key").input_value()
        assert key.startswith("credo_reviewer_") and key not in admin.page.url
        assert "cannot show it again" in admin.page.inner_text("main")
        admin.check(f"desk-key-made{suffix}")
        made = next(found for found in store.keys_list() if found.key_hash == digest(key))

        admin.page.get_by_role("link", name="Back to the keys").click()
        admin.page.wait_for_load_state()
        assert key not in admin.page.content()
        admin.page.get_by_role("link", name=f"Revoke key {made.id}").click()
        admin.page.wait_for_load_state()
        admin.page.get_by_label("Why it is revoked").fill("made for the browser test")
        admin.check(f"desk-key-revoke{suffix}")
        admin.page.get_by_role("button", name="Revoke the key").click()
        admin.page.wait_for_load_state()
        assert f"Key {made.id} is revoked" in admin.page.inner_text("main")
        assert made.key_hash in store.revoked_keys()
        admin.check(f"desk-keys{suffix}")
        context.close()
