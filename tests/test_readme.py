"""The README's tour is run as written: a documented command that breaks fails here."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credo.cli import app
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


def walk_through() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Store mode: the ledger", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_store_walk_through_runs_as_written(tmp_path: Path) -> None:
    env = {"CREDO_STORE": f"sqlite:///{tmp_path / 'credo.db'}"}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        outputs = []
        for line in walk_through():
            words = shlex.split(line)
            if words[0] == "sqlite3":
                database = sqlite3.connect(tmp_path / "credo.db")
                database.execute(words[2])
                database.commit()
                continue
            outputs.append(CliRunner().invoke(app, words[1:], env=env))
    finally:
        os.chdir(cwd)
    assert [result.exit_code for result in outputs] == [0] * (len(outputs) - 1) + [1]
    assert json.loads(outputs[3].stdout)["duplicates"] == 106
    assert json.loads(outputs[5].stdout)["decision"] == "deny"
    assert "ALLOW" in outputs[7].stdout
    assert "entry 30 (record)" in outputs[-1].stderr
