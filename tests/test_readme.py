"""The README's tour is run as written: a documented command that breaks fails here."""

from __future__ import annotations

import os
import re
import shlex

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
