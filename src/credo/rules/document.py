"""Read a YAML document as plain values, keeping where every key stands; refuse what a rulebook never needs.

A rulebook is data a person writes. It never needs anchors, aliases, tags or a second document,
and aliases are how 380 bytes become gigabytes (the "billion laughs"), so each is refused where it
stands, before anything is built: refusing costs nothing, and bounding an expansion would still
let a small file cost a lot. Nesting is bounded for the same reason.

The events come from libyaml through PyYAML (its C parser when built with it): linear in the
text and about ten times faster than ruamel.yaml's pure-Python round-trip loader, which held every
key's position but took seconds a megabyte. Plain scalars are resolved as YAML 1.2 resolves them,
by ruamel.yaml's resolver and constructor, so `no` and `on` stay strings as they always were here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode

from credo.errors import Problem, RulebookError, RulebookFileError
from credo.rules.hints import snippet, syntax_message

KeyPath = tuple[str | int, ...]

#: Deeper than any rulebook (a condition four levels down sits at depth 8); bounded so that a file
#: of brackets cannot cost a deep recursion in whatever reads the document next.
MAX_DEPTH = 64

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Characters YAML 1.2 does not allow in a document (its c-printable set, inverted).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass
class SourceMap:
    """Where each key path of a YAML document stands: its file and 1-based line (and column)."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    columns: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of path that the document has."""
        return self._nearest(self.lines, path)

    def column(self, path: Sequence[str | int]) -> int | None:
        """The column of the longest prefix of path that the document has."""
        return self._nearest(self.columns, path)

    @staticmethod
    def _nearest(table: dict[KeyPath, int], path: Sequence[str | int]) -> int | None:
        path = tuple(path)
        while path:
            if path in table:
                return table[path]
            path = path[:-1]
        return table.get(())

    def where(self, path: Sequence[str | int]) -> str:
        """'file:line (a.b.c)' for a key path."""
        line = self.line(path)
        place = f"{self.file}:{line}" if line is not None else self.file
        dotted = format_path(path)
        return f"{place} ({dotted})" if dotted else place

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        """A problem at a key path, its place kept as data."""
        return Problem(self.file, self.line(path), self.column(path), format_path(path), message)


def format_path(path: Sequence[str | int]) -> str:
    """a.b[0].c: the key path as a person reads it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Scalars:
    """YAML 1.2's reading of plain scalars (ruamel.yaml's resolver and constructor): 1_000, 0o17,
    .inf, true, ~ and dates as before; yes, no, on and off are strings."""

    def __init__(self) -> None:
        reader = YAML(typ="safe", pure=True)
        self.resolver = reader.resolver
        self.constructor = reader.constructor

    def plain(self, value: str) -> Any:
        tag = str(self.resolver.resolve(ScalarNode, value, (True, False)))
        if tag == "tag:yaml.org,2002:str":
            return value
        return self.constructor.construct_object(ScalarNode(tag, value))


def read_document(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text into plain dicts, lists and scalars, and a map of where each key stands."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start())
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1)
        raise RulebookFileError(  # binary, or another encoding: no YAML to point into
            [
                Problem(
                    file,
                    line + 1,
                    column + 1,
                    "",
                    f"the character U+{ord(bad.group()):04X} is not allowed in YAML: "
                    "is this a binary file, or text in another encoding than UTF-8?",
                )
            ],
            file,
        )
    source = SourceMap(file)
    try:
        document = _Builder(file, source, lines).build(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        raise RulebookError([_syntax_problem(exc, file, lines)], file) from None
    except yaml.YAMLError as exc:
        raise RulebookError([Problem(file, None, None, "", f"invalid YAML: {exc}")], file) from None
    return document, source


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str, lines: list[str]) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    # An unclosed quote or bracket is found at the end of the text: show where it was opened.
    if exc.context_mark is not None and (mark is None or mark.line >= len(lines)):
        mark = exc.context_mark
    line = mark.line if mark is not None else 0
    column = mark.column if mark is not None else 0
    text = lines[line] if line < len(lines) else ""
    above = next((lines[index] for index in range(min(line, len(lines)) - 1, -1, -1) if lines[index].strip()), "")
    message = syntax_message(exc.problem or "", exc.context or "", line + 1, text, above, column)
    return Problem(file, line + 1, column + 1, "", message)


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        self.mark = mark
        self.message = message


@dataclass
class _Open:
    """A mapping or list being built, with its key path (and for a mapping the key awaiting its value)."""

    value: dict[str, Any] | list[Any]
    path: KeyPath
    key: str | None = None
    keys: dict[str, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, file: str, source: SourceMap, lines: list[str]) -> None:
        self.file = file
        self.source = source
        self.lines = lines
        self.scalars = _Scalars()

    def build(self, events: Iterable[yaml.Event]) -> Any:
        try:
            return self._build(events)
        except _Refused as refused:
            line, column = refused.mark.line, refused.mark.column
            shown = self.lines[line] if line < len(self.lines) else ""
            message = f"{refused.message}\n{snippet(line + 1, shown, column)}"
            raise RulebookError([Problem(self.file, line + 1, column + 1, "", message)], self.file) from None

    def _build(self, events: Iterable[yaml.Event]) -> Any:
        stack: list[_Open] = []
        root: Any = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Refused(event.start_mark, "a rulebook is one YAML document; this starts a second one")
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # the stream's and the document's own start and end
            self._refuse_the_unneeded(event)
            mark = event.start_mark
            parent = stack[-1] if stack else None
            if parent is not None and isinstance(parent.value, dict) and parent.key is None:
                parent.key = self._key(event, parent)
                continue
            if parent is None:
                path: KeyPath = ()
            elif isinstance(parent.value, dict):
                assert parent.key is not None
                path = (*parent.path, parent.key)
            else:
                path = (*parent.path, len(parent.value))
                self.source.lines[path] = mark.line + 1
                self.source.columns[path] = mark.column + 1
            value: Any
            if isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event)
            else:
                value = {} if isinstance(event, yaml.MappingStartEvent) else []
                self.source.lines.setdefault(path, mark.line + 1)
                self.source.columns.setdefault(path, mark.column + 1)
                if len(stack) >= MAX_DEPTH:
                    raise _Refused(mark, f"nested more than {MAX_DEPTH} levels deep; a rulebook never needs that")
            if parent is None:
                root = value
            elif isinstance(parent.value, dict):
                assert parent.key is not None
                parent.value[parent.key] = value
                parent.key = None
            else:
                parent.value.append(value)
            if not isinstance(event, yaml.ScalarEvent):
                stack.append(_Open(value, path))
        return root

    @staticmethod
    def _refuse_the_unneeded(event: yaml.NodeEvent) -> None:
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            raise _Refused(
                event.start_mark,
                "anchors (&name) and aliases (*name) are not allowed in a rulebook: write each value out "
                "(a rulebook is read by people, and aliases let a small file expand without bound)",
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise _Refused(
                event.start_mark,
                f"YAML tags such as {tag!r} are not allowed in a rulebook: write the plain value "
                "(quote it to make it a string)",
            )

    def _key(self, event: yaml.NodeEvent, mapping: _Open) -> str:
        mark = event.start_mark
        if not isinstance(event, yaml.ScalarEvent):
            raise _Refused(mark, "a key must be a name, not a list or a mapping")
        key = str(event.value)
        if key in mapping.keys:
            raise _Refused(
                mark, f"duplicate key {key!r} (first at line {mapping.keys[key]}): give each key once in a mapping"
            )
        mapping.keys[key] = mark.line + 1
        child = (*mapping.path, key)
        self.source.lines[child] = mark.line + 1
        self.source.columns[child] = mark.column + 1
        return key

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        if event.style:  # quoted, or a literal or folded block: always a string
            return str(event.value)
        try:
            return self.scalars.plain(event.value)
        except Exception as exc:  # a date such as 2024-13-01 matches the pattern but is no date
            raise _Refused(event.start_mark, f"cannot read {event.value!r}: {exc}") from exc
