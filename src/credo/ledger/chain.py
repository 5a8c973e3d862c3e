"""The hash chain: every ledger entry hashed with the one before it (SHA-256).

hash(n) = sha256(hash(n-1) + canonical(entry n)), with 64 zeros before the first entry.
The canonical encoding is the entry's kind and fields, in a fixed order, as text joined by the
unit separator (U+001F), instants as integer microseconds since the epoch (UTC): the same
entry always encodes to the same bytes, on every store. A zero is encoded as 0.0 whatever its sign
(SQLite keeps no negative zero); entries hashed before that rule, with -0.0, still verify.

That encoding is kept for the ledger's entries (records, corrections, rulebook versions) so that
every hash ever written stays valid. The service's tables (decisions, appeals, notices, keys, ...)
chain with `exact`: each field tagged with its type and a text with its length, so no two rows,
whatever characters their texts hold, encode alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
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


def canonical(kind: str, fields: Sequence[Field], negative_zero: bool = False) -> str:
    """The entry as text: `kind` then each field, None as the empty marker \\x00."""
    parts = [kind]
    for value in fields:
        if value is None:
            parts.append("\x00")
        elif isinstance(value, bool):
            parts.append("true" if value else "false")
        elif isinstance(value, float) and value == 0:
            parts.append("-0.0" if negative_zero else "0.0")  # SQLite keeps no sign of a zero
        else:
            parts.append(str(value))
    return "\x1f".join(parts)


def _legacy_zeros(kind: str, fields: Sequence[Field]) -> str | None:
    """The encoding of an entry hashed before zeros lost their sign (-0.0), if it holds a zero."""
    if not any(isinstance(value, float) and value == 0 for value in fields):
        return None
    return canonical(kind, fields, negative_zero=True)


def exact(kind: str, fields: Sequence[Field]) -> str:
    """The service tables' encoding: each value tagged (n, t/f, i, d, s) and a text prefixed with
    its length, so that the encoding is prefix-free and exact for every value a row can hold."""
    parts = [f"s{len(kind)}:{kind}"]
    for value in fields:
        if value is None:
            parts.append("n")
        elif isinstance(value, bool):
            parts.append("t" if value else "f")
        elif isinstance(value, int):
            parts.append(f"i{value};")
        elif isinstance(value, float):
            parts.append(f"d{0.0 if value == 0 else value!r};")
        else:
            parts.append(f"s{len(value)}:{value}")
    return "".join(parts)


def link_exact(previous: str, kind: str, fields: Sequence[Field]) -> str:
    return hashlib.sha256((previous + exact(kind, fields)).encode()).hexdigest()


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
    #: How the row is named in a report (a decision's id, ...); the position alone when empty.
    label: str = ""


@dataclass(frozen=True)
class ChainReport:
    """What verify found: ok, or the first entry altered, inserted or deleted, and why."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None = None
    problem: str | None = None
    chain: str = "ledger"
    #: The position of the last entry verified (the head's); `entries` counts only those checked.
    position: int = 0


def verify_chain(
    entries: Iterable[ChainEntry],
    *,
    chain: str = "ledger",
    start: tuple[int, str] = (0, GENESIS),
    hashing: Callable[[str, str, Sequence[Field]], str] = link,
) -> ChainReport:
    """Recompute the chain over entries in position order, from `start` (a position already
    verified and its hash); name the first that does not fit."""
    previous_position, previous = start
    expected, count = previous_position + 1, 0
    prefix = "" if chain == "ledger" else f"{chain}: "

    def bad(position: int, problem: str) -> ChainReport:
        return ChainReport(False, count, previous, position, prefix + problem, chain, expected - 1)

    for entry in entries:
        if entry.position < expected:
            return bad(entry.position, f"entry {entry.position} appears twice")
        if entry.position > expected:
            return bad(expected, f"entry {expected} is missing (deleted?); the next is {entry.position}")
        if hashing(previous, entry.kind, entry.fields) != entry.hash:
            legacy = _legacy_zeros(entry.kind, entry.fields) if hashing is link else None
            if legacy is None or hashlib.sha256((previous + legacy).encode()).hexdigest() != entry.hash:
                named = f"entry {entry.position} ({entry.label or entry.kind})"
                return bad(entry.position, f"{named} does not match its hash: altered or inserted")
        previous, expected, count = entry.hash, expected + 1, count + 1
    return ChainReport(True, count, previous, chain=chain, position=expected - 1)


@dataclass(frozen=True)
class LedgerReport:
    """Every chain verified: the ledger's and each service table's, and the checkpoints' own.

    `head` digests the head of every chain (chain_head): keep it elsewhere, and
    `credo verify --head HEAD` later proves that nothing up to it was deleted.
    """

    chains: tuple[ChainReport, ...]
    checkpoints: ChainReport
    head: str
    #: What was asked of a head kept elsewhere, when it does not hold (None: fine or not asked).
    head_problem: str | None = None

    @property
    def broken(self) -> ChainReport | None:
        """The first chain that does not verify."""
        return next((chain for chain in (*self.chains, self.checkpoints) if not chain.ok), None)

    @property
    def ok(self) -> bool:
        return self.broken is None and self.head_problem is None

    @property
    def entries(self) -> int:
        return sum(chain.entries for chain in self.chains)

    @property
    def first_bad(self) -> int | None:
        return None if self.broken is None else self.broken.first_bad

    @property
    def chain(self) -> str | None:
        return None if self.broken is None else self.broken.chain

    @property
    def problem(self) -> str | None:
        return self.head_problem if self.broken is None else self.broken.problem

    def heads(self) -> dict[str, tuple[int, str]]:
        return {chain.chain: (chain.position, chain.head) for chain in self.chains}


def chain_head(heads: dict[str, tuple[int, str]]) -> str:
    """One hash for the heads of every chain: what a head kept elsewhere holds."""
    fields: list[Field] = []
    for name in sorted(heads):
        fields.extend((name, heads[name][0], heads[name][1]))
    return hashlib.sha256(exact("heads", fields).encode()).hexdigest()
