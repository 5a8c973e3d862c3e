"""A contract violation in a person's words: one problem per place, with the keys allowed there.

pydantic reports a value that fits no member of a union once per member ("should be a valid
integer", "should be a valid number", ...) under locations that name the members; here each
place in the document gets one problem, its location mapped back onto the document's keys. An
unknown key names the keys allowed in that mapping and the nearest of them, and says so once:
the same typo further down refers back to the first.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from credo.errors import Problem
from credo.rules.document import KeyPath, SourceMap

_NOUNS = {
    "Rulebook": "the rulebook",
    "Source": "a source",
    "Behaviour": "a behaviour",
    "Cap": "a cap",
    "PointsRule": "a points rule",
    "Program": "a program",
    "ListCondition": "a list condition",
    "ProgramCondition": "a program condition",
    "AllCondition": "an all condition",
    "AnyCondition": "an any condition",
    "NotCondition": "a not condition",
    "ListDef": "a list",
    "Action": "an action",
    "Measure": "a measure",
    "Appeals": "appeals",
}


def resolve_path(document: Any, loc: Sequence[str | int], names_a_key: bool = False) -> KeyPath:
    """Map a pydantic error location onto the document, dropping the union members it names.

    names_a_key: the last part is a key (missing or unknown) rather than a member's name.
    """
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
        elif names_a_key and not remaining and isinstance(part, str) and not isinstance(node, list):
            resolved.append(part)
    return tuple(resolved)


def _bare(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _fit(annotation: Any, node: Any) -> Any:
    """The member of a union (if it is one) that a document node is meant to be."""
    annotation = _bare(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return annotation
    members = [_fit(member, node) for member in get_args(annotation) if member is not type(None)]
    if isinstance(node, dict):
        models = [member for member in members if _is_model(member)]
        if models:
            return max(models, key=lambda model: len(set(_keys(model)) & set(node)))
    if isinstance(node, list):
        lists = [member for member in members if get_origin(member) is list]
        if lists:
            return lists[0]
    return members[0] if members else annotation


def model_at(root: type[BaseModel], document: Any, path: KeyPath) -> type[BaseModel] | None:
    """The model of the mapping at a key path of the document (None if the path leaves the contract)."""
    annotation: Any = root
    node = document
    for part in path:
        annotation = _fit(annotation, node)
        if _is_model(annotation):
            fields = {info.alias or name: info for name, info in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    annotation = _fit(annotation, node)
    return annotation if _is_model(annotation) else None


def _noun(model: type[BaseModel]) -> str:
    return _NOUNS.get(model.__name__) or re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()


def validation_problems(
    exc: ValidationError, document: Any, source: SourceMap, root: type[BaseModel] | None = None
) -> list[Problem]:
    """One problem per place: what was expected there and what was found."""
    problems: list[Problem] = []
    seen: set[KeyPath] = set()
    explained: dict[tuple[str, str], int | None] = {}  # (model, key) -> the line that explained it
    for error in exc.errors():
        kind = error["type"]
        path = resolve_path(document, error["loc"], names_a_key=kind in {"extra_forbidden", "missing"})
        if path in seen:
            continue  # another member of the same union: the first says it
        seen.add(path)
        message = error["msg"].removeprefix("Value error, ")
        if kind in {"extra_forbidden", "missing"} and path:
            key = str(path[-1])
            model = model_at(root, document, path[:-1]) if root is not None else None
            message = _key_message(kind, key, model, source, path, explained)
        elif kind != "value_error" and "input" in error:
            message = f"{message}; got {error['input']!r}"
        problems.append(source.problem(path, message))
    return problems


def _key_message(
    kind: str,
    key: str,
    model: type[BaseModel] | None,
    source: SourceMap,
    path: KeyPath,
    explained: dict[tuple[str, str], int | None],
) -> str:
    if kind == "missing":
        return f"missing required key {key!r}" + (f" in {_noun(model)}" if model is not None else "")
    if model is None:
        return f"unknown key {key!r}; check its spelling against the rulebook reference"
    allowed = _keys(model)
    nearest = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    guess = f"; did you mean {nearest[0]!r}?" if nearest else ""
    first = (model.__name__, key)
    if first in explained:
        line = explained[first]
        return f"unknown key {key!r}{guess}" + (f" (as at line {line})" if line is not None else "")
    explained[first] = source.line(path)
    return f"unknown key {key!r} in {_noun(model)}{guess} (allowed here: {', '.join(allowed)})"


def describe_validation_error(
    exc: ValidationError, document: Any, source: SourceMap, root: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem: file:line (key.path): what was expected, what was found."""
    return [str(problem) for problem in validation_problems(exc, document, source, root)]
