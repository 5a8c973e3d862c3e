"""How many records the ledger received lately, for the operator's desk.

The records table has no index on when a record was received, and the desk must not read every
record on each view. Records are appended with rising positions and each takes the writer's clock
as it is appended, so `recorded_us` rises with the position: the first record of the period is
found by a binary search over the primary key (a few dozen index look-ups), and only the records
from there on are counted. A clock set back between two writes would hide the records written
before it was set back from a period that starts after them: what the desk shows is then an
undercount, never a record counted twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from credo.storage import schema
from credo.storage.sql import SqlStore


def received_since(store: SqlStore, since_us: int, slot_us: int) -> dict[int, int]:
    """Records received at or after `since_us`, counted per slot of `slot_us` microseconds:
    {slot number (0 is the slot that starts at since_us): how many}."""
    records = schema.records
    slot = ((records.c.recorded_us - since_us) // slot_us).label("slot")
    with store.engine.connect() as connection:
        first = _first_received_since(connection, since_us)
        if first is None:
            return {}
        query = (
            select(slot, func.count())
            .where(records.c.position >= first, records.c.recorded_us >= since_us)
            .group_by(slot)
        )
        return {int(row[0]): int(row[1]) for row in connection.execute(query)}


def _first_received_since(connection: Connection, since_us: int) -> int | None:
    """A position after every record received before `since_us` and at or before the first one
    received since; None when there is no record at all."""
    records = schema.records
    low, high = connection.execute(select(func.min(records.c.position), func.max(records.c.position))).one()
    if low is None:
        return None
    high += 1  # records below `low` came before since_us; those from `high` on, since (or none)
    while low < high:
        middle = (low + high) // 2
        found = connection.execute(
            select(records.c.position, records.c.recorded_us)
            .where(records.c.position >= middle)
            .order_by(records.c.position)
            .limit(1)
        ).first()
        if found is None or found.recorded_us >= since_us:
            high = middle
        else:
            low = found.position + 1
    return int(low)
