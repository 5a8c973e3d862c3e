"""One run of the population definition: the records, the rulebook versions and the instant.

Scores, lists and measures all read the same per-program entries, enrolments and scores; a run
builds each once and, on DuckDB, materialises it as a temporary table so that later expressions
read it instead of recomputing it. On Spark the expressions stay one lazy plan: caching views of
views there made local-mode plans crawl, and Spark reuses shuffle output across a plan itself.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from credo.rules.model import Rulebook

_names = itertools.count()


@dataclass
class PopulationRun:
    """What every expression of one run shares.

    `versions` are (effective, rulebook) pairs, oldest first (DESIGN §4 rule 8): a record's points
    are those of the version in force at its `at`. File mode has one version, effective always
    (None). `rulebook` is the version in force at `at`: its tiers, lists and measures apply.
    """

    rulebook: Rulebook
    records: ir.Table
    at: dt.datetime
    connection: Any = None
    versions: Sequence[tuple[dt.datetime | None, Rulebook]] = ()
    _memo: dict[tuple[str, str], ir.Table] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The engine compares instants in UTC; its calendar is the rulebook's (session timezone).
        self.at = self.at.astimezone(dt.UTC)
        if not self.versions:
            self.versions = [(None, self.rulebook)]

    def keep(self, kind: str, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """The table built once per run, materialised on DuckDB."""
        key = (kind, name)
        if key not in self._memo:
            table = build()
            if self.connection is not None:
                name = f"credo_{kind}_{next(_names)}"
                if self.connection.name != "pyspark":  # Spark plans the whole expression itself
                    table = self.connection.create_table(name, table, temp=True)
            self._memo[key] = table
        return self._memo[key]
