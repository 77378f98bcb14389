"""Backfill: a building's stored results recomputed for whole local days (``greenwire carbon backfill``).

For each local day: its 1m, 1h and 1d results (measurement ``carbon``) and its account
(``carbon_daily``), from one read of the day's readings; then each month touched, re-summed from
its stored days; then the year's account as it stands at the end of the range (or now). Writes
overwrite the same series and times, so a backfill can be repeated, or resumed after a failure,
safely. It is a finite batch over one blocking client, run from a command, so it is plain
sequential code: there is nothing to run concurrently and no loop to stop.

``plan`` is pure (which days and months); ``backfill_building`` reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.carbon import facts
from greenwire.cloud.carbon.budget import year_start_of
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.fetch import (
    account_from_influx,
    carbon_account_from_influx,
    fetch_readings,
    fetch_stored_days,
)
from greenwire.cloud.carbon.results import day_lines, local_midnight, month_lines
from greenwire.cloud.sites import Building


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    """The local days and months of one building to recompute, and when its year account stands."""

    site: str
    building: Building
    days: tuple[tuple[datetime, datetime], ...]
    """Each local day as [midnight, next midnight) in UTC (23 or 25 hours on a clock change)."""
    months: tuple[datetime, ...]
    """The local months those days touch (their first midnight, in UTC)."""
    as_of: datetime
    """The time the year's account is computed for: the end of the range, at most now."""


def plan(site: str, building: Building, start: datetime, end: datetime, now: datetime) -> BuildingPlan:
    """The whole local days from the one containing ``start`` to the one containing ``end`` (exclusive). Pure."""
    tz = building.timezone
    first, last = local_midnight(start, tz), local_midnight(end, tz)
    days: list[tuple[datetime, datetime]] = []
    months: set[datetime] = set()
    day = first
    while day < last:
        following = local_midnight(day + timedelta(hours=36), tz)
        days.append((day, following))
        months.add(local_midnight(day.astimezone(ZoneInfo(tz)).replace(day=1), tz))
        day = following
    return BuildingPlan(site, building, tuple(days), tuple(sorted(months)), min(last, now))


def backfill_building(influx: InfluxQLClient, todo: BuildingPlan,
                      on_day: Callable[[], None] | None = None, *, account: bool = True) -> int:
    """Recompute and store what ``todo`` names; returns the points written. ``on_day`` after each day.
    ``account=False`` leaves the year's account out (it reads the whole year)."""
    site, building = todo.site, todo.building
    table = load_factors()
    written = 0
    for day, following in todo.days:
        readings = fetch_readings(influx, building, day, following)
        lines = day_lines(site, building, readings, day, following, table)
        lines += facts.daily_lines(site, building, readings, day, following, table)
        influx.write(lines)
        written += len(lines)
        if on_day is not None:
            on_day()
    for month in todo.months:
        lines = month_lines(site, building, month, fetch_stored_days(influx, site, building, month), table.version)
        influx.write(lines)
        written += len(lines)
    if not account:
        return written
    influx.write([account_line(influx, site, building, todo.as_of)])
    return written + 1


def account_line(influx: InfluxQLClient, site: str, building: Building, as_of: datetime) -> str:
    """The ``carbon_account`` point of the building's year as it stands at ``as_of`` (reads the year)."""
    year = carbon_account_from_influx(influx, building, year_start_of(building, as_of), as_of, site)
    today_start = local_midnight(as_of, building.timezone)
    today = account_from_influx(influx, building, today_start, as_of) if as_of > today_start else None
    return facts.account_line(site, building, year, today, as_of)
