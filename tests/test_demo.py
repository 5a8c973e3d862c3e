"""`credo demo`: the city is built once into its folder, reused after, and its people sign in."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credo.cli import app as cli
from credo.ledger.book import utc_now
from credo.service import create_app, create_key
from credo.service.auth import digest
from credo.storage import open_store
from tests.conftest import SCENARIOS


def test_the_city_is_built_once_and_its_listed_person_reads_why(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    args = ["demo", "--folder", str(folder), "--scenario", str(SCENARIOS / "article"), "--population", "300",
            "--build-only"]  # fmt: skip
    built = CliRunner().invoke(cli, args)
    assert built.exit_code == 0, built.output
    cast = json.loads((folder / "cast.json").read_text())
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "reusing the city" in again.output

    store = open_store(f"sqlite:///{folder / 'credo.db'}")
    try:
        assert store.verify().ok
        assert store.population_runs(), "the demo keeps a population count for the pages"
        app = create_app(store)
        client = TestClient(app, follow_redirects=False)
        key = create_key(store, "subject", utc_now(), subject=cast["listed"])
        token = app.state.sessions.one_time_link(digest(key))
        form = client.get(f"/sign-in/once/{token}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf
        assert client.post(f"/sign-in/once/{token}", data={"csrf": csrf.group(1)}).status_code == 303
        page = client.get("/me").text
        assert cast["black_list"].replace("_", " ") in page and "The way off" in page
        public = client.get("/rulebook").text
        assert "Who is affected" in public and "No population count" not in public
    finally:
        store.close()


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        answer = CliRunner().invoke(cli, ["demo", "--folder", str(tmp_path), "--port", str(port)])
    assert answer.exit_code == 2
    assert f"port {port}" in answer.output and "in use" in answer.output
