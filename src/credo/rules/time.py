"""Durations, instants and calendar periods, as the rulebook means them.

Durations are ISO 8601 (parsed by isodate) and added with calendar arithmetic
(dateutil's relativedelta), so 2024-02-29 + P1Y is 2025-02-28. A date alone means
00:00 of that day in the rulebook's timezone; so does a date-time written without an offset.

Every instant credo accepts lies from EARLIEST to LATEST (1900-01-01 to 2200-01-01 UTC) and every
duration is at most MAX_DURATION (200 years), so that any instant plus or minus a few durations,
and the end of its calendar period, still exists (Python's datetime ends with the year 9999).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
from dateutil.relativedelta import relativedelta

from credo.errors import InstantError

Period = Literal["year", "quarter", "month"]

#: The instant before every record: programs without `enrol_on` hold from here.
BEGINNING = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
#: The range of the instants credo accepts (records, versions, --at, --known-at, decisions).
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
MAX_DURATION = relativedelta(years=200)
_RANGE = "from 1900-01-01 to 2200-01-01 UTC"
_PIVOT = dt.datetime(2000, 1, 1)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration such as P2Y, kept with the text it was written as."""

    text: str
    delta: relativedelta = field(compare=False)  # the text decides it; hashing it would cost each lookup

    def __str__(self) -> str:
        return self.text

    def after(self, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
        """Return instant + this duration, with the calendar of zone tz (the rulebook's): the same
        instant gives the same answer whatever offset it was written with."""
        return _add(instant.astimezone(tz), self.delta)

    def before(self, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
        """Return instant - this duration, with the calendar of zone tz."""
        return _add(instant.astimezone(tz), -self.delta)


def _add(instant: dt.datetime, delta: relativedelta) -> dt.datetime:
    try:
        return instant + delta
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC) if delta.years >= 0 else BEGINNING


@lru_cache(maxsize=256)
def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration; raise ValueError with a hint when it is not one."""
    hint = f"Expected an ISO 8601 duration such as P2Y, P6M or P30D; got {text!r}"
    if not isinstance(text, str) or not text.startswith("P"):
        raise ValueError(hint)
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, OverflowError) as exc:
        raise ValueError(hint) from exc
    if isinstance(parsed, isodate.Duration):
        years, months, rest = int(parsed.years), int(parsed.months), parsed.tdelta
    else:
        years, months, rest = 0, 0, parsed
    delta = relativedelta(years=years, months=months, days=rest.days, seconds=rest.seconds)
    if years < 0 or months < 0 or rest.total_seconds() < 0 or not (years or months or rest) or rest.microseconds:
        raise ValueError(f"Expected a positive ISO 8601 duration such as P2Y; got {text!r}")
    try:
        too_long = _PIVOT + delta > _PIVOT + MAX_DURATION
    except (OverflowError, ValueError):
        too_long = True
    if too_long:
        raise ValueError(f"Expected a duration of at most P200Y; got {text!r}")
    return Duration(text, delta)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """Return the IANA timezone called name; ValueError names it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Expected an IANA timezone such as Asia/Shanghai or UTC; got {name!r}") from exc


def parse_instant(value: object, tz: dt.tzinfo) -> dt.datetime:
    """Read an instant: a date means its midnight in tz, a naive date-time is read in tz."""
    if isinstance(value, str):
        return _parse_text(value, tz)
    return _parse(value, tz)


@lru_cache(maxsize=1 << 14)
def _parse_text(value: str, tz: dt.tzinfo) -> dt.datetime:
    # Ledgers repeat the same dates many times over: parse each text once. 16,384 texts (44 years
    # of dates, about 4 MB once full): a server parses instants to the second for as long as it
    # runs, and a larger cache is only more memory held.
    return _parse(value, tz)


def _parse(value: object, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        instant = value
    elif isinstance(value, dt.date):
        instant = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                instant = dt.datetime(day.year, day.month, day.day)
            else:
                instant = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise InstantError(
                f"Expected an ISO 8601 date or instant such as 2024-05-01 or 2024-05-01T09:30:00+08:00; got {value!r}"
            ) from exc
    else:
        raise InstantError(f"Expected an ISO 8601 date or instant; got {value!r}")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=tz)
    # Aware datetimes compare without converting, so an instant near year 1 or 9999 in any zone
    # is refused here rather than overflowing later.
    if not EARLIEST <= instant <= LATEST:
        raise InstantError(f"Expected an instant {_RANGE}; got {value!r}")
    return instant


def period_start(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> dt.datetime:
    """Return the first instant of the calendar period (in tz) that holds instant."""
    local = instant.astimezone(tz)
    month = {"year": 1, "quarter": 3 * ((local.month - 1) // 3) + 1, "month": local.month}[period]
    return dt.datetime(local.year, month, 1, tzinfo=tz)


def period_end(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> dt.datetime:
    """Return the first instant of the next calendar period (in tz) after the one holding instant."""
    start = period_start(instant, period, tz)
    step = {"year": relativedelta(years=1), "quarter": relativedelta(months=3), "month": relativedelta(months=1)}
    return start + step[period]


def period_key(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> tuple[int, int]:
    """Return a hashable name of the calendar period holding instant."""
    start = period_start(instant, period, tz)
    return (start.year, start.month)


def utc(instant: dt.datetime) -> dt.datetime:
    """The same instant in UTC, where instants compare and hash fastest and no wall time is ambiguous."""
    return instant if instant.tzinfo is dt.UTC else instant.astimezone(dt.UTC)


# The calendar ends of rule 3, kept per (duration, instant): a subject's records are
# evaluated again on every cold question, and the calendar arithmetic (dateutil) is the dearest
# part of it. Keyed by the instant in UTC, so that two wall times an hour apart at a DST fold stay
# two keys. Values are in UTC too. Keyed by the duration's text, not the Duration: a str keeps its
# hash, where a dataclass's is worked out in Python on every lookup (a third of a lookup's cost).
_ENDS = 1 << 14  # three caches (ends after, ends before, rendered instants) of 16,384: about 12 MB once full


@lru_cache(maxsize=_ENDS)
def _after_utc(duration: str, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return utc(parse_duration(duration).after(instant, tz))


@lru_cache(maxsize=_ENDS)
def _before_utc(duration: str, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return utc(parse_duration(duration).before(instant, tz))


class _Periods:
    """The calendar periods of one kind in one zone, from before EARLIEST to after LATEST: each
    one's first instant (UTC) and its name. A cache keyed by each record's instant filled with
    every new record (600 a minute in the soak) for half an hour before it was full; these are
    some 3,600 instants per kind and zone, made once. A zone's offset is less than a period, so
    the period holding an instant is the one its UTC date names or a neighbour of it."""

    def __init__(self, period: Period, tz: dt.tzinfo) -> None:
        self.step = {"year": 12, "quarter": 3, "month": 1}[period]
        self.first = EARLIEST.year - 1
        names = [(year, month) for year in range(self.first, LATEST.year + 2) for month in range(1, 13, self.step)]
        self.starts = [utc(dt.datetime(year, month, 1, tzinfo=tz)) for year, month in names]
        self.names = names
        # A period's first instant is the midnight of its first day, read with the zone's earlier
        # offset where that midnight is skipped or repeated. Should a zone's rules ever make an
        # instant's local date disagree with that (none known), answers are worked out per instant.
        self.regular = all(
            period_key(start, period, tz) == name and period_key(start - _TICK, period, tz) == names[index - 1]
            for index, (start, name) in enumerate(zip(self.starts, names, strict=True))
            if index > 0
        )

    def index(self, instant: dt.datetime) -> int | None:
        """Which period holds the UTC instant; None outside the range or in an irregular zone."""
        index = (instant.year - self.first) * (12 // self.step) + (instant.month - 1) // self.step
        starts = self.starts
        if not (self.regular and 0 < index < len(starts) - 2):
            return None
        if instant < starts[index]:
            return index - 1
        return index + 1 if instant >= starts[index + 1] else index


_TICK = dt.timedelta(microseconds=1)


@lru_cache(maxsize=64)
def _periods(period: Period, tz: dt.tzinfo) -> _Periods:
    return _Periods(period, tz)


def period_end_utc(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> dt.datetime:
    """period_end(instant, period, tz) as a UTC instant."""
    instant = instant if instant.tzinfo is dt.UTC else instant.astimezone(dt.UTC)
    periods = _periods(period, tz)
    index = periods.index(instant)
    return utc(period_end(instant, period, tz)) if index is None else periods.starts[index + 1]


def period_key_once(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> tuple[int, int]:
    """period_key(instant, period, tz), from the periods' first instants, once per instant."""
    return _period_key_utc(instant if instant.tzinfo is dt.UTC else instant.astimezone(dt.UTC), period, tz)


# 2,048 instants, where the ends above keep 16,384: a subject's records are met again on its next
# cold question (what this saves, 4% of a 20-record decision), but the keys are the instants of
# records under a capped rule only, so a larger cache filled slowly: in the soak it held 4,435
# instants after five minutes and was still filling at fifteen, growing the server's memory
# after its first window (a probe read the caches' sizes every 15 s). This one is full in two.
@lru_cache(maxsize=1 << 11)
def _period_key_utc(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> tuple[int, int]:
    periods = _periods(period, tz)
    index = periods.index(instant)
    return period_key(instant, period, tz) if index is None else periods.names[index]


# after_utc, before_utc and period_key_once write utc()'s test out: they run once per record on
# every cold question, and the call to utc() was an eighth of their cost.
def after_utc(duration: Duration, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """duration.after(instant, tz) as a UTC instant, computed once per instant."""
    return _after_utc(duration.text, instant if instant.tzinfo is dt.UTC else instant.astimezone(dt.UTC), tz)


def before_utc(duration: Duration, instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """duration.before(instant, tz) as a UTC instant, computed once per instant."""
    return _before_utc(duration.text, instant if instant.tzinfo is dt.UTC else instant.astimezone(dt.UTC), tz)


def iso(instant: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    """Render an instant in the rulebook's zone; None and the beginning of time render as None."""
    if instant is None or instant <= BEGINNING:
        return None
    return _iso(utc(instant), tz)


@lru_cache(maxsize=_ENDS)
def _iso(instant: dt.datetime, tz: dt.tzinfo) -> str:
    # The same records' instants are rendered in every reason and on every page view.
    return instant.astimezone(tz).isoformat()
