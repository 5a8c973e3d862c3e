"""Population runs kept in the store: what a run found, when, over which ledger position."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from credo.storage import schema


@dataclass(frozen=True)
class PopulationRunRow:
    id: str
    computed_us: int
    at_us: int
    ledger_position: int
    summary: dict[str, Any]  # the run's summary.json: subjects, records, tiers, lists, measures


class PopulationRuns:
    """Mixed into SqlStore."""

    def _connect(self, write: bool = False) -> AbstractContextManager[Connection]:  # provided by SqlStore
        raise NotImplementedError

    def add_population_run(self, run: PopulationRunRow) -> None:
        with self._connect(write=True) as connection:
            connection.execute(
                schema.population_runs.insert(),
                {"id": run.id, "computed_us": run.computed_us, "at_us": run.at_us,
                 "ledger_position": run.ledger_position, "summary": json.dumps(run.summary)},
            )  # fmt: skip

    def population_runs(self, limit: int = 50) -> list[PopulationRunRow]:
        """The newest runs first."""
        table = schema.population_runs
        query = select(table).order_by(table.c.computed_us.desc(), table.c.id).limit(limit)
        with self._connect() as connection:
            return [
                PopulationRunRow(row.id, row.computed_us, row.at_us, row.ledger_position, json.loads(row.summary))
                for row in connection.execute(query)
            ]
