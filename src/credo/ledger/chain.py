"""The hash chain: every ledger entry hashed with the one before it (SHA-256).

hash(n) = sha256(hash(n-1) + canonical(entry n)), with 64 zeros before the first entry.
The canonical encoding is the entry's kind and fields, in a fixed order, as text joined by the
unit separator (U+001F), instants as integer microseconds since the epoch (UTC): the same
entry always encodes to the same bytes, on every store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Field = str | int | float | bool | None


def micros(instant: dt.datetime) -> int:
    """An aware instant as integer microseconds since the epoch (UTC)."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def canonical(kind: str, fields: Sequence[Field]) -> str:
    """The entry as text: `kind` then each field, None as the empty marker \\x00."""
    parts = [kind]
    for value in fields:
        if value is None:
            parts.append("\x00")
        elif isinstance(value, bool):
            parts.append("true" if value else "false")
        else:
            parts.append(str(value))
    return "\x1f".join(parts)


def link(previous: str, kind: str, fields: Sequence[Field]) -> str:
    """The hash of an entry chained to the previous entry's hash."""
    return hashlib.sha256((previous + canonical(kind, fields)).encode()).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    """An entry as a store reads it back: its position, kind, fields and the hash it claims."""

    position: int
    kind: str
    fields: tuple[Field, ...]
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """What verify found: ok, or the first entry altered, inserted or deleted, and why."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None = None
    problem: str | None = None


def verify_chain(entries: Iterable[ChainEntry]) -> ChainReport:
    """Recompute the chain over entries in position order; name the first that does not fit."""
    previous, expected, count = GENESIS, 1, 0
    for entry in entries:
        if entry.position < expected:
            return ChainReport(False, count, previous, entry.position, f"entry {entry.position} appears twice")
        if entry.position > expected:
            return ChainReport(
                False,
                count,
                previous,
                expected,
                f"entry {expected} is missing (deleted?); the next is {entry.position}",
            )
        recomputed = link(previous, entry.kind, entry.fields)
        if recomputed != entry.hash:
            return ChainReport(
                False,
                count,
                previous,
                entry.position,
                f"entry {entry.position} ({entry.kind}) does not match its hash: altered or inserted",
            )
        previous, expected, count = entry.hash, expected + 1, count + 1
    return ChainReport(True, count, previous)
