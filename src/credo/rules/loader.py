"""Read a rulebook from YAML, keeping the line of every key so each error can name it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from credo.errors import RulebookError
from credo.rules.model import Rulebook

KeyPath = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each key path of a YAML document stands: its file and 1-based line."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of path that the document has."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, path: Sequence[str | int]) -> str:
        """'file:line (a.b.c)' for a key path."""
        line = self.line(path)
        place = f"{self.file}:{line}" if line is not None else self.file
        dotted = format_path(path)
        return f"{place} ({dotted})" if dotted else place


def format_path(path: Sequence[str | int]) -> str:
    """a.b[0].c: the key path as a person reads it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML into plain Python values and a map of where each key stands."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else "?"
        problem = exc.problem or exc.context or "invalid YAML"
        raise RulebookError([f"{file}:{line}: {problem}"], file) from exc
    except YAMLError as exc:
        raise RulebookError([f"{file}: invalid YAML: {exc}"], file) from exc
    source = SourceMap(file)
    return _plain(document, (), source), source


def _plain(node: Any, path: KeyPath, source: SourceMap) -> Any:
    if isinstance(node, CommentedMap):
        source.lines.setdefault(path, node.lc.line + 1)
        result = {}
        for key in node:
            line, _col = node.lc.key(key)
            child = (*path, str(key))
            source.lines[child] = line + 1
            result[str(key)] = _plain(node[key], child, source)
        return result
    if isinstance(node, CommentedSeq):
        source.lines.setdefault(path, node.lc.line + 1)
        items = []
        for index, item in enumerate(node):
            child = (*path, index)
            source.lines[child] = node.lc.item(index)[0] + 1
            items.append(_plain(item, child, source))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime):
        return dt.datetime(*node.timetuple()[:6], node.microsecond, tzinfo=node.tzinfo)
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    return node


def resolve_path(document: Any, loc: Sequence[str | int]) -> KeyPath:
    """Map a pydantic error location onto the document, dropping union tags it inserted."""
    resolved: list[str | int] = []
    node = document
    remaining = list(loc)
    while remaining:
        part = remaining.pop(0)
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            value = node[part]
            if remaining and not isinstance(value, dict | list):
                continue  # a discriminator tag that happens to be a key name
            resolved.append(part)
            node = value
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            resolved.append(part)
            node = node[part]
        elif not remaining and isinstance(part, str) and not isinstance(node, list):
            resolved.append(part)  # a missing or extra key: name it
    return tuple(resolved)


def describe_validation_error(exc: ValidationError, document: Any, source: SourceMap) -> list[str]:
    """One line per problem: file:line (key.path): what was expected, what was found."""
    problems = []
    for error in exc.errors():
        path = resolve_path(document, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        kind = error["type"]
        if kind == "extra_forbidden":
            message = f"unknown key {str(path[-1])!r}; check its spelling against the rulebook reference"
        elif kind == "missing":
            message = f"missing required key {str(path[-1])!r}"
        elif kind != "value_error" and "input" in error:
            message = f"{message}; got {error['input']!r}"
        problems.append(f"{source.where(path)}: {message}")
    return problems


def parse_rulebook(text: str, file: str = "<rulebook>") -> tuple[Rulebook, SourceMap]:
    """Validate a rulebook's text against the contract (without lint)."""
    document, source = read_yaml(text, file)
    if not isinstance(document, dict):
        raise RulebookError([f"{file}:1: Expected a mapping with keys rulebook, version, behaviours, ..."], file)
    try:
        rulebook = Rulebook.model_validate(document)
    except ValidationError as exc:
        raise RulebookError(describe_validation_error(exc, document, source), file) from exc
    return rulebook, source


def read_rulebook(path: str | Path) -> tuple[Rulebook, SourceMap]:
    """Read and validate a rulebook file (without lint)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulebookError([f"{path}: cannot read the rulebook: {exc.strerror or exc}"], str(path)) from exc
    return parse_rulebook(text, str(path))
