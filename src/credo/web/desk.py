"""What the operator's desk shows beyond the disputes: the population over time, the records
received per day, and the API keys, as typed values in words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from credo.ledger.chain import from_micros, micros
from credo.rules.model import Rulebook
from credo.service.keys import key_scope, key_status
from credo.storage.intake import received_since
from credo.storage.logs import StoredKey
from credo.storage.runs import PopulationRunRow
from credo.storage.sql import SqlStore
from credo.web.views import humane, when

# The population over time, from the runs kept in the store.


@dataclass(frozen=True)
class Table:
    """One table of the population over time: a row per kept run, newest first."""

    caption: str
    columns: list[str]
    rows: list[tuple[str, str, list[int]]]  # (as of, computed, a count per column)


def population_over_time(runs: list[PopulationRunRow], rulebook: Rulebook) -> list[Table]:
    """A table per programme's grades, one of the lists and one of the measures (by their detail)."""
    tz = rulebook.tz

    def dated(run: PopulationRunRow) -> tuple[str, str]:
        return when(from_micros(run.at_us), tz), when(from_micros(run.computed_us), tz)

    tables = []
    for name, program in rulebook.programs.items():
        tiers = list(reversed(program.tier_order()))
        counted = [run.summary.get("tiers", {}).get(name, {}) for run in runs]
        ungraded = any(int(found.get("None", 0)) for found in counted)
        columns = [*tiers, "None"] if ungraded else tiers
        tables.append(
            Table(
                f"Grades in {humane(name)}",
                [("no grade" if tier == "None" else tier) for tier in columns],
                [
                    (*dated(run), [int(found.get(tier, 0)) for tier in columns])
                    for run, found in zip(runs, counted, strict=True)
                ],
            )
        )
    lists = list(rulebook.lists)
    tables.append(
        Table("On each list", [humane(name) for name in lists],
              [(*dated(run), [int(run.summary.get("lists", {}).get(name, 0)) for name in lists]) for run in runs])
    )  # fmt: skip
    measures = list(rulebook.measures)
    tables.append(
        Table("Under each consequence", [rulebook.measures[name].detail or humane(name) for name in measures],
              [(*dated(run), [int(run.summary.get("measures", {}).get(name, 0)) for name in measures])
               for run in runs])
    )  # fmt: skip
    return tables


# Records received per day.

#: The desk counts the records of this many days, today included.
DAYS = 14
#: Counted in quarter hours, so that any zone's days (whole quarter hours off UTC) add up exactly.
QUARTER_US = 15 * 60 * 1_000_000


@dataclass(frozen=True)
class DayCount:
    day: str
    count: int


def received_per_day(store: SqlStore, now: dt.datetime, tz: dt.tzinfo) -> list[DayCount]:
    """Records received on each of the last DAYS days in the rulebook's zone, newest first."""
    today = now.astimezone(tz).date()
    first = today - dt.timedelta(days=DAYS - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    since_us = micros(since)
    days = dict.fromkeys((first + dt.timedelta(days=offset) for offset in range(DAYS)), 0)
    for slot, count in received_since(store, since_us, QUARTER_US).items():
        day = from_micros(since_us + slot * QUARTER_US).astimezone(tz).date()
        if day in days:
            days[day] += count
    return [DayCount(when(dt.datetime.combine(day, dt.time(), tzinfo=tz), tz), days[day]) for day in reversed(days)]


# API keys.


@dataclass(frozen=True)
class KeyLine:
    id: str
    role: str
    scope: str
    created: str
    expires: str
    revoked: str
    status: str
    yours: bool  # the key this session was opened with


def key_lines(keys: list[StoredKey], now: dt.datetime, tz: dt.tzinfo, signed_in: str) -> list[KeyLine]:
    """Every key, newest first, in words (never the key: only the start of its hash)."""

    def instant(value: int | None, otherwise: str) -> str:
        return otherwise if value is None else when(from_micros(value), tz)

    return [
        KeyLine(key.id, key.role, key_scope(key), instant(key.created_us, ""), instant(key.expires_us, "never"),
                instant(key.revoked_us, ""), key_status(key, now), key.key_hash == signed_in)
        for key in reversed(keys)
    ]  # fmt: skip


def declared(rulebook: Rulebook | None) -> tuple[list[str], list[str]]:
    """The sources and the actions the rulebook in force declares: what an agency or provider key
    may be limited to."""
    if rulebook is None:
        return [], []
    sources = set(rulebook.sources).union(*(behaviour.sources for behaviour in rulebook.behaviours.values()))
    return sorted(sources), sorted(rulebook.actions)
