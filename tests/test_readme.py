"""The README's tour is run as written: a documented command that breaks fails here."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credo.cli import app
from credo.service import create_app
from credo.storage import open_store
from tests.conftest import ROOT


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A five-minute tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    commands = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].split(">", 1)[0].strip()
        if line.startswith("credo "):
            commands.append(line)
    return commands


def test_the_tour_has_commands() -> None:
    assert len(tour_commands()) >= 5


@pytest.mark.parametrize("command", tour_commands())
def test_tour_command_runs(command: str) -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, shlex.split(command)[1:])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()


def test_every_command_is_documented() -> None:
    text = (ROOT / "README.md").read_text()
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        assert f"credo {name}" in text, name


def sh_block(heading: str) -> list[str]:
    """The first ```sh block under a README heading, one command a line (continuations joined,
    comments dropped)."""
    text = (ROOT / "README.md").read_text()
    block = text.split(heading, 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    lines = [re.split(r"\s+#\s", line, maxsplit=1)[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def walk_through() -> list[str]:
    return sh_block("## Store mode: the ledger")


class Reader:
    """A new user at a shell in one fresh folder, running the README's blocks in order as written.

    `credo` runs in process; `export` sets the environment; `VAR=$(…)` keeps an answer; `credo
    serve … &` starts the app in process, and `curl` asks it; `sqlite3` edits a file; APPEAL_ID and
    DECISION_ID are the ids the earlier answers gave.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env: dict[str, str] = {}
        self.vars: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.client: TestClient | None = None
        self.results: list[tuple[str, int, str, str]] = []  # (command, exit code, stdout, stderr)

    def run_block(self, lines: list[str]) -> None:
        for line in lines:
            for command in line.split(" && "):
                self.run(command.strip())

    def expand(self, text: str) -> str:
        text = re.sub(r"\$(\w+)", lambda found: self.vars[found.group(1)], text)
        for placeholder, value in self.ids.items():
            text = text.replace(placeholder, value)
        return text

    def run(self, command: str) -> None:
        if command.startswith("export "):
            name, value = command.removeprefix("export ").split("=", 1)
            self.env[name] = value
            return
        captured = re.fullmatch(r"(\w+)=\$\((.*)\)", command)
        if captured:
            self.vars[captured.group(1)] = self.credo(shlex.split(captured.group(2))[1:], command).strip()
            return
        words = shlex.split(self.expand(command))
        if words[0] == "sqlite3":
            database = sqlite3.connect(self.folder / words[1])
            database.execute(words[2])
            database.commit()
            database.close()
        elif words[0] == "credo" and words[1] == "serve":
            assert words[-1] == "&", command
            url = self.env.get("CREDO_STORE", "sqlite:///credo.db")
            self.client = TestClient(create_app(open_store(url, create=False)), raise_server_exceptions=False)
        elif words[0] == "curl":
            self.curl(command, words[1:])
        else:
            assert words[0] == "credo", command
            self.credo(words[1:], command)

    def credo(self, args: list[str], command: str = "") -> str:
        result = CliRunner().invoke(app, args, env=self.env)
        self.results.append((command or " ".join(args), result.exit_code, result.stdout, result.stderr))
        return result.stdout

    def curl(self, command: str, words: list[str]) -> None:
        assert self.client is not None, "curl before credo serve"
        method, headers, body, url = "GET", {}, None, ""
        items = iter(words)
        for word in items:
            if word == "-X":
                method = next(items)
            elif word == "-H":
                name, value = next(items).split(":", 1)
                headers[name.strip()] = value.strip()
            elif word == "-d":
                body = next(items)
                method = "POST" if method == "GET" else method
            elif not word.startswith("-"):
                url = word
        path = "/" + url.split("/", 1)[1]
        response = self.client.request(method, path, headers=headers, content=body)
        answer = response.json()
        self.results.append((command, response.status_code, response.text, ""))
        if path == "/v1/decisions":
            self.ids["DECISION_ID"] = answer["decision_id"]
        elif path == "/v1/me/appeals":
            self.ids["APPEAL_ID"] = answer["id"]


def test_the_readme_runs_in_order_in_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    reader = Reader(tmp_path)
    reader.run_block(tour_commands())
    tour = len(reader.results)
    assert [code for _, code, _, _ in reader.results] == [0] * tour

    reader.run_block(walk_through())
    store = reader.results[tour:]
    assert [code for _, code, _, _ in store] == [0] * (len(store) - 1) + [1]
    outputs = [out for _, _, out, _ in store]
    assert json.loads(outputs[3])["duplicates"] == 106
    assert json.loads(outputs[5])["decision"] == "deny"
    assert "ALLOW" in outputs[7]
    assert "entry 30 (record)" in store[-1][3]

    reader.run_block(sh_block("## The service (HTTP API)"))
    service = reader.results[tour + len(store) :]
    failed = [(command, code, out + err) for command, code, out, err in service if code not in (0, 200)]
    assert not failed, failed
    answers = {command: out for command, _, out, _ in service}
    decision = json.loads(next(out for command, out in answers.items() if "/v1/decisions" in command))
    assert decision["decision"] == "deny" and decision["known"] is True
    resolved = json.loads(next(out for command, out in answers.items() if "/resolve" in command))
    assert resolved["status"] == "reverse"
    assert "replays the same" in service[-1][2]


def _commands(group: Any = None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every command and sub-command by its path (Typer vendors its own click: read it by shape)."""
    group = typer.main.get_command(app) if group is None else group
    found: dict[tuple[str, ...], Any] = {}
    for name, command in sorted(group.commands.items()):
        found[(*prefix, name)] = command
        if hasattr(command, "commands"):
            found.update(_commands(command, (*prefix, name)))
    return found


def every_command() -> list[tuple[str, ...]]:
    return list(_commands())


@pytest.mark.parametrize("path", every_command(), ids=" ".join)
def test_every_sub_command_has_help_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout, result.stderr
    command = _commands()[path]
    assert (command.help or "").strip(), f"credo {' '.join(path)} has no help text"
    assert f"credo {' '.join(path)}" in (ROOT / "README.md").read_text(), f"credo {' '.join(path)} is not in the README"
