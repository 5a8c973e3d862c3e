"""The calendar periods found by bisection (credo.rules.time) answer as the definition does:
period_key and period_end work out each instant's local date in the rulebook's zone."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo.rules.time import (
    EARLIEST,
    LATEST,
    Period,
    period_end,
    period_end_utc,
    period_key,
    period_key_once,
    utc,
    zone,
)

# Zones whose offsets change at or across local midnight (Sao Paulo, Havana, Tehran), by half an
# hour (Lord Howe), by odd minutes (Kathmandu), by a whole day (Apia), and with local mean time
# before 1900 (Shanghai).
ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "America/Sao_Paulo", "America/Havana", "Asia/Tehran",
         "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia", "Europe/London", "Africa/Casablanca"]  # fmt: skip
PERIODS: list[Period] = ["year", "quarter", "month"]


def agrees(instant: dt.datetime, period: Period, tz: dt.tzinfo) -> None:
    assert period_key_once(instant, period, tz) == period_key(instant, period, tz), (instant, period, tz)
    assert period_end_utc(instant, period, tz) == utc(period_end(instant, period, tz)), (instant, period, tz)


@pytest.mark.parametrize("name", ZONES)
def test_every_period_boundary_from_1900_to_2200(name: str) -> None:
    tz = zone(name)
    for period in PERIODS:
        step = {"year": 12, "quarter": 3, "month": 1}[period]
        for year in range(EARLIEST.year, LATEST.year):
            for month in range(1, 13, step):
                start = dt.datetime(year, month, 1, tzinfo=tz)
                for shift in (dt.timedelta(0), dt.timedelta(microseconds=-1), dt.timedelta(hours=1),
                              dt.timedelta(hours=-1), dt.timedelta(days=1)):  # fmt: skip
                    agrees(start + shift, period, tz)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None) - dt.timedelta(days=1)),
    st.sampled_from(ZONES),
    st.sampled_from(PERIODS),
)
def test_any_instant(naive: dt.datetime, name: str, period: Period) -> None:
    agrees(naive.replace(tzinfo=dt.UTC), period, zone(name))
