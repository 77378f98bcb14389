"""Keeping a building's results current: what ``greenwire carbon run`` (and the demo) do each update.

One update of a building writes today's minutes, hours and day, re-sums the month from its days,
writes today's account (``carbon_daily``), the year's account when it is due (``carbon_account``,
see ``greenwire.cloud.carbon.facts``) and the live figures (``carbon_live``: intensity and emission rate
over the last 15 measured minutes). It returns what the carbon signal for building-management
systems needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.carbon.budget import year_start_of
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.facts import AccountSchedule, account_line, daily_line
from greenwire.cloud.carbon.fetch import (
    carbon_account_from_influx,
    fetch_forecast,
    fetch_readings,
    fetch_stored_days,
)
from greenwire.cloud.carbon.meters import READ_MARGIN
from greenwire.cloud.carbon.report import account_of
from greenwire.cloud.carbon.results import (
    day_results,
    lines,
    live_figures,
    live_line,
    local_midnight,
    minutes,
    month_lines,
)
from greenwire.cloud.carbon.signal import Outlook, outlook
from greenwire.cloud.carbon.windows import DURATIONS, HORIZON
from greenwire.cloud.sites import Building


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """A building's figures after an update."""

    live: tuple[datetime, float, float] | None
    """(window end, gCO2e/kWh, kgCO2e/h) over the last 15 measured minutes; None without recent data."""
    today_kgco2e: float
    """Emissions since local midnight (the stored day's ``total_kgco2e``: Scope 1, Scope 2
    location-based and Scope 2 of district heat), the figure the day's budget is held against."""
    grid_g_per_kwh: float | None
    """The grid intensity of the latest measured minute."""
    status: str | None = None
    """The year account's budget status when this update computed it (what ``carbon_account``
    stores and ``greenwire carbon account`` prints), else None."""
    outlook: Outlook | None = None
    """The zone's next 24 h: the stored forecast and the best windows (``greenwire.cloud.carbon.signal``)."""


def refresh(influx: InfluxQLClient, site: str, building: Building, now: datetime,
            accounts: AccountSchedule | None = None, *, durations: Sequence[timedelta] = DURATIONS,
            horizon: timedelta = HORIZON) -> LiveUpdate:
    """Recompute and store today's results, the month and the live figures of ``building`` at ``now``
    (and the year's account when ``accounts`` says it is due).

    Today's counter readings and the zone's intensity are read once and serve the day's periods,
    the day's account and the live window (which may begin before midnight: the readings carry
    a margin of ``READ_MARGIN`` on either side). The outlook takes the zone's stored forecast of
    the next ``horizon`` and its best window of each of ``durations``. Blocking: run it in a
    worker thread from async code.
    """
    today = local_midnight(now, building.timezone)
    tomorrow = today + timedelta(days=1)
    readings = fetch_readings(influx, building, today, tomorrow)
    table = load_factors()
    rolled = day_results(building, readings.counters, readings.gas, readings.series, today, tomorrow, table,
                         readings.device_max_power_kw)
    influx.write(lines(site, building, rolled, table.version))
    month = local_midnight(today.astimezone(ZoneInfo(building.timezone)).replace(day=1), building.timezone)
    # After the day is stored: the month is re-summed from the stored days.
    influx.write(month_lines(site, building, month, fetch_stored_days(influx, site, building, month), table.version))
    so_far = account_of(building, readings, today, now, table)
    day = daily_line(site, building, so_far, today)
    if day is not None:
        influx.write([day])
    status = None
    if accounts is not None and accounts.due(site, building.id, now):
        year = carbon_account_from_influx(influx, building, year_start_of(building, now), now, site)
        influx.write([account_line(site, building, year, so_far if now > today else None, now)])
        status = year.status
    recent = minutes(building, readings.counters, readings.series, now - READ_MARGIN, now, table,
                     readings.device_max_power_kw)
    line = live_line(site, building, recent, now)
    if line is not None:
        influx.write([line])
    today_period = rolled["1d"].get(today)
    today_kg = today_period.total_kgco2e if today_period is not None else 0.0
    grid_now = max(recent, key=lambda m: m.minute).factor_g_per_kwh if recent else None
    forecast = fetch_forecast(influx, building.zone, now, now + horizon)
    ahead = outlook(readings.series, forecast, now, durations=durations, horizon=horizon)
    return LiveUpdate(live_figures(recent, now), today_kg, grid_now, status, ahead)
