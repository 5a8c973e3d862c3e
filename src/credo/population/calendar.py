"""Calendar arithmetic in the rulebook's timezone, as a population run computes it.

DESIGN §4 adds durations and cuts calendar periods on the calendar of the rulebook's zone
(2024-01-31 + P1M is 2024-02-29 there, a year starts at local midnight on 1 January). The
engine's zone-aware arithmetic (ICU in DuckDB) does this exactly but costs about a microsecond a
value, which made it the largest single cost of a run. Where the zone keeps one UTC offset over
every instant a run computes (UTC; Asia/Shanghai since 1991; most zones without summer time),
wall-clock time is the instant plus that offset, so the same arithmetic on zone-less timestamps
is exact, and integer-cheap. A zone that changes its offset inside the run's span keeps the
engine's zone-aware arithmetic. Either way the property tests hold the answers equal to the
reference's.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir

from credo.rules.time import Duration

TIMESTAMP = "timestamp('UTC', 6)"
_UNITS = {"year": "Y", "quarter": "Q", "month": "M"}


# DuckDB's own integer-cheap functions (built in, so nothing runs in Python).
_INSTANT = dtypes.Timestamp(timezone="UTC", scale=6)
#: Microseconds since 1970 of an instant, or of a zone-less timestamp.
epoch_us: Callable[[ir.Value], ir.IntegerValue] = ibis.udf.scalar.builtin(
    lambda at: None, name="epoch_us", signature=((_INSTANT,), dtypes.int64)
)
#: The zone-less timestamp that many microseconds after 1970-01-01 00:00.
_wall: Callable[[ir.Value], ir.TimestampValue] = ibis.udf.scalar.builtin(
    lambda us: None, name="make_timestamp", signature=((dtypes.int64,), dtypes.Timestamp(scale=6))
)
#: The instant that many microseconds after the epoch.
_instant: Callable[[ir.Value], ir.TimestampValue] = ibis.udf.scalar.builtin(
    lambda us: None, name="make_timestamptz", signature=((dtypes.int64,), _INSTANT)
)


def fixed_offset(zone: str, lo: dt.datetime, hi: dt.datetime) -> dt.timedelta | None:
    """The zone's UTC offset if it is the same at every instant from lo to hi, else None.

    The transitions come from the pure-Python zoneinfo (the same tz database the reference
    reads); should its layout ever change, the answer is None and the run keeps the engine's
    zone-aware arithmetic, which is slower but equally right.
    """
    tz = ZoneInfo(zone)
    offset = lo.astimezone(tz).utcoffset()
    try:
        from zoneinfo import _zoneinfo  # type: ignore[attr-defined]

        rules = _zoneinfo.ZoneInfo.no_cache(zone)
        moments: list[int] = list(rules._trans_utc)
        after = rules._tz_after
    except (ImportError, AttributeError, ValueError):
        return None
    first, last = lo.timestamp(), hi.timestamp()
    inside = moments[bisect.bisect_right(moments, first) : bisect.bisect_right(moments, last)]
    offsets = {dt.datetime.fromtimestamp(moment, tz).utcoffset() for moment in inside}
    if not moments or last >= moments[-1]:
        # Beyond its last listed transition a zone follows its POSIX rule: a fixed offset when
        # the rule has no summer time (a plain ttinfo), else a yearly change.
        if after is not None and not isinstance(after, _zoneinfo._ttinfo):
            return None
        offsets.add(hi.astimezone(tz).utcoffset())
    offsets.add(offset)
    return offset if len(offsets) == 1 else None


#: How far from the instant the reference's calendar finds an expiry band reaches: any
#: disagreement of the engine's zone data (an hour of summer time) lies far inside it.
_MARGIN = dt.timedelta(days=2)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def expiry_band(duration: Duration, at: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime] | None:
    """(lo, hi): a record of instant x has run out its `duration` by `at` when x < lo, and has
    not when x >= hi; between them the engine works it out. None when no band is found.

    x + duration only ever moves forward with x (calendar addition clamps at a month's end, so
    it may stand still but never go back), so there is a first x whose expiry comes after `at`:
    found to the microsecond by bisection with the reference's own addition. The band spares the
    engine the calendar arithmetic for every record but the few within a few days of it.
    """

    def runs_past(us: int) -> bool:
        return duration.after(_EPOCH + dt.timedelta(microseconds=us), tz) > at

    try:
        low = (duration.before(at, tz) - dt.timedelta(days=62) - _EPOCH) // dt.timedelta(microseconds=1)
        high = (at - _EPOCH) // dt.timedelta(microseconds=1)
        if runs_past(low) or not runs_past(high):
            return None
        while high - low > 1:  # runs_past(low) is false and runs_past(high) true throughout
            middle = (low + high) // 2
            low, high = (low, middle) if runs_past(middle) else (middle, high)
        first = _EPOCH + dt.timedelta(microseconds=high)
        return first - _MARGIN, first + _MARGIN
    except OverflowError:
        return None


@dataclass(frozen=True)
class Calendar:
    """Adds durations and finds period starts on the rulebook's calendar.

    `offset` is the zone's one UTC offset over the run's span, when it has one (see the module
    docstring); without it the engine's zone-aware arithmetic is used (the session TimeZone).
    """

    offset: dt.timedelta | None = None

    def _wall(self, at: ir.TimestampValue) -> ir.TimestampValue:
        assert self.offset is not None
        return _wall(epoch_us(at) + self.offset // dt.timedelta(microseconds=1))

    def _back(self, wall: ir.TimestampValue) -> ir.TimestampValue:
        assert self.offset is not None
        return _instant(epoch_us(wall) - self.offset // dt.timedelta(microseconds=1))

    def shift(
        self,
        at: ir.TimestampValue,
        months: ir.IntegerValue,
        days: ir.IntegerValue,
        seconds: ir.IntegerValue,
        sign: int = 1,
        used: tuple[bool, bool, bool] = (True, True, True),
    ) -> ir.TimestampValue:
        """at ± a duration given as months, days and seconds (null when the duration is).

        `used` leaves out the parts no rule has; the months part is always kept, it carries the
        nulls.
        """
        shifted = at if self.offset is None else self._wall(at)
        for amount, unit, wanted in ((months, "M", True), (days, "D", used[1]), (seconds, "s", used[2])):
            if wanted:
                shifted = shifted + (amount * sign).as_interval(unit)
        return shifted if self.offset is None else self._back(shifted)

    def period_start(self, at: ir.TimestampValue, period: ir.StringValue | str) -> ir.TimestampValue:
        """The first instant of the calendar period (year, quarter or month) holding `at`."""
        wall = at if self.offset is None else self._wall(at)
        if isinstance(period, str):
            start = wall.truncate(_UNITS[period])
        else:
            start = ibis.cases(
                *((period == name, wall.truncate(unit)) for name, unit in _UNITS.items() if name != "month"),
                else_=wall.truncate("M"),
            )
        if self.offset is None:
            return start.cast(TIMESTAMP)  # DuckDB truncates a TIMESTAMPTZ to a TIMESTAMPTZ; say so to Ibis
        return self._back(start)

    def period_end(self, at: ir.TimestampValue, period: str) -> ir.TimestampValue:
        """The first instant after the calendar period holding `at`."""
        length = ibis.interval(months={"year": 12, "quarter": 3, "month": 1}[period])
        if self.offset is None:
            return self.period_start(at, period) + length
        return self._back(self._wall(at).truncate(_UNITS[period]) + length)
