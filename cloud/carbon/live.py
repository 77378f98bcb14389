"""Keeping a building's results current: what ``greenwire carbon run`` (and the demo) do each update.

One update of a building writes today's minutes, hours and day, re-sums the month from its days,
writes today's account (``carbon_daily``), the year's account when it is due (``carbon_account``,
see ``cloud.carbon.facts``) and the live figures (``carbon_live``: intensity and emission rate
over the last 15 measured minutes). It returns what the carbon signal for building-management
systems needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.carbon.facts import AccountSchedule, account_line, daily_lines
from cloud.carbon.report import READ_MARGIN, fetch_counters
from cloud.carbon.results import (
    MEASUREMENT,
    compute,
    live_figures,
    live_line,
    local_midnight,
    minutes,
    month_from_days,
)
from cloud.carbon.site import Building
from cloud.carbon.store import InfluxV1, _ns, _quote


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """A building's figures after an update."""

    live: tuple[datetime, float, float] | None
    """(window end, gCO2e/kWh, kgCO2e/h) over the last 15 measured minutes; None without recent data."""
    today_kgco2e: float
    """Scope 2 location-based emissions since local midnight, from the recent minutes."""
    grid_g_per_kwh: float | None
    """The grid intensity of the latest measured minute."""


def refresh(influx: InfluxV1, site: str, building: Building, now: datetime,
            accounts: AccountSchedule | None = None) -> LiveUpdate:
    """Recompute and store today's results, the month and the live figures of ``building`` at ``now``
    (and the year's account when ``accounts`` says it is due)."""
    today = local_midnight(now, building.timezone)
    influx.write(compute(influx, site, building, today, today + timedelta(days=1)))
    month = local_midnight(today.astimezone(ZoneInfo(building.timezone)).replace(day=1), building.timezone)
    influx.write(month_from_days(influx, site, building, month))
    influx.write(daily_lines(influx, site, building, today, now))
    if accounts is not None and accounts.due(site, building.id, now):
        influx.write([account_line(influx, site, building, now)])
    counters, _ = fetch_counters(influx, building, now - timedelta(minutes=1), now)
    recent = minutes(building, counters, influx.series(building.zone, now - READ_MARGIN, now), now - READ_MARGIN, now)
    line = live_line(site, building, recent, now)
    if line is not None:
        influx.write([line])
    today_rows = influx.query(
        f'SELECT "scope2_location_kgco2e" FROM "{MEASUREMENT}" WHERE "resolution" = \'1d\' '
        f'AND "site" = {_quote(site)} AND "building" = {_quote(building.id)} AND time = {_ns(today)}'
    )
    today_kg = float(today_rows[0]["scope2_location_kgco2e"]) if today_rows else 0.0
    grid_now = max(recent, key=lambda m: m.minute).factor_g_per_kwh if recent else None
    return LiveUpdate(live_figures(recent, now), today_kg, grid_now)
