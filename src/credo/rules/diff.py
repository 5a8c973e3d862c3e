"""What changed between two rulebooks, in the rulebook's own terms.

A change names the part of the rulebook (a behaviour, a program, the points of one behaviour in one
program, a list, an action, a measure, a source, a setting) and, when it was changed rather than
added or removed, each field that differs with its value before and after. The CLI (`credo
rulebook diff`), the simulator's compare.html and the web use the same changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from credo.rules.model import Rulebook

Part = Literal["setting", "source", "behaviour", "program", "points", "list", "action", "measure"]
Kind = Literal["added", "removed", "changed"]

#: The order changes are listed in: what is recorded, how it scores, what follows from it.
PARTS: tuple[Part, ...] = ("setting", "source", "behaviour", "program", "points", "list", "action", "measure")
_SECTIONS: dict[str, Part] = {"sources": "source", "behaviours": "behaviour", "lists": "list", "actions": "action",
                              "measures": "measure"}  # fmt: skip
_SETTINGS = ("timezone", "appeals", "description", "reference")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its key path inside the part, and its values (None: absent)."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RuleChange:
    part: Part
    name: str  # "citizen" for a program, "citizen.fraud" for the points of fraud in citizen
    kind: Kind
    fields: tuple[FieldChange, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"part": self.part, "name": self.name, "change": self.kind,
                "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in self.fields]}  # fmt: skip

    def sentence(self) -> str:
        """The change in words: 'points citizen.fraud changed: points -50 → -80'."""
        head = f"{self.part} {self.name} {self.kind}"
        if not self.fields:
            return head
        return head + ": " + "; ".join(f"{f.path} {_show(f.before)} → {_show(f.after)}" for f in self.fields)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_show(item)}" for key, item in value.items()) + "}"
    return str(value)


def _fields(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """The leaves that differ between two dumped values, by key path (lists compared whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in [*before, *(key for key in after if key not in before)]:
            changes += _fields(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return changes
    return [] if before == after else [FieldChange(path, before, after)]


def _dump(rulebook: Rulebook) -> dict[str, Any]:
    dumped: dict[str, Any] = rulebook.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _compare(part: Part, before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[RuleChange]:
    changes = []
    for name in [*before, *(name for name in after if name not in before)]:
        if name not in after:
            changes.append(RuleChange(part, prefix + name, "removed"))
        elif name not in before:
            changes.append(RuleChange(part, prefix + name, "added"))
        elif fields := _fields(before[name], after[name]):
            changes.append(RuleChange(part, prefix + name, "changed", tuple(fields)))
    return changes


def diff(a: Rulebook, b: Rulebook) -> list[RuleChange]:
    """Every rule that differs from rulebook a to rulebook b, part by part (name and version aside)."""
    old, new = _dump(a), _dump(b)
    changes = _compare("setting", {key: old[key] for key in _SETTINGS if key in old},
                       {key: new[key] for key in _SETTINGS if key in new})  # fmt: skip
    for section, part in _SECTIONS.items():
        changes += _compare(part, old.get(section, {}), new.get(section, {}))
    programs_a, programs_b = old.get("programs", {}), new.get("programs", {})
    bare_a = {name: {k: v for k, v in p.items() if k != "points"} for name, p in programs_a.items()}
    bare_b = {name: {k: v for k, v in p.items() if k != "points"} for name, p in programs_b.items()}
    changes += _compare("program", bare_a, bare_b)
    for program in [*programs_a, *(name for name in programs_b if name not in programs_a)]:
        if program in programs_a and program in programs_b:  # an added or removed program says it all
            changes += _compare("points", programs_a[program].get("points", {}),
                                programs_b[program].get("points", {}), f"{program}.")  # fmt: skip
    return sorted(changes, key=lambda change: PARTS.index(change.part))
